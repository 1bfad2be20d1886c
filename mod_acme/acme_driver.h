/* The resumable order state machine: newOrder -> authorizations -> http-01 -> finalize ->
 * certificate -> staging. Progress is persisted in the store (orders/<id>/order.json) so a
 * restart or crash resumes the same order instead of opening a new one. */
#ifndef ACME_DRIVER_H
#define ACME_DRIVER_H

#include "acme.h"
#include "acme_client.h"
#include "acme_store.h"
#include "acme_crypto.h"
#include "acme_challenge.h"   /* challenge types, acme_dns_hook_t, the count and sleep callbacks */

typedef struct acme_cert_spec_t {
    const char *id;                  /* store entry name of this certificate */
    apr_array_header_t *names;       /* normalized (acme_names_normalize) */
    const char *ca_url;              /* directory URL */
    acme_key_type_t key_type;
    const char *replaces;            /* RFC 9773 certID of the certificate this order
                                        replaces (ARI), or NULL */
    const apr_array_header_t *challenge_types; /* allowed, preferred first; NULL: http-01 */
    const acme_dns_hook_t *dns_hook; /* for dns-01 (wildcards), or NULL */
    const char *profile;             /* ACMEProfile (acme_profile.h), NULL: none */
    int profile_mandatory;           /* no order when the CA does not offer it */
    const char *preferred_chain;     /* ACMEPreferredChain: the top issuer CN of the chain to
                                        take among the CA's alternates, NULL: the default */
    const char *reuse_key;           /* ACMEKeyReuse: the live key, sealed
                                        (acme_key_reuse_load), used instead of a new key;
                                        NULL: a new key */
    apr_size_t reuse_key_len;
} acme_cert_spec_t;

/* Asked before a newOrder is sent (never before a resumed order): APR_SUCCESS to send it;
 * else the attempt ends with that status (ACME_EPACED, res->retry_after: when to try again)
 * and the order is not sent. The runner's pacing (acme_pace.h). */
typedef apr_status_t acme_order_gate_fn(void *baton, const acme_cert_spec_t *spec,
                                        acme_result_t *res, apr_pool_t *p);

typedef struct acme_driver_env_t {
    acme_client_t *client;            /* with the account already set (acme_account_ensure) */
    acme_store_t *store;
    const unsigned char *secret;      /* ACME_SECRET_LEN bytes: seals the new key in staging */
    apr_interval_time_t poll_timeout; /* give up waiting for a status after this (0: 5 min) */
    apr_interval_time_t poll_default; /* first delay between polls without Retry-After
                                         (0: 50 ms, doubling up to 2 s) */
    acme_sleep_fn *sleep;             /* NULL: apr_sleep; tests count instead of sleeping */
    void *sleep_baton;
    acme_http01_count_fn *http01_count; /* NULL: publications are not counted */
    void *http01_count_baton;
    acme_order_gate_fn *order_gate;   /* NULL: every newOrder is sent at once */
    void *order_gate_baton;
    volatile int *stop;               /* NULL, or set when the server stops or restarts: the
                                       * order ends at its next wait with ACME_EINTERRUPTED,
                                       * its state kept for the next start */
} acme_driver_env_t;

/* Obtain a certificate for spec and stage it: staging/<id>/{chain.pem, key.sealed, meta.json}.
 * meta.json: {"names":[..],"ca":URL,"key":"p256","serial":HEX,"not_before":RFC3339,
 * "not_after":RFC3339,"staged":RFC3339,"order":URL[,"profile":NAME[,"profile_fallback":true]]}.
 * With spec->profile, newOrder asks for it when the directory offers it (meta.profiles);
 * when not: without profile_mandatory a warning (ACME00470) and an order for the CA's
 * default, with it no order and an error (res, APR_EINVAL).
 * Each pending authorization's response is published through its challenge provider
 * (acme_challenge.h: http-01 in challenges/<hex sha256(token)>/, env->http01_count told
 * each time) while the authorization is pending and unpublished afterwards.
 * Returns APR_SUCCESS when staged; on failure res says why (problem type, detail,
 * Retry-After) and the order state is kept when the order can still be resumed. */
apr_status_t acme_driver_obtain(const acme_driver_env_t *env, const acme_cert_spec_t *spec,
                                apr_pool_t *p, acme_result_t *res);

#endif
