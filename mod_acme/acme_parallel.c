/* Running jobs in a few threads. */
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>

#include "acme.h"
#include "acme_parallel.h"

#define THREADS_MAX 256 /* ACME_RUNNER_PARALLEL_LIMIT */

typedef struct jobs_t {
    apr_thread_mutex_t *mutex;
    int next, n;
    acme_job_fn *fn;
    void *baton;
} jobs_t;

static int take(jobs_t *j)
{
    int job = -1;
    if (j->mutex) {
        apr_thread_mutex_lock(j->mutex);
    }
    if (j->next < j->n) {
        job = j->next++;
    }
    if (j->mutex) {
        apr_thread_mutex_unlock(j->mutex);
    }
    return job;
}

static void *APR_THREAD_FUNC worker(apr_thread_t *thread, void *data)
{
    jobs_t *j = data;
    int job;
    while ((job = take(j)) >= 0) {
        j->fn(j->baton, job);
    }
    if (thread) {
        apr_thread_exit(thread, APR_SUCCESS);
    }
    return NULL;
}

apr_status_t acme_parallel_run(int n, int max_threads, acme_job_fn *fn, void *baton,
                               apr_pool_t *p)
{
    apr_thread_t *threads[THREADS_MAX];
    jobs_t j = { NULL, 0, n, fn, baton };
    int nthreads, i;
    apr_status_t rv = APR_SUCCESS, trv;

    nthreads = n < max_threads ? n : max_threads;
    nthreads = nthreads < THREADS_MAX ? nthreads : THREADS_MAX;
    if (nthreads > 1 && apr_thread_mutex_create(&j.mutex, APR_THREAD_MUTEX_DEFAULT, p)) {
        nthreads = 0;
    }
    for (i = 0; i < nthreads; ++i) {
        if ((rv = apr_thread_create(&threads[i], NULL, worker, &j, p)) != APR_SUCCESS) {
            break;
        }
    }
    nthreads = i;
    if (nthreads == 0) {
        worker(NULL, &j); /* no thread: the jobs run here, one after the other */
    }
    for (i = 0; i < nthreads; ++i) {
        apr_thread_join(&trv, threads[i]);
    }
    return APR_SUCCESS;
}
