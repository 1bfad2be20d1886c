/* Expiry warnings: the decision. */
#include "acme.h"
#include "acme_expiry.h"

apr_time_t acme_expiry_warn_time(apr_time_t not_before, apr_time_t not_after,
                                 apr_interval_time_t dur, int percent)
{
    apr_interval_time_t life = not_after - not_before;
    apr_interval_time_t w = dur > 0 ? dur
                            : life / 100 * (percent ? percent : ACME_EXPIRY_DEFAULT_PERCENT);
    return not_after - w;
}

int acme_expiry_due(int have_live, apr_time_t warn_time, apr_time_t last_warned,
                    apr_time_t now)
{
    return have_live && now >= warn_time && (!last_warned || now >= last_warned
                                             + ACME_EXPIRY_REPEAT);
}
