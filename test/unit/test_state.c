/* Unit tests for acme_state: every field of every record survives save and load; files in
 * the previous format (no "v", exactly as the code wrote them before) still load; a newer
 * version or a damaged file is refused. The records go through a store that has no files
 * (an in-memory acme_store_t here), as a second store backend would hold them. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <utime.h>

#include <apr_strings.h>
#include <apr_hash.h>

#include "tests.h"
#include "acme.h"
#include "acme_state.h"
#include "acme_store.h"
#include "acme_util.h"

static apr_pool_t *pool;
static acme_store_t mem;
static apr_hash_t *values;

/* ---- an in-memory store: load, save, remove; no paths ---------------------------------- */

static const char *mem_key(apr_pool_t *p, acme_group_t g, const char *name, const char *aspect)
{
    return apr_psprintf(p, "%d/%s/%s", (int)g, name, aspect ? aspect : "");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static apr_status_t mem_load(acme_store_t *st, acme_group_t g, const char *name,
                             const char *aspect, char **pdata, apr_size_t *plen, apr_pool_t *p)
{
    const char *v = apr_hash_get(values, mem_key(p, g, name, aspect), APR_HASH_KEY_STRING);
    (void)st;
    if (!v) {
        return APR_ENOENT;
    }
    *pdata = apr_pstrdup(p, v);
    if (plen) {
        *plen = strlen(v);
    }
    return APR_SUCCESS;
}

static apr_status_t mem_save(acme_store_t *st, acme_group_t g, const char *name,
                             const char *aspect, const void *data, apr_size_t len,
                             apr_pool_t *p)
{
    (void)st;
    (void)p;
    apr_hash_set(values, mem_key(pool, g, name, aspect), APR_HASH_KEY_STRING,
                 apr_pstrmemdup(pool, data, len));
    return APR_SUCCESS;
}

static apr_status_t mem_remove(acme_store_t *st, acme_group_t g, const char *name,
                               const char *aspect, apr_pool_t *p)
{
    (void)st;
    apr_hash_set(values, mem_key(p, g, name, aspect), APR_HASH_KEY_STRING, NULL);
    return APR_SUCCESS;
}

/* The entry names of a group, sorted, each once. */
static apr_status_t mem_list(acme_store_t *st, acme_group_t g, apr_array_header_t **pnames,
                             apr_pool_t *p)
{
    const char *prefix = apr_psprintf(p, "%d/", (int)g);
    apr_hash_t *seen = apr_hash_make(p);
    apr_hash_index_t *hi;
    (void)st;
    *pnames = apr_array_make(p, 4, sizeof(const char *));
    for (hi = apr_hash_first(p, values); hi; hi = apr_hash_next(hi)) {
        const char *k = apr_hash_this_key(hi), *slash;
        if (!strncmp(k, prefix, strlen(prefix)) && apr_hash_this_val(hi)
            && (slash = strchr(k + strlen(prefix), '/')) != NULL) {
            const char *name = apr_pstrmemdup(p, k + strlen(prefix),
                                              (apr_size_t)(slash - k - strlen(prefix)));
            if (!apr_hash_get(seen, name, APR_HASH_KEY_STRING)) {
                apr_hash_set(seen, name, APR_HASH_KEY_STRING, name);
                APR_ARRAY_PUSH(*pnames, const char *) = name;
            }
        }
    }
    qsort((*pnames)->elts, (size_t)(*pnames)->nelts, sizeof(const char *), cmp_str);
    return APR_SUCCESS;
}

static const char *mem_get(acme_group_t g, const char *name, const char *aspect)
{
    return apr_hash_get(values, mem_key(pool, g, name, aspect), APR_HASH_KEY_STRING);
}

static void mem_put(acme_group_t g, const char *name, const char *aspect, const char *text)
{
    mem_save(&mem, g, name, aspect, text, strlen(text), pool);
}

static void setup(void)
{
    apr_pool_create(&pool, NULL);
    values = apr_hash_make(pool);
    memset(&mem, 0, sizeof(mem));
    mem.kind = "memory";
    mem.load = mem_load;
    mem.save = mem_save;
    mem.remove = mem_remove;
    mem.list = mem_list;
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

static apr_time_t T(const char *s)
{
    apr_time_t t = acme_time_parse_rfc3339(s);
    ck_assert(t > 0);
    return t;
}

/* ---- meta.json -------------------------------------------------------------------------- */

START_TEST(test_meta_round_trip)
{
    acme_cert_meta_t m, *back;
    apr_array_header_t *names = apr_array_make(pool, 2, sizeof(const char *));

    APR_ARRAY_PUSH(names, const char *) = "www.a.test";
    APR_ARRAY_PUSH(names, const char *) = "a.test";
    memset(&m, 0, sizeof(m));
    m.names = names;
    m.ca = "https://ca.test/dir";
    m.key = "rsa3072";
    m.serial = "0a1b2c";
    m.order = "https://ca.test/order/7";
    m.not_before = T("2026-01-01T00:00:00Z");
    m.not_after = T("2026-03-01T12:30:00Z");
    m.staged = T("2026-01-01T00:05:00Z");
    m.rebuilt = T("2026-02-02T02:02:02Z");
    ck_assert_int_eq(acme_meta_save(&mem, ACME_GROUP_STAGING, "a.test", &m, pool), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(mem_get(ACME_GROUP_STAGING, "a.test", "meta.json"), "\"v\":1"));
    ck_assert_int_eq(acme_meta_load(&back, pool, &mem, ACME_GROUP_STAGING, "a.test"),
                     APR_SUCCESS);
    ck_assert_int_eq(back->v, ACME_STATE_VERSION);
    ck_assert_int_eq(back->names->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(back->names, 0, const char *), "www.a.test");
    ck_assert_str_eq(APR_ARRAY_IDX(back->names, 1, const char *), "a.test");
    ck_assert_str_eq(back->ca, m.ca);
    ck_assert_str_eq(back->key, m.key);
    ck_assert_str_eq(back->serial, m.serial);
    ck_assert_str_eq(back->order, m.order);
    ck_assert(back->not_before == m.not_before);
    ck_assert(back->not_after == m.not_after);
    ck_assert(back->staged == m.staged);
    ck_assert(back->rebuilt == m.rebuilt);
    /* the same record in another group is another value */
    ck_assert_int_eq(acme_meta_load(&back, pool, &mem, ACME_GROUP_LIVE, "a.test"), APR_ENOENT);
    ck_assert_ptr_null(back);

    /* absent fields stay absent; serial is always a string */
    memset(&m, 0, sizeof(m));
    ck_assert_str_eq(acme_meta_text(pool, &m), "{\"names\":[],\"serial\":\"\",\"v\":1}");
}
END_TEST

START_TEST(test_meta_previous_format)
{
    acme_cert_meta_t *m;
    /* exactly what the driver wrote before the records had versions */
    mem_put(ACME_GROUP_LIVE, "a.test", "meta.json",
            "{\"ca\":\"https://localhost:14000/dir\",\"key\":\"p256\",\"names\":[\"a.test\","
            "\"www.a.test\"],\"not_after\":\"2026-04-01T10:00:00Z\",\"not_before\":"
            "\"2026-01-01T10:00:00Z\",\"order\":\"https://localhost:14000/my-order/x1\","
            "\"serial\":\"5f3e\",\"staged\":\"2026-01-01T10:00:05Z\"}");
    ck_assert_int_eq(acme_meta_load(&m, pool, &mem, ACME_GROUP_LIVE, "a.test"), APR_SUCCESS);
    ck_assert_int_eq(m->v, 0);
    ck_assert_int_eq(m->names->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(m->names, 1, const char *), "www.a.test");
    ck_assert_str_eq(m->ca, "https://localhost:14000/dir");
    ck_assert_str_eq(m->key, "p256");
    ck_assert_str_eq(m->serial, "5f3e");
    ck_assert_str_eq(m->order, "https://localhost:14000/my-order/x1");
    ck_assert(m->not_before == T("2026-01-01T10:00:00Z"));
    ck_assert(m->not_after == T("2026-04-01T10:00:00Z"));
    ck_assert(m->staged == T("2026-01-01T10:00:05Z"));
    ck_assert(m->rebuilt == 0);

    /* and what start-up wrote when it rebuilt one */
    mem_put(ACME_GROUP_LIVE, "b.test", "meta.json",
            "{\"key\":\"rsa2048\",\"names\":[\"b.test\"],\"not_after\":\"2026-04-01T10:00:00Z\","
            "\"not_before\":\"2026-01-01T10:00:00Z\",\"rebuilt\":\"2026-02-01T00:00:00Z\","
            "\"serial\":\"01\"}");
    ck_assert_int_eq(acme_meta_load(&m, pool, &mem, ACME_GROUP_LIVE, "b.test"), APR_SUCCESS);
    ck_assert_int_eq(m->v, 0);
    ck_assert_ptr_null(m->ca);
    ck_assert_ptr_null(m->order);
    ck_assert(m->staged == 0);
    ck_assert(m->rebuilt == T("2026-02-01T00:00:00Z"));
}
END_TEST

START_TEST(test_meta_refused)
{
    acme_cert_meta_t *m;
    static const char *const bad[] = {
        "", "{\"names\":[\"a.test\"],\"ser", "[]", "\"meta\"",
        "{\"v\":2,\"names\":[\"a.test\"]}", "{\"v\":0}", "{\"v\":\"1\"}",
    };
    size_t i;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        ck_assert_msg(acme_meta_parse(&m, pool, bad[i], strlen(bad[i])) == APR_EINVAL,
                      "accepted %s", bad[i]);
        ck_assert_ptr_null(m);
    }
    ck_assert_int_eq(acme_meta_load(&m, pool, &mem, ACME_GROUP_LIVE, "none.test"), APR_ENOENT);
}
END_TEST

/* The profile (ACMEProfile) is one more optional field of version 1: records without it (any
 * written before profiles existed) load with none; the fallback flag only with a profile. */
START_TEST(test_meta_profile)
{
    acme_cert_meta_t m, *back;
    const char *text;

    memset(&m, 0, sizeof(m));
    m.serial = "01";
    m.profile = "shortlived";
    text = acme_meta_text(pool, &m);
    ck_assert_str_eq(text, "{\"names\":[],\"profile\":\"shortlived\",\"serial\":\"01\","
                           "\"v\":1}");
    ck_assert_int_eq(acme_meta_parse(&back, pool, text, strlen(text)), APR_SUCCESS);
    ck_assert_str_eq(back->profile, "shortlived");
    ck_assert_int_eq(back->profile_fallback, 0);

    m.profile_fallback = 1;
    ck_assert_int_eq(acme_meta_save(&mem, ACME_GROUP_LIVE, "p.test", &m, pool), APR_SUCCESS);
    ck_assert_int_eq(acme_meta_load(&back, pool, &mem, ACME_GROUP_LIVE, "p.test"), APR_SUCCESS);
    ck_assert_str_eq(back->profile, "shortlived");
    ck_assert_int_eq(back->profile_fallback, 1);

    /* no profile: neither field is written, whatever the flag says */
    m.profile = NULL;
    ck_assert_str_eq(acme_meta_text(pool, &m), "{\"names\":[],\"serial\":\"01\",\"v\":1}");

    /* a version 1 record of before, and one of the previous format: no profile */
    text = "{\"names\":[\"a.test\"],\"serial\":\"01\",\"v\":1}";
    ck_assert_int_eq(acme_meta_parse(&back, pool, text, strlen(text)), APR_SUCCESS);
    ck_assert_ptr_null(back->profile);
    ck_assert_int_eq(back->profile_fallback, 0);
    text = "{\"names\":[\"a.test\"],\"serial\":\"01\"}";
    ck_assert_int_eq(acme_meta_parse(&back, pool, text, strlen(text)), APR_SUCCESS);
    ck_assert_ptr_null(back->profile);
}
END_TEST

/* ---- status.json ------------------------------------------------------------------------ */

START_TEST(test_status_round_trip)
{
    acme_cert_status_t s, *back;
    memset(&s, 0, sizeof(s));
    s.failures = 3;
    s.last_failure = T("2026-01-02T03:04:05Z");
    s.next_attempt = T("2026-01-02T04:44:05Z");
    s.retry_after = T("2026-01-02T05:00:00Z");
    s.err_type = "urn:ietf:params:acme:error:rateLimited";
    s.err_detail = "too many \"orders\"\nslow down";
    s.err_hint = "wait";
    ck_assert_int_eq(acme_status_save(&mem, "a.test", &s, pool), APR_SUCCESS);
    ck_assert_int_eq(acme_status_load(&back, pool, &mem, "a.test"), APR_SUCCESS);
    ck_assert_int_eq(back->v, ACME_STATE_VERSION);
    ck_assert_int_eq(back->failures, 3);
    ck_assert(back->last_failure == s.last_failure);
    ck_assert(back->next_attempt == s.next_attempt);
    ck_assert(back->retry_after == s.retry_after);
    ck_assert_str_eq(back->err_type, s.err_type);
    ck_assert_str_eq(back->err_detail, s.err_detail);
    ck_assert_str_eq(back->err_hint, s.err_hint);

    /* optional parts left out stay out */
    memset(&s, 0, sizeof(s));
    s.failures = 1;
    s.err_detail = "unknown";
    ck_assert_int_eq(acme_status_save(&mem, "a.test", &s, pool), APR_SUCCESS);
    ck_assert_str_eq(mem_get(ACME_GROUP_ORDERS, "a.test", "status.json"),
                     "{\"error\":{\"detail\":\"unknown\"},\"failures\":1,\"v\":1}");
    ck_assert_int_eq(acme_status_load(&back, pool, &mem, "a.test"), APR_SUCCESS);
    ck_assert_ptr_null(back->err_type);
    ck_assert_ptr_null(back->err_hint);
    ck_assert(back->retry_after == 0);

    ck_assert_int_eq(acme_status_clear(&mem, "a.test", pool), APR_SUCCESS);
    ck_assert_int_eq(acme_status_load(&back, pool, &mem, "a.test"), APR_ENOENT);
    ck_assert_int_eq(acme_status_clear(&mem, "a.test", pool), APR_SUCCESS);
}
END_TEST

START_TEST(test_status_previous_format)
{
    acme_cert_status_t *s;
    /* exactly what the watchdog's save_failure wrote before */
    mem_put(ACME_GROUP_ORDERS, "a.test", "status.json",
            "{\"error\":{\"detail\":\"urn:ietf:params:acme:error:rejectedIdentifier: no\","
            "\"hint\":\"the CA does not issue for this name\",\"type\":"
            "\"urn:ietf:params:acme:error:rejectedIdentifier\"},\"failures\":2,"
            "\"last_failure\":\"2026-01-02T03:04:05Z\",\"next_attempt\":"
            "\"2026-01-02T03:14:05Z\",\"retry_after\":\"2026-01-02T03:10:00Z\"}");
    ck_assert_int_eq(acme_status_load(&s, pool, &mem, "a.test"), APR_SUCCESS);
    ck_assert_int_eq(s->v, 0);
    ck_assert_int_eq(s->failures, 2);
    ck_assert(s->last_failure == T("2026-01-02T03:04:05Z"));
    ck_assert(s->next_attempt == T("2026-01-02T03:14:05Z"));
    ck_assert(s->retry_after == T("2026-01-02T03:10:00Z"));
    ck_assert_str_eq(s->err_type, "urn:ietf:params:acme:error:rejectedIdentifier");
    ck_assert_str_eq(s->err_detail, "urn:ietf:params:acme:error:rejectedIdentifier: no");
    ck_assert_str_eq(s->err_hint, "the CA does not issue for this name");

    mem_put(ACME_GROUP_ORDERS, "a.test", "status.json", "{\"failures\":2,\"v\":9}");
    ck_assert_int_eq(acme_status_load(&s, pool, &mem, "a.test"), APR_EINVAL);
    mem_put(ACME_GROUP_ORDERS, "a.test", "status.json", "{\"failures\":");
    ck_assert_int_eq(acme_status_load(&s, pool, &mem, "a.test"), APR_EINVAL);
}
END_TEST

/* ---- ari.json --------------------------------------------------------------------------- */

START_TEST(test_ari_round_trip)
{
    acme_ari_state_t a, *back;
    memset(&a, 0, sizeof(a));
    a.cert_id = "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE";
    a.start = T("2026-02-01T00:00:00Z");
    a.end = T("2026-02-03T00:00:00Z");
    a.chosen = T("2026-02-02T07:08:09Z");
    a.next_fetch = T("2026-01-15T06:00:00Z");
    a.explanation_url = "https://ca.test/why";
    ck_assert_int_eq(acme_ari_state_save(&mem, "a.test", &a, pool), APR_SUCCESS);
    ck_assert_int_eq(acme_ari_state_load(&back, pool, &mem, "a.test"), APR_SUCCESS);
    ck_assert_int_eq(back->v, ACME_STATE_VERSION);
    ck_assert_str_eq(back->cert_id, a.cert_id);
    ck_assert(back->start == a.start);
    ck_assert(back->end == a.end);
    ck_assert(back->chosen == a.chosen);
    ck_assert(back->next_fetch == a.next_fetch);
    ck_assert_str_eq(back->explanation_url, a.explanation_url);
    ck_assert_int_eq(acme_ari_state_load(&back, pool, &mem, "b.test"), APR_ENOENT);
}
END_TEST

START_TEST(test_ari_previous_format)
{
    acme_ari_state_t *a;
    /* exactly what the watchdog's ari_save wrote before (no explanation URL) */
    mem_put(ACME_GROUP_ORDERS, "a.test", "ari.json",
            "{\"cert_id\":\"abc.def\",\"chosen\":\"2026-02-02T07:08:09Z\",\"end\":"
            "\"2026-02-03T00:00:00Z\",\"next_fetch\":\"2026-01-15T06:00:00Z\",\"start\":"
            "\"2026-02-01T00:00:00Z\"}");
    ck_assert_int_eq(acme_ari_state_load(&a, pool, &mem, "a.test"), APR_SUCCESS);
    ck_assert_int_eq(a->v, 0);
    ck_assert_str_eq(a->cert_id, "abc.def");
    ck_assert(a->start == T("2026-02-01T00:00:00Z"));
    ck_assert(a->end == T("2026-02-03T00:00:00Z"));
    ck_assert(a->chosen == T("2026-02-02T07:08:09Z"));
    ck_assert(a->next_fetch == T("2026-01-15T06:00:00Z"));
    ck_assert_ptr_null(a->explanation_url);
}
END_TEST

/* ---- renew.request ---------------------------------------------------------------------- */

START_TEST(test_request_round_trip)
{
    acme_renew_request_t r, *back;
    const char *text;
    memset(&r, 0, sizeof(r));
    r.requested = T("2026-01-05T08:09:10Z");
    r.by = "acmectl";
    ck_assert_int_eq(acme_request_save(&mem, "a.test", &r, pool), APR_SUCCESS);
    text = mem_get(ACME_GROUP_ORDERS, "a.test", "renew.request");
    ck_assert_str_eq(text, "{\"by\":\"acmectl\",\"requested\":\"2026-01-05T08:09:10Z\","
                           "\"v\":1}\n");
    ck_assert_int_eq(acme_request_load(&back, pool, &mem, "a.test"), APR_SUCCESS);
    ck_assert_int_eq(back->v, ACME_STATE_VERSION);
    ck_assert(back->requested == r.requested);
    ck_assert_str_eq(back->by, "acmectl");
    ck_assert_int_eq(acme_request_clear(&mem, "a.test", pool), APR_SUCCESS);
    ck_assert_int_eq(acme_request_load(&back, pool, &mem, "a.test"), APR_ENOENT);
}
END_TEST

START_TEST(test_request_previous_format)
{
    acme_renew_request_t *r;
    static const char prev[] = "requested by acmectl at 2026-01-05T08:09:10Z\n";
    /* exactly what acmectl renew wrote before */
    mem_put(ACME_GROUP_ORDERS, "a.test", "renew.request", prev);
    ck_assert_int_eq(acme_request_load(&r, pool, &mem, "a.test"), APR_SUCCESS);
    ck_assert_int_eq(r->v, 0);
    ck_assert(r->requested == T("2026-01-05T08:09:10Z"));
    ck_assert_str_eq(r->by, "acmectl");
    /* any other text is still a request, of unknown time (no file here to date it) */
    mem_put(ACME_GROUP_ORDERS, "a.test", "renew.request", "please\n");
    ck_assert_int_eq(acme_request_load(&r, pool, &mem, "a.test"), APR_SUCCESS);
    ck_assert(r->requested == 0);
    ck_assert_ptr_null(r->by);
    ck_assert_int_eq(acme_request_parse(&r, pool, "", 0), APR_SUCCESS);
    ck_assert(r->requested == 0);
    /* damaged JSON or a newer version: still a request, of unknown time */
    ck_assert_int_eq(acme_request_parse(&r, pool, "{\"requested\":", 13), APR_SUCCESS);
    ck_assert(r->requested == 0);
    ck_assert_int_eq(acme_request_parse(&r, pool, "{\"v\":2,\"requested\":"
                                                  "\"2026-01-05T08:09:10Z\"}", 42), APR_SUCCESS);
    ck_assert(r->requested == 0);
}
END_TEST

/* In the filesystem store a request of unknown time is dated by its file. */
START_TEST(test_request_mtime)
{
    acme_store_t *fs;
    acme_renew_request_t *r;
    char root[64];
    const char *path;
    struct utimbuf ut;

    strcpy(root, "/tmp/acme-state-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
    ck_assert_int_eq(acme_store_fs_create(&fs, pool, root), APR_SUCCESS);
    ck_assert_int_eq(acme_store_fs_setup(fs, -1, -1, pool), APR_SUCCESS);
    ck_assert_int_eq(acme_store_save(fs, ACME_GROUP_ORDERS, "a.test", "renew.request", "x\n",
                                     2, pool), APR_SUCCESS);
    path = fs->path(fs, ACME_GROUP_ORDERS, "a.test", "renew.request", pool);
    ut.actime = ut.modtime = 1767225600;   /* 2026-01-01T00:00:00Z */
    ck_assert_int_eq(utime(path, &ut), 0);
    ck_assert_int_eq(acme_request_load(&r, pool, fs, "a.test"), APR_SUCCESS);
    ck_assert(r->requested == T("2026-01-01T00:00:00Z"));
    ck_assert_int_eq(system(apr_pstrcat(pool, "rm -rf ", root, NULL)), 0);
}
END_TEST

/* ---- orders/_driver/metrics.json -------------------------------------------------------- */

START_TEST(test_counters_round_trip)
{
    acme_counters_t c, *back;
    memset(&c, 0, sizeof(c));
    c.attempts = 12;
    c.staged = 9;
    c.failed = 3;
    c.acme_requests = APR_INT64_C(5000000000);
    c.last_run = T("2026-01-06T00:00:01Z");
    ck_assert_int_eq(acme_counters_save(&mem, &c, pool), APR_SUCCESS);
    ck_assert_ptr_nonnull(mem_get(ACME_GROUP_ORDERS, "_driver", "metrics.json"));
    ck_assert_int_eq(acme_counters_load(&back, pool, &mem), APR_SUCCESS);
    ck_assert_int_eq(back->v, ACME_STATE_VERSION);
    ck_assert(back->attempts == 12 && back->staged == 9 && back->failed == 3);
    ck_assert(back->acme_requests == APR_INT64_C(5000000000));
    ck_assert(back->last_run == c.last_run);
}
END_TEST

START_TEST(test_counters_previous_format)
{
    acme_counters_t *c;
    ck_assert_int_eq(acme_counters_load(&c, pool, &mem), APR_ENOENT);
    /* exactly what the watchdog's metrics_save wrote before */
    mem_put(ACME_GROUP_ORDERS, "_driver", "metrics.json",
            "{\"acme_requests\":41,\"attempts\":4,\"failed\":1,\"last_run\":"
            "\"2026-01-06T00:00:01Z\",\"staged\":3}");
    ck_assert_int_eq(acme_counters_load(&c, pool, &mem), APR_SUCCESS);
    ck_assert_int_eq(c->v, 0);
    ck_assert(c->attempts == 4 && c->staged == 3 && c->failed == 1 && c->acme_requests == 41);
    ck_assert(c->last_run == T("2026-01-06T00:00:01Z"));
}
END_TEST

/* acme_status_record_failure: a result becomes the failure record, with the table's hint */
START_TEST(test_status_record_failure)
{
    acme_cert_status_t *st;
    acme_result_t res;

    acme_result_reset(&res);
    res.status = ACME_EPROBLEM;
    res.problem_type = "urn:ietf:params:acme:error:rejectedIdentifier";
    res.detail = "no such TLD";
    res.retry_after = T("2026-01-06T01:00:00Z");
    ck_assert_int_eq(acme_status_record_failure(&mem, "a.test", 2, T("2026-01-06T00:00:00Z"),
                                                T("2026-01-06T02:00:00Z"), &res, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_status_load(&st, pool, &mem, "a.test"), APR_SUCCESS);
    ck_assert_int_eq(st->failures, 2);
    ck_assert(st->last_failure == T("2026-01-06T00:00:00Z"));
    ck_assert(st->next_attempt == T("2026-01-06T02:00:00Z"));
    ck_assert(st->retry_after == T("2026-01-06T01:00:00Z"));
    ck_assert_str_eq(st->err_type, res.problem_type);
    ck_assert_str_eq(st->err_detail, "no such TLD");
    ck_assert_ptr_nonnull(st->err_hint);
    /* no problem type, no detail: "unknown", no hint */
    acme_result_reset(&res);
    res.status = APR_ECONNREFUSED;
    ck_assert_int_eq(acme_status_record_failure(&mem, "b.test", 1, T("2026-01-06T00:00:00Z"),
                                                T("2026-01-06T00:01:00Z"), &res, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_status_load(&st, pool, &mem, "b.test"), APR_SUCCESS);
    ck_assert_ptr_null(st->err_type);
    ck_assert_str_eq(st->err_detail, "unknown");
    ck_assert_ptr_null(st->err_hint);
}
END_TEST

/* acme_counters_add: from nothing, then onto what is saved */
START_TEST(test_counters_add)
{
    acme_counters_t *c;
    ck_assert_int_eq(acme_counters_add(&mem, 2, 1, 30, T("2026-01-06T00:00:00Z"), pool),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_counters_add(&mem, 1, 0, 12, T("2026-01-07T00:00:00Z"), pool),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_counters_load(&c, pool, &mem), APR_SUCCESS);
    ck_assert(c->attempts == 4 && c->staged == 3 && c->failed == 1 && c->acme_requests == 42);
    ck_assert(c->last_run == T("2026-01-07T00:00:00Z"));
}
END_TEST

/* expiring.json: round trip with "v", the previous format ({"last"} alone), damage */
START_TEST(expiring_round_trip_and_previous_format)
{
    acme_store_t *st = &mem;
    apr_time_t last = 1;

    ck_assert_int_eq(acme_expiring_load(&last, pool, st, "a.test"), APR_ENOENT);
    ck_assert(last == 0);
    ck_assert_int_eq(acme_expiring_save(st, "a.test", T("2026-03-01T10:00:00Z"), pool),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_expiring_load(&last, pool, st, "a.test"), APR_SUCCESS);
    ck_assert(last == T("2026-03-01T10:00:00Z"));
    /* exactly what the watchdog wrote before */
    mem_put(ACME_GROUP_ORDERS, "b.test", "expiring.json", "{\"last\":\"2026-02-01T00:00:00Z\"}");
    ck_assert_int_eq(acme_expiring_load(&last, pool, st, "b.test"), APR_SUCCESS);
    ck_assert(last == T("2026-02-01T00:00:00Z"));
    mem_put(ACME_GROUP_ORDERS, "c.test", "expiring.json", "{\"last\":");
    ck_assert_int_eq(acme_expiring_load(&last, pool, st, "c.test"), APR_EINVAL);
    ck_assert(last == 0);
}
END_TEST

/* ---- persist.json ----------------------------------------------------------------------- */

#define ACCT "https://ca.test/acct/17"
#define PLAIN "ca.test; accounturi=" ACCT
#define WILD PLAIN "; policy=wildcard"

static acme_persist_t *persist_two(void)
{
    acme_persist_t *ps = acme_persist_make(pool);
    ck_assert_int_eq(acme_persist_set(ps, pool, "_validation-persist.a.test", PLAIN), 1);
    ck_assert_int_eq(acme_persist_set(ps, pool, "_validation-persist.b.test", WILD), 1);
    return ps;
}

/* every record survives save and load, exactly; the zone-file and JSON forms */
START_TEST(test_persist_round_trip)
{
    acme_persist_t *back;
    const acme_persist_record_t *rec;
    json_t *j;

    ck_assert_int_eq(acme_persist_load(&back, pool, &mem, "a.test"), APR_ENOENT);
    ck_assert_int_eq(acme_persist_save(&mem, "a.test", persist_two(), pool), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(mem_get(ACME_GROUP_ORDERS, "a.test", "persist.json"),
                                 "\"v\":1"));
    ck_assert_int_eq(acme_persist_load(&back, pool, &mem, "a.test"), APR_SUCCESS);
    ck_assert_int_eq(back->v, ACME_STATE_VERSION);
    ck_assert_int_eq(back->records->nelts, 2);
    rec = &APR_ARRAY_IDX(back->records, 0, acme_persist_record_t);
    ck_assert_str_eq(rec->name, "_validation-persist.a.test");
    ck_assert_str_eq(rec->value, PLAIN);
    ck_assert_str_eq(acme_persist_zone_line(pool, rec),
                     "_validation-persist.a.test. IN TXT \"" PLAIN "\"");
    rec = acme_persist_find(back, "B.test");
    ck_assert_ptr_nonnull(rec);
    ck_assert_str_eq(rec->value, WILD);
    ck_assert_ptr_null(acme_persist_find(back, "c.test"));
    j = acme_persist_json(pool, back);
    ck_assert_int_eq(json_array_size(j), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(j, 1), "value")), WILD);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(j, 1), "record")),
                     "_validation-persist.b.test. IN TXT \"" WILD "\"");
    json_decref(j);
    j = acme_persist_json(pool, NULL);
    ck_assert_int_eq(json_array_size(j), 0);
    json_decref(j);
    /* no records left: the file goes */
    back->records->nelts = 0;
    ck_assert_int_eq(acme_persist_save(&mem, "a.test", back, pool), APR_SUCCESS);
    ck_assert_ptr_null(mem_get(ACME_GROUP_ORDERS, "a.test", "persist.json"));
}
END_TEST

/* what replaces a record, what does not, what is refused */
START_TEST(test_persist_set)
{
    acme_persist_t *ps = persist_two();
    ck_assert_int_eq(acme_persist_set(ps, pool, "_validation-persist.a.test", PLAIN), 0);
    /* the wildcard's value covers the name: kept when the plain one comes again */
    ck_assert_int_eq(acme_persist_set(ps, pool, "_validation-persist.b.test", PLAIN), 0);
    ck_assert_str_eq(acme_persist_find(ps, "b.test")->value, WILD);
    /* a plain record gives way to the wildcard's, and to another account */
    ck_assert_int_eq(acme_persist_set(ps, pool, "_validation-persist.a.test", WILD), 1);
    ck_assert_int_eq(acme_persist_set(ps, pool, "_validation-persist.a.test",
                                      "ca.test; accounturi=https://ca.test/acct/18"), 1);
    ck_assert_str_eq(acme_persist_find(ps, "a.test")->value,
                     "ca.test; accounturi=https://ca.test/acct/18");
    ck_assert_int_eq(ps->records->nelts, 2);
    /* what could not be shown as it is */
    ck_assert_int_eq(acme_persist_set(ps, pool, "a.test", PLAIN), 0);
    ck_assert_int_eq(acme_persist_set(ps, pool, "_validation-persist.", PLAIN), 0);
    ck_assert_int_eq(acme_persist_set(ps, pool, "_validation-persist.c test", PLAIN), 0);
    ck_assert_int_eq(acme_persist_set(ps, pool, "_validation-persist.c.test", "a\"b"), 0);
    ck_assert_int_eq(acme_persist_set(ps, pool, "_validation-persist.c.test", "a\nb"), 0);
    ck_assert_int_eq(acme_persist_set(ps, pool, "_validation-persist.c.test", ""), 0);
    ck_assert_int_eq(acme_persist_set(ps, pool, "_validation-persist.c.test", NULL), 0);
    ck_assert_int_eq(ps->records->nelts, 2);
}
END_TEST

/* a damaged or newer file is refused, and left as it is */
START_TEST(test_persist_damaged)
{
    static const char *const bad[] = {
        "{\"records\":[{\"name\":\"_validation-persist.a.test\"",      /* cut short */
        "[1,2]",                                                              /* no object */
        "{\"v\":1}",                                                        /* no records */
        "{\"v\":1,\"records\":{}}",
        "{\"v\":2,\"records\":[]}",                                         /* newer */
        "{\"v\":1,\"records\":[{\"name\":\"a.test\",\"value\":\"x\"}]}",
        "{\"v\":1,\"records\":[{\"name\":\"_validation-persist.a.test\"}]}",
        "{\"v\":1,\"records\":[{\"name\":\"_validation-persist.a.test\","
        "\"value\":\"x\\\"; rm\"}]}",                                         /* a quote */
        "{\"v\":1,\"records\":[7]}",
    };
    acme_persist_t *ps = (acme_persist_t *)1;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        mem_put(ACME_GROUP_ORDERS, "a.test", "persist.json", bad[i]);
        ck_assert_msg(acme_persist_load(&ps, pool, &mem, "a.test") == APR_EINVAL, "%s", bad[i]);
        ck_assert_ptr_null(ps);
        ck_assert_str_eq(mem_get(ACME_GROUP_ORDERS, "a.test", "persist.json"), bad[i]);
    }
    /* the previous format rule: no "v" loads as version 0 */
    mem_put(ACME_GROUP_ORDERS, "a.test", "persist.json", "{\"records\":[]}");
    ck_assert_int_eq(acme_persist_load(&ps, pool, &mem, "a.test"), APR_SUCCESS);
    ck_assert_int_eq(ps->v, 0);
    ck_assert_int_eq(ps->records->nelts, 0);
}
END_TEST

/* names the certificate no longer has lose their record; none kept without names */
START_TEST(test_persist_keep_names)
{
    acme_persist_t *ps = persist_two();
    apr_array_header_t *names = apr_array_make(pool, 2, sizeof(const char *));

    APR_ARRAY_PUSH(names, const char *) = "*.b.test";
    APR_ARRAY_PUSH(names, const char *) = "c.test";
    ck_assert_int_eq(acme_persist_keep_names(ps, names), 1);
    ck_assert_int_eq(ps->records->nelts, 1);
    ck_assert_ptr_nonnull(acme_persist_find(ps, "b.test"));
    ck_assert_int_eq(acme_persist_keep_names(ps, names), 0);
    ck_assert_int_eq(acme_persist_keep_names(ps, NULL), 1);
    ck_assert_int_eq(ps->records->nelts, 0);
}
END_TEST

/* configtest's lookup: any certificate's record, only while the store has its account */
START_TEST(test_persist_lookup)
{
    const acme_persist_record_t *rec = (const acme_persist_record_t *)1;

    ck_assert_int_eq(acme_persist_lookup(&rec, pool, &mem, "b.test"), APR_ENOENT);
    ck_assert_ptr_null(rec);
    mem_put(ACME_GROUP_ORDERS, "a.test", "persist.json", "{");
    ck_assert_int_eq(acme_persist_save(&mem, "b.test", persist_two(), pool), APR_SUCCESS);
    ck_assert_int_eq(acme_persist_lookup(&rec, pool, &mem, "b.test"), APR_ENOENT);
    mem_put(ACME_GROUP_ACCOUNTS, "ca.test_dir", "account.json",
            "{\"url\":\"https://ca.test/acct/170\",\"ca\":\"https://ca.test/dir\"}");
    ck_assert_int_eq(acme_persist_lookup(&rec, pool, &mem, "b.test"), APR_ENOENT);
    mem_put(ACME_GROUP_ACCOUNTS, "ca.test_dir+eab-k", "account.json",
            "{\"url\":\"" ACCT "\",\"ca\":\"https://ca.test/dir\"}");
    ck_assert_int_eq(acme_persist_lookup(&rec, pool, &mem, "b.test"), APR_SUCCESS);
    ck_assert_str_eq(rec->value, WILD);
    ck_assert_int_eq(acme_persist_lookup(&rec, pool, &mem, "d.test"), APR_ENOENT);
}
END_TEST

Suite *state_suite(void)
{
    Suite *s = suite_create("state");
    TCase *tc = tcase_create("records");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_meta_round_trip);
    tcase_add_test(tc, test_meta_previous_format);
    tcase_add_test(tc, test_meta_refused);
    tcase_add_test(tc, test_meta_profile);
    tcase_add_test(tc, test_status_round_trip);
    tcase_add_test(tc, test_status_previous_format);
    tcase_add_test(tc, test_ari_round_trip);
    tcase_add_test(tc, test_ari_previous_format);
    tcase_add_test(tc, test_request_round_trip);
    tcase_add_test(tc, test_request_previous_format);
    tcase_add_test(tc, test_request_mtime);
    tcase_add_test(tc, test_counters_round_trip);
    tcase_add_test(tc, test_counters_previous_format);
    tcase_add_test(tc, expiring_round_trip_and_previous_format);
    tcase_add_test(tc, test_counters_add);
    tcase_add_test(tc, test_status_record_failure);
    tcase_add_test(tc, test_persist_round_trip);
    tcase_add_test(tc, test_persist_set);
    tcase_add_test(tc, test_persist_damaged);
    tcase_add_test(tc, test_persist_keep_names);
    tcase_add_test(tc, test_persist_lookup);
    suite_add_tcase(s, tc);
    return s;
}
