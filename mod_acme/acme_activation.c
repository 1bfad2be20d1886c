/* Activation safety: the restarter's policy and the "blocked" record. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_file_info.h>

#include "acme.h"
#include "acme_activation.h"
#include "acme_crypto.h"
#include "acme_json.h"
#include "acme_proc.h"
#include "acme_state.h"
#include "acme_util.h"

#define REASON_MAX 512

/* httpd options kept for the check: they choose the configuration */
static int keeps(char opt)
{
    return opt == 'd' || opt == 'f' || opt == 'C' || opt == 'c' || opt == 'D';
}

/* httpd options that take an argument (main.c's AP_SERVER_BASEARGS and -k) */
static int takes_arg(char opt)
{
    return keeps(opt) || opt == 'e' || opt == 'E' || opt == 'k' || opt == 'R';
}

apr_status_t acme_configtest_argv(const char *const **pargv, apr_pool_t *p, const char *exe,
                                  int argc, const char *const *argv)
{
    apr_array_header_t *out = apr_array_make(p, 12, sizeof(const char *));
    int i;

    *pargv = NULL;
    if (!exe || !*exe) {
        return APR_EINVAL;
    }
    APR_ARRAY_PUSH(out, const char *) = exe;
    for (i = 1; argv && (argc < 0 ? argv[i] != NULL : i < argc); ++i) {
        const char *a = argv[i];
        char opt;
        if (a[0] != '-' || !a[1]) {
            continue; /* stray word */
        }
        opt = a[1];
        if (!takes_arg(opt)) {
            continue; /* -X, -t, -S, ... */
        }
        if (a[2]) { /* joined: -DFOREGROUND */
            if (keeps(opt)) {
                APR_ARRAY_PUSH(out, const char *) = a;
            }
            continue;
        }
        if (argc < 0 ? argv[i + 1] == NULL : i + 1 >= argc) {
            break; /* option without its argument */
        }
        if (keeps(opt)) {
            APR_ARRAY_PUSH(out, const char *) = a;
            APR_ARRAY_PUSH(out, const char *) = argv[i + 1];
        }
        ++i;
    }
    APR_ARRAY_PUSH(out, const char *) = "-t";
    APR_ARRAY_PUSH(out, const char *) = NULL;
    *pargv = (const char *const *)out->elts;
    return APR_SUCCESS;
}

/* Does text have a line that is exactly s (trailing blanks ignored)? */
static int has_line(const char *text, const char *s)
{
    apr_size_t n = strlen(s);
    const char *at = text;
    while (at && (at = strstr(at, s)) != NULL) {
        const char *e = at + n;
        if ((at == text || at[-1] == '\n') && (!*e || *e == '\n' || *e == '\r' || *e == ' ')) {
            return 1;
        }
        at = e;
    }
    return 0;
}

int acme_configtest_passed(apr_status_t run_rv, int exit_code, const char *output)
{
    if (run_rv != APR_SUCCESS) {
        return 0;
    }
    if (exit_code == ACME_PROC_EXIT_LOST) {
        return output && has_line(output, "Syntax OK");
    }
    return exit_code == 0;
}

/* One line of text, control characters as spaces, blanks trimmed, at most REASON_MAX. */
static const char *clean(apr_pool_t *p, const char *s, apr_size_t n)
{
    char *out;
    apr_size_t i;
    while (n && isspace((unsigned char)*s)) {
        ++s, --n;
    }
    while (n && isspace((unsigned char)s[n - 1])) {
        --n;
    }
    if (n > REASON_MAX) {
        n = REASON_MAX;
    }
    out = apr_pstrmemdup(p, s, n);
    for (i = 0; i < n; ++i) {
        if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f) {
            out[i] = ' ';
        }
    }
    return out;
}

static const char *line_end(const char *s)
{
    const char *e = strchr(s, '\n');
    return e ? e : s + strlen(s);
}

/* "Syntax error on line N of FILE:" -> "FILE line N: MESSAGE" (the innermost one). */
static const char *syntax_error(apr_pool_t *p, const char *out)
{
    static const char key[] = "Syntax error on line ";
    const char *at = NULL, *s = out, *num, *file, *colon, *msg, *end;
    char *stop;
    long line;

    while ((s = strstr(s, key)) != NULL) {
        at = s;
        s += sizeof(key) - 1;
    }
    if (!at) {
        return NULL;
    }
    num = at + sizeof(key) - 1;
    line = strtol(num, &stop, 10);
    if (stop == num || strncmp(stop, " of ", 4)) {
        return NULL;
    }
    file = stop + 4;
    end = line_end(file);
    /* the file name ends at the last ':' followed by a blank or the line's end */
    for (colon = NULL, s = file; s < end; ++s) {
        if (*s == ':' && (s + 1 == end || s[1] == ' ' || s[1] == '\r')) {
            colon = s;
            break;
        }
    }
    if (!colon) {
        return NULL;
    }
    msg = colon + 1;
    if (!*clean(p, msg, (apr_size_t)(end - msg)) && *end) {
        msg = end + 1;            /* the message is on the next line */
        end = line_end(msg);
    }
    return apr_psprintf(p, "%s line %ld: %s", clean(p, file, (apr_size_t)(colon - file)),
                        line, clean(p, msg, (apr_size_t)(end - msg)));
}

/* Past a message tag "ACME00105: " or "AH02565: " (the reason reads better without). */
static const char *skip_tag(const char *s)
{
    const char *d = !strncmp(s, "ACME", 4) ? s + 4 : !strncmp(s, "AH", 2) ? s + 2 : NULL;
    const char *e = d;
    while (e && isdigit((unsigned char)*e)) {
        ++e;
    }
    return e && e - d == 5 && e[0] == ':' && e[1] == ' ' ? e + 2 : s;
}

/* A log line "[time] [module:level] [pid N] TEXT" at error level or worse: TEXT without
 * its message tag. */
static const char *error_line(apr_pool_t *p, const char *out)
{
    static const char *const levels[] = { ":error] ", ":crit] ", ":alert] ", ":emerg] ", NULL };
    const char *s = out;
    while (*s) {
        const char *end = line_end(s), *lv = NULL;
        int i;
        for (i = 0; levels[i] && !lv; ++i) {
            const char *f = strstr(s, levels[i]);
            lv = f && f < end ? f + strlen(levels[i]) : NULL;
        }
        if (lv) {
            /* skip "[pid N] " and "[client ...] " parts */
            while (*lv == '[' && strchr(lv, ']') && strchr(lv, ']') < end) {
                lv = strchr(lv, ']') + 1;
                while (*lv == ' ') {
                    ++lv;
                }
            }
            lv = skip_tag(lv);
            return clean(p, lv, (apr_size_t)(end - lv));
        }
        s = *end ? end + 1 : end;
    }
    return NULL;
}

const char *acme_configtest_reason(apr_pool_t *p, const char *output)
{
    const char *r, *s, *last = NULL;
    apr_size_t last_len = 0;

    if (!output || !*output) {
        return "no output";
    }
    if ((r = syntax_error(p, output)) != NULL || (r = error_line(p, output)) != NULL) {
        return r;
    }
    for (s = output; *s;) {
        const char *end = line_end(s);
        const char *c = clean(p, s, (apr_size_t)(end - s));
        if (*c && strcmp(c, "Syntax OK")) {
            last = s;
            last_len = (apr_size_t)(end - s);
        }
        s = *end ? end + 1 : end;
    }
    return last ? clean(p, last, last_len) : "no output";
}

int acme_activation_should_check(const acme_activation_t *st, const char *config_sig,
                                 const char *staged_sig, apr_time_t now,
                                 apr_interval_time_t interval, const char **pwhy)
{
    const char *why = NULL;
    if (!st->checked || !st->blocked) {
        why = "first check";
    }
    else if (!config_sig || !st->config_sig || strcmp(config_sig, st->config_sig)) {
        why = "configuration files changed";
    }
    else if (!staged_sig || !st->staged_sig || strcmp(staged_sig, st->staged_sig)) {
        why = "staged certificates changed";
    }
    else if (now - st->checked >= interval || now < st->checked) {
        why = "interval passed";
    }
    if (pwhy) {
        *pwhy = why;
    }
    return why != NULL;
}

apr_interval_time_t acme_restart_spacing(apr_interval_time_t cost)
{
    if (cost <= 0) {
        return 0;
    }
    return cost / ACME_RESTART_SHARE * (100 - ACME_RESTART_SHARE);
}

int acme_restart_due(const acme_restart_in_t *in, apr_time_t now, const char **pwhy)
{
    /* more certificates still expected: the restarts of this issuance keep to their share */
    apr_interval_time_t spacing = in->missing > 0 ? acme_restart_spacing(in->restart_cost) : 0;
    apr_interval_time_t gap = in->same_as_last ? ACME_RESTART_STUCK_GAP
                            : spacing > ACME_RESTART_GAP ? spacing : ACME_RESTART_GAP;
    apr_interval_time_t cap = spacing > ACME_RESTART_BATCH_MAX ? spacing
                                                               : ACME_RESTART_BATCH_MAX;
    const char *why;
    int due = 0;

    if (in->staged <= 0) {
        why = "nothing staged";
    }
    else if (in->last_restart && now >= in->last_restart && now - in->last_restart < gap) {
        why = in->same_as_last ? "the last restart did not activate these certificates"
            : gap > ACME_RESTART_GAP ? "restarts keep to their share of the time while "
                                       "certificates are still expected"
                                     : "too soon after the last restart";
    }
    else if (in->staged_seen && now - in->staged_seen >= cap) {
        why = "the batch waited long enough";
        due = 1;
    }
    else if (in->in_flight > 0) {
        why = "orders of the batch in flight";
    }
    else if (in->missing <= 0) {
        why = "every certificate is staged or live";
        due = 1;
    }
    else if (in->staged_grew && now >= in->staged_grew
             && now - in->staged_grew < ACME_RESTART_QUIET) {
        why = "the batch is still growing";
    }
    else {
        why = "the batch is complete";
        due = 1;
    }
    if (pwhy) {
        *pwhy = why;
    }
    return due;
}

int acme_orders_in_flight(acme_store_t *st, apr_time_t since, apr_pool_t *p)
{
    apr_array_header_t *ids;
    apr_pool_t *sub;
    int i, n = 0;

    if (st->list(st, ACME_GROUP_ORDERS, &ids, p) != APR_SUCCESS
        || apr_pool_create(&sub, p) != APR_SUCCESS) {
        return 0;
    }
    for (i = 0; i < ids->nelts; ++i) {
        const char *id = APR_ARRAY_IDX(ids, i, const char *);
        const char *path;
        apr_finfo_t fi;

        if (id[0] == '_') {
            continue;
        }
        apr_pool_clear(sub);
        path = st->path(st, ACME_GROUP_ORDERS, id, ACME_ORDER_STATE_FILE, sub);
        if (path && apr_stat(&fi, path, APR_FINFO_MTIME, sub) == APR_SUCCESS
            && fi.mtime >= since) {
            n++;
        }
    }
    apr_pool_destroy(sub);
    return n;
}

apr_status_t acme_files_signature(const char **psig, apr_pool_t *p,
                                  const apr_array_header_t *paths)
{
    apr_array_header_t *parts = apr_array_make(p, paths->nelts + 1, sizeof(const char *));
    unsigned char md[32];
    const char *text;
    apr_status_t rv;
    int i;

    for (i = 0; i < paths->nelts; ++i) {
        const char *path = APR_ARRAY_IDX(paths, i, const char *);
        apr_finfo_t fi;
        if (apr_stat(&fi, path, APR_FINFO_MTIME | APR_FINFO_SIZE | APR_FINFO_INODE, p)
            == APR_SUCCESS) {
            APR_ARRAY_PUSH(parts, const char *) = apr_psprintf(
                p, "%s|%" APR_TIME_T_FMT "|%" APR_OFF_T_FMT "|%lu", path, fi.mtime, fi.size,
                (unsigned long)fi.inode);
        }
        else {
            APR_ARRAY_PUSH(parts, const char *) = apr_pstrcat(p, path, "|missing", NULL);
        }
    }
    text = apr_array_pstrcat(p, parts, '\n');
    if ((rv = acme_sha256(md, text, strlen(text))) != APR_SUCCESS) {
        return rv;
    }
    *psig = acme_hex(p, md, sizeof(md));
    return APR_SUCCESS;
}

/* ---- the record ------------------------------------------------------------------- */

/* The record's object (versioned like acme_state.h's records: "v", absent in the previous
 * format), NULL when it is missing, damaged or of a version this code does not know. */
static json_t *load_aspect(acme_store_t *st, const char *aspect, int *pv, apr_pool_t *p)
{
    char *data;
    apr_size_t len;
    json_t *j;
    int v;
    if (acme_store_load(st, ACME_GROUP_ORDERS, ACME_BLOCKED_ENTRY, aspect, &data, &len, p)
        != APR_SUCCESS || acme_state_parse(&j, &v, p, data, len) != APR_SUCCESS) {
        return NULL;
    }
    if (pv) {
        *pv = v;
    }
    return j;
}

apr_status_t acme_blocked_load(acme_blocked_t **pb, apr_pool_t *p, acme_store_t *st)
{
    acme_blocked_t *b = apr_pcalloc(p, sizeof(*b));
    json_t *j = load_aspect(st, ACME_BLOCKED_ASPECT, &b->v, p), *certs;
    size_t i;

    *pb = NULL;
    if (!j) {
        return APR_ENOENT;
    }
    b->since = acme_time_parse_rfc3339(acme_json_str(j, "since"));
    b->checked = acme_time_parse_rfc3339(acme_json_str(j, "checked"));
    b->reason = apr_pstrdup(p, acme_json_str(j, "reason") ? acme_json_str(j, "reason") : "");
    b->certs = apr_array_make(p, 4, sizeof(const char *));
    certs = acme_json_arr(j, "certificates");
    for (i = 0; certs && i < json_array_size(certs); ++i) {
        const char *id = json_string_value(json_array_get(certs, i));
        if (id) {
            APR_ARRAY_PUSH(b->certs, const char *) = apr_pstrdup(p, id);
        }
    }
    *pb = b;
    return APR_SUCCESS;
}

apr_status_t acme_blocked_save(acme_store_t *st, const acme_blocked_t *b, apr_pool_t *p)
{
    json_t *j = acme_state_new(p), *certs = json_array();
    const char *text;
    int i;

    json_object_set_new(j, "since", json_string(acme_time_rfc3339(p, b->since)));
    json_object_set_new(j, "checked", json_string(acme_time_rfc3339(p, b->checked)));
    json_object_set_new(j, "reason", json_string(b->reason ? b->reason : ""));
    for (i = 0; b->certs && i < b->certs->nelts; ++i) {
        json_array_append_new(certs, json_string(APR_ARRAY_IDX(b->certs, i, const char *)));
    }
    json_object_set_new(j, "certificates", certs);
    text = acme_json_dump(p, j);
    if (!text) {
        return APR_ENOMEM;
    }
    return acme_store_save(st, ACME_GROUP_ORDERS, ACME_BLOCKED_ENTRY, ACME_BLOCKED_ASPECT,
                           text, strlen(text), p);
}

apr_status_t acme_blocked_clear(acme_store_t *st, apr_pool_t *p)
{
    return acme_store_remove(st, ACME_GROUP_ORDERS, ACME_BLOCKED_ENTRY, NULL, p);
}

json_t *acme_blocked_json(const acme_blocked_t *b, apr_pool_t *p)
{
    json_t *j;
    if (!b) {
        return json_null();
    }
    j = json_object();
    json_object_set_new(j, "since", json_string(acme_time_rfc3339(p, b->since)));
    json_object_set_new(j, "checked", json_string(acme_time_rfc3339(p, b->checked)));
    json_object_set_new(j, "reason", json_string(b->reason ? b->reason : ""));
    return j;
}

int acme_blocked_has(const acme_blocked_t *b, const char *id)
{
    int i;
    for (i = 0; b && b->certs && i < b->certs->nelts; ++i) {
        if (!strcmp(APR_ARRAY_IDX(b->certs, i, const char *), id)) {
            return 1;
        }
    }
    return 0;
}

int acme_blocked_notified(acme_store_t *st, const acme_blocked_t *b, apr_pool_t *p)
{
    json_t *j = load_aspect(st, ACME_BLOCKED_NOTIFIED_ASPECT, NULL, p);
    const char *since = j ? acme_json_str(j, "since") : NULL;
    return since && acme_time_parse_rfc3339(since) == b->since;
}

apr_status_t acme_blocked_set_notified(acme_store_t *st, const acme_blocked_t *b,
                                       apr_pool_t *p)
{
    json_t *j = acme_state_new(p);
    const char *text;
    json_object_set_new(j, "since", json_string(acme_time_rfc3339(p, b->since)));
    text = acme_json_dump(p, j);
    if (!text) {
        return APR_ENOMEM;
    }
    return acme_store_save(st, ACME_GROUP_ORDERS, ACME_BLOCKED_ENTRY,
                           ACME_BLOCKED_NOTIFIED_ASPECT, text, strlen(text), p);
}

/* ---- the running server's listeners ------------------------------------------------ */

const char *acme_listeners_add(apr_pool_t *p, const char *list, const char *ip,
                               apr_port_t port)
{
    return apr_psprintf(p, "%s%s%s %u", list && *list ? list : "", list && *list ? ";" : "",
                        ip, (unsigned)port);
}

int acme_listeners_has(const char *list, const char *ip, apr_port_t port)
{
    const char *s = list;
    while (s && *s) {
        const char *end = strchr(s, ';'), *sp = strchr(s, ' ');
        apr_size_t n;
        if (!end) {
            end = s + strlen(s);
        }
        if (sp && sp < end && (apr_port_t)atoi(sp + 1) == port) {
            n = (apr_size_t)(sp - s);
            if (ip ? (strlen(ip) == n && !strncmp(s, ip, n))
                   : ((n == 7 && !strncmp(s, "0.0.0.0", 7)) || (n == 2 && !strncmp(s, "::", 2)))) {
                return 1;
            }
        }
        s = *end ? end + 1 : end;
    }
    return 0;
}
