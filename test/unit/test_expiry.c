/* acme_expiry: the warn window and 'expiring' at most once a day. */
#include "tests.h"
#include "acme_expiry.h"

#define DAY apr_time_from_sec(86400)

START_TEST(warn_time_from_percent_or_duration)
{
    apr_time_t nb = apr_time_from_sec(1000000000), na = nb + 90 * DAY;
    ck_assert(acme_expiry_warn_time(nb, na, 0, 0) == na - 9 * DAY);      /* default 10 % */
    ck_assert(acme_expiry_warn_time(nb, na, 0, 50) == na - 45 * DAY);
    ck_assert(acme_expiry_warn_time(nb, na, 3 * DAY, 50) == na - 3 * DAY); /* duration wins */
}
END_TEST

typedef struct {
    const char *what;
    int have_live;
    int now, last;                 /* hours after the warn time; last -1000: never */
    int due;
} due_case_t;

static const due_case_t due_cases[] = {
    { "before the window", 1, -1, -1000, 0 },
    { "window starts", 1, 0, -1000, 1 },
    { "in the window, never warned", 1, 30, -1000, 1 },
    { "no live certificate", 0, 30, -1000, 0 },
    { "warned an hour ago", 1, 30, 29, 0 },
    { "warned 23 h ago", 1, 30, 7, 0 },
    { "warned 24 h ago", 1, 30, 6, 1 },
    { "warned 3 days ago", 1, 100, 28, 1 },
};

START_TEST(due_table)
{
    const due_case_t *c = &due_cases[_i];
    apr_time_t warn = apr_time_from_sec(1000000000), h = apr_time_from_sec(3600);
    apr_time_t last = c->last == -1000 ? 0 : warn + c->last * h;
    ck_assert_msg(acme_expiry_due(c->have_live, warn, last, warn + c->now * h) == c->due,
                  "%s: expected %d", c->what, c->due);
}
END_TEST

/* once a day over a simulated week in the window: 7 warnings, a day apart */
START_TEST(once_a_day)
{
    apr_time_t warn = apr_time_from_sec(1000000000), t, last = 0;
    int n = 0;
    for (t = warn; t < warn + 7 * DAY; t += apr_time_from_sec(60)) {
        if (acme_expiry_due(1, warn, last, t)) {
            ck_assert(!last || t - last >= DAY);
            last = t;
            ++n;
        }
    }
    ck_assert_int_eq(n, 7);
}
END_TEST

Suite *expiry_suite(void)
{
    Suite *s = suite_create("expiry");
    TCase *tc = tcase_create("expiry");
    tcase_add_test(tc, warn_time_from_percent_or_duration);
    tcase_add_loop_test(tc, due_table, 0, (int)(sizeof(due_cases) / sizeof(due_cases[0])));
    tcase_add_test(tc, once_a_day);
    suite_add_tcase(s, tc);
    return s;
}
