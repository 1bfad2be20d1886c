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
    apr_time_t live_obtained;              /* when the live certificate was staged, 0 unknown
                                            * (live_not_before stands in) */
    apr_time_t renew_requested;            /* an admin asked for a renewal then, 0 none */
    apr_time_t ari_start, ari_end;         /* the CA's suggested window (ARI), 0 none */
    apr_time_t ari_chosen;                 /* the time picked inside it, 0: from jitter */
    apr_time_t ari_next_fetch;             /* next fetch of the window (shown only), 0 none */
    apr_uint32_t jitter;                   /* spreads renewals and retries, 0 none; see
                                            * acme_plan_seed() */
    const char *live_profile;              /* ACMEProfile it was ordered for, NULL/"" none */
    const char *damaged;                   /* the live set does not verify: what is wrong
                                            * (have_live is then 0), NULL: fine */
} acme_plan_input_t;

typedef struct acme_plan_spec_t {
    const apr_array_header_t *names;       /* normalized */
    const char *ca_url;
    const apr_array_header_t *ca_urls;     /* every configured CA (ACMEServer A [B ...]), or
                                            * NULL: ca_url alone */
    const char *key;                       /* key type name */
    int renew_percent;                     /* renew when this % of the lifetime is left (33) */
    apr_interval_time_t renew_before;      /* or this long before expiry, if > 0 (wins) */
    apr_interval_time_t retry_delay;       /* first retry delay (1 min); x10 each step, cap 24h */
    const char *profile;                   /* ACMEProfile, NULL/"" none */
} acme_plan_spec_t;

typedef struct acme_plan_t {
    acme_plan_action_t action;
    apr_time_t when;                       /* not before this time (<= now: due) */
    const char *reason;                    /* for logs and the status page */
    int request_pending;                   /* renew_requested is not yet satisfied */
    int request_done;                      /* a certificate newer than the request is live:
                                            * the request can be removed */
    int ari_used;                          /* the ARI window set the renewal time */
    int other_ca;                          /* the live certificate is from a CA that is not
                                            * configured (any more): an order must not name
                                            * it in "replaces" (RFC 9773: the CA refuses a
                                            * replacement by another account); with several
                                            * CAs the runner also sends "replaces" only to
                                            * the issuing one */
} acme_plan_t;

/* Rules, in order (reason strings are allocated from p; times are RFC 3339 UTC):
 *  0. renew_requested > 0 is done when a live certificate was obtained at or after it
 *     (live_obtained, else live_not_before): request_done = 1, the request is ignored;
 *     otherwise request_pending = 1 (whatever the action).
 *  1. have_staged: NOTHING, when 0, "new certificate staged, waiting for activation".
 *  2. no live certificate: OBTAIN, when now, "no certificate yet".
 *  3. live names (as sets), CA URL (exact) or key type (case-insensitive) differ from the
 *     spec: OBTAIN, when now, "names changed (...)", "CA changed (...)", "key type
 *     changed (...)", joined by ", " when several differ. A NULL/empty live_ca or live_key
 *     (or spec value) means "unknown" and never counts as a difference. The profile
 *     (live_profile vs spec profile, exact; NULL and "" both mean none, so none vs a name
 *     differs) adds "profile changed (certificate: A; configured: B)". With ca_urls, the
 *     CA differs only when live_ca is none of them (a certificate from a failover CA is
 *     kept until its renewal, which starts at the first CA again).
 *  3a. a pending request: RENEW, when now, "renewal requested with acmectl at T"
 *     (rule 5 still applies: a request never skips the backoff).
 *  4. otherwise renew at not_after - window, where window = renew_before when > 0, else
 *     renew_percent% (33 when <= 0) of the lifetime (not_after - not_before). The window
 *     is clamped to at most 50% of the lifetime, so a fresh certificate is never due at
 *     once (no obtain/renew loop when renew_before exceeds the lifetime). Renewal time
 *     <= now: RENEW, when now ("renewal due: ..." or "certificate expired at ..."); else
 *     NOTHING, when = renewal time, "valid until X; renews from Y". An empty or negative
 *     lifetime is RENEW now. The renewal time is moved later by
 *     window/10 * jitter/2^32 (spread, still inside the window). With an ARI window
 *     (ari_end >= ari_start > 0) the renewal time is the earlier of that and the ARI time
 *     (ari_chosen, else ari_start + (ari_end - ari_start) * jitter/2^32), reason
 *     "... the CA's renewal window (ARI) S to E ...", ari_used = 1.
 *  5. OBTAIN/RENEW only: failures > 0 moves when to at least last_failure +
 *     acme_plan_retry_at(...) ("; retry after failure N from T"); then a
 *     retry_after later than when wins ("; CA asked to retry after T").
 *  5a. except a live certificate that has expired (e.g. while the server was down) when
 *     every failure is older than its expiry: renewed at once, the backoff starts again with
 *     the failures after the expiry (a CA's Retry-After is still honoured).
 *  6. OBTAIN with `damaged` set: the reason begins "live files damaged (DAMAGED); ".
 * jitter is the only source of spread: no clock, no randomness inside. */
void acme_plan_compute(acme_plan_t *plan, apr_pool_t *p, const acme_plan_spec_t *spec,
                       const acme_plan_input_t *in, apr_time_t now);
/* Backoff after n consecutive failures (n >= 1): delay, delay*10, delay*100, ... capped at 24h.
 * failures <= 0 or delay <= 0: 0 (the 1 min default is applied by acme_plan_compute). */
apr_interval_time_t acme_plan_backoff(apr_interval_time_t delay, int failures);
/* The one backoff ladder: the earliest retry after `failures` consecutive failures, the last
 * at last_failure: last_failure + backoff(delay or 1 min) + up to 10% of it by jitter. */
apr_time_t acme_plan_retry_at(apr_interval_time_t delay, int failures, apr_time_t last_failure,
                              apr_uint32_t jitter);
/* A stable jitter for a certificate: a hash of its id and the live serial (NULL: none), so
 * that the watchdog, the status pages and acmectl compute the same times, and certificates
 * obtained together do not renew together. Never 0 for a non-empty id. */
apr_uint32_t acme_plan_seed(const char *id, const char *serial);
/* "obtain", "renew" or "none". */
const char *acme_plan_action_name(acme_plan_action_t a);

#endif
