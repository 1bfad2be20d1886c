/* ACMERequireHttps: whether a request for a managed name is sent to https (redirect) or
 * told to stay there (HSTS). Pure: no I/O, no httpd; the glue says when it asks. */
#ifndef ACME_HTTPS_H
#define ACME_HTTPS_H

#include "acme.h"

typedef enum {
    ACME_HTTPS_OFF = 0,        /* nothing changes */
    ACME_HTTPS_TEMPORARY,      /* http -> https with 302, no HSTS */
    ACME_HTTPS_PERMANENT       /* http -> https with 301, HSTS on https */
} acme_https_mode_t;

/* HSTS max-age of ACMERequireHttps permanent: 60 days. */
#define ACME_HSTS_MAX_AGE 5184000
#define ACME_HSTS_VALUE "max-age=5184000"

/* "off", "temporary", "permanent" (any case) -> *pmode; APR_EINVAL for anything else. */
apr_status_t acme_https_mode_parse(acme_https_mode_t *pmode, const char *arg);
const char *acme_https_mode_name(acme_https_mode_t mode);

/* One request as the policy sees it (the glue fills it from request_rec). */
typedef struct acme_https_request_t {
    acme_https_mode_t mode;    /* the certificate's ACMERequireHttps */
    int cert_live;             /* a CA certificate (not the fallback) serves the name */
    int is_tls;                /* the request came over TLS */
    const char *host;          /* the managed name asked for (validated, lower case) */
    const char *host_header;   /* the Host header as sent (its port, if any, is used),
                                  NULL when absent */
    const char *path;          /* the request's path as sent (percent-encoded), NULL: none */
    const char *query;         /* the query as sent, without '?', NULL: none */
    int port_http, port_https; /* local ports public 80 and 443 reach (ACMEPortMap) */
} acme_https_request_t;

typedef struct acme_https_answer_t {
    int status;                /* 0: serve the request; 301 or 302: redirect */
    const char *location;      /* with status: where to */
    const char *hsts;          /* Strict-Transport-Security value to add, or NULL */
} acme_https_answer_t;

/* What to do with req. Nothing unless the mode is on, a certificate is live and a host is
 * known. Over TLS: HSTS with permanent. Over http: a redirect to https://HOST[:PORT]PATH[?QUERY],
 * never for /.well-known/acme-challenge/ (http-01 must stay on http) nor for a path that
 * is not absolute ("*", CONNECT). PORT: when the Host header named the local port public
 * port 80 reaches (port_http, not 80), the client talks to local ports directly and gets
 * port_https; otherwise the public https port 443 (no port in the URL). */
apr_status_t acme_https_decide(acme_https_answer_t **pans, apr_pool_t *p,
                               const acme_https_request_t *req);

/* The port of a Host header ("name:8080", "[::1]:8080"), 0 when it names none or it is not
 * a number from 1 to 65535. */
int acme_https_host_port(const char *host_header);

#endif
