/* OpenSSL 3 (EVP / OSSL_PARAM only): keys, digests, random, sealing secrets at rest. */
#include <limits.h>
#include <string.h>
#include <strings.h>

#include <apr_strings.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "acme.h"
#include "acme_crypto.h"

struct acme_key_t {
    EVP_PKEY *pkey;
};

static const struct {
    acme_key_type_t type;
    const char *name;
} key_types[] = {
    { ACME_KEY_EC_P256, "p256" },
    { ACME_KEY_EC_P384, "p384" },
    { ACME_KEY_RSA2048, "rsa2048" },
    { ACME_KEY_RSA3072, "rsa3072" },
    { ACME_KEY_RSA4096, "rsa4096" },
};

apr_status_t acme_key_type_parse(acme_key_type_t *ptype, const char *s)
{
    apr_size_t i;

    if (s) {
        for (i = 0; i < sizeof(key_types) / sizeof(key_types[0]); ++i) {
            if (!strcasecmp(s, key_types[i].name)) {
                *ptype = key_types[i].type;
                return APR_SUCCESS;
            }
        }
    }
    return APR_EINVAL;
}

const char *acme_key_type_name(acme_key_type_t type)
{
    apr_size_t i;

    for (i = 0; i < sizeof(key_types) / sizeof(key_types[0]); ++i) {
        if (key_types[i].type == type) {
            return key_types[i].name;
        }
    }
    return "unknown";
}

static apr_status_t pkey_cleanup(void *data)
{
    EVP_PKEY_free((EVP_PKEY *)data);
    return APR_SUCCESS;
}

acme_key_t *acme_key_wrap(apr_pool_t *p, EVP_PKEY *pkey)
{
    acme_key_t *key = apr_pcalloc(p, sizeof(*key));

    key->pkey = pkey;
    if (pkey) {
        apr_pool_cleanup_register(p, pkey, pkey_cleanup, apr_pool_cleanup_null);
    }
    return key;
}

EVP_PKEY *acme_key_evp(const acme_key_t *key)
{
    return key ? key->pkey : NULL;
}

apr_status_t acme_key_generate(acme_key_t **pkey, apr_pool_t *p, acme_key_type_t type)
{
    EVP_PKEY *pk = NULL;

    *pkey = NULL;
    switch (type) {
    case ACME_KEY_EC_P256:
        pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        break;
    case ACME_KEY_EC_P384:
        pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
        break;
    case ACME_KEY_RSA2048:
        pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
        break;
    case ACME_KEY_RSA3072:
        pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
        break;
    case ACME_KEY_RSA4096:
        pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
        break;
    default:
        return APR_EINVAL;
    }
    if (!pk) {
        return ACME_ECRYPTO;
    }
    *pkey = acme_key_wrap(p, pk);
    return APR_SUCCESS;
}

apr_status_t acme_key_to_pem(const char **ppem, apr_size_t *plen, apr_pool_t *p,
                             const acme_key_t *key)
{
    BIO *bio;
    char *data;
    long n;
    apr_status_t rv = ACME_ECRYPTO;

    *ppem = NULL;
    if (plen) {
        *plen = 0;
    }
    if (!key || !key->pkey) {
        return APR_EINVAL;
    }
    bio = BIO_new(BIO_s_mem());
    if (!bio) {
        return APR_ENOMEM;
    }
    /* PKCS#8 PrivateKeyInfo, no encryption */
    if (PEM_write_bio_PrivateKey(bio, key->pkey, NULL, NULL, 0, NULL, NULL) != 1) {
        goto leave;
    }
    n = BIO_get_mem_data(bio, &data);
    if (n <= 0) {
        goto leave;
    }
    *ppem = apr_pstrmemdup(p, data, (apr_size_t)n);
    if (plen) {
        *plen = (apr_size_t)n;
    }
    rv = APR_SUCCESS;
leave:
    /* the BIO held the unencrypted key: wipe before freeing */
    n = BIO_get_mem_data(bio, &data);
    if (n > 0) {
        OPENSSL_cleanse(data, (size_t)n);
    }
    BIO_free(bio);
    return rv;
}

/* Never prompt on a terminal for a passphrase. */
static int no_password_cb(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

apr_status_t acme_key_from_pem(acme_key_t **pkey, apr_pool_t *p, const char *pem,
                               apr_size_t len)
{
    BIO *bio;
    EVP_PKEY *pk;

    *pkey = NULL;
    if (!pem || len == 0 || len > INT_MAX) {
        return APR_EINVAL;
    }
    bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio) {
        return APR_ENOMEM;
    }
    pk = PEM_read_bio_PrivateKey(bio, NULL, no_password_cb, NULL);
    BIO_free(bio);
    if (!pk) {
        return ACME_ECRYPTO;
    }
    *pkey = acme_key_wrap(p, pk);
    return APR_SUCCESS;
}

int acme_key_is_ec(const acme_key_t *key)
{
    return key && key->pkey && EVP_PKEY_is_a(key->pkey, "EC");
}

const char *acme_key_jws_alg(const acme_key_t *key)
{
    char group[64];
    size_t glen = 0;

    if (!key || !key->pkey) {
        return NULL;
    }
    if (EVP_PKEY_is_a(key->pkey, "RSA")) {
        return "RS256";
    }
    if (EVP_PKEY_is_a(key->pkey, "EC")
        && EVP_PKEY_get_utf8_string_param(key->pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                          sizeof(group), &glen)) {
        if (!strcmp(group, "prime256v1") || !strcasecmp(group, "P-256")) {
            return "ES256";
        }
        if (!strcmp(group, "secp384r1") || !strcasecmp(group, "P-384")) {
            return "ES384";
        }
    }
    return NULL;
}

apr_status_t acme_key_type_of(acme_key_type_t *ptype, const acme_key_t *key)
{
    const char *alg = acme_key_jws_alg(key);

    if (alg && !strcmp(alg, "ES256")) {
        *ptype = ACME_KEY_EC_P256;
    }
    else if (alg && !strcmp(alg, "ES384")) {
        *ptype = ACME_KEY_EC_P384;
    }
    else if (alg && !strcmp(alg, "RS256") && EVP_PKEY_get_bits(key->pkey) == 2048) {
        *ptype = ACME_KEY_RSA2048;
    }
    else if (alg && !strcmp(alg, "RS256") && EVP_PKEY_get_bits(key->pkey) == 3072) {
        *ptype = ACME_KEY_RSA3072;
    }
    else if (alg && !strcmp(alg, "RS256") && EVP_PKEY_get_bits(key->pkey) == 4096) {
        *ptype = ACME_KEY_RSA4096;
    }
    else {
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

apr_status_t acme_sha256(unsigned char out[32], const void *data, apr_size_t len)
{
    unsigned int olen = 0;

    if (EVP_Digest(data, len, out, &olen, EVP_sha256(), NULL) != 1 || olen != 32) {
        return ACME_ECRYPTO;
    }
    return APR_SUCCESS;
}

apr_status_t acme_hmac_sha256(unsigned char out[32], const void *key, apr_size_t keylen,
                              const void *data, apr_size_t len)
{
    size_t olen = 0;

    if (!key || !keylen || (!data && len)) {
        return APR_EINVAL;
    }
    if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, keylen, data, len, out, 32, &olen)
        || olen != 32) {
        return ACME_ECRYPTO;
    }
    return APR_SUCCESS;
}

apr_status_t acme_random_bytes(unsigned char *buf, apr_size_t len)
{
    if (len > INT_MAX) {
        return APR_EINVAL;
    }
    return RAND_bytes(buf, (int)len) == 1 ? APR_SUCCESS : ACME_ECRYPTO;
}

/* ---- sealing -------------------------------------------------------------------------- */

#define SEAL_MAGIC     "ACMESEAL1"
#define SEAL_MAGIC_LEN 9
#define SEAL_IV_LEN    12
#define SEAL_TAG_LEN   16
#define SEAL_HDR_LEN   (SEAL_MAGIC_LEN + SEAL_IV_LEN + SEAL_TAG_LEN)

int acme_is_sealed(const void *data, apr_size_t len)
{
    return data && len >= SEAL_HDR_LEN && !memcmp(data, SEAL_MAGIC, SEAL_MAGIC_LEN);
}

const char *acme_unseal_problem(const void *data, apr_size_t len)
{
    if (!data || len == 0) {
        return "is empty (0 bytes)";
    }
    if (!acme_is_sealed(data, len)) {
        return "is not a sealed key (damaged)";
    }
    return "cannot be unsealed with system/secret/secret.key (damaged, truncated, or sealed "
           "under another secret)";
}

apr_status_t acme_seal(char **pout, apr_size_t *poutlen, apr_pool_t *p,
                       const unsigned char secret[ACME_SECRET_LEN],
                       const void *plain, apr_size_t len)
{
    EVP_CIPHER_CTX *ctx = NULL;
    unsigned char *out, *iv, *tag, *ct;
    int n = 0, fin = 0;
    apr_status_t rv = ACME_ECRYPTO;

    *pout = NULL;
    if (poutlen) {
        *poutlen = 0;
    }
    if (len > (apr_size_t)INT_MAX - SEAL_HDR_LEN - 16) {
        return APR_EINVAL;
    }
    out = apr_palloc(p, SEAL_HDR_LEN + len + 1);
    memcpy(out, SEAL_MAGIC, SEAL_MAGIC_LEN);
    iv = out + SEAL_MAGIC_LEN;
    tag = iv + SEAL_IV_LEN;
    ct = tag + SEAL_TAG_LEN;
    if (RAND_bytes(iv, SEAL_IV_LEN) != 1) {
        return ACME_ECRYPTO;
    }
    ctx = EVP_CIPHER_CTX_new();
    if (!ctx) {
        return APR_ENOMEM;
    }
    if (EVP_EncryptInit_ex2(ctx, EVP_aes_256_gcm(), secret, iv, NULL) != 1) {
        goto leave;
    }
    /* the magic is authenticated as AAD: it cannot be swapped for another format */
    if (EVP_EncryptUpdate(ctx, NULL, &n, (const unsigned char *)SEAL_MAGIC,
                          SEAL_MAGIC_LEN) != 1) {
        goto leave;
    }
    if (len > 0 && EVP_EncryptUpdate(ctx, ct, &n, plain, (int)len) != 1) {
        goto leave;
    }
    if (len == 0) {
        n = 0;
    }
    if (EVP_EncryptFinal_ex(ctx, ct + n, &fin) != 1) {
        goto leave;
    }
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, SEAL_TAG_LEN, tag) != 1) {
        goto leave;
    }
    out[SEAL_HDR_LEN + len] = '\0';
    *pout = (char *)out;
    if (poutlen) {
        *poutlen = SEAL_HDR_LEN + len;
    }
    rv = APR_SUCCESS;
leave:
    EVP_CIPHER_CTX_free(ctx);
    return rv;
}

apr_status_t acme_unseal(char **pout, apr_size_t *poutlen, apr_pool_t *p,
                         const unsigned char secret[ACME_SECRET_LEN],
                         const void *sealed, apr_size_t len)
{
    EVP_CIPHER_CTX *ctx = NULL;
    const unsigned char *in = sealed, *iv, *tag, *ct;
    unsigned char tagbuf[SEAL_TAG_LEN];
    unsigned char *out;
    apr_size_t ctlen;
    int n = 0, fin = 0;
    apr_status_t rv = ACME_ECRYPTO;

    *pout = NULL;
    if (poutlen) {
        *poutlen = 0;
    }
    if (!acme_is_sealed(sealed, len) || len > (apr_size_t)INT_MAX) {
        return ACME_ECRYPTO;
    }
    iv = in + SEAL_MAGIC_LEN;
    tag = iv + SEAL_IV_LEN;
    ct = tag + SEAL_TAG_LEN;
    ctlen = len - SEAL_HDR_LEN;
    memcpy(tagbuf, tag, SEAL_TAG_LEN);
    out = apr_palloc(p, ctlen + 1);

    ctx = EVP_CIPHER_CTX_new();
    if (!ctx) {
        return APR_ENOMEM;
    }
    if (EVP_DecryptInit_ex2(ctx, EVP_aes_256_gcm(), secret, iv, NULL) != 1) {
        goto leave;
    }
    if (EVP_DecryptUpdate(ctx, NULL, &n, (const unsigned char *)SEAL_MAGIC,
                          SEAL_MAGIC_LEN) != 1) {
        goto leave;
    }
    n = 0;
    if (ctlen > 0 && EVP_DecryptUpdate(ctx, out, &n, ct, (int)ctlen) != 1) {
        goto leave;
    }
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, SEAL_TAG_LEN, tagbuf) != 1) {
        goto leave;
    }
    if (EVP_DecryptFinal_ex(ctx, out + n, &fin) != 1) {
        /* tag mismatch: tampered data or wrong secret */
        OPENSSL_cleanse(out, ctlen);
        goto leave;
    }
    out[ctlen] = '\0';
    *pout = (char *)out;
    if (poutlen) {
        *poutlen = ctlen;
    }
    rv = APR_SUCCESS;
leave:
    EVP_CIPHER_CTX_free(ctx);
    ERR_clear_error();
    return rv;
}

const char *acme_crypto_errors(apr_pool_t *p)
{
    unsigned long e;
    char buf[256];
    const char *s = NULL;

    while ((e = ERR_get_error()) != 0) {
        ERR_error_string_n(e, buf, sizeof(buf));
        s = s ? apr_pstrcat(p, s, "; ", buf, NULL) : apr_pstrdup(p, buf);
    }
    return s ? s : "no OpenSSL error recorded";
}
