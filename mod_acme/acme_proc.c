/* Running an admin's program with a time limit. */
#include <signal.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "acme.h"
#include "acme_proc.h"

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
    apr_time_t deadline = apr_time_now() + timeout;
    char *buf = apr_palloc(p, ACME_PROC_OUTPUT_MAX + 1);
    apr_size_t len = 0;
    apr_exit_why_e why = APR_PROC_EXIT;
    int code = -1;
    apr_status_t rv;

    *pexit = -1;
    *poutput = "";
    if ((rv = apr_file_pipe_create_ex(&rd, &wr, APR_WRITE_BLOCK, p)) != APR_SUCCESS
        || (rv = apr_procattr_create(&attr, p)) != APR_SUCCESS
        || (rv = apr_procattr_cmdtype_set(attr, APR_PROGRAM)) != APR_SUCCESS
        || (rv = apr_procattr_child_in_set(attr, NULL, NULL)) != APR_SUCCESS
        || (rv = apr_procattr_child_out_set(attr, wr, NULL)) != APR_SUCCESS
        || (rv = apr_procattr_child_err_set(attr, wr, NULL)) != APR_SUCCESS
        || (rv = apr_procattr_error_check_set(attr, 1)) != APR_SUCCESS
        || (rv = apr_proc_create(&proc, argv[0], argv, env ? env : default_env, attr, p))
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
