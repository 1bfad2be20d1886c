/* mod_acme: the driver in a child singleton watchdog (runs as the httpd User, does all
 * network work). What a run does is acme_runner.c's (core, unit-tested); this file wires it
 * to mod_watchdog and follows the timetable (acme_sched.c). The callback runs at
 * mod_watchdog's own tick (100 ms), so the first run starts about 100 ms after the watchdog
 * child does and a run that comes due (a paced order, a retry) starts within 100 ms; the
 * checks that look at every certificate or at the store run once a second. The restart
 * trigger in the root parent is in mod_acme_restart.c. */
#include <apr_strings.h>
#include <apr_optional.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <mod_watchdog.h>

#include "mod_acme_log.h"
#include "mod_acme_generation.h"
#include "mod_acme_watchdog.h"
#include "mod_acme_challenge.h"
#include "mod_acme_fleet.h"

APLOG_USE_MODULE(acme);
#include "acme_util.h"
#include "acme_http.h"
#include "acme_runner.h"
#include "acme_sched.h"

#define WD_NAME "_acme_"
#define WD_INTERVAL AP_WD_TM_SLICE        /* mod_watchdog's tick: 100 ms */
#define WD_CHECKS apr_time_from_sec(1)     /* the per-certificate checks */
#define WD_ARI_BUDGET apr_time_from_msec(500) /* renewalInfo fetches in one tick */
/* How long an ending child waits for the orders in flight to reach their next wait */
#define WD_STOP_WAIT apr_time_from_sec(5)

typedef struct mod_acme_wd_t {
    mod_acme_gen_t *m;
    acme_runner_t *runner;         /* built in the watchdog child, at its first tick */
    int create_failed;             /* logged once */
    apr_time_t next_request_check;
    apr_time_t next_blocked_check;
    apr_time_t next_checks;
    int ari_from;                  /* where the next tick's renewalInfo fetches start */
    volatile int in_run;           /* acme_runner_run_due is running */
} mod_acme_wd_t;

/* The watchdog child's (set at its first tick), for the child_stopping hook. */
static mod_acme_wd_t *wd_current;

/* The runner's view of one managed certificate. */
static acme_runner_cert_t *runner_cert(const mod_acme_managed_t *mc, apr_pool_t *p)
{
    acme_runner_cert_t *c = apr_pcalloc(p, sizeof(*c));

    c->id = mc->id;
    c->names = mc->names;
    c->used = mc->used_by_tls;
    c->have_live = mc->have_live;
    c->activated = mc->activated;
    c->live_serial = mc->live_serial;
    c->ari_cert_id = mc->ari_cert_id;
    acme_spec_copy(&c->spec, &mc->spec);
    c->input = mc->input;
    c->plan = mc->plan;
    return c;
}

/* The runner and its view of every certificate, in a pool of the watchdog child: the root
 * parent (and so every other child) never holds them. */
static apr_status_t runner_create(mod_acme_wd_t *wd)
{
    mod_acme_gen_t *m = wd->m;
    acme_runner_conf_t conf;
    apr_array_header_t *certs;
    apr_pool_t *p;
    apr_status_t rv;
    int i;

    if ((rv = apr_pool_create_unmanaged_ex(&p, NULL, NULL)) != APR_SUCCESS) {
        return rv;
    }
    certs = apr_array_make(p, m->certs->nelts + 1, sizeof(acme_runner_cert_t *));

    memset(&conf, 0, sizeof(conf));
    conf.store = m->store;
    conf.secret = m->secret;
    conf.ca_url = m->ca_url;
    conf.ca_urls = m->ca_urls;
    conf.contacts = m->contacts;
    conf.agree_tos = m->agree_tos;
    conf.eab = m->eab;
    conf.renewal_info = m->renewal_info;
    conf.notify_cmd = m->notify_cmd;
    conf.notify_args = m->notify_args;
    conf.max_parallel = m->max_parallel;
    conf.order_rate = m->order_rate;
    conf.request_rates = m->request_rates;
    if (m->http01_pending) {
        conf.http01_count = mod_acme_http01_count;
        conf.http01_count_baton = m->http01_pending;
    }
    if (m->fleet) { /* fleet mode: the store publishes, leases gate the orders */
        conf.store = mod_acme_fleet_store(m->fleet);
        conf.fleet = mod_acme_fleet_hooks(m->fleet);
    }
    for (i = 0; i < m->certs->nelts; ++i) {
        APR_ARRAY_PUSH(certs, acme_runner_cert_t *) = runner_cert(
            APR_ARRAY_IDX(m->certs, i, mod_acme_managed_t *), p);
    }
    if ((rv = acme_runner_create(&wd->runner, p, &conf, certs)) != APR_SUCCESS) {
        wd->runner = NULL;
        apr_pool_destroy(p);
    }
    return rv;
}

/* In the watchdog child: the HTTP layer (libcurl) the runner's client uses. libcurl is
 * loaded and initialized here, in the only process that talks to the CA, before the
 * runner starts a thread. */
static apr_status_t wd_start(mod_acme_wd_t *wd)
{
    mod_acme_gen_t *m = wd->m;
    acme_http_t *http;
    apr_pool_t *p;
    apr_status_t rv;

    if ((rv = apr_pool_create_unmanaged_ex(&p, NULL, NULL)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = acme_http_curl_create(&http, p, m->ca_file, ACME_USER_AGENT,
                                    m->http_timeout)) != APR_SUCCESS
        || (rv = acme_runner_start(wd->runner, http, apr_time_now())) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, m->s, ACMELOGNO(00035)
                     "cannot set up the ACME client for %s", m->ca_url);
        apr_pool_destroy(p);
        return rv;
    }
    return APR_SUCCESS;
}

/* renewalInfo fetches of one tick: at most this long, so that a CA that answers them slowly
 * (or not: each then costs ACMETimeout) never holds back the orders; the rest wait for the
 * next tick, taken up where this one stopped. */
static void ari_fetches(mod_acme_wd_t *wd, apr_time_t now, apr_pool_t *ptemp)
{
    acme_runner_t *r = wd->runner;
    acme_sched_t *sched = acme_runner_sched(r);
    int n = acme_runner_count(r), k;

    for (k = 0; k < n && apr_time_now() - now < WD_ARI_BUDGET; ++k) {
        int i = (wd->ari_from + k) % n;
        if (acme_sched_ari_due(sched, i, now)) {
            acme_runner_ari_fetch(r, i, now, ptemp);
            acme_sched_hurry(sched, i);
        }
    }
    wd->ari_from = n ? (wd->ari_from + k) % n : 0;
}

/* Every tick: what the timetable says is due (acme_sched.c), first; then, once a second,
 * the checks. */
static apr_status_t wd_callback(int state, void *baton, apr_pool_t *ptemp)
{
    mod_acme_wd_t *wd = baton;
    acme_runner_t *r;
    acme_sched_t *sched;
    apr_time_t now = apr_time_now();
    apr_status_t rv;
    int i;

    if (state == AP_WATCHDOG_STATE_STOPPING) {
        /* the child ends (graceful restart or stop): the run in the watchdog thread cuts
         * its orders short, resumed by the next generation (not failures) */
        acme_runner_stop(wd->runner);
        mod_acme_fleet_child_stop(wd->m->fleet);
        return APR_SUCCESS;
    }
    if (!wd->runner && (rv = runner_create(wd)) != APR_SUCCESS) {
        if (!wd->create_failed++) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, wd->m->s, ACMELOGNO(00700)
                         "cannot set up the certificate runner (tried again every tick)");
        }
        return APR_SUCCESS;
    }
    r = wd->runner;
    wd_current = wd;
    sched = acme_runner_sched(r);
    mod_acme_fleet_child_start(wd->m->fleet);
    if (now >= sched->next_run) {
        if (!acme_runner_started(r) && wd_start(wd) != APR_SUCCESS) {
            sched->next_run = now + ACME_SCHED_START_RETRY;
        }
        else if (state == AP_WATCHDOG_STATE_RUNNING) {
            wd->in_run = 1;
            acme_runner_run_due(r, now, ptemp);
            wd->in_run = 0;
            now = apr_time_now();
        }
    }
    if (acme_runner_started(r) && acme_sched_every(&wd->next_checks, WD_CHECKS, now)) {
        if (acme_sched_every(&wd->next_request_check, ACME_RUNNER_REQUEST_CHECK, now)) {
            acme_runner_check_requests(r, ptemp);
        }
        if (acme_sched_every(&wd->next_blocked_check, ACME_RUNNER_BLOCKED_CHECK, now)) {
            acme_runner_blocked_check(r, ptemp);
        }
        acme_runner_notify_poll(r, ptemp);
        ari_fetches(wd, now, ptemp);
        for (i = 0; i < acme_runner_count(r); ++i) {
            acme_runner_expiring_check(r, i, now, ptemp);
        }
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
    if ((rv = get_instance(&w, WD_NAME, 0, 1, p)) != APR_SUCCESS
        || (rv = register_cb(w, WD_INTERVAL, wd, wd_callback)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, m->s, ACMELOGNO(00037)
                     "cannot register the mod_acme watchdog");
        return rv;
    }
    return APR_SUCCESS;
}

/* The child ends (graceful restart or stop): the MPM exits once its worker threads are
 * done, and would end a run mid-request. Before it does (the child pool's pre-cleanup), the
 * run is told to stop and given up to WD_STOP_WAIT: no new order starts, each order in
 * flight ends at its next wait and is recorded as interrupted (no failure, no backoff), and
 * the next generation resumes it from its stored state. */
static apr_status_t mod_acme_wd_wind_down(void *baton)
{
    mod_acme_wd_t *wd = baton;
    apr_time_t until = apr_time_now() + WD_STOP_WAIT;

    while (wd->in_run && apr_time_now() < until) {
        apr_sleep(apr_time_from_msec(20));
    }
    if (wd->in_run) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, wd->m->s, ACMELOGNO(00753)
                     "the child ends with orders still in flight after %d s: the next "
                     "generation resumes them", (int)apr_time_sec(WD_STOP_WAIT));
    }
    return APR_SUCCESS;
}

void mod_acme_watchdog_child_stopping(apr_pool_t *pchild, int graceful)
{
    mod_acme_wd_t *wd = wd_current;

    (void)graceful;
    if (!wd || !wd->runner) {
        return;
    }
    acme_runner_stop(wd->runner);
    if (wd->in_run) {
        apr_pool_pre_cleanup_register(pchild, wd, mod_acme_wd_wind_down);
    }
}
