/* Typed per-certificate state records (see acme_state.h). */
#include <string.h>
#include <strings.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_file_info.h>

#include "acme_state.h"
#include "acme_client.h"
#include "acme_json.h"
#include "acme_util.h"

/* ---- helpers ---------------------------------------------------------------------------- */

apr_status_t acme_state_parse(json_t **pj, int *pv, apr_pool_t *p, const char *data,
                              apr_size_t len)
{
    json_t *j, *v;

    *pj = NULL;
    *pv = 0;
    if (!data || !(j = acme_json_parse(p, data, len, NULL)) || !json_is_object(j)) {
        return APR_EINVAL;
    }
    if ((v = json_object_get(j, "v")) != NULL) {
        if (!json_is_integer(v) || json_integer_value(v) < 1
            || json_integer_value(v) > ACME_STATE_VERSION) {
            return APR_EINVAL;
        }
        *pv = (int)json_integer_value(v);
    }
    *pj = j;
    return APR_SUCCESS;
}

json_t *acme_state_new(apr_pool_t *p)
{
    json_t *j = acme_json_pool(p, json_object());
    json_object_set_new(j, "v", json_integer(ACME_STATE_VERSION));
    return j;
}

static const char *get_str(apr_pool_t *p, const json_t *j, const char *key)
{
    const char *s = j ? acme_json_str(j, key) : NULL;
    return s ? apr_pstrdup(p, s) : NULL;
}

static apr_time_t get_time(const json_t *j, const char *key)
{
    return j ? acme_time_parse_rfc3339(acme_json_str(j, key)) : 0;
}

static apr_int64_t get_int(const json_t *j, const char *key)
{
    return (apr_int64_t)json_integer_value(json_object_get(j, key));
}

static void set_str(json_t *j, const char *key, const char *s)
{
    if (s) {
        json_object_set_new(j, key, json_string(s));
    }
}

static void set_time(apr_pool_t *p, json_t *j, const char *key, apr_time_t t)
{
    if (t) {
        json_object_set_new(j, key, json_string(acme_time_rfc3339(p, t)));
    }
}

static apr_status_t save_text(acme_store_t *st, acme_group_t g, const char *name,
                              const char *aspect, const char *text, apr_pool_t *p)
{
    if (!text) {
        return APR_ENOMEM;
    }
    return acme_store_save(st, g, name, aspect, text, strlen(text), p);
}

/* Load a JSON record: its object and version (parse_record). */
static apr_status_t load_record(json_t **pj, int *pv, acme_store_t *st, acme_group_t g,
                                const char *name, const char *aspect, apr_pool_t *p)
{
    char *data;
    apr_size_t len;
    apr_status_t rv = acme_store_load(st, g, name, aspect, &data, &len, p);

    *pj = NULL;
    return rv != APR_SUCCESS ? rv : acme_state_parse(pj, pv, p, data, len);
}

/* ---- meta.json -------------------------------------------------------------------------- */

apr_status_t acme_meta_parse(acme_cert_meta_t **pm, apr_pool_t *p, const char *data,
                             apr_size_t len)
{
    acme_cert_meta_t *m;
    apr_array_header_t *names;
    json_t *j, *arr;
    size_t k;
    int v;
    apr_status_t rv;

    *pm = NULL;
    if ((rv = acme_state_parse(&j, &v, p, data, len)) != APR_SUCCESS) {
        return rv;
    }
    m = apr_pcalloc(p, sizeof(*m));
    m->v = v;
    arr = acme_json_arr(j, "names");
    names = apr_array_make(p, arr ? (int)json_array_size(arr) + 1 : 1, sizeof(const char *));
    for (k = 0; arr && k < json_array_size(arr); ++k) {
        const char *n = json_string_value(json_array_get(arr, k));
        if (n) {
            APR_ARRAY_PUSH(names, const char *) = apr_pstrdup(p, n);
        }
    }
    m->names = names;
    m->ca = get_str(p, j, "ca");
    m->key = get_str(p, j, "key");
    m->serial = get_str(p, j, "serial");
    m->order = get_str(p, j, "order");
    m->chain = get_str(p, j, "chain");
    m->not_before = get_time(j, "not_before");
    m->not_after = get_time(j, "not_after");
    m->staged = get_time(j, "staged");
    m->rebuilt = get_time(j, "rebuilt");
    m->profile = get_str(p, j, "profile");
    m->profile_fallback = json_is_true(json_object_get(j, "profile_fallback"));
    *pm = m;
    return APR_SUCCESS;
}

const char *acme_meta_text(apr_pool_t *p, const acme_cert_meta_t *m)
{
    json_t *j = acme_state_new(p), *names = json_array();
    int i;
    for (i = 0; m->names && i < m->names->nelts; ++i) {
        json_array_append_new(names, json_string(APR_ARRAY_IDX(m->names, i, const char *)));
    }
    json_object_set_new(j, "names", names);
    set_str(j, "ca", m->ca);
    set_str(j, "key", m->key);
    json_object_set_new(j, "serial", json_string(m->serial ? m->serial : ""));
    set_str(j, "order", m->order);
    set_str(j, "chain", m->chain);
    set_time(p, j, "not_before", m->not_before);
    set_time(p, j, "not_after", m->not_after);
    set_time(p, j, "staged", m->staged);
    set_time(p, j, "rebuilt", m->rebuilt);
    set_str(j, "profile", m->profile);
    if (m->profile && m->profile_fallback) {
        json_object_set_new(j, "profile_fallback", json_true());
    }
    return acme_json_dump(p, j);
}

apr_status_t acme_meta_load(acme_cert_meta_t **pm, apr_pool_t *p, acme_store_t *st,
                            acme_group_t g, const char *id)
{
    char *data;
    apr_size_t len;
    apr_status_t rv;

    *pm = NULL;
    if ((rv = acme_store_load(st, g, id, ACME_STATE_META, &data, &len, p)) != APR_SUCCESS) {
        return rv;
    }
    return acme_meta_parse(pm, p, data, len);
}

apr_status_t acme_meta_save(acme_store_t *st, acme_group_t g, const char *id,
                            const acme_cert_meta_t *m, apr_pool_t *p)
{
    return save_text(st, g, id, ACME_STATE_META, acme_meta_text(p, m), p);
}

/* ---- status.json ------------------------------------------------------------------------ */

apr_status_t acme_status_load(acme_cert_status_t **ps, apr_pool_t *p, acme_store_t *st,
                              const char *id)
{
    acme_cert_status_t *s;
    json_t *j, *err;
    int v;
    apr_status_t rv;

    *ps = NULL;
    if ((rv = load_record(&j, &v, st, ACME_GROUP_ORDERS, id, ACME_STATE_STATUS, p))
        != APR_SUCCESS) {
        return rv;
    }
    s = apr_pcalloc(p, sizeof(*s));
    s->v = v;
    s->failures = (int)get_int(j, "failures");
    s->last_failure = get_time(j, "last_failure");
    s->next_attempt = get_time(j, "next_attempt");
    s->retry_after = get_time(j, "retry_after");
    err = acme_json_obj(j, "error");
    s->err_type = get_str(p, err, "type");
    s->err_detail = get_str(p, err, "detail");
    s->err_hint = get_str(p, err, "hint");
    *ps = s;
    return APR_SUCCESS;
}

apr_status_t acme_status_save(acme_store_t *st, const char *id, const acme_cert_status_t *s,
                              apr_pool_t *p)
{
    json_t *j = acme_state_new(p), *err = json_object();
    json_object_set_new(j, "failures", json_integer(s->failures));
    set_time(p, j, "last_failure", s->last_failure);
    set_time(p, j, "next_attempt", s->next_attempt);
    set_time(p, j, "retry_after", s->retry_after);
    set_str(err, "type", s->err_type);
    set_str(err, "detail", s->err_detail);
    set_str(err, "hint", s->err_hint);
    json_object_set_new(j, "error", err);
    return save_text(st, ACME_GROUP_ORDERS, id, ACME_STATE_STATUS, acme_json_dump(p, j), p);
}

apr_status_t acme_status_record_failure(acme_store_t *st, const char *id, int failures,
                                        apr_time_t at, apr_time_t next,
                                        const acme_result_t *res, apr_pool_t *p)
{
    acme_cert_status_t s;
    memset(&s, 0, sizeof(s));
    s.failures = failures;
    s.last_failure = at;
    s.retry_after = res->retry_after;
    s.next_attempt = next;
    s.err_type = res->problem_type;
    s.err_detail = res->detail ? res->detail : "unknown";
    s.err_hint = res->problem_type ? acme_problem_hint(res->problem_type) : NULL;
    return acme_status_save(st, id, &s, p);
}

apr_status_t acme_status_clear(acme_store_t *st, const char *id, apr_pool_t *p)
{
    return acme_store_remove(st, ACME_GROUP_ORDERS, id, ACME_STATE_STATUS, p);
}

/* ---- ari.json --------------------------------------------------------------------------- */

apr_status_t acme_ari_state_load(acme_ari_state_t **pa, apr_pool_t *p, acme_store_t *st,
                                 const char *id)
{
    acme_ari_state_t *a;
    json_t *j;
    int v;
    apr_status_t rv;

    *pa = NULL;
    if ((rv = load_record(&j, &v, st, ACME_GROUP_ORDERS, id, ACME_STATE_ARI, p))
        != APR_SUCCESS) {
        return rv;
    }
    a = apr_pcalloc(p, sizeof(*a));
    a->v = v;
    a->cert_id = get_str(p, j, "cert_id");
    a->start = get_time(j, "start");
    a->end = get_time(j, "end");
    a->chosen = get_time(j, "chosen");
    a->next_fetch = get_time(j, "next_fetch");
    a->explanation_url = get_str(p, j, "explanation_url");
    *pa = a;
    return APR_SUCCESS;
}

apr_status_t acme_ari_state_save(acme_store_t *st, const char *id, const acme_ari_state_t *a,
                                 apr_pool_t *p)
{
    json_t *j = acme_state_new(p);
    set_str(j, "cert_id", a->cert_id);
    set_time(p, j, "start", a->start);
    set_time(p, j, "end", a->end);
    set_time(p, j, "chosen", a->chosen);
    set_time(p, j, "next_fetch", a->next_fetch);
    set_str(j, "explanation_url", a->explanation_url);
    return save_text(st, ACME_GROUP_ORDERS, id, ACME_STATE_ARI, acme_json_dump(p, j), p);
}

/* ---- renew.request ---------------------------------------------------------------------- */

/* The previous format: "requested by <by> at <RFC 3339>" (one line). */
static void parse_request_line(acme_renew_request_t *r, apr_pool_t *p, const char *data,
                               apr_size_t len)
{
    static const char lead[] = "requested by ";
    char buf[128];
    char *at;
    apr_size_t n;

    if (!data || len == 0 || len >= sizeof(buf)) {
        return;
    }
    memcpy(buf, data, len);
    buf[len] = '\0';
    if (!(at = strstr(buf, " at "))) {
        return;
    }
    if (!strncmp(buf, lead, sizeof(lead) - 1) && at > buf + sizeof(lead) - 1) {
        r->by = apr_pstrmemdup(p, buf + sizeof(lead) - 1,
                               (apr_size_t)(at - buf) - (sizeof(lead) - 1));
    }
    at += 4;
    n = strcspn(at, "\r\n \t");
    at[n] = '\0';
    r->requested = acme_time_parse_rfc3339(at);
}

apr_status_t acme_request_parse(acme_renew_request_t **pr, apr_pool_t *p, const char *data,
                                apr_size_t len)
{
    acme_renew_request_t *r = apr_pcalloc(p, sizeof(*r));
    json_t *j;
    int v;

    *pr = NULL;
    if (data && len > 0 && data[0] == '{') {
        /* damaged or newer: still a request (its file is what asks), of unknown time */
        if (acme_state_parse(&j, &v, p, data, len) == APR_SUCCESS) {
            r->v = v;
            r->requested = get_time(j, "requested");
            r->by = get_str(p, j, "by");
            r->new_key = json_is_true(json_object_get(j, "new_key"));
        }
    }
    else {
        parse_request_line(r, p, data, len);
    }
    *pr = r;
    return APR_SUCCESS;
}

const char *acme_request_text(apr_pool_t *p, const acme_renew_request_t *r)
{
    json_t *j = acme_state_new(p);
    set_time(p, j, "requested", r->requested);
    set_str(j, "by", r->by);
    if (r->new_key) {
        json_object_set_new(j, "new_key", json_true());
    }
    return apr_pstrcat(p, acme_json_dump(p, j), "\n", NULL);
}

apr_status_t acme_request_load(acme_renew_request_t **pr, apr_pool_t *p, acme_store_t *st,
                               const char *id)
{
    char *data;
    apr_size_t len;
    apr_finfo_t fi;
    const char *path;
    apr_status_t rv;

    *pr = NULL;
    if ((rv = acme_store_load(st, ACME_GROUP_ORDERS, id, ACME_STATE_REQUEST, &data, &len, p))
        != APR_SUCCESS || (rv = acme_request_parse(pr, p, data, len)) != APR_SUCCESS) {
        return rv;
    }
    if (!(*pr)->requested && st->path
        && (path = st->path(st, ACME_GROUP_ORDERS, id, ACME_STATE_REQUEST, p)) != NULL
        && apr_stat(&fi, path, APR_FINFO_MTIME, p) == APR_SUCCESS && fi.mtime > 0) {
        (*pr)->requested = fi.mtime;
    }
    return APR_SUCCESS;
}

apr_status_t acme_request_save(acme_store_t *st, const char *id, const acme_renew_request_t *r,
                               apr_pool_t *p)
{
    return save_text(st, ACME_GROUP_ORDERS, id, ACME_STATE_REQUEST, acme_request_text(p, r), p);
}

apr_status_t acme_request_clear(acme_store_t *st, const char *id, apr_pool_t *p)
{
    return acme_store_remove(st, ACME_GROUP_ORDERS, id, ACME_STATE_REQUEST, p);
}

/* ---- orders/_driver/metrics.json -------------------------------------------------------- */

apr_status_t acme_counters_load(acme_counters_t **pc, apr_pool_t *p, acme_store_t *st)
{
    acme_counters_t *c;
    json_t *j;
    int v;
    apr_status_t rv;

    *pc = NULL;
    if ((rv = load_record(&j, &v, st, ACME_GROUP_ORDERS, ACME_STATE_COUNTERS_ENTRY,
                          ACME_STATE_COUNTERS, p)) != APR_SUCCESS) {
        return rv;
    }
    c = apr_pcalloc(p, sizeof(*c));
    c->v = v;
    c->attempts = get_int(j, "attempts");
    c->staged = get_int(j, "staged");
    c->failed = get_int(j, "failed");
    c->acme_requests = get_int(j, "acme_requests");
    c->last_run = get_time(j, "last_run");
    *pc = c;
    return APR_SUCCESS;
}

apr_status_t acme_counters_save(acme_store_t *st, const acme_counters_t *c, apr_pool_t *p)
{
    json_t *j = acme_state_new(p);
    json_object_set_new(j, "attempts", json_integer(c->attempts));
    json_object_set_new(j, "staged", json_integer(c->staged));
    json_object_set_new(j, "failed", json_integer(c->failed));
    json_object_set_new(j, "acme_requests", json_integer(c->acme_requests));
    set_time(p, j, "last_run", c->last_run);
    return save_text(st, ACME_GROUP_ORDERS, ACME_STATE_COUNTERS_ENTRY, ACME_STATE_COUNTERS,
                     acme_json_dump(p, j), p);
}

apr_status_t acme_counters_add(acme_store_t *st, apr_int64_t staged, apr_int64_t failed,
                               apr_int64_t requests, apr_time_t now, apr_pool_t *p)
{
    acme_counters_t *old, c;

    memset(&c, 0, sizeof(c));
    if (acme_counters_load(&old, p, st) == APR_SUCCESS) {
        c = *old;
    }
    c.attempts += staged + failed;
    c.staged += staged;
    c.failed += failed;
    c.acme_requests += requests;
    c.last_run = now;
    return acme_counters_save(st, &c, p);
}

/* ---- expiring.json ---------------------------------------------------------------------- */

apr_status_t acme_expiring_load(apr_time_t *plast, apr_pool_t *p, acme_store_t *st,
                                const char *id)
{
    json_t *j;
    int v;
    apr_status_t rv = load_record(&j, &v, st, ACME_GROUP_ORDERS, id, ACME_STATE_EXPIRING, p);

    *plast = rv == APR_SUCCESS ? get_time(j, "last") : 0;
    return rv;
}

apr_status_t acme_expiring_save(acme_store_t *st, const char *id, apr_time_t last,
                                apr_pool_t *p)
{
    json_t *j = acme_state_new(p);
    set_time(p, j, "last", last);
    return save_text(st, ACME_GROUP_ORDERS, id, ACME_STATE_EXPIRING, acme_json_dump(p, j), p);
}

/* ---- persist.json ----------------------------------------------------------------------- */

#define PERSIST_PREFIX "_validation-persist."

static int persist_name_ok(const char *name)
{
    const char *c;
    if (!name || strncmp(name, PERSIST_PREFIX, sizeof(PERSIST_PREFIX) - 1)
        || !name[sizeof(PERSIST_PREFIX) - 1] || strlen(name) > 253) {
        return 0;
    }
    for (c = name; *c; ++c) {
        if (!apr_isalnum(*c) && *c != '.' && *c != '-' && *c != '_') {
            return 0;
        }
    }
    return 1;
}

static int persist_value_ok(const char *value)
{
    const char *c;
    if (!value || !*value || strlen(value) > 1024) {
        return 0;
    }
    for (c = value; *c; ++c) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f || *c == '"' || *c == '\\') {
            return 0;
        }
    }
    return 1;
}

acme_persist_t *acme_persist_make(apr_pool_t *p)
{
    acme_persist_t *ps = apr_pcalloc(p, sizeof(*ps));
    ps->v = ACME_STATE_VERSION;
    ps->records = apr_array_make(p, 2, sizeof(acme_persist_record_t));
    return ps;
}

apr_status_t acme_persist_parse(acme_persist_t **pps, apr_pool_t *p, const char *data,
                                apr_size_t len)
{
    acme_persist_t *ps;
    json_t *j, *arr;
    size_t k;
    int v;
    apr_status_t rv;

    *pps = NULL;
    if ((rv = acme_state_parse(&j, &v, p, data, len)) != APR_SUCCESS) {
        return rv;
    }
    arr = json_object_get(j, "records");
    if (!json_is_array(arr)) {
        return APR_EINVAL;
    }
    ps = acme_persist_make(p);
    ps->v = v;
    for (k = 0; k < json_array_size(arr); ++k) {
        const json_t *e = json_array_get(arr, k);
        acme_persist_record_t *rec;
        const char *name = json_is_object(e) ? acme_json_str(e, "name") : NULL;
        const char *value = json_is_object(e) ? acme_json_str(e, "value") : NULL;
        if (!persist_name_ok(name) || !persist_value_ok(value)) {
            return APR_EINVAL;
        }
        rec = apr_array_push(ps->records);
        rec->name = apr_pstrdup(p, name);
        rec->value = apr_pstrdup(p, value);
    }
    *pps = ps;
    return APR_SUCCESS;
}

const char *acme_persist_text(apr_pool_t *p, const acme_persist_t *ps)
{
    json_t *j = acme_state_new(p), *arr = json_array();
    int i;
    for (i = 0; ps && ps->records && i < ps->records->nelts; ++i) {
        const acme_persist_record_t *rec = &APR_ARRAY_IDX(ps->records, i, acme_persist_record_t);
        json_array_append_new(arr, json_pack("{s:s, s:s}", "name", rec->name,
                                             "value", rec->value));
    }
    json_object_set_new(j, "records", arr);
    return acme_json_dump(p, j);
}

apr_status_t acme_persist_load(acme_persist_t **pps, apr_pool_t *p, acme_store_t *st,
                               const char *id)
{
    char *data;
    apr_size_t len;
    apr_status_t rv = acme_store_load(st, ACME_GROUP_ORDERS, id, ACME_STATE_PERSIST, &data,
                                      &len, p);
    *pps = NULL;
    return rv != APR_SUCCESS ? rv : acme_persist_parse(pps, p, data, len);
}

apr_status_t acme_persist_save(acme_store_t *st, const char *id, const acme_persist_t *ps,
                               apr_pool_t *p)
{
    apr_status_t rv;
    if (!ps || !ps->records || ps->records->nelts == 0) {
        rv = acme_store_remove(st, ACME_GROUP_ORDERS, id, ACME_STATE_PERSIST, p);
        return APR_STATUS_IS_ENOENT(rv) ? APR_SUCCESS : rv;
    }
    return save_text(st, ACME_GROUP_ORDERS, id, ACME_STATE_PERSIST, acme_persist_text(p, ps),
                     p);
}

const acme_persist_record_t *acme_persist_find(const acme_persist_t *ps, const char *ident)
{
    int i;
    for (i = 0; ps && ps->records && ident && i < ps->records->nelts; ++i) {
        const acme_persist_record_t *rec = &APR_ARRAY_IDX(ps->records, i, acme_persist_record_t);
        if (!strcasecmp(rec->name + sizeof(PERSIST_PREFIX) - 1, ident)) {
            return rec;
        }
    }
    return NULL;
}

int acme_persist_set(acme_persist_t *ps, apr_pool_t *p, const char *name, const char *value)
{
    acme_persist_record_t *rec;
    apr_size_t n;

    if (!ps || !persist_name_ok(name) || !persist_value_ok(value)) {
        return 0;
    }
    rec = (acme_persist_record_t *)acme_persist_find(ps, name + sizeof(PERSIST_PREFIX) - 1);
    if (rec) {
        n = strlen(value);
        if (!strcmp(rec->value, value)
            || (!strncmp(rec->value, value, n) && !strcmp(rec->value + n, "; policy=wildcard"))) {
            return 0;
        }
    }
    else {
        rec = apr_array_push(ps->records);
    }
    rec->name = apr_pstrdup(p, name);
    rec->value = apr_pstrdup(p, value);
    return 1;
}

int acme_persist_keep_names(acme_persist_t *ps, const apr_array_header_t *names)
{
    int i, j, kept = 0, dropped = 0;
    for (i = 0; ps && ps->records && i < ps->records->nelts; ++i) {
        acme_persist_record_t rec = APR_ARRAY_IDX(ps->records, i, acme_persist_record_t);
        const char *ident = rec.name + sizeof(PERSIST_PREFIX) - 1;
        int found = 0;
        for (j = 0; names && j < names->nelts && !found; ++j) {
            const char *n = APR_ARRAY_IDX(names, j, const char *);
            found = n && (!strcasecmp(n, ident)
                          || (!strncmp(n, "*.", 2) && !strcasecmp(n + 2, ident)));
        }
        if (found) {
            APR_ARRAY_IDX(ps->records, kept++, acme_persist_record_t) = rec;
        }
        else {
            dropped++;
        }
    }
    if (ps && ps->records) {
        ps->records->nelts = kept;
    }
    return dropped;
}

/* The accounturi of a record's value ("...; accounturi=URL[; ...]"), NULL none. */
static const char *persist_account(apr_pool_t *p, const char *value)
{
    const char *u = strstr(value, "accounturi="), *end;
    if (!u) {
        return NULL;
    }
    u += sizeof("accounturi=") - 1;
    end = strchr(u, ';');
    return end ? apr_pstrmemdup(p, u, (apr_size_t)(end - u)) : u;
}

static int store_has_account(apr_pool_t *p, acme_store_t *st, const char *url)
{
    apr_array_header_t *names = NULL;
    json_t *j;
    int i, v;

    if (!url || st->list(st, ACME_GROUP_ACCOUNTS, &names, p) != APR_SUCCESS) {
        return 0;
    }
    for (i = 0; i < names->nelts; ++i) {
        /* accounts/<name>/account.json (acme_account.c): {"url", ...} */
        if (load_record(&j, &v, st, ACME_GROUP_ACCOUNTS, APR_ARRAY_IDX(names, i, const char *),
                        "account.json", p) == APR_SUCCESS
            && acme_json_str(j, "url") && !strcmp(acme_json_str(j, "url"), url)) {
            return 1;
        }
    }
    return 0;
}

apr_status_t acme_persist_lookup(const acme_persist_record_t **prec, apr_pool_t *p,
                                 acme_store_t *st, const char *ident)
{
    apr_array_header_t *ids = NULL;
    acme_persist_t *ps;
    const acme_persist_record_t *rec;
    int i;

    *prec = NULL;
    if (!ident || st->list(st, ACME_GROUP_ORDERS, &ids, p) != APR_SUCCESS) {
        return APR_ENOENT;
    }
    for (i = 0; i < ids->nelts; ++i) {
        if (acme_persist_load(&ps, p, st, APR_ARRAY_IDX(ids, i, const char *)) == APR_SUCCESS
            && (rec = acme_persist_find(ps, ident)) != NULL
            && store_has_account(p, st, persist_account(p, rec->value))) {
            *prec = rec;
            return APR_SUCCESS;
        }
    }
    return APR_ENOENT;
}

const char *acme_persist_zone_line(apr_pool_t *p, const acme_persist_record_t *rec)
{
    return apr_psprintf(p, "%s. IN TXT \"%s\"", rec->name, rec->value);
}

json_t *acme_persist_json(apr_pool_t *p, const acme_persist_t *ps)
{
    json_t *arr = json_array();
    int i;
    for (i = 0; ps && ps->records && i < ps->records->nelts; ++i) {
        const acme_persist_record_t *rec = &APR_ARRAY_IDX(ps->records, i, acme_persist_record_t);
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "name", rec->name,
                                             "value", rec->value,
                                             "record", acme_persist_zone_line(p, rec)));
    }
    return arr;
}

/* ---- paced.json ------------------------------------------------------------------------- */

apr_status_t acme_paced_load(acme_paced_t **pp, apr_pool_t *p, acme_store_t *st,
                             const char *id)
{
    acme_paced_t *r;
    json_t *j;
    int v;
    apr_status_t rv;

    *pp = NULL;
    if ((rv = load_record(&j, &v, st, ACME_GROUP_ORDERS, id, ACME_STATE_PACED, p))
        != APR_SUCCESS) {
        return rv;
    }
    r = apr_pcalloc(p, sizeof(*r));
    r->v = v;
    r->until = get_time(j, "until");
    r->reason = get_str(p, j, "reason");
    *pp = r;
    return APR_SUCCESS;
}

apr_status_t acme_paced_save(acme_store_t *st, const char *id, apr_time_t until,
                             const char *reason, apr_pool_t *p)
{
    json_t *j = acme_state_new(p);
    set_time(p, j, "until", until);
    set_str(j, "reason", reason);
    return save_text(st, ACME_GROUP_ORDERS, id, ACME_STATE_PACED, acme_json_dump(p, j), p);
}

apr_status_t acme_paced_clear(acme_store_t *st, const char *id, apr_pool_t *p)
{
    apr_status_t rv = acme_store_remove(st, ACME_GROUP_ORDERS, id, ACME_STATE_PACED, p);
    return APR_STATUS_IS_ENOENT(rv) ? APR_SUCCESS : rv;
}

/* ---- orders/_driver/pace.json ----------------------------------------------------------- */

/* A time to the second, rounded up (a bucket never looks fuller than it was). */
static void set_time_up(apr_pool_t *p, json_t *j, const char *key, apr_time_t t)
{
    if (t > 0) {
        set_time(p, j, key, ((t + APR_USEC_PER_SEC - 1) / APR_USEC_PER_SEC) * APR_USEC_PER_SEC);
    }
}

apr_status_t acme_pace_state_load(acme_pace_state_t *ps, apr_pool_t *p, acme_store_t *st,
                                  const char *ca_url)
{
    json_t *j, *cas, *e;
    int v;
    apr_status_t rv;

    memset(ps, 0, sizeof(*ps));
    if ((rv = load_record(&j, &v, st, ACME_GROUP_ORDERS, ACME_STATE_COUNTERS_ENTRY,
                          ACME_STATE_PACE, p)) != APR_SUCCESS) {
        return rv;
    }
    cas = json_object_get(j, "cas");
    e = json_is_object(cas) && ca_url ? json_object_get(cas, ca_url) : NULL;
    if (!json_is_object(e)) {
        return APR_ENOENT;
    }
    ps->orders_tat = get_time(e, "orders");
    ps->new_order_tat = get_time(e, "new_order");
    ps->paused_until = get_time(e, "paused_until");
    return APR_SUCCESS;
}

apr_status_t acme_pace_state_save(acme_store_t *st, const char *const *urls,
                                  const acme_pace_state_t *states, int n, apr_pool_t *p)
{
    json_t *j = acme_state_new(p), *cas = json_object();
    int k;

    for (k = 0; k < n; ++k) {
        json_t *e = json_object();
        set_time_up(p, e, "orders", states[k].orders_tat);
        set_time_up(p, e, "new_order", states[k].new_order_tat);
        set_time_up(p, e, "paused_until", states[k].paused_until);
        json_object_set_new(cas, urls[k], e);
    }
    json_object_set_new(j, "cas", cas);
    return save_text(st, ACME_GROUP_ORDERS, ACME_STATE_COUNTERS_ENTRY, ACME_STATE_PACE,
                     acme_json_dump(p, j), p);
}
