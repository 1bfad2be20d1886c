/* Logging callback and the acme_result_t helpers. httpd-free. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <apr_strings.h>

#include "acme.h"
#include "acme_log.h"
#include "acme_client.h"

/* The sink is installed once at startup (post_config / main), before threads run. */
static acme_log_fn *log_fn;
static acme_log_at_fn *log_at_fn;
static acme_log_enabled_fn *log_enabled_fn;
static void *log_baton;

void acme_log_set(acme_log_fn *fn, acme_log_enabled_fn *enabled, void *baton)
{
    log_at_fn = NULL;
    log_fn = fn;
    log_enabled_fn = fn ? enabled : NULL;
    log_baton = fn ? baton : NULL;
}

void acme_log_set_at(acme_log_at_fn *fn, acme_log_enabled_fn *enabled, void *baton)
{
    log_fn = NULL;
    log_at_fn = fn;
    log_enabled_fn = fn ? enabled : NULL;
    log_baton = fn ? baton : NULL;
}

int acme_log_is(acme_log_level_t level)
{
    if (log_fn || log_at_fn) {
        return log_enabled_fn ? log_enabled_fn(log_baton, level) : 1;
    }
    return level <= ACME_LOG_NOTICE;
}

static const char *level_name(acme_log_level_t level)
{
    switch (level) {
    case ACME_LOG_ERR:     return "error";
    case ACME_LOG_WARNING: return "warn";
    case ACME_LOG_NOTICE:  return "notice";
    case ACME_LOG_INFO:    return "info";
    case ACME_LOG_DEBUG:   return "debug";
    default:               return "trace";
    }
}

void acme_log_at(const char *file, int line, acme_log_level_t level, apr_status_t rv,
                 const char *fmt, ...)
{
    char buf[4096], *c;
    va_list ap;

    if (!acme_log_is(level)) {
        return;
    }
    /* Format into a local buffer: no shared state, safe from any thread. */
    va_start(ap, fmt);
    apr_vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    /* One event, one line: text from a CA or a program (problem details, output) may hold
     * newlines or other control characters that would forge or garble log lines. */
    for (c = buf; *c; ++c) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f) {
            *c = ' ';
        }
    }

    if (log_at_fn) {
        log_at_fn(log_baton, file, line, level, rv, buf);
    }
    else if (log_fn) {
        log_fn(log_baton, level, rv, buf);
    }
    else if (rv != APR_SUCCESS) {
        char err[256];
        apr_strerror(rv, err, sizeof(err));
        fprintf(stderr, "[acme:%s] (%d) %s: %s\n", level_name(level), (int)rv, err, buf);
    }
    else {
        fprintf(stderr, "[acme:%s] %s\n", level_name(level), buf);
    }
}

void acme_result_reset(acme_result_t *res)
{
    memset(res, 0, sizeof(*res));
}

apr_status_t acme_result_set(acme_result_t *res, apr_pool_t *p, apr_status_t status,
                             const char *fmt, ...)
{
    va_list ap;

    res->status = status;
    if (fmt) {
        va_start(ap, fmt);
        res->detail = apr_pvsprintf(p, fmt, ap);
        va_end(ap);
    }
    else {
        res->detail = NULL;
    }
    return status;
}

const char *acme_result_str(const acme_result_t *res, apr_pool_t *p)
{
    const char *detail = res->detail, *hint, *line;

    if (!detail || !*detail) {
        if (res->status == APR_SUCCESS) {
            detail = "ok";
        }
        else {
            char err[256];
            apr_strerror(res->status, err, sizeof(err));
            detail = apr_pstrdup(p, err);
        }
    }
    if (res->problem_type && *res->problem_type) {
        if (res->http_status > 0) {
            line = apr_psprintf(p, "%s: %s (HTTP %d)", res->problem_type, detail,
                                res->http_status);
        }
        else {
            line = apr_psprintf(p, "%s: %s", res->problem_type, detail);
        }
        /* what the admin can do about it, from the table of problem types */
        hint = acme_problem_hint(res->problem_type);
        return hint ? apr_pstrcat(p, line, "; ", hint, NULL) : line;
    }
    return detail;
}

const char *acme_result_problem_short(const acme_result_t *res)
{
    apr_size_t nslen = sizeof(ACME_PROBLEM_NS) - 1;

    if (!res->problem_type || !*res->problem_type) {
        return NULL;
    }
    if (!strncmp(res->problem_type, ACME_PROBLEM_NS, nslen)) {
        return res->problem_type + nslen;
    }
    return res->problem_type;
}
