/* Unit tests for acme_crypto: key types, generation, PEM, digests, sealing. */
#include <string.h>

#include <apr_strings.h>

#include <openssl/evp.h>

#include "tests.h"
#include "acme.h"
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

START_TEST(key_type_names)
{
    acme_key_type_t t;

    ck_assert_int_eq(acme_key_type_parse(&t, "p256"), APR_SUCCESS);
    ck_assert_int_eq(t, ACME_KEY_EC_P256);
    ck_assert_int_eq(acme_key_type_parse(&t, "P384"), APR_SUCCESS);
    ck_assert_int_eq(t, ACME_KEY_EC_P384);
    ck_assert_int_eq(acme_key_type_parse(&t, "RSA2048"), APR_SUCCESS);
    ck_assert_int_eq(t, ACME_KEY_RSA2048);
    ck_assert_int_eq(acme_key_type_parse(&t, "rsa3072"), APR_SUCCESS);
    ck_assert_int_eq(t, ACME_KEY_RSA3072);
    ck_assert_int_eq(acme_key_type_parse(&t, "rsa4096"), APR_SUCCESS);
    ck_assert_int_eq(t, ACME_KEY_RSA4096);
    ck_assert_int_eq(acme_key_type_parse(&t, "rsa1024"), APR_EINVAL);
    ck_assert_int_eq(acme_key_type_parse(&t, ""), APR_EINVAL);
    ck_assert_int_eq(acme_key_type_parse(&t, NULL), APR_EINVAL);
    ck_assert_str_eq(acme_key_type_name(ACME_KEY_EC_P256), "p256");
    ck_assert_str_eq(acme_key_type_name(ACME_KEY_RSA4096), "rsa4096");
}
END_TEST

static void check_pem_round_trip(acme_key_t *key)
{
    const char *pem, *pem2;
    apr_size_t len, len2;
    acme_key_t *back;

    ck_assert_int_eq(acme_key_to_pem(&pem, &len, pool, key), APR_SUCCESS);
    ck_assert_uint_eq(len, strlen(pem));
    ck_assert_ptr_nonnull(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
    ck_assert_int_eq(acme_key_from_pem(&back, pool, pem, len), APR_SUCCESS);
    ck_assert_int_eq(EVP_PKEY_eq(acme_key_evp(key), acme_key_evp(back)), 1);
    ck_assert_int_eq(acme_key_to_pem(&pem2, &len2, pool, back), APR_SUCCESS);
    ck_assert_str_eq(pem, pem2);
    ck_assert_str_eq(acme_key_jws_alg(key), acme_key_jws_alg(back));
}

START_TEST(key_ec_p256)
{
    acme_key_t *key, *other;

    ck_assert_int_eq(acme_key_generate(&key, pool, ACME_KEY_EC_P256), APR_SUCCESS);
    ck_assert(acme_key_is_ec(key));
    ck_assert_str_eq(acme_key_jws_alg(key), "ES256");
    ck_assert_int_eq(EVP_PKEY_get_bits(acme_key_evp(key)), 256);
    check_pem_round_trip(key);
    ck_assert_int_eq(acme_key_generate(&other, pool, ACME_KEY_EC_P256), APR_SUCCESS);
    ck_assert_int_ne(EVP_PKEY_eq(acme_key_evp(key), acme_key_evp(other)), 1);
}
END_TEST

START_TEST(key_ec_p384)
{
    acme_key_t *key;

    ck_assert_int_eq(acme_key_generate(&key, pool, ACME_KEY_EC_P384), APR_SUCCESS);
    ck_assert(acme_key_is_ec(key));
    ck_assert_str_eq(acme_key_jws_alg(key), "ES384");
    ck_assert_int_eq(EVP_PKEY_get_bits(acme_key_evp(key)), 384);
    check_pem_round_trip(key);
}
END_TEST

START_TEST(key_rsa2048)
{
    acme_key_t *key;

    ck_assert_int_eq(acme_key_generate(&key, pool, ACME_KEY_RSA2048), APR_SUCCESS);
    ck_assert(!acme_key_is_ec(key));
    ck_assert_str_eq(acme_key_jws_alg(key), "RS256");
    ck_assert_int_eq(EVP_PKEY_get_bits(acme_key_evp(key)), 2048);
    check_pem_round_trip(key);
}
END_TEST

START_TEST(key_pem_garbage)
{
    static const char *junk = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    acme_key_t *key;

    ck_assert_int_ne(acme_key_from_pem(&key, pool, junk, strlen(junk)), APR_SUCCESS);
    ck_assert_ptr_null(key);
    ck_assert_int_ne(acme_key_from_pem(&key, pool, "hello", 5), APR_SUCCESS);
    ck_assert_ptr_nonnull(acme_crypto_errors(pool));
}
END_TEST

START_TEST(sha256_vectors)
{
    unsigned char md[32];

    /* FIPS 180-2 "abc" and the empty string */
    ck_assert_int_eq(acme_sha256(md, "abc", 3), APR_SUCCESS);
    ck_assert_str_eq(acme_hex(pool, md, 32),
                     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ck_assert_int_eq(acme_sha256(md, "", 0), APR_SUCCESS);
    ck_assert_str_eq(acme_hex(pool, md, 32),
                     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
END_TEST

START_TEST(random_bytes)
{
    unsigned char a[32], b[32];

    ck_assert_int_eq(acme_random_bytes(a, sizeof(a)), APR_SUCCESS);
    ck_assert_int_eq(acme_random_bytes(b, sizeof(b)), APR_SUCCESS);
    ck_assert(memcmp(a, b, sizeof(a)) != 0);
}
END_TEST

START_TEST(seal_round_trip)
{
    unsigned char secret[ACME_SECRET_LEN];
    const char *plain = "-----BEGIN PRIVATE KEY-----\nnot really\n-----END PRIVATE KEY-----\n";
    char *sealed, *sealed2, *back;
    apr_size_t slen, slen2, blen;

    ck_assert_int_eq(acme_random_bytes(secret, sizeof(secret)), APR_SUCCESS);
    ck_assert_int_eq(acme_seal(&sealed, &slen, pool, secret, plain, strlen(plain)), APR_SUCCESS);
    ck_assert_uint_eq(slen, 9 + 12 + 16 + strlen(plain));
    ck_assert(memcmp(sealed, "ACMESEAL1", 9) == 0);
    ck_assert(acme_is_sealed(sealed, slen));
    ck_assert(!acme_is_sealed(plain, strlen(plain)));
    /* ciphertext, not the plain text */
    ck_assert(memcmp(sealed + 37, plain, strlen(plain)) != 0);

    ck_assert_int_eq(acme_unseal(&back, &blen, pool, secret, sealed, slen), APR_SUCCESS);
    ck_assert_uint_eq(blen, strlen(plain));
    ck_assert(memcmp(back, plain, blen) == 0);

    /* random IV per call: the same input seals differently */
    ck_assert_int_eq(acme_seal(&sealed2, &slen2, pool, secret, plain, strlen(plain)),
                     APR_SUCCESS);
    ck_assert_uint_eq(slen, slen2);
    ck_assert(memcmp(sealed + 9, sealed2 + 9, 12) != 0);
    ck_assert(memcmp(sealed, sealed2, slen) != 0);

    /* empty plain text */
    ck_assert_int_eq(acme_seal(&sealed, &slen, pool, secret, "", 0), APR_SUCCESS);
    ck_assert_uint_eq(slen, 37);
    ck_assert_int_eq(acme_unseal(&back, &blen, pool, secret, sealed, slen), APR_SUCCESS);
    ck_assert_uint_eq(blen, 0);
}
END_TEST

START_TEST(seal_tampered)
{
    unsigned char secret[ACME_SECRET_LEN], wrong[ACME_SECRET_LEN];
    const char *plain = "account key";
    char *sealed, *copy, *back = NULL;
    apr_size_t slen, blen, i;

    ck_assert_int_eq(acme_random_bytes(secret, sizeof(secret)), APR_SUCCESS);
    memcpy(wrong, secret, sizeof(wrong));
    wrong[31] ^= 0x01;
    ck_assert_int_eq(acme_seal(&sealed, &slen, pool, secret, plain, strlen(plain)), APR_SUCCESS);

    /* every single flipped byte (magic, IV, tag, ciphertext) is detected */
    copy = apr_pmemdup(pool, sealed, slen);
    for (i = 0; i < slen; ++i) {
        copy[i] ^= 0x20;
        ck_assert_int_eq(acme_unseal(&back, &blen, pool, secret, copy, slen), ACME_ECRYPTO);
        ck_assert_ptr_null(back);
        copy[i] ^= 0x20;
    }
    ck_assert_int_eq(acme_unseal(&back, &blen, pool, secret, copy, slen), APR_SUCCESS);

    /* wrong secret */
    ck_assert_int_eq(acme_unseal(&back, &blen, pool, wrong, sealed, slen), ACME_ECRYPTO);
    /* truncated */
    ck_assert_int_eq(acme_unseal(&back, &blen, pool, secret, sealed, slen - 1), ACME_ECRYPTO);
    ck_assert_int_eq(acme_unseal(&back, &blen, pool, secret, sealed, 20), ACME_ECRYPTO);
    /* not sealed at all */
    ck_assert_int_eq(acme_unseal(&back, &blen, pool, secret, plain, strlen(plain)),
                     ACME_ECRYPTO);
}
END_TEST

Suite *crypto_suite(void)
{
    Suite *s = suite_create("crypto");
    TCase *tc = tcase_create("crypto");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, key_type_names);
    tcase_add_test(tc, key_ec_p256);
    tcase_add_test(tc, key_ec_p384);
    tcase_add_test(tc, key_rsa2048);
    tcase_add_test(tc, key_pem_garbage);
    tcase_add_test(tc, sha256_vectors);
    tcase_add_test(tc, random_bytes);
    tcase_add_test(tc, seal_round_trip);
    tcase_add_test(tc, seal_tampered);
    suite_add_tcase(s, tc);
    return s;
}
