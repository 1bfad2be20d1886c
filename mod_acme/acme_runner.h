/* The driver's runs in the watchdog child, without httpd: per certificate its spec, its
 * plan inputs and its plan; recording each attempt's result (state, backoff, failure
 * record, notify events, log lines); the account before a run; the parallel run and its
 * counters; `acmectl renew` requests; the 'blocked' notification once per episode;
 * renewalInfo fetches and the once-a-day 'expiring' warning. The watchdog
 * (mod_acme_watchdog.c) keeps the mod_watchdog wiring and the loop that calls these when
 * the timetable (acme_sched.h) says so. One thread calls the runner; acme_runner_run_due
 * runs up to max_parallel obtain threads that share it under its mutex, and paces new
 * orders per CA (acme_pace.h): ARI replacements first, then renewals, then new
 * certificates; what the CA's rates do not allow yet waits ("paced until"). */
#ifndef ACME_RUNNER_H
#define ACME_RUNNER_H

#include "acme.h"
#include "acme_http.h"
#include "acme_store.h"
#include "acme_client.h"
#include "acme_driver.h"
#include "acme_plan.h"
#include "acme_sched.h"
#include "acme_spec.h"
#include "acme_eab.h"
#include "acme_pace.h"

/* Orders in flight at once (ACMEMaxParallel): the default and the most allowed. */
#define ACME_RUNNER_MAX_PARALLEL 32
/* Fleet mode: leases a node takes before a run; the rest as its threads start them, so
 * the other nodes take what this one has not started (3 nodes share 100 names about
 * evenly; with all leases taken up front the first node to start ordered all of them). */
#define ACME_RUNNER_FLEET_LEASES 8
#define ACME_RUNNER_PARALLEL_LIMIT 256
#define ACME_RUNNER_REQUEST_CHECK apr_time_from_sec(15)  /* acmectl renew requests */
#define ACME_RUNNER_BLOCKED_CHECK apr_time_from_sec(2)   /* orders/_activation/blocked.json */

/* One certificate (the glue fills it from its own record at start). */
typedef struct acme_runner_cert_t {
    const char *id;
    const apr_array_header_t *names;
    int used;                      /* an https vhost uses it: planned and obtained */
    int have_live;                 /* a set is served (live, or archived when damaged) */
    int activated;                 /* went live at this start: 'activated' is said */
    const char *live_serial;
    const char *ari_cert_id;       /* RFC 9773 certID of the live certificate, or NULL */
    acme_spec_t spec;              /* acme_spec_copy'd; spec.cert.replaces is the runner's */
    acme_plan_input_t input;       /* what the store said at start; kept up to date */
    acme_plan_t plan;              /* the current plan */
} acme_runner_cert_t;

/* Fleet mode (acme_fleet.c): whether this node may order a certificate now (it holds the
 * certificate's lease), and that its attempt ended (release the lease). A certificate this
 * node may not order waits ACME_RUNNER_FLEET_WAIT and is asked about again; meanwhile the
 * fleet layer pulls the other node's result. */
typedef struct acme_runner_fleet_t {
    int (*may_order)(void *baton, const char *id, const apr_array_header_t *names,
                     apr_pool_t *p);
    void (*done)(void *baton, const char *id, apr_pool_t *p);
    /* Whether this node fetches renewalInfo for the fleet (NULL: it does). When not, the
     * runner adopts the window another node fetched (orders/<id>/ari.json, pulled by the
     * fleet layer) and looks again in ACME_RUNNER_FLEET_ARI_CHECK. */
    int (*may_fetch_ari)(void *baton, const char *id, apr_pool_t *p);
    /* Whether this node may run orders at all now (NULL: it may). When not, a run does
     * nothing and what is due stays due for the next call (acme_fleet_settled: a node
     * orders only once the others can have seen its first heartbeat). */
    int (*may_run)(void *baton, apr_time_t now);
    void *baton;
} acme_runner_fleet_t;
#define ACME_RUNNER_FLEET_WAIT apr_time_from_sec(5)
#define ACME_RUNNER_FLEET_ARI_CHECK apr_time_from_sec(60)

typedef struct acme_runner_conf_t {
    acme_store_t *store;
    const unsigned char *secret;   /* ACME_SECRET_LEN bytes */
    const char *ca_url;            /* the first CA */
    const apr_array_header_t *ca_urls; /* ACMEServer A [B ...] (const char *), NULL: ca_url
                                    * alone; the first is ca_url */
    const apr_array_header_t *contacts; /* for the account */
    int agree_tos;
    const acme_eab_t *eab;             /* ACMEExternalAccountBinding, NULL: none */
    int renewal_info;              /* ACMERenewalInfo: fetch the CA's renewal windows */
    const char *notify_cmd;        /* ACMENotifyCmd, NULL: none */
    const apr_array_header_t *notify_args;
    apr_interval_time_t notify_limit; /* one notify run (0: ACME_NOTIFY_TIMEOUT) */
    apr_interval_time_t poll_default; /* the driver's delay between polls (0: its default) */
    acme_http01_count_fn *http01_count; /* tells the workers about http-01 publications */
    void *http01_count_baton;
    acme_sleep_fn *sleep;          /* the driver's sleep (NULL: apr_sleep); tests count */
    void *sleep_baton;
    const acme_runner_fleet_t *fleet; /* fleet mode, NULL: this node orders alone */
    int max_parallel;              /* ACMEMaxParallel (0: ACME_RUNNER_MAX_PARALLEL) */
    acme_pace_rate_t order_rate;   /* ACMEOrderRate: new orders per account at every CA
                                    * (count 0: what each CA documents, acme_ca_limits) */
    int request_rates;             /* ACMERequestRates (acme_request_rates_e; 0: auto) */
    apr_time_t (*now)(void);       /* the clock of pacing (NULL: apr_time_now); tests set it */
} acme_runner_conf_t;

typedef struct acme_runner_t acme_runner_t;

/* certs: acme_runner_cert_t *, in config order (the runner keeps the pointers and updates
 * input, plan and spec.cert.replaces). The timetable is made here, the client at start. */
apr_status_t acme_runner_create(acme_runner_t **pr, apr_pool_t *p,
                                const acme_runner_conf_t *conf, apr_array_header_t *certs);
/* The runner's pool, client and notify queue, over http (the glue makes the libcurl one,
 * tests a scripted one); each certificate's timetable from its plan, renewalInfo fetches
 * planned, the last 'expiring' read, 'activated' said. APR_SUCCESS or why the client could
 * not be made (nothing is kept then; call again later). */
apr_status_t acme_runner_start(acme_runner_t *r, acme_http_t *http, apr_time_t now);
int acme_runner_started(const acme_runner_t *r);
/* Free what start made and the plans' pools (the runner is not usable afterwards). */
void acme_runner_destroy(acme_runner_t *r);
acme_sched_t *acme_runner_sched(acme_runner_t *r);
acme_runner_cert_t *acme_runner_cert(acme_runner_t *r, int i);
int acme_runner_count(const acme_runner_t *r);

/* Recompute certificate i's plan from its input (acme_plan_compute) and its timetable. */
void acme_runner_replan(acme_runner_t *r, int i, apr_time_t now);
/* An attempt for certificate i ended (rv, res): the plan inputs (acme_sched_record), the
 * failure record (orders/<id>/status.json, cleared on success), the counters of this run,
 * 'renewed' or 'failed', a log line (ACME00030 / ACME00031). Thread-safe. */
void acme_runner_record(acme_runner_t *r, int i, apr_status_t rv, const acme_result_t *res,
                        apr_pool_t *p);
/* Whether an attempt that ended with rv (res) was cut short by the server's stop or restart
 * rather than failed: ACME_EINTERRUPTED (the driver stopped at a wait), or, once stopping,
 * an error of our own side (no answer of the CA in res). Such an order is no failure: no
 * record, no backoff, no notify 'failed'; its state stays and the next start resumes it. */
int acme_order_interrupted(apr_status_t rv, const acme_result_t *res, int stopping);
/* The server stops or restarts (mod_watchdog's STOPPING, from another thread while a run
 * may be going on): the run starts no new order, orders in flight end at their next wait
 * (acme_driver_env_t.stop), and each is recorded as interrupted (acme_order_interrupted). */
void acme_runner_stop(acme_runner_t *r);
/* The certificates due at now, under the store's "driver" lock (held by another
 * generation: look again in ACME_SCHED_LOCKED_RETRY): the account ensured (failing: every
 * due certificate fails with its reason), the jobs in pacing order; those the CA's rates do
 * not allow within ACME_PACE_SLEEP_MAX wait (orders/<id>/paced.json, their next attempt at
 * the time the pacer gives each), up to max_parallel orders at once, the pacing state
 * (orders/_driver/pace.json) and counters (orders/_driver/metrics.json), then the next
 * run's time. A job that meets the CA's 429 with Retry-After pauses every new order at that
 * CA until then. */
void acme_runner_run_due(acme_runner_t *r, apr_time_t now, apr_pool_t *p);
/* Requests of `acmectl renew` (orders/<id>/renew.request): a new one makes the certificate
 * due (within the backoff); one a live certificate satisfies is removed. */
void acme_runner_check_requests(acme_runner_t *r, apr_pool_t *p);
/* The restarter holds staged certificates back (orders/_activation/blocked.json): run
 * ACMENotifyCmd 'blocked' for each, once per episode. */
void acme_runner_blocked_check(acme_runner_t *r, apr_pool_t *p);
/* Fetch certificate i's renewalInfo (acme_ari_update) and plan with the new window. */
void acme_runner_ari_fetch(acme_runner_t *r, int i, apr_time_t now, apr_pool_t *p);
/* Inside the warn window, 'expiring' (log line ACME00052 and notify) once a day. */
void acme_runner_expiring_check(acme_runner_t *r, int i, apr_time_t now, apr_pool_t *p);
/* Notify runs: finished ones logged, queued ones started (acme_notify_poll); whether runs
 * are still pending. */
void acme_runner_notify_poll(acme_runner_t *r, apr_pool_t *p);
int acme_runner_notify_pending(acme_runner_t *r);

#endif
