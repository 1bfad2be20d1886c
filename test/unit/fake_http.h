/* A scripted acme_http_t for unit tests: perform() pops the next scripted answer, checks
 * that the request has the expected method and URL (a mismatch fails the running Check
 * test with a message naming both), and records every request; POST bodies are decoded
 * (JWS protected header and payload) so tests can assert on them. */
#ifndef FAKE_HTTP_H
#define FAKE_HTTP_H

#include <jansson.h>
#include "acme_http.h"

typedef struct fake_http_t fake_http_t;
typedef struct fake_answer_t fake_answer_t;

typedef struct fake_request_t {
    const char *method;
    const char *url;
    const char *content_type;
    const char *accept;
    const char *body;
    json_t *protected_hdr;     /* POST: decoded JWS protected header, else NULL */
    const char *payload;       /* POST: decoded payload text ("" for POST-as-GET), else NULL */
    json_t *payload_json;      /* POST: payload parsed as JSON, NULL when empty */
} fake_request_t;

/* Called when the request for an answer arrives, before the answer is returned: may inspect
 * the request (and the world, e.g. the store) and change the answer (status, body, headers).
 * It may use ck_assert_* to fail the test. */
typedef void fake_hook_fn(void *baton, const fake_request_t *req, acme_http_response_t *resp,
                          apr_pool_t *p);

fake_http_t *fake_http_create(apr_pool_t *p);
acme_http_t *fake_http_get(fake_http_t *f);
/* Add a Replay-Nonce "fake-nonce-<n>" to every HEAD and POST answer that has none, as
 * RFC 8555 6.5 has CAs do (default on). */
void fake_http_auto_nonce(fake_http_t *f, int on);

/* Script the next answer: expected method and URL, the status and body. A body starting
 * with '{' or '[' gets Content-Type application/json (override with fake_answer_header). */
fake_answer_t *fake_http_expect(fake_http_t *f, const char *method, const char *url, int status,
                                const char *body);
/* Script a problem document answer (application/problem+json). */
fake_answer_t *fake_http_expect_problem(fake_http_t *f, const char *method, const char *url,
                                        int status, const char *type, const char *detail);
/* Set (replace) a header of a scripted answer; "Link" and others added with add=1. */
void fake_answer_header(fake_answer_t *a, const char *name, const char *value, int add);
void fake_answer_hook(fake_answer_t *a, fake_hook_fn *fn, void *baton);

/* Requests seen so far and scripted answers not yet used. */
int fake_http_count(fake_http_t *f);
const fake_request_t *fake_http_request(fake_http_t *f, int i);
int fake_http_remaining(fake_http_t *f);
/* "GET <url>\nPOST <url>\n..." of all requests, for messages. */
const char *fake_http_trace(fake_http_t *f, apr_pool_t *p);

#endif
