/* Pure renewal planning: plan = f(spec, what the store holds, now). No I/O, no clock,
 * no randomness (the caller adds jitter). The rules are documented in acme_plan.h. */
#include <string.h>

#include <apr_strings.h>
#include <apr_lib.h>

#include "acme_plan.h"
#include "acme_util.h"

#define PLAN_DEFAULT_PERCENT     33
#define PLAN_DEFAULT_RETRY_DELAY apr_time_from_sec(60)
#define PLAN_BACKOFF_CAP         apr_time_from_sec(24 * 60 * 60)

apr_interval_time_t acme_plan_backoff(apr_interval_time_t delay, int failures)
{
    if (failures <= 0 || delay <= 0) {
        return 0;
    }
    apr_interval_time_t d = delay;
    for (int i = 1; i < failures && d < PLAN_BACKOFF_CAP; i++) {
        d *= 10;                /* d < 24h before, so no overflow */
    }
    return d < PLAN_BACKOFF_CAP ? d : PLAN_BACKOFF_CAP;
}

/* NULL or empty means "not known": never counts as a difference. */
static int differs(const char *live, const char *want, int nocase)
{
    if (!live || !*live || !want || !*want) {
        return 0;
    }
    if (nocase) {
        for (; *live && *want; live++, want++) {
            if (apr_tolower(*live) != apr_tolower(*want)) {
                return 1;
            }
        }
        return *live != *want;
    }
    return strcmp(live, want) != 0;
}

/* The renewal window for a certificate of this lifetime (see acme_plan.h). */
static apr_interval_time_t renew_window(const acme_plan_spec_t *spec,
                                        apr_interval_time_t lifetime)
{
    apr_interval_time_t window;
    if (spec->renew_before > 0) {
        window = spec->renew_before;
    }
    else {
        int pct = spec->renew_percent > 0 ? spec->renew_percent : PLAN_DEFAULT_PERCENT;
        window = (lifetime / 100) * pct + ((lifetime % 100) * pct) / 100;
    }
    if (window > lifetime / 2) {
        window = lifetime / 2;
    }
    return window;
}

static const char *names_str(apr_pool_t *p, const apr_array_header_t *names)
{
    if (!names || names->nelts == 0) {
        return "(none)";
    }
    return acme_names_join(p, names, ", ");
}

/* Which properties of the live certificate differ from the spec, or NULL. */
static const char *live_mismatch(apr_pool_t *p, const acme_plan_spec_t *spec,
                                 const acme_plan_input_t *in)
{
    const char *why = NULL;
    apr_array_header_t *empty = apr_array_make(p, 1, sizeof(const char *));
    const apr_array_header_t *live = in->live_names ? in->live_names : empty;
    const apr_array_header_t *want = spec->names ? spec->names : empty;

    if (!acme_names_equal(live, want)) {
        why = apr_psprintf(p, "names changed (certificate: %s; configured: %s)",
                           names_str(p, live), names_str(p, want));
    }
    if (differs(in->live_ca, spec->ca_url, 0)) {
        const char *s = apr_psprintf(p, "CA changed (certificate from %s; configured: %s)",
                                     in->live_ca, spec->ca_url);
        why = why ? apr_pstrcat(p, why, ", ", s, NULL) : s;
    }
    if (differs(in->live_key, spec->key, 1)) {
        const char *s = apr_psprintf(p, "key type changed (certificate: %s; configured: %s)",
                                     in->live_key, spec->key);
        why = why ? apr_pstrcat(p, why, ", ", s, NULL) : s;
    }
    return why;
}

void acme_plan_compute(acme_plan_t *plan, apr_pool_t *p, const acme_plan_spec_t *spec,
                       const acme_plan_input_t *in, apr_time_t now)
{
    const char *why;

    plan->action = ACME_PLAN_NOTHING;
    plan->when = 0;
    plan->reason = NULL;

    if (in->have_staged) {
        plan->reason = "new certificate staged, waiting for activation";
        return;
    }
    if (!in->have_live) {
        plan->action = ACME_PLAN_OBTAIN;
        plan->when = now;
        plan->reason = "no certificate yet";
    }
    else if ((why = live_mismatch(p, spec, in)) != NULL) {
        plan->action = ACME_PLAN_OBTAIN;
        plan->when = now;
        plan->reason = why;
    }
    else {
        apr_interval_time_t lifetime = in->live_not_after - in->live_not_before;
        const char *until = acme_time_rfc3339(p, in->live_not_after);
        if (lifetime <= 0) {
            plan->action = ACME_PLAN_RENEW;
            plan->when = now;
            plan->reason = apr_psprintf(p, "certificate validity is empty (valid until %s)",
                                        until);
        }
        else {
            apr_time_t renew_at = in->live_not_after - renew_window(spec, lifetime);
            const char *from = acme_time_rfc3339(p, renew_at);
            if (renew_at > now) {
                plan->action = ACME_PLAN_NOTHING;
                plan->when = renew_at;
                plan->reason = apr_psprintf(p, "valid until %s; renews from %s", until, from);
                return;
            }
            plan->action = ACME_PLAN_RENEW;
            plan->when = now;
            if (in->live_not_after <= now) {
                plan->reason = apr_psprintf(p, "certificate expired at %s", until);
            }
            else {
                plan->reason = apr_psprintf(p, "renewal due: valid until %s; renews from %s",
                                            until, from);
            }
        }
    }

    /* OBTAIN or RENEW: respect backoff after failures and the CA's Retry-After. */
    if (in->failures > 0) {
        apr_interval_time_t delay = spec->retry_delay > 0 ? spec->retry_delay
                                                          : PLAN_DEFAULT_RETRY_DELAY;
        apr_time_t retry = in->last_failure + acme_plan_backoff(delay, in->failures);
        if (retry > plan->when) {
            plan->when = retry;
        }
        plan->reason = apr_psprintf(p, "%s; retry after failure %d from %s", plan->reason,
                                    in->failures, acme_time_rfc3339(p, plan->when));
    }
    if (in->retry_after > plan->when) {
        plan->when = in->retry_after;
        plan->reason = apr_psprintf(p, "%s; CA asked to retry after %s", plan->reason,
                                    acme_time_rfc3339(p, in->retry_after));
    }
}
