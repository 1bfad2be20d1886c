/* Challenge providers (RFC 8555 8, RFC 8737): one table row per challenge type with how its
 * response is published and unpublished (the driver's side) and how the answer to a
 * question is found (the responder's side: the http-01 request, the tls-alpn-01
 * handshake). The table also owns the one check of a token's form. */
#ifndef ACME_CHALLENGE_H
#define ACME_CHALLENGE_H

#include "acme.h"
#include "acme_store.h"
#include "acme_pending.h"

#define ACME_CHALLENGE_HTTP01       "http-01"
#define ACME_CHALLENGE_TLSALPN01    "tls-alpn-01"
#define ACME_CHALLENGE_DNS01        "dns-01"
#define ACME_CHALLENGE_DNSPERSIST01 "dns-persist-01"   /* draft-ietf-acme-dns-persist */

/* store aspects of an http-01 response (challenges/<acme_http01_store_name>/): the key
 * authorization, and the identifier it is for (the responder answers only requests with
 * that Host) */
#define ACME_HTTP01_ASPECT  "http-01"
#define ACME_HTTP01_HOST    "http-01.host"
/* store aspects of a tls-alpn-01 response (challenges/<acme_tlsalpn01_store_name>/) */
#define ACME_TLSALPN01_CERT "tls-alpn-01.pem"
#define ACME_TLSALPN01_KEY  "tls-alpn-01.key.sealed"

/* A token longer than this is refused (pebble and Let's Encrypt send 43 characters). */
#define ACME_TOKEN_MAX_LEN 256

/* Told +1 before an http-01 or tls-alpn-01 response is published in the store and -1 after
 * it was removed again (once per publication, from any thread running the driver), with the
 * question it answers: type, and key, the http-01 token or the tls-alpn-01 identifier. The
 * responders keep the sums and the questions (acme_pending.h): a question nobody published
 * a response to needs no look-up. */
typedef void acme_http01_count_fn(void *baton, const char *type, const char *key, int delta);

typedef void acme_sleep_fn(void *baton, apr_interval_time_t t);

/* The admin's dns-01 hook (ACMEDNSHook and friends). */
typedef struct acme_dns_hook_t {
    const char *program;             /* absolute path */
    const apr_array_header_t *args;  /* const char*, before the action */
    apr_interval_time_t timeout;     /* per run (0: 60 s) */
    apr_interval_time_t propagation_timeout; /* wait for the TXT record (0: don't) */
    const char *resolver;            /* "IPv4[:PORT]" asked, NULL: system resolver */
} acme_dns_hook_t;

/* What publishing needs, for one certificate (one order). */
typedef struct acme_challenge_env_t {
    acme_store_t *store;
    const unsigned char *secret;     /* ACME_SECRET_LEN bytes: seals tls-alpn-01 keys */
    const char *cert_id;             /* for log lines and messages */
    const acme_dns_hook_t *dns_hook; /* dns-01, or NULL */
    acme_http01_count_fn *http01_count; /* NULL: publications are not counted */
    void *http01_count_baton;
    acme_sleep_fn *sleep;            /* NULL: apr_sleep (the dns-01 propagation wait) */
    void *sleep_baton;
} acme_challenge_env_t;

/* One challenge to answer. */
typedef struct acme_challenge_t {
    const char *type;
    const char *ident;               /* identifier value, without "*." for a wildcard */
    const char *token;               /* acme_challenge_token_valid() */
    const char *key_auth;            /* token "." account key thumbprint */
    /* dns-persist-01 (no token, no key authorization): what the standing record names */
    const char *issuer;              /* the first of the challenge's issuer-domain-names */
    const char *account_url;         /* this account's URL at the CA */
    int wildcard;                    /* the authorization is for "*." ident */
} acme_challenge_t;

/* A question a responder was asked. */
typedef struct acme_challenge_query_t {
    const char *token;               /* http-01: the last segment of the URL path, unchecked */
    const char *host;                /* http-01: the request's Host (NULL: none);
                                        tls-alpn-01: the SNI */
    const acme_pending_t *pending;   /* the pending responses (acme_pending_wanted); NULL:
                                        look in the store every time */
    const unsigned char *secret;     /* tls-alpn-01: unseals the key */
} acme_challenge_query_t;

/* The answer the responder gives. */
typedef struct acme_challenge_answer_t {
    const char *body;                /* http-01: the key authorization */
    apr_size_t body_len;
    const char *cert_pem, *key_pem;  /* tls-alpn-01: certificate and plain key */
} acme_challenge_answer_t;

typedef struct acme_challenge_provider_t {
    const char *type;
    int wildcard_ok;                 /* may validate a wildcard (RFC 8555 7.1.3: DNS only) */
    int needs_dns_hook;              /* usable only with an ACMEDNSHook */
    /* Make the response visible to the CA. On failure res says why; unpublish is still
     * called (a hook that failed half-way gets its teardown). */
    apr_status_t (*publish)(const acme_challenge_env_t *env, const acme_challenge_t *ch,
                            apr_pool_t *p, acme_result_t *res);
    /* Remove it again, whatever happened; failures are logged. */
    void (*unpublish)(const acme_challenge_env_t *env, const acme_challenge_t *ch,
                      apr_pool_t *p);
    /* Remove a response a process that ended may have left for token/ident, uncounted
     * (its count went with that process). NULL: nothing to do. */
    void (*forget)(const acme_challenge_env_t *env, const char *token, const char *ident,
                   apr_pool_t *p);
    /* The answer to q: APR_SUCCESS and *pans; APR_EINVAL: not a well-formed question (no
     * look-up made); APR_ENOENT: nothing pending for it; APR_EACCES: pending for another
     * host. NULL: the CA asks someone else (dns-01). */
    apr_status_t (*lookup)(acme_challenge_answer_t **pans, apr_pool_t *p, acme_store_t *st,
                           const acme_challenge_query_t *q);
} acme_challenge_provider_t;

/* RFC 8555 8.3: a token is base64url (A-Z a-z 0-9 - _), 1 to ACME_TOKEN_MAX_LEN characters.
 * The driver checks a CA's token with it before anything is published, the responder a
 * request's before anything is looked up: no part of a hostile URL reaches the store. */
int acme_challenge_token_valid(const char *token);

/* The provider of type, or NULL when there is none (unknown type, or a slot no provider
 * fills yet such as dns-persist-01). */
const acme_challenge_provider_t *acme_challenge_provider(const char *type);

/* Whether a challenge of type may validate an IP address (RFC 8738 section 7: http-01
 * and tls-alpn-01, never a DNS-based one). */
int acme_challenge_ip_ok(const char *type);

/* The challenge types allowed when a certificate names none: http-01. */
const apr_array_header_t *acme_challenge_default_types(void);

/* The first type of allowed that the CA offers (offered: const char*) and that can answer
 * an identifier (wildcard or not, a dns-01 hook set or not); NULL when none can. */
const char *acme_challenge_choose(const apr_array_header_t *allowed,
                                  const apr_array_header_t *offered, int wildcard,
                                  int have_dns_hook);

/* The responder's question to the table: the answer to q for a challenge of type.
 * Statuses as for acme_challenge_provider_t.lookup; APR_ENOTIMPL for a type without a
 * responder. */
apr_status_t acme_challenge_lookup(acme_challenge_answer_t **pans, apr_pool_t *p,
                                   acme_store_t *st, const char *type,
                                   const acme_challenge_query_t *q);

/* The store name of the http-01 response for token: lower-case hex SHA-256 of the token,
 * so no part of a URL ever becomes a path. */
const char *acme_http01_store_name(apr_pool_t *p, const char *token);

/* The store name of the tls-alpn-01 response for a host name (lower-cased, hashed): the
 * worker answering the handshake computes it from the SNI. */
const char *acme_tlsalpn01_store_name(apr_pool_t *p, const char *name);

/* The parent's look at the http-01 and tls-alpn-01 responses in the store once processes
 * that published some have ended: it removes those older than max_age (ACME_HTTP01_STALE:
 * their process stopped waiting for a validation long ago) and counts the others.
 * *premoved lists the store names removed (const char*, for the log), *pleft how many
 * responses remain. An error: the store could not be listed. */
apr_status_t acme_challenge_http01_sweep(apr_array_header_t **premoved, int *pleft,
                                         apr_pool_t *p, acme_store_t *st, apr_time_t now,
                                         apr_interval_time_t max_age);

/* The TXT value of a dns-01 response: base64url(SHA-256(key authorization)). */
const char *acme_dns01_txt(apr_pool_t *p, const char *key_auth);

/* The one standing TXT record dns-persist-01 validates against, as the admin publishes it
 * (zone-file form): _validation-persist.IDENT. IN TXT "ISSUER; accounturi=URL" with
 * "; policy=wildcard" for a wildcard. NULL when issuer or account_url is missing. */
const char *acme_dnspersist_record(apr_pool_t *p, const acme_challenge_t *ch);
/* Its two parts: the DNS name "_validation-persist.IDENT" (no final dot; NULL without an
 * ident) and the TXT value (NULL when issuer or account_url is missing). */
const char *acme_dnspersist_name(apr_pool_t *p, const acme_challenge_t *ch);
const char *acme_dnspersist_value(apr_pool_t *p, const acme_challenge_t *ch);

#endif
