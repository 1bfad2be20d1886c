/* The driver's runs in the watchdog child (see acme_runner.h). A graceful restart does not
 * wait for a running watchdog callback, and the old and new generations' runners can work
 * at once: a run therefore holds the store's "driver" lock, and every step the driver takes
 * is persisted (acme_driver.c). */
#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include "acme_runner.h"
#include "acme_account.h"
#include "acme_ca.h"
#include "acme_ca_set.h"
#include "acme_activation.h"
#include "acme_ari.h"
#include "acme_expiry.h"
#include "acme_keytypes.h"
#include "acme_log.h"
#include "acme_notify.h"
#include "acme_pace.h"
#include "acme_parallel.h"
#include "acme_plan_store.h"
#include "acme_state.h"
#include "acme_util.h"

struct acme_runner_t {
    acme_runner_conf_t conf;
    apr_pool_t *pool;              /* from start on: client, notify queue, mutex */
    apr_array_header_t *certs;     /* acme_runner_cert_t * */
    acme_sched_t *sched;           /* per certificate: next attempt (always from its plan),
                                    * renewalInfo fetch, 'expiring' warning */
    apr_pool_t **plan_pool;        /* per certificate: holds its plan's strings (unmanaged) */
    acme_ca_set_t *cas;            /* per CA (ACMEServer): client and driver environment,
                                    * shared by the run's threads */
    acme_client_t *client;         /* the first CA's */
    const apr_array_header_t *urls; /* the CAs' directory URLs (const char *), ca_url first */
    acme_notify_t *notify;         /* the ACMENotifyCmd queue, or NULL */
    int account_looked;            /* acme_account_update_due asked (once a generation) */
    apr_thread_mutex_t *mutex;
    apr_thread_mutex_t *save_mutex;    /* orders/_driver/pace.json writes, one at a time */
    /* one run */
    apr_array_header_t *due;       /* indexes into certs */
    int *due_ca;                   /* per job of due: the CA it uses (acme_ca_pick) */
    char *leased;                  /* fleet mode, per certificate: this run holds its lease
                                    * (the others take it when a thread starts them) */
    int staged, failed;            /* added to orders/_driver/metrics.json after the run */
    acme_pace_t *pace;             /* per CA: its rates and what was spent (acme_pace.h) */
    struct gate_t *pace_gates;     /* per CA: its clients' request pacing baton (r, ca) */
    int paced;                     /* this run: certificates that wait for the CA's rates */
    apr_time_t paced_first;        /* the soonest of their times */
    volatile int stopping;         /* acme_runner_stop: the server stops or restarts */
    int interrupted, not_started;  /* this run: orders left to the next start */
};

/* One job's view for the driver's order gate: the runner, the certificate, its CA. */
typedef struct gate_t {
    acme_runner_t *r;
    int i, ca;
} gate_t;

apr_status_t acme_runner_create(acme_runner_t **pr, apr_pool_t *p,
                                const acme_runner_conf_t *conf, apr_array_header_t *certs)
{
    acme_runner_t *r = apr_pcalloc(p, sizeof(*r));
    apr_status_t rv;

    r->conf = *conf;
    r->certs = certs;
    r->plan_pool = apr_pcalloc(p, sizeof(apr_pool_t *) * (apr_size_t)(certs->nelts + 1));
    if ((rv = acme_sched_create(&r->sched, p, certs->nelts)) != APR_SUCCESS) {
        return rv;
    }
    *pr = r;
    return APR_SUCCESS;
}

static apr_time_t pace_now(const acme_runner_t *r)
{
    return r->conf.now ? r->conf.now() : apr_time_now();
}

int acme_runner_started(const acme_runner_t *r)
{
    return r->client != NULL;
}

void acme_runner_destroy(acme_runner_t *r)
{
    int i;
    for (i = 0; i < r->certs->nelts; ++i) {
        if (r->plan_pool[i]) {
            apr_pool_destroy(r->plan_pool[i]);
            r->plan_pool[i] = NULL;
        }
    }
    if (r->pool) {
        apr_pool_destroy(r->pool);
        r->pool = NULL;
        r->client = NULL;
        r->cas = NULL;
        r->notify = NULL;
    }
}

acme_sched_t *acme_runner_sched(acme_runner_t *r)
{
    return r->sched;
}

acme_runner_cert_t *acme_runner_cert(acme_runner_t *r, int i)
{
    return APR_ARRAY_IDX(r->certs, i, acme_runner_cert_t *);
}

int acme_runner_count(const acme_runner_t *r)
{
    return r->certs->nelts;
}

/* Wait d: the configured sleep (tests) or the real one. */
static void runner_sleep(acme_runner_t *r, apr_interval_time_t d)
{
    if (r->conf.sleep) {
        r->conf.sleep(r->conf.sleep_baton, d);
    }
    else {
        apr_sleep(d);
    }
}

/* Before each request of CA ca's client (acme_client_set_pace): a token of the endpoint's
 * request rate, after sleeping until the time reserved for it. */
static void pace_request(void *baton, acme_pace_endpoint_e ep)
{
    struct gate_t *g = baton;
    acme_runner_t *r = g->r;
    apr_time_t now, when;

    apr_thread_mutex_lock(r->mutex);
    now = pace_now(r);
    when = acme_pace_request_take(&r->pace[g->ca], ep, now);
    apr_thread_mutex_unlock(r->mutex);
    if (when <= now) {
        return;
    }
    if (when - now >= apr_time_from_sec(1)) {
        /* no pool here: threads share r->pool */
        const acme_pace_rate_t *rate = &r->pace[g->ca].lim.requests[ep];
        acme_log(ACME_LOG_DEBUG, 0, ACMELOGNO(00760) "%s: a request to %s waits %" APR_TIME_T_FMT
                 " ms for the CA's request rate (%d per %" APR_TIME_T_FMT " ms)",
                 acme_ca_set_url(r->cas, g->ca), acme_pace_endpoint_name(ep),
                 apr_time_as_msec(when - now), rate->count, apr_time_as_msec(rate->period));
    }
    runner_sleep(r, when - now);
}

/* Per CA its pacer: the rates it documents (acme_ca_limits), ACMEOrderRate instead of its
 * order budget when set, the request rates ACMERequestRates says; its client paced by it. */
static void pace_create(acme_runner_t *r)
{
    int k, n = r->urls->nelts;

    r->pace = apr_pcalloc(r->pool, sizeof(acme_pace_t) * (apr_size_t)n);
    r->pace_gates = apr_pcalloc(r->pool, sizeof(gate_t) * (apr_size_t)n);
    for (k = 0; k < n; ++k) {
        acme_pace_limits_t lim;
        const char *url = APR_ARRAY_IDX(r->urls, k, const char *);

        acme_ca_limits(&lim, url);
        if (r->conf.order_rate.count > 0) {
            lim.orders = r->conf.order_rate;
        }
        acme_ca_request_limits(&lim, url, (acme_request_rates_e)r->conf.request_rates);
        acme_pace_init(&r->pace[k], &lim);
        r->pace_gates[k].r = r;
        r->pace_gates[k].ca = k;
        acme_client_set_pace(acme_ca_set_client(r->cas, k), pace_request, &r->pace_gates[k]);
    }
}

/* What was spent at each CA, as the last run of any generation left it
 * (orders/_driver/pace.json): read at the start of every run, under the driver lock, so an
 * older generation that ordered meanwhile is counted (the saved times are never earlier). */
static void pace_load(acme_runner_t *r, apr_pool_t *p)
{
    int k;

    for (k = 0; k < r->urls->nelts; ++k) {
        acme_pace_state_t saved;
        if (acme_pace_state_load(&saved, p, r->conf.store,
                                 APR_ARRAY_IDX(r->urls, k, const char *)) != APR_SUCCESS) {
            continue;
        }
        apr_thread_mutex_lock(r->mutex);
        r->pace[k].orders.tat = saved.orders_tat > r->pace[k].orders.tat
                                    ? saved.orders_tat : r->pace[k].orders.tat;
        r->pace[k].new_order.tat = saved.new_order_tat > r->pace[k].new_order.tat
                                       ? saved.new_order_tat : r->pace[k].new_order.tat;
        acme_pace_pause(&r->pace[k], saved.paused_until);
        apr_thread_mutex_unlock(r->mutex);
    }
}

/* Saved at the end of a run, and after every new order at a CA with an order budget: a
 * graceful restart ends the watchdog child mid-run, and the next generation must not start
 * with a budget that was spent. The writes are serialized so the last one holds the latest
 * state. */
static void pace_save(acme_runner_t *r, apr_pool_t *p)
{
    int k, n = r->urls->nelts;
    acme_pace_state_t *states = apr_pcalloc(p, sizeof(*states) * (apr_size_t)n);
    const char **urls = apr_pcalloc(p, sizeof(*urls) * (apr_size_t)n);

    apr_thread_mutex_lock(r->save_mutex);
    apr_thread_mutex_lock(r->mutex);
    for (k = 0; k < n; ++k) {
        urls[k] = APR_ARRAY_IDX(r->urls, k, const char *);
        states[k].orders_tat = r->pace[k].orders.tat;
        states[k].new_order_tat = r->pace[k].new_order.tat;
        states[k].paused_until = r->pace[k].paused_until;
    }
    apr_thread_mutex_unlock(r->mutex);
    if (acme_pace_state_save(r->conf.store, urls, states, n, p) != APR_SUCCESS) {
        acme_log(ACME_LOG_WARNING, 0, ACMELOGNO(00590) "the pacing state (orders/_driver/"
                 "pace.json) could not be saved: a restart starts with the CAs' full budget");
    }
    apr_thread_mutex_unlock(r->save_mutex);
}

/* The one place the runner makes its ACME clients: one per CA, each with its driver
 * environment (acme_ca_set.c). */
static apr_status_t clients_create(acme_runner_t *r, acme_http_t *http)
{
    acme_driver_env_t env;
    apr_array_header_t *urls;
    apr_status_t rv;

    memset(&env, 0, sizeof(env));
    env.store = r->conf.store;
    env.secret = r->conf.secret;
    env.poll_default = r->conf.poll_default;
    env.http01_count = r->conf.http01_count;
    env.http01_count_baton = r->conf.http01_count_baton;
    env.sleep = r->conf.sleep;
    env.sleep_baton = r->conf.sleep_baton;
    env.stop = &r->stopping;
    if (r->conf.ca_urls && r->conf.ca_urls->nelts > 0) {
        urls = (apr_array_header_t *)r->conf.ca_urls;
    }
    else {
        urls = apr_array_make(r->pool, 1, sizeof(const char *));
        APR_ARRAY_PUSH(urls, const char *) = r->conf.ca_url;
    }
    if ((rv = acme_ca_set_create(&r->cas, r->pool, http, urls, &env)) == APR_SUCCESS) {
        r->client = acme_ca_set_client(r->cas, 0);
        r->urls = urls;
        pace_create(r);
    }
    return rv;
}

void acme_runner_replan(acme_runner_t *r, int i, apr_time_t now)
{
    acme_runner_cert_t *c = acme_runner_cert(r, i);
    apr_pool_t *p;

    if (apr_pool_create_unmanaged_ex(&p, NULL, NULL) != APR_SUCCESS) {
        return;
    }
    acme_plan_compute(&c->plan, p, &c->spec.plan, &c->input, now);
    if (r->plan_pool[i]) {
        apr_pool_destroy(r->plan_pool[i]);
    }
    r->plan_pool[i] = p;
    acme_sched_plan(r->sched, i, c->used, &c->plan, now);
    if (c->input.ari_end && !c->plan.other_ca) {
        c->spec.cert.replaces = c->ari_cert_id; /* the CA knows ARI: name what it replaces */
    }
}

/* ACMENotifyCmd (acme_notify.c): PROGRAM ARGS EVENT CERT in the background. */
static void notify(acme_runner_t *r, const char *event, const acme_runner_cert_t *c,
                   const char *serial, apr_time_t not_after, const acme_result_t *res)
{
    acme_notify_event_t ev;
    apr_pool_t *p;

    if (!r->notify || apr_pool_create_unmanaged_ex(&p, NULL, NULL) != APR_SUCCESS) {
        return;
    }
    ev.event = event;
    ev.cert = c->id;
    ev.names = acme_names_join(p, c->names, " ");
    ev.serial = serial;
    ev.not_after = not_after;
    ev.res = res;
    acme_notify_event(r->notify, &ev);
    apr_pool_destroy(p);
}

static void notify_live(acme_runner_t *r, const char *event, const acme_runner_cert_t *c)
{
    notify(r, event, c, c->live_serial, c->input.live_not_after, NULL);
}

apr_status_t acme_runner_start(acme_runner_t *r, acme_http_t *http, apr_time_t now)
{
    apr_status_t rv;
    int i;

    if ((rv = apr_pool_create_unmanaged_ex(&r->pool, NULL, NULL)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = clients_create(r, http)) != APR_SUCCESS
        || (rv = apr_thread_mutex_create(&r->mutex, APR_THREAD_MUTEX_DEFAULT, r->pool))
        || (rv = apr_thread_mutex_create(&r->save_mutex, APR_THREAD_MUTEX_DEFAULT, r->pool))) {
        apr_pool_destroy(r->pool);
        r->pool = NULL;
        r->client = NULL;
        r->cas = NULL;
        return rv;
    }
    if (r->conf.notify_cmd
        && acme_notify_create(&r->notify, r->pool, r->conf.store, r->conf.notify_cmd,
                              r->conf.notify_args, r->conf.notify_limit ? r->conf.notify_limit
                                                   : ACME_NOTIFY_TIMEOUT) != APR_SUCCESS) {
        r->notify = NULL; /* no ACMENotifyCmd runs, obtaining goes on */
    }
    for (i = 0; i < r->certs->nelts; ++i) {
        acme_runner_cert_t *c = acme_runner_cert(r, i);
        acme_sched_plan(r->sched, i, c->used, &c->plan, now);
        if (c->used && c->input.ari_end && !c->plan.other_ca) {
            c->spec.cert.replaces = c->ari_cert_id;
        }
        if (!c->used || !c->have_live) {
            continue;
        }
        if (r->conf.renewal_info && c->ari_cert_id) {
            /* what an earlier generation learned is in the input (ari.json): fetch again
             * when it said, or a few seconds after start, at random (not all at once) */
            r->sched->slot[i].ari_next = c->input.ari_next_fetch ? c->input.ari_next_fetch
                                   : now + acme_ari_random_in(0, apr_time_from_sec(5));
        }
        acme_expiring_load(&r->sched->slot[i].expiring_last, r->pool, r->conf.store, c->id);
        if (c->activated) {
            notify_live(r, "activated", c);
        }
    }
    return APR_SUCCESS;
}

void acme_runner_notify_poll(acme_runner_t *r, apr_pool_t *p)
{
    if (r->notify) {
        acme_notify_poll(r->notify, p);
    }
}

int acme_runner_notify_pending(acme_runner_t *r)
{
    return r->notify && acme_notify_pending(r->notify);
}

/* ---- one attempt's result ------------------------------------------------------------- */

static void record_success(acme_runner_t *r, const acme_runner_cert_t *c, apr_pool_t *p)
{
    acme_cert_meta_t *meta;
    const char *serial = NULL;
    apr_time_t not_after = 0;

    acme_status_clear(r->conf.store, c->id, p);
    if (acme_meta_load(&meta, p, r->conf.store, ACME_GROUP_STAGING, c->id) == APR_SUCCESS) {
        serial = meta->serial;
        not_after = meta->not_after;
    }
    notify(r, "renewed", c, serial, not_after, NULL);
    acme_log(ACME_LOG_NOTICE, 0, ACMELOGNO(00030)
             "certificate for %s (%s) obtained and staged: it goes live at the next graceful "
             "restart", c->id, acme_names_join(p, c->names, ", "));
}

static void record_failure(acme_runner_t *r, int i, const acme_result_t *res, apr_time_t now,
                           apr_pool_t *p)
{
    acme_runner_cert_t *c = acme_runner_cert(r, i);
    apr_time_t next = r->sched->slot[i].next;

    acme_status_record_failure(r->conf.store, c->id, c->input.failures, now, next, res, p);
    notify(r, "failed", c, NULL, 0, res);
    acme_log(ACME_LOG_ERR, res->status, ACMELOGNO(00031)
             "certificate for %s (%s) could not be obtained: %s; attempt %d failed, next "
             "attempt at %s", c->id, acme_names_join(p, c->names, ", "),
             acme_result_str(res, p), c->input.failures, acme_time_rfc3339(p, next));
}

/* The order of certificate i waits for the CA's rates until `until`: no failure, no backoff;
 * its next attempt then, the reason in orders/<id>/paced.json for the status pages. */
static void record_paced(acme_runner_t *r, int i, apr_time_t until, const char *why,
                         apr_pool_t *p)
{
    acme_runner_cert_t *c = acme_runner_cert(r, i);

    apr_thread_mutex_lock(r->mutex);
    r->sched->slot[i].next = until;
    r->paced++;
    if (!r->paced_first || until < r->paced_first) {
        r->paced_first = until;
    }
    apr_thread_mutex_unlock(r->mutex);
    acme_paced_save(r->conf.store, c->id, until, why, p);
    acme_log(ACME_LOG_DEBUG, 0, ACMELOGNO(00591) "certificate %s: new order paced until %s "
             "(%s)", c->id, acme_time_rfc3339(p, until), why);
}

int acme_order_interrupted(apr_status_t rv, const acme_result_t *res, int stopping)
{
    if (rv == ACME_EINTERRUPTED) {
        return 1;
    }
    if (!stopping || rv == APR_SUCCESS || rv == ACME_EPACED) {
        return 0;
    }
    /* an answer of the CA is the CA's word, whenever it came; an error of our own side
     * (a transfer cut, a store write) while the process winds down is the stop's doing */
    switch (rv) {
    case ACME_EPROBLEM: case ACME_EPROTO: case ACME_EINVALID: case ACME_ETOS:
    case ACME_EVERIFY: case ACME_ENOCHALLENGE: case ACME_EHOOK: case ACME_ETRUST:
        return 0;
    default:
        return !(res && (res->http_status > 0 || res->problem_type));
    }
}

void acme_runner_stop(acme_runner_t *r)
{
    if (r) {
        r->stopping = 1;
    }
}

/* Certificate i's order was cut short by the server's stop or restart: no failure, no
 * backoff, no notify; its state stays in the store and the next start resumes it at once. */
static void record_interrupted(acme_runner_t *r, int i, const acme_result_t *res,
                               apr_pool_t *p)
{
    acme_runner_cert_t *c = acme_runner_cert(r, i);

    apr_thread_mutex_lock(r->mutex);
    r->interrupted++;
    r->sched->slot[i].next = apr_time_now();
    apr_thread_mutex_unlock(r->mutex);
    acme_log(ACME_LOG_INFO, 0, ACMELOGNO(00751)
             "certificate %s: the order was interrupted by the server's stop or restart "
             "(%s): not a failure, the next start resumes it", c->id,
             res && res->detail ? res->detail : "no detail");
    (void)p;
}

void acme_runner_record(acme_runner_t *r, int i, apr_status_t rv, const acme_result_t *res,
                        apr_pool_t *p)
{
    acme_runner_cert_t *c = acme_runner_cert(r, i);
    apr_time_t now = apr_time_now();

    if (acme_order_interrupted(rv, res, r->stopping)) {
        record_interrupted(r, i, res, p);
        if (r->conf.fleet) {
            r->conf.fleet->done(r->conf.fleet->baton, c->id, p);
        }
        return;
    }
    if (rv == ACME_EPACED) {
        record_paced(r, i, res->retry_after > now ? res->retry_after
                                                  : now + apr_time_from_sec(1),
                     res->detail ? res->detail : "the CA's rates", p);
        if (r->conf.fleet) {
            r->conf.fleet->done(r->conf.fleet->baton, c->id, p);
        }
        return;
    }

    apr_thread_mutex_lock(r->mutex);
    r->staged += rv == APR_SUCCESS;
    r->failed += rv != APR_SUCCESS;
    /* accountDoesNotExist (a nonzero return) needs nothing here: every run ensures the
     * account again from the store */
    (void)acme_sched_record(r->sched, i, &c->input, rv, res, now);
    acme_runner_replan(r, i, now);
    apr_thread_mutex_unlock(r->mutex);
    if (rv == APR_SUCCESS) {
        record_success(r, c, p);
    }
    else {
        record_failure(r, i, res, now, p);
    }
    if (r->conf.fleet) {
        r->conf.fleet->done(r->conf.fleet->baton, c->id, p);
    }
}

/* "replaces" only to the configured CA that issued the certificate (-1: none did; a CA
 * refuses the replacement of another account's certificate). */
static const char *job_replaces(const acme_runner_t *r, const acme_runner_cert_t *c,
                                const char *replaces, int ca)
{
    return replaces && ca == acme_ca_index(r->urls, c->input.live_ca) ? replaces : NULL;
}

static acme_pace_kind_e job_kind(const acme_runner_cert_t *c, const char *replaces)
{
    return acme_pace_kind(c->have_live, replaces != NULL);
}

/* Why the CA's rates hold an order back, for paced.json and the log. */
static const char *pace_why(apr_pool_t *p, const acme_pace_t *pc, const char *reason,
                            const char *url)
{
    const char *what = !reason ? "the CA's rates"
        : !strcmp(reason, "paused") ? "the CA answered 429 (rate limited) with Retry-After"
        : !strcmp(reason, "orders") ? apr_psprintf(p, "new orders per account: %s",
                                                   acme_pace_rate_str(p, &pc->lim.orders))
        : apr_psprintf(p, "newOrder requests: %s", acme_pace_rate_str(p, &pc->lim.new_order));
    return apr_psprintf(p, "%s at %s", what, acme_ca_label(p, url));
}

/* The driver asks before each newOrder (acme_order_gate_fn): a token of the CA's buckets,
 * after a short sleep if need be; a longer wait ends the attempt as paced. */
static apr_status_t order_gate(void *baton, const acme_cert_spec_t *spec, acme_result_t *res,
                               apr_pool_t *p)
{
    gate_t *g = baton;
    acme_runner_t *r = g->r;
    acme_pace_t *pc = &r->pace[g->ca];
    acme_pace_kind_e kind = job_kind(acme_runner_cert(r, g->i), spec->replaces);
    apr_time_t now, when, budget;
    const char *reason;
    int tries;

    for (tries = 0; tries < 1000; ++tries) {
        apr_thread_mutex_lock(r->mutex);
        now = pace_now(r);
        when = acme_pace_order_when(pc, kind, now);
        budget = acme_pace_budget_when(pc, kind, now);
        reason = acme_pace_reason(pc, kind, now);
        if (when <= now) {
            acme_pace_order_take(pc, kind, now);
        }
        apr_thread_mutex_unlock(r->mutex);
        if (when <= now) {
            if (pc->lim.orders.count > 0) {
                pace_save(r, p);
            }
            /* also one an older generation left */
            acme_paced_clear(r->conf.store, spec->id, p);
            return APR_SUCCESS;
        }
        if (budget - now > ACME_PACE_SLEEP_MAX) {
            when = budget;
            break;
        }
        if (r->stopping) {
            return acme_result_set(res, p, ACME_EINTERRUPTED, "waiting for the CA's rates: "
                                   "the server stops or restarts");
        }
        runner_sleep(r, when - now);
    }
    acme_result_set(res, p, ACME_EPACED, "%s", pace_why(p, pc, reason,
                                                        acme_ca_set_url(r->cas, g->ca)));
    res->retry_after = when;
    return ACME_EPACED;
}

/* Fleet mode, the lease just taken: the failure record another node's attempts left
 * (pulled into the store by the fleet layer) continues this node's back-off ladder. */
static void fleet_adopt_failures(acme_runner_t *r, acme_runner_cert_t *c, apr_pool_t *p)
{
    acme_cert_status_t *s;

    if (acme_status_load(&s, p, r->conf.store, c->id) != APR_SUCCESS) {
        return;
    }
    apr_thread_mutex_lock(r->mutex);
    if (s->failures > c->input.failures) {
        c->input.failures = s->failures;
        c->input.last_failure = s->last_failure;
        c->input.retry_after = s->retry_after;
    }
    apr_thread_mutex_unlock(r->mutex);
}

/* One job of a run (acme_parallel.c): obtain the certificate r->due[job]. */
static void obtain_one(void *baton, int job)
{
    acme_runner_t *r = baton;
    int i = APR_ARRAY_IDX(r->due, job, int), ca = r->due_ca[job];
    acme_runner_cert_t *c = acme_runner_cert(r, i);
    acme_cert_spec_t spec;
    acme_driver_env_t env;
    gate_t gate;
    apr_pool_t *p;
    acme_result_t res;
    apr_status_t rv;

    if (apr_pool_create_unmanaged_ex(&p, NULL, NULL) != APR_SUCCESS) {
        return;
    }
    if (r->stopping) {
        /* the server stops or restarts: the next start orders it (nothing recorded; a
         * lease taken for it goes back) */
        apr_thread_mutex_lock(r->mutex);
        r->not_started++;
        apr_thread_mutex_unlock(r->mutex);
        if (r->conf.fleet && r->leased[i]) {
            r->conf.fleet->done(r->conf.fleet->baton, c->id, p);
        }
        apr_pool_destroy(p);
        return;
    }
    if (r->conf.fleet && !r->leased[i]
        && !r->conf.fleet->may_order(r->conf.fleet->baton, c->id, c->names, p)) {
        /* another node took it meanwhile: look again later, as fleet_filter does */
        apr_thread_mutex_lock(r->mutex);
        r->sched->slot[i].next = apr_time_now() + ACME_RUNNER_FLEET_WAIT;
        apr_thread_mutex_unlock(r->mutex);
        apr_pool_destroy(p);
        return;
    }
    if (r->conf.fleet && !r->leased[i]) {
        fleet_adopt_failures(r, c, p);
    }
    acme_result_reset(&res);
    apr_thread_mutex_lock(r->mutex);
    spec = c->spec.cert;
    acme_log(ACME_LOG_INFO, 0, ACMELOGNO(00032) "obtaining a certificate for %s (%s): %s",
             c->id, acme_names_join(p, c->names, ", "), apr_pstrdup(p, c->plan.reason));
    apr_thread_mutex_unlock(r->mutex);
    notify_live(r, "renewing", c);
    spec.ca_url = acme_ca_set_url(r->cas, ca);
    spec.replaces = job_replaces(r, c, spec.replaces, ca);
    env = *acme_ca_set_env(r->cas, ca);
    gate.r = r;
    gate.i = i;
    gate.ca = ca;
    env.order_gate = order_gate;
    env.order_gate_baton = &gate;
    rv = acme_driver_obtain(&env, &spec, p, &res);
    if (rv != APR_SUCCESS && rv != ACME_EPACED && res.retry_after > apr_time_now()
        && acme_problem_handling(&res) == ACME_PH_RATE_LIMITED) {
        /* the CA's limit was reached after all: no new order there until its Retry-After */
        apr_thread_mutex_lock(r->mutex);
        acme_pace_pause(&r->pace[ca], res.retry_after);
        apr_thread_mutex_unlock(r->mutex);
    }
    acme_runner_record(r, i, rv, &res, p);
    apr_pool_destroy(p);
}

/* ---- a run ---------------------------------------------------------------------------- */

static void account_spec(acme_account_spec_t *as, const acme_runner_t *r)
{
    memset(as, 0, sizeof(*as));
    as->contacts = (apr_array_header_t *)r->conf.contacts;
    as->agree_tos = r->conf.agree_tos;
    as->eab = r->conf.eab;
    /* with several CAs the binding belongs to the one(s) that require it */
    as->eab_if_required = acme_ca_set_count(r->cas) > 1;
}

/* The account at CA k. It is read from the store at every run, so that a key change or
 * deactivation by acmectl and a changed ACMEContact take effect. */
static apr_status_t account_ensure(acme_runner_t *r, int k, acme_result_t *res, apr_pool_t *p)
{
    acme_account_spec_t as;
    apr_status_t rv;

    account_spec(&as, r);
    rv = acme_ca_set_account(r->cas, k, &as, r->pool, res);
    if (rv != APR_SUCCESS) {
        if (!res->status) {
            res->status = rv;
        }
        acme_log(ACME_LOG_ERR, rv, ACMELOGNO(00033) "no ACME account at %s: %s",
                 acme_ca_set_url(r->cas, k), acme_result_str(res, p));
        return rv;
    }
    return APR_SUCCESS;
}

/* Which CA each due certificate's attempt uses (acme_ca_pick: after
 * ACME_CA_FAILOVER_THRESHOLD failed attempts in a row, the next one). */
static void pick_cas(acme_runner_t *r, apr_pool_t *p)
{
    int j, n = acme_ca_set_count(r->cas);

    r->due_ca = apr_pcalloc(p, sizeof(int) * (apr_size_t)(r->due->nelts + 1));
    for (j = 0; j < r->due->nelts; ++j) {
        acme_runner_cert_t *c = acme_runner_cert(r, APR_ARRAY_IDX(r->due, j, int));
        r->due_ca[j] = acme_ca_pick(n, c->input.failures, ACME_CA_FAILOVER_THRESHOLD);
        if (r->due_ca[j] != acme_ca_pick(n, c->input.failures - 1, ACME_CA_FAILOVER_THRESHOLD)) {
            acme_log(ACME_LOG_WARNING, 0, ACMELOGNO(00510) "certificate %s: %d failed attempts "
                     "in a row, the next one goes to CA %d of %d: %s", c->id,
                     c->input.failures, r->due_ca[j] + 1, n,
                     acme_ca_label(p, acme_ca_set_url(r->cas, r->due_ca[j])));
        }
    }
}

/* Make sure each CA the run uses has an account; the certificates of a CA without one fail
 * this attempt and leave the run's jobs. */
static void ensure_accounts(acme_runner_t *r, apr_pool_t *p)
{
    int k, j, kept, used;

    for (k = 0; k < acme_ca_set_count(r->cas); ++k) {
        acme_result_t res;
        for (j = used = 0; j < r->due->nelts && !used; ++j) {
            used = r->due_ca[j] == k;
        }
        acme_result_reset(&res);
        if (!used || account_ensure(r, k, &res, p) == APR_SUCCESS) {
            continue;
        }
        for (j = kept = 0; j < r->due->nelts; ++j) {
            int i = APR_ARRAY_IDX(r->due, j, int);
            if (r->due_ca[j] == k) {
                if (r->conf.fleet && !r->leased[i]) {
                    /* not this node's yet (fleet_filter): no failure of its own */
                    r->sched->slot[i].next = apr_time_now() + ACME_RUNNER_FLEET_WAIT;
                    continue;
                }
                acme_runner_record(r, i, res.status, &res, p);
                continue;
            }
            APR_ARRAY_IDX(r->due, kept, int) = i;
            r->due_ca[kept++] = r->due_ca[j];
        }
        r->due->nelts = kept;
    }
}

/* Once a generation: does the account need the CA though no certificate is due (a changed
 * ACMEContact after the restart, a deactivation by acmectl)? */
static int account_update_due(acme_runner_t *r, apr_pool_t *p)
{
    acme_account_spec_t as;

    if (r->account_looked) {
        return 0;
    }
    r->account_looked = 1;
    account_spec(&as, r);
    return acme_account_update_due(r->conf.store, r->conf.ca_url, &as, p);
}

/* The run's jobs in pacing order (ARI replacements, renewals, new certificates); a job whose
 * new order the CA's budget (or a 429's pause) allows only later than ACME_PACE_SLEEP_MAX
 * from now leaves the run, paced until the time the pacer gives it (the newOrder request
 * rate is waited for in the order's thread): spending the budget in that order one job
 * after another spreads the waiting ones over the times their tokens come, instead of
 * making them all due at the next token. The gate (order_gate) takes the real tokens. */
static void pace_jobs(acme_runner_t *r, apr_pool_t *p)
{
    int n = r->due->nelts, ncas = acme_ca_set_count(r->cas), j, k, kept = 0;
    acme_pace_kind_e *kinds = apr_pcalloc(p, sizeof(*kinds) * (apr_size_t)(n + 1));
    int *order = apr_pcalloc(p, sizeof(int) * (apr_size_t)(n + 1));
    int *due = apr_pcalloc(p, sizeof(int) * (apr_size_t)(n + 1));
    int *due_ca = apr_pcalloc(p, sizeof(int) * (apr_size_t)(n + 1));
    acme_pace_t *sim;
    apr_time_t now = pace_now(r);

    apr_thread_mutex_lock(r->mutex);
    sim = apr_pmemdup(p, r->pace, sizeof(acme_pace_t) * (apr_size_t)ncas);
    apr_thread_mutex_unlock(r->mutex);
    for (j = 0; j < n; ++j) {
        acme_runner_cert_t *c = acme_runner_cert(r, APR_ARRAY_IDX(r->due, j, int));
        kinds[j] = job_kind(c, job_replaces(r, c, c->spec.cert.replaces, r->due_ca[j]));
    }
    acme_pace_sort(order, kinds, n);
    for (k = 0; k < n; ++k) {
        int jj = order[k], i = APR_ARRAY_IDX(r->due, jj, int), ca = r->due_ca[jj];
        const char *reason = acme_pace_reason(&sim[ca], kinds[jj], now);
        apr_time_t when = acme_pace_budget_when(&sim[ca], kinds[jj], now);

        acme_pace_order_take(&sim[ca], kinds[jj], when);
        if (when - now > ACME_PACE_SLEEP_MAX) {
            record_paced(r, i, when, pace_why(p, &sim[ca], reason,
                                              acme_ca_set_url(r->cas, ca)), p);
            if (r->conf.fleet && r->leased[i]) {   /* another node may order it sooner */
                r->conf.fleet->done(r->conf.fleet->baton, acme_runner_cert(r, i)->id, p);
                r->leased[i] = 0;
            }
            continue;
        }
        due[kept] = i;
        due_ca[kept++] = ca;
    }
    for (k = 0; k < kept; ++k) {
        APR_ARRAY_IDX(r->due, k, int) = due[k];
    }
    r->due->nelts = kept;
    r->due_ca = due_ca;
}

static void run_locked(acme_runner_t *r, apr_pool_t *p)
{
    apr_uint32_t before = acme_ca_set_request_count(r->cas), requests, serial0, serial;
    apr_interval_time_t busy0, busy;
    apr_time_t start = apr_time_now();
    int ran = 0, had = r->due->nelts;

    busy0 = busy = 0;
    serial0 = serial = 0;
    if (r->client) {
        acme_client_serial_stats(r->client, &busy0, &serial0);
    }

    pick_cas(r, p);
    if (!had) {
        /* nothing due, but the account needs the CA (account_update_due): the first CA's */
        acme_result_t res;
        acme_result_reset(&res);
        (void)account_ensure(r, 0, &res, p);
    }
    else {
        pace_load(r, p);
        pace_jobs(r, p);
        ensure_accounts(r, p);
        acme_parallel_run(r->due->nelts, r->conf.max_parallel > 0 ? r->conf.max_parallel
                                         : ACME_RUNNER_MAX_PARALLEL, obtain_one, r, p);
        pace_save(r, p);
        ran = 1;
    }
    requests = acme_ca_set_request_count(r->cas) - before;
    acme_counters_add(r->conf.store, r->staged, r->failed, requests, apr_time_now(), p);
    if (ran) {
        acme_log(ACME_LOG_INFO, 0, ACMELOGNO(00034)
                 "driver run: %d certificate(s) staged, %d failed, %u ACME requests, %.1f s",
                 r->staged, r->failed, requests,
                 (double)(apr_time_now() - start) / APR_USEC_PER_SEC);
        if (r->client) {
            acme_client_serial_stats(r->client, &busy, &serial);
        }
        if (serial > serial0) {
            acme_log(ACME_LOG_INFO, 0, ACMELOGNO(00740) "driver run: %u newOrder/finalize "
                     "requests, one at a time, took %.1f s of it (the first CA's)",
                     serial - serial0, (double)(busy - busy0) / APR_USEC_PER_SEC);
        }
    }
    if (r->interrupted || r->not_started) {
        acme_log(ACME_LOG_INFO, 0, ACMELOGNO(00752)
                 "driver run cut short by the server's stop or restart: %d order(s) "
                 "interrupted and %d not started; the next start resumes them",
                 r->interrupted, r->not_started);
    }
    if (r->paced) {
        acme_log(ACME_LOG_NOTICE, 0, ACMELOGNO(00592) "%d certificate(s) wait for the CA's "
                 "rates (paced, not failed): the first new order goes at %s", r->paced,
                 acme_time_rfc3339(p, r->paced_first));
    }
}

/* Certificates with the names of another one due now (ACMEKeyTypes) wait for the next run;
 * their slots stay due, so that run comes at once. */
static void one_order_per_names(acme_runner_t *r, apr_pool_t *p)
{
    int n = r->due->nelts, k, kept = 0, *wait;
    const apr_array_header_t **names = apr_pcalloc(p, sizeof(*names) * (apr_size_t)(n + 1));

    for (k = 0; k < n; ++k) {
        names[k] = acme_runner_cert(r, APR_ARRAY_IDX(r->due, k, int))->names;
    }
    wait = acme_key_types_wait(p, names, n);
    for (k = 0; k < n; ++k) {
        int i = APR_ARRAY_IDX(r->due, k, int);
        if (wait[k]) {
            acme_log(ACME_LOG_DEBUG, 0, ACMELOGNO(00530) "certificate %s waits for the next "
                     "run: a certificate with the same names is ordered now",
                     acme_runner_cert(r, i)->id);
            continue;
        }
        APR_ARRAY_IDX(r->due, kept++, int) = i;
    }
    r->due->nelts = kept;
}

/* Fleet mode: only the certificates whose lease this node holds are ordered; the others
 * are looked at again in ACME_RUNNER_FLEET_WAIT. 1 when some were due and none is left
 * (no run then: not even the account is this node's business). Leases are taken here for
 * ACME_RUNNER_FLEET_LEASES certificates (fewer when ACMEMaxParallel is lower); the rest stay due and
 * take theirs when a thread starts them (obtain_one), so that the other nodes of the fleet
 * take the certificates this node has not started yet instead of waiting for its run. */
static int fleet_filter(acme_runner_t *r, apr_time_t now, apr_pool_t *p)
{
    const acme_runner_fleet_t *fl = r->conf.fleet;
    int k, kept = 0, had = r->due->nelts, leased = 0;
    int before_run = r->conf.max_parallel > 0 && r->conf.max_parallel < ACME_RUNNER_FLEET_LEASES
                     ? r->conf.max_parallel : ACME_RUNNER_FLEET_LEASES;

    r->leased = apr_pcalloc(p, (apr_size_t)r->certs->nelts + 1);
    for (k = 0; fl && k < r->due->nelts; ++k) {
        int i = APR_ARRAY_IDX(r->due, k, int);
        acme_runner_cert_t *c = acme_runner_cert(r, i);
        if (leased >= before_run) {
            APR_ARRAY_IDX(r->due, kept++, int) = i;     /* its lease when it starts */
            continue;
        }
        if (fl->may_order(fl->baton, c->id, c->names, p)) {
            fleet_adopt_failures(r, c, p);
            r->leased[i] = 1;
            ++leased;
        }
        else {
            r->sched->slot[i].next = now + ACME_RUNNER_FLEET_WAIT;
            continue;
        }
        APR_ARRAY_IDX(r->due, kept++, int) = i;
    }
    if (fl) {
        r->due->nelts = kept;
    }
    return fl && had > 0 && kept == 0;
}

/* The run could not start: the leases taken for it go back. */
static void fleet_release(acme_runner_t *r, apr_pool_t *p)
{
    int k;

    for (k = 0; r->conf.fleet && k < r->due->nelts; ++k) {
        int i = APR_ARRAY_IDX(r->due, k, int);
        if (r->leased[i]) {
            r->conf.fleet->done(r->conf.fleet->baton, acme_runner_cert(r, i)->id, p);
            r->leased[i] = 0;
        }
    }
}

void acme_runner_run_due(acme_runner_t *r, apr_time_t now, apr_pool_t *p)
{
    acme_store_t *st = r->conf.store;
    void *lock = NULL;

    if (r->stopping) {
        return; /* the next generation runs what is due */
    }
    if (r->conf.fleet && r->conf.fleet->may_run
        && !r->conf.fleet->may_run(r->conf.fleet->baton, now)) {
        return;                 /* not yet: everything due stays due */
    }
    r->due = acme_sched_due(r->sched, now, p);
    one_order_per_names(r, p);
    r->staged = r->failed = r->paced = 0;
    r->interrupted = r->not_started = 0;
    r->paced_first = 0;
    if (fleet_filter(r, now, p)) {
        acme_sched_after_run(r->sched, apr_time_now(), acme_runner_notify_pending(r));
        return;
    }
    if (r->due->nelts > 0 || account_update_due(r, p)) {
        if (st->lock(st, "driver", 0, &lock, p) != APR_SUCCESS) {
            /* another generation's driver is still at work: look again shortly */
            fleet_release(r, p);
            r->sched->next_run = now + ACME_SCHED_LOCKED_RETRY;
            r->account_looked = 0;
            return;
        }
        run_locked(r, p);
        st->unlock(st, lock);
    }
    acme_sched_after_run(r->sched, apr_time_now(), acme_runner_notify_pending(r));
}

/* ---- between runs ---------------------------------------------------------------------- */

/* `acmectl renew` leaves orders/<id>/renew.request. It stays there (and the plan keeps the
 * certificate due, within the backoff) until a certificate newer than the request is live,
 * so that a restart in the middle of the order does not lose it. */
void acme_runner_check_requests(acme_runner_t *r, apr_pool_t *p)
{
    int i;

    for (i = 0; i < r->certs->nelts; ++i) {
        acme_runner_cert_t *c = acme_runner_cert(r, i);
        acme_plan_input_t now_in = c->input;
        if (!c->used) {
            continue;
        }
        acme_plan_load_runtime(&now_in, p, r->conf.store, c->id, NULL);
        if (now_in.renew_requested == c->input.renew_requested) {
            continue;
        }
        apr_thread_mutex_lock(r->mutex);
        c->input.renew_requested = now_in.renew_requested;
        acme_runner_replan(r, i, apr_time_now());
        apr_thread_mutex_unlock(r->mutex);
        if (c->plan.request_done) {
            acme_request_clear(r->conf.store, c->id, p);
            c->input.renew_requested = 0;
            acme_log(ACME_LOG_INFO, 0, ACMELOGNO(00341)
                     "certificate %s: the renewal requested with acmectl is done", c->id);
        }
        else if (c->plan.request_pending) {
            acme_log(ACME_LOG_NOTICE, 0, ACMELOGNO(00042)
                     "certificate %s: renewal requested (acmectl renew): %s", c->id,
                     c->plan.reason);
            acme_sched_hurry(r->sched, i);
        }
    }
}

void acme_runner_blocked_check(acme_runner_t *r, apr_pool_t *p)
{
    acme_blocked_t *b;
    acme_result_t res;
    int i, j;

    if (acme_blocked_load(&b, p, r->conf.store) != APR_SUCCESS
        || acme_blocked_notified(r->conf.store, b, p)) {
        return;
    }
    acme_blocked_set_notified(r->conf.store, b, p);
    acme_result_reset(&res);
    res.status = APR_EGENERAL;
    res.detail = apr_pstrcat(p, ACME_BLOCKED_TEXT ": ", b->reason, NULL);
    for (i = 0; i < r->certs->nelts; ++i) {
        acme_runner_cert_t *c = acme_runner_cert(r, i);
        for (j = 0; j < b->certs->nelts; ++j) {
            if (!strcmp(APR_ARRAY_IDX(b->certs, j, const char *), c->id)) {
                notify(r, "blocked", c, NULL, 0, &res);
            }
        }
    }
}

/* Fleet mode, another node fetches renewalInfo: the window it saved for this certificate
 * (the same choice of time on every node, so the fleet decides once). */
static void ari_adopt(acme_runner_t *r, int i, apr_time_t now, apr_pool_t *p)
{
    acme_runner_cert_t *c = acme_runner_cert(r, i);
    acme_ari_state_t *a;

    r->sched->slot[i].ari_next = now + ACME_RUNNER_FLEET_ARI_CHECK;
    if (acme_ari_state_load(&a, p, r->conf.store, c->id) != APR_SUCCESS || !a->end
        || !a->cert_id || !c->ari_cert_id || strcmp(a->cert_id, c->ari_cert_id)
        || (a->start == c->input.ari_start && a->end == c->input.ari_end
            && a->chosen == c->input.ari_chosen)) {
        return;
    }
    c->input.ari_start = a->start;
    c->input.ari_end = a->end;
    c->input.ari_chosen = a->chosen;
    c->input.ari_next_fetch = a->next_fetch;
    acme_runner_replan(r, i, now);
}

void acme_runner_ari_fetch(acme_runner_t *r, int i, apr_time_t now, apr_pool_t *p)
{
    acme_runner_cert_t *c = acme_runner_cert(r, i);
    const acme_runner_fleet_t *fl = r->conf.fleet;
    acme_ari_window_t *w;
    acme_ari_choice_t ch;
    apr_status_t rv;

    if (fl && fl->may_fetch_ari && !fl->may_fetch_ari(fl->baton, c->id, p)) {
        ari_adopt(r, i, now, p);
        return;
    }

    /* the CA that issued the certificate knows its renewal window */
    rv = acme_ari_update(&w, &ch, p, acme_ca_set_client(r->cas, acme_ca_issuer_index(
                             r->urls, c->input.live_ca)),
                         r->conf.store, c->id, c->ari_cert_id, now);
    if (rv == APR_ENOTIMPL) {
        r->sched->ari_unavailable = 1; /* no more fetches */
    }
    r->sched->slot[i].ari_next = w->next_fetch;
    if (rv != APR_SUCCESS) {
        return;
    }
    c->input.ari_start = w->start;
    c->input.ari_end = w->end;
    c->input.ari_chosen = ch.chosen;
    c->input.ari_next_fetch = w->next_fetch;
    acme_runner_replan(r, i, now);
}

void acme_runner_expiring_check(acme_runner_t *r, int i, apr_time_t now, apr_pool_t *p)
{
    acme_runner_cert_t *c = acme_runner_cert(r, i);
    apr_time_t warn = acme_expiry_warn_time(c->input.live_not_before, c->input.live_not_after,
                                            c->spec.warn_before, c->spec.warn_percent);

    if (!acme_expiry_due(c->have_live, warn, r->sched->slot[i].expiring_last, now)) {
        return;
    }
    r->sched->slot[i].expiring_last = now;
    acme_expiring_save(r->conf.store, c->id, now, p);
    acme_log(ACME_LOG_WARNING, 0, ACMELOGNO(00052)
             "certificate %s (%s) expires at %s and has not been renewed yet", c->id,
             acme_names_join(p, c->names, ", "), acme_time_rfc3339(p, c->input.live_not_after));
    notify_live(r, "expiring", c);
}
