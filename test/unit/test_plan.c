/* Renewal planning: a table of cases, one per rule of acme_plan.h, plus backoff steps. */
#include <string.h>

#include <apr_strings.h>

#include "tests.h"
#include "acme_plan.h"

#define SEC(n)  apr_time_from_sec(n)
#define MIN(n)  SEC((apr_int64_t)(n) * 60)
#define HOUR(n) MIN((apr_int64_t)(n) * 60)
#define DAY(n)  HOUR((apr_int64_t)(n) * 24)

/* 2026-01-01T00:00:00Z */
#define NOW SEC(INT64_C(1767225600))

#define CA1 "https://acme-v02.api.letsencrypt.org/directory"
#define CA2 "https://acme-staging-v02.api.letsencrypt.org/directory"
#define NAMES "example.org,www.example.org"

typedef struct {
    const char *label;
    /* spec */
    const char *names;          /* comma separated, already normalized */
    const char *ca;
    const char *key;
    int renew_percent;
    apr_interval_time_t renew_before;
    apr_interval_time_t retry_delay;
    /* input (times relative to NOW) */
    int have_live;
    const char *live_names;
    const char *live_ca;
    const char *live_key;
    apr_interval_time_t nb, na;  /* not_before/not_after - NOW */
    int have_staged;
    int failures;
    apr_interval_time_t last_failure;  /* - NOW */
    apr_interval_time_t retry_after;   /* - NOW, 0 none */
    /* expected */
    acme_plan_action_t action;
    int when_zero;                     /* when must be 0 */
    apr_interval_time_t when;          /* - NOW */
    const char *reason1, *reason2;     /* substrings of the reason */
} plan_case_t;

static const plan_case_t cases[] = {
    { "nothing yet", NAMES, CA1, "p256", 0, 0, 0,
      0, NULL, NULL, NULL, 0, 0, 0, 0, 0, 0,
      ACME_PLAN_OBTAIN, 0, 0, "no certificate yet", NULL },
    { "staged waits", NAMES, CA1, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(80), DAY(10), 1, 0, 0, 0,
      ACME_PLAN_NOTHING, 1, 0, "new certificate staged, waiting for activation", NULL },
    { "staged, no live yet", NAMES, CA1, "p256", 0, 0, 0,
      0, NULL, NULL, NULL, 0, 0, 1, 2, 0, 0,
      ACME_PLAN_NOTHING, 1, 0, "staged", NULL },
    { "names changed", NAMES ",new.example.org", CA1, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(10), DAY(80), 0, 0, 0, 0,
      ACME_PLAN_OBTAIN, 0, 0, "names changed", "new.example.org" },
    { "name removed", "example.org", CA1, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(10), DAY(80), 0, 0, 0, 0,
      ACME_PLAN_OBTAIN, 0, 0, "names changed", NULL },
    { "CA changed", NAMES, CA2, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(10), DAY(80), 0, 0, 0, 0,
      ACME_PLAN_OBTAIN, 0, 0, "CA changed", CA2 },
    { "key type changed", NAMES, CA1, "rsa2048", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(10), DAY(80), 0, 0, 0, 0,
      ACME_PLAN_OBTAIN, 0, 0, "key type changed", NULL },
    { "key type case-insensitive", NAMES, CA1, "P256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(10), DAY(80), 0, 0, 0, 0,
      ACME_PLAN_NOTHING, 0, DAY(80) - (DAY(90) / 100) * 33, "valid until", NULL },
    { "unknown live CA is no change", NAMES, CA1, "p256", 0, 0, 0,
      1, NAMES, NULL, NULL, -DAY(10), DAY(80), 0, 0, 0, 0,
      ACME_PLAN_NOTHING, 0, DAY(80) - (DAY(90) / 100) * 33, "valid until", NULL },
    { "names and CA changed", NAMES ",x.example.org", CA2, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(10), DAY(80), 0, 0, 0, 0,
      ACME_PLAN_OBTAIN, 0, 0, "names changed", "CA changed" },
    { "valid, default 33%", NAMES, CA1, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(10), DAY(80), 0, 0, 0, 0,
      ACME_PLAN_NOTHING, 0, DAY(80) - (DAY(90) / 100) * 33,
      "valid until 2026-03-22T00:00:00Z; renews from", NULL },
    { "percent window not reached", NAMES, CA1, "p256", 50, 0, 0,
      1, NAMES, CA1, "p256", -DAY(40), DAY(50), 0, 0, 0, 0,
      ACME_PLAN_NOTHING, 0, DAY(5), "renews from 2026-01-06T00:00:00Z", NULL },
    { "percent window reached", NAMES, CA1, "p256", 50, 0, 0,
      1, NAMES, CA1, "p256", -DAY(50), DAY(40), 0, 0, 0, 0,
      ACME_PLAN_RENEW, 0, 0, "renewal due", NULL },
    { "default 33% reached", NAMES, CA1, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(61), DAY(29), 0, 0, 0, 0,
      ACME_PLAN_RENEW, 0, 0, "renewal due", NULL },
    { "duration window not reached", NAMES, CA1, "p256", 50, DAY(30), 0,
      1, NAMES, CA1, "p256", -DAY(55), DAY(35), 0, 0, 0, 0,
      ACME_PLAN_NOTHING, 0, DAY(5), "valid until", NULL },
    { "duration window reached (wins over percent)", NAMES, CA1, "p256", 10, DAY(30), 0,
      1, NAMES, CA1, "p256", -DAY(65), DAY(25), 0, 0, 0, 0,
      ACME_PLAN_RENEW, 0, 0, "renewal due", NULL },
    { "window larger than lifetime: clamped to 50%", NAMES, CA1, "p256", 0, DAY(100), 0,
      1, NAMES, CA1, "p256", -DAY(1), DAY(89), 0, 0, 0, 0,
      ACME_PLAN_NOTHING, 0, DAY(44), "valid until", NULL },
    { "window larger than lifetime, half gone", NAMES, CA1, "p256", 0, DAY(100), 0,
      1, NAMES, CA1, "p256", -DAY(46), DAY(44), 0, 0, 0, 0,
      ACME_PLAN_RENEW, 0, 0, "renewal due", NULL },
    { "percent 100 clamped to 50%", NAMES, CA1, "p256", 100, 0, 0,
      1, NAMES, CA1, "p256", -HOUR(1), DAY(6) - HOUR(1), 0, 0, 0, 0,
      ACME_PLAN_NOTHING, 0, DAY(3) - HOUR(1), "valid until", NULL },
    { "expired", NAMES, CA1, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(100), -DAY(10), 0, 0, 0, 0,
      ACME_PLAN_RENEW, 0, 0, "expired at 2025-12-22T00:00:00Z", NULL },
    { "empty validity", NAMES, CA1, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", DAY(1), DAY(1), 0, 0, 0, 0,
      ACME_PLAN_RENEW, 0, 0, "validity", NULL },
    { "backoff 1: 1 min", NAMES, CA1, "p256", 0, 0, 0,
      0, NULL, NULL, NULL, 0, 0, 0, 1, 0, 0,
      ACME_PLAN_OBTAIN, 0, MIN(1), "no certificate yet; retry after failure 1", NULL },
    { "backoff 2: 10 min", NAMES, CA1, "p256", 0, 0, 0,
      0, NULL, NULL, NULL, 0, 0, 0, 2, 0, 0,
      ACME_PLAN_OBTAIN, 0, MIN(10), "retry after failure 2", NULL },
    { "backoff 3: 100 min", NAMES, CA1, "p256", 0, 0, 0,
      0, NULL, NULL, NULL, 0, 0, 0, 3, 0, 0,
      ACME_PLAN_OBTAIN, 0, MIN(100), "retry after failure 3", NULL },
    { "backoff 4: 1000 min", NAMES, CA1, "p256", 0, 0, 0,
      0, NULL, NULL, NULL, 0, 0, 0, 4, 0, 0,
      ACME_PLAN_OBTAIN, 0, MIN(1000), "retry after failure 4", NULL },
    { "backoff 5: capped at 24 h", NAMES, CA1, "p256", 0, 0, 0,
      0, NULL, NULL, NULL, 0, 0, 0, 5, 0, 0,
      ACME_PLAN_OBTAIN, 0, HOUR(24), "retry after failure 5", NULL },
    { "backoff 40: still 24 h", NAMES, CA1, "p256", 0, 0, 0,
      0, NULL, NULL, NULL, 0, 0, 0, 40, -HOUR(1), 0,
      ACME_PLAN_OBTAIN, 0, HOUR(23), "retry after failure 40", NULL },
    { "backoff elapsed: due now", NAMES, CA1, "p256", 0, 0, 0,
      0, NULL, NULL, NULL, 0, 0, 0, 2, -HOUR(1), 0,
      ACME_PLAN_OBTAIN, 0, 0, "retry after failure 2", NULL },
    { "custom retry delay 5 min, 2 failures", NAMES, CA1, "p256", 0, 0, MIN(5),
      0, NULL, NULL, NULL, 0, 0, 0, 2, -MIN(10), 0,
      ACME_PLAN_OBTAIN, 0, MIN(40), "retry after failure 2", NULL },
    { "renewal with backoff", NAMES, CA1, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(70), DAY(20), 0, 3, -MIN(30), 0,
      ACME_PLAN_RENEW, 0, MIN(70), "renewal due", "retry after failure 3" },
    { "Retry-After wins over backoff", NAMES, CA1, "p256", 0, 0, 0,
      0, NULL, NULL, NULL, 0, 0, 0, 1, 0, HOUR(2),
      ACME_PLAN_OBTAIN, 0, HOUR(2), "retry after failure 1",
      "CA asked to retry after 2026-01-01T02:00:00Z" },
    { "backoff wins over earlier Retry-After", NAMES, CA1, "p256", 0, 0, 0,
      0, NULL, NULL, NULL, 0, 0, 0, 3, 0, MIN(10),
      ACME_PLAN_OBTAIN, 0, MIN(100), "retry after failure 3", NULL },
    { "Retry-After without failures", NAMES, CA1, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(70), DAY(20), 0, 0, 0, HOUR(3),
      ACME_PLAN_RENEW, 0, HOUR(3), "CA asked to retry after", NULL },
    { "past Retry-After ignored", NAMES, CA1, "p256", 0, 0, 0,
      0, NULL, NULL, NULL, 0, 0, 0, 0, 0, -HOUR(3),
      ACME_PLAN_OBTAIN, 0, 0, "no certificate yet", NULL },
    { "not due: failures do not matter", NAMES, CA1, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(10), DAY(80), 0, 4, 0, HOUR(1),
      ACME_PLAN_NOTHING, 0, DAY(80) - (DAY(90) / 100) * 33, "valid until", NULL },
};

static apr_array_header_t *split(apr_pool_t *p, const char *list)
{
    apr_array_header_t *a = apr_array_make(p, 4, sizeof(const char *));
    char *last, *s = apr_pstrdup(p, list);
    for (char *t = apr_strtok(s, ",", &last); t; t = apr_strtok(NULL, ",", &last)) {
        APR_ARRAY_PUSH(a, const char *) = t;
    }
    return a;
}

START_TEST(test_plan_table)
{
    const plan_case_t *c = &cases[_i];
    apr_pool_t *p;
    acme_plan_spec_t spec;
    acme_plan_input_t in;
    acme_plan_t plan;

    apr_pool_create(&p, NULL);
    memset(&spec, 0, sizeof(spec));
    memset(&in, 0, sizeof(in));
    spec.names = split(p, c->names);
    spec.ca_url = c->ca;
    spec.key = c->key;
    spec.renew_percent = c->renew_percent;
    spec.renew_before = c->renew_before;
    spec.retry_delay = c->retry_delay;
    in.have_live = c->have_live;
    in.live_names = c->live_names ? split(p, c->live_names) : NULL;
    in.live_ca = c->live_ca;
    in.live_key = c->live_key;
    if (c->have_live) {
        in.live_not_before = NOW + c->nb;
        in.live_not_after = NOW + c->na;
    }
    in.have_staged = c->have_staged;
    in.failures = c->failures;
    in.last_failure = c->failures ? NOW + c->last_failure : 0;
    in.retry_after = c->retry_after ? NOW + c->retry_after : 0;

    acme_plan_compute(&plan, p, &spec, &in, NOW);

    ck_assert_msg(plan.action == c->action, "%s: action %d, expected %d (%s)", c->label,
                  (int)plan.action, (int)c->action, plan.reason);
    if (c->when_zero) {
        ck_assert_msg(plan.when == 0, "%s: when %" APR_TIME_T_FMT, c->label, plan.when);
    }
    else {
        ck_assert_msg(plan.when == NOW + c->when, "%s: when now%+" APR_TIME_T_FMT
                      "s, expected now%+" APR_TIME_T_FMT "s (%s)", c->label,
                      apr_time_sec(plan.when - NOW), apr_time_sec(c->when), plan.reason);
    }
    ck_assert_ptr_nonnull(plan.reason);
    ck_assert_msg(strstr(plan.reason, c->reason1) != NULL, "%s: reason '%s' lacks '%s'",
                  c->label, plan.reason, c->reason1);
    if (c->reason2) {
        ck_assert_msg(strstr(plan.reason, c->reason2) != NULL, "%s: reason '%s' lacks '%s'",
                      c->label, plan.reason, c->reason2);
    }
    apr_pool_destroy(p);
}
END_TEST

START_TEST(test_backoff)
{
    ck_assert_int_eq(acme_plan_backoff(MIN(1), 0), 0);
    ck_assert_int_eq(acme_plan_backoff(MIN(1), -3), 0);
    ck_assert_int_eq(acme_plan_backoff(0, 3), 0);
    ck_assert_int_eq(acme_plan_backoff(MIN(1), 1), MIN(1));
    ck_assert_int_eq(acme_plan_backoff(MIN(1), 2), MIN(10));
    ck_assert_int_eq(acme_plan_backoff(MIN(1), 3), MIN(100));
    ck_assert_int_eq(acme_plan_backoff(MIN(1), 4), MIN(1000));
    ck_assert_int_eq(acme_plan_backoff(MIN(1), 5), HOUR(24));
    ck_assert_int_eq(acme_plan_backoff(MIN(1), 1000000), HOUR(24));
    ck_assert_int_eq(acme_plan_backoff(SEC(30), 2), SEC(300));
    ck_assert_int_eq(acme_plan_backoff(DAY(2), 1), HOUR(24));
}
END_TEST

START_TEST(test_plan_pure)
{
    /* same input, same output; the input is not modified */
    apr_pool_t *p;
    acme_plan_spec_t spec;
    acme_plan_input_t in, copy;
    acme_plan_t a, b;

    apr_pool_create(&p, NULL);
    memset(&spec, 0, sizeof(spec));
    memset(&in, 0, sizeof(in));
    spec.names = split(p, NAMES);
    spec.ca_url = CA1;
    spec.key = "p256";
    in.have_live = 1;
    in.live_names = split(p, NAMES);
    in.live_ca = CA1;
    in.live_key = "p256";
    in.live_not_before = NOW - DAY(10);
    in.live_not_after = NOW + DAY(80);
    copy = in;
    acme_plan_compute(&a, p, &spec, &in, NOW);
    acme_plan_compute(&b, p, &spec, &in, NOW);
    ck_assert_int_eq(memcmp(&in, &copy, sizeof(in)), 0);
    ck_assert_int_eq(a.action, b.action);
    ck_assert(a.when == b.when);
    ck_assert_str_eq(a.reason, b.reason);
    apr_pool_destroy(p);
}
END_TEST

Suite *plan_suite(void)
{
    Suite *s = suite_create("plan");
    TCase *tc = tcase_create("compute");
    tcase_add_loop_test(tc, test_plan_table, 0, (int)(sizeof(cases) / sizeof(cases[0])));
    tcase_add_test(tc, test_backoff);
    tcase_add_test(tc, test_plan_pure);
    suite_add_tcase(s, tc);
    return s;
}
