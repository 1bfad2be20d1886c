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

/* range * jitter / 2^32: a deterministic point in [0, range). */
static apr_interval_time_t spread(apr_interval_time_t range, apr_uint32_t jitter)
{
    if (range <= 0 || !jitter) {
        return 0;
    }
    /* range < 2^63: split to avoid overflow of range * 2^32 */
    return (range >> 32) * (apr_interval_time_t)jitter
           + (apr_interval_time_t)(((apr_uint64_t)(range & 0xffffffffu) * jitter) >> 32);
}

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

apr_time_t acme_plan_retry_at(apr_interval_time_t delay, int failures, apr_time_t last_failure,
                              apr_uint32_t jitter)
{
    apr_interval_time_t d = acme_plan_backoff(delay > 0 ? delay : PLAN_DEFAULT_RETRY_DELAY,
                                              failures);
    return last_failure + d + spread(d / 10, jitter);
}

apr_uint32_t acme_plan_seed(const char *id, const char *serial)
{
    apr_uint32_t h = 2166136261u;                     /* FNV-1a */
    const char *parts[2] = { id ? id : "", serial ? serial : "" };
    for (int k = 0; k < 2; k++) {
        for (const unsigned char *c = (const unsigned char *)parts[k]; *c; c++) {
            h = (h ^ *c) * 16777619u;
        }
        h = (h ^ 0xffu) * 16777619u;                  /* separator */
    }
    return h ? h : 1;
}

const char *acme_plan_action_name(acme_plan_action_t a)
{
    switch (a) {
    case ACME_PLAN_OBTAIN: return "obtain";
    case ACME_PLAN_RENEW: return "renew";
    default: return "none";
    }
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

/* The live certificate's CA is not configured (any more): one of ca_urls when given. */
static int ca_changed(const acme_plan_spec_t *spec, const acme_plan_input_t *in)
{
    int i;
    if (!spec->ca_urls || spec->ca_urls->nelts == 0) {
        return differs(in->live_ca, spec->ca_url, 0);
    }
    if (!in->live_ca || !*in->live_ca) {
        return 0;
    }
    for (i = 0; i < spec->ca_urls->nelts; ++i) {
        if (!differs(in->live_ca, APR_ARRAY_IDX(spec->ca_urls, i, const char *), 0)) {
            return 0;
        }
    }
    return 1;
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
    if (ca_changed(spec, in)) {
        const char *s = apr_psprintf(p, "CA changed (certificate from %s; configured: %s)",
                                     in->live_ca, spec->ca_urls && spec->ca_urls->nelts
                                     ? acme_names_join(p, spec->ca_urls, ", ") : spec->ca_url);
        why = why ? apr_pstrcat(p, why, ", ", s, NULL) : s;
    }
    if (differs(in->live_key, spec->key, 1)) {
        const char *s = apr_psprintf(p, "key type changed (certificate: %s; configured: %s)",
                                     in->live_key, spec->key);
        why = why ? apr_pstrcat(p, why, ", ", s, NULL) : s;
    }
    if (strcmp(in->live_profile ? in->live_profile : "", spec->profile ? spec->profile : "")) {
        const char *s = apr_psprintf(p, "profile changed (certificate: %s; configured: %s)",
                                     in->live_profile && *in->live_profile ? in->live_profile
                                                                           : "none",
                                     spec->profile && *spec->profile ? spec->profile : "none");
        why = why ? apr_pstrcat(p, why, ", ", s, NULL) : s;
    }
    return why;
}

/* Rule 4: renew inside the window (spread by jitter) or the CA's ARI window if earlier. */
static void plan_renewal(acme_plan_t *plan, apr_pool_t *p, const acme_plan_spec_t *spec,
                         const acme_plan_input_t *in, apr_time_t now)
{
    apr_interval_time_t lifetime = in->live_not_after - in->live_not_before, window;
    const char *until = acme_time_rfc3339(p, in->live_not_after), *from, *ari = NULL;
    apr_time_t renew_at;

    if (lifetime <= 0) {
        plan->action = ACME_PLAN_RENEW;
        plan->when = now;
        plan->reason = apr_psprintf(p, "certificate validity is empty (valid until %s)", until);
        return;
    }
    window = renew_window(spec, lifetime);
    renew_at = in->live_not_after - window + spread(window / 10, in->jitter);
    if (in->ari_end && in->ari_start && in->ari_end >= in->ari_start) {
        apr_time_t chosen = in->ari_chosen ? in->ari_chosen
                            : in->ari_start + spread(in->ari_end - in->ari_start, in->jitter);
        if (chosen < renew_at) {
            renew_at = chosen;
            plan->ari_used = 1;
            ari = apr_psprintf(p, "the CA's renewal window (ARI) %s to %s",
                               acme_time_rfc3339(p, in->ari_start),
                               acme_time_rfc3339(p, in->ari_end));
        }
    }
    from = acme_time_rfc3339(p, renew_at);
    if (renew_at > now) {
        plan->action = ACME_PLAN_NOTHING;
        plan->when = renew_at;
        plan->reason = ari ? apr_psprintf(p, "valid until %s; renews at %s, inside %s", until,
                                          from, ari)
                           : apr_psprintf(p, "valid until %s; renews from %s", until, from);
        return;
    }
    plan->action = ACME_PLAN_RENEW;
    plan->when = now;
    if (in->live_not_after <= now) {
        plan->reason = apr_psprintf(p, "certificate expired at %s", until);
    }
    else if (ari) {
        plan->reason = apr_psprintf(p, "renewal due: inside %s (valid until %s)", ari, until);
    }
    else {
        plan->reason = apr_psprintf(p, "renewal due: valid until %s; renews from %s", until,
                                    from);
    }
}

/* Rule 5a: the live certificate has expired (e.g. while the server was down) and every
 * recorded failure is older than the expiry. */
static int expired_since_failures(const acme_plan_input_t *in, apr_time_t now)
{
    return in->have_live && in->live_not_after > 0 && in->live_not_after <= now
           && in->last_failure < in->live_not_after;
}

void acme_plan_compute(acme_plan_t *plan, apr_pool_t *p, const acme_plan_spec_t *spec,
                       const acme_plan_input_t *in, apr_time_t now)
{
    const char *why;

    memset(plan, 0, sizeof(*plan));
    plan->action = ACME_PLAN_NOTHING;
    plan->other_ca = in->have_live && ca_changed(spec, in); /* listed CAs: acme_runner */

    if (in->renew_requested > 0) {
        apr_time_t obtained = in->live_obtained ? in->live_obtained : in->live_not_before;
        /* both are kept to the second: a certificate of the request's own second may be
         * the one the request was about (served at once, renewal asked for right away), so
         * only a later one satisfies it (one renewal too many at worst) */
        if (in->have_live && apr_time_sec(obtained) > apr_time_sec(in->renew_requested)) {
            plan->request_done = 1;
        }
        else {
            plan->request_pending = 1;
        }
    }
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
    else if (plan->request_pending) {
        plan->action = ACME_PLAN_RENEW;
        plan->when = now;
        plan->reason = apr_psprintf(p, "renewal requested with acmectl at %s",
                                    acme_time_rfc3339(p, in->renew_requested));
    }
    else {
        plan_renewal(plan, p, spec, in, now);
        if (plan->action == ACME_PLAN_NOTHING) {
            return;
        }
    }

    /* OBTAIN or RENEW: respect backoff after failures and the CA's Retry-After. Failures
     * from before the live certificate expired do not delay its renewal (rule 5a). */
    if (in->failures > 0 && !expired_since_failures(in, now)) {
        apr_time_t retry = acme_plan_retry_at(spec->retry_delay, in->failures, in->last_failure,
                                              in->jitter);
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
    if (in->damaged && plan->action == ACME_PLAN_OBTAIN) {
        plan->reason = apr_pstrcat(p, "live files damaged (", in->damaged, "); ", plan->reason,
                                   NULL);
    }
}
