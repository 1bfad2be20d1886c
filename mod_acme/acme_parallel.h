/* Running jobs 0..n-1 in a few threads: the driver obtains up to that many certificates at
 * once. */
#ifndef ACME_PARALLEL_H
#define ACME_PARALLEL_H

#include "acme.h"

typedef void acme_job_fn(void *baton, int job);

/* Run fn(baton, job) once for every job 0..n-1, in order of job number, in at most
 * max_threads threads at once (in the caller's thread when none can be created); returns
 * when all have ended. fn is called concurrently: it takes its own locks. */
apr_status_t acme_parallel_run(int n, int max_threads, acme_job_fn *fn, void *baton,
                               apr_pool_t *p);

#endif
