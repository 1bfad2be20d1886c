/* RFC 8555 client: directory, nonce pool, signed POST with badNonce retry, problem documents. */
#ifndef ACME_CLIENT_H
#define ACME_CLIENT_H

#include "acme.h"
#include "acme_http.h"
#include "acme_crypto.h"
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
/* Fetch the directory once (later calls return the cached one). */
apr_status_t acme_client_directory(acme_client_t *c, acme_result_t *res);
/* "newNonce", "newAccount", "newOrder", "revokeCert", "keyChange", "renewalInfo": URL or NULL. */
const char *acme_client_endpoint(acme_client_t *c, const char *name);
/* meta.termsOfService or NULL. */
const char *acme_client_tos(acme_client_t *c);

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

/* What the body of an answer is, in words, for "expected X, got ..." messages: "an empty
 * answer", "not JSON: Content-Type text/html, 5000 bytes starting '<html>...'" or "JSON
 * (n bytes) without the expected members". */
const char *acme_response_body_str(apr_pool_t *p, const acme_response_t *r);

/* Fill res from an error answer: RFC 7807 type/detail (subproblems appended to detail),
 * HTTP status, Retry-After (absolute, relative to now). Sets res->status = ACME_EPROBLEM. */
void acme_problem_parse(acme_result_t *res, apr_pool_t *p, int http_status,
                        apr_table_t *headers, const char *body, apr_size_t len, apr_time_t now);
/* URLs of Link headers with the given rel (RFC 8288), e.g. "alternate", "up", "index". */
apr_array_header_t *acme_links(apr_pool_t *p, apr_table_t *headers, const char *rel);

#endif
