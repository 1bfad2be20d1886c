/* acme_parallel: every job runs once, at most max_threads at once, more than one at once. */
#include <apr_atomic.h>
#include <apr_time.h>

#include "tests.h"
#include "acme_parallel.h"

typedef struct {
    volatile apr_uint32_t running, peak, runs[40];
} count_t;

static void job(void *baton, int j)
{
    count_t *c = baton;
    apr_uint32_t now = apr_atomic_inc32(&c->running) + 1, peak;
    while ((peak = apr_atomic_read32(&c->peak)) < now
           && apr_atomic_cas32(&c->peak, now, peak) != peak) {
    }
    apr_atomic_inc32(&c->runs[j]);
    apr_sleep(apr_time_from_msec(20));
    apr_atomic_dec32(&c->running);
}

static void check(int n, int max)
{
    apr_pool_t *p;
    count_t c = { 0 };
    int i;
    apr_pool_create(&p, NULL);
    ck_assert_int_eq(acme_parallel_run(n, max, job, &c, p), APR_SUCCESS);
    for (i = 0; i < n; ++i) {
        ck_assert_msg(c.runs[i] == 1, "job %d ran %u times", i, c.runs[i]);
    }
    ck_assert_msg(c.peak <= (apr_uint32_t)(max > 0 ? max : 1), "peak %u over %d", c.peak, max);
    if (n > 1 && max > 1) {
        ck_assert_msg(c.peak > 1, "the jobs did not run at once");
    }
    ck_assert_uint_eq(c.running, 0);
    apr_pool_destroy(p);
}

START_TEST(jobs_once_bounded)
{
    check(40, 8);
    check(3, 8);
    check(5, 1);
    check(1, 8);
    check(0, 8);
}
END_TEST

Suite *parallel_suite(void)
{
    Suite *s = suite_create("parallel");
    TCase *tc = tcase_create("parallel");
    tcase_add_test(tc, jobs_once_bounded);
    suite_add_tcase(s, tc);
    return s;
}
