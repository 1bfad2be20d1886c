/* JWS (RFC 7515) in flattened JSON serialization for ACME, JWK (RFC 7517) and
 * JWK thumbprints (RFC 7638). */
#ifndef ACME_JWS_H
#define ACME_JWS_H

#include "acme.h"
#include "acme_crypto.h"
#include <jansson.h>

/* Public JWK of key: EC {"crv","kty","x","y"}, RSA {"e","kty","n"} (new reference). */
apr_status_t acme_jwk_public(json_t **pjwk, const acme_key_t *key);
/* base64url(SHA-256(canonical JWK)), RFC 7638. */
apr_status_t acme_jwk_thumbprint(const char **pthumb, apr_pool_t *p, const acme_key_t *key);
/* token "." thumbprint (RFC 8555 8.1). */
apr_status_t acme_key_authorization(const char **pka, apr_pool_t *p, const char *token,
                                    const acme_key_t *account_key);

/* Sign an ACME request. Protected header: alg, nonce, url, and kid when kid != NULL,
 * else jwk. payload NULL means POST-as-GET (empty payload ""). Result is the JSON
 * text {"protected":..,"payload":..,"signature":..} allocated from p.
 * ECDSA signatures are the raw R||S form (RFC 7518 3.4), not DER. */
apr_status_t acme_jws_sign(const char **pjws, apr_pool_t *p, const acme_key_t *key,
                           const char *kid, const char *nonce, const char *url,
                           const char *payload);

/* External Account Binding (RFC 8555 7.3.4): a JWS with protected {"alg":"HS256","kid":kid,
 * "url":url} (no nonce), payload the public JWK of account_key, MAC'd with HMAC-SHA256 under
 * mac_key. url is the newAccount URL (the outer JWS's url). *peab is a new JSON object
 * {"protected","payload","signature"} owned by p, to be set as "externalAccountBinding". */
apr_status_t acme_jws_eab(json_t **peab, apr_pool_t *p, const acme_key_t *account_key,
                          const char *kid, const unsigned char *mac_key, apr_size_t mac_len,
                          const char *url);

/* Lower level, for tests and EAB: sign protected_b64 "." payload_b64 with key. */
apr_status_t acme_jws_signature(const char **psig_b64, apr_pool_t *p, const acme_key_t *key,
                                const char *protected_b64, const char *payload_b64);
/* Verify a flattened JWS with key (used by unit tests). APR_SUCCESS when valid. */
apr_status_t acme_jws_verify(const acme_key_t *key, const char *jws_json, apr_pool_t *p);

#endif
