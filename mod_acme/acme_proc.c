/* Running an admin's program with a time limit. */
#include <signal.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "acme.h"
#include "acme_proc.h"

#define TIMEOUT_PROGRAM "/usr/bin/timeout"
#define KILL_MARGIN apr_time_from_sec(5)
#define EXEC_GRACE apr_time_from_msec(200)

struct acme_proc_t {
    apr_pool_t *pool;
    apr_proc_t proc;
    apr_file_t *out;               /* stdout and stderr of the program */
    apr_time_t started, deadline;
    int wrapped;                   /* run under timeout(1) */
    char buf[ACME_PROC_OUTPUT_MAX + 1];
    apr_size_t len;
    int done;
    apr_status_t result;
    int exit;
};

static const char *const default_env[] = {
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NULL
};

static void drain(acme_proc_t *pr)
{
    for (;;) {
        char tmp[512];
        apr_size_t n = sizeof(tmp);
        if (apr_file_read(pr->out, tmp, &n) != APR_SUCCESS || n == 0) {
            return;
        }
        if (pr->len < ACME_PROC_OUTPUT_MAX) {
            apr_size_t take = ACME_PROC_OUTPUT_MAX - pr->len;
            take = n < take ? n : take;
            memcpy(pr->buf + pr->len, tmp, take);
            pr->len += take;
        }
    }
}

apr_status_t acme_proc_start(acme_proc_t **pproc, apr_pool_t *p, const char *const *argv,
                             const char *const *env, apr_interval_time_t timeout)
{
    acme_proc_t *pr = apr_pcalloc(p, sizeof(*pr));
    apr_procattr_t *attr;
    apr_file_t *wr = NULL;
    apr_finfo_t fi;
    const char *const *run_argv = argv;
    apr_status_t rv;

    *pproc = NULL;
    pr->pool = p;
    if (apr_stat(&fi, TIMEOUT_PROGRAM, APR_FINFO_TYPE, p) == APR_SUCCESS) {
        /* timeout(1) enforces the limit even if this process ends first (a graceful
         * restart ends the watchdog child mid-run) and ends the program's process group */
        apr_array_header_t *a = apr_array_make(p, 8, sizeof(const char *));
        int i;
        APR_ARRAY_PUSH(a, const char *) = TIMEOUT_PROGRAM;
        APR_ARRAY_PUSH(a, const char *) = "-s";
        APR_ARRAY_PUSH(a, const char *) = "KILL";
        APR_ARRAY_PUSH(a, const char *) = apr_psprintf(p, "%.3f",
                                                       (double)timeout / APR_USEC_PER_SEC);
        for (i = 0; argv[i]; ++i) {
            APR_ARRAY_PUSH(a, const char *) = argv[i];
        }
        APR_ARRAY_PUSH(a, const char *) = NULL;
        run_argv = (const char *const *)a->elts;
        pr->wrapped = 1;
    }
    if ((rv = apr_file_pipe_create_ex(&pr->out, &wr, APR_WRITE_BLOCK, p)) != APR_SUCCESS
        || (rv = apr_procattr_create(&attr, p)) != APR_SUCCESS
        || (rv = apr_procattr_cmdtype_set(attr, APR_PROGRAM)) != APR_SUCCESS
        || (rv = apr_procattr_child_in_set(attr, NULL, NULL)) != APR_SUCCESS
        || (rv = apr_procattr_child_out_set(attr, wr, NULL)) != APR_SUCCESS
        || (rv = apr_procattr_child_err_set(attr, wr, NULL)) != APR_SUCCESS
        || (rv = apr_procattr_error_check_set(attr, 1)) != APR_SUCCESS
        || (rv = apr_proc_create(&pr->proc, run_argv[0], run_argv, env ? env : default_env,
                                 attr, p)) != APR_SUCCESS) {
        if (wr) {
            apr_file_close(wr);
        }
        if (pr->out) {
            apr_file_close(pr->out);
        }
        return rv;
    }
    apr_file_close(wr);
    pr->started = apr_time_now();
    /* our own kill only if timeout(1) did not act */
    pr->deadline = pr->started + timeout + (pr->wrapped ? KILL_MARGIN : 0);
    *pproc = pr;
    return APR_SUCCESS;
}

apr_status_t acme_proc_poll(acme_proc_t *pr, int *pexit, const char **poutput)
{
    apr_exit_why_e why = APR_PROC_EXIT;
    int code = -1;
    apr_status_t rv;

    if (!pr->done) {
        drain(pr);
        rv = apr_proc_wait(&pr->proc, &code, &why, APR_NOWAIT);
        if (rv != APR_CHILD_DONE && rv != APR_CHILD_NOTDONE) {
            /* ECHILD: another waitpid() took its status, so it has ended, and what it
             * wrote is in the pipe (the write end may live on in processes the caller
             * forked meanwhile: no waiting for the pipe's end) */
            pr->result = APR_SUCCESS;
            why = APR_PROC_EXIT;
            code = ACME_PROC_EXIT_LOST;
        }
        else if (rv == APR_CHILD_DONE) {
            pr->result = APR_SUCCESS;
            /* timeout(1) signals its whole process group, itself included: it dies by KILL
             * (or exits 137) when the limit was reached */
            if (pr->wrapped && ((why == APR_PROC_EXIT && code == 128 + SIGKILL)
                                || (why == APR_PROC_SIGNAL && code == SIGKILL))) {
                why = APR_PROC_SIGNAL;
                pr->result = APR_TIMEUP;
            }
        }
        else if (apr_time_now() >= pr->deadline) {
            apr_proc_kill(&pr->proc, SIGKILL);
            apr_proc_wait(&pr->proc, &code, &why, APR_WAIT);
            why = APR_PROC_SIGNAL;
            pr->result = APR_TIMEUP;
        }
        else {
            pr->buf[pr->len] = '\0';
            *poutput = pr->buf;
            *pexit = -1;
            return APR_INCOMPLETE;
        }
        drain(pr);
        apr_file_close(pr->out);
        pr->buf[pr->len] = '\0';
        pr->exit = (why == APR_PROC_EXIT) ? code : -1;
        pr->done = 1;
    }
    *pexit = pr->exit;
    *poutput = pr->buf;
    return pr->result;
}

void acme_proc_stop(acme_proc_t *pr)
{
    apr_time_t until = apr_time_now() + apr_time_from_sec(1);
    const char *out;
    int code;

    if (pr->done) {
        return;
    }
    /* a child that has not exec'd yet would run the caller's own SIGTERM handler */
    if (apr_time_now() - pr->started < EXEC_GRACE) {
        apr_sleep(EXEC_GRACE - (apr_time_now() - pr->started));
    }
    apr_proc_kill(&pr->proc, SIGTERM);
    pr->deadline = until; /* acme_proc_poll kills at the deadline */
    while (acme_proc_poll(pr, &code, &out) == APR_INCOMPLETE) {
        apr_sleep(apr_time_from_msec(20));
    }
}

long acme_proc_pid(const acme_proc_t *pr)
{
    return (long)pr->proc.pid;
}

apr_time_t acme_proc_started(const acme_proc_t *pr)
{
    return pr->started;
}

apr_status_t acme_proc_run(int *pexit, const char **poutput, apr_pool_t *p,
                           const char *const *argv, const char *const *env,
                           apr_interval_time_t timeout)
{
    acme_proc_t *pr;
    apr_status_t rv;

    *pexit = -1;
    *poutput = "";
    if ((rv = acme_proc_start(&pr, p, argv, env, timeout)) != APR_SUCCESS) {
        return rv;
    }
    while ((rv = acme_proc_poll(pr, pexit, poutput)) == APR_INCOMPLETE) {
        apr_sleep(apr_time_from_msec(20));
    }
    return rv;
}
