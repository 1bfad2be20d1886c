/* Running an admin's program with a time limit. */
#include <signal.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "acme.h"
#include "acme_proc.h"

#define TIMEOUT_PROGRAM "/usr/bin/timeout"
#define KILL_MARGIN apr_time_from_sec(5)

static const char *const default_env[] = {
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NULL
};

static void drain(apr_file_t *f, char *buf, apr_size_t *plen)
{
    for (;;) {
        char tmp[512];
        apr_size_t n = sizeof(tmp);
        if (apr_file_read(f, tmp, &n) != APR_SUCCESS || n == 0) {
            return;
        }
        if (*plen < ACME_PROC_OUTPUT_MAX) {
            apr_size_t take = ACME_PROC_OUTPUT_MAX - *plen;
            take = n < take ? n : take;
            memcpy(buf + *plen, tmp, take);
            *plen += take;
        }
    }
}

apr_status_t acme_proc_run(int *pexit, const char **poutput, apr_pool_t *p,
                           const char *const *argv, const char *const *env,
                           apr_interval_time_t timeout)
{
    apr_procattr_t *attr;
    apr_file_t *rd = NULL, *wr = NULL;
    apr_proc_t proc;
    apr_finfo_t fi;
    const char *const *run_argv = argv;
    apr_time_t deadline = apr_time_now() + timeout;
    int wrapped = 0;
    char *buf = apr_palloc(p, ACME_PROC_OUTPUT_MAX + 1);
    apr_size_t len = 0;
    apr_exit_why_e why = APR_PROC_EXIT;
    int code = -1;
    apr_status_t rv;

    *pexit = -1;
    *poutput = "";
    if (apr_stat(&fi, TIMEOUT_PROGRAM, APR_FINFO_TYPE, p) == APR_SUCCESS) {
        /* coreutils' timeout enforces the limit even if this process dies first (a graceful
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
        deadline += KILL_MARGIN; /* our own kill only if timeout(1) did not act */
        wrapped = 1;
    }
    if ((rv = apr_file_pipe_create_ex(&rd, &wr, APR_WRITE_BLOCK, p)) != APR_SUCCESS
        || (rv = apr_procattr_create(&attr, p)) != APR_SUCCESS
        || (rv = apr_procattr_cmdtype_set(attr, APR_PROGRAM)) != APR_SUCCESS
        || (rv = apr_procattr_child_in_set(attr, NULL, NULL)) != APR_SUCCESS
        || (rv = apr_procattr_child_out_set(attr, wr, NULL)) != APR_SUCCESS
        || (rv = apr_procattr_child_err_set(attr, wr, NULL)) != APR_SUCCESS
        || (rv = apr_procattr_error_check_set(attr, 1)) != APR_SUCCESS
        || (rv = apr_proc_create(&proc, run_argv[0], run_argv, env ? env : default_env,
                                 attr, p))
           != APR_SUCCESS) {
        if (wr) {
            apr_file_close(wr);
        }
        if (rd) {
            apr_file_close(rd);
        }
        return rv;
    }
    apr_file_close(wr);
    for (;;) {
        drain(rd, buf, &len);
        rv = apr_proc_wait(&proc, &code, &why, APR_NOWAIT);
        if (rv == APR_CHILD_DONE) {
            rv = APR_SUCCESS;
            /* timeout(1) signals its whole process group, itself included: it dies by
             * KILL (or exits 137) when the limit was reached */
            if (wrapped && ((why == APR_PROC_EXIT && code == 128 + SIGKILL)
                            || (why == APR_PROC_SIGNAL && code == SIGKILL))) {
                why = APR_PROC_SIGNAL; /* timeout(1) killed it at the limit */
                rv = APR_TIMEUP;
            }
            break;
        }
        if (apr_time_now() >= deadline) {
            apr_proc_kill(&proc, SIGKILL);
            apr_proc_wait(&proc, &code, &why, APR_WAIT);
            why = APR_PROC_SIGNAL;
            rv = APR_TIMEUP;
            break;
        }
        apr_sleep(apr_time_from_msec(20));
    }
    drain(rd, buf, &len);
    apr_file_close(rd);
    buf[len] = '\0';
    *poutput = buf;
    *pexit = (why == APR_PROC_EXIT) ? code : -1;
    return rv;
}
