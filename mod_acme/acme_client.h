/* RFC 8555 client: directory, nonce pool, signed POST with badNonce retry, problem documents
 * and the table of how each problem type is handled. */
#ifndef ACME_CLIENT_H
#define ACME_CLIENT_H

#include "acme.h"
#include "acme_http.h"
#include "acme_crypto.h"
#include "acme_pace.h"
#include <jansson.h>

typedef struct acme_client_t acme_client_t;

typedef struct acme_response_t {
    int status;
    apr_table_t *headers;
    const char *body;
    apr_size_t body_len;
    json_t *json;              /* pool-owned, NULL when the body is not JSON */
    const char *location;      /* Location header or NULL */
} acme_response_t;

/* The client is thread-safe: several orders may run through one client at once. */
apr_status_t acme_client_create(acme_client_t **pc, apr_pool_t *p, acme_http_t *http,
                                const char *directory_url);
const char *acme_client_directory_url(const acme_client_t *c);
/* Called before each request with the endpoint it goes to (acme_pace_endpoint); it may sleep
 * (the runner's per-endpoint request pacing, ACMERequestRates). Set before the client is
 * used; NULL: none. */
typedef void acme_client_pace_fn(void *baton, acme_pace_endpoint_e ep);
void acme_client_set_pace(acme_client_t *c, acme_client_pace_fn *fn, void *baton);
/* Fetch the directory once (later calls return the cached one). */
apr_status_t acme_client_directory(acme_client_t *c, acme_result_t *res);
/* "newNonce", "newAccount", "newOrder", "revokeCert", "keyChange", "renewalInfo": URL or NULL. */
const char *acme_client_endpoint(acme_client_t *c, const char *name);
/* The profile names the directory lists in meta.profiles, NULL when none (or not fetched). */
const apr_array_header_t *acme_client_profiles(acme_client_t *c);
/* meta.termsOfService or NULL. */
const char *acme_client_tos(acme_client_t *c);
/* meta.externalAccountRequired is true (RFC 8555 7.1.1): new accounts need EAB. */
int acme_client_eab_required(acme_client_t *c);

/* Requests are signed with key; with kid (account URL) once known, else with the jwk. */
void acme_client_set_account(acme_client_t *c, const acme_key_t *key, const char *kid);
const char *acme_client_account_url(const acme_client_t *c);

/* How many times in a row a badNonce answer is retried with the fresh nonce it carries
 * (RFC 8555 6.5: the client should retry with the new nonce). Pebble rejects 5% of nonces
 * by default and tests run it at 50%: one retry alone fails a 10-request order often. */
#define ACME_BADNONCE_RETRIES 9

/* Signed POST; payload NULL = POST-as-GET. force_jwk signs with the jwk even when a kid is
 * set (newAccount). Takes a nonce from the pool (HEAD newNonce when empty), stores the
 * Replay-Nonce of every answer; each badNonce answer is retried with its fresh nonce,
 * at most ACME_BADNONCE_RETRIES times in a row.
 * A non-2xx answer returns ACME_EPROBLEM with res filled from the problem document and
 * Retry-After; *presp is set in every case where an answer arrived. */
apr_status_t acme_client_post(acme_response_t **presp, acme_client_t *c, apr_pool_t *p,
                              const char *url, const char *payload, int force_jwk,
                              acme_result_t *res);
/* acme_client_post for the requests that make a CA write its order store (newOrder and
 * finalize): one at a time per client (CA), the other requests of the orders in flight go
 * on meanwhile. A CA answers each in a fraction of a second, so this costs little; it keeps
 * a burst of orders from meeting a CA whose store locks do not scale (pebble deadlocks
 * when newOrder and finalize of 16 or more orders overlap, docs/DESIGN.md). */
apr_status_t acme_client_post_serial(acme_response_t **presp, acme_client_t *c, apr_pool_t *p,
                                     const char *url, const char *payload, acme_result_t *res);
/* acme_client_post with an Accept header (NULL: none), e.g. the certificate download
 * with "application/pem-certificate-chain". */
apr_status_t acme_client_post_accept(acme_response_t **presp, acme_client_t *c, apr_pool_t *p,
                                     const char *url, const char *payload, int force_jwk,
                                     const char *accept, acme_result_t *res);
/* The account key (as set with acme_client_set_account) with its own reference held by p,
 * so it stays valid while p lives even if the account is set again; NULL when none. */
acme_key_t *acme_client_account_key(acme_client_t *c, apr_pool_t *p);

/* Plain unauthenticated GET (directory, ...). Same error conventions. */
apr_status_t acme_client_get(acme_response_t **presp, acme_client_t *c, apr_pool_t *p,
                             const char *url, acme_result_t *res);

/* How many HTTP requests this client sent (for logs, metrics and benchmarks). */
apr_uint32_t acme_client_request_count(acme_client_t *c);
/* The newOrder and finalize requests sent one at a time (acme_client_post_serial) so far:
 * their number and the time spent in them. While many orders run, that time is a bound on
 * how fast they can go (it is logged with each driver run). */
void acme_client_serial_stats(acme_client_t *c, apr_interval_time_t *pbusy,
                              apr_uint32_t *pcount);

/* What the body of an answer is, in words, for "expected X, got ..." messages: "an empty
 * answer", "not JSON: Content-Type text/html, 5000 bytes starting '<html>...'" or "JSON
 * (n bytes) without the expected members". */
const char *acme_response_body_str(apr_pool_t *p, const acme_response_t *r);

/* Fill res from an error answer: RFC 7807 type/detail (subproblems appended to detail),
 * HTTP status, Retry-After (absolute, relative to now). Sets res->status = ACME_EPROBLEM. */
void acme_problem_parse(acme_result_t *res, apr_pool_t *p, int http_status,
                        apr_table_t *headers, const char *body, apr_size_t len, apr_time_t now);
/* How the module handles a problem the CA answered with (RFC 8555 6.7, RFC 9773 7.4): one
 * table in acme_client.c maps every registered type; a type not in it (or none) is judged by
 * the HTTP status (429 rate limited, 5xx retry later, other 4xx final). */
typedef enum {
    ACME_PH_NONE = 0,         /* not a problem: success, transport failure, our own error */
    ACME_PH_RETRY_NOW,        /* badNonce: the same request at once, with the fresh nonce */
    ACME_PH_RETRY_LATER,      /* the CA's trouble: order kept, next attempt after the backoff
                                 or the Retry-After, whichever is later */
    ACME_PH_RATE_LIMITED,     /* rateLimited: as RETRY_LATER, but named as what it is */
    ACME_PH_FINAL,            /* this order (request) cannot succeed: it is dropped and the
                                 next attempt, after the backoff, makes a new one */
    ACME_PH_RESYNC,           /* orderNotReady: fetch the order and go on from its status */
    ACME_PH_WITHOUT_REPLACES, /* alreadyReplaced: the same newOrder once more without
                                 "replaces" (someone renewed that certificate already) */
    ACME_PH_NEW_ACCOUNT,      /* accountDoesNotExist: the CA does not know the account key */
    ACME_PH_ADMIN             /* only the admin can fix it: final, the hint says how */
} acme_problem_handling_t;

typedef struct acme_problem_info_t {
    acme_problem_handling_t handling;
    const char *name;         /* "badNonce"; NULL when the type is not a registered one */
    apr_time_t retry_at;      /* earliest next attempt: now for RETRY_NOW, RESYNC and
                                 WITHOUT_REPLACES; Retry-After for RETRY_LATER and
                                 RATE_LIMITED (0: none, the backoff decides); 0 otherwise */
    const char *hint;         /* what the admin can do (static text), or NULL */
} acme_problem_info_t;

/* Look res up in the table. Only results with status ACME_EPROBLEM (an error answer) or
 * ACME_EINVALID (an order or authorization the CA made invalid, with the type of its error)
 * are problems; an ACME_EINVALID one is at least FINAL. */
void acme_problem_classify(acme_problem_info_t *info, const acme_result_t *res, apr_time_t now);
/* The handling alone. */
acme_problem_handling_t acme_problem_handling(const acme_result_t *res);
/* Does the problem end the order (FINAL, NEW_ACCOUNT, ADMIN), so that its stored state is
 * useless? Transient ones (RETRY_*, RATE_LIMITED) and no problem at all do not. */
int acme_problem_ends_order(const acme_result_t *res);
/* The hint for a problem type (full urn or short name), NULL when it has none. */
const char *acme_problem_hint(const char *type);
/* "retry now", "retry later", "rate limited", ... for logs and tests. */
const char *acme_problem_handling_str(acme_problem_handling_t h);

/* URLs of Link headers with the given rel (RFC 8288), e.g. "alternate", "up", "index". */
apr_array_header_t *acme_links(apr_pool_t *p, apr_table_t *headers, const char *rel);

#endif
