/* Transport-neutral HTTP: the client talks to this table; acme_http_curl.c is the only
 * file that includes curl; unit tests plug in scripted responses (test/unit/fake_http.c). */
#ifndef ACME_HTTP_H
#define ACME_HTTP_H

#include "acme.h"

typedef struct acme_http_request_t {
    const char *method;        /* "GET", "HEAD" or "POST" */
    const char *url;
    const char *content_type;  /* POST only, e.g. "application/jose+json" */
    const char *accept;        /* Accept header or NULL (certificate download:
                                  "application/pem-certificate-chain") */
    const char *body;
    apr_size_t body_len;
} acme_http_request_t;

/* Transport failures beyond APR's own codes (APR_ECONNREFUSED, APR_ECONNRESET, APR_TIMEUP,
 * APR_EHOSTUNREACH are used as they are). */
#define ACME_ETLS        (ACME_STATUS_BASE + 160)  /* TLS handshake or verification failed */
#define ACME_ETOOLARGE   (ACME_STATUS_BASE + 161)  /* answer larger than ACME_HTTP_MAX_BODY */
#define ACME_ETRUNCATED  (ACME_STATUS_BASE + 162)  /* connection closed before the answer ended */
#define ACME_EHTTP       (ACME_STATUS_BASE + 163)  /* the answer is not HTTP */

/* No answer of an ACME CA comes near this; a larger one is cut off (ACME_ETOOLARGE). */
#define ACME_HTTP_MAX_BODY (2 * 1024 * 1024)

typedef struct acme_http_response_t {
    int status;                /* HTTP status (0 on a transport failure) */
    apr_table_t *headers;      /* names case-insensitive; repeated headers (Link) added, not merged */
    const char *body;          /* NUL-terminated, "" when empty */
    apr_size_t body_len;
    const char *error;         /* transport failure in words, else NULL */
} acme_http_response_t;

/* Must be safe to call from several threads at once. Transport failures (connect, TLS,
 * timeout) return an APR error (or one of the ACME_E* above); any HTTP answer, whatever its
 * status, is APR_SUCCESS. On a failure *presp is NULL or a response with status 0 whose
 * error says in words what went wrong (for logs and the status page: no secrets in it). */
typedef apr_status_t acme_http_perform_fn(void *baton, acme_http_response_t **presp,
                                          apr_pool_t *p, const acme_http_request_t *req);

typedef struct acme_http_t {
    acme_http_perform_fn *perform;
    void *baton;
} acme_http_t;

/* Once per process, before any thread uses curl. */
apr_status_t acme_http_curl_global_init(void);
/* ca_file: PEM trust anchors for the CA's TLS (NULL: system trust). timeout: per request,
 * connect to last byte (ACMETimeout; 0: none).
 * Connections are kept and reused across requests and threads. */
apr_status_t acme_http_curl_create(acme_http_t **phttp, apr_pool_t *p, const char *ca_file,
                                   const char *user_agent, apr_interval_time_t timeout);

#endif
