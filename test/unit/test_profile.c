/* ACME profiles: the choice of newOrder's profile, names, the directory's list, the limit. */
#include <stdarg.h>
#include <string.h>

#include <apr_strings.h>
#include <jansson.h>

#include "tests.h"
#include "acme_profile.h"
#include "acme_json.h"

#define CA "https://ca.test/dir"

static apr_pool_t *pool;

static void setup(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

static apr_array_header_t *list(int n, ...)
{
    apr_array_header_t *a = apr_array_make(pool, n + 1, sizeof(const char *));
    va_list ap;
    va_start(ap, n);
    while (n-- > 0) {
        APR_ARRAY_PUSH(a, const char *) = va_arg(ap, const char *);
    }
    va_end(ap);
    return a;
}

START_TEST(test_choose)
{
    static const struct {
        const char *wanted;
        int mandatory;
        int offered;               /* 0: no list, 1: classic+shortlived, 2: empty list */
        acme_profile_outcome_t outcome;
        const char *send;
        const char *msg;           /* substring of the message, NULL: no message */
    } t[] = {
        { NULL, 0, 1, ACME_PROFILE_NONE, NULL, NULL },
        { "", 1, 0, ACME_PROFILE_NONE, NULL, NULL },
        { "shortlived", 0, 1, ACME_PROFILE_OFFERED, "shortlived", NULL },
        { "shortlived", 1, 1, ACME_PROFILE_OFFERED, "shortlived", NULL },
        { "tlsserver", 0, 1, ACME_PROFILE_FALLBACK, NULL,
          "ACMEProfile tlsserver: the CA at " CA " does not offer the profile 'tlsserver' (it "
          "offers: classic, shortlived): ordering with the CA's default profile" },
        { "tlsserver", 1, 1, ACME_PROFILE_MISSING, NULL,
          "ACMEProfile tlsserver mandatory: the CA at " CA " does not offer the profile "
          "'tlsserver' (it offers: classic, shortlived); no certificate is ordered" },
        { "shortlived", 0, 0, ACME_PROFILE_FALLBACK, NULL, "(its directory lists no profiles)" },
        { "shortlived", 1, 0, ACME_PROFILE_MISSING, NULL, "(its directory lists no profiles)" },
        { "shortlived", 1, 2, ACME_PROFILE_MISSING, NULL, "(its directory lists no profiles)" },
        /* names are exact: case matters */
        { "ShortLived", 0, 1, ACME_PROFILE_FALLBACK, NULL, "'ShortLived'" },
    };
    acme_profile_choice_t c;
    size_t i;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); ++i) {
        const apr_array_header_t *off = t[i].offered == 1 ? list(2, "classic", "shortlived")
                                        : t[i].offered == 2 ? list(0) : NULL;
        acme_profile_choose(&c, pool, t[i].wanted, t[i].mandatory, off, CA);
        ck_assert_msg(c.outcome == t[i].outcome, "case %d: outcome %d", (int)i, (int)c.outcome);
        if (t[i].send) {
            ck_assert_str_eq(c.send, t[i].send);
        }
        else {
            ck_assert_ptr_null(c.send);
        }
        if (t[i].msg) {
            ck_assert_msg(c.message && strstr(c.message, t[i].msg), "case %d: message '%s'",
                          (int)i, c.message ? c.message : "(null)");
        }
        else {
            ck_assert_ptr_null(c.message);
        }
    }
}
END_TEST

START_TEST(test_name_ok)
{
    static const char *const good[] = { "classic", "tlsserver", "shortlived", "a", "x.y_z-1",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._" };
    static const char *const bad[] = { "", "two words", "a/b", "x\"y", "é",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-", "tab\t" };
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); ++i) {
        ck_assert_msg(acme_profile_name_ok(good[i]), "refused %s", good[i]);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        ck_assert_msg(!acme_profile_name_ok(bad[i]), "accepted %s", bad[i]);
    }
    ck_assert(!acme_profile_name_ok(NULL));
}
END_TEST

START_TEST(test_names_warning)
{
    const char *w;

    ck_assert_ptr_null(acme_profile_names_warning(pool, NULL, 100));
    ck_assert_ptr_null(acme_profile_names_warning(pool, "", 100));
    ck_assert_ptr_null(acme_profile_names_warning(pool, "tlsserver", ACME_PROFILE_NAMES_LIMIT));
    ck_assert_ptr_null(acme_profile_names_warning(pool, "classic", 100)); /* 100 allowed */
    w = acme_profile_names_warning(pool, "tlsserver", ACME_PROFILE_NAMES_LIMIT + 1);
    ck_assert_ptr_nonnull(w);
    ck_assert_ptr_nonnull(strstr(w, "26 names with ACMEProfile tlsserver"));
    ck_assert_ptr_nonnull(strstr(w, "at most 25 names"));
}
END_TEST

static apr_array_header_t *offered(const char *meta_text)
{
    json_t *j = acme_json_pool(pool, json_loads(meta_text, 0, NULL));
    return acme_profile_offered(pool, j);
}

START_TEST(test_offered)
{
    apr_array_header_t *a;

    /* the draft's form: an object of name -> description (as pebble and Let's Encrypt) */
    a = offered("{\"profiles\":{\"classic\":\"90 days\",\"shortlived\":\"6 days\"},"
                "\"termsOfService\":\"x\"}");
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(a->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(a, 0, const char *), "classic");
    ck_assert_str_eq(APR_ARRAY_IDX(a, 1, const char *), "shortlived");
    /* an array of names is taken too; other members are skipped */
    a = offered("{\"profiles\":[\"tlsserver\",7,\"classic\"]}");
    ck_assert_int_eq(a->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(a, 1, const char *), "classic");
    ck_assert_ptr_null(offered("{\"profiles\":{}}"));
    ck_assert_ptr_null(offered("{\"profiles\":\"classic\"}"));
    ck_assert_ptr_null(offered("{\"termsOfService\":\"x\"}"));
    ck_assert_ptr_null(offered("[1]"));
    ck_assert_ptr_null(acme_profile_offered(pool, NULL));
}
END_TEST

START_TEST(test_describe)
{
    ck_assert_ptr_null(acme_profile_describe(pool, NULL, 1));
    ck_assert_ptr_null(acme_profile_describe(pool, "", 0));
    ck_assert_str_eq(acme_profile_describe(pool, "shortlived", 0), "shortlived");
    ck_assert_str_eq(acme_profile_describe(pool, "shortlived", 1),
                     "shortlived (not offered by the CA: its default profile was used)");
}
END_TEST

Suite *profile_suite(void)
{
    Suite *s = suite_create("profile");
    TCase *tc = tcase_create("profile");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_choose);
    tcase_add_test(tc, test_name_ok);
    tcase_add_test(tc, test_names_warning);
    tcase_add_test(tc, test_offered);
    tcase_add_test(tc, test_describe);
    suite_add_tcase(s, tc);
    return s;
}
