/* Unit tests for acme_cert: CSRs, self-signed certificates, facts, the activation check. */
#include <string.h>

#include <apr_strings.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tests.h"
#include "unit_helpers.h"
#include "acme.h"
#include "acme_cert.h"
#include "acme_verify.h"
#include "acme_crypto.h"
#include "acme_util.h"

static apr_pool_t *pool;

static void setup(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

static acme_key_t *ec_key(void)
{
    acme_key_t *key;
    ck_assert_int_eq(acme_key_generate(&key, pool, ACME_KEY_EC_P256), APR_SUCCESS);
    return key;
}

static int str_contains(const char *s, const char *part)
{
    return s && strstr(s, part) != NULL;
}

/* ---- CSR ------------------------------------------------------------------------------ */

static X509_REQ *csr_parse(const char *b64)
{
    unsigned char *der;
    const unsigned char *d;
    apr_size_t len;
    X509_REQ *req;

    ck_assert_int_eq(acme_b64url_decode(&der, &len, pool, b64), APR_SUCCESS);
    d = der;
    req = d2i_X509_REQ(NULL, &d, (long)len);
    ck_assert_ptr_nonnull(req);
    ck_assert(d == der + len);
    return req;
}

static apr_array_header_t *csr_dns_names(X509_REQ *req)
{
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
    apr_array_header_t *names = apr_array_make(pool, 4, sizeof(const char *));
    GENERAL_NAMES *gens;
    int i;

    ck_assert_ptr_nonnull(exts);
    gens = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
    ck_assert_ptr_nonnull(gens);
    for (i = 0; i < sk_GENERAL_NAME_num(gens); ++i) {
        GENERAL_NAME *gn = sk_GENERAL_NAME_value(gens, i);
        ck_assert_int_eq(gn->type, GEN_DNS);
        APR_ARRAY_PUSH(names, const char *) =
            apr_pstrmemdup(pool, (const char *)ASN1_STRING_get0_data(gn->d.dNSName),
                           (apr_size_t)ASN1_STRING_length(gn->d.dNSName));
    }
    GENERAL_NAMES_free(gens);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return names;
}

static const char *csr_cn(X509_REQ *req)
{
    const X509_NAME *subj = X509_REQ_get_subject_name(req);
    int idx = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
    const ASN1_STRING *s;

    if (idx < 0) {
        return NULL;
    }
    s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, idx));
    return apr_pstrmemdup(pool, (const char *)ASN1_STRING_get0_data(s),
                          (apr_size_t)ASN1_STRING_length(s));
}

START_TEST(csr_ec)
{
    static const char *const list[] = { "a.test", "www.a.test", "*.b.test", NULL };
    apr_array_header_t *names = unit_names(pool, list), *got;
    acme_key_t *key = ec_key(), *other = ec_key();
    const char *b64;
    X509_REQ *req;
    EVP_PKEY *pub;
    int i;

    ck_assert_int_eq(acme_csr_create(&b64, pool, key, names), APR_SUCCESS);
    ck_assert_ptr_null(strpbrk(b64, "+/="));
    req = csr_parse(b64);
    /* signature verifies with the key, not with another one */
    pub = X509_REQ_get0_pubkey(req);
    ck_assert_int_eq(EVP_PKEY_eq(pub, acme_key_evp(key)), 1);
    ck_assert_int_eq(X509_REQ_verify(req, acme_key_evp(key)), 1);
    ck_assert_int_ne(X509_REQ_verify(req, acme_key_evp(other)), 1);
    ck_assert_int_eq(X509_REQ_get_signature_nid(req), NID_ecdsa_with_SHA256);
    ck_assert_str_eq(csr_cn(req), "a.test");
    got = csr_dns_names(req);
    ck_assert_int_eq(got->nelts, 3);
    for (i = 0; i < 3; ++i) {
        ck_assert_str_eq(APR_ARRAY_IDX(got, i, const char *), list[i]);
    }
    X509_REQ_free(req);
}
END_TEST

/* The request's public key, written directly for EC keys (csr_set_ec_pubkey), is the very
 * SubjectPublicKeyInfo OpenSSL makes of the key, for each curve; RSA takes OpenSSL's path. */
START_TEST(csr_pubkey_der)
{
    static const char *const list[] = { "a.test", NULL };
    static const acme_key_type_t types[] = { ACME_KEY_EC_P256, ACME_KEY_EC_P384,
                                             ACME_KEY_RSA2048 };
    size_t t;

    for (t = 0; t < sizeof(types) / sizeof(types[0]); ++t) {
        acme_key_t *key = NULL;
        unsigned char *want = NULL, *got = NULL;
        int wlen, glen;
        const char *b64;
        X509_REQ *req;

        ck_assert_int_eq(acme_key_generate(&key, pool, types[t]), APR_SUCCESS);
        ck_assert_int_eq(acme_csr_create(&b64, pool, key, unit_names(pool, list)),
                         APR_SUCCESS);
        req = csr_parse(b64);
        wlen = i2d_PUBKEY(acme_key_evp(key), &want);
        glen = i2d_X509_PUBKEY(X509_REQ_get_X509_PUBKEY(req), &got);
        ck_assert_int_gt(wlen, 0);
        ck_assert_int_eq(glen, wlen);
        ck_assert_int_eq(memcmp(got, want, (size_t)wlen), 0);
        ck_assert_int_eq(X509_REQ_verify(req, acme_key_evp(key)), 1);
        OPENSSL_free(want);
        OPENSSL_free(got);
        X509_REQ_free(req);
    }
}
END_TEST

START_TEST(csr_long_first_name)
{
    /* 67 characters: no CN, only the SAN */
    static const char *const list[] = {
        "a-very-long-label-of-sixty-chars-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test", "b.test", NULL
    };
    acme_key_t *key = ec_key();
    const char *b64;
    apr_array_header_t *got;
    X509_REQ *req;

    ck_assert_int_gt(strlen(list[0]), 64);
    ck_assert_int_eq(acme_csr_create(&b64, pool, key, unit_names(pool, list)), APR_SUCCESS);
    req = csr_parse(b64);
    ck_assert_ptr_null(csr_cn(req));
    got = csr_dns_names(req);
    ck_assert_int_eq(got->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(got, 0, const char *), list[0]);
    ck_assert_int_eq(X509_REQ_verify(req, acme_key_evp(key)), 1);
    X509_REQ_free(req);

    ck_assert_int_ne(acme_csr_create(&b64, pool, key, apr_array_make(pool, 1,
                                                                       sizeof(const char *))),
                     APR_SUCCESS);
}
END_TEST

/* ---- self-signed + info --------------------------------------------------------------- */

START_TEST(selfsigned_info)
{
    static const char *const list[] = { "a.test", "www.a.test", NULL };
    apr_array_header_t *names = unit_names(pool, list), *chain;
    acme_key_t *key = ec_key();
    apr_time_t before = apr_time_now(), after;
    acme_cert_info_t *info, *info2;
    const char *pem, *pem2;
    X509 *x;
    int crit = 0;
    BASIC_CONSTRAINTS *bc;

    ck_assert_int_eq(acme_selfsigned_create(&pem, pool, key, "a.test", names,
                                            apr_time_from_sec(30 * 86400)),
                     APR_SUCCESS);
    after = apr_time_now();
    ck_assert(str_contains(pem, "-----BEGIN CERTIFICATE-----"));
    ck_assert_int_eq(acme_chain_parse(&chain, pool, pem, strlen(pem)), APR_SUCCESS);
    ck_assert_int_eq(chain->nelts, 1);
    x = APR_ARRAY_IDX(chain, 0, X509 *);
    ck_assert_int_eq(X509_get_version(x), 2);
    ck_assert_int_eq(X509_verify(x, acme_key_evp(key)), 1);
    bc = X509_get_ext_d2i(x, NID_basic_constraints, &crit, NULL);
    ck_assert_ptr_nonnull(bc);
    ck_assert_int_eq(bc->ca, 0);
    BASIC_CONSTRAINTS_free(bc);

    ck_assert_int_eq(acme_cert_info(&info, pool, x), APR_SUCCESS);
    ck_assert_str_eq(info->subject_cn, "a.test");
    ck_assert(str_contains(info->issuer, "a.test"));
    ck_assert_int_eq(info->names->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(info->names, 0, const char *), "a.test");
    ck_assert_str_eq(APR_ARRAY_IDX(info->names, 1, const char *), "www.a.test");
    /* from now-1h, for 30 days (whole seconds) */
    ck_assert_int_ge(info->not_before, apr_time_from_sec(apr_time_sec(before) - 3600 - 1));
    ck_assert_int_le(info->not_before, apr_time_from_sec(apr_time_sec(after) - 3600));
    ck_assert_int_eq(info->not_after - info->not_before, apr_time_from_sec(30 * 86400));
    /* 16-byte positive serial: 32 upper-case hex digits */
    ck_assert_uint_eq(strlen(info->serial), 32);
    ck_assert_uint_eq(strspn(info->serial, "0123456789ABCDEF"), 32);

    /* random serials */
    ck_assert_int_eq(acme_selfsigned_create(&pem2, pool, key, "a.test", names,
                                            apr_time_from_sec(86400)),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_chain_parse(&chain, pool, pem2, strlen(pem2)), APR_SUCCESS);
    ck_assert_int_eq(acme_cert_info(&info2, pool, APR_ARRAY_IDX(chain, 0, X509 *)), APR_SUCCESS);
    ck_assert_str_ne(info->serial, info2->serial);
}
END_TEST

START_TEST(chain_parse_multi)
{
    static const char *const l1[] = { "a.test", NULL };
    static const char *const l2[] = { "b.test", NULL };
    const char *p1, *p2, *both;
    apr_array_header_t *chain;
    acme_cert_info_t *info;
    acme_key_t *key = ec_key();

    ck_assert_int_eq(acme_selfsigned_create(&p1, pool, key, NULL, unit_names(pool, l1),
                                            apr_time_from_sec(86400)),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_selfsigned_create(&p2, pool, key, NULL, unit_names(pool, l2),
                                            apr_time_from_sec(86400)),
                     APR_SUCCESS);
    both = apr_pstrcat(pool, p1, "\n", p2, NULL);
    ck_assert_int_eq(acme_chain_parse(&chain, pool, both, strlen(both)), APR_SUCCESS);
    ck_assert_int_eq(chain->nelts, 2);
    ck_assert_int_eq(acme_cert_info(&info, pool, APR_ARRAY_IDX(chain, 1, X509 *)), APR_SUCCESS);
    ck_assert_str_eq(info->subject_cn, "b.test");

    ck_assert_int_eq(acme_chain_parse(&chain, pool, "", 0), ACME_EPROTO);
    ck_assert_int_eq(acme_chain_parse(&chain, pool, "hello world", 11), ACME_EPROTO);
    both = "-----BEGIN CERTIFICATE-----\nMIIBkzCCATmgAwIBAgIQ\n-----END CERTIFICATE-----\n";
    ck_assert_int_eq(acme_chain_parse(&chain, pool, both, strlen(both)), ACME_EPROTO);
    /* a good certificate followed by a broken one */
    both = apr_pstrcat(pool, p1, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                       NULL);
    ck_assert_int_eq(acme_chain_parse(&chain, pool, both, strlen(both)), ACME_EPROTO);
}
END_TEST

/* ---- the activation check ------------------------------------------------------------- */

START_TEST(verify_set)
{
    static const char *const list[] = { "www.a.test", "a.test", NULL };
    static const char *const more[] = { "a.test", "b.test", "www.a.test", NULL };
    static const char *const fewer[] = { "a.test", NULL };
    apr_array_header_t *names = acme_names_normalize(pool, unit_names(pool, list));
    acme_key_t *key = ec_key(), *other = ec_key();
    apr_time_t now = apr_time_now();
    const char *pem, *why;
    apr_status_t rv;

    ck_assert_int_eq(acme_selfsigned_create(&pem, pool, key, "a.test", unit_names(pool, list),
                                            apr_time_from_sec(7 * 86400)),
                     APR_SUCCESS);
    /* OK */
    why = "unset";
    ck_assert_int_eq(acme_cert_verify_set(&why, pool, pem, strlen(pem), key, names, now),
                     APR_SUCCESS);
    ck_assert_ptr_null(why);

    /* wrong key */
    rv = acme_cert_verify_set(&why, pool, pem, strlen(pem), other, names, now);
    ck_assert_int_eq(rv, ACME_EVERIFY);
    ck_assert_str_eq(why, "private key does not match the certificate");

    /* names differ, both ways */
    rv = acme_cert_verify_set(&why, pool, pem, strlen(pem), key,
                              acme_names_normalize(pool, unit_names(pool, more)), now);
    ck_assert_int_eq(rv, ACME_EVERIFY);
    ck_assert_str_eq(why, "names differ: certificate has a.test www.a.test, "
                          "plan wants a.test b.test www.a.test");
    rv = acme_cert_verify_set(&why, pool, pem, strlen(pem), key,
                              acme_names_normalize(pool, unit_names(pool, fewer)), now);
    ck_assert_int_eq(rv, ACME_EVERIFY);
    ck_assert(str_contains(why, "names differ"));

    /* expired: the same certificate, seen 8 days from now */
    rv = acme_cert_verify_set(&why, pool, pem, strlen(pem), key, names,
                              now + apr_time_from_sec(8 * 86400));
    ck_assert_int_eq(rv, ACME_EVERIFY);
    ck_assert(str_contains(why, "certificate expired at "));
    /* not yet valid: seen 2 hours ago */
    rv = acme_cert_verify_set(&why, pool, pem, strlen(pem), key, names,
                              now - apr_time_from_sec(2 * 3600));
    ck_assert_int_eq(rv, ACME_EVERIFY);
    ck_assert(str_contains(why, "certificate not valid until "));

    /* garbage PEM */
    rv = acme_cert_verify_set(&why, pool, "garbage", 7, key, names, now);
    ck_assert_int_eq(rv, ACME_EVERIFY);
    ck_assert_str_eq(why, "chain does not parse");
}
END_TEST

START_TEST(verify_set_expired_cert)
{
    /* valid_for shorter than the 1h back-dating: the certificate expired before now */
    static const char *const list[] = { "a.test", NULL };
    apr_array_header_t *names = unit_names(pool, list);
    acme_key_t *key = ec_key();
    acme_cert_info_t *info;
    apr_array_header_t *chain;
    const char *pem, *why;

    ck_assert_int_eq(acme_selfsigned_create(&pem, pool, key, "a.test", names,
                                            apr_time_from_sec(60)),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_chain_parse(&chain, pool, pem, strlen(pem)), APR_SUCCESS);
    ck_assert_int_eq(acme_cert_info(&info, pool, APR_ARRAY_IDX(chain, 0, X509 *)), APR_SUCCESS);
    ck_assert_int_eq(acme_cert_verify_set(&why, pool, pem, strlen(pem), key, names,
                                          apr_time_now()),
                     ACME_EVERIFY);
    ck_assert_str_eq(why, apr_pstrcat(pool, "certificate expired at ",
                                      acme_time_rfc3339(pool, info->not_after), NULL));
}
END_TEST

START_TEST(verify_set_rsa)
{
    static const char *const list[] = { "rsa.test", NULL };
    apr_array_header_t *names = unit_names(pool, list);
    acme_key_t *key, *ec = ec_key();
    const char *pem, *why, *b64;
    char *kpem;
    apr_size_t klen;
    X509_REQ *req;

    /* an RSA key made by the openssl CLI (generating one here would be slow) */
    ck_assert_int_eq(acme_file_read(&kpem, &klen, TEST_DATA_DIR "/rsa2048.pem", pool),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_key_from_pem(&key, pool, kpem, klen), APR_SUCCESS);
    ck_assert_str_eq(acme_key_jws_alg(key), "RS256");
    ck_assert_int_eq(acme_selfsigned_create(&pem, pool, key, NULL, names,
                                            apr_time_from_sec(3 * 3600)),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_cert_verify_set(&why, pool, pem, strlen(pem), key, names,
                                          apr_time_now()),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_cert_verify_set(&why, pool, pem, strlen(pem), ec, names,
                                          apr_time_now()),
                     ACME_EVERIFY);
    ck_assert_int_eq(acme_csr_create(&b64, pool, key, names), APR_SUCCESS);
    req = csr_parse(b64);
    ck_assert_int_eq(X509_REQ_verify(req, acme_key_evp(key)), 1);
    ck_assert_int_eq(X509_REQ_get_signature_nid(req), NID_sha256WithRSAEncryption);
    X509_REQ_free(req);
}
END_TEST

/* RFC 9773 section 4.1's example: AKI keyIdentifier 69:88:5B:..:C8:D4, serial 0x87654321
 * (DER content 00 87 65 43 21) -> "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE". */
START_TEST(ari_cert_id)
{
    static const unsigned char keyid[] = {
        0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3,
        0x7B, 0x84, 0x7B, 0xA0, 0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4 };
    X509 *x = X509_new();
    AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
    BIGNUM *bn = NULL;
    ASN1_INTEGER *serial;
    const char *id = NULL;

    akid->keyid = ASN1_OCTET_STRING_new();
    ASN1_OCTET_STRING_set(akid->keyid, keyid, sizeof(keyid));
    ck_assert_int_eq(X509_add1_ext_i2d(x, NID_authority_key_identifier, akid, 0, 0), 1);
    ck_assert_int_gt(BN_hex2bn(&bn, "87654321"), 0);
    serial = BN_to_ASN1_INTEGER(bn, NULL);
    X509_set_serialNumber(x, serial);

    ck_assert_int_eq(acme_cert_ari_id(&id, pool, x), APR_SUCCESS);
    ck_assert_str_eq(id, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");

    ASN1_INTEGER_free(serial);
    BN_free(bn);
    AUTHORITY_KEYID_free(akid);
    X509_free(x);
}
END_TEST

START_TEST(ari_cert_id_needs_aki)
{
    X509 *x = X509_new();
    const char *id = "x";
    ASN1_INTEGER_set(X509_get_serialNumber(x), 5);
    ck_assert_int_eq(acme_cert_ari_id(&id, pool, x), APR_ENOENT);
    ck_assert_ptr_null(id);
    X509_free(x);
}
END_TEST

START_TEST(tlsalpn01_certificate)
{
    acme_key_t *key;
    const char *pem;
    apr_array_header_t *chain;
    X509 *x;
    const char *ka = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI";

    ck_assert_int_eq(acme_key_generate(&key, pool, ACME_KEY_EC_P256), APR_SUCCESS);
    ck_assert_int_eq(acme_tlsalpn01_cert_create(&pem, pool, key, "a.example.org", ka),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_chain_parse(&chain, pool, pem, strlen(pem)), APR_SUCCESS);
    x = APR_ARRAY_IDX(chain, 0, X509 *);
    unit_assert_tlsalpn01_cert(pool, x, "a.example.org", ka);
    ck_assert_int_eq(X509_verify(x, acme_key_evp(key)), 1);
}
END_TEST

/* A dNSName with a NUL byte is not the name before the NUL (fuzz_pem found the truncation;
 * its input is fuzz/corpus/fuzz_pem/regress-san-nul.der). */
START_TEST(san_with_nul_is_no_name)
{
    static const char san[] = "www.example.org\0.evil.test";
    static const char *const list[] = { "www.example.org", NULL };
    acme_key_t *key = ec_key();
    X509 *x = X509_new();
    GENERAL_NAMES *gens = GENERAL_NAMES_new();
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
    apr_array_header_t *chain;
    acme_cert_info_t *info;
    const char *why = NULL;
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    long len;
    const char *pem;

    ck_assert_int_eq(ASN1_STRING_set(ia5, san, (int)sizeof(san) - 1), 1);
    GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
    sk_GENERAL_NAME_push(gens, gn);
    ck_assert_int_eq(X509_set_version(x, 2), 1);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    ck_assert_int_eq(X509_set_pubkey(x, acme_key_evp(key)), 1);
    ck_assert_int_eq(X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, 0), 1);
    ck_assert_int_gt(X509_sign(x, acme_key_evp(key), EVP_sha256()), 0);
    ck_assert_int_eq(PEM_write_bio_X509(bio, x), 1);
    len = BIO_get_mem_data(bio, &data);
    pem = apr_pstrmemdup(pool, data, (apr_size_t)len);
    BIO_free(bio);
    GENERAL_NAMES_free(gens);
    X509_free(x);

    ck_assert_int_eq(acme_chain_parse(&chain, pool, pem, strlen(pem)), APR_SUCCESS);
    ck_assert_int_eq(acme_cert_info(&info, pool, APR_ARRAY_IDX(chain, 0, X509 *)), APR_SUCCESS);
    ck_assert_int_eq(info->names->nelts, 0);
    ck_assert_int_eq(acme_cert_verify_set(&why, pool, pem, strlen(pem), key, unit_names(pool, list),
                                          apr_time_now()),
                     ACME_EVERIFY);
}
END_TEST

/* ---- chain consistency ---------------------------------------------------------------- */

/* unit_cert_make in this file's pool. */
static X509 *mk_cert(const char *cn, EVP_PKEY *pub, X509 *issuer, EVP_PKEY *issuer_key, int ca,
                     const char *const *names, long from_s, long to_s, const char *aia)
{
    return unit_cert_make(pool, cn, pub, issuer, issuer_key, ca, names, from_s, to_s, aia);
}

static const char *pem_of(X509 *x)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    long len;
    const char *pem;

    ck_assert_int_eq(PEM_write_bio_X509(bio, x), 1);
    len = BIO_get_mem_data(bio, &data);
    pem = apr_pstrmemdup(pool, data, (apr_size_t)len);
    BIO_free(bio);
    return pem;
}

static EVP_PKEY *evp_ec(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    ck_assert_ptr_nonnull(k);
    return k;
}

/* root -> intermediate -> leaf for a.test (key), and what the tests need beside. */
typedef struct chain_fx_t {
    EVP_PKEY *root_key, *int_key, *rogue_key;
    X509 *root, *inter, *leaf;
    acme_key_t *key;
    const char *root_pem, *int_pem, *leaf_pem;
    apr_array_header_t *names;
} chain_fx_t;

static const char *const a_names[] = { "a.test", "www.a.test", NULL };

static void chain_fx(chain_fx_t *f)
{
    memset(f, 0, sizeof(*f));
    f->root_key = evp_ec();
    f->int_key = evp_ec();
    f->rogue_key = evp_ec();
    f->key = ec_key();
    f->root = mk_cert("Test Root", f->root_key, NULL, f->root_key, 1, NULL, -86400, 86400 * 30,
                      NULL);
    f->inter = mk_cert("Test Intermediate", f->int_key, f->root, f->root_key, 1, NULL, -86400,
                       86400 * 30, NULL);
    f->leaf = mk_cert("a.test", acme_key_evp(f->key), f->inter, f->int_key, 0, a_names, -3600,
                      86400 * 7, NULL);
    f->root_pem = pem_of(f->root);
    f->int_pem = pem_of(f->inter);
    f->leaf_pem = pem_of(f->leaf);
    f->names = acme_names_normalize(pool, unit_names(pool, a_names));
}

static void chain_fx_free(chain_fx_t *f)
{
    X509_free(f->leaf);
    X509_free(f->inter);
    X509_free(f->root);
    EVP_PKEY_free(f->rogue_key);
    EVP_PKEY_free(f->int_key);
    EVP_PKEY_free(f->root_key);
}

static apr_status_t verify_pem(const char **pwhy, chain_fx_t *f, const char *pem,
                               const acme_key_t *key, const apr_array_header_t *names)
{
    return acme_cert_verify_set(pwhy, pool, pem, strlen(pem), key ? key : f->key,
                                names ? names : f->names, apr_time_now());
}

START_TEST(chain_good)
{
    chain_fx_t f;
    const char *why = "unset", *out;
    apr_size_t olen;
    apr_array_header_t *chain;

    chain_fx(&f);
    ck_assert_int_eq(verify_pem(&why, &f, apr_pstrcat(pool, f.leaf_pem, f.int_pem, NULL), NULL,
                                NULL), APR_SUCCESS);
    ck_assert_ptr_null(why);
    /* with the root too; the root is trusted by nobody on this machine */
    ck_assert_int_eq(verify_pem(&why, &f, apr_pstrcat(pool, f.leaf_pem, f.int_pem, f.root_pem,
                                                      NULL), NULL, NULL), APR_SUCCESS);
    /* acme_chain_pem writes the certificates back, in order */
    ck_assert_int_eq(acme_chain_parse(&chain, pool, apr_pstrcat(pool, f.leaf_pem, f.int_pem,
                                                                NULL),
                                      strlen(f.leaf_pem) + strlen(f.int_pem)), APR_SUCCESS);
    ck_assert_int_eq(acme_chain_pem(&out, &olen, pool, chain), APR_SUCCESS);
    ck_assert_str_eq(out, apr_pstrcat(pool, f.leaf_pem, f.int_pem, NULL));
    ck_assert_uint_eq(olen, strlen(out));
    chain_fx_free(&f);
}
END_TEST

START_TEST(chain_wrong_signer)
{
    chain_fx_t f;
    X509 *forged;
    const char *why;

    chain_fx(&f);
    /* same issuer name as the intermediate, signed by another key */
    forged = mk_cert("a.test", acme_key_evp(f.key), f.inter, f.rogue_key, 0, a_names, -3600,
                     86400 * 7, NULL);
    ck_assert_int_eq(verify_pem(&why, &f, apr_pstrcat(pool, pem_of(forged), f.int_pem, NULL),
                                NULL, NULL), ACME_EVERIFY);
    ck_assert_str_eq(why, "certificate 1 of the chain (CN = a.test) is not signed by "
                          "certificate 2 (CN = Test Intermediate)");
    /* an intermediate the root did not sign */
    ck_assert_int_eq(verify_pem(&why, &f, apr_pstrcat(pool, f.leaf_pem, f.int_pem, f.leaf_pem,
                                                      NULL), NULL, NULL), ACME_EVERIFY);
    ck_assert(str_contains(why, "certificate 2 of the chain (CN = Test Intermediate) is not "
                                "signed by certificate 3 (CN = a.test)"));
    X509_free(forged);
    /* a leaf without a subject is named by its DNS names */
    forged = mk_cert(NULL, acme_key_evp(f.key), f.inter, f.rogue_key, 0, a_names, -3600,
                     86400 * 7, NULL);
    ck_assert_int_eq(verify_pem(&why, &f, apr_pstrcat(pool, pem_of(forged), f.int_pem, NULL),
                                NULL, NULL), ACME_EVERIFY);
    ck_assert_msg(str_contains(why, "certificate 1 of the chain (no subject; DNS a.test") &&
                  str_contains(why, ") is not signed by certificate 2 (CN = Test Intermediate)"),
                  "%s", why);
    X509_free(forged);
    chain_fx_free(&f);
}
END_TEST

START_TEST(chain_reordered)
{
    chain_fx_t f;
    const char *why;

    chain_fx(&f);
    ck_assert_int_eq(verify_pem(&why, &f, apr_pstrcat(pool, f.leaf_pem, f.root_pem, f.int_pem,
                                                      NULL), NULL, NULL), ACME_EVERIFY);
    ck_assert_str_eq(why, "the chain is out of order: certificate 1 (CN = a.test) is signed by "
                          "certificate 3, not by the next one");
    /* intermediate first: not even the leaf comes first */
    ck_assert_int_eq(verify_pem(&why, &f, apr_pstrcat(pool, f.int_pem, f.leaf_pem, NULL), NULL,
                                NULL), ACME_EVERIFY);
    ck_assert(str_contains(why, "is not signed by certificate 2"));
    chain_fx_free(&f);
}
END_TEST

START_TEST(chain_leaf_only)
{
    chain_fx_t f;
    const char *why;
    apr_array_header_t *chain;

    chain_fx(&f);
    ck_assert_int_eq(verify_pem(&why, &f, f.leaf_pem, NULL, NULL), APR_INCOMPLETE);
    ck_assert_str_eq(why, "the chain holds only the leaf (CN = a.test), without the "
                          "certificate of its issuer (CN = Test Intermediate)");
    ck_assert_int_eq(acme_chain_parse(&chain, pool, f.leaf_pem, strlen(f.leaf_pem)),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_chain_check(&why, pool, chain), APR_INCOMPLETE);
    /* the issuer alone is no chain either */
    ck_assert_int_eq(acme_chain_check(&why, pool, apr_array_make(pool, 1, sizeof(X509 *))),
                     ACME_EVERIFY);
    chain_fx_free(&f);
}
END_TEST

START_TEST(chain_garbage_between_blocks)
{
    chain_fx_t f;
    const char *why, *pem, *out;
    apr_size_t olen;
    apr_array_header_t *chain;

    chain_fx(&f);
    /* text outside the blocks is skipped (RFC 7468 parsers do), the certificates still count;
     * what gets stored is acme_chain_pem's output, without the text */
    pem = apr_pstrcat(pool, "junk before\n", f.leaf_pem, "\x01\x02 noise \xff\n", f.int_pem,
                      "trailing", NULL);
    ck_assert_int_eq(verify_pem(&why, &f, pem, NULL, NULL), APR_SUCCESS);
    ck_assert_int_eq(acme_chain_parse(&chain, pool, pem, strlen(pem)), APR_SUCCESS);
    ck_assert_int_eq(chain->nelts, 2);
    ck_assert_int_eq(acme_chain_pem(&out, &olen, pool, chain), APR_SUCCESS);
    ck_assert(!str_contains(out, "noise") && !str_contains(out, "junk"));
    /* garbage inside a block is refused */
    pem = apr_pstrcat(pool, f.leaf_pem, "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n"
                      "-----END CERTIFICATE-----\n", f.int_pem, NULL);
    ck_assert_int_eq(verify_pem(&why, &f, pem, NULL, NULL), ACME_EVERIFY);
    ck_assert_str_eq(why, "chain does not parse");
    chain_fx_free(&f);
}
END_TEST

START_TEST(chain_expired_leaf)
{
    chain_fx_t f;
    X509 *old;
    const char *why;

    chain_fx(&f);
    old = mk_cert("a.test", acme_key_evp(f.key), f.inter, f.int_key, 0, a_names, -86400 * 10,
                  -86400, NULL);
    ck_assert_int_eq(verify_pem(&why, &f, apr_pstrcat(pool, pem_of(old), f.int_pem, NULL),
                                NULL, NULL), ACME_EVERIFY);
    ck_assert(str_contains(why, "certificate expired at "));
    X509_free(old);
    chain_fx_free(&f);
}
END_TEST

START_TEST(chain_other_names_and_key)
{
    static const char *const other[] = { "b.test", NULL };
    chain_fx_t f;
    X509 *x;
    const char *why, *pem;

    chain_fx(&f);
    x = mk_cert("b.test", acme_key_evp(f.key), f.inter, f.int_key, 0, other, -3600, 86400 * 7,
                NULL);
    pem = apr_pstrcat(pool, pem_of(x), f.int_pem, NULL);
    ck_assert_int_eq(verify_pem(&why, &f, pem, NULL, NULL), ACME_EVERIFY);
    ck_assert_str_eq(why, "names differ: certificate has b.test, plan wants a.test www.a.test");
    /* key mismatch: a well-formed chain for another key */
    ck_assert_int_eq(verify_pem(&why, &f, apr_pstrcat(pool, f.leaf_pem, f.int_pem, NULL),
                                ec_key(), NULL), ACME_EVERIFY);
    ck_assert_str_eq(why, "private key does not match the certificate");
    X509_free(x);
    chain_fx_free(&f);
}
END_TEST

START_TEST(chain_issuer_sources)
{
    chain_fx_t f;
    X509 *x;
    unsigned char *der = NULL;
    int dlen;
    const char *url;
    apr_array_header_t *certs;

    chain_fx(&f);
    x = mk_cert("a.test", acme_key_evp(f.key), f.inter, f.int_key, 0, a_names, -3600, 86400,
                "OCSP;URI:http://ocsp.test/,caIssuers;URI:http://ca.test/int.der");
    ck_assert_int_eq(acme_cert_ca_issuers(&url, pool, x), APR_SUCCESS);
    ck_assert_str_eq(url, "http://ca.test/int.der");
    ck_assert_int_eq(acme_cert_ca_issuers(&url, pool, f.leaf), APR_ENOENT);
    ck_assert_ptr_null(url);
    /* DER (pkix-cert) and PEM answers */
    dlen = i2d_X509(f.inter, &der);
    ck_assert_int_gt(dlen, 0);
    ck_assert_int_eq(acme_certs_parse_any(&certs, pool, (const char *)der, (apr_size_t)dlen),
                     APR_SUCCESS);
    ck_assert_int_eq(certs->nelts, 1);
    ck_assert_int_eq(X509_cmp(APR_ARRAY_IDX(certs, 0, X509 *), f.inter), 0);
    ck_assert_int_eq(acme_certs_parse_any(&certs, pool, f.int_pem, strlen(f.int_pem)),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_certs_parse_any(&certs, pool, (const char *)der, (apr_size_t)dlen - 1),
                     ACME_EPROTO);
    ck_assert_int_eq(acme_certs_parse_any(&certs, pool, "<html>", 6), ACME_EPROTO);
    OPENSSL_free(der);
    X509_free(x);
    chain_fx_free(&f);
}
END_TEST

Suite *cert_suite(void)
{
    Suite *s = suite_create("cert");
    TCase *tc = tcase_create("cert");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, csr_ec);
    tcase_add_test(tc, csr_pubkey_der);
    tcase_add_test(tc, csr_long_first_name);
    tcase_add_test(tc, selfsigned_info);
    tcase_add_test(tc, chain_parse_multi);
    tcase_add_test(tc, verify_set);
    tcase_add_test(tc, verify_set_expired_cert);
    tcase_add_test(tc, verify_set_rsa);
    tcase_add_test(tc, ari_cert_id);
    tcase_add_test(tc, san_with_nul_is_no_name);
    tcase_add_test(tc, tlsalpn01_certificate);
    tcase_add_test(tc, ari_cert_id_needs_aki);
    tcase_add_test(tc, chain_good);
    tcase_add_test(tc, chain_wrong_signer);
    tcase_add_test(tc, chain_reordered);
    tcase_add_test(tc, chain_leaf_only);
    tcase_add_test(tc, chain_garbage_between_blocks);
    tcase_add_test(tc, chain_expired_leaf);
    tcase_add_test(tc, chain_other_names_and_key);
    tcase_add_test(tc, chain_issuer_sources);
    suite_add_tcase(s, tc);
    return s;
}
