/* Running an admin's program (dns-01 hook) with a time limit. */
#ifndef ACME_PROC_H
#define ACME_PROC_H

#include "acme.h"

#define ACME_PROC_OUTPUT_MAX 4096

/* Run argv[0] (an absolute path) with argv and env (both NULL-terminated; env NULL: a
 * minimal PATH only), wait at most timeout, then kill it. *pexit is its exit status, or
 * -1 when it died by a signal or was killed; *poutput holds the first
 * ACME_PROC_OUTPUT_MAX bytes of its stdout and stderr. APR_TIMEUP when it was killed for
 * the time limit, an APR error when it could not be started, else APR_SUCCESS (whatever
 * its exit status). */
apr_status_t acme_proc_run(int *pexit, const char **poutput, apr_pool_t *p,
                           const char *const *argv, const char *const *env,
                           apr_interval_time_t timeout);

#endif
