/* Unit tests for acme_settings: whose settings a shared certificate takes, what conflicts. */
#include <string.h>

#include <apr_strings.h>

#include "tests.h"
#include "acme_settings.h"

static apr_pool_t *pool;

static void setup(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

enum { KEY, RENEW, CHALL, NSET };
static const char *const directives[NSET] = { "ACMEKeyType", "ACMERenewWindow",
                                                "ACMEChallenges" };

static acme_settings_rec_t *rec(const char *where, const char *names, int https,
                                const char *key, const char *renew, const char *chall)
{
    acme_settings_rec_t *r = apr_pcalloc(pool, sizeof(*r));
    r->where = where;
    r->names = names;
    r->https = https;
    r->values[KEY] = key;
    r->values[RENEW] = renew;
    r->values[CHALL] = chall;
    return r;
}

static apr_array_header_t *recs(int n, ...)
{
    apr_array_header_t *a = apr_array_make(pool, n, sizeof(acme_settings_rec_t *));
    va_list ap;
    int i;
    va_start(ap, n);
    for (i = 0; i < n; ++i) {
        APR_ARRAY_PUSH(a, acme_settings_rec_t *) = va_arg(ap, acme_settings_rec_t *);
    }
    va_end(ap);
    return a;
}

/* The https vhost wins over its plain-http twin whatever the order. */
START_TEST(https_wins_either_order)
{
    acme_settings_rec_t *tls = rec("A:1", "x.test", 1, "rsa2048", "10d", NULL);
    acme_settings_rec_t *plain = rec("A:9", "x.test", 0, "p384", "20d", "http-01");
    int w[NSET];

    acme_settings_pick(w, recs(2, tls, plain), NSET);
    ck_assert_int_eq(w[KEY], 0);
    ck_assert_int_eq(w[RENEW], 0);
    ck_assert_int_eq(w[CHALL], 1); /* only the plain-http twin wrote it: it applies */
    acme_settings_pick(w, recs(2, plain, tls), NSET);
    ck_assert_int_eq(w[KEY], 1);
    ck_assert_int_eq(w[RENEW], 1);
    ck_assert_int_eq(w[CHALL], 0);
    ck_assert_int_eq(acme_settings_conflicts(pool, recs(2, plain, tls), directives, NSET)->nelts,
                     0);
}
END_TEST

START_TEST(unset_is_no_conflict)
{
    acme_settings_rec_t *a = rec("A:1", "x.test", 1, "rsa2048", NULL, NULL);
    acme_settings_rec_t *b = rec("A:5", "x.test", 1, NULL, "10d", NULL);
    acme_settings_rec_t *c = rec("A:9", "x.test", 1, "rsa2048", NULL, NULL);
    int w[NSET];

    acme_settings_pick(w, recs(3, a, b, c), NSET);
    ck_assert_int_eq(w[KEY], 0);
    ck_assert_int_eq(w[RENEW], 1);
    ck_assert_int_eq(w[CHALL], -1); /* nobody wrote it: the server-wide value */
    ck_assert_int_eq(acme_settings_conflicts(pool, recs(3, a, b, c), directives, NSET)->nelts,
                     0);
}
END_TEST

START_TEST(two_https_conflict_names_both_places)
{
    acme_settings_rec_t *a = rec("VirtualHost at /c/a.conf:3", "www.x.test x.test", 1,
                                 "rsa2048", "10d", NULL);
    acme_settings_rec_t *b = rec("VirtualHost at /c/b.conf:7", "www.x.test x.test", 1,
                                 "p256", "10d", NULL);
    apr_array_header_t *errs = acme_settings_conflicts(pool, recs(2, a, b), directives, NSET);
    const char *msg;

    ck_assert_int_eq(errs->nelts, 1);
    msg = APR_ARRAY_IDX(errs, 0, const char *);
    ck_assert_ptr_nonnull(strstr(msg, "ACMEKeyType"));
    ck_assert_ptr_nonnull(strstr(msg, "/c/a.conf:3"));
    ck_assert_ptr_nonnull(strstr(msg, "/c/b.conf:7"));
    ck_assert_ptr_nonnull(strstr(msg, "'rsa2048'"));
    ck_assert_ptr_nonnull(strstr(msg, "'p256'"));
    ck_assert_ptr_nonnull(strstr(msg, "www.x.test x.test"));
    ck_assert_ptr_null(strstr(msg, "ACMERenewWindow")); /* equal values: no conflict */
}
END_TEST

/* Plain-http values only decide (and only conflict) when no https vhost wrote the setting
 * and the name set has an https vhost at all. */
START_TEST(plain_http_conflicts)
{
    acme_settings_rec_t *tls = rec("A:1", "x.test", 1, NULL, NULL, NULL);
    acme_settings_rec_t *p1 = rec("A:5", "x.test", 0, "p384", NULL, NULL);
    acme_settings_rec_t *p2 = rec("A:9", "x.test", 0, "rsa2048", NULL, NULL);
    acme_settings_rec_t *tls_key = rec("A:1", "x.test", 1, "p256", NULL, NULL);
    acme_settings_rec_t *q1 = rec("B:5", "y.test", 0, "p384", NULL, NULL);
    acme_settings_rec_t *q2 = rec("B:9", "y.test", 0, "rsa2048", NULL, NULL);

    ck_assert_int_eq(acme_settings_conflicts(pool, recs(3, p1, tls, p2), directives,
                                             NSET)->nelts, 1);
    ck_assert_int_eq(acme_settings_conflicts(pool, recs(3, p1, tls_key, p2), directives,
                                             NSET)->nelts, 0);
    ck_assert_int_eq(acme_settings_conflicts(pool, recs(2, q1, q2), directives, NSET)->nelts,
                     0);
}
END_TEST

/* Different name sets are different certificates; vhosts without names take no part. */
START_TEST(groups_are_separate)
{
    acme_settings_rec_t *a = rec("A:1", "x.test", 1, "rsa2048", NULL, NULL);
    acme_settings_rec_t *b = rec("A:5", "www.x.test x.test", 1, "p256", NULL, NULL);
    acme_settings_rec_t *c = rec("A:9", NULL, 1, "p384", NULL, NULL);
    acme_settings_rec_t *d = rec("A:12", "x.test", 1, "rsa2048", "33%", "dns-01");
    acme_settings_rec_t *e = rec("A:15", "x.test", 1, "rsa4096", "10%", "dns-01");
    apr_array_header_t *errs;

    ck_assert_int_eq(acme_settings_conflicts(pool, recs(4, a, b, c, d), directives,
                                             NSET)->nelts, 0);
    errs = acme_settings_conflicts(pool, recs(5, a, b, c, d, e), directives, NSET);
    ck_assert_int_eq(errs->nelts, 2); /* key type (a vs e) and renew window (d vs e) */
    ck_assert_ptr_nonnull(strstr(APR_ARRAY_IDX(errs, 0, const char *), "ACMEKeyType"));
    ck_assert_ptr_nonnull(strstr(APR_ARRAY_IDX(errs, 1, const char *), "ACMERenewWindow"));
    ck_assert_int_eq(acme_settings_conflicts(pool, recs(0), directives, NSET)->nelts, 0);
}
END_TEST

START_TEST(groups_and_challenges)
{
    acme_settings_rec_t *a = rec("A:1", "x.test", 0, NULL, NULL, NULL);
    acme_settings_rec_t *b = rec("A:5", "y.test", 1, NULL, NULL, NULL);
    acme_settings_rec_t *c = rec("A:9", "x.test", 1, NULL, NULL, NULL);
    acme_settings_rec_t *d = rec("A:12", NULL, 1, NULL, NULL, NULL);
    apr_array_header_t *g = acme_settings_groups(pool, recs(4, a, b, c, d));
    apr_array_header_t *types = apr_array_make(pool, 2, sizeof(const char *));

    ck_assert_int_eq(g->nelts, 2);
    ck_assert_int_eq(APR_ARRAY_IDX(g, 0, apr_array_header_t *)->nelts, 2); /* a, c */
    ck_assert_ptr_eq(APR_ARRAY_IDX(APR_ARRAY_IDX(g, 0, apr_array_header_t *), 1,
                                   acme_settings_rec_t *), c);
    ck_assert_int_eq(acme_settings_group_https(APR_ARRAY_IDX(g, 0, apr_array_header_t *)), 1);
    ck_assert_int_eq(acme_settings_group_https(recs(1, a)), 0);

    ck_assert_ptr_null(acme_settings_challenges_problem(NULL, 0)); /* automatic */
    APR_ARRAY_PUSH(types, const char *) = "dns-01";
    ck_assert_ptr_nonnull(acme_settings_challenges_problem(types, 0));
    ck_assert_ptr_null(acme_settings_challenges_problem(types, 1));
    APR_ARRAY_PUSH(types, const char *) = "http-01";
    ck_assert_ptr_null(acme_settings_challenges_problem(types, 0));
}
END_TEST

Suite *settings_suite(void)
{
    Suite *s = suite_create("settings");
    TCase *tc = tcase_create("settings");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, https_wins_either_order);
    tcase_add_test(tc, unset_is_no_conflict);
    tcase_add_test(tc, two_https_conflict_names_both_places);
    tcase_add_test(tc, plain_http_conflicts);
    tcase_add_test(tc, groups_are_separate);
    tcase_add_test(tc, groups_and_challenges);
    suite_add_tcase(s, tc);
    return s;
}
