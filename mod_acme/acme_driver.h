/* The resumable order state machine: newOrder -> authorizations -> http-01 -> finalize ->
 * certificate -> staging. Progress is persisted in the store (orders/<id>/order.json) so a
 * restart or crash resumes the same order instead of opening a new one. */
#ifndef ACME_DRIVER_H
#define ACME_DRIVER_H

#include "acme.h"
#include "acme_client.h"
#include "acme_store.h"
#include "acme_crypto.h"

#define ACME_CHALLENGE_HTTP01    "http-01"
#define ACME_CHALLENGE_TLSALPN01 "tls-alpn-01"
#define ACME_CHALLENGE_DNS01     "dns-01"
/* store aspects of a tls-alpn-01 response (challenges/<acme_tlsalpn01_store_name>/) */
#define ACME_TLSALPN01_CERT "tls-alpn-01.pem"
#define ACME_TLSALPN01_KEY  "tls-alpn-01.key.sealed"
/* store aspect of an http-01 response naming the identifier it is for (the responder
 * answers only requests with that Host); the response itself is the aspect "http-01" */
#define ACME_HTTP01_HOST    "http-01.host"

/* Told +1 before an http-01 response is published in the store and -1 after it was removed
 * again (once per publication, from any thread running the driver). The http-01 responder
 * keeps the sum: while it is 0 no response exists and unknown tokens need no look-up. */
typedef void acme_http01_count_fn(void *baton, int delta);

/* The admin's dns-01 hook (ACMEDNSHook and friends). */
typedef struct acme_dns_hook_t {
    const char *program;             /* absolute path */
    const apr_array_header_t *args;  /* const char*, before the action */
    apr_interval_time_t timeout;     /* per run (0: 60 s) */
    apr_interval_time_t propagation_timeout; /* wait for the TXT record (0: don't) */
    const char *resolver;            /* "IPv4[:PORT]" asked, NULL: system resolver */
} acme_dns_hook_t;

typedef struct acme_cert_spec_t {
    const char *id;                  /* store entry name of this certificate */
    apr_array_header_t *names;       /* normalized (acme_names_normalize) */
    const char *ca_url;              /* directory URL */
    acme_key_type_t key_type;
    const char *replaces;            /* RFC 9773 certID of the certificate this order
                                        replaces (ARI), or NULL */
    const apr_array_header_t *challenge_types; /* allowed, preferred first; NULL: http-01 */
    const acme_dns_hook_t *dns_hook; /* for dns-01 (wildcards), or NULL */
} acme_cert_spec_t;

typedef void acme_sleep_fn(void *baton, apr_interval_time_t t);

typedef struct acme_driver_env_t {
    acme_client_t *client;            /* with the account already set (acme_account_ensure) */
    acme_store_t *store;
    const unsigned char *secret;      /* ACME_SECRET_LEN bytes: seals the new key in staging */
    apr_interval_time_t poll_timeout; /* give up waiting for a status after this (0: 5 min) */
    apr_interval_time_t poll_default; /* delay between polls without Retry-After (0: 1 s) */
    acme_sleep_fn *sleep;             /* NULL: apr_sleep; tests count instead of sleeping */
    void *sleep_baton;
    acme_http01_count_fn *http01_count; /* NULL: publications are not counted */
    void *http01_count_baton;
} acme_driver_env_t;

/* Obtain a certificate for spec and stage it: staging/<id>/{chain.pem, key.sealed, meta.json}.
 * meta.json: {"names":[..],"ca":URL,"key":"p256","serial":HEX,"not_before":RFC3339,
 * "not_after":RFC3339,"staged":RFC3339,"order":URL}.
 * http-01 responses are published in challenges/<hex sha256(token)>/http-01 (the key
 * authorization), with http-01.host (the identifier it is for), while the authorization is
 * pending and removed afterwards (env->http01_count is told each time).
 * Returns APR_SUCCESS when staged; on failure res says why (problem type, detail,
 * Retry-After) and the order state is kept when the order can still be resumed. */
apr_status_t acme_driver_obtain(const acme_driver_env_t *env, const acme_cert_spec_t *spec,
                                apr_pool_t *p, acme_result_t *res);

/* The store name of the tls-alpn-01 response for a host name (lower-cased, hashed): the
 * worker answering the handshake computes it from the SNI. */
const char *acme_tlsalpn01_store_name(apr_pool_t *p, const char *name);

/* The store name of the http-01 response for token: lower-case hex SHA-256 of the token.
 * The responder uses the same function, so no part of a URL ever becomes a path. */
const char *acme_http01_store_name(apr_pool_t *p, const char *token);

#endif
