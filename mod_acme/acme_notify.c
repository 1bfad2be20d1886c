/* The ACMENotifyCmd queue. */
#include <signal.h>
#include <string.h>
#include <sys/types.h>

#include <stdlib.h>
#include <unistd.h>

#include <apr_atomic.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include "acme.h"
#include "acme_json.h"
#include "acme_log.h"
#include "acme_notify.h"
#include "acme_proc.h"
#include "acme_util.h"

#define KILL_MARGIN apr_time_from_sec(5)   /* acme_proc's own kill, after timeout(1) */

/* A run's exit status reaches the store through a small shell wrapper, so that the next
 * generation can report it for a run that outlived this process (its parent then reaps it,
 * not us): "$0" is the status file. A program that died by a signal is ended by the same
 * signal again, so that its end reads the same either way. */
#define WRAPPER_SHELL "/bin/sh"
#define WRAPPER_SCRIPT "unset PWD; \"$@\"; s=$?; echo $s > \"$0\"; " \
    "if [ $s -gt 128 ]; then kill -$((s - 128)) $$; fi; exit $s"
#define EXIT_FILE "exit.status"

static apr_uint32_t run_seq;

typedef struct run_t {
    apr_pool_t *pool;
    acme_proc_t *proc;             /* NULL while queued behind a run for the same cert */
    const char *entry;             /* orders/_notify-...: its record while it runs */
    const char *id;                /* the certificate */
    const char *what;              /* "EVENT CERT" for the log */
    const char *const *argv, *const *env;
} run_t;

typedef struct adopted_t {
    const char *entry;
    long pid;
    apr_time_t started;
    const char *what;
} adopted_t;

struct acme_notify_t {
    apr_pool_t *pool;
    acme_store_t *store;
    const char *program;
    const apr_array_header_t *args;
    apr_interval_time_t limit;
    apr_thread_mutex_t *mutex;
    apr_array_header_t *runs;      /* run_t*, in event order */
    apr_array_header_t *adopted;   /* adopted_t */
};

static void array_remove(apr_array_header_t *a, int i)
{
    memmove(a->elts + (apr_size_t)i * (apr_size_t)a->elt_size,
            a->elts + (apr_size_t)(i + 1) * (apr_size_t)a->elt_size,
            (apr_size_t)(a->nelts - i - 1) * (apr_size_t)a->elt_size);
    a->nelts--;
}

/* orders/<entry>/run.json: {"pid", "started", "what"} (pid 0 until it started) */
static apr_status_t run_record(acme_notify_t *q, run_t *r)
{
    json_t *j = acme_json_pool(r->pool, json_object());
    const char *text;
    json_object_set_new(j, "pid", json_integer(r->proc ? acme_proc_pid(r->proc) : 0));
    json_object_set_new(j, "started", json_string(acme_time_rfc3339(
                                          r->pool, r->proc ? acme_proc_started(r->proc)
                                                           : apr_time_now())));
    json_object_set_new(j, "what", json_string(r->what));
    text = acme_json_dump(r->pool, j);
    return acme_store_save(q->store, ACME_GROUP_ORDERS, r->entry, "run.json", text,
                           strlen(text), r->pool);
}

static void run_unrecord(acme_notify_t *q, const char *entry, apr_pool_t *p)
{
    acme_store_remove(q->store, ACME_GROUP_ORDERS, entry, NULL, p);
}

/* argv under the wrapper that leaves the exit status in the run's entry (argv itself when
 * the store has no files) */
static const char *const *run_wrapped(acme_notify_t *q, run_t *r)
{
    const char *status = q->store->path(q->store, ACME_GROUP_ORDERS, r->entry, EXIT_FILE,
                                        r->pool);
    apr_array_header_t *a;
    int i;

    if (!status || run_record(q, r) != APR_SUCCESS) {
        return r->argv;
    }
    a = apr_array_make(r->pool, 12, sizeof(const char *));
    APR_ARRAY_PUSH(a, const char *) = WRAPPER_SHELL;
    APR_ARRAY_PUSH(a, const char *) = "-c";
    APR_ARRAY_PUSH(a, const char *) = WRAPPER_SCRIPT;
    APR_ARRAY_PUSH(a, const char *) = status;
    for (i = 0; r->argv[i]; ++i) {
        APR_ARRAY_PUSH(a, const char *) = r->argv[i];
    }
    APR_ARRAY_PUSH(a, const char *) = NULL;
    return (const char *const *)a->elts;
}

/* The exit status an ended run left (-1: none, e.g. killed at the time limit). */
static int run_exit_status(acme_notify_t *q, const char *entry, apr_pool_t *p)
{
    char *data;
    apr_size_t len;
    if (acme_store_load(q->store, ACME_GROUP_ORDERS, entry, EXIT_FILE, &data, &len, p)
        != APR_SUCCESS || len == 0 || data[0] < '0' || data[0] > '9') {
        return -1;
    }
    return atoi(apr_pstrmemdup(p, data, len));
}

/* Runs a previous generation started and did not see end. */
static void adopt(acme_notify_t *q, apr_pool_t *p)
{
    apr_array_header_t *ids;
    int i;

    if (q->store->list(q->store, ACME_GROUP_ORDERS, &ids, p) != APR_SUCCESS) {
        return;
    }
    for (i = 0; i < ids->nelts; ++i) {
        const char *id = APR_ARRAY_IDX(ids, i, const char *);
        char *data;
        apr_size_t len;
        json_t *j;
        adopted_t *a;
        if (strncmp(id, ACME_NOTIFY_RUN_PREFIX, sizeof(ACME_NOTIFY_RUN_PREFIX) - 1)
            || acme_store_load(q->store, ACME_GROUP_ORDERS, id, "run.json", &data, &len, p)
            || !(j = acme_json_parse(p, data, len, NULL))) {
            continue;
        }
        a = apr_array_push(q->adopted);
        a->entry = apr_pstrdup(q->pool, id);
        a->pid = (long)json_integer_value(json_object_get(j, "pid"));
        a->started = acme_time_parse_rfc3339(acme_json_str(j, "started"));
        a->what = apr_pstrdup(q->pool, acme_json_str(j, "what") ? acme_json_str(j, "what")
                                                                : "?");
    }
}

/* The queue's pool goes (the generation ends): free what the runs still hold. Their
 * programs go on; the next generation adopts them through their records. */
static apr_status_t runs_free(void *baton)
{
    acme_notify_t *q = baton;
    int i;
    for (i = 0; i < q->runs->nelts; ++i) {
        apr_pool_destroy(APR_ARRAY_IDX(q->runs, i, run_t *)->pool);
    }
    q->runs->nelts = 0;
    return APR_SUCCESS;
}

apr_status_t acme_notify_create(acme_notify_t **pq, apr_pool_t *p, acme_store_t *store,
                                const char *program, const apr_array_header_t *args,
                                apr_interval_time_t limit)
{
    acme_notify_t *q = apr_pcalloc(p, sizeof(*q));
    apr_status_t rv;

    *pq = NULL;
    q->pool = p;
    q->store = store;
    q->program = program;
    q->args = args;
    q->limit = limit;
    q->runs = apr_array_make(p, 4, sizeof(run_t *));
    q->adopted = apr_array_make(p, 2, sizeof(adopted_t));
    if ((rv = apr_thread_mutex_create(&q->mutex, APR_THREAD_MUTEX_DEFAULT, p)) != APR_SUCCESS) {
        goto leave;
    }
    adopt(q, p);
    apr_pool_cleanup_register(p, q, runs_free, apr_pool_cleanup_null);
    *pq = q;
leave:
    return rv;
}

void acme_notify_command(const char *const **pargv, const char *const **penv, apr_pool_t *p,
                         const char *program, const apr_array_header_t *args,
                         const acme_notify_event_t *ev)
{
    apr_array_header_t *argv = apr_array_make(p, 10, sizeof(const char *));
    apr_array_header_t *env = apr_array_make(p, 10, sizeof(const char *));
    int i;

    APR_ARRAY_PUSH(argv, const char *) = program;
    for (i = 0; args && i < args->nelts; ++i) {
        APR_ARRAY_PUSH(argv, const char *) = APR_ARRAY_IDX(args, i, const char *);
    }
    APR_ARRAY_PUSH(argv, const char *) = apr_pstrdup(p, ev->event);
    APR_ARRAY_PUSH(argv, const char *) = apr_pstrdup(p, ev->cert);
    APR_ARRAY_PUSH(argv, const char *) = NULL;
    APR_ARRAY_PUSH(env, const char *) = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    APR_ARRAY_PUSH(env, const char *) = apr_pstrcat(p, "ACME_EVENT=", ev->event, NULL);
    APR_ARRAY_PUSH(env, const char *) = apr_pstrcat(p, "ACME_CERT=", ev->cert, NULL);
    APR_ARRAY_PUSH(env, const char *) = apr_pstrcat(p, "ACME_NAMES=", ev->names, NULL);
    if (ev->not_after) {
        APR_ARRAY_PUSH(env, const char *) = apr_pstrcat(p, "ACME_NOT_AFTER=",
                                                        acme_time_rfc3339(p, ev->not_after),
                                                        NULL);
    }
    if (ev->serial) {
        APR_ARRAY_PUSH(env, const char *) = apr_pstrcat(p, "ACME_SERIAL=", ev->serial, NULL);
    }
    if (ev->res && ev->res->problem_type) {
        APR_ARRAY_PUSH(env, const char *) = apr_pstrcat(p, "ACME_ERROR_TYPE=",
                                                        ev->res->problem_type, NULL);
    }
    if (ev->res) {
        APR_ARRAY_PUSH(env, const char *) = apr_pstrcat(p, "ACME_ERROR_DETAIL=",
                                                        acme_result_str(ev->res, p), NULL);
    }
    APR_ARRAY_PUSH(env, const char *) = NULL;
    *pargv = (const char *const *)argv->elts;
    *penv = (const char *const *)env->elts;
}

static void run_start(acme_notify_t *q, run_t *r)
{
    apr_status_t rv;

    r->entry = apr_psprintf(r->pool, ACME_NOTIFY_RUN_PREFIX "%ld-%u", (long)getpid(),
                            apr_atomic_inc32(&run_seq));
    rv = acme_proc_start(&r->proc, r->pool, run_wrapped(q, r), r->env, q->limit);
    if (rv != APR_SUCCESS) {
        acme_log(ACME_LOG_WARNING, rv, ACMELOGNO(00056)
                 "ACMENotifyCmd %s could not be started for %s", q->program, r->what);
        r->proc = NULL;
        run_unrecord(q, r->entry, r->pool);
        return;
    }
    run_record(q, r);
}

/* Is a run for this certificate ahead of entry i (running or queued)? */
static int busy_before(acme_notify_t *q, int i, const char *id)
{
    int j;
    for (j = 0; j < i; ++j) {
        if (!strcmp(APR_ARRAY_IDX(q->runs, j, run_t *)->id, id)) {
            return 1;
        }
    }
    return 0;
}

static void run_log_end(acme_notify_t *q, run_t *r, apr_status_t rv, int code,
                        const char *out)
{
    long secs = (long)apr_time_sec(q->limit);
    if (rv != APR_SUCCESS || code != 0) {
        acme_log(ACME_LOG_WARNING, 0, ACMELOGNO(00053)
                 "ACMENotifyCmd for %s %s%s; output: %s", r->what,
                 rv == APR_TIMEUP ? apr_psprintf(r->pool, "did not finish in %ld s and was "
                                                 "killed", secs)
                 : code == ACME_PROC_EXIT_LOST ? "ended (exit status lost)"
                 : code < 0 ? "died by a signal" : "exited with status ",
                 rv == APR_TIMEUP || code < 0 ? "" : apr_itoa(r->pool, code),
                 *out ? out : "(none)");
    }
    else {
        acme_log(ACME_LOG_INFO, 0, ACMELOGNO(00054)
                 "ACMENotifyCmd for %s succeeded; output: %s", r->what, *out ? out : "(none)");
    }
}

/* Reap finished runs, kill those over the time limit, start queued ones whose turn came.
 * Caller holds q->mutex. */
static void runs_poll(acme_notify_t *q)
{
    int i;

    for (i = 0; i < q->runs->nelts; ++i) {
        run_t *r = APR_ARRAY_IDX(q->runs, i, run_t *);
        const char *out = "";
        int code = 0;
        apr_status_t rv;

        if (!r->proc && !busy_before(q, i, r->id)) {
            run_start(q, r);
            if (!r->proc) {
                goto remove;
            }
        }
        if (!r->proc) {
            continue; /* queued */
        }
        rv = acme_proc_poll(r->proc, &code, &out);
        if (rv == APR_INCOMPLETE) {
            continue;
        }
        if (code == ACME_PROC_EXIT_LOST) { /* someone else reaped it: what did it leave? */
            int left = run_exit_status(q, r->entry, r->pool);
            code = left < 0 ? ACME_PROC_EXIT_LOST : left > 128 ? -1 : left;
        }
        run_log_end(q, r, rv, code, out);
        run_unrecord(q, r->entry, r->pool);
remove:
        apr_pool_destroy(r->pool);
        array_remove(q->runs, i);
        --i;
    }
}

/* Report adopted runs once they are gone (timeout(1) ends them at the limit; without it,
 * end them here). Caller holds q->mutex. */
static void adopted_poll(acme_notify_t *q, apr_pool_t *p)
{
    apr_time_t now = apr_time_now();
    int i, code;

    for (i = 0; i < q->adopted->nelts; ++i) {
        adopted_t *a = &APR_ARRAY_IDX(q->adopted, i, adopted_t);
        int alive = a->pid > 0 && kill((pid_t)a->pid, 0) == 0;
        if (alive && now - a->started >= q->limit + KILL_MARGIN) {
            kill((pid_t)a->pid, SIGKILL);
            alive = 0;
        }
        if (alive) {
            continue;
        }
        code = run_exit_status(q, a->entry, p);
        if (code > 0) {
            acme_log(ACME_LOG_WARNING, 0, ACMELOGNO(00420)
                     "ACMENotifyCmd for %s (started before the last restart) %s%d", a->what,
                     code > 128 ? "died by signal " : "exited with status ",
                     code > 128 ? code - 128 : code);
        }
        else if (code == 0) {
            acme_log(ACME_LOG_INFO, 0, ACMELOGNO(00067)
                     "ACMENotifyCmd for %s (started before the last restart) succeeded",
                     a->what);
        }
        else if (now - a->started >= q->limit - apr_time_from_sec(2)) {
            acme_log(ACME_LOG_WARNING, 0, ACMELOGNO(00066)
                     "ACMENotifyCmd for %s (started before the last restart) was killed at "
                     "its %ld s time limit", a->what, (long)apr_time_sec(q->limit));
        }
        else {
            acme_log(ACME_LOG_INFO, 0, ACMELOGNO(00421)
                     "ACMENotifyCmd for %s (started before the last restart) ended, its exit "
                     "status unknown", a->what);
        }
        run_unrecord(q, a->entry, p);
        array_remove(q->adopted, i);
        --i;
    }
}

void acme_notify_event(acme_notify_t *q, const acme_notify_event_t *ev)
{
    apr_pool_t *p;
    run_t *r;

    apr_thread_mutex_lock(q->mutex);
    if (q->runs->nelts >= ACME_NOTIFY_MAX_RUNNING) {
        acme_log(ACME_LOG_WARNING, 0, ACMELOGNO(00055)
                 "ACMENotifyCmd: %d programs still running, not run for %s %s",
                 q->runs->nelts, ev->event, ev->cert);
        goto leave;
    }
    if (apr_pool_create_unmanaged_ex(&p, NULL, NULL) != APR_SUCCESS) {
        goto leave;
    }
    r = apr_pcalloc(p, sizeof(*r));
    r->pool = p;
    r->id = apr_pstrdup(p, ev->cert);
    r->what = apr_pstrcat(p, ev->event, " ", ev->cert, NULL);
    acme_notify_command(&r->argv, &r->env, p, q->program, q->args, ev);
    APR_ARRAY_PUSH(q->runs, run_t *) = r;
    runs_poll(q); /* starts it now unless a run for this certificate is ahead */
leave:
    apr_thread_mutex_unlock(q->mutex);
}

void acme_notify_poll(acme_notify_t *q, apr_pool_t *ptemp)
{
    apr_thread_mutex_lock(q->mutex);
    runs_poll(q);
    adopted_poll(q, ptemp);
    apr_thread_mutex_unlock(q->mutex);
}

int acme_notify_pending(acme_notify_t *q)
{
    int n;
    apr_thread_mutex_lock(q->mutex);
    n = q->runs->nelts + q->adopted->nelts;
    apr_thread_mutex_unlock(q->mutex);
    return n;
}
