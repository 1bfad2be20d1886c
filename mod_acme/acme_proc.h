/* Running an admin's program (dns-01 hook, notify command) with a time limit. */
#ifndef ACME_PROC_H
#define ACME_PROC_H

#include "acme.h"
#include <apr_thread_proc.h>

#define ACME_PROC_OUTPUT_MAX 4096

typedef struct acme_proc_t acme_proc_t;

/* Start argv[0] (an absolute path) with argv and env (both NULL-terminated; env NULL: a
 * minimal PATH only), its stdout and stderr captured (the first ACME_PROC_OUTPUT_MAX
 * bytes). The time limit is enforced by coreutils' timeout(1) when present, so it holds
 * even if the calling process ends first; acme_proc_poll kills the program itself when
 * it outlives the limit anyway. */
apr_status_t acme_proc_start(acme_proc_t **pproc, apr_pool_t *p, const char *const *argv,
                             const char *const *env, apr_interval_time_t timeout);
/* Without blocking: APR_INCOMPLETE while it runs; when it ended, APR_SUCCESS with *pexit
 * its exit status (-1 when a signal ended it), or APR_TIMEUP when it was killed at the
 * time limit; *poutput is what it printed so far. When someone else reaped the program
 * (httpd's root parent reaps every child with waitpid(-1)), it has ended: APR_SUCCESS with
 * *pexit ACME_PROC_EXIT_LOST and the output it left in the pipe. */
#define ACME_PROC_EXIT_LOST (-2)
apr_status_t acme_proc_poll(acme_proc_t *proc, int *pexit, const char **poutput);
/* Its process id (of the timeout(1) wrapper, when used) and its start time. */
long acme_proc_pid(const acme_proc_t *proc);
apr_time_t acme_proc_started(const acme_proc_t *proc);

/* End a program still running (TERM, which timeout(1) passes on; KILL after a second)
 * and reap it. Nothing when it already ended. */
void acme_proc_stop(acme_proc_t *proc);

/* Start, then wait until it ends (polling): the same results as acme_proc_poll, or an APR
 * error when it could not be started. */
apr_status_t acme_proc_run(int *pexit, const char **poutput, apr_pool_t *p,
                           const char *const *argv, const char *const *env,
                           apr_interval_time_t timeout);

#endif
