/* acme_sched: the watchdog's timetable (next attempt from the plan, due slots, wake-up). */
#include <string.h>

#include "tests.h"
#include "acme_sched.h"

#define S(x) apr_time_from_sec(x)

static const apr_time_t NOW = S(2000000000);

typedef struct {
    const char *what;
    int used;
    acme_plan_action_t action;
    int when;                      /* seconds after now, -1000: 0 */
    int expect;                    /* seconds after now, -1000: 0 */
} next_case_t;

static const next_case_t next_cases[] = {
    { "not used by TLS", 0, ACME_PLAN_OBTAIN, 0, -1000 },
    { "obtain now", 1, ACME_PLAN_OBTAIN, 0, 0 },
    { "obtain, time in the past: now", 1, ACME_PLAN_OBTAIN, -50, 0 },
    { "renew after backoff", 1, ACME_PLAN_RENEW, 600, 600 },
    { "nothing until renewal time", 1, ACME_PLAN_NOTHING, 86400, 86400 },
    { "nothing, time passed", 1, ACME_PLAN_NOTHING, -5, -1000 },
    { "nothing, no time", 1, ACME_PLAN_NOTHING, -1000, -1000 },
};

START_TEST(next_attempt_table)
{
    const next_case_t *c = &next_cases[_i];
    acme_plan_t plan = { 0 };
    apr_time_t expect = c->expect == -1000 ? 0 : NOW + S(c->expect);
    plan.action = c->action;
    plan.when = c->when == -1000 ? 0 : NOW + S(c->when);
    ck_assert_msg(acme_sched_next_attempt(c->used, &plan, NOW) == expect, "%s", c->what);
}
END_TEST

START_TEST(due_and_wakeup)
{
    apr_pool_t *p;
    acme_sched_t *s;
    apr_array_header_t *due;
    apr_pool_create(&p, NULL);
    ck_assert_int_eq(acme_sched_create(&s, p, 4), APR_SUCCESS);
    s->slot[0].next = NOW - S(1);
    s->slot[1].next = NOW + S(100);
    s->slot[2].next = NOW;
    s->slot[3].ari_next = NOW + S(50);
    due = acme_sched_due(s, NOW, p);
    ck_assert_int_eq(due->nelts, 2);
    ck_assert_int_eq(APR_ARRAY_IDX(due, 0, int), 0);
    ck_assert_int_eq(APR_ARRAY_IDX(due, 1, int), 2);
    ck_assert(acme_sched_ari_due(s, 3, NOW + S(50)));
    ck_assert(!acme_sched_ari_due(s, 3, NOW + S(49)));
    ck_assert(!acme_sched_ari_due(s, 0, NOW));

    s->slot[0].next = s->slot[2].next = 0;          /* those ran and have nothing to do */
    acme_sched_after_run(s, NOW, 0);
    ck_assert(s->next_run == NOW + S(50));          /* the renewalInfo fetch is sooner */
    s->ari_unavailable = 1;
    ck_assert(!acme_sched_ari_due(s, 3, NOW + S(50)));
    acme_sched_after_run(s, NOW, 0);
    ck_assert(s->next_run == NOW + S(100));
    acme_sched_after_run(s, NOW, 1);                /* notify runs pending: every second */
    ck_assert(s->next_run == NOW + ACME_SCHED_NOTIFY_POLL);
    s->slot[1].next = 0;
    acme_sched_after_run(s, NOW, 0);
    ck_assert(s->next_run == NOW + ACME_SCHED_IDLE);

    s->slot[1].next = NOW + S(10);                  /* e.g. acmectl renew */
    acme_sched_hurry(s, 1);
    ck_assert(s->next_run == NOW + S(10));
    s->slot[1].next = NOW + S(20);                  /* never later */
    acme_sched_hurry(s, 1);
    ck_assert(s->next_run == NOW + S(10));
    apr_pool_destroy(p);
}
END_TEST

START_TEST(every)
{
    apr_time_t next = 0;
    ck_assert(acme_sched_every(&next, S(15), NOW));
    ck_assert(next == NOW + S(15));
    ck_assert(!acme_sched_every(&next, S(15), NOW + S(14)));
    ck_assert(acme_sched_every(&next, S(15), NOW + S(15)));
    ck_assert(next == NOW + S(30));
}
END_TEST

START_TEST(record_outcome)
{
    apr_pool_t *p;
    acme_sched_t *s;
    acme_plan_input_t in;
    acme_result_t res;
    apr_pool_create(&p, NULL);
    ck_assert_int_eq(acme_sched_create(&s, p, 1), APR_SUCCESS);
    memset(&in, 0, sizeof(in));
    acme_result_reset(&res);
    res.status = APR_EGENERAL;
    res.retry_after = NOW + S(300);
    s->slot[0].ari_next = NOW + S(9);
    ck_assert_int_eq(acme_sched_record(s, 0, &in, APR_EGENERAL, &res, NOW), 0);
    ck_assert_int_eq(acme_sched_record(s, 0, &in, APR_EGENERAL, &res, NOW + S(1)), 0);
    ck_assert_int_eq(in.failures, 2);
    ck_assert(in.last_failure == NOW + S(1) && in.retry_after == NOW + S(300));
    ck_assert(s->slot[0].ari_next == NOW + S(9));
    res.status = ACME_EPROBLEM;
    res.http_status = 400;
    res.problem_type = "urn:ietf:params:acme:error:accountDoesNotExist";
    ck_assert_int_eq(acme_sched_record(s, 0, &in, APR_EGENERAL, &res, NOW + S(2)), 1);
    ck_assert_int_eq(acme_sched_record(s, 0, &in, APR_SUCCESS, &res, NOW + S(3)), 0);
    ck_assert(in.have_staged && in.failures == 0 && !in.last_failure && !in.retry_after);
    ck_assert(s->slot[0].ari_next == 0);
    apr_pool_destroy(p);
}
END_TEST

Suite *sched_suite(void)
{
    Suite *s = suite_create("sched");
    TCase *tc = tcase_create("sched");
    tcase_add_loop_test(tc, next_attempt_table, 0,
                        (int)(sizeof(next_cases) / sizeof(next_cases[0])));
    tcase_add_test(tc, due_and_wakeup);
    tcase_add_test(tc, every);
    tcase_add_test(tc, record_outcome);
    suite_add_tcase(s, tc);
    return s;
}
