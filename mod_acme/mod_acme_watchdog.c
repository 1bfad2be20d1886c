/* mod_acme: the driver in a child singleton watchdog (runs as the httpd User, does all
 * network work). The restart trigger in the root parent is in mod_acme_restart.c.
 *
 * A graceful restart does not wait for a running watchdog callback, and the old and new
 * generations' singletons can run at once: the driver therefore holds a lock in the store
 * ("driver") while it works, and every step it takes is persisted (acme_driver.c). */
#include <signal.h>
#include <unistd.h>

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

#include "mod_acme.h"

APLOG_USE_MODULE(acme);
#include "acme_util.h"
#include "acme_json.h"
#include "acme_http.h"
#include "acme_client.h"
#include "acme_account.h"
#include "acme_driver.h"
#include "acme_plan.h"
#include "acme_plan_store.h"
#include "acme_proc.h"
#include "acme_activation.h"

#define WD_NAME "_acme_"
#define WD_INTERVAL apr_time_from_sec(1)
#define MAX_PARALLEL 8

typedef struct acme_wd_t {
    acme_mod_t *m;
    apr_pool_t *pool;              /* lives as long as the child */
    acme_client_t *client;
    int account_ok;
    apr_time_t next_run;
    apr_time_t next_request_check;
    apr_time_t next_blocked_check;
    apr_time_t *next;              /* per certificate: next attempt, 0 = nothing to do; always
                                    * from its plan (replan) */
    apr_pool_t **plan_pool;        /* per certificate: holds mc->plan's strings (unmanaged) */
    apr_time_t *ari_next;          /* per certificate: next renewalInfo fetch, 0 = none */
    apr_time_t *expiring_next;     /* per certificate: next 'expiring' warning */
    int ari_unavailable;           /* the CA's directory has no renewalInfo */
    apr_array_header_t *notifies;  /* notify_t*: notify programs still running */
    apr_array_header_t *adopted;   /* adopted_t: ones a previous generation started */
    /* one run */
    apr_thread_mutex_t *mutex;
    apr_array_header_t *due;       /* indexes into m->certs */
    int due_pos;
    int staged, failed;
    /* counters since the store was created, persisted in orders/_driver/metrics.json */
    apr_int64_t total_attempts, total_staged, total_failed, total_requests;
} acme_wd_t;

#define REQUEST_CHECK_INTERVAL apr_time_from_sec(15)
#define BLOCKED_CHECK_INTERVAL apr_time_from_sec(2)
#define NOTIFY_TIMEOUT apr_time_from_sec(30)
#define NOTIFY_KILL_MARGIN apr_time_from_sec(5)   /* acme_proc's own kill, after timeout(1) */
#define NOTIFY_MAX_RUNNING 32
#define ARI_DEFAULT_REFETCH apr_time_from_sec(6 * 3600)
#define ARI_ERROR_REFETCH apr_time_from_sec(3600)
#define EXPIRING_FILE "expiring.json"

/* Recompute the plan of certificate idx from mc->input (which the caller just updated) and
 * derive when the driver looks at it next: acme_plan decides, the watchdog only follows.
 * Called by the watchdog thread, or by an obtain thread for its own certificate with
 * wd->mutex held. */
static void replan(acme_wd_t *wd, int idx)
{
    acme_managed_t *mc = APR_ARRAY_IDX(wd->m->certs, idx, acme_managed_t *);
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
    if (!mc->used_by_tls) {
        wd->next[idx] = 0;
    }
    else if (mc->plan.action != ACME_PLAN_NOTHING) {
        wd->next[idx] = mc->plan.when > now ? mc->plan.when : now;
    }
    else {
        /* nothing to do now: look again when the plan says (e.g. renewal time) */
        wd->next[idx] = mc->plan.when > now ? mc->plan.when : 0;
    }
    if (mc->input.ari_end) {
        mc->spec.replaces = mc->ari_cert_id; /* the CA knows ARI: name what a renewal replaces */
    }
}

/* ---- ACMENotifyCmd: run in the background as the User, 30 s at most ------------------ */

/* Runs for one certificate happen one after the other, in the order of the events (an
 * admin's script must not see 'failed' before 'renewing'); certificates do not wait for
 * each other. */
typedef struct notify_t {
    apr_pool_t *pool;
    acme_proc_t *proc;             /* NULL while queued behind a run for the same cert */
    const char *id;                /* the certificate */
    const char *what;              /* "EVENT CERT" for the log */
    const char *const *argv, *const *env;
} notify_t;

/* Running programs are recorded in the store (orders/_notify-<pid>/run.json), so that the
 * next generation can report how a program ended that outlived this process. */
#define NOTIFY_RUN_PREFIX "_notify-"

static void notify_record(acme_wd_t *wd, notify_t *n)
{
    long pid = acme_proc_pid(n->proc);
    const char *text = apr_psprintf(n->pool, "{\"pid\":%ld,\"started\":\"%s\",\"what\":\"%s\"}",
                                    pid, acme_time_rfc3339(n->pool, acme_proc_started(n->proc)),
                                    n->what);
    acme_store_save(wd->m->store, ACME_GROUP_ORDERS,
                    apr_psprintf(n->pool, NOTIFY_RUN_PREFIX "%ld", pid), "run.json", text,
                    strlen(text), n->pool);
}

static void notify_unrecord(acme_wd_t *wd, long pid, apr_pool_t *p)
{
    acme_store_remove(wd->m->store, ACME_GROUP_ORDERS,
                      apr_psprintf(p, NOTIFY_RUN_PREFIX "%ld", pid), NULL, p);
}

typedef struct adopted_t {
    pid_t pid;
    apr_time_t started;
    const char *what;
} adopted_t;

/* At start: programs a previous generation started and did not see end. */
static void notify_adopt(acme_wd_t *wd, apr_pool_t *p)
{
    apr_array_header_t *ids;
    int i;

    wd->adopted = apr_array_make(wd->pool, 2, sizeof(adopted_t));
    if (wd->m->store->list(wd->m->store, ACME_GROUP_ORDERS, &ids, p) != APR_SUCCESS) {
        return;
    }
    for (i = 0; i < ids->nelts; ++i) {
        const char *id = APR_ARRAY_IDX(ids, i, const char *);
        char *data;
        apr_size_t len;
        json_t *j;
        adopted_t *a;
        if (strncmp(id, NOTIFY_RUN_PREFIX, sizeof(NOTIFY_RUN_PREFIX) - 1)
            || acme_store_load(wd->m->store, ACME_GROUP_ORDERS, id, "run.json", &data, &len, p)
            || !(j = acme_json_parse(p, data, len, NULL))) {
            continue;
        }
        a = apr_array_push(wd->adopted);
        a->pid = (pid_t)json_integer_value(json_object_get(j, "pid"));
        a->started = acme_time_parse_rfc3339(acme_json_str(j, "started"));
        a->what = apr_pstrdup(wd->pool, acme_json_str(j, "what") ? acme_json_str(j, "what")
                                                                 : "?");
    }
}

/* Report adopted programs once they are gone (timeout(1) ends them at the limit; without
 * it, end them here). */
static void notify_adopted_check(acme_wd_t *wd, apr_pool_t *p)
{
    apr_time_t now = apr_time_now();
    int i;

    for (i = 0; wd->adopted && i < wd->adopted->nelts; ++i) {
        adopted_t *a = &APR_ARRAY_IDX(wd->adopted, i, adopted_t);
        int alive = a->pid > 0 && kill(a->pid, 0) == 0;
        if (alive && now - a->started >= NOTIFY_TIMEOUT + NOTIFY_KILL_MARGIN) {
            kill(a->pid, SIGKILL);
            alive = 0;
        }
        if (alive) {
            continue;
        }
        if (now - a->started >= NOTIFY_TIMEOUT - apr_time_from_sec(2)) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, wd->m->s, ACMELOGNO(00066)
                         "ACMENotifyCmd for %s (started before the last restart) was killed "
                         "at its 30 s time limit", a->what);
        }
        else {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, wd->m->s, ACMELOGNO(00067)
                         "ACMENotifyCmd for %s (started before the last restart) ended",
                         a->what);
        }
        notify_unrecord(wd, (long)a->pid, p);
        memmove(wd->adopted->elts + (apr_size_t)i * sizeof(adopted_t),
                wd->adopted->elts + (apr_size_t)(i + 1) * sizeof(adopted_t),
                (apr_size_t)(wd->adopted->nelts - i - 1) * sizeof(adopted_t));
        wd->adopted->nelts--;
        --i;
    }
}

static void notify_start(acme_wd_t *wd, notify_t *n)
{
    apr_status_t rv = acme_proc_start(&n->proc, n->pool, n->argv, n->env, NOTIFY_TIMEOUT);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, wd->m->s, ACMELOGNO(00056)
                     "ACMENotifyCmd %s could not be started for %s", wd->m->notify_cmd,
                     n->what);
        n->proc = NULL;
        return;
    }
    notify_record(wd, n);
}

/* Is a run for this certificate ahead of entry i (running or queued)? */
static int notify_busy_before(acme_wd_t *wd, int i, const char *id)
{
    int j;
    for (j = 0; j < i; ++j) {
        if (!strcmp(APR_ARRAY_IDX(wd->notifies, j, notify_t *)->id, id)) {
            return 1;
        }
    }
    return 0;
}

/* Reap finished programs, kill those over the time limit, start queued ones whose turn
 * came. Caller holds wd->mutex. */
static void notify_reap(acme_wd_t *wd)
{
    int i;

    for (i = 0; i < wd->notifies->nelts; ++i) {
        notify_t *n = APR_ARRAY_IDX(wd->notifies, i, notify_t *);
        const char *out = "";
        int code = 0;
        apr_status_t rv;

        if (!n->proc && !notify_busy_before(wd, i, n->id)) {
            notify_start(wd, n);
            if (!n->proc) {
                goto remove;
            }
        }
        if (!n->proc) {
            continue; /* queued */
        }
        rv = acme_proc_poll(n->proc, &code, &out);
        if (rv == APR_INCOMPLETE) {
            continue;
        }
        if (rv != APR_SUCCESS || code != 0) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, wd->m->s, ACMELOGNO(00053)
                         "ACMENotifyCmd for %s %s%s; output: %s", n->what,
                         rv == APR_TIMEUP ? "did not finish in 30 s and was killed"
                         : code < 0 ? "died by a signal" : "exited with status ",
                         rv == APR_TIMEUP || code < 0 ? "" : apr_itoa(n->pool, code),
                         *out ? out : "(none)");
        }
        else {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, wd->m->s, ACMELOGNO(00054)
                         "ACMENotifyCmd for %s succeeded; output: %s", n->what,
                         *out ? out : "(none)");
        }
        notify_unrecord(wd, acme_proc_pid(n->proc), n->pool);
remove:
        apr_pool_destroy(n->pool);
        /* remove entry i */
        memmove(wd->notifies->elts + (apr_size_t)i * sizeof(notify_t *),
                wd->notifies->elts + (apr_size_t)(i + 1) * sizeof(notify_t *),
                (apr_size_t)(wd->notifies->nelts - i - 1) * sizeof(notify_t *));
        wd->notifies->nelts--;
        --i;
    }
}

/* Start `PROGRAM ARGS EVENT CERT` with ACME_* in its environment. */
static void notify(acme_wd_t *wd, const char *event, acme_managed_t *mc, const char *serial,
                   apr_time_t not_after, const acme_result_t *res)
{
    acme_mod_t *m = wd->m;
    apr_pool_t *p;
    apr_array_header_t *argv, *env;
    notify_t *n;
    int i;

    if (!m->notify_cmd) {
        return;
    }
    apr_thread_mutex_lock(wd->mutex);
    if (wd->notifies->nelts >= NOTIFY_MAX_RUNNING) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, m->s, ACMELOGNO(00055)
                     "ACMENotifyCmd: %d programs still running, not run for %s %s",
                     wd->notifies->nelts, event, mc->id);
        apr_thread_mutex_unlock(wd->mutex);
        return;
    }
    if (apr_pool_create_unmanaged_ex(&p, NULL, NULL) != APR_SUCCESS) {
        apr_thread_mutex_unlock(wd->mutex);
        return;
    }
    n = apr_pcalloc(p, sizeof(*n));
    n->pool = p;
    n->id = apr_pstrdup(p, mc->id);
    n->what = apr_pstrcat(p, event, " ", mc->id, NULL);
    argv = apr_array_make(p, 10, sizeof(const char *));
    APR_ARRAY_PUSH(argv, const char *) = m->notify_cmd;
    for (i = 0; m->notify_args && i < m->notify_args->nelts; ++i) {
        APR_ARRAY_PUSH(argv, const char *) = APR_ARRAY_IDX(m->notify_args, i, const char *);
    }
    APR_ARRAY_PUSH(argv, const char *) = event;
    APR_ARRAY_PUSH(argv, const char *) = mc->id;
    APR_ARRAY_PUSH(argv, const char *) = NULL;
    env = apr_array_make(p, 10, sizeof(const char *));
    APR_ARRAY_PUSH(env, const char *) = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    APR_ARRAY_PUSH(env, const char *) = apr_pstrcat(p, "ACME_EVENT=", event, NULL);
    APR_ARRAY_PUSH(env, const char *) = apr_pstrcat(p, "ACME_CERT=", mc->id, NULL);
    APR_ARRAY_PUSH(env, const char *) = apr_pstrcat(p, "ACME_NAMES=",
                                                    acme_names_join(p, mc->names, " "), NULL);
    if (not_after) {
        APR_ARRAY_PUSH(env, const char *) = apr_pstrcat(p, "ACME_NOT_AFTER=",
                                                        acme_time_rfc3339(p, not_after), NULL);
    }
    if (serial) {
        APR_ARRAY_PUSH(env, const char *) = apr_pstrcat(p, "ACME_SERIAL=", serial, NULL);
    }
    if (res && res->problem_type) {
        APR_ARRAY_PUSH(env, const char *) = apr_pstrcat(p, "ACME_ERROR_TYPE=",
                                                        res->problem_type, NULL);
    }
    if (res) {
        APR_ARRAY_PUSH(env, const char *) = apr_pstrcat(p, "ACME_ERROR_DETAIL=",
                                                        acme_result_str(res, p), NULL);
    }
    APR_ARRAY_PUSH(env, const char *) = NULL;

    n->argv = (const char *const *)argv->elts;
    n->env = (const char *const *)env->elts;
    APR_ARRAY_PUSH(wd->notifies, notify_t *) = n;
    notify_reap(wd); /* starts it now unless a run for this certificate is ahead */
    apr_thread_mutex_unlock(wd->mutex);
}

/* serial and not_after of the staged set, for 'renewed' */
static void staged_facts(acme_wd_t *wd, acme_managed_t *mc, const char **pserial,
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

static void save_failure(acme_wd_t *wd, acme_managed_t *mc, int failures, apr_time_t at,
                         apr_time_t next, const acme_result_t *res, apr_pool_t *p)
{
    acme_cert_status_t st;
    memset(&st, 0, sizeof(st));
    st.failures = failures;
    st.last_failure = at;
    st.retry_after = res->retry_after;
    st.next_attempt = next;
    st.err_type = res->problem_type;
    st.err_detail = res->detail ? res->detail : "unknown";
    st.err_hint = res->problem_type ? acme_problem_hint(res->problem_type) : NULL;
    acme_status_save(wd->m->store, mc->id, &st, p);
}

static void record_result(acme_wd_t *wd, int idx, apr_status_t rv, const acme_result_t *res,
                          apr_pool_t *p)
{
    acme_managed_t *mc = APR_ARRAY_IDX(wd->m->certs, idx, acme_managed_t *);
    apr_time_t now = apr_time_now();

    apr_thread_mutex_lock(wd->mutex);
    if (rv == APR_SUCCESS) {
        wd->staged++;
        mc->input.have_staged = 1;
        mc->input.failures = 0;
        mc->input.last_failure = mc->input.retry_after = 0;
        wd->ari_next[idx] = 0; /* the staged certificate replaces this one at the restart */
    }
    else {
        /* the plan's one backoff ladder (and the CA's Retry-After) sets the next attempt */
        wd->failed++;
        mc->input.failures++;
        mc->input.last_failure = now;
        mc->input.retry_after = res->retry_after;
        if (acme_problem_handling(res) == ACME_PH_NEW_ACCOUNT) {
            wd->account_ok = 0; /* the CA does not know the account: ensure it again */
        }
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
        save_failure(wd, mc, mc->input.failures, now, wd->next[idx], res, p);
        notify(wd, "failed", mc, NULL, 0, res);
        ap_log_error(APLOG_MARK, APLOG_ERR, ACME_LOG_RV(res->status), wd->m->s,
                     ACMELOGNO(00031)
                     "certificate for %s (%s) could not be obtained: %s; attempt %d failed, "
                     "next attempt at %s", mc->id, acme_names_join(p, mc->names, ", "),
                     acme_result_str(res, p), mc->input.failures,
                     acme_time_rfc3339(p, wd->next[idx]));
    }
}

static void *APR_THREAD_FUNC obtain_thread(apr_thread_t *thread, void *baton)
{
    acme_wd_t *wd = baton;
    acme_driver_env_t env;

    memset(&env, 0, sizeof(env));
    env.client = wd->client;
    env.store = wd->m->store;
    env.secret = wd->m->secret;
    env.poll_default = apr_time_from_msec(500);
    if (wd->m->http01_pending) {
        env.http01_count = mod_acme_http01_count;
        env.http01_count_baton = wd->m->http01_pending;
    }
    for (;;) {
        int idx;
        apr_pool_t *p;
        acme_result_t res;
        apr_status_t rv;
        acme_managed_t *mc;

        apr_thread_mutex_lock(wd->mutex);
        idx = wd->due_pos < wd->due->nelts ? APR_ARRAY_IDX(wd->due, wd->due_pos++, int) : -1;
        apr_thread_mutex_unlock(wd->mutex);
        if (idx < 0) {
            break;
        }
        mc = APR_ARRAY_IDX(wd->m->certs, idx, acme_managed_t *);
        if (apr_pool_create_unmanaged_ex(&p, NULL, NULL) != APR_SUCCESS) {
            break;
        }
        acme_result_reset(&res);
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, wd->m->s, ACMELOGNO(00032)
                     "obtaining a certificate for %s (%s): %s", mc->id,
                     acme_names_join(p, mc->names, ", "), mc->plan.reason);
        notify(wd, "renewing", mc, mc->live_serial, mc->input.live_not_after, NULL);
        rv = acme_driver_obtain(&env, &mc->spec, p, &res);
        record_result(wd, idx, rv, &res, p);
        apr_pool_destroy(p);
    }
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

static void fail_all_due(acme_wd_t *wd, const acme_result_t *res, apr_pool_t *p)
{
    int i;
    for (i = 0; i < wd->due->nelts; ++i) {
        record_result(wd, APR_ARRAY_IDX(wd->due, i, int), res->status, res, p);
    }
}

/* ---- ACME Renewal Information (RFC 9773) ------------------------------------------ */

static apr_time_t random_in(apr_time_t start, apr_time_t end);

static void ari_save(acme_wd_t *wd, acme_managed_t *mc, apr_time_t start, apr_time_t end,
                     apr_time_t chosen, apr_time_t next_fetch, const char *expl, apr_pool_t *p)
{
    acme_ari_state_t a;
    memset(&a, 0, sizeof(a));
    a.cert_id = mc->ari_cert_id;
    a.start = start;
    a.end = end;
    a.chosen = chosen;
    a.next_fetch = next_fetch;
    a.explanation_url = expl;
    acme_ari_state_save(wd->m->store, mc->id, &a, p);
}

/* What an earlier generation learned is in mc->input (load_state read ari.json): fetch
 * again when it said, or a few seconds after start, at random (not all at once). */
static void ari_load(acme_wd_t *wd, int idx)
{
    acme_managed_t *mc = APR_ARRAY_IDX(wd->m->certs, idx, acme_managed_t *);
    wd->ari_next[idx] = mc->input.ari_next_fetch ? mc->input.ari_next_fetch
                        : apr_time_now() + random_in(0, apr_time_from_sec(5));
}

static apr_time_t random_in(apr_time_t start, apr_time_t end)
{
    unsigned char b[4];
    double f;
    if (end <= start || acme_random_bytes(b, sizeof(b)) != APR_SUCCESS) {
        return start;
    }
    f = (double)(((apr_uint32_t)b[0] << 24) | ((apr_uint32_t)b[1] << 16)
                 | ((apr_uint32_t)b[2] << 8) | b[3]) / 4294967295.0;
    return start + (apr_time_t)((double)(end - start) * f);
}

static void ari_fetch(acme_wd_t *wd, int idx, apr_pool_t *p)
{
    acme_mod_t *m = wd->m;
    acme_managed_t *mc = APR_ARRAY_IDX(m->certs, idx, acme_managed_t *);
    acme_result_t res;
    acme_response_t *resp = NULL;
    const char *base, *expl = NULL;
    json_t *win;
    apr_time_t now = apr_time_now(), start, end, chosen, next_fetch, old_start = 0;
    acme_ari_state_t *old;

    acme_result_reset(&res);
    if (acme_client_directory(wd->client, &res) != APR_SUCCESS) {
        wd->ari_next[idx] = now + ARI_ERROR_REFETCH;
        return;
    }
    base = acme_client_endpoint(wd->client, "renewalInfo");
    if (!base) {
        if (!wd->ari_unavailable) {
            ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, m->s, ACMELOGNO(00057)
                         "the CA at %s offers no renewal information (ARI)", m->ca_url);
        }
        wd->ari_unavailable = 1;
        return;
    }
    if (acme_client_get(&resp, wd->client, p,
                        apr_pstrcat(p, base, base[strlen(base) - 1] == '/' ? "" : "/",
                                    mc->ari_cert_id, NULL), &res) != APR_SUCCESS
        || !resp->json || !(win = acme_json_obj(resp->json, "suggestedWindow"))
        || !(start = acme_time_parse_rfc3339(acme_json_str(win, "start")))
        || !(end = acme_time_parse_rfc3339(acme_json_str(win, "end"))) || end < start) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, m->s, ACMELOGNO(00058)
                     "certificate %s: no usable renewal information from the CA: %s", mc->id,
                     res.detail ? acme_result_str(&res, p) : "no suggestedWindow");
        next_fetch = res.retry_after > now ? res.retry_after : now + ARI_ERROR_REFETCH;
        wd->ari_next[idx] = next_fetch;
        return;
    }
    expl = acme_json_str(resp->json, "explanationURL");
    next_fetch = acme_retry_after_parse(apr_table_get(resp->headers, "Retry-After"), now);
    if (next_fetch <= now) {
        next_fetch = now + ARI_DEFAULT_REFETCH;
    }
    else if (next_fetch - now < apr_time_from_sec(1)) {
        next_fetch = now + apr_time_from_sec(1);
    }
    else if (next_fetch - now > apr_time_from_sec(7 * 86400)) {
        next_fetch = now + apr_time_from_sec(7 * 86400);
    }
    wd->ari_next[idx] = next_fetch;

    /* keep the time already chosen while the window stays the same */
    chosen = 0;
    if (acme_ari_state_load(&old, p, m->store, mc->id) == APR_SUCCESS && old->cert_id
        && !strcmp(old->cert_id, mc->ari_cert_id)) {
        old_start = old->start;
        if (old_start == start && old->end == end) {
            chosen = old->chosen;
        }
    }
    if (!chosen) {
        chosen = end <= now ? now : random_in(start > now ? start : now, end);
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, m->s, ACMELOGNO(00050)
                     "certificate %s: the CA suggests renewal between %s and %s: renewal at %s",
                     mc->id, acme_time_rfc3339(p, start), acme_time_rfc3339(p, end),
                     acme_time_rfc3339(p, chosen));
        if (old_start && start < old_start && expl) {
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, m->s, ACMELOGNO(00051)
                         "certificate %s: the CA moved its renewal window earlier, see %s",
                         mc->id, expl);
        }
    }
    ari_save(wd, mc, start, end, chosen, next_fetch, expl, p);
    mc->input.ari_start = start;
    mc->input.ari_end = end;
    mc->input.ari_chosen = chosen;
    mc->input.ari_next_fetch = next_fetch;
    replan(wd, idx);
}

/* ---- expiring: inside the warn window, warn once a day ----------------------------- */

static apr_time_t warn_time(acme_managed_t *mc)
{
    apr_interval_time_t life = mc->input.live_not_after - mc->input.live_not_before, w;
    if (mc->warn_window.dur > 0) {
        w = mc->warn_window.dur;
    }
    else {
        w = life / 100 * (mc->warn_window.percent ? mc->warn_window.percent : 10);
    }
    return mc->input.live_not_after - w;
}

static void expiring_check(acme_wd_t *wd, int idx, apr_pool_t *p)
{
    acme_managed_t *mc = APR_ARRAY_IDX(wd->m->certs, idx, acme_managed_t *);
    apr_time_t now = apr_time_now();
    const char *text;

    if (!mc->have_live || now < warn_time(mc) || now < wd->expiring_next[idx]) {
        return;
    }
    wd->expiring_next[idx] = now + apr_time_from_sec(86400);
    text = apr_psprintf(p, "{\"last\":\"%s\"}", acme_time_rfc3339(p, now));
    acme_store_save(wd->m->store, ACME_GROUP_ORDERS, mc->id, EXPIRING_FILE, text,
                    strlen(text), p);
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, wd->m->s, ACMELOGNO(00052)
                 "certificate %s (%s) expires at %s and has not been renewed yet", mc->id,
                 acme_names_join(p, mc->names, ", "),
                 acme_time_rfc3339(p, mc->input.live_not_after));
    notify(wd, "expiring", mc, mc->live_serial, mc->input.live_not_after, NULL);
}

static void expiring_load(acme_wd_t *wd, int idx, apr_pool_t *p)
{
    acme_managed_t *mc = APR_ARRAY_IDX(wd->m->certs, idx, acme_managed_t *);
    char *data;
    apr_size_t len;
    json_t *j;
    if (acme_store_load(wd->m->store, ACME_GROUP_ORDERS, mc->id, EXPIRING_FILE, &data, &len,
                        p) == APR_SUCCESS && (j = acme_json_parse(p, data, len, NULL))) {
        apr_time_t last = acme_time_parse_rfc3339(acme_json_str(j, "last"));
        wd->expiring_next[idx] = last ? last + apr_time_from_sec(86400) : 0;
    }
}

static void metrics_load(acme_wd_t *wd, apr_pool_t *p)
{
    acme_counters_t *c;
    if (acme_counters_load(&c, p, wd->m->store) == APR_SUCCESS) {
        wd->total_attempts = c->attempts;
        wd->total_staged = c->staged;
        wd->total_failed = c->failed;
        wd->total_requests = c->acme_requests;
    }
}

/* For the status page and metrics, which run in other processes. */
static void metrics_save(acme_wd_t *wd, apr_uint32_t requests, apr_pool_t *p)
{
    acme_counters_t c;
    wd->total_attempts += wd->staged + wd->failed;
    wd->total_staged += wd->staged;
    wd->total_failed += wd->failed;
    wd->total_requests += requests;
    memset(&c, 0, sizeof(c));
    c.attempts = wd->total_attempts;
    c.staged = wd->total_staged;
    c.failed = wd->total_failed;
    c.acme_requests = wd->total_requests;
    c.last_run = apr_time_now();
    acme_counters_save(wd->m->store, &c, p);
}

static void run_due(acme_wd_t *wd, apr_pool_t *ptemp)
{
    acme_mod_t *m = wd->m;
    apr_thread_t *threads[MAX_PARALLEL];
    int nthreads, i;
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
    nthreads = wd->due->nelts < MAX_PARALLEL ? wd->due->nelts : MAX_PARALLEL;
    for (i = 0; i < nthreads; ++i) {
        if (apr_thread_create(&threads[i], NULL, obtain_thread, wd, ptemp) != APR_SUCCESS) {
            break;
        }
    }
    nthreads = i;
    if (nthreads == 0) {
        obtain_thread(NULL, wd);
    }
    for (i = 0; i < nthreads; ++i) {
        apr_status_t trv;
        apr_thread_join(&trv, threads[i]);
    }
    metrics_save(wd, acme_client_request_count(wd->client) - before, ptemp);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, m->s, ACMELOGNO(00034)
                 "driver run: %d certificate(s) staged, %d failed, %u ACME requests, %.1f s",
                 wd->staged, wd->failed, acme_client_request_count(wd->client) - before,
                 (double)(apr_time_now() - start) / APR_USEC_PER_SEC);
}

static apr_status_t wd_start(acme_wd_t *wd)
{
    acme_mod_t *m = wd->m;
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
    metrics_load(wd, wd->pool);
    wd->notifies = apr_array_make(wd->pool, 4, sizeof(notify_t *));
    notify_adopt(wd, wd->pool);
    wd->next = apr_pcalloc(wd->pool, sizeof(apr_time_t) * (apr_size_t)(n ? n : 1));
    wd->plan_pool = apr_pcalloc(wd->pool, sizeof(apr_pool_t *) * (apr_size_t)(n ? n : 1));
    wd->ari_next = apr_pcalloc(wd->pool, sizeof(apr_time_t) * (apr_size_t)(n ? n : 1));
    wd->expiring_next = apr_pcalloc(wd->pool, sizeof(apr_time_t) * (apr_size_t)(n ? n : 1));
    wd->next_run = 0;
    for (i = 0; i < n; ++i) {
        acme_managed_t *mc = APR_ARRAY_IDX(m->certs, i, acme_managed_t *);
        if (mc->used_by_tls && mc->plan.action != ACME_PLAN_NOTHING) {
            wd->next[i] = mc->plan.when > now ? mc->plan.when : now;
        }
        else if (mc->used_by_tls && mc->plan.when > now) {
            /* nothing to do now: look again when the plan says (e.g. renewal time) */
            wd->next[i] = mc->plan.when;
        }
        if (mc->used_by_tls && mc->input.ari_end) {
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
static void check_requests(acme_wd_t *wd, apr_pool_t *p)
{
    acme_mod_t *m = wd->m;
    int i;

    for (i = 0; i < m->certs->nelts; ++i) {
        acme_managed_t *mc = APR_ARRAY_IDX(m->certs, i, acme_managed_t *);
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
            if (wd->next[i] && wd->next[i] < wd->next_run) {
                wd->next_run = wd->next[i];
            }
        }
    }
}

/* The parent found that the configuration does not pass and holds new certificates back
 * (orders/_activation/blocked.json): run ACMENotifyCmd 'blocked' once per episode. */
static void blocked_check(acme_wd_t *wd, apr_pool_t *p)
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
        acme_managed_t *mc = apr_hash_get(wd->m->by_id, APR_ARRAY_IDX(b->certs, i,
                                                                      const char *),
                                          APR_HASH_KEY_STRING);
        if (mc) {
            notify(wd, "blocked", mc, NULL, 0, &res);
        }
    }
}

static apr_status_t wd_callback(int state, void *baton, apr_pool_t *ptemp)
{
    acme_wd_t *wd = baton;
    acme_mod_t *m = wd->m;
    apr_time_t now = apr_time_now(), next = 0;
    void *lock = NULL;
    int i;

    if (state == AP_WATCHDOG_STATE_STOPPING) {
        return APR_SUCCESS;
    }
    if (wd->client && now >= wd->next_request_check) {
        wd->next_request_check = now + REQUEST_CHECK_INTERVAL;
        check_requests(wd, ptemp);
    }
    if (wd->client && now >= wd->next_blocked_check) {
        wd->next_blocked_check = now + BLOCKED_CHECK_INTERVAL;
        blocked_check(wd, ptemp);
    }
    if (wd->client) {
        apr_thread_mutex_lock(wd->mutex);
        notify_reap(wd);
        apr_thread_mutex_unlock(wd->mutex);
        notify_adopted_check(wd, ptemp);
        for (i = 0; i < m->certs->nelts; ++i) {
            if (wd->ari_next[i] && now >= wd->ari_next[i] && !wd->ari_unavailable) {
                ari_fetch(wd, i, ptemp);
                if (wd->next[i] && wd->next[i] < wd->next_run) {
                    wd->next_run = wd->next[i];
                }
            }
            expiring_check(wd, i, ptemp);
        }
    }
    if (now < wd->next_run) {
        return APR_SUCCESS;
    }
    if (!wd->pool && wd_start(wd) != APR_SUCCESS) {
        wd->next_run = now + apr_time_from_sec(60);
        return APR_SUCCESS;
    }
    if (state != AP_WATCHDOG_STATE_RUNNING || !wd->client) {
        return APR_SUCCESS;
    }
    wd->due = apr_array_make(ptemp, 8, sizeof(int));
    wd->due_pos = 0;
    wd->staged = wd->failed = 0;
    for (i = 0; i < m->certs->nelts; ++i) {
        if (wd->next[i] && wd->next[i] <= now) {
            APR_ARRAY_PUSH(wd->due, int) = i;
        }
    }
    if (wd->due->nelts > 0) {
        if (m->store->lock(m->store, "driver", 0, &lock, ptemp) != APR_SUCCESS) {
            /* another generation's driver is still at work: look again shortly */
            wd->next_run = now + apr_time_from_sec(5);
            return APR_SUCCESS;
        }
        run_due(wd, ptemp);
        m->store->unlock(m->store, lock);
    }
    for (i = 0; i < m->certs->nelts; ++i) {
        if (wd->next[i] && (!next || wd->next[i] < next)) {
            next = wd->next[i];
        }
        if (wd->ari_next[i] && !wd->ari_unavailable && (!next || wd->ari_next[i] < next)) {
            next = wd->ari_next[i];
        }
    }
    if ((wd->notifies->nelts || wd->adopted->nelts)
        && (!next || next > now + apr_time_from_sec(1))) {
        next = now + apr_time_from_sec(1); /* reap and time-limit running notify programs */
    }
    /* with nothing planned, look again in an hour (renewals are planned at start-up) */
    wd->next_run = next ? next : apr_time_now() + apr_time_from_sec(3600);
    return APR_SUCCESS;
}

apr_status_t acme_watchdog_setup(acme_mod_t *m, apr_pool_t *p)
{
    APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) *get_instance;
    APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) *register_cb;
    ap_watchdog_t *w;
    acme_wd_t *wd;
    apr_status_t rv;
    int i, used = 0;

    for (i = 0; i < m->certs->nelts; ++i) {
        used += APR_ARRAY_IDX(m->certs, i, acme_managed_t *)->used_by_tls;
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

void acme_hook_child_init(apr_pool_t *p, server_rec *s)
{
    acme_http_curl_global_init();
}
