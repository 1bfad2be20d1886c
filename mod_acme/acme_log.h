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
/* A sink that also gets the source file (as the compiler spelled it, __FILE__) and line of
 * the acme_log call, so that the error log names the core file that logged, not the sink's. */
typedef void acme_log_at_fn(void *baton, const char *file, int line, acme_log_level_t level,
                            apr_status_t rv, const char *msg);
typedef int acme_log_enabled_fn(void *baton, acme_log_level_t level);

/* Log message tags for core lines too (same definition as the glue's in mod_acme_log.h). */
#ifndef ACMELOGNO
#define ACMELOGNO(n) "ACME" #n ": "
#endif

/* Install the sink (NULL restores the default: stderr for levels <= NOTICE). One sink at a
 * time: acme_log_set_at replaces one set with acme_log_set and the other way round. */
void acme_log_set(acme_log_fn *fn, acme_log_enabled_fn *enabled, void *baton);
void acme_log_set_at(acme_log_at_fn *fn, acme_log_enabled_fn *enabled, void *baton);
int acme_log_is(acme_log_level_t level);
/* Log one line (control characters become spaces) with the file and line of the call.
 * The level is checked first: the arguments of a line that is not logged are not even
 * evaluated (like httpd's ap_log_error). Use it as a statement. */
#define acme_log(level, rv, ...)                                              \
    do {                                                                      \
        acme_log_level_t acme_log_level_ = (level);                           \
        if (acme_log_is(acme_log_level_)) {                                   \
            acme_log_at(__FILE__, __LINE__, acme_log_level_, (rv), __VA_ARGS__); \
        }                                                                     \
    } while (0)
void acme_log_at(const char *file, int line, acme_log_level_t level, apr_status_t rv,
                 const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
