/* acme_chains: which of the chains a CA offers matches ACMEPreferredChain. Chains are made
 * here with OpenSSL: two roots, one intermediate (same subject and key) under each, as CAs
 * with alternate chains (and pebble's PEBBLE_ALTERNATE_ROOTS) serve them. */
#include <string.h>

#include <apr_strings.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tests.h"
#include "unit_helpers.h"
#include "acme_chains.h"

static apr_pool_t *pool;
static EVP_PKEY *k_root_a, *k_root_b, *k_inter, *k_leaf;
static X509 *root_a, *root_b, *inter_a, *inter_b, *leaf;

static X509 *mk(const char *cn, EVP_PKEY *pub, X509 *issuer, EVP_PKEY *issuer_key, int ca)
{
    return unit_cert_make(pool, cn, pub, issuer, issuer_key, ca, NULL, -3600, 86400, NULL);
}

static apr_array_header_t *chain_of(X509 *a, X509 *b, X509 *c)
{
    apr_array_header_t *ch = apr_array_make(pool, 3, sizeof(X509 *));
    APR_ARRAY_PUSH(ch, X509 *) = a;
    if (b) {
        APR_ARRAY_PUSH(ch, X509 *) = b;
    }
    if (c) {
        APR_ARRAY_PUSH(ch, X509 *) = c;
    }
    return ch;
}

static void setup(void)
{
    apr_pool_create(&pool, NULL);
    k_root_a = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    k_root_b = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    k_inter = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    k_leaf = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    root_a = mk("Root A", k_root_a, NULL, k_root_a, 1);
    root_b = mk("Root X2", k_root_b, NULL, k_root_b, 1);
    inter_a = mk("Intermediate E1", k_inter, root_a, k_root_a, 1);
    inter_b = mk("Intermediate E1", k_inter, root_b, k_root_b, 1);
    leaf = mk("www.example.org", k_leaf, inter_a, k_inter, 0);
}

static void teardown(void)
{
    X509_free(root_a);
    X509_free(root_b);
    X509_free(inter_a);
    X509_free(inter_b);
    X509_free(leaf);
    EVP_PKEY_free(k_root_a);
    EVP_PKEY_free(k_root_b);
    EVP_PKEY_free(k_inter);
    EVP_PKEY_free(k_leaf);
    apr_pool_destroy(pool);
}

/* The chains a CA offers: default (leaf, intermediate under A), alternate (under X2). */
static apr_array_header_t *offered(void)
{
    apr_array_header_t *chains = apr_array_make(pool, 2, sizeof(apr_array_header_t *));
    APR_ARRAY_PUSH(chains, apr_array_header_t *) = chain_of(leaf, inter_a, NULL);
    APR_ARRAY_PUSH(chains, apr_array_header_t *) = chain_of(leaf, inter_b, NULL);
    return chains;
}

START_TEST(top_issuer)
{
    ck_assert_str_eq(acme_chain_top_issuer(pool, chain_of(leaf, inter_b, NULL)), "Root X2");
    ck_assert_str_eq(acme_chain_top_issuer(pool, chain_of(leaf, NULL, NULL)), "Intermediate E1");
    /* a chain that ends in its self-signed root: the root's own name */
    ck_assert_str_eq(acme_chain_top_issuer(pool, chain_of(leaf, inter_a, root_a)), "Root A");
    ck_assert_ptr_null(acme_chain_top_issuer(pool, apr_array_make(pool, 1, sizeof(X509 *))));
    ck_assert_ptr_null(acme_chain_top_issuer(pool, NULL));
}
END_TEST

START_TEST(select_by_top_issuer)
{
    apr_array_header_t *chains = offered();

    ck_assert_int_eq(acme_chain_select(pool, chains, "Root A"), 0);
    ck_assert_int_eq(acme_chain_select(pool, chains, "Root X2"), 1);
    /* ASCII case does not matter */
    ck_assert_int_eq(acme_chain_select(pool, chains, "root x2"), 1);
    ck_assert_int_eq(acme_chain_select(pool, chains, "ROOT A"), 0);
    /* no chain ends there: -1 (the caller keeps the default) */
    ck_assert_int_eq(acme_chain_select(pool, chains, "Root X3"), -1);
    ck_assert_int_eq(acme_chain_select(pool, chains, "Root"), -1);
    ck_assert_int_eq(acme_chain_select(pool, chains, ""), -1);
    ck_assert_int_eq(acme_chain_select(pool, chains, NULL), -1);
    /* the top certificate's own subject is not what is matched (both chains share it) */
    ck_assert_int_eq(acme_chain_select(pool, chains, "Intermediate E1"), -1);
    ck_assert_int_eq(acme_chain_select(pool, NULL, "Root A"), -1);
}
END_TEST

START_TEST(select_first_of_equal_and_with_root)
{
    apr_array_header_t *chains = apr_array_make(pool, 3, sizeof(apr_array_header_t *));

    APR_ARRAY_PUSH(chains, apr_array_header_t *) = chain_of(leaf, inter_a, NULL);
    APR_ARRAY_PUSH(chains, apr_array_header_t *) = chain_of(leaf, inter_b, root_b);
    APR_ARRAY_PUSH(chains, apr_array_header_t *) = chain_of(leaf, inter_b, NULL);
    /* the second and third both end at Root X2: the first of them */
    ck_assert_int_eq(acme_chain_select(pool, chains, "Root X2"), 1);
}
END_TEST

START_TEST(pref_warning)
{
    const char *w;

    ck_assert_ptr_null(acme_chain_pref_warning(pool, NULL, "Root A"));
    ck_assert_ptr_null(acme_chain_pref_warning(pool, "", "Root A"));
    ck_assert_ptr_null(acme_chain_pref_warning(pool, "root a", "Root A"));
    ck_assert_ptr_null(acme_chain_pref_warning(pool, "Root A", NULL)); /* not recorded */
    w = acme_chain_pref_warning(pool, "Root X2", "Root A");
    ck_assert_ptr_nonnull(w);
    ck_assert_ptr_nonnull(strstr(w, "'Root X2'"));
    ck_assert_ptr_nonnull(strstr(w, "ends at 'Root A'"));
}
END_TEST

Suite *chains_suite(void)
{
    Suite *s = suite_create("chains");
    TCase *tc = tcase_create("chains");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, top_issuer);
    tcase_add_test(tc, select_by_top_issuer);
    tcase_add_test(tc, select_first_of_equal_and_with_root);
    tcase_add_test(tc, pref_warning);
    suite_add_tcase(s, tc);
    return s;
}
