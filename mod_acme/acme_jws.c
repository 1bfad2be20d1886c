/* JWS (RFC 7515) in flattened JSON serialization, JWK (RFC 7517), thumbprints (RFC 7638). */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "acme.h"
#include "acme_crypto.h"
#include "acme_json.h"
#include "acme_jws.h"
#include "acme_util.h"

/* Big-endian bytes of a key's BIGNUM parameter; padded to padlen when padlen > 0,
 * minimal (no leading zeros) otherwise. base64url-encoded, from p. */
static apr_status_t bn_param_b64(const char **pb64, apr_pool_t *p, EVP_PKEY *pkey,
                                 const char *param, int padlen)
{
    BIGNUM *bn = NULL;
    unsigned char *buf;
    int n;
    apr_status_t rv = ACME_ECRYPTO;

    if (EVP_PKEY_get_bn_param(pkey, param, &bn) != 1) {
        return ACME_ECRYPTO;
    }
    if (padlen > 0) {
        if (BN_num_bytes(bn) > padlen) {
            goto leave;
        }
        buf = apr_palloc(p, (apr_size_t)padlen);
        n = BN_bn2binpad(bn, buf, padlen);
    }
    else {
        buf = apr_palloc(p, (apr_size_t)BN_num_bytes(bn) + 1);
        n = BN_bn2bin(bn, buf);
    }
    if (n < 0) {
        goto leave;
    }
    *pb64 = acme_b64url_encode(p, buf, (apr_size_t)n);
    rv = APR_SUCCESS;
leave:
    BN_free(bn);
    return rv;
}

/* EC: curve name for the JWK and the coordinate size in bytes. */
static int ec_curve(const acme_key_t *key, const char **pcrv)
{
    const char *alg = acme_key_jws_alg(key);

    if (alg && !strcmp(alg, "ES256")) {
        *pcrv = "P-256";
        return 32;
    }
    if (alg && !strcmp(alg, "ES384")) {
        *pcrv = "P-384";
        return 48;
    }
    return 0;
}

apr_status_t acme_jwk_public(json_t **pjwk, const acme_key_t *key)
{
    apr_pool_t *tp;
    EVP_PKEY *pkey = acme_key_evp(key);
    const char *a, *b, *crv;
    json_t *jwk = NULL;
    int clen;
    apr_status_t rv;

    *pjwk = NULL;
    if (!pkey) {
        return APR_EINVAL;
    }
    rv = apr_pool_create(&tp, NULL);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (acme_key_is_ec(key)) {
        clen = ec_curve(key, &crv);
        if (!clen) {
            rv = APR_ENOTIMPL;
            goto leave;
        }
        if ((rv = bn_param_b64(&a, tp, pkey, OSSL_PKEY_PARAM_EC_PUB_X, clen)) != APR_SUCCESS
            || (rv = bn_param_b64(&b, tp, pkey, OSSL_PKEY_PARAM_EC_PUB_Y, clen))
                   != APR_SUCCESS) {
            goto leave;
        }
        jwk = json_pack("{s:s, s:s, s:s, s:s}", "crv", crv, "kty", "EC", "x", a, "y", b);
    }
    else if (EVP_PKEY_is_a(pkey, "RSA")) {
        if ((rv = bn_param_b64(&a, tp, pkey, OSSL_PKEY_PARAM_RSA_E, 0)) != APR_SUCCESS
            || (rv = bn_param_b64(&b, tp, pkey, OSSL_PKEY_PARAM_RSA_N, 0)) != APR_SUCCESS) {
            goto leave;
        }
        jwk = json_pack("{s:s, s:s, s:s}", "e", a, "kty", "RSA", "n", b);
    }
    else {
        rv = APR_ENOTIMPL;
        goto leave;
    }
    if (!jwk) {
        rv = APR_ENOMEM;
        goto leave;
    }
    *pjwk = jwk;
    rv = APR_SUCCESS;
leave:
    apr_pool_destroy(tp);
    return rv;
}

apr_status_t acme_jwk_thumbprint(const char **pthumb, apr_pool_t *p, const acme_key_t *key)
{
    json_t *jwk;
    char *canon;
    unsigned char md[32];
    apr_status_t rv;

    *pthumb = NULL;
    rv = acme_jwk_public(&jwk, key);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* RFC 7638 3.3: required members only, lexicographic order, no whitespace */
    canon = json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(jwk);
    if (!canon) {
        return APR_ENOMEM;
    }
    rv = acme_sha256(md, canon, strlen(canon));
    free(canon);
    if (rv == APR_SUCCESS) {
        *pthumb = acme_b64url_encode(p, md, sizeof(md));
    }
    return rv;
}

apr_status_t acme_key_authorization(const char **pka, apr_pool_t *p, const char *token,
                                    const acme_key_t *account_key)
{
    const char *thumb;
    apr_status_t rv;

    *pka = NULL;
    if (!token || !*token) {
        return APR_EINVAL;
    }
    rv = acme_jwk_thumbprint(&thumb, p, account_key);
    if (rv == APR_SUCCESS) {
        *pka = apr_pstrcat(p, token, ".", thumb, NULL);
    }
    return rv;
}

static const EVP_MD *alg_digest(const char *alg)
{
    if (!alg) {
        return NULL;
    }
    if (!strcmp(alg, "ES256") || !strcmp(alg, "RS256")) {
        return EVP_sha256();
    }
    if (!strcmp(alg, "ES384")) {
        return EVP_sha384();
    }
    return NULL;
}

apr_status_t acme_jws_signature(const char **psig_b64, apr_pool_t *p, const acme_key_t *key,
                                const char *protected_b64, const char *payload_b64)
{
    EVP_PKEY *pkey = acme_key_evp(key);
    EVP_MD_CTX *mctx = NULL;
    ECDSA_SIG *esig = NULL;
    const EVP_MD *md;
    const char *input;
    unsigned char *sig = NULL;
    size_t siglen = 0;
    apr_status_t rv = ACME_ECRYPTO;

    *psig_b64 = NULL;
    md = alg_digest(acme_key_jws_alg(key));
    if (!pkey || !md || !protected_b64 || !payload_b64) {
        return APR_EINVAL;
    }
    input = apr_pstrcat(p, protected_b64, ".", payload_b64, NULL);

    mctx = EVP_MD_CTX_new();
    if (!mctx) {
        return APR_ENOMEM;
    }
    /* RSA keys default to RSASSA-PKCS1-v1_5 padding */
    if (EVP_DigestSignInit_ex(mctx, NULL, EVP_MD_get0_name(md), NULL, NULL, pkey, NULL) != 1
        || EVP_DigestSign(mctx, NULL, &siglen, (const unsigned char *)input, strlen(input))
               != 1) {
        goto leave;
    }
    sig = apr_palloc(p, siglen);
    if (EVP_DigestSign(mctx, sig, &siglen, (const unsigned char *)input, strlen(input)) != 1) {
        goto leave;
    }

    if (acme_key_is_ec(key)) {
        /* DER ECDSA-Sig-Value -> raw R || S, each left-padded (RFC 7518 3.4) */
        const unsigned char *der = sig;
        const BIGNUM *r, *s;
        const char *crv;
        int clen = ec_curve(key, &crv);
        unsigned char *raw;

        esig = d2i_ECDSA_SIG(NULL, &der, (long)siglen);
        if (!esig || !clen) {
            goto leave;
        }
        ECDSA_SIG_get0(esig, &r, &s);
        raw = apr_palloc(p, (apr_size_t)clen * 2);
        if (BN_bn2binpad(r, raw, clen) != clen || BN_bn2binpad(s, raw + clen, clen) != clen) {
            goto leave;
        }
        *psig_b64 = acme_b64url_encode(p, raw, (apr_size_t)clen * 2);
    }
    else {
        *psig_b64 = acme_b64url_encode(p, sig, siglen);
    }
    rv = APR_SUCCESS;
leave:
    ECDSA_SIG_free(esig);
    EVP_MD_CTX_free(mctx);
    return rv;
}

apr_status_t acme_jws_sign(const char **pjws, apr_pool_t *p, const acme_key_t *key,
                           const char *kid, const char *nonce, const char *url,
                           const char *payload)
{
    json_t *hdr = NULL, *jws = NULL, *jwk = NULL;
    const char *alg, *hdr_json, *prot_b64, *payload_b64, *sig_b64;
    apr_status_t rv;

    *pjws = NULL;
    alg = acme_key_jws_alg(key);
    if (!alg || !url) {
        return APR_EINVAL;
    }
    hdr = json_object();
    if (!hdr) {
        return APR_ENOMEM;
    }
    json_object_set_new(hdr, "alg", json_string(alg));
    if (nonce) {
        json_object_set_new(hdr, "nonce", json_string(nonce));
    }
    json_object_set_new(hdr, "url", json_string(url));
    if (kid) {
        json_object_set_new(hdr, "kid", json_string(kid));
    }
    else {
        rv = acme_jwk_public(&jwk, key);
        if (rv != APR_SUCCESS) {
            goto leave;
        }
        json_object_set_new(hdr, "jwk", jwk);
    }
    hdr_json = acme_json_dump(p, hdr);
    if (!hdr_json) {
        rv = APR_ENOMEM;
        goto leave;
    }
    prot_b64 = acme_b64url_encode(p, (const unsigned char *)hdr_json, strlen(hdr_json));
    payload_b64 = payload ? acme_b64url_encode(p, (const unsigned char *)payload,
                                               strlen(payload))
                          : "";
    rv = acme_jws_signature(&sig_b64, p, key, prot_b64, payload_b64);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    jws = json_pack("{s:s, s:s, s:s}", "protected", prot_b64, "payload", payload_b64,
                    "signature", sig_b64);
    if (!jws) {
        rv = APR_ENOMEM;
        goto leave;
    }
    *pjws = acme_json_dump(p, jws);
    rv = *pjws ? APR_SUCCESS : APR_ENOMEM;
leave:
    json_decref(jws);
    json_decref(hdr);
    return rv;
}

apr_status_t acme_jws_eab(json_t **peab, apr_pool_t *p, const acme_key_t *account_key,
                          const char *kid, const unsigned char *mac_key, apr_size_t mac_len,
                          const char *url)
{
    json_t *hdr = NULL, *jwk = NULL, *eab;
    const char *hdr_json, *jwk_json, *prot_b64, *payload_b64, *input;
    unsigned char mac[32];
    apr_status_t rv;

    *peab = NULL;
    if (!account_key || !kid || !*kid || !mac_key || !mac_len || !url) {
        return APR_EINVAL;
    }
    rv = acme_jwk_public(&jwk, account_key);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    hdr = json_pack("{s:s, s:s, s:s}", "alg", "HS256", "kid", kid, "url", url);
    hdr_json = acme_json_dump(p, hdr);
    jwk_json = acme_json_dump(p, jwk);
    if (!hdr_json || !jwk_json) {
        rv = APR_ENOMEM;
        goto leave;
    }
    prot_b64 = acme_b64url_encode(p, (const unsigned char *)hdr_json, strlen(hdr_json));
    payload_b64 = acme_b64url_encode(p, (const unsigned char *)jwk_json, strlen(jwk_json));
    input = apr_pstrcat(p, prot_b64, ".", payload_b64, NULL);
    rv = acme_hmac_sha256(mac, mac_key, mac_len, input, strlen(input));
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    eab = json_pack("{s:s, s:s, s:s}", "protected", prot_b64, "payload", payload_b64,
                    "signature", acme_b64url_encode(p, mac, sizeof(mac)));
    if (!eab) {
        rv = APR_ENOMEM;
        goto leave;
    }
    *peab = acme_json_pool(p, eab);
leave:
    json_decref(jwk);
    json_decref(hdr);
    return rv;
}

apr_status_t acme_jws_verify(const acme_key_t *key, const char *jws_json, apr_pool_t *p)
{
    EVP_PKEY *pkey = acme_key_evp(key);
    EVP_MD_CTX *mctx = NULL;
    ECDSA_SIG *esig = NULL;
    BIGNUM *r = NULL, *s = NULL;
    json_t *jws, *hdr;
    const char *prot_b64, *payload_b64, *sig_b64, *alg, *input;
    unsigned char *hdr_raw, *sig, *der = NULL;
    apr_size_t hdr_len, sig_len;
    const EVP_MD *md;
    int der_len;
    apr_status_t rv = ACME_ECRYPTO;

    if (!pkey || !jws_json) {
        return APR_EINVAL;
    }
    jws = acme_json_parse(p, jws_json, strlen(jws_json), NULL);
    prot_b64 = acme_json_str(jws, "protected");
    payload_b64 = acme_json_str(jws, "payload");
    sig_b64 = acme_json_str(jws, "signature");
    if (!prot_b64 || !payload_b64 || !sig_b64) {
        return APR_EINVAL;
    }
    if (acme_b64url_decode(&hdr_raw, &hdr_len, p, prot_b64) != APR_SUCCESS
        || acme_b64url_decode(&sig, &sig_len, p, sig_b64) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    hdr = acme_json_parse(p, (const char *)hdr_raw, hdr_len, NULL);
    alg = acme_json_str(hdr, "alg");
    /* the header's alg must be the one this key signs with: no alg confusion */
    if (!alg || !acme_key_jws_alg(key) || strcmp(alg, acme_key_jws_alg(key))) {
        return ACME_ECRYPTO;
    }
    md = alg_digest(alg);
    if (!md) {
        return ACME_ECRYPTO;
    }
    if (acme_key_is_ec(key)) {
        const char *crv;
        int clen = ec_curve(key, &crv);
        if (!clen || sig_len != (apr_size_t)clen * 2) {
            return ACME_ECRYPTO;
        }
        r = BN_bin2bn(sig, clen, NULL);
        s = BN_bin2bn(sig + clen, clen, NULL);
        esig = ECDSA_SIG_new();
        if (!r || !s || !esig || ECDSA_SIG_set0(esig, r, s) != 1) {
            BN_free(r);
            BN_free(s);
            goto leave;
        }
        der_len = i2d_ECDSA_SIG(esig, &der);
        if (der_len <= 0) {
            goto leave;
        }
        sig = apr_pmemdup(p, der, (apr_size_t)der_len);
        sig_len = (apr_size_t)der_len;
    }
    input = apr_pstrcat(p, prot_b64, ".", payload_b64, NULL);
    mctx = EVP_MD_CTX_new();
    if (!mctx) {
        rv = APR_ENOMEM;
        goto leave;
    }
    if (EVP_DigestVerifyInit_ex(mctx, NULL, EVP_MD_get0_name(md), NULL, NULL, pkey, NULL) == 1
        && EVP_DigestVerify(mctx, sig, sig_len, (const unsigned char *)input, strlen(input))
               == 1) {
        rv = APR_SUCCESS;
    }
leave:
    OPENSSL_free(der);
    ECDSA_SIG_free(esig);
    EVP_MD_CTX_free(mctx);
    ERR_clear_error();
    return rv;
}
