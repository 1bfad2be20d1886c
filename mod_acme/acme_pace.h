/* Pacing against a CA's documented rates. Pure: no I/O, no clock, no locks (the runner
 * holds its mutex around these calls and sleeps or waits outside it).
 *
 * A rate "count per period" is a token bucket in the form of the generic cell rate
 * algorithm: `count` requests may go at once, then one every period/count. One time value
 * (the theoretical arrival time) is the whole state, so it is cheap to keep per CA and to
 * store. Let's Encrypt documents its limits as such buckets (300 new orders per account per
 * 3 hours: 300 at once, then one every 36 s).
 *
 * Per CA: the new-order budget of the account (rate.orders; an ARI replacement is exempt
 * where the CA says so), the newOrder endpoint's request rate (rate.new_order), a pause
 * a 429 with Retry-After imposes on every order at that CA, and the request rate of each of
 * the CA's other endpoints (rate.requests: every request the client sends takes a token of
 * its endpoint's bucket first, acme_pace_request_take). */
#ifndef ACME_PACE_H
#define ACME_PACE_H

#include "acme.h"

/* A wait for the order budget or a pause at most this long is slept in the order's thread;
 * a longer one ends the attempt as "paced" and the certificate is looked at again at the
 * time the pacer says. A wait for the newOrder request rate is always slept: it is short by
 * nature, and the threads (ACMEMaxParallel) bound how many sleep. */
#define ACME_PACE_SLEEP_MAX apr_time_from_sec(2)

/* count per period; count <= 0 or period <= 0: no limit. */
typedef struct acme_pace_rate_t {
    int count;
    apr_interval_time_t period;
} acme_pace_rate_t;

/* The endpoints of a CA a request can go to, for the per-endpoint request rates (a CA such
 * as Let's Encrypt limits the requests per client address to each). */
typedef enum {
    ACME_PACE_EP_DIRECTORY = 0,    /* the directory URL */
    ACME_PACE_EP_NEW_NONCE,
    ACME_PACE_EP_NEW_ACCOUNT,
    ACME_PACE_EP_NEW_ORDER,
    ACME_PACE_EP_REVOKE,
    ACME_PACE_EP_RENEWAL_INFO,     /* renewalInfo and every URL below it */
    ACME_PACE_EP_OTHER,            /* orders, authorizations, challenges, finalize,
                                    * certificates, keyChange */
    ACME_PACE_EP_COUNT
} acme_pace_endpoint_e;

/* What a CA documents (acme_ca_limits) or the admin configured (ACMEOrderRate). */
typedef struct acme_pace_limits_t {
    acme_pace_rate_t orders;       /* new orders per account */
    acme_pace_rate_t new_order;    /* newOrder requests (per client, whatever the account) */
    int ari_exempt;                /* an order that replaces a certificate (ARI) does not
                                    * count against `orders` */
    /* requests to each endpoint (ACMERequestRates; newOrder's is new_order above, taken
     * by the order gate, so requests[ACME_PACE_EP_NEW_ORDER] is left without a limit) */
    acme_pace_rate_t requests[ACME_PACE_EP_COUNT];
} acme_pace_limits_t;

/* One bucket: the time the next request conforms when the bucket is empty (0: full). */
typedef struct acme_pace_bucket_t {
    apr_time_t tat;
} acme_pace_bucket_t;

typedef struct acme_pace_t {
    acme_pace_limits_t lim;
    acme_pace_bucket_t orders, new_order;
    apr_time_t paused_until;       /* a 429's Retry-After at this CA, 0: none */
    acme_pace_bucket_t requests[ACME_PACE_EP_COUNT];
} acme_pace_t;

/* What kind of order a due certificate needs: the order in which a run starts them (and
 * takes the budget) is ARI replacements, then other renewals, then first certificates. */
typedef enum {
    ACME_PACE_ARI_RENEWAL = 0,     /* replaces a live certificate the CA gave a window for */
    ACME_PACE_RENEWAL = 1,         /* replaces a live certificate */
    ACME_PACE_NEW = 2              /* no live certificate yet */
} acme_pace_kind_e;

/* The earliest time >= now at which one more request conforms to rate. */
apr_time_t acme_pace_bucket_when(const acme_pace_bucket_t *b, const acme_pace_rate_t *rate,
                                 apr_time_t now);
/* One request at now (call when acme_pace_bucket_when(now) == now). */
void acme_pace_bucket_take(acme_pace_bucket_t *b, const acme_pace_rate_t *rate,
                           apr_time_t now);

void acme_pace_init(acme_pace_t *pc, const acme_pace_limits_t *lim);
/* When a new order of this kind may be sent at this CA: now, or a later time (the pause, the
 * account's budget, the endpoint's rate, whichever is latest). */
apr_time_t acme_pace_order_when(const acme_pace_t *pc, acme_pace_kind_e kind, apr_time_t now);
/* The same without the newOrder request rate: when the account's budget (and a pause)
 * allow it. */
apr_time_t acme_pace_budget_when(const acme_pace_t *pc, acme_pace_kind_e kind, apr_time_t now);
/* A new order of this kind is sent at now: take its tokens. */
void acme_pace_order_take(acme_pace_t *pc, acme_pace_kind_e kind, apr_time_t now);
/* The CA answered 429 with Retry-After `until`: no new order before it. */
void acme_pace_pause(acme_pace_t *pc, apr_time_t until);
/* Which bucket holds an order back at now ("paused", "orders", "newOrder"), or NULL. */
const char *acme_pace_reason(const acme_pace_t *pc, acme_pace_kind_e kind, apr_time_t now);

/* Which endpoint url is: urls[] holds the CA's URLs by endpoint (the directory's, NULL where
 * unknown, e.g. before the directory was read); renewalInfo matches every URL below it;
 * any other URL is ACME_PACE_EP_OTHER. */
acme_pace_endpoint_e acme_pace_endpoint(const char *url,
                                        const char *const urls[ACME_PACE_EP_COUNT]);
/* One request to endpoint ep is to be sent, at now or later: reserves the earliest time at
 * which it conforms to the endpoint's rate (>= now; now when the rate has room or no limit)
 * and takes its token at that time, so that concurrent requests get successive times. The
 * caller sleeps until the time returned (outside its lock), then sends. */
apr_time_t acme_pace_request_take(acme_pace_t *pc, acme_pace_endpoint_e ep, apr_time_t now);
/* The endpoint's name as Let's Encrypt's table of limits writes it ("directory", "new-nonce"). */
const char *acme_pace_endpoint_name(acme_pace_endpoint_e ep);

/* The kind of a due certificate's order. */
acme_pace_kind_e acme_pace_kind(int have_live, int replaces_ari);
/* The order in which to start n jobs of these kinds: a permutation of 0..n-1 into order[]
 * (by kind, stable within a kind). */
void acme_pace_sort(int *order, const acme_pace_kind_e *kinds, int n);

/* "N/PERIOD" (ACMEOrderRate): N >= 1 orders, PERIOD a duration ("3h", "1s", "90s") of at
 * least one second. APR_SUCCESS and *rate, or APR_EINVAL with a sentence in *perr. */
apr_status_t acme_pace_rate_parse(acme_pace_rate_t *rate, const char **perr, apr_pool_t *p,
                                  const char *arg);
/* "300 per 3h", "no limit". */
const char *acme_pace_rate_str(apr_pool_t *p, const acme_pace_rate_t *rate);

#endif
