/* Unit tests for acme_ident (RFC 8738): "dns" or "ip" identifiers, canonical addresses,
 * reverse-DNS names, the profile rule; and IP addresses in CSRs, certificates and the
 * check of an issued set. */
#include <string.h>

#include <apr_strings.h>
#include <jansson.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tests.h"
#include "unit_helpers.h"
#include "acme.h"
#include "acme_cert.h"
#include "acme_crypto.h"
#include "acme_ident.h"
#include "acme_util.h"
#include "acme_verify.h"

static apr_pool_t *pool;

static void setup(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

START_TEST(ip_or_dns)
{
    static const struct { const char *in, *canon; } cases[] = {
        { "127.0.0.1", "127.0.0.1" },
        { "192.0.2.10", "192.0.2.10" },
        { "::1", "::1" },
        { "[::1]", "::1" },
        { "2001:DB8:0:0:0:0:0:1", "2001:db8::1" },
        { "[2001:db8::a]", "2001:db8::a" },
        { "::ffff:192.0.2.1", "::ffff:192.0.2.1" },
        /* not addresses */
        { "www.example.org", NULL }, { "1.2.3", NULL }, { "1.2.3.4.5", NULL },
        { "256.1.1.1", NULL }, { "01.2.3.4", NULL }, { "1.2.3.4.example.org", NULL },
        { "[::1", NULL }, { "::1]", NULL }, { "[]", NULL }, { "[1.2.3.4]", NULL },
        { "", NULL }, { "*.example.org", NULL }, { "fe80::1%eth0", NULL },
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
        const char *got = acme_ident_ip(pool, cases[i].in);
        if (cases[i].canon) {
            ck_assert_msg(got && !strcmp(got, cases[i].canon), "%s -> %s", cases[i].in,
                          got ? got : "(null)");
            ck_assert_str_eq(acme_ident_type(cases[i].in), ACME_IDENT_IP);
        }
        else {
            ck_assert_msg(got == NULL, "%s is no address, got %s", cases[i].in, got);
            ck_assert_str_eq(acme_ident_type(cases[i].in), ACME_IDENT_DNS);
        }
    }
    ck_assert_ptr_null(acme_ident_ip(pool, NULL));
}
END_TEST

START_TEST(order_identifiers)
{
    static const char *const list[] = { "a.example.org", "127.0.0.1", "[::1]", NULL };
    json_t *ids = acme_ident_json(unit_names(pool, list));
    char *text = json_dumps(ids, JSON_COMPACT);

    ck_assert_str_eq(text, "[{\"type\":\"dns\",\"value\":\"a.example.org\"},"
                           "{\"type\":\"ip\",\"value\":\"127.0.0.1\"},"
                           "{\"type\":\"ip\",\"value\":\"::1\"}]");
    free(text);
    json_decref(ids);
}
END_TEST

START_TEST(reverse_names)
{
    const char *v6 = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa";

    ck_assert_str_eq(acme_ident_reverse_name(pool, "127.0.0.1"), "1.0.0.127.in-addr.arpa");
    ck_assert_str_eq(acme_ident_reverse_name(pool, "192.0.2.10"), "10.2.0.192.in-addr.arpa");
    ck_assert_str_eq(acme_ident_reverse_name(pool, "2001:db8::1"), v6);
    ck_assert_ptr_null(acme_ident_reverse_name(pool, "www.example.org"));

    /* back, with or without the final dot, in any case */
    ck_assert_str_eq(acme_ident_from_reverse_name(pool, "1.0.0.127.in-addr.arpa"),
                     "127.0.0.1");
    ck_assert_str_eq(acme_ident_from_reverse_name(pool, "1.0.0.127.IN-ADDR.ARPA."),
                     "127.0.0.1");
    ck_assert_str_eq(acme_ident_from_reverse_name(pool, v6), "2001:db8::1");
    ck_assert_str_eq(acme_ident_from_reverse_name(pool, apr_pstrcat(pool, v6, ".", NULL)),
                     "2001:db8::1");
    ck_assert_str_eq(acme_ident_from_reverse_name(
                         pool, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
                               "IP6.ARPA"), "::1");
    /* round trip */
    ck_assert_str_eq(acme_ident_from_reverse_name(
                         pool, acme_ident_reverse_name(pool, "fd00:1:2:3::ab")),
                     "fd00:1:2:3::ab");

    /* not reverse names: too few or too many labels, bad labels, other names */
    ck_assert_ptr_null(acme_ident_from_reverse_name(pool, "0.127.in-addr.arpa"));
    ck_assert_ptr_null(acme_ident_from_reverse_name(pool, "1.1.0.0.127.in-addr.arpa"));
    ck_assert_ptr_null(acme_ident_from_reverse_name(pool, "1.0.0.256.in-addr.arpa"));
    ck_assert_ptr_null(acme_ident_from_reverse_name(pool, "1.0.00.127.in-addr.arpa"));
    ck_assert_ptr_null(acme_ident_from_reverse_name(pool, "1..0.127.in-addr.arpa"));
    ck_assert_ptr_null(acme_ident_from_reverse_name(pool, "in-addr.arpa"));
    ck_assert_ptr_null(acme_ident_from_reverse_name(pool, ".in-addr.arpa"));
    ck_assert_ptr_null(acme_ident_from_reverse_name(pool, "1.0.0.127xin-addr.arpa"));
    ck_assert_ptr_null(acme_ident_from_reverse_name(pool, "1.0.0.127.in-addr.arpa.."));
    ck_assert_ptr_null(acme_ident_from_reverse_name(pool, "g.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0"
                                                          ".0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
                                                          "ip6.arpa"));
    ck_assert_ptr_null(acme_ident_from_reverse_name(pool, "10.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0"
                                                          ".0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
                                                          "ip6.arpa"));
    ck_assert_ptr_null(acme_ident_from_reverse_name(pool, "0.0.ip6.arpa"));
    ck_assert_ptr_null(acme_ident_from_reverse_name(pool, "www.example.org"));
    ck_assert_ptr_null(acme_ident_from_reverse_name(pool, ""));
    ck_assert_ptr_null(acme_ident_from_reverse_name(pool, "."));
    ck_assert_ptr_null(acme_ident_from_reverse_name(pool, NULL));
}
END_TEST

START_TEST(profile_rule)
{
    ck_assert_ptr_null(acme_ident_ip_refused("shortlived"));
    ck_assert_ptr_nonnull(strstr(acme_ident_ip_refused(NULL), "ACMEProfile"));
    ck_assert_ptr_nonnull(acme_ident_ip_refused(""));
}
END_TEST

/* The CSR carries an address as iPAddress (4 or 16 bytes), never as dNSName, and a
 * certificate for addresses only has no common name. */
START_TEST(csr_ip_sans)
{
    static const char *const list[] = { "127.0.0.1", "a.example.org", "::1", NULL };
    static const unsigned char v4[4] = { 127, 0, 0, 1 };
    static const unsigned char v6[16] = { [15] = 1 };
    acme_key_t *key;
    const char *b64;
    unsigned char *der;
    const unsigned char *d;
    apr_size_t len;
    X509_REQ *req;
    STACK_OF(X509_EXTENSION) *exts;
    GENERAL_NAMES *gens;
    X509_NAME *subj;

    ck_assert_int_eq(acme_key_generate(&key, pool, ACME_KEY_EC_P256), APR_SUCCESS);
    ck_assert_int_eq(acme_csr_create(&b64, pool, key, unit_names(pool, list)), APR_SUCCESS);
    ck_assert_int_eq(acme_b64url_decode(&der, &len, pool, b64), APR_SUCCESS);
    d = der;
    req = d2i_X509_REQ(NULL, &d, (long)len);
    ck_assert_ptr_nonnull(req);
    subj = X509_REQ_get_subject_name(req);
    ck_assert_int_lt(X509_NAME_get_index_by_NID(subj, NID_commonName, -1), 0);
    exts = X509_REQ_get_extensions(req);
    gens = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
    ck_assert_ptr_nonnull(gens);
    ck_assert_int_eq(sk_GENERAL_NAME_num(gens), 3);
    ck_assert_int_eq(sk_GENERAL_NAME_value(gens, 0)->type, GEN_IPADD);
    ck_assert_int_eq(ASN1_STRING_length(sk_GENERAL_NAME_value(gens, 0)->d.iPAddress), 4);
    ck_assert(!memcmp(ASN1_STRING_get0_data(sk_GENERAL_NAME_value(gens, 0)->d.iPAddress), v4,
                      4));
    ck_assert_int_eq(sk_GENERAL_NAME_value(gens, 1)->type, GEN_DNS);
    ck_assert_int_eq(sk_GENERAL_NAME_value(gens, 2)->type, GEN_IPADD);
    ck_assert_int_eq(ASN1_STRING_length(sk_GENERAL_NAME_value(gens, 2)->d.iPAddress), 16);
    ck_assert(!memcmp(ASN1_STRING_get0_data(sk_GENERAL_NAME_value(gens, 2)->d.iPAddress), v6,
                      16));
    GENERAL_NAMES_free(gens);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_REQ_free(req);
}
END_TEST

/* A certificate's iPAddress SANs are names (canonical text) for the check of a set: the
 * right addresses pass, another address does not. */
START_TEST(verify_ip_sans)
{
    static const char *const list[] = { "192.0.2.10", "2001:db8::1", NULL };
    static const char *const other[] = { "192.0.2.11", "2001:db8::1", NULL };
    static const char *const as_dns[] = { "www.example.org", NULL };
    apr_array_header_t *chain;
    acme_cert_info_t *info;
    acme_key_t *key;
    const char *pem, *why;

    ck_assert_int_eq(acme_key_generate(&key, pool, ACME_KEY_EC_P256), APR_SUCCESS);
    ck_assert_int_eq(acme_selfsigned_create(&pem, pool, key, "ip", unit_names(pool, list),
                                            apr_time_from_sec(86400)),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_chain_parse(&chain, pool, pem, strlen(pem)), APR_SUCCESS);
    ck_assert_int_eq(acme_cert_info(&info, pool, APR_ARRAY_IDX(chain, 0, X509 *)),
                     APR_SUCCESS);
    ck_assert_int_eq(info->names->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(info->names, 0, const char *), "192.0.2.10");
    ck_assert_str_eq(APR_ARRAY_IDX(info->names, 1, const char *), "2001:db8::1");

    why = "unset";
    ck_assert_int_eq(acme_cert_verify_set(&why, pool, pem, strlen(pem), key,
                                          acme_names_normalize(pool, unit_names(pool, list)),
                                          apr_time_now()),
                     APR_SUCCESS);
    ck_assert_ptr_null(why);
    ck_assert_int_eq(acme_cert_verify_set(&why, pool, pem, strlen(pem), key,
                                          acme_names_normalize(pool, unit_names(pool, other)),
                                          apr_time_now()),
                     ACME_EVERIFY);
    ck_assert_ptr_nonnull(strstr(why, "names differ"));
    ck_assert_int_eq(acme_cert_verify_set(&why, pool, pem, strlen(pem), key,
                                          acme_names_normalize(pool, unit_names(pool, as_dns)),
                                          apr_time_now()),
                     ACME_EVERIFY);
}
END_TEST

Suite *ident_suite(void)
{
    Suite *s = suite_create("ident");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, ip_or_dns);
    tcase_add_test(tc, order_identifiers);
    tcase_add_test(tc, reverse_names);
    tcase_add_test(tc, profile_rule);
    tcase_add_test(tc, csr_ip_sans);
    tcase_add_test(tc, verify_ip_sans);
    suite_add_tcase(s, tc);
    return s;
}
