/* acme_stateless (ACMEStatelessHTTP01): the answer token "." thumbprint of the account in
 * use, only for well-formed tokens on the table's hosts, from a real filesystem store with
 * a real sealed account key. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_strings.h>

#include "tests.h"
#include "unit_helpers.h"
#include "acme_stateless.h"
#include "acme_account.h"
#include "acme_crypto.h"
#include "acme_jws.h"

#define CA  "https://ca.test/dir"
#define CA2 "https://ca2.test/dir"
#define TOKEN "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"

static struct {
    apr_pool_t *p;
    char dir[64];
    acme_store_t *st;
    unsigned char secret[ACME_SECRET_LEN];
    acme_stateless_t *sl;
} fx;

static void setup(void)
{
    memset(&fx, 0, sizeof(fx));
    apr_pool_create(&fx.p, NULL);
    strcpy(fx.dir, "/tmp/acme-stateless-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(fx.dir));
    ck_assert_int_eq(acme_store_fs_create(&fx.st, fx.p, fx.dir), APR_SUCCESS);
    ck_assert_int_eq(acme_store_fs_setup(fx.st, -1, -1, fx.p), APR_SUCCESS);
    ck_assert_int_eq(acme_random_bytes(fx.secret, sizeof(fx.secret)), APR_SUCCESS);
    ck_assert_int_eq(acme_stateless_create(&fx.sl, fx.p, fx.st, fx.secret), APR_SUCCESS);
}

static void teardown(void)
{
    unit_rmtree(fx.dir);
    apr_pool_destroy(fx.p);
}

/* Store a new account key for ca as the account code does; its thumbprint. */
static const char *store_account(const char *ca)
{
    acme_key_t *key;
    const char *pem, *thumb;
    char *sealed;
    apr_size_t plen, slen;

    ck_assert_int_eq(acme_key_generate(&key, fx.p, ACME_KEY_EC_P256), APR_SUCCESS);
    ck_assert_int_eq(acme_key_to_pem(&pem, &plen, fx.p, key), APR_SUCCESS);
    ck_assert_int_eq(acme_seal(&sealed, &slen, fx.p, fx.secret, pem, plen), APR_SUCCESS);
    ck_assert_int_eq(acme_store_save(fx.st, ACME_GROUP_ACCOUNTS,
                                     acme_account_store_name(fx.p, ca), "key.sealed", sealed,
                                     slen, fx.p), APR_SUCCESS);
    ck_assert_int_eq(acme_jwk_thumbprint(&thumb, fx.p, key), APR_SUCCESS);
    return thumb;
}

static apr_status_t answer(const char **pbody, const char *token, const char *host)
{
    return acme_stateless_answer(pbody, fx.p, fx.sl, token, host);
}

START_TEST(test_answer_is_token_dot_thumbprint)
{
    const char *thumb = store_account(CA), *body = NULL;
    int known = -1, unknown = -1;

    acme_stateless_add(fx.sl, "www.example.org", acme_account_store_name(fx.p, CA), NULL);
    acme_stateless_add(fx.sl, "Example.ORG", acme_account_store_name(fx.p, CA), NULL);
    acme_stateless_prime(fx.sl, fx.p, &known, &unknown);
    ck_assert_int_eq(known, 1);        /* one account for both names */
    ck_assert_int_eq(unknown, 0);
    ck_assert_int_eq(acme_stateless_count(fx.sl), 2);
    ck_assert_int_eq(answer(&body, TOKEN, "www.example.org"), APR_SUCCESS);
    ck_assert_str_eq(body, apr_pstrcat(fx.p, TOKEN, ".", thumb, NULL));
    /* any case, and a token the module never saw */
    ck_assert_int_eq(answer(&body, "x", "EXAMPLE.org"), APR_SUCCESS);
    ck_assert_str_eq(body, apr_pstrcat(fx.p, "x.", thumb, NULL));
    /* a key rollover (acmectl) replaces key.sealed: the new thumbprint at once */
    thumb = store_account(CA);
    ck_assert_int_eq(answer(&body, TOKEN, "example.org"), APR_SUCCESS);
    ck_assert_str_eq(body, apr_pstrcat(fx.p, TOKEN, ".", thumb, NULL));
    /* the account gone: nothing answered */
    unit_rmtree(apr_pstrcat(fx.p, fx.dir, "/accounts", NULL));
    ck_assert_int_eq(answer(&body, TOKEN, "example.org"), APR_ENOENT);
}
END_TEST

START_TEST(test_malformed_tokens_refused)
{
    static const char *const bad[] = { "", "..", "a.b", "../../system/secret/secret.key",
                                       "abc/def", "abc=", "abc+def", "abc%2f", "a b", NULL };
    const char *body = "x", *long_token;
    int i;

    store_account(CA);
    acme_stateless_add(fx.sl, "www.example.org", acme_account_store_name(fx.p, CA), NULL);
    acme_stateless_prime(fx.sl, fx.p, NULL, NULL);
    for (i = 0; bad[i]; ++i) {
        ck_assert_int_eq(answer(&body, bad[i], "www.example.org"), APR_EINVAL);
        ck_assert_ptr_null(body);
    }
    ck_assert_int_eq(answer(&body, NULL, "www.example.org"), APR_EINVAL);
    long_token = apr_psprintf(fx.p, "%0257d", 0);
    ck_assert_int_eq(answer(&body, long_token, "www.example.org"), APR_EINVAL);
    ck_assert_int_eq(answer(&body, long_token + 1, "www.example.org"), APR_SUCCESS);
}
END_TEST

START_TEST(test_only_hosts_of_the_table)
{
    const char *body = "x";

    store_account(CA);
    acme_stateless_add(fx.sl, "www.example.org", acme_account_store_name(fx.p, CA), NULL);
    acme_stateless_add(fx.sl, "*.example.org", acme_account_store_name(fx.p, CA), NULL);
    acme_stateless_add(fx.sl, NULL, acme_account_store_name(fx.p, CA), NULL);
    acme_stateless_add(fx.sl, "nothing.example.org", NULL, NULL);
    acme_stateless_prime(fx.sl, fx.p, NULL, NULL);
    ck_assert_int_eq(acme_stateless_count(fx.sl), 1);
    ck_assert_int_eq(answer(&body, TOKEN, "other.example.org"), APR_EACCES);
    ck_assert_ptr_null(body);
    ck_assert_int_eq(answer(&body, TOKEN, "a.example.org"), APR_EACCES);  /* no wildcard */
    ck_assert_int_eq(answer(&body, TOKEN, "*.example.org"), APR_EACCES);
    ck_assert_int_eq(answer(&body, TOKEN, NULL), APR_EACCES);
    ck_assert_int_eq(answer(&body, TOKEN, "nothing.example.org"), APR_EACCES);
}
END_TEST

START_TEST(test_account_created_after_start)
{
    const char *body = "x", *thumb;
    int known = -1, unknown = -1;

    acme_stateless_add(fx.sl, "www.example.org", acme_account_store_name(fx.p, CA), NULL);
    acme_stateless_prime(fx.sl, fx.p, &known, &unknown);
    ck_assert_int_eq(known, 0);
    ck_assert_int_eq(unknown, 1);
    ck_assert_int_eq(answer(&body, TOKEN, "www.example.org"), APR_ENOENT);
    ck_assert_ptr_null(body);
    /* the watchdog creates the account later: read from the store per request */
    thumb = store_account(CA);
    ck_assert_int_eq(answer(&body, TOKEN, "www.example.org"), APR_SUCCESS);
    ck_assert_str_eq(body, apr_pstrcat(fx.p, TOKEN, ".", thumb, NULL));
}
END_TEST

START_TEST(test_alt_entry_and_damaged_key)
{
    const char *body = NULL, *thumb2 = store_account(CA2);

    /* the first entry (e.g. the EAB account) is missing: the second is used */
    acme_stateless_add(fx.sl, "a.example.org", acme_account_store_name(fx.p, CA),
                       acme_account_store_name(fx.p, CA2));
    ck_assert_int_eq(answer(&body, TOKEN, "a.example.org"), APR_SUCCESS);
    ck_assert_str_eq(body, apr_pstrcat(fx.p, TOKEN, ".", thumb2, NULL));
    /* an unusable key answers nothing (and never anything else) */
    ck_assert_int_eq(acme_store_save(fx.st, ACME_GROUP_ACCOUNTS,
                                     acme_account_store_name(fx.p, CA), "key.sealed",
                                     "garbage", 7, fx.p), APR_SUCCESS);
    acme_stateless_add(fx.sl, "b.example.org", acme_account_store_name(fx.p, CA), NULL);
    ck_assert_int_eq(answer(&body, TOKEN, "b.example.org"), APR_ENOENT);
    ck_assert_ptr_null(body);
    ck_assert_int_ne(acme_stateless_thumbprint(&body, fx.p, fx.st, fx.secret,
                                               acme_account_store_name(fx.p, CA)),
                     APR_SUCCESS);
}
END_TEST

Suite *stateless_suite(void)
{
    Suite *s = suite_create("stateless");
    TCase *tc = tcase_create("answer");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_answer_is_token_dot_thumbprint);
    tcase_add_test(tc, test_malformed_tokens_refused);
    tcase_add_test(tc, test_only_hosts_of_the_table);
    tcase_add_test(tc, test_account_created_after_start);
    tcase_add_test(tc, test_alt_entry_and_damaged_key);
    suite_add_tcase(s, tc);
    return s;
}
