/* Expiry warnings: when the live certificate is inside its warn window and has not been
 * renewed, the 'expiring' event (log line and ACMENotifyCmd) comes at most once a day. */
#ifndef ACME_EXPIRY_H
#define ACME_EXPIRY_H

#include "acme.h"

#define ACME_EXPIRY_REPEAT apr_time_from_sec(86400)
#define ACME_EXPIRY_DEFAULT_PERCENT 10

/* The start of the warn window: not_after minus dur when dur > 0, else minus percent
 * (0: ACME_EXPIRY_DEFAULT_PERCENT) of the lifetime not_after - not_before. */
apr_time_t acme_expiry_warn_time(apr_time_t not_before, apr_time_t not_after,
                                 apr_interval_time_t dur, int percent);

/* Whether to warn now: a live certificate (have_live), now inside the warn window, and the
 * last warning (0: none) a day or more ago. */
int acme_expiry_due(int have_live, apr_time_t warn_time, apr_time_t last_warned,
                    apr_time_t now);

#endif
