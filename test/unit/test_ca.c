/* acme_ca (known CA names, which CA an attempt uses) and acme_ca_set (a client and an
 * account per CA, against a scripted CA: fake_http). */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <ftw.h>

#include <apr_strings.h>

#include "tests.h"
#include "fake_http.h"
#include "acme_ca.h"
#include "acme_ca_set.h"
#include "acme_crypto.h"
#include "acme_store.h"

#define LE "https://acme-v02.api.letsencrypt.org/directory"

/* acme_ca_pick: n CAs, failures so far, threshold -> CA index of the next attempt. */
static const struct {
    int n, failures, threshold, want;
} picks[] = {
    { 1, 0, 3, 0 }, { 1, 7, 3, 0 },              /* one CA: always it */
    { 2, 0, 3, 0 }, { 2, 1, 3, 0 }, { 2, 2, 3, 0 }, /* below the threshold: the first */
    { 2, 3, 3, 1 }, { 2, 4, 3, 1 }, { 2, 5, 3, 1 }, /* 3 failed in a row: the second */
    { 2, 6, 3, 0 }, { 2, 8, 3, 0 }, { 2, 9, 3, 1 }, /* the second failed 3 times: first */
    { 3, 3, 3, 1 }, { 3, 6, 3, 2 }, { 3, 9, 3, 0 }, { 3, 11, 3, 0 },
    { 3, 1, 1, 1 }, { 3, 2, 1, 2 }, { 3, 3, 1, 0 }, /* threshold 1: each failure moves on */
    { 2, -1, 3, 0 }, { 0, 5, 3, 0 }, { 2, 5, 0, 0 }, /* nonsense in: the first CA */
    { 2, ACME_CA_FAILOVER_THRESHOLD - 1, ACME_CA_FAILOVER_THRESHOLD, 0 },
    { 2, ACME_CA_FAILOVER_THRESHOLD, ACME_CA_FAILOVER_THRESHOLD, 1 },
};

START_TEST(test_pick_table)
{
    ck_assert_msg(acme_ca_pick(picks[_i].n, picks[_i].failures, picks[_i].threshold)
                  == picks[_i].want, "n %d, failures %d, threshold %d: want CA %d, got %d",
                  picks[_i].n, picks[_i].failures, picks[_i].threshold, picks[_i].want,
                  acme_ca_pick(picks[_i].n, picks[_i].failures, picks[_i].threshold));
}
END_TEST

/* After a success (failures 0) the next order goes to the first CA again, whichever CA
 * the last certificate came from. */
START_TEST(test_pick_back_to_first)
{
    int f;
    for (f = 0; f < 40; ++f) {
        int k = acme_ca_pick(2, f, ACME_CA_FAILOVER_THRESHOLD);
        ck_assert_int_ge(k, 0);
        ck_assert_int_lt(k, 2);
    }
    ck_assert_int_eq(acme_ca_pick(2, 0, ACME_CA_FAILOVER_THRESHOLD), 0);
}
END_TEST

START_TEST(test_known_names)
{
    apr_pool_t *p;
    const char *url, *err;

    apr_pool_create(&p, NULL);
    ck_assert_str_eq(acme_ca_known_url("letsencrypt"), LE);
    ck_assert_str_eq(acme_ca_known_url("LetsEncrypt"), LE);
    ck_assert_str_eq(acme_ca_known_url("letsencrypt-staging"),
                     "https://acme-staging-v02.api.letsencrypt.org/directory");
    ck_assert_str_eq(acme_ca_known_url("zerossl"), "https://acme.zerossl.com/v2/DV90");
    ck_assert_str_eq(acme_ca_known_url("google"),
                     "https://dv.acme-v02.api.pki.goog/directory");
    ck_assert_str_eq(acme_ca_known_url("google-staging"),
                     "https://dv.acme-v02.test-api.pki.goog/directory");
    ck_assert_ptr_null(acme_ca_known_url("buypass"));
    ck_assert_ptr_null(acme_ca_known_url(NULL));
    ck_assert_str_eq(acme_ca_known_name("https://acme.zerossl.com/v2/DV90"), "zerossl");
    ck_assert_ptr_null(acme_ca_known_name("https://127.0.0.1:14000/dir"));
    ck_assert_str_eq(acme_ca_label(p, LE), LE " (letsencrypt)");
    ck_assert_str_eq(acme_ca_label(p, "https://ca.test/dir"), "https://ca.test/dir");
    ck_assert_str_eq(acme_ca_label(p, NULL), "-");

    ck_assert_int_eq(acme_ca_resolve(&url, &err, p, "google"), APR_SUCCESS);
    ck_assert_str_eq(url, "https://dv.acme-v02.api.pki.goog/directory");
    ck_assert_int_eq(acme_ca_resolve(&url, &err, p, "https://127.0.0.1:14000/dir"),
                     APR_SUCCESS);
    ck_assert_str_eq(url, "https://127.0.0.1:14000/dir");
    ck_assert_int_eq(acme_ca_resolve(&url, &err, p, "Buypass"), APR_EINVAL);
    ck_assert_ptr_null(url);
    ck_assert_ptr_nonnull(strstr(err, "closed its ACME service"));
    ck_assert_ptr_nonnull(strstr(err, "zerossl"));
    ck_assert_int_eq(acme_ca_resolve(&url, &err, p, "ftp://ca.test/dir"), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "https://"));
    ck_assert_int_eq(acme_ca_resolve(&url, &err, p, "https:///dir"), APR_EINVAL);
    ck_assert_int_eq(acme_ca_resolve(&url, &err, p, "lets-encrypt"), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "letsencrypt, letsencrypt-staging, zerossl, google, "
                                      "google-staging"));
    apr_pool_destroy(p);
}
END_TEST

START_TEST(test_index)
{
    apr_pool_t *p;
    apr_array_header_t *a;

    apr_pool_create(&p, NULL);
    a = apr_array_make(p, 2, sizeof(const char *));
    APR_ARRAY_PUSH(a, const char *) = "https://a.test/dir";
    APR_ARRAY_PUSH(a, const char *) = "https://b.test/dir";
    ck_assert_int_eq(acme_ca_index(a, "https://b.test/dir"), 1);
    ck_assert_int_eq(acme_ca_index(a, "https://a.test/dir"), 0);
    ck_assert_int_eq(acme_ca_index(a, "https://c.test/dir"), -1);
    ck_assert_int_eq(acme_ca_index(a, NULL), -1);
    ck_assert_int_eq(acme_ca_index(NULL, "https://a.test/dir"), -1);
    /* the issuing CA answers ARI and may be told "replaces"; one no longer listed or
     * unknown: the first */
    ck_assert_int_eq(acme_ca_issuer_index(a, "https://b.test/dir"), 1);
    ck_assert_int_eq(acme_ca_issuer_index(a, "https://a.test/dir"), 0);
    ck_assert_int_eq(acme_ca_issuer_index(a, "https://gone.test/dir"), 0);
    ck_assert_int_eq(acme_ca_issuer_index(a, NULL), 0);
    apr_pool_destroy(p);
}
END_TEST

/* ---- acme_ca_set ------------------------------------------------------------------- */

#define CA_A "https://a.test/dir"
#define CA_B "https://b.test/dir"
#define DIR_B "{\"newNonce\":\"https://b.test/nonce\",\"newAccount\":\"https://b.test/acct\"," \
              "\"newOrder\":\"https://b.test/order\"}"

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

START_TEST(test_set_accounts)
{
    apr_pool_t *p;
    char dir[] = "/tmp/acme-ca-XXXXXX";
    unsigned char secret[ACME_SECRET_LEN];
    acme_store_t *st;
    fake_http_t *f;
    acme_ca_set_t *s;
    apr_array_header_t *urls;
    acme_driver_env_t tmpl;
    acme_account_spec_t as;
    acme_result_t res;
    fake_answer_t *a;

    apr_pool_create(&p, NULL);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(acme_store_fs_create(&st, p, dir), APR_SUCCESS);
    ck_assert_int_eq(acme_store_fs_setup(st, -1, -1, p), APR_SUCCESS);
    ck_assert_int_eq(acme_random_bytes(secret, sizeof(secret)), APR_SUCCESS);
    f = fake_http_create(p);
    urls = apr_array_make(p, 2, sizeof(const char *));
    memset(&tmpl, 0, sizeof(tmpl));
    tmpl.store = st;
    tmpl.secret = secret;
    tmpl.poll_default = 7;
    ck_assert_int_eq(acme_ca_set_create(&s, p, fake_http_get(f), urls, &tmpl), APR_EINVAL);
    APR_ARRAY_PUSH(urls, const char *) = CA_A;
    APR_ARRAY_PUSH(urls, const char *) = CA_B;
    ck_assert_int_eq(acme_ca_set_create(&s, p, fake_http_get(f), urls, &tmpl), APR_SUCCESS);

    ck_assert_int_eq(acme_ca_set_count(s), 2);
    ck_assert_str_eq(acme_ca_set_url(s, 1), CA_B);
    ck_assert_ptr_null(acme_ca_set_url(s, 2));
    ck_assert_str_eq(acme_client_directory_url(acme_ca_set_client(s, 0)), CA_A);
    ck_assert_str_eq(acme_client_directory_url(acme_ca_set_client(s, 1)), CA_B);
    ck_assert_ptr_eq(acme_ca_set_env(s, 1)->client, acme_ca_set_client(s, 1));
    ck_assert(acme_ca_set_env(s, 1)->store == st && acme_ca_set_env(s, 1)->poll_default == 7);

    memset(&as, 0, sizeof(as));
    as.contacts = apr_array_make(p, 1, sizeof(const char *));
    as.agree_tos = 1;
    /* CA A down: no account there, and the next call tries again */
    fake_http_expect(f, "GET", CA_A, 503, "down");
    acme_result_reset(&res);
    ck_assert_int_ne(acme_ca_set_account(s, 0, &as, p, &res), APR_SUCCESS);
    /* CA B: an account of its own, created once */
    fake_http_expect(f, "GET", CA_B, 200, DIR_B);
    fake_http_expect(f, "HEAD", "https://b.test/nonce", 200, NULL);
    a = fake_http_expect(f, "POST", "https://b.test/acct", 201, "{\"status\":\"valid\"}");
    fake_answer_header(a, "Location", "https://b.test/acct/1", 0);
    acme_result_reset(&res);
    ck_assert_int_eq(acme_ca_set_account(s, 1, &as, p, &res), APR_SUCCESS);
    ck_assert_str_eq(acme_client_account_url(acme_ca_set_client(s, 1)), "https://b.test/acct/1");
    ck_assert_ptr_null(acme_client_account_url(acme_ca_set_client(s, 0)));
    ck_assert_int_eq(fake_http_count(f), 4);
    ck_assert_int_eq(acme_ca_set_account(s, 1, &as, p, &res), APR_SUCCESS);
    ck_assert_int_eq(fake_http_count(f), 4);           /* from the store: no request */
    ck_assert_uint_eq(acme_ca_set_request_count(s), 4);
    fake_http_expect(f, "GET", CA_A, 503, "down");
    ck_assert_int_ne(acme_ca_set_account(s, 0, &as, p, &res), APR_SUCCESS);
    ck_assert_int_eq(fake_http_count(f), 5);           /* A was tried again */
    ck_assert_int_eq(acme_ca_set_account(s, 2, &as, p, &res), APR_EINVAL);
    ck_assert_int_eq(fake_http_remaining(f), 0);
    acme_result_reset(&res);                           /* B: loaded again from the store */
    ck_assert_int_eq(acme_ca_set_account(s, 1, &as, p, &res), APR_SUCCESS);
    ck_assert_str_eq(acme_client_account_url(acme_ca_set_client(s, 1)), "https://b.test/acct/1");

    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    apr_pool_destroy(p);
}
END_TEST

Suite *ca_suite(void)
{
    Suite *s = suite_create("ca");
    TCase *tc = tcase_create("failover");
    tcase_add_loop_test(tc, test_pick_table, 0, (int)(sizeof(picks) / sizeof(picks[0])));
    tcase_add_test(tc, test_pick_back_to_first);
    tcase_add_test(tc, test_known_names);
    tcase_add_test(tc, test_index);
    tcase_add_test(tc, test_set_accounts);
    suite_add_tcase(s, tc);
    return s;
}
