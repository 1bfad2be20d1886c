/* Pure renewal planning: plan = f(spec, what the store holds, now). No I/O. */
#ifndef ACME_PLAN_H
#define ACME_PLAN_H

#include "acme.h"

typedef enum { ACME_PLAN_NOTHING, ACME_PLAN_OBTAIN, ACME_PLAN_RENEW } acme_plan_action_t;

/* What the store holds for one certificate (all optional). */
typedef struct acme_plan_input_t {
    int have_live;
    const apr_array_header_t *live_names;  /* normalized */
    const char *live_ca;
    const char *live_key;                  /* key type name, e.g. "p256" */
    apr_time_t live_not_before, live_not_after;
    int have_staged;                       /* a staged set waits for activation */
    int failures;                          /* consecutive failed attempts */
    apr_time_t last_failure;               /* when the last one failed */
    apr_time_t retry_after;                /* CA's Retry-After for this certificate, 0 none */
} acme_plan_input_t;

typedef struct acme_plan_spec_t {
    const apr_array_header_t *names;       /* normalized */
    const char *ca_url;
    const char *key;                       /* key type name */
    int renew_percent;                     /* renew when this % of the lifetime is left (33) */
    apr_interval_time_t renew_before;      /* or this long before expiry, if > 0 (wins) */
    apr_interval_time_t retry_delay;       /* first retry delay (1 min); x10 each step, cap 24h */
} acme_plan_spec_t;

typedef struct acme_plan_t {
    acme_plan_action_t action;
    apr_time_t when;                       /* not before this time (<= now: due) */
    const char *reason;                    /* for logs and the status page */
} acme_plan_t;

/* Rules, in order (reason strings are allocated from p; times are RFC 3339 UTC):
 *  1. have_staged: NOTHING, when 0, "new certificate staged, waiting for activation".
 *  2. no live certificate: OBTAIN, when now, "no certificate yet".
 *  3. live names (as sets), CA URL (exact) or key type (case-insensitive) differ from the
 *     spec: OBTAIN, when now, "names changed (...)", "CA changed (...)", "key type
 *     changed (...)", joined by ", " when several differ. A NULL/empty live_ca or live_key
 *     (or spec value) means "unknown" and never counts as a difference.
 *  4. otherwise renew at not_after - window, where window = renew_before when > 0, else
 *     renew_percent% (33 when <= 0) of the lifetime (not_after - not_before). The window
 *     is clamped to at most 50% of the lifetime, so a fresh certificate is never due at
 *     once (no obtain/renew loop when renew_before exceeds the lifetime). Renewal time
 *     <= now: RENEW, when now ("renewal due: ..." or "certificate expired at ..."); else
 *     NOTHING, when = renewal time, "valid until X; renews from Y". An empty or negative
 *     lifetime is RENEW now.
 *  5. OBTAIN/RENEW only: failures > 0 moves when to at least last_failure +
 *     acme_plan_backoff(retry_delay or 1 min, failures) ("; retry after failure N from T");
 *     then a retry_after later than when wins ("; CA asked to retry after T").
 * No jitter here: the caller adds it. */
void acme_plan_compute(acme_plan_t *plan, apr_pool_t *p, const acme_plan_spec_t *spec,
                       const acme_plan_input_t *in, apr_time_t now);
/* Backoff after n consecutive failures (n >= 1): delay, delay*10, delay*100, ... capped at 24h.
 * failures <= 0 or delay <= 0: 0 (the 1 min default is applied by acme_plan_compute). */
apr_interval_time_t acme_plan_backoff(apr_interval_time_t delay, int failures);

#endif
