/* mod_acme: the driver in a child singleton watchdog (runs as the httpd User, does all
 * network work). The restart trigger in the root parent is in mod_acme_restart.c.
 *
 * A graceful restart does not wait for a running watchdog callback, and the old and new
 * generations' singletons can run at once: the driver therefore holds a lock in the store
 * ("driver") while it works, and every step it takes is persisted (acme_driver.c). */
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <apr_thread_mutex.h>
#include <apr_optional.h>
#include <apr_portable.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <mod_watchdog.h>

#include "mod_acme_log.h"
#include "mod_acme_generation.h"
#include "mod_acme_watchdog.h"
#include "mod_acme_ssl.h"
#include "mod_acme_challenge.h"

APLOG_USE_MODULE(acme);
#include "acme_util.h"
#include "acme_state.h"
#include "acme_http.h"
#include "acme_client.h"
#include "acme_account.h"
#include "acme_driver.h"
#include "acme_plan.h"
#include "acme_plan_store.h"
#include "acme_proc.h"
#include "acme_activation.h"
#include "acme_ari.h"
#include "acme_expiry.h"
#include "acme_notify.h"
#include "acme_parallel.h"
#include "acme_sched.h"

#define WD_NAME "_acme_"
#define WD_INTERVAL apr_time_from_sec(1)
#define MAX_PARALLEL 8

typedef struct mod_acme_wd_t {
    mod_acme_gen_t *m;
    apr_pool_t *pool;              /* lives as long as the child */
    acme_client_t *client;
    acme_driver_env_t env;         /* for acme_driver_obtain, shared by the run's threads */
    int account_ok;
    acme_sched_t *sched;           /* per certificate: next attempt (always from its plan:
                                    * replan), renewalInfo fetch, 'expiring' warning */
    apr_time_t next_request_check;
    apr_time_t next_blocked_check;
    apr_pool_t **plan_pool;        /* per certificate: holds mc->plan's strings (unmanaged) */
    acme_notify_t *notify;         /* the ACMENotifyCmd queue */
    /* one run */
    apr_thread_mutex_t *mutex;
    apr_array_header_t *due;       /* indexes into m->certs */
    int staged, failed;            /* added to orders/_driver/metrics.json after the run */
} mod_acme_wd_t;

#define REQUEST_CHECK_INTERVAL apr_time_from_sec(15)
#define BLOCKED_CHECK_INTERVAL apr_time_from_sec(2)

/* Recompute the plan of certificate idx from mc->input (which the caller just updated) and
 * derive when the driver looks at it next: acme_plan decides, the watchdog only follows.
 * Called by the watchdog thread, or by an obtain thread for its own certificate with
 * wd->mutex held. */
static void replan(mod_acme_wd_t *wd, int idx)
{
    mod_acme_managed_t *mc = APR_ARRAY_IDX(wd->m->certs, idx, mod_acme_managed_t *);
    apr_time_t now = apr_time_now();
    apr_pool_t *p;

    if (apr_pool_create_unmanaged_ex(&p, NULL, NULL) != APR_SUCCESS) {
        return;
    }
    mod_acme_plan_compute(&mc->plan, p, wd->m, mc, &mc->input, now);
    if (wd->plan_pool[idx]) {
        apr_pool_destroy(wd->plan_pool[idx]);
    }
    wd->plan_pool[idx] = p;
    acme_sched_plan(wd->sched, idx, mc->used_by_tls, &mc->plan, now);
    if (mc->input.ari_end && !mc->plan.other_ca) {
        mc->spec.replaces = mc->ari_cert_id; /* the CA knows ARI: name what a renewal replaces */
    }
}

/* ACMENotifyCmd (acme_notify.c): PROGRAM ARGS EVENT CERT in the background. */
static void notify(mod_acme_wd_t *wd, const char *event, mod_acme_managed_t *mc, const char *serial,
                   apr_time_t not_after, const acme_result_t *res)
{
    acme_notify_event_t ev;
    apr_pool_t *p;

    if (!wd->m->notify_cmd || !wd->notify
        || apr_pool_create_unmanaged_ex(&p, NULL, NULL) != APR_SUCCESS) {
        return;
    }
    ev.event = event;
    ev.cert = mc->id;
    ev.names = acme_names_join(p, mc->names, " ");
    ev.serial = serial;
    ev.not_after = not_after;
    ev.res = res;
    acme_notify_event(wd->notify, &ev);
    apr_pool_destroy(p);
}

/* serial and not_after of the staged set, for 'renewed' */
static void staged_facts(mod_acme_wd_t *wd, mod_acme_managed_t *mc, const char **pserial,
                         apr_time_t *pnot_after, apr_pool_t *p)
{
    acme_cert_meta_t *meta;
    *pserial = NULL;
    *pnot_after = 0;
    if (acme_meta_load(&meta, p, wd->m->store, ACME_GROUP_STAGING, mc->id) == APR_SUCCESS) {
        *pserial = meta->serial;
        *pnot_after = meta->not_after;
    }
}

static void record_result(mod_acme_wd_t *wd, int idx, apr_status_t rv, const acme_result_t *res,
                          apr_pool_t *p)
{
    mod_acme_managed_t *mc = APR_ARRAY_IDX(wd->m->certs, idx, mod_acme_managed_t *);
    apr_time_t now = apr_time_now();

    apr_thread_mutex_lock(wd->mutex);
    wd->staged += rv == APR_SUCCESS;
    wd->failed += rv != APR_SUCCESS;
    if (acme_sched_record(wd->sched, idx, &mc->input, rv, res, now)) {
        wd->account_ok = 0; /* the CA does not know the account: ensure it again */
    }
    replan(wd, idx);
    apr_thread_mutex_unlock(wd->mutex);

    if (rv == APR_SUCCESS) {
        const char *serial;
        apr_time_t not_after;
        acme_status_clear(wd->m->store, mc->id, p);
        staged_facts(wd, mc, &serial, &not_after, p);
        notify(wd, "renewed", mc, serial, not_after, NULL);
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, wd->m->s, ACMELOGNO(00030)
                     "certificate for %s (%s) obtained and staged: it goes live at the next "
                     "graceful restart", mc->id, acme_names_join(p, mc->names, ", "));
    }
    else {
        acme_status_record_failure(wd->m->store, mc->id, mc->input.failures, now,
                                   wd->sched->slot[idx].next, res, p);
        notify(wd, "failed", mc, NULL, 0, res);
        ap_log_error(APLOG_MARK, APLOG_ERR, ACME_LOG_RV(res->status), wd->m->s,
                     ACMELOGNO(00031)
                     "certificate for %s (%s) could not be obtained: %s; attempt %d failed, "
                     "next attempt at %s", mc->id, acme_names_join(p, mc->names, ", "),
                     acme_result_str(res, p), mc->input.failures,
                     acme_time_rfc3339(p, wd->sched->slot[idx].next));
    }
}

/* One job of a driver run (acme_parallel.c): obtain the certificate wd->due[job]. */
static void obtain_one(void *baton, int job)
{
    mod_acme_wd_t *wd = baton;
    int idx = APR_ARRAY_IDX(wd->due, job, int);
    mod_acme_managed_t *mc = APR_ARRAY_IDX(wd->m->certs, idx, mod_acme_managed_t *);
    apr_pool_t *p;
    acme_result_t res;
    apr_status_t rv;

    if (apr_pool_create_unmanaged_ex(&p, NULL, NULL) != APR_SUCCESS) {
        return;
    }
    acme_result_reset(&res);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, wd->m->s, ACMELOGNO(00032)
                 "obtaining a certificate for %s (%s): %s", mc->id,
                 acme_names_join(p, mc->names, ", "), mc->plan.reason);
    notify(wd, "renewing", mc, mc->live_serial, mc->input.live_not_after, NULL);
    rv = acme_driver_obtain(&wd->env, &mc->spec, p, &res);
    record_result(wd, idx, rv, &res, p);
    apr_pool_destroy(p);
}

static void fail_all_due(mod_acme_wd_t *wd, const acme_result_t *res, apr_pool_t *p)
{
    int i;
    for (i = 0; i < wd->due->nelts; ++i) {
        record_result(wd, APR_ARRAY_IDX(wd->due, i, int), res->status, res, p);
    }
}

/* ---- ACME Renewal Information (RFC 9773, acme_ari.c) ------------------------------- */

/* What an earlier generation learned is in mc->input (load_state read ari.json): fetch
 * again when it said, or a few seconds after start, at random (not all at once). */
static void ari_load(mod_acme_wd_t *wd, int idx)
{
    mod_acme_managed_t *mc = APR_ARRAY_IDX(wd->m->certs, idx, mod_acme_managed_t *);
    wd->sched->slot[idx].ari_next = mc->input.ari_next_fetch ? mc->input.ari_next_fetch
                        : apr_time_now() + acme_ari_random_in(0, apr_time_from_sec(5));
}

static void ari_fetch(mod_acme_wd_t *wd, int idx, apr_pool_t *p)
{
    mod_acme_managed_t *mc = APR_ARRAY_IDX(wd->m->certs, idx, mod_acme_managed_t *);
    acme_ari_window_t *w;
    acme_ari_choice_t c;
    apr_status_t rv;

    rv = acme_ari_update(&w, &c, p, wd->client, wd->m->store, mc->id, mc->ari_cert_id,
                         apr_time_now());
    if (rv == APR_ENOTIMPL) {
        wd->sched->ari_unavailable = 1; /* no more fetches */
    }
    wd->sched->slot[idx].ari_next = w->next_fetch;
    if (rv != APR_SUCCESS) {
        return;
    }
    mc->input.ari_start = w->start;
    mc->input.ari_end = w->end;
    mc->input.ari_chosen = c.chosen;
    mc->input.ari_next_fetch = w->next_fetch;
    replan(wd, idx);
}

/* ---- expiring: inside the warn window, warn once a day (acme_expiry.c) ------------- */

static void expiring_check(mod_acme_wd_t *wd, int idx, apr_pool_t *p)
{
    mod_acme_managed_t *mc = APR_ARRAY_IDX(wd->m->certs, idx, mod_acme_managed_t *);
    apr_time_t now = apr_time_now();

    if (!acme_expiry_due(mc->have_live,
                         acme_expiry_warn_time(mc->input.live_not_before,
                                               mc->input.live_not_after, mc->warn_window.dur,
                                               mc->warn_window.percent),
                         wd->sched->slot[idx].expiring_last, now)) {
        return;
    }
    wd->sched->slot[idx].expiring_last = now;
    acme_expiring_save(wd->m->store, mc->id, now, p);
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, wd->m->s, ACMELOGNO(00052)
                 "certificate %s (%s) expires at %s and has not been renewed yet", mc->id,
                 acme_names_join(p, mc->names, ", "),
                 acme_time_rfc3339(p, mc->input.live_not_after));
    notify(wd, "expiring", mc, mc->live_serial, mc->input.live_not_after, NULL);
}

static void expiring_load(mod_acme_wd_t *wd, int idx, apr_pool_t *p)
{
    mod_acme_managed_t *mc = APR_ARRAY_IDX(wd->m->certs, idx, mod_acme_managed_t *);
    acme_expiring_load(&wd->sched->slot[idx].expiring_last, p, wd->m->store, mc->id);
}

/* For the status page and metrics, which run in other processes. */
static void metrics_save(mod_acme_wd_t *wd, apr_uint32_t requests, apr_pool_t *p)
{
    acme_counters_add(wd->m->store, wd->staged, wd->failed, requests, apr_time_now(), p);
}

static void run_due(mod_acme_wd_t *wd, apr_pool_t *ptemp)
{
    mod_acme_gen_t *m = wd->m;
    apr_uint32_t before = acme_client_request_count(wd->client);
    apr_time_t start = apr_time_now();

    if (!wd->account_ok) {
        acme_account_spec_t as;
        acme_result_t res;
        apr_status_t rv;
        acme_result_reset(&res);
        as.contacts = m->contacts;
        as.agree_tos = m->agree_tos;
        rv = acme_account_ensure(wd->client, m->store, m->secret, &as, wd->pool, &res);
        if (rv != APR_SUCCESS) {
            if (!res.status) {
                res.status = rv;
            }
            ap_log_error(APLOG_MARK, APLOG_ERR, ACME_LOG_RV(rv), m->s, ACMELOGNO(00033)
                         "no ACME account at %s: %s", m->ca_url, acme_result_str(&res, ptemp));
            fail_all_due(wd, &res, ptemp);
            metrics_save(wd, acme_client_request_count(wd->client) - before, ptemp);
            return;
        }
        wd->account_ok = 1;
    }
    acme_parallel_run(wd->due->nelts, MAX_PARALLEL, obtain_one, wd, ptemp);
    metrics_save(wd, acme_client_request_count(wd->client) - before, ptemp);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, m->s, ACMELOGNO(00034)
                 "driver run: %d certificate(s) staged, %d failed, %u ACME requests, %.1f s",
                 wd->staged, wd->failed, acme_client_request_count(wd->client) - before,
                 (double)(apr_time_now() - start) / APR_USEC_PER_SEC);
}

static apr_status_t wd_start(mod_acme_wd_t *wd)
{
    mod_acme_gen_t *m = wd->m;
    acme_http_t *http;
    apr_status_t rv;
    int i, n = m->certs->nelts;
    apr_time_t now = apr_time_now();

    if ((rv = apr_pool_create_unmanaged_ex(&wd->pool, NULL, NULL)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = acme_http_curl_create(&http, wd->pool, m->ca_file, ACME_USER_AGENT,
                                    m->http_timeout)) != APR_SUCCESS
        || (rv = acme_client_create(&wd->client, wd->pool, http, m->ca_url)) != APR_SUCCESS
        || (rv = apr_thread_mutex_create(&wd->mutex, APR_THREAD_MUTEX_DEFAULT, wd->pool))) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, m->s, ACMELOGNO(00035)
                     "cannot set up the ACME client for %s", m->ca_url);
        apr_pool_destroy(wd->pool);
        wd->pool = NULL;
        wd->client = NULL;
        return rv;
    }
    wd->env.client = wd->client;
    wd->env.store = m->store;
    wd->env.secret = m->secret;
    wd->env.poll_default = apr_time_from_msec(500);
    if (m->http01_pending) {
        wd->env.http01_count = mod_acme_http01_count;
        wd->env.http01_count_baton = m->http01_pending;
    }
    if ((rv = acme_notify_create(&wd->notify, wd->pool, m->store, m->notify_cmd,
                                 m->notify_args, ACME_NOTIFY_TIMEOUT)) != APR_SUCCESS) {
        wd->notify = NULL; /* no ACMENotifyCmd runs, obtaining goes on */
    }
    wd->plan_pool = apr_pcalloc(wd->pool, sizeof(apr_pool_t *) * (apr_size_t)(n ? n : 1));
    for (i = 0; i < n; ++i) {
        mod_acme_managed_t *mc = APR_ARRAY_IDX(m->certs, i, mod_acme_managed_t *);
        acme_sched_plan(wd->sched, i, mc->used_by_tls, &mc->plan, now);
        if (mc->used_by_tls && mc->input.ari_end && !mc->plan.other_ca) {
            mc->spec.replaces = mc->ari_cert_id;
        }
        if (!mc->used_by_tls || !mc->have_live) {
            continue;
        }
        if (m->renewal_info && mc->ari_cert_id) {
            ari_load(wd, i);
        }
        expiring_load(wd, i, wd->pool);
        if (mc->activated) {
            notify(wd, "activated", mc, mc->live_serial, mc->input.live_not_after, NULL);
        }
    }
    return APR_SUCCESS;
}

/* `acmectl renew` leaves orders/<id>/renew.request. It stays there (and the plan keeps the
 * certificate due, within the backoff) until a certificate newer than the request is live,
 * so that a restart in the middle of the order does not lose it. */
static void check_requests(mod_acme_wd_t *wd, apr_pool_t *p)
{
    mod_acme_gen_t *m = wd->m;
    int i;

    for (i = 0; i < m->certs->nelts; ++i) {
        mod_acme_managed_t *mc = APR_ARRAY_IDX(m->certs, i, mod_acme_managed_t *);
        acme_plan_input_t now_in = mc->input;
        if (!mc->used_by_tls) {
            continue;
        }
        acme_plan_load_runtime(&now_in, p, m->store, mc->id, NULL);
        if (now_in.renew_requested == mc->input.renew_requested) {
            continue;
        }
        apr_thread_mutex_lock(wd->mutex);
        mc->input.renew_requested = now_in.renew_requested;
        replan(wd, i);
        apr_thread_mutex_unlock(wd->mutex);
        if (mc->plan.request_done) {
            acme_request_clear(m->store, mc->id, p);
            mc->input.renew_requested = 0;
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, m->s, ACMELOGNO(00341)
                         "certificate %s: the renewal requested with acmectl is done", mc->id);
        }
        else if (mc->plan.request_pending) {
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, m->s, ACMELOGNO(00042)
                         "certificate %s: renewal requested (acmectl renew): %s", mc->id,
                         mc->plan.reason);
            acme_sched_hurry(wd->sched, i);
        }
    }
}

/* The parent found that the configuration does not pass and holds new certificates back
 * (orders/_activation/blocked.json): run ACMENotifyCmd 'blocked' once per episode. */
static void blocked_check(mod_acme_wd_t *wd, apr_pool_t *p)
{
    acme_blocked_t *b;
    acme_result_t res;
    int i;

    if (acme_blocked_load(&b, p, wd->m->store) != APR_SUCCESS
        || acme_blocked_notified(wd->m->store, b, p)) {
        return;
    }
    acme_blocked_set_notified(wd->m->store, b, p);
    acme_result_reset(&res);
    res.status = APR_EGENERAL;
    res.detail = apr_pstrcat(p, ACME_BLOCKED_TEXT ": ", b->reason, NULL);
    for (i = 0; i < b->certs->nelts; ++i) {
        mod_acme_managed_t *mc = apr_hash_get(wd->m->by_id, APR_ARRAY_IDX(b->certs, i,
                                                                      const char *),
                                          APR_HASH_KEY_STRING);
        if (mc) {
            notify(wd, "blocked", mc, NULL, 0, &res);
        }
    }
}

/* The driver's run: the certificates due, under the store's driver lock. */
static void run_if_due(mod_acme_wd_t *wd, apr_time_t now, apr_pool_t *ptemp)
{
    mod_acme_gen_t *m = wd->m;
    void *lock = NULL;

    wd->due = acme_sched_due(wd->sched, now, ptemp);
    wd->staged = wd->failed = 0;
    if (wd->due->nelts > 0) {
        if (m->store->lock(m->store, "driver", 0, &lock, ptemp) != APR_SUCCESS) {
            /* another generation's driver is still at work: look again shortly */
            wd->sched->next_run = now + ACME_SCHED_LOCKED_RETRY;
            return;
        }
        run_due(wd, ptemp);
        m->store->unlock(m->store, lock);
    }
    acme_sched_after_run(wd->sched, apr_time_now(), wd->notify && acme_notify_pending(wd->notify));
}

/* Every second: what the timetable says is due (acme_sched.c). */
static apr_status_t wd_callback(int state, void *baton, apr_pool_t *ptemp)
{
    mod_acme_wd_t *wd = baton;
    mod_acme_gen_t *m = wd->m;
    apr_time_t now = apr_time_now();
    int i;

    if (state == AP_WATCHDOG_STATE_STOPPING) {
        return APR_SUCCESS;
    }
    if (wd->client && acme_sched_every(&wd->next_request_check, REQUEST_CHECK_INTERVAL, now)) {
        check_requests(wd, ptemp);
    }
    if (wd->client && acme_sched_every(&wd->next_blocked_check, BLOCKED_CHECK_INTERVAL, now)) {
        blocked_check(wd, ptemp);
    }
    if (wd->client) {
        if (wd->notify) {
            acme_notify_poll(wd->notify, ptemp);
        }
        for (i = 0; i < m->certs->nelts; ++i) {
            if (acme_sched_ari_due(wd->sched, i, now)) {
                ari_fetch(wd, i, ptemp);
                acme_sched_hurry(wd->sched, i);
            }
            expiring_check(wd, i, ptemp);
        }
    }
    if (now < wd->sched->next_run) {
        return APR_SUCCESS;
    }
    if (!wd->pool && wd_start(wd) != APR_SUCCESS) {
        wd->sched->next_run = now + ACME_SCHED_START_RETRY;
        return APR_SUCCESS;
    }
    if (state == AP_WATCHDOG_STATE_RUNNING && wd->client) {
        run_if_due(wd, now, ptemp);
    }
    return APR_SUCCESS;
}

apr_status_t mod_acme_watchdog_setup(mod_acme_gen_t *m, apr_pool_t *p)
{
    APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) *get_instance;
    APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) *register_cb;
    ap_watchdog_t *w;
    mod_acme_wd_t *wd;
    apr_status_t rv;
    int i, used = 0;

    for (i = 0; i < m->certs->nelts; ++i) {
        used += APR_ARRAY_IDX(m->certs, i, mod_acme_managed_t *)->used_by_tls;
    }
    if (!used) {
        return APR_SUCCESS;
    }
    get_instance = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    register_cb = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    if (!get_instance || !register_cb) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, m->s, ACMELOGNO(00036)
                     "mod_watchdog is not loaded: mod_acme needs it to obtain certificates "
                     "(LoadModule watchdog_module, or a2enmod watchdog)");
        return APR_ENOTIMPL;
    }
    wd = apr_pcalloc(p, sizeof(*wd));
    wd->m = m;
    acme_sched_create(&wd->sched, p, m->certs->nelts);
    if ((rv = get_instance(&w, WD_NAME, 0, 1, p)) != APR_SUCCESS
        || (rv = register_cb(w, WD_INTERVAL, wd, wd_callback)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, m->s, ACMELOGNO(00037)
                     "cannot register the mod_acme watchdog");
        return rv;
    }
    return APR_SUCCESS;
}

void mod_acme_hook_child_init(apr_pool_t *p, server_rec *s)
{
    acme_http_curl_global_init();
}
