/* mod_acme core: shared types and status codes. httpd-free. */
#ifndef ACME_H
#define ACME_H

#include <apr.h>
#include <apr_pools.h>
#include <apr_errno.h>
#include <apr_tables.h>
#include <apr_time.h>

#define ACME_VERSION "0.1.0"
#define ACME_USER_AGENT "mod_acme/" ACME_VERSION

/* Our own status codes, in APR's user error space. */
#define ACME_STATUS_BASE      (APR_OS_START_USERERR + 7000)
#define ACME_EPROBLEM         (ACME_STATUS_BASE + 1)  /* CA answered with a problem document */
#define ACME_EPROTO           (ACME_STATUS_BASE + 2)  /* CA answer not as RFC 8555 says */
#define ACME_EINVALID         (ACME_STATUS_BASE + 3)  /* authorization/order became invalid */
#define ACME_ETOS             (ACME_STATUS_BASE + 4)  /* terms of service not agreed */
#define ACME_EAGAIN           (ACME_STATUS_BASE + 5)  /* not finished yet: come back later */
#define ACME_EVERIFY          (ACME_STATUS_BASE + 6)  /* certificate set failed verification */
#define ACME_ECRYPTO          (ACME_STATUS_BASE + 7)  /* OpenSSL failure */
#define ACME_ENOCHALLENGE     (ACME_STATUS_BASE + 8)  /* no usable challenge type offered */
#define ACME_EHOOK            (ACME_STATUS_BASE + 9)  /* an admin's hook program failed */
#define ACME_ETRUST           (ACME_STATUS_BASE + 10) /* CA trust anchors file unusable */
#define ACME_EPACED           (ACME_STATUS_BASE + 11) /* no new order yet: the CA's rates
                                                        (res.retry_after says when) */
#define ACME_EINTERRUPTED     (ACME_STATUS_BASE + 12) /* the server stops or restarts: the
                                                        order waits for the next start */

/* RFC 8555 problem types we treat specially (prefix "urn:ietf:params:acme:error:") */
#define ACME_PROBLEM_NS "urn:ietf:params:acme:error:"

/* The outcome of an ACME operation: not just a code (design.md habit 5). */
typedef struct acme_result_t {
    apr_status_t status;       /* APR_SUCCESS or an error */
    int http_status;           /* last HTTP status seen, 0 if none */
    const char *problem_type;  /* RFC 7807 "type", e.g. urn:ietf:params:acme:error:badNonce */
    const char *detail;        /* human readable detail (problem detail or our own text) */
    apr_time_t retry_after;    /* absolute time from Retry-After, 0 if none */
    const char *subject;       /* what it concerns: certificate id, URL, ... */
} acme_result_t;

void acme_result_reset(acme_result_t *res);
/* Set status and a formatted detail (allocated from p). Returns status. */
apr_status_t acme_result_set(acme_result_t *res, apr_pool_t *p, apr_status_t status,
                             const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* One line for a log: "problem TYPE: DETAIL (HTTP n)" or the detail alone; a problem type
 * that has a hint for the admin (acme_problem_hint) gets "; HINT" appended. */
const char *acme_result_str(const acme_result_t *res, apr_pool_t *p);
/* The short problem name without the urn prefix ("badNonce"), or NULL. */
const char *acme_result_problem_short(const acme_result_t *res);

#endif
