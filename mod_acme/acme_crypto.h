/* OpenSSL 3 (EVP / OSSL_PARAM only): keys, digests, random, sealing secrets at rest. */
#ifndef ACME_CRYPTO_H
#define ACME_CRYPTO_H

#include "acme.h"
#include <openssl/evp.h>

typedef enum {
    ACME_KEY_EC_P256, ACME_KEY_EC_P384, ACME_KEY_RSA2048, ACME_KEY_RSA3072, ACME_KEY_RSA4096
} acme_key_type_t;

/* An EVP_PKEY owned by a pool (freed at pool cleanup). */
typedef struct acme_key_t acme_key_t;

/* "p256", "p384", "rsa2048", "rsa3072", "rsa4096" (case-insensitive). APR_EINVAL otherwise. */
apr_status_t acme_key_type_parse(acme_key_type_t *ptype, const char *s);
const char *acme_key_type_name(acme_key_type_t type);

apr_status_t acme_key_generate(acme_key_t **pkey, apr_pool_t *p, acme_key_type_t type);
/* PKCS#8 PEM, unencrypted (callers seal it before it touches a disk a worker can read). */
apr_status_t acme_key_to_pem(const char **ppem, apr_size_t *plen, apr_pool_t *p, const acme_key_t *key);
apr_status_t acme_key_from_pem(acme_key_t **pkey, apr_pool_t *p, const char *pem, apr_size_t len);
EVP_PKEY *acme_key_evp(const acme_key_t *key);
/* Wrap an EVP_PKEY (takes ownership). */
acme_key_t *acme_key_wrap(apr_pool_t *p, EVP_PKEY *pkey);
int acme_key_is_ec(const acme_key_t *key);
/* "ES256" for P-256, "ES384" for P-384, "RS256" for RSA. */
const char *acme_key_jws_alg(const acme_key_t *key);
/* The type of a key, if it is one mod_acme makes (else APR_EINVAL). */
apr_status_t acme_key_type_of(acme_key_type_t *ptype, const acme_key_t *key);

apr_status_t acme_sha256(unsigned char out[32], const void *data, apr_size_t len);
apr_status_t acme_random_bytes(unsigned char *buf, apr_size_t len);
/* HMAC-SHA256 (RFC 2104) of data under key (the JWS "HS256" MAC, e.g. for EAB). */
apr_status_t acme_hmac_sha256(unsigned char out[32], const void *key, apr_size_t keylen,
                              const void *data, apr_size_t len);

/* Sealing with AES-256-GCM under a 32-byte secret.
 * Format: "ACMESEAL1" (9 bytes) | 12-byte IV | 16-byte tag | ciphertext.
 * acme_unseal fails with ACME_ECRYPTO when the tag does not verify. */
#define ACME_SECRET_LEN 32
apr_status_t acme_seal(char **pout, apr_size_t *poutlen, apr_pool_t *p,
                       const unsigned char secret[ACME_SECRET_LEN],
                       const void *plain, apr_size_t len);
apr_status_t acme_unseal(char **pout, apr_size_t *poutlen, apr_pool_t *p,
                         const unsigned char secret[ACME_SECRET_LEN],
                         const void *sealed, apr_size_t len);
int acme_is_sealed(const void *data, apr_size_t len);
/* Why a sealed file's content did not unseal, for a log line ("is empty (0 bytes)", ...). */
const char *acme_unseal_problem(const void *data, apr_size_t len);

/* The last OpenSSL error queue as one string (and clears it). */
const char *acme_crypto_errors(apr_pool_t *p);

#endif
