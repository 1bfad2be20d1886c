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

void acme_plan_compute(acme_plan_t *plan, apr_pool_t *p, const acme_plan_spec_t *spec,
                       const acme_plan_input_t *in, apr_time_t now);
/* Backoff after n consecutive failures (n >= 1): delay, delay*10, delay*100, ... capped at 24h. */
apr_interval_time_t acme_plan_backoff(apr_interval_time_t delay, int failures);

#endif
