/* acme_pace: token buckets against a CA's rates, the order of a run's jobs, ACMEOrderRate's
 * syntax; acme_ca_limits: the rates of known CAs. */
#include <string.h>

#include "tests.h"
#include "acme_pace.h"
#include "acme_ca.h"

#define S(x) apr_time_from_sec(x)
#define MS(x) apr_time_from_msec(x)

static const apr_time_t NOW = S(2000000000);

/* 300 per 3 h: 300 at once, then one every 36 s, and a full bucket again after 3 h idle. */
START_TEST(bucket_burst_then_steady)
{
    acme_pace_rate_t rate = { 300, S(3 * 3600) };
    acme_pace_bucket_t b = { 0 };
    int i;

    for (i = 0; i < 300; ++i) {
        ck_assert_msg(acme_pace_bucket_when(&b, &rate, NOW) == NOW, "request %d", i);
        acme_pace_bucket_take(&b, &rate, NOW);
    }
    ck_assert(acme_pace_bucket_when(&b, &rate, NOW) == NOW + S(36));
    ck_assert(acme_pace_bucket_when(&b, &rate, NOW + S(35)) == NOW + S(36));
    acme_pace_bucket_take(&b, &rate, NOW + S(36));
    ck_assert(acme_pace_bucket_when(&b, &rate, NOW + S(36)) == NOW + S(72));
    /* idle for 3 h: the whole burst again */
    for (i = 0; i < 300; ++i) {
        ck_assert(acme_pace_bucket_when(&b, &rate, NOW + S(4 * 3600)) == NOW + S(4 * 3600));
        acme_pace_bucket_take(&b, &rate, NOW + S(4 * 3600));
    }
    ck_assert(acme_pace_bucket_when(&b, &rate, NOW + S(4 * 3600)) == NOW + S(4 * 3600 + 36));
}
END_TEST

/* Never more than count in any window of one period, whatever the arrival pattern. */
START_TEST(bucket_never_exceeds_rate)
{
    acme_pace_rate_t rate = { 5, S(10) };
    acme_pace_bucket_t b = { 0 };
    apr_time_t sent[200], t = NOW;
    int n = 0, i, j;

    while (n < 200) {
        t = acme_pace_bucket_when(&b, &rate, t + MS(137 * (n % 7)));
        acme_pace_bucket_take(&b, &rate, t);
        sent[n++] = t;
    }
    for (i = 0; i < n; ++i) {
        int in_window = 0;
        for (j = i; j < n && sent[j] < sent[i] + S(10); ++j) {
            ++in_window;
        }
        /* a full bucket (5) plus what refills within the window (10 s / 2 s): at most 10,
         * and after the first burst at most 6 */
        ck_assert_msg(in_window <= (i < 5 ? 10 : 6), "%d requests within 10 s from %d",
                      in_window, i);
    }
    /* 200 requests at 0.5/s after a burst of 5: about 390 s */
    ck_assert(sent[199] - sent[0] >= S(390) && sent[199] - sent[0] <= S(400));
}
END_TEST

START_TEST(bucket_unlimited)
{
    acme_pace_rate_t none = { 0, 0 };
    acme_pace_bucket_t b = { 0 };
    int i;
    for (i = 0; i < 1000; ++i) {
        acme_pace_bucket_take(&b, &none, NOW);
    }
    ck_assert(acme_pace_bucket_when(&b, &none, NOW) == NOW);
}
END_TEST

/* An ARI replacement is exempt from the order budget where the CA says so, never from the
 * endpoint rate; a pause (429 Retry-After) holds every kind. */
START_TEST(order_budget_kinds_and_pause)
{
    acme_pace_limits_t lim;
    acme_pace_t pc;

    memset(&lim, 0, sizeof(lim));
    lim.orders.count = 2;
    lim.orders.period = S(60);
    lim.new_order.count = 10;
    lim.new_order.period = S(1);
    lim.ari_exempt = 1;
    acme_pace_init(&pc, &lim);
    acme_pace_order_take(&pc, ACME_PACE_NEW, NOW);
    acme_pace_order_take(&pc, ACME_PACE_RENEWAL, NOW);
    ck_assert(acme_pace_order_when(&pc, ACME_PACE_NEW, NOW) == NOW + S(30));
    ck_assert_str_eq(acme_pace_reason(&pc, ACME_PACE_NEW, NOW), "orders");
    ck_assert(acme_pace_order_when(&pc, ACME_PACE_ARI_RENEWAL, NOW) == NOW);
    ck_assert(acme_pace_reason(&pc, ACME_PACE_ARI_RENEWAL, NOW) == NULL);
    /* ARI replacements still spend the endpoint's tokens: 8 more, then 100 ms apart */
    {
        int i;
        for (i = 0; i < 8; ++i) {
            acme_pace_order_take(&pc, ACME_PACE_ARI_RENEWAL, NOW);
        }
    }
    ck_assert(acme_pace_order_when(&pc, ACME_PACE_ARI_RENEWAL, NOW) == NOW + MS(100));
    /* the budget alone (what makes an order wait as "paced") does not count the rate */
    ck_assert(acme_pace_budget_when(&pc, ACME_PACE_ARI_RENEWAL, NOW) == NOW);
    ck_assert(acme_pace_budget_when(&pc, ACME_PACE_NEW, NOW) == NOW + S(30));
    ck_assert_str_eq(acme_pace_reason(&pc, ACME_PACE_ARI_RENEWAL, NOW), "newOrder");
    /* not exempt at a CA that does not say so */
    lim.ari_exempt = 0;
    acme_pace_init(&pc, &lim);
    acme_pace_order_take(&pc, ACME_PACE_ARI_RENEWAL, NOW);
    acme_pace_order_take(&pc, ACME_PACE_ARI_RENEWAL, NOW);
    ck_assert(acme_pace_order_when(&pc, ACME_PACE_ARI_RENEWAL, NOW) == NOW + S(30));
    /* a pause beats an empty budget only when it is later; an earlier pause never shortens */
    acme_pace_pause(&pc, NOW + S(90));
    acme_pace_pause(&pc, NOW + S(10));
    ck_assert(acme_pace_order_when(&pc, ACME_PACE_ARI_RENEWAL, NOW) == NOW + S(90));
    ck_assert_str_eq(acme_pace_reason(&pc, ACME_PACE_NEW, NOW), "paused");
    ck_assert(acme_pace_order_when(&pc, ACME_PACE_NEW, NOW + S(91)) == NOW + S(91));
}
END_TEST

START_TEST(sort_ari_first)
{
    acme_pace_kind_e kinds[] = { ACME_PACE_NEW, ACME_PACE_RENEWAL, ACME_PACE_ARI_RENEWAL,
                                 ACME_PACE_NEW, ACME_PACE_ARI_RENEWAL, ACME_PACE_RENEWAL };
    int order[6], expect[] = { 2, 4, 1, 5, 0, 3 }, i;

    acme_pace_sort(order, kinds, 6);
    for (i = 0; i < 6; ++i) {
        ck_assert_int_eq(order[i], expect[i]);
    }
    ck_assert_int_eq(acme_pace_kind(0, 1), ACME_PACE_NEW);
    ck_assert_int_eq(acme_pace_kind(1, 0), ACME_PACE_RENEWAL);
    ck_assert_int_eq(acme_pace_kind(1, 1), ACME_PACE_ARI_RENEWAL);
}
END_TEST

typedef struct {
    const char *arg;
    int ok, count;
    int period_s;
} rate_case_t;

static const rate_case_t rate_cases[] = {
    { "300/3h", 1, 300, 3 * 3600 },
    { "20/1s", 1, 20, 1 },
    { "1/90", 1, 1, 90 },
    { "2/7d", 1, 2, 7 * 86400 },
    { "0/1h", 0, 0, 0 },
    { "-1/1h", 0, 0, 0 },
    { "10/500ms", 0, 0, 0 },
    { "10/8d", 0, 0, 0 },
    { "10", 0, 0, 0 },
    { "/1h", 0, 0, 0 },
    { "10/", 0, 0, 0 },
    { "ten/1h", 0, 0, 0 },
    { "10/1 h", 0, 0, 0 },
    { "10x/1h", 0, 0, 0 },
};

START_TEST(rate_parse_table)
{
    const rate_case_t *c = &rate_cases[_i];
    apr_pool_t *p;
    acme_pace_rate_t rate = { 0, 0 };
    const char *err = NULL;
    apr_status_t rv;

    apr_pool_create(&p, NULL);
    rv = acme_pace_rate_parse(&rate, &err, p, c->arg);
    if (c->ok) {
        ck_assert_msg(rv == APR_SUCCESS, "%s: %s", c->arg, err ? err : "");
        ck_assert_int_eq(rate.count, c->count);
        ck_assert(rate.period == S(c->period_s));
    }
    else {
        ck_assert_msg(rv == APR_EINVAL && err && strstr(err, c->arg), "%s", c->arg);
    }
    apr_pool_destroy(p);
}
END_TEST

START_TEST(ca_limits)
{
    acme_pace_limits_t lim;
    apr_pool_t *p;

    apr_pool_create(&p, NULL);
    acme_ca_limits(&lim, acme_ca_known_url("letsencrypt"));
    ck_assert_int_eq(lim.orders.count, 300);
    ck_assert(lim.orders.period == S(3 * 3600));
    ck_assert(lim.ari_exempt);
    ck_assert(lim.new_order.count > 0 && lim.new_order.count <= 300);
    ck_assert_str_eq(acme_pace_rate_str(p, &lim.orders), "300 per 3h");
    acme_ca_limits(&lim, "https://ca.internal.example/acme/directory");
    ck_assert_int_eq(lim.orders.count, 0);
    ck_assert_int_eq(lim.new_order.count, ACME_PACE_UNKNOWN_NEW_ORDER);
    ck_assert(!lim.ari_exempt);
    ck_assert_str_eq(acme_pace_rate_str(p, &lim.orders), "no limit");
    apr_pool_destroy(p);
}
END_TEST

/* Which endpoint a URL is: exact matches, renewalInfo and what is below it, the rest. */
START_TEST(endpoint_of_url)
{
    const char *urls[ACME_PACE_EP_COUNT] = {
        "https://ca.test/dir", "https://ca.test/nonce", "https://ca.test/acct",
        "https://ca.test/order", "https://ca.test/revoke", "https://ca.test/ri", NULL
    };
    const char *none[ACME_PACE_EP_COUNT] = { "https://ca.test/dir" };

    ck_assert_int_eq(acme_pace_endpoint("https://ca.test/dir", urls), ACME_PACE_EP_DIRECTORY);
    ck_assert_int_eq(acme_pace_endpoint("https://ca.test/nonce", urls), ACME_PACE_EP_NEW_NONCE);
    ck_assert_int_eq(acme_pace_endpoint("https://ca.test/acct", urls),
                     ACME_PACE_EP_NEW_ACCOUNT);
    ck_assert_int_eq(acme_pace_endpoint("https://ca.test/order", urls), ACME_PACE_EP_NEW_ORDER);
    ck_assert_int_eq(acme_pace_endpoint("https://ca.test/revoke", urls), ACME_PACE_EP_REVOKE);
    ck_assert_int_eq(acme_pace_endpoint("https://ca.test/ri/aYhba4dGQEH.0A", urls),
                     ACME_PACE_EP_RENEWAL_INFO);
    ck_assert_int_eq(acme_pace_endpoint("https://ca.test/ri", urls), ACME_PACE_EP_RENEWAL_INFO);
    /* a longer name is not below renewalInfo; an order's own URL is "other" */
    ck_assert_int_eq(acme_pace_endpoint("https://ca.test/rival", urls), ACME_PACE_EP_OTHER);
    ck_assert_int_eq(acme_pace_endpoint("https://ca.test/order/7", urls), ACME_PACE_EP_OTHER);
    ck_assert_int_eq(acme_pace_endpoint("https://ca.test/acct/1", urls), ACME_PACE_EP_OTHER);
    /* before the directory was read only its own URL is known */
    ck_assert_int_eq(acme_pace_endpoint("https://ca.test/dir", none), ACME_PACE_EP_DIRECTORY);
    ck_assert_int_eq(acme_pace_endpoint("https://ca.test/nonce", none), ACME_PACE_EP_OTHER);
    ck_assert_int_eq(acme_pace_endpoint(NULL, none), ACME_PACE_EP_OTHER);
    ck_assert_str_eq(acme_pace_endpoint_name(ACME_PACE_EP_NEW_NONCE), "new-nonce");
}
END_TEST

/* Let's Encrypt's new-nonce rate (20 a second, a burst of 10) as acme_ca_request_limits
 * gives it: 10 requests go at once, each further one is given a time 50 ms after the one
 * before (reserved, so that threads asking at the same instant are spread), and an idle
 * second refills the burst. Other endpoints have buckets of their own. */
START_TEST(request_rate_reserves_slots)
{
    acme_pace_limits_t lim;
    acme_pace_t pc;
    int i;

    memset(&lim, 0, sizeof(lim));
    acme_ca_request_limits(&lim, acme_ca_known_url("letsencrypt"), ACME_REQUEST_RATES_AUTO);
    acme_pace_init(&pc, &lim);
    for (i = 0; i < 10; ++i) {
        ck_assert(acme_pace_request_take(&pc, ACME_PACE_EP_NEW_NONCE, NOW) == NOW);
    }
    ck_assert(acme_pace_request_take(&pc, ACME_PACE_EP_NEW_NONCE, NOW) == NOW + MS(50));
    ck_assert(acme_pace_request_take(&pc, ACME_PACE_EP_NEW_NONCE, NOW) == NOW + MS(100));
    ck_assert(acme_pace_request_take(&pc, ACME_PACE_EP_NEW_NONCE, NOW + MS(20))
              == NOW + MS(150));
    /* the other endpoints are not touched */
    ck_assert(acme_pace_request_take(&pc, ACME_PACE_EP_OTHER, NOW) == NOW);
    ck_assert(acme_pace_request_take(&pc, ACME_PACE_EP_NEW_ORDER, NOW) == NOW);
    /* 20 a second in the long run: 100 more from NOW + 1 s go over 5 s at the most */
    for (i = 0; i < 100; ++i) {
        apr_time_t t = acme_pace_request_take(&pc, ACME_PACE_EP_NEW_NONCE, NOW + S(1));
        ck_assert(t >= NOW + S(1));
        if (i == 99) {
            ck_assert(t <= NOW + S(6) && t >= NOW + S(5) - MS(500));
        }
    }
    /* idle long enough: the burst again */
    for (i = 0; i < 10; ++i) {
        ck_assert(acme_pace_request_take(&pc, ACME_PACE_EP_NEW_NONCE, NOW + S(60)) == NOW + S(60));
    }
    ck_assert(acme_pace_request_take(&pc, ACME_PACE_EP_NEW_NONCE, NOW + S(60)) > NOW + S(60));
}
END_TEST

/* ACMERequestRates: Let's Encrypt's table at its URLs (auto), at any URL (letsencrypt), none
 * (off); newOrder's stays with new_order; the directive's words. */
START_TEST(ca_request_limits)
{
    acme_pace_limits_t lim;
    acme_request_rates_e mode = ACME_REQUEST_RATES_OFF;
    const char *other = "https://ca.internal.example/acme/directory";
    apr_pool_t *p;

    apr_pool_create(&p, NULL);
    acme_ca_limits(&lim, acme_ca_known_url("letsencrypt-staging"));
    acme_ca_request_limits(&lim, acme_ca_known_url("letsencrypt-staging"),
                           ACME_REQUEST_RATES_AUTO);
    ck_assert_int_eq(lim.orders.count, 300);                 /* untouched */
    ck_assert_int_eq(lim.requests[ACME_PACE_EP_NEW_ACCOUNT].count, 15);   /* 5/s, burst 15 */
    ck_assert(lim.requests[ACME_PACE_EP_NEW_ACCOUNT].period == S(3));
    ck_assert_int_eq(lim.requests[ACME_PACE_EP_DIRECTORY].count, 40);     /* 40/s, burst 40 */
    ck_assert(lim.requests[ACME_PACE_EP_DIRECTORY].period == S(1));
    ck_assert_int_eq(lim.requests[ACME_PACE_EP_REVOKE].count, 100);       /* 10/s, burst 100 */
    ck_assert(lim.requests[ACME_PACE_EP_REVOKE].period == S(10));
    ck_assert_int_eq(lim.requests[ACME_PACE_EP_RENEWAL_INFO].count, 100); /* 1000/s */
    ck_assert(lim.requests[ACME_PACE_EP_RENEWAL_INFO].period == MS(100));
    ck_assert_int_eq(lim.requests[ACME_PACE_EP_OTHER].count, 125);        /* 250/s */
    ck_assert(lim.requests[ACME_PACE_EP_OTHER].period == MS(500));
    ck_assert_int_eq(lim.requests[ACME_PACE_EP_NEW_ORDER].count, 0);      /* new_order's */
    ck_assert_str_eq(acme_pace_rate_str(p, &lim.requests[ACME_PACE_EP_NEW_ACCOUNT]),
                     "15 per 3s");
    acme_ca_request_limits(&lim, acme_ca_known_url("letsencrypt"), ACME_REQUEST_RATES_OFF);
    ck_assert_int_eq(lim.requests[ACME_PACE_EP_NEW_ACCOUNT].count, 0);
    ck_assert_int_eq(lim.requests[ACME_PACE_EP_OTHER].count, 0);
    acme_ca_request_limits(&lim, other, ACME_REQUEST_RATES_AUTO);
    ck_assert_int_eq(lim.requests[ACME_PACE_EP_NEW_NONCE].count, 0);
    acme_ca_request_limits(&lim, other, ACME_REQUEST_RATES_LETSENCRYPT);
    ck_assert_int_eq(lim.requests[ACME_PACE_EP_NEW_NONCE].count, 10);     /* 20/s, burst 10 */
    ck_assert(lim.requests[ACME_PACE_EP_NEW_NONCE].period == MS(500));
    ck_assert_int_eq(acme_ca_request_rates_parse(&mode, "auto"), APR_SUCCESS);
    ck_assert_int_eq(mode, ACME_REQUEST_RATES_AUTO);
    ck_assert_int_eq(acme_ca_request_rates_parse(&mode, "LetsEncrypt"), APR_SUCCESS);
    ck_assert_int_eq(mode, ACME_REQUEST_RATES_LETSENCRYPT);
    ck_assert_int_eq(acme_ca_request_rates_parse(&mode, "off"), APR_SUCCESS);
    ck_assert_int_eq(mode, ACME_REQUEST_RATES_OFF);
    ck_assert_int_eq(acme_ca_request_rates_parse(&mode, "20/1s"), APR_EINVAL);
    ck_assert_int_eq(acme_ca_request_rates_parse(&mode, ""), APR_EINVAL);
    ck_assert_int_eq(acme_ca_request_rates_parse(&mode, NULL), APR_EINVAL);
    apr_pool_destroy(p);
}
END_TEST

Suite *pace_suite(void)
{
    Suite *s = suite_create("pace");
    TCase *tc = tcase_create("pace");
    tcase_add_test(tc, bucket_burst_then_steady);
    tcase_add_test(tc, bucket_never_exceeds_rate);
    tcase_add_test(tc, bucket_unlimited);
    tcase_add_test(tc, order_budget_kinds_and_pause);
    tcase_add_test(tc, sort_ari_first);
    tcase_add_loop_test(tc, rate_parse_table, 0,
                        (int)(sizeof(rate_cases) / sizeof(rate_cases[0])));
    tcase_add_test(tc, ca_limits);
    tcase_add_test(tc, endpoint_of_url);
    tcase_add_test(tc, request_rate_reserves_slots);
    tcase_add_test(tc, ca_request_limits);
    suite_add_tcase(s, tc);
    return s;
}
