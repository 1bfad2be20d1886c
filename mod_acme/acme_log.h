/* Logging callback: the core never calls ap_log_*; the module installs a sink. */
#ifndef ACME_LOG_H
#define ACME_LOG_H

#include "acme.h"

/* Same numeric values as httpd's APLOG_* levels. */
typedef enum {
    ACME_LOG_ERR = 3, ACME_LOG_WARNING = 4, ACME_LOG_NOTICE = 5,
    ACME_LOG_INFO = 6, ACME_LOG_DEBUG = 7, ACME_LOG_TRACE1 = 8
} acme_log_level_t;

typedef void acme_log_fn(void *baton, acme_log_level_t level, apr_status_t rv, const char *msg);
typedef int acme_log_enabled_fn(void *baton, acme_log_level_t level);

/* Log message tags for core lines too (same definition as the glue's in mod_acme.h). */
#ifndef ACMELOGNO
#define ACMELOGNO(n) "ACME" #n ": "
#endif

/* Install the sink (NULL restores the default: stderr for levels <= NOTICE). */
void acme_log_set(acme_log_fn *fn, acme_log_enabled_fn *enabled, void *baton);
int acme_log_is(acme_log_level_t level);
void acme_log(acme_log_level_t level, apr_status_t rv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
