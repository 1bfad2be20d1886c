/* Unit tests for acme_jws on RFC vectors: RFC 7638 thumbprint, RFC 7515 A.2 (RS256) and
 * A.3 (ES256), plus sign/verify round trips for every key type we sign with. */
#include <string.h>

#include <apr_strings.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "tests.h"
#include "acme.h"
#include "acme_crypto.h"
#include "acme_json.h"
#include "acme_jws.h"
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

/* ---- vectors -------------------------------------------------------------------------- */

/* RFC 7638 section 3.1 */
static const char rfc7638_n[] =
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_B"
    "JECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_F"
    "DW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4"
    "vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
static const char rfc7638_thumb[] = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

/* RFC 7515 Appendix A: the JWS Payload shared by A.2 and A.3 */
static const char rfc7515_payload[] =
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cn"
    "VlfQ";

/* RFC 7515 A.2 (RS256) */
static const char a2_protected[] = "eyJhbGciOiJSUzI1NiJ9";
static const char a2_n[] =
    "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0B"
    "m4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5"
    "z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7"
    "aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
static const char a2_e[] = "AQAB";
static const char a2_d[] =
    "Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2N"
    "XOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M"
    "_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x"
    "_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ";
static const char a2_p[] =
    "4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0Hw_Py"
    "5PJdTJNPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc";
static const char a2_q[] =
    "uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQ"
    "eZD_YwD66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc";
static const char a2_dp[] =
    "BwKfV3Akq5_MFZDFZCnW-wzl-CCo83WoZvnLQwCTeDv8uzluRSnm71I3QCLdhrqE2e9YkxvuxdBfpT_PI7Yz-FOKnu"
    "1R6HsJeDCjn12Sk3vmAktV2zb34MCdy7cpdTh_YVr7tss2u6vneTwrA86rZtu5Mbr1C1XsmvkxHQAdYo0";
static const char a2_dq[] =
    "h_96-mK1R_7glhsum81dZxjTnYynPbZpHziZjeeHcXYsXaaMwkOlODsWa7I9xXDoRwbKgB719rrmI2oKr6N3Do9U0a"
    "jaHF-NKJnwgjMd2w9cjz3_-kyNlxAr2v4IKhGNpmM5iIgOS1VZnOZ68m6_pbLBSp3nssTdlqvd0tIiTHU";
static const char a2_qi[] =
    "IYd7DHOhrWvxkwPQsRM2tOgrjbcrfvtQJipd-DlcxyVuuM9sQLdgjVk2oy26F0EmpScGLq2MowX7fhd_QJQ3ydy5cY"
    "7YIBi87w93IKLEdfnbJtoOPLUW0ITrJReOgo1cq9SbsxYawBgfp_gh6A5603k2-ZQwVK0JKSHuLFkuQ3U";
static const char a2_signature[] =
    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2F"
    "p5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQ"
    "BMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6Ie"
    "YI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";

/* RFC 7515 A.3 (ES256) */
static const char a3_protected[] = "eyJhbGciOiJFUzI1NiJ9";
static const char a3_x[] = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
static const char a3_y[] = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
static const char a3_d[] = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI";
static const char a3_signature[] =
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

/* ---- helpers: keys from JWK members via EVP_PKEY_fromdata ------------------------------ */

static BIGNUM *b64_bn(const char *b64)
{
    unsigned char *d;
    apr_size_t len;
    BIGNUM *bn;

    ck_assert_int_eq(acme_b64url_decode(&d, &len, pool, b64), APR_SUCCESS);
    bn = BN_bin2bn(d, (int)len, NULL);
    ck_assert_ptr_nonnull(bn);
    return bn;
}

static acme_key_t *key_fromdata(const char *type, OSSL_PARAM_BLD *bld, int selection)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pkey = NULL;

    ck_assert_ptr_nonnull(params);
    ck_assert_ptr_nonnull(ctx);
    ck_assert_int_eq(EVP_PKEY_fromdata_init(ctx), 1);
    ck_assert_int_eq(EVP_PKEY_fromdata(ctx, &pkey, selection, params), 1);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    return acme_key_wrap(pool, pkey);
}

/* RSA key from base64url members; the private ones may be NULL. */
static acme_key_t *rsa_key(const char *n, const char *e, const char *const priv[6])
{
    static const char *const names[6] = {
        OSSL_PKEY_PARAM_RSA_D, OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2,
        OSSL_PKEY_PARAM_RSA_EXPONENT1, OSSL_PKEY_PARAM_RSA_EXPONENT2,
        OSSL_PKEY_PARAM_RSA_COEFFICIENT1
    };
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *bns[8] = { NULL };
    acme_key_t *key;
    int i, nb = 0;

    bns[nb] = b64_bn(n);
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bns[nb++]);
    bns[nb] = b64_bn(e);
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bns[nb++]);
    for (i = 0; priv && i < 6; ++i) {
        bns[nb] = b64_bn(priv[i]);
        OSSL_PARAM_BLD_push_BN(bld, names[i], bns[nb++]);
    }
    key = key_fromdata("RSA", bld, priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY);
    for (i = 0; i < nb; ++i) {
        BN_free(bns[i]);
    }
    return key;
}

/* P-256 key from base64url x, y and optionally d. */
static acme_key_t *p256_key(const char *x, const char *y, const char *d)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    unsigned char pub[65], *bx, *by;
    apr_size_t lx, ly;
    BIGNUM *bd = NULL;
    acme_key_t *key;

    ck_assert_int_eq(acme_b64url_decode(&bx, &lx, pool, x), APR_SUCCESS);
    ck_assert_int_eq(acme_b64url_decode(&by, &ly, pool, y), APR_SUCCESS);
    ck_assert_uint_eq(lx, 32);
    ck_assert_uint_eq(ly, 32);
    pub[0] = 0x04; /* uncompressed point */
    memcpy(pub + 1, bx, 32);
    memcpy(pub + 33, by, 32);
    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub));
    if (d) {
        bd = b64_bn(d);
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bd);
    }
    key = key_fromdata("EC", bld, d ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY);
    BN_free(bd);
    return key;
}

static acme_key_t *a2_key(void)
{
    static const char *const priv[6] = { a2_d, a2_p, a2_q, a2_dp, a2_dq, a2_qi };
    return rsa_key(a2_n, a2_e, priv);
}

static const char *flattened(const char *prot, const char *payload, const char *sig)
{
    json_t *j = acme_json_pool(pool, json_pack("{s:s, s:s, s:s}", "protected", prot,
                                               "payload", payload, "signature", sig));
    return acme_json_dump(pool, j);
}

static json_t *decode_json_b64(const char *b64)
{
    unsigned char *d;
    apr_size_t len;
    json_t *j;

    ck_assert_int_eq(acme_b64url_decode(&d, &len, pool, b64), APR_SUCCESS);
    j = acme_json_parse(pool, (const char *)d, len, NULL);
    ck_assert_ptr_nonnull(j);
    return j;
}

/* ---- RFC vectors ---------------------------------------------------------------------- */

START_TEST(rfc7638_thumbprint)
{
    acme_key_t *key = rsa_key(rfc7638_n, "AQAB", NULL);
    const char *thumb, *ka;
    json_t *jwk;

    ck_assert_int_eq(acme_jwk_thumbprint(&thumb, pool, key), APR_SUCCESS);
    ck_assert_str_eq(thumb, rfc7638_thumb);

    ck_assert_int_eq(acme_jwk_public(&jwk, key), APR_SUCCESS);
    acme_json_pool(pool, jwk);
    ck_assert_str_eq(acme_json_str(jwk, "kty"), "RSA");
    ck_assert_str_eq(acme_json_str(jwk, "e"), "AQAB");
    ck_assert_str_eq(acme_json_str(jwk, "n"), rfc7638_n);
    ck_assert_uint_eq(json_object_size(jwk), 3);

    /* RFC 8555 8.1: keyAuthorization = token || '.' || base64url(Thumbprint(accountKey)) */
    ck_assert_int_eq(acme_key_authorization(&ka, pool,
                                            "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA", key),
                     APR_SUCCESS);
    ck_assert_str_eq(ka, "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA."
                         "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}
END_TEST

START_TEST(rfc7515_a2_rs256)
{
    acme_key_t *key = a2_key();
    acme_key_t *pub = rsa_key(a2_n, a2_e, NULL);
    const char *sig;

    ck_assert_str_eq(acme_key_jws_alg(key), "RS256");
    /* RSASSA-PKCS1-v1_5 is deterministic: byte-exact with the RFC */
    ck_assert_int_eq(acme_jws_signature(&sig, pool, key, a2_protected, rfc7515_payload),
                     APR_SUCCESS);
    ck_assert_str_eq(sig, a2_signature);
    /* and the RFC's JWS verifies with the public key alone */
    ck_assert_int_eq(acme_jws_verify(pub, flattened(a2_protected, rfc7515_payload, a2_signature),
                                     pool),
                     APR_SUCCESS);
    /* a different payload does not */
    ck_assert_int_ne(acme_jws_verify(pub, flattened(a2_protected, "e30", a2_signature), pool),
                     APR_SUCCESS);
}
END_TEST

START_TEST(rfc7515_a3_es256)
{
    acme_key_t *pub = p256_key(a3_x, a3_y, NULL);
    acme_key_t *priv = p256_key(a3_x, a3_y, a3_d);
    acme_key_t *other;
    char *bad_sig;
    const char *sig;
    unsigned char *raw;
    apr_size_t rlen;
    json_t *jwk;

    ck_assert_str_eq(acme_key_jws_alg(pub), "ES256");
    ck_assert_int_eq(acme_jws_verify(pub, flattened(a3_protected, rfc7515_payload, a3_signature),
                                     pool),
                     APR_SUCCESS);
    /* one flipped bit in S */
    bad_sig = apr_pstrdup(pool, a3_signature);
    bad_sig[70] = bad_sig[70] == 'A' ? 'B' : 'A';
    ck_assert_int_ne(acme_jws_verify(pub, flattened(a3_protected, rfc7515_payload, bad_sig),
                                     pool),
                     APR_SUCCESS);
    /* the payload altered */
    ck_assert_int_ne(acme_jws_verify(pub, flattened(a3_protected, "e30", a3_signature), pool),
                     APR_SUCCESS);
    /* another key */
    ck_assert_int_eq(acme_key_generate(&other, pool, ACME_KEY_EC_P256), APR_SUCCESS);
    ck_assert_int_ne(acme_jws_verify(other,
                                     flattened(a3_protected, rfc7515_payload, a3_signature),
                                     pool),
                     APR_SUCCESS);
    /* an RS256 header on an EC key is refused (no alg confusion) */
    ck_assert_int_ne(acme_jws_verify(pub, flattened(a2_protected, rfc7515_payload, a3_signature),
                                     pool),
                     APR_SUCCESS);

    /* the public JWK reproduces the RFC's coordinates */
    ck_assert_int_eq(acme_jwk_public(&jwk, priv), APR_SUCCESS);
    acme_json_pool(pool, jwk);
    ck_assert_str_eq(acme_json_str(jwk, "kty"), "EC");
    ck_assert_str_eq(acme_json_str(jwk, "crv"), "P-256");
    ck_assert_str_eq(acme_json_str(jwk, "x"), a3_x);
    ck_assert_str_eq(acme_json_str(jwk, "y"), a3_y);
    ck_assert_uint_eq(json_object_size(jwk), 4);

    /* ECDSA is randomized: a fresh signature with the RFC key is raw R||S and verifies */
    ck_assert_int_eq(acme_jws_signature(&sig, pool, priv, a3_protected, rfc7515_payload),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_b64url_decode(&raw, &rlen, pool, sig), APR_SUCCESS);
    ck_assert_uint_eq(rlen, 64);
    ck_assert_int_eq(acme_jws_verify(pub, flattened(a3_protected, rfc7515_payload, sig), pool),
                     APR_SUCCESS);
}
END_TEST

/* ---- round trips ---------------------------------------------------------------------- */

static void round_trip(acme_key_t *key, acme_key_t *other, const char *alg, apr_size_t sig_len)
{
    static const char *nonce = "6S8IqOGY7eL2lsGoTZYifg";
    static const char *url = "https://ca.test/acme/new-order";
    static const char *kid = "https://ca.test/acme/acct/12345";
    static const char *payload = "{\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.test\"}]}";
    const char *jws, *b64, *thumb, *thumb2;
    json_t *j, *hdr, *jwk, *myjwk;
    unsigned char *raw;
    apr_size_t rlen;
    char *tampered;

    ck_assert_str_eq(acme_key_jws_alg(key), alg);

    /* with kid */
    ck_assert_int_eq(acme_jws_sign(&jws, pool, key, kid, nonce, url, payload), APR_SUCCESS);
    j = acme_json_parse(pool, jws, strlen(jws), NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_uint_eq(json_object_size(j), 3);
    hdr = decode_json_b64(acme_json_str(j, "protected"));
    ck_assert_str_eq(acme_json_str(hdr, "alg"), alg);
    ck_assert_str_eq(acme_json_str(hdr, "nonce"), nonce);
    ck_assert_str_eq(acme_json_str(hdr, "url"), url);
    ck_assert_str_eq(acme_json_str(hdr, "kid"), kid);
    ck_assert_ptr_null(json_object_get(hdr, "jwk"));
    ck_assert_uint_eq(json_object_size(hdr), 4);
    ck_assert_int_eq(acme_b64url_decode(&raw, &rlen, pool, acme_json_str(j, "payload")),
                     APR_SUCCESS);
    ck_assert_uint_eq(rlen, strlen(payload));
    ck_assert(memcmp(raw, payload, rlen) == 0);
    ck_assert_int_eq(acme_b64url_decode(&raw, &rlen, pool, acme_json_str(j, "signature")),
                     APR_SUCCESS);
    ck_assert_uint_eq(rlen, sig_len);
    ck_assert_int_eq(acme_jws_verify(key, jws, pool), APR_SUCCESS);

    /* tampered payload: replace it with the base64url of "{}" */
    tampered = (char *)flattened(acme_json_str(j, "protected"), "e30",
                                 acme_json_str(j, "signature"));
    ck_assert_int_ne(acme_jws_verify(key, tampered, pool), APR_SUCCESS);
    /* another key of the same type */
    ck_assert_int_ne(acme_jws_verify(other, jws, pool), APR_SUCCESS);

    /* with jwk, POST-as-GET (empty payload) */
    ck_assert_int_eq(acme_jws_sign(&jws, pool, key, NULL, nonce, url, NULL), APR_SUCCESS);
    j = acme_json_parse(pool, jws, strlen(jws), NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(acme_json_str(j, "payload"), "");
    hdr = decode_json_b64(acme_json_str(j, "protected"));
    ck_assert_str_eq(acme_json_str(hdr, "alg"), alg);
    ck_assert_str_eq(acme_json_str(hdr, "nonce"), nonce);
    ck_assert_str_eq(acme_json_str(hdr, "url"), url);
    ck_assert_ptr_null(json_object_get(hdr, "kid"));
    jwk = acme_json_obj(hdr, "jwk");
    ck_assert_ptr_nonnull(jwk);
    ck_assert_int_eq(acme_jwk_public(&myjwk, key), APR_SUCCESS);
    acme_json_pool(pool, myjwk);
    ck_assert(json_equal(jwk, myjwk));
    ck_assert_ptr_null(json_object_get(jwk, "d"));
    ck_assert_int_eq(acme_jws_verify(key, jws, pool), APR_SUCCESS);

    /* thumbprint: 32 bytes, stable, differs between keys */
    ck_assert_int_eq(acme_jwk_thumbprint(&thumb, pool, key), APR_SUCCESS);
    ck_assert_int_eq(acme_jwk_thumbprint(&thumb2, pool, key), APR_SUCCESS);
    ck_assert_str_eq(thumb, thumb2);
    ck_assert_uint_eq(strlen(thumb), 43);
    ck_assert_int_eq(acme_jwk_thumbprint(&thumb2, pool, other), APR_SUCCESS);
    ck_assert_str_ne(thumb, thumb2);
    b64 = NULL;
    ck_assert_int_eq(acme_key_authorization(&b64, pool, "tok", key), APR_SUCCESS);
    ck_assert_str_eq(b64, apr_pstrcat(pool, "tok.", thumb, NULL));
}

static void round_trip_generated(acme_key_type_t type, const char *alg, apr_size_t sig_len)
{
    acme_key_t *key, *other;

    ck_assert_int_eq(acme_key_generate(&key, pool, type), APR_SUCCESS);
    ck_assert_int_eq(acme_key_generate(&other, pool, type), APR_SUCCESS);
    round_trip(key, other, alg, sig_len);
}

START_TEST(round_trip_es256)
{
    round_trip_generated(ACME_KEY_EC_P256, "ES256", 64);
}
END_TEST

START_TEST(round_trip_es384)
{
    round_trip_generated(ACME_KEY_EC_P384, "ES384", 96);
}
END_TEST

START_TEST(round_trip_rs256)
{
    /* RSA key generation is slow: sign with the RFC 7515 A.2 key (2048 bits), and use
     * the RFC 7638 key as "another key" */
    round_trip(a2_key(), rsa_key(rfc7638_n, "AQAB", NULL), "RS256", 256);
}
END_TEST

START_TEST(verify_garbage)
{
    acme_key_t *key;

    ck_assert_int_eq(acme_key_generate(&key, pool, ACME_KEY_EC_P256), APR_SUCCESS);
    ck_assert_int_ne(acme_jws_verify(key, "not json", pool), APR_SUCCESS);
    ck_assert_int_ne(acme_jws_verify(key, "{}", pool), APR_SUCCESS);
    ck_assert_int_ne(acme_jws_verify(key, flattened("!!", "e30", "AAAA"), pool), APR_SUCCESS);
    ck_assert_int_ne(acme_jws_verify(key, flattened(a3_protected, "e30", "AAAA"), pool),
                     APR_SUCCESS);
}
END_TEST

Suite *jws_suite(void)
{
    Suite *s = suite_create("jws");
    TCase *tc = tcase_create("jws");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, rfc7638_thumbprint);
    tcase_add_test(tc, rfc7515_a2_rs256);
    tcase_add_test(tc, rfc7515_a3_es256);
    tcase_add_test(tc, round_trip_es256);
    tcase_add_test(tc, round_trip_es384);
    tcase_add_test(tc, round_trip_rs256);
    tcase_add_test(tc, verify_garbage);
    suite_add_tcase(s, tc);
    return s;
}
