/* acme_fleet: the fleet layer between two nodes (two local stores in temp dirs, each with
 * its own secret) and an in-memory database behind acme_fleet_db_ops_t with the semantics
 * acme_fleet_db.h promises (leases with fencing tokens, generations, a change sequence,
 * node rows), plus the directive helpers (ACMEStore pgsql:"...", the fleet key, the
 * default node name). */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "tests.h"
#include "unit_helpers.h"
#include "acme_fleet.h"
#include "acme_crypto.h"
#include "acme_json.h"
#include "acme_log.h"
#include "acme_state.h"
#include "acme_store.h"
#include "acme_util.h"

#define SEC_OF(t) ((t) / APR_USEC_PER_SEC)

/* ---- the in-memory database ------------------------------------------------------------ */

typedef struct fake_entry_t {
    const char *group, *name;
    apr_array_header_t *blobs;
    apr_int64_t generation, seq;
    int removed;
} fake_entry_t;

typedef struct fake_db_t {
    apr_pool_t *pool;
    apr_array_header_t *entries;   /* fake_entry_t */
    apr_array_header_t *leases;    /* acme_fleet_lease_row_t */
    apr_array_header_t *nodes;     /* acme_fleet_node_row_t */
    apr_int64_t seq, fence;
    int down;                      /* every call fails as unreachable */
    int calls;
} fake_db_t;

static apr_pool_t *pool;
static fake_db_t db;

#define DOWN_CHECK() do { ++db.calls; if (db.down) return APR_ECONNREFUSED; } while (0)

static acme_fleet_lease_row_t *lease_find(const char *name)
{
    int i;
    for (i = 0; i < db.leases->nelts; ++i) {
        acme_fleet_lease_row_t *l = &APR_ARRAY_IDX(db.leases, i, acme_fleet_lease_row_t);
        if (!strcmp(l->name, name)) {
            return l;
        }
    }
    return NULL;
}

static apr_status_t f_lease_take(void *b, const char *name, const char *node,
                                 apr_interval_time_t ttl, apr_int64_t *pfence,
                                 const char **pholder, apr_time_t *pexpires, apr_pool_t *p)
{
    acme_fleet_lease_row_t *l;
    apr_time_t now = apr_time_now();

    DOWN_CHECK();
    if (!(l = lease_find(name))) {
        l = apr_array_push(db.leases);
        l->name = apr_pstrdup(db.pool, name);
        l->owner = "";
        l->expires = 0;
        l->fence = 0;
    }
    if (strcmp(l->owner, node) && l->expires > now) {
        *pholder = l->owner;
        *pexpires = l->expires;
        return APR_EAGAIN;
    }
    if (strcmp(l->owner, node) || l->expires <= now) {
        l->fence = ++db.fence;
        l->owner = apr_pstrdup(db.pool, node);
    }
    l->expires = now + ttl;
    *pfence = l->fence;
    *pholder = l->owner;
    *pexpires = l->expires;
    return APR_SUCCESS;
}

static apr_status_t f_lease_release(void *b, const char *name, const char *node,
                                    apr_int64_t fence, apr_pool_t *p)
{
    acme_fleet_lease_row_t *l;
    DOWN_CHECK();
    if ((l = lease_find(name)) && !strcmp(l->owner, node) && l->fence == fence) {
        l->expires = 0;
    }
    return APR_SUCCESS;
}

static apr_status_t f_leases(void *b, apr_array_header_t **prows, apr_pool_t *p)
{
    DOWN_CHECK();
    *prows = apr_array_copy(p, db.leases);
    return APR_SUCCESS;
}

static fake_entry_t *entry_find(const char *group, const char *name)
{
    int i;
    for (i = 0; i < db.entries->nelts; ++i) {
        fake_entry_t *e = &APR_ARRAY_IDX(db.entries, i, fake_entry_t);
        if (!strcmp(e->group, group) && !strcmp(e->name, name)) {
            return e;
        }
    }
    return NULL;
}

static int fenced(const char *lease, apr_int64_t fence)
{
    acme_fleet_lease_row_t *l;
    return fence > 0 && (!(l = lease_find(lease)) || l->fence != fence
                         || l->expires <= apr_time_now());
}

static apr_status_t f_put(void *b, const char *group, const char *name,
                          const acme_store_blob_t *blobs, int nblobs, const char *lease,
                          apr_int64_t fence, apr_int64_t *pgen, apr_pool_t *p)
{
    fake_entry_t *e;
    int i;

    DOWN_CHECK();
    if (fenced(lease, fence)) {
        return APR_EBUSY;
    }
    if (!(e = entry_find(group, name))) {
        e = apr_array_push(db.entries);
        memset(e, 0, sizeof(*e));
        e->group = apr_pstrdup(db.pool, group);
        e->name = apr_pstrdup(db.pool, name);
    }
    e->blobs = apr_array_make(db.pool, nblobs, sizeof(acme_store_blob_t));
    for (i = 0; i < nblobs; ++i) {
        acme_store_blob_t *c = apr_array_push(e->blobs);
        c->aspect = apr_pstrdup(db.pool, blobs[i].aspect);
        c->data = apr_pmemdup(db.pool, blobs[i].data, blobs[i].len);
        c->len = blobs[i].len;
    }
    e->generation++;
    e->seq = ++db.seq;
    e->removed = 0;
    *pgen = e->generation;
    return APR_SUCCESS;
}

static apr_status_t f_get(void *b, const char *group, const char *name, apr_int64_t *pgen,
                          apr_array_header_t **pblobs, apr_pool_t *p)
{
    fake_entry_t *e;
    DOWN_CHECK();
    if (!(e = entry_find(group, name)) || e->removed) {
        return APR_ENOENT;
    }
    *pgen = e->generation;
    *pblobs = apr_array_copy(p, e->blobs);
    return APR_SUCCESS;
}

static apr_status_t f_remove(void *b, const char *group, const char *name, const char *lease,
                             apr_int64_t fence, apr_pool_t *p)
{
    fake_entry_t *e;
    DOWN_CHECK();
    if (fenced(lease, fence)) {
        return APR_EBUSY;
    }
    if ((e = entry_find(group, name)) && !e->removed) {
        e->removed = 1;
        e->seq = ++db.seq;
    }
    return APR_SUCCESS;
}

static apr_status_t f_changes(void *b, const char *group, apr_int64_t since,
                              apr_array_header_t **prows, apr_int64_t *pmax, apr_pool_t *p)
{
    int i;
    DOWN_CHECK();
    *prows = apr_array_make(p, 4, sizeof(acme_fleet_change_row_t));
    *pmax = since;
    for (i = 0; i < db.entries->nelts; ++i) {
        fake_entry_t *e = &APR_ARRAY_IDX(db.entries, i, fake_entry_t);
        if (!strcmp(e->group, group) && e->seq > since) {
            acme_fleet_change_row_t *c = apr_array_push(*prows);
            c->name = e->name;
            c->generation = e->generation;
            c->seq = e->seq;
            c->removed = e->removed;
            *pmax = e->seq > *pmax ? e->seq : *pmax;
        }
    }
    return APR_SUCCESS;
}

static apr_status_t f_node_beat(void *b, const char *node, apr_int64_t seq, const char *info,
                                apr_pool_t *p)
{
    acme_fleet_node_row_t *n = NULL;
    int i;
    DOWN_CHECK();
    for (i = 0; i < db.nodes->nelts && !n; ++i) {
        if (!strcmp(APR_ARRAY_IDX(db.nodes, i, acme_fleet_node_row_t).node, node)) {
            n = &APR_ARRAY_IDX(db.nodes, i, acme_fleet_node_row_t);
        }
    }
    if (!n) {
        n = apr_array_push(db.nodes);
        n->node = apr_pstrdup(db.pool, node);
    }
    n->last_beat = apr_time_now();
    n->challenge_seq = seq;
    n->info_json = apr_pstrdup(db.pool, info);
    return APR_SUCCESS;
}

static apr_status_t f_nodes(void *b, apr_array_header_t **prows, apr_pool_t *p)
{
    DOWN_CHECK();
    *prows = apr_array_copy(p, db.nodes);
    return APR_SUCCESS;
}

static apr_status_t f_now(void *b, apr_time_t *pnow)
{
    DOWN_CHECK();
    *pnow = apr_time_now();
    return APR_SUCCESS;
}

static int purged;                 /* purge_removed calls */

static apr_status_t f_purge(void *b, const char *group, apr_interval_time_t age, int *pcount,
                            apr_pool_t *p)
{
    DOWN_CHECK();
    ck_assert_str_eq(group, "challenges");
    ck_assert(age >= apr_time_from_sec(86400));
    ++purged;
    *pcount = 0;
    return APR_SUCCESS;
}

static const acme_fleet_db_ops_t fake_ops = {
    f_lease_take, f_lease_release, f_leases, f_put, f_get, f_remove, f_changes,
    f_node_beat, f_nodes, f_now, f_purge
};

/* ---- two nodes -------------------------------------------------------------------------- */

typedef struct node_t {
    char dir[64];
    acme_store_t *local;
    unsigned char secret[ACME_SECRET_LEN];
    acme_fleet_t *fleet;
    acme_store_t *st;              /* the wrapping store */
    int http01;                    /* the responder's count */
} node_t;

static node_t A, B;
static unsigned char fleet_key[ACME_FLEET_KEY_LEN];
static apr_array_header_t *logs;

static void count_http01(void *baton, const char *type, const char *key, int delta)
{
    /* http-01 answers are counted under their token */
    if (!strcmp(type, ACME_CHALLENGE_HTTP01)) {
        ck_assert_ptr_nonnull(key);
        ((node_t *)baton)->http01 += delta;
    }
}

/* The names the next fleet_make configures for a.example (NULL: "a.example"). */
static const char *a_names;

/* The node's fleet layer over its local store (again: as the next generation makes it). */
static void fleet_make(node_t *n, const char *name)
{
    acme_fleet_conf_t conf;

    memset(&conf, 0, sizeof(conf));
    conf.ops = &fake_ops;
    conf.db = &db;
    conf.node = name;
    conf.fleet_key = fleet_key;
    conf.secret = n->secret;
    conf.store = n->local;
    conf.served = apr_hash_make(pool);
    apr_hash_set(conf.served, "a.example", APR_HASH_KEY_STRING, "");
    apr_hash_set(conf.served, "b.example", APR_HASH_KEY_STRING, "");
    conf.names = apr_hash_make(pool);
    apr_hash_set(conf.names, "a.example", APR_HASH_KEY_STRING, a_names ? a_names : "a.example");
    apr_hash_set(conf.names, "b.example", APR_HASH_KEY_STRING, "b.example");
    conf.info_json = "{\"activated\":\"2026-01-01T00:00:00Z\"}";
    conf.http01_count = count_http01;
    conf.http01_count_baton = n;
    conf.challenge_wait = apr_time_from_msec(300);
    ck_assert_int_eq(acme_fleet_create(&n->fleet, pool, &conf), APR_SUCCESS);
    n->st = acme_fleet_store(n->fleet);
}

static void node_make(node_t *n, const char *name, int fill)
{
    memset(n, 0, sizeof(*n));
    strcpy(n->dir, "/tmp/acme-fleet-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(n->dir));
    ck_assert_int_eq(acme_store_fs_create(&n->local, pool, n->dir), APR_SUCCESS);
    ck_assert_int_eq(acme_store_fs_setup(n->local, -1, -1, pool), APR_SUCCESS);
    memset(n->secret, fill, sizeof(n->secret));
    fleet_make(n, name);
}

static void setup(void)
{
    apr_pool_create(&pool, NULL);
    memset(&db, 0, sizeof(db));
    db.pool = pool;
    db.entries = apr_array_make(pool, 8, sizeof(fake_entry_t));
    db.leases = apr_array_make(pool, 8, sizeof(acme_fleet_lease_row_t));
    db.nodes = apr_array_make(pool, 4, sizeof(acme_fleet_node_row_t));
    memset(fleet_key, 0x5a, sizeof(fleet_key));
    a_names = NULL;
    node_make(&A, "node-a", 1);
    node_make(&B, "node-b", 2);
    logs = unit_log_capture(pool);
}

static void teardown(void)
{
    acme_log_set(NULL, NULL, NULL);
    unit_rmtree(A.dir);
    unit_rmtree(B.dir);
    apr_pool_destroy(pool);
}

static apr_array_header_t *names_of(const char *name)
{
    apr_array_header_t *a = apr_array_make(pool, 1, sizeof(const char *));
    APR_ARRAY_PUSH(a, const char *) = name;
    return a;
}

static void save(acme_store_t *st, acme_group_t g, const char *name, const char *aspect,
                 const char *text)
{
    ck_assert_int_eq(acme_store_save(st, g, name, aspect, text, strlen(text), pool),
                     APR_SUCCESS);
}

static const char *load(acme_store_t *st, acme_group_t g, const char *name, const char *aspect)
{
    char *data;
    apr_size_t len;
    return acme_store_load(st, g, name, aspect, &data, &len, pool) == APR_SUCCESS ? data : NULL;
}

/* A staged set as the driver writes it: key sealed with the node's secret, meta.json last. */
static void stage(node_t *n, const char *id, const char *serial)
{
    acme_cert_meta_t m;
    char *sealed;
    apr_size_t slen;

    ck_assert_int_eq(acme_seal(&sealed, &slen, pool, n->secret, "KEY-PEM", 7), APR_SUCCESS);
    ck_assert_int_eq(acme_store_save(n->st, ACME_GROUP_STAGING, id, "key.sealed", sealed, slen,
                                     pool), APR_SUCCESS);
    save(n->st, ACME_GROUP_STAGING, id, "chain.pem", "CHAIN-PEM");
    memset(&m, 0, sizeof(m));
    m.names = names_of(id);
    m.serial = serial;
    m.not_after = apr_time_now() + apr_time_from_sec(86400);
    ck_assert_int_eq(acme_meta_save(n->st, ACME_GROUP_STAGING, id, &m, pool), APR_SUCCESS);
}

/* The sealed key aspect of a local entry, unsealed with the node's secret. */
static const char *unsealed(node_t *n, acme_group_t g, const char *id)
{
    char *data, *plain;
    apr_size_t len, plen;
    ck_assert_int_eq(acme_store_load(n->local, g, id, "key.sealed", &data, &len, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_unseal(&plain, &plen, pool, n->secret, data, len), APR_SUCCESS);
    return apr_pstrmemdup(pool, plain, plen);
}

static fake_entry_t *db_entry(const char *group, const char *name)
{
    fake_entry_t *e = entry_find(group, name);
    return e && !e->removed ? e : NULL;
}

/* ---- directive helpers ------------------------------------------------------------------ */

START_TEST(store_arg_forms)
{
    const char *ci, *local, *why;

    ck_assert_int_eq(acme_fleet_store_arg(&ci, &local, &why, pool,
                                          "pgsql:\"host=db dbname=acme user=u\" /var/acme"), 1);
    ck_assert_str_eq(ci, "host=db dbname=acme user=u");
    ck_assert_str_eq(local, "/var/acme");
    ck_assert_int_eq(acme_fleet_store_arg(&ci, &local, &why, pool,
                                          "\"pgsql:host=db port=5433\""), 1);
    ck_assert_str_eq(ci, "host=db port=5433");
    ck_assert_ptr_null(local);
    ck_assert_int_eq(acme_fleet_store_arg(&ci, &local, &why, pool, "pgsql:host=db"), 1);
    ck_assert_str_eq(ci, "host=db");
    ck_assert_int_eq(acme_fleet_store_arg(&ci, &local, &why, pool, "/var/lib/acme"), 0);
    ck_assert_int_eq(acme_fleet_store_arg(&ci, &local, &why, pool, "pgsql:\"host=db"), -1);
    ck_assert_ptr_nonnull(strstr(why, "not closed"));
    ck_assert_int_eq(acme_fleet_store_arg(&ci, &local, &why, pool, "pgsql:\"  \""), -1);
    ck_assert_ptr_nonnull(strstr(why, "empty"));
    ck_assert_int_eq(acme_fleet_store_arg(&ci, &local, &why, pool, "pgsql:\"host=db\" a b"),
                     -1);
}
END_TEST

START_TEST(fleet_key_forms)
{
    unsigned char k[ACME_FLEET_KEY_LEN], want[ACME_FLEET_KEY_LEN];
    const char *why;
    char raw[ACME_FLEET_KEY_LEN];
    int i;

    for (i = 0; i < ACME_FLEET_KEY_LEN; ++i) {
        want[i] = (unsigned char)(i * 7 + 1);
        raw[i] = (char)want[i];
    }
    ck_assert_int_eq(acme_fleet_key_parse(k, &why, pool, raw, sizeof(raw)), APR_SUCCESS);
    ck_assert_mem_eq(k, want, sizeof(k));
    memset(k, 0, sizeof(k));
    ck_assert_int_eq(acme_fleet_key_parse(k, &why, pool, apr_pstrcat(pool, acme_hex(pool, want,
                     sizeof(want)), "\n", NULL), 65), APR_SUCCESS);
    ck_assert_mem_eq(k, want, sizeof(k));
    memset(k, 0, sizeof(k));
    /* base64 (standard alphabet, padded) of the same bytes */
    ck_assert_int_eq(acme_fleet_key_parse(k, &why, pool,
                     "AQgPFh0kKzI5QEdOVVxjanF4f4aNlJuiqbC3vsXM09o=\n", 45), APR_SUCCESS);
    ck_assert_mem_eq(k, want, sizeof(k));
    ck_assert_int_ne(acme_fleet_key_parse(k, &why, pool, "short-key\n", 10), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(why, "10 bytes"));
    ck_assert_ptr_null(strstr(why, "short-key"));
}
END_TEST

START_TEST(node_default_name)
{
    const char *a = acme_fleet_node_default(pool, "web1", "/etc/apache2");
    const char *b = acme_fleet_node_default(pool, "web1", "/srv/www2");

    ck_assert_int_eq((int)strlen(a), 4 + 1 + 8);
    ck_assert_int_eq(strncmp(a, "web1-", 5), 0);
    ck_assert_str_ne(a, b);
    ck_assert_str_eq(a, acme_fleet_node_default(pool, "web1", "/etc/apache2"));
}
END_TEST

/* ---- leases, publish, pull -------------------------------------------------------------- */

START_TEST(one_node_orders_the_other_pulls)
{
    fake_entry_t *e;
    const char *meta;

    /* A makes the fleet's account (its lease), B waits for it */
    ck_assert_int_eq(acme_fleet_may_order(A.fleet, "a.example", names_of("a.example"), pool), 1);
    ck_assert_int_eq(acme_fleet_may_order(B.fleet, "a.example", names_of("a.example"), pool), 0);
    save(A.st, ACME_GROUP_ACCOUNTS, "ca-test", "account.json", "{\"url\":\"u\"}");
    ck_assert_ptr_nonnull(db_entry("accounts", "ca-test"));
    /* the staged set is published under the lease, its key sealed with the fleet key */
    stage(&A, "a.example", "0abc");
    ck_assert_ptr_nonnull(e = db_entry("staging", "a.example"));
    ck_assert_int_eq(e->blobs->nelts, 3);
    acme_fleet_done(A.fleet, "a.example", pool);
    /* B: its tick stages the set, the key re-sealed with B's own secret; the account too */
    acme_fleet_tick(B.fleet, apr_time_now(), pool);
    ck_assert_ptr_nonnull(meta = load(B.local, ACME_GROUP_STAGING, "a.example", "meta.json"));
    ck_assert_ptr_nonnull(strstr(meta, "0abc"));
    ck_assert_str_eq(unsealed(&B, ACME_GROUP_STAGING, "a.example"), "KEY-PEM");
    ck_assert_str_eq(load(B.local, ACME_GROUP_STAGING, "a.example", "chain.pem"), "CHAIN-PEM");
    ck_assert_str_eq(load(B.local, ACME_GROUP_ACCOUNTS, "ca-test", "account.json"),
                     "{\"url\":\"u\"}");
    ck_assert(unit_logged(logs, ACME_LOG_NOTICE, "ACME00647", "a.example"));
    /* B, whose plan still says obtain until it activated the set, does not order it */
    ck_assert_int_eq(acme_fleet_may_order(B.fleet, "a.example", names_of("a.example"), pool), 0);
    ck_assert(unit_logged(logs, ACME_LOG_INFO, "ACME00651", "0abc"));
    /* for other names (a changed configuration) it orders */
    ck_assert_int_eq(acme_fleet_may_order(B.fleet, "a.example",
                                          names_of("www.a.example"), pool), 1);
    acme_fleet_done(B.fleet, "a.example", pool);
    /* a node configured for other names does not pull the set (activation would refuse it) */
    ck_assert_int_eq(acme_store_remove(B.local, ACME_GROUP_STAGING, "a.example", NULL, pool),
                     APR_SUCCESS);
    a_names = "www.a.example";
    fleet_make(&B, "node-b");
    acme_fleet_tick(B.fleet, apr_time_now(), pool);
    ck_assert_ptr_null(load(B.local, ACME_GROUP_STAGING, "a.example", "meta.json"));
}
END_TEST

START_TEST(lease_held_elsewhere_then_taken_over)
{
    acme_fleet_lease_row_t *l;
    char *sealed;
    apr_size_t slen;

    save(A.st, ACME_GROUP_ACCOUNTS, "ca-test", "account.json", "{}");
    acme_fleet_tick(B.fleet, apr_time_now(), pool);
    ck_assert_int_eq(acme_fleet_may_order(A.fleet, "b.example", names_of("b.example"), pool), 1);
    ck_assert_int_eq(acme_fleet_may_order(B.fleet, "b.example", names_of("b.example"), pool), 0);
    ck_assert(unit_logged(logs, ACME_LOG_INFO, "ACME00650", "node-a"));
    /* A's order state is published as the driver saves it */
    ck_assert_int_eq(acme_seal(&sealed, &slen, pool, A.secret, "ORDER-KEY", 9), APR_SUCCESS);
    ck_assert_int_eq(acme_store_save(A.st, ACME_GROUP_ORDERS, "b.example", "key.sealed", sealed,
                                     slen, pool), APR_SUCCESS);
    save(A.st, ACME_GROUP_ORDERS, "b.example", "order.json", "{\"url\":\"order-1\"}");
    ck_assert_ptr_nonnull(db_entry("orders", "b.example"));
    /* A dies: its lease expires; B takes it with a new fencing token and resumes A's order */
    ck_assert_ptr_nonnull(l = lease_find("b.example"));
    l->expires = apr_time_now() - 1;
    ck_assert_int_eq(acme_fleet_may_order(B.fleet, "b.example", names_of("b.example"), pool), 1);
    ck_assert_str_eq(load(B.local, ACME_GROUP_ORDERS, "b.example", "order.json"),
                     "{\"url\":\"order-1\"}");
    ck_assert_str_eq(unsealed(&B, ACME_GROUP_ORDERS, "b.example"), "ORDER-KEY");
    ck_assert(unit_logged(logs, ACME_LOG_NOTICE, "ACME00649", "b.example"));
    /* A comes back with its stale token: what it stages is not published */
    stage(&A, "b.example", "0dead");
    ck_assert_ptr_null(db_entry("staging", "b.example"));
    ck_assert(unit_logged(logs, ACME_LOG_WARNING, "ACME00643", "b.example"));
    /* A's next tick notices the lost lease */
    acme_fleet_tick(A.fleet, apr_time_now(), pool);
    ck_assert(unit_logged(logs, ACME_LOG_WARNING, "ACME00652", "b.example"));
    /* B's set is published */
    stage(&B, "b.example", "0beef");
    ck_assert_ptr_nonnull(db_entry("staging", "b.example"));
}
END_TEST

/* ---- challenges ------------------------------------------------------------------------- */

static volatile int puller_stop;

static void *APR_THREAD_FUNC puller(apr_thread_t *t, void *baton)
{
    apr_pool_t *p;
    apr_pool_create_unmanaged_ex(&p, NULL, NULL);
    while (!puller_stop) {
        acme_fleet_challenges_tick(B.fleet, p);
        apr_pool_clear(p);
        apr_sleep(apr_time_from_msec(10));
    }
    apr_pool_destroy(p);
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

START_TEST(challenges_reach_every_node_before_validation)
{
    apr_thread_t *t;
    apr_status_t trv;
    apr_time_t t0;

    acme_fleet_tick(A.fleet, apr_time_now(), pool);
    acme_fleet_tick(B.fleet, apr_time_now(), pool); /* B is a live node */
    /* B does not pull: A waits challenge_wait, then says so */
    t0 = apr_time_now();
    save(A.st, ACME_GROUP_CHALLENGES, "h1", "http-01.host", "a.example");
    save(A.st, ACME_GROUP_CHALLENGES, "h1", "http-01", "tok.thumb");
    ck_assert_int_ge(apr_time_now() - t0, apr_time_from_msec(250));
    ck_assert(unit_logged(logs, ACME_LOG_WARNING, "ACME00645", "node-b"));
    /* B pulls on its short interval: A goes on as soon as B's row says so */
    puller_stop = 0;
    ck_assert_int_eq(apr_thread_create(&t, NULL, puller, NULL, pool), APR_SUCCESS);
    t0 = apr_time_now();
    save(A.st, ACME_GROUP_CHALLENGES, "h2", "http-01.host", "b.example");
    save(A.st, ACME_GROUP_CHALLENGES, "h2", "http-01", "tok2.thumb");
    ck_assert_int_lt(apr_time_now() - t0, apr_time_from_msec(250));
    puller_stop = 1;
    apr_thread_join(&trv, t);
    ck_assert_str_eq(load(B.local, ACME_GROUP_CHALLENGES, "h2", "http-01"), "tok2.thumb");
    ck_assert_str_eq(load(B.local, ACME_GROUP_CHALLENGES, "h1", "http-01.host"), "a.example");
    ck_assert_int_eq(B.http01, 2);
    ck_assert_int_eq(A.http01, 0); /* the driver counts its own */
    /* removed on A: removed on B, uncounted */
    ck_assert_int_eq(acme_store_remove(A.st, ACME_GROUP_CHALLENGES, "h1", NULL, pool),
                     APR_SUCCESS);
    acme_fleet_challenges_tick(B.fleet, pool);
    ck_assert_ptr_null(load(B.local, ACME_GROUP_CHALLENGES, "h1", "http-01"));
    ck_assert_int_eq(B.http01, 1);
}
END_TEST

/* ---- nodes, snapshot, database down ------------------------------------------------------ */

START_TEST(snapshot_and_database_down)
{
    const char *snap;
    json_t *j;
    apr_time_t now = apr_time_now();
    int i, n640 = 0;

    save(A.st, ACME_GROUP_ACCOUNTS, "ca-test", "account.json", "{}");
    ck_assert_int_eq(acme_fleet_may_order(A.fleet, "a.example", names_of("a.example"), pool), 1);
    acme_fleet_tick(B.fleet, now, pool);
    acme_fleet_tick(A.fleet, now, pool);
    ck_assert_ptr_nonnull(snap = load(A.local, ACME_GROUP_ORDERS, "_fleet", "fleet.json"));
    ck_assert_ptr_nonnull(j = acme_json_parse(pool, snap, strlen(snap), NULL));
    ck_assert_str_eq(acme_json_str(j, "node"), "node-a");
    ck_assert(json_is_true(json_object_get(acme_json_obj(j, "database"), "reachable")));
    ck_assert_int_eq((int)json_array_size(acme_json_arr(j, "nodes")), 2);
    ck_assert_int_eq((int)json_array_size(acme_json_arr(j, "leases")), 1);
    ck_assert_str_eq(acme_json_str(json_array_get(acme_json_arr(j, "leases"), 0), "owner"),
                     "node-a");
    ck_assert_ptr_nonnull(strstr(snap, "\"activated\""));
    /* down: said once per episode, shown, nothing ordered, the last nodes and leases kept */
    db.down = 1;
    for (i = 0; i < 3; ++i) {
        acme_fleet_tick(A.fleet, now + apr_time_from_sec(i * 60), pool);
    }
    for (i = 0; i < logs->nelts; ++i) {
        n640 += strstr(APR_ARRAY_IDX(logs, i, const char *), "ACME00640") != NULL;
    }
    ck_assert_int_eq(n640, 1);
    ck_assert(!acme_fleet_reachable(A.fleet));
    ck_assert_int_eq(acme_fleet_may_order(A.fleet, "b.example", names_of("b.example"), pool), 0);
    /* a challenge the other nodes cannot get: its save fails (the CA is not asked) */
    save(A.st, ACME_GROUP_CHALLENGES, "h1", "http-01.host", "a.example");
    ck_assert_int_ne(acme_store_save(A.st, ACME_GROUP_CHALLENGES, "h1", "http-01", "k", 1,
                                     pool), APR_SUCCESS);
    snap = load(A.local, ACME_GROUP_ORDERS, "_fleet", "fleet.json");
    ck_assert_ptr_nonnull(j = acme_json_parse(pool, snap, strlen(snap), NULL));
    ck_assert(json_is_false(json_object_get(acme_json_obj(j, "database"), "reachable")));
    ck_assert_int_eq((int)json_array_size(acme_json_arr(j, "nodes")), 2);
    /* the back-off: a tick before the next try does not call the database */
    db.calls = 0;
    acme_fleet_tick(A.fleet, now + apr_time_from_sec(120), pool);
    ck_assert_int_eq(db.calls, 0);
    /* a restart while it is down: the episode goes on (not said again) */
    fleet_make(&A, "node-a");
    ck_assert(!acme_fleet_reachable(A.fleet));
    /* back: the next generation says so */
    db.down = 0;
    acme_fleet_tick(A.fleet, now + apr_time_from_sec(600), pool);
    ck_assert(acme_fleet_reachable(A.fleet));
    ck_assert(unit_logged(logs, ACME_LOG_NOTICE, "ACME00641", "node-a"));
    for (i = n640 = 0; i < logs->nelts; ++i) {
        n640 += strstr(APR_ARRAY_IDX(logs, i, const char *), "ACME00640") != NULL;
    }
    ck_assert_int_eq(n640, 1);
}
END_TEST


START_TEST(staged_while_down_published_when_back)
{
    apr_time_t now = apr_time_now();
    fake_entry_t *e;

    save(A.st, ACME_GROUP_ACCOUNTS, "ca-test", "account.json", "{}");
    ck_assert_int_eq(acme_fleet_may_order(A.fleet, "a.example", names_of("a.example"), pool), 1);
    db.down = 1;
    stage(&A, "a.example", "0abc");
    ck_assert(unit_logged(logs, ACME_LOG_WARNING, "ACME00644", "published when the database"));
    /* the driver drops its order state, the restart activates the set */
    ck_assert_int_eq(acme_store_remove(A.st, ACME_GROUP_ORDERS, "a.example", NULL, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_store_remove(A.local, ACME_GROUP_STAGING, "a.example", NULL, pool),
                     APR_SUCCESS);
    acme_fleet_tick(A.fleet, now, pool);
    ck_assert_ptr_null(db_entry("staging", "a.example"));
    /* back: published (without a fence), and only once */
    db.down = 0;
    acme_fleet_tick(A.fleet, now + apr_time_from_sec(60), pool);
    ck_assert_ptr_nonnull(e = db_entry("staging", "a.example"));
    ck_assert_int_eq(e->generation, 1);
    ck_assert(unit_logged(logs, ACME_LOG_NOTICE, "ACME00657", "0abc"));
    acme_fleet_tick(B.fleet, now + apr_time_from_sec(61), pool);
    ck_assert_str_eq(unsealed(&B, ACME_GROUP_STAGING, "a.example"), "KEY-PEM");
    fleet_make(&A, "node-a");
    acme_fleet_tick(A.fleet, now + apr_time_from_sec(62), pool);
    ck_assert_int_eq(db_entry("staging", "a.example")->generation, 1);
}
END_TEST


START_TEST(renewal_info_fetched_by_the_leader_only)
{
    apr_time_t now = apr_time_now();
    acme_fleet_node_row_t *row;
    int i;

    purged = 0;
    acme_fleet_tick(A.fleet, now, pool);
    acme_fleet_tick(B.fleet, now, pool);
    ck_assert_int_eq(acme_fleet_may_fetch_ari(A.fleet, "a.example", pool), 1);
    /* the leader purges old tombstones, once an hour; the others do not */
    ck_assert_int_eq(purged, 1);
    acme_fleet_tick(A.fleet, now + apr_time_from_sec(1), pool);
    acme_fleet_tick(B.fleet, now + apr_time_from_sec(1), pool);
    ck_assert_int_eq(purged, 1);
    ck_assert_int_eq(acme_fleet_may_fetch_ari(B.fleet, "a.example", pool), 0);
    /* what the leader saves is every node's */
    save(A.st, ACME_GROUP_ORDERS, "a.example", "ari.json", "{\"v\":1,\"cert_id\":\"x\"}");
    ck_assert_ptr_nonnull(db_entry("ari", "a.example"));
    acme_fleet_tick(B.fleet, now, pool);
    ck_assert_str_eq(load(B.local, ACME_GROUP_ORDERS, "a.example", "ari.json"),
                     "{\"v\":1,\"cert_id\":\"x\"}");
    /* the leader stops beating: the next node takes over */
    for (i = 0; i < db.nodes->nelts; ++i) {
        row = &APR_ARRAY_IDX(db.nodes, i, acme_fleet_node_row_t);
        if (!strcmp(row->node, "node-a")) {
            row->last_beat = now - apr_time_from_sec(60);
        }
    }
    acme_fleet_tick(B.fleet, now, pool);
    ck_assert_int_eq(acme_fleet_may_fetch_ari(B.fleet, "a.example", pool), 1);
}
END_TEST

/* A node orders only ACME_FLEET_SETTLE after its first heartbeat reached the database (so
 * nodes started together see each other before one asks the CA to validate); never while
 * the database is down. */
START_TEST(orders_only_once_settled)
{
    apr_time_t now = apr_time_now();

    ck_assert_int_eq(acme_fleet_settled(A.fleet, now), 0);          /* no beat yet */
    db.down = 1;
    acme_fleet_tick(A.fleet, now, pool);
    ck_assert_int_eq(acme_fleet_settled(A.fleet, now + ACME_FLEET_SETTLE), 0);
    db.down = 0;
    acme_fleet_tick(A.fleet, now + apr_time_from_sec(10), pool);    /* first beat */
    ck_assert_int_eq(acme_fleet_settled(A.fleet, now + apr_time_from_sec(11)), 0);
    ck_assert_int_eq(acme_fleet_settled(A.fleet, now + apr_time_from_sec(10)
                                                 + ACME_FLEET_SETTLE), 1);
    db.down = 1;                                                     /* down again */
    acme_fleet_tick(A.fleet, now + apr_time_from_sec(30), pool);
    ck_assert_int_eq(acme_fleet_settled(A.fleet, now + apr_time_from_sec(31)), 0);
}
END_TEST

/* A sealed account key as acmectl writes it into the node's local store (not the wrapping
 * store: acmectl has no database). */
static void local_account_key(node_t *n, const char *name, const char *key)
{
    char *sealed;
    apr_size_t slen;

    ck_assert_int_eq(acme_seal(&sealed, &slen, pool, n->secret, key, strlen(key)), APR_SUCCESS);
    ck_assert_int_eq(acme_store_save(n->local, ACME_GROUP_ACCOUNTS, name, "key.sealed", sealed,
                                     slen, pool), APR_SUCCESS);
}

START_TEST(account_changed_by_acmectl_reaches_every_node)
{
    apr_int64_t fence;
    const char *holder;
    apr_time_t expires;
    acme_fleet_lease_row_t *l;

    /* A makes the fleet's account, B pulls it */
    ck_assert_int_eq(acme_fleet_may_order(A.fleet, "a.example", names_of("a.example"), pool), 1);
    local_account_key(&A, "ca-test", "OLD-KEY");
    save(A.st, ACME_GROUP_ACCOUNTS, "ca-test", "account.json", "{\"url\":\"u\"}");
    acme_fleet_done(A.fleet, "a.example", pool);
    acme_fleet_tick(B.fleet, apr_time_now(), pool);
    ck_assert_str_eq(unsealed(&B, ACME_GROUP_ACCOUNTS, "ca-test"), "OLD-KEY");

    /* acmectl account rollover on A: the new key in A's local store and a request */
    local_account_key(&A, "ca-test", "NEW-KEY");
    ck_assert_int_eq(acme_fleet_account_request(A.local, "ca-test", pool), APR_SUCCESS);
    /* while another node holds the account lease, A waits and keeps the request */
    ck_assert_int_eq(f_lease_take(&db, ACME_FLEET_ACCOUNT_LEASE, "node-x",
                                  apr_time_from_sec(60), &fence, &holder, &expires, pool),
                     APR_SUCCESS);
    acme_fleet_tick(A.fleet, apr_time_now(), pool);
    ck_assert(unit_logged(logs, ACME_LOG_INFO, "ACME00720", "node-x"));
    ck_assert_ptr_nonnull(load(A.local, ACME_GROUP_ACCOUNTS, "ca-test",
                               ACME_FLEET_ACCOUNT_REQUEST));
    /* nor does its pull bring the database's old key back over the new one */
    ck_assert_str_eq(unsealed(&A, ACME_GROUP_ACCOUNTS, "ca-test"), "NEW-KEY");
    ck_assert_ptr_nonnull(l = lease_find(ACME_FLEET_ACCOUNT_LEASE));
    l->expires = 0;
    acme_fleet_tick(A.fleet, apr_time_now(), pool);
    ck_assert(unit_logged(logs, ACME_LOG_NOTICE, "ACME00721", "ca-test"));
    ck_assert_ptr_null(load(A.local, ACME_GROUP_ACCOUNTS, "ca-test",
                            ACME_FLEET_ACCOUNT_REQUEST));
    ck_assert_int_eq(lease_find(ACME_FLEET_ACCOUNT_LEASE)->expires, 0); /* given back */
    acme_fleet_tick(B.fleet, apr_time_now(), pool);
    ck_assert_str_eq(unsealed(&B, ACME_GROUP_ACCOUNTS, "ca-test"), "NEW-KEY");

    /* a later change by B (a rollover there) reaches A, which published the one before */
    local_account_key(&B, "ca-test", "THIRD-KEY");
    ck_assert_int_eq(acme_fleet_account_request(B.local, "ca-test", pool), APR_SUCCESS);
    acme_fleet_tick(B.fleet, apr_time_now(), pool);
    acme_fleet_tick(A.fleet, apr_time_now(), pool);
    ck_assert_str_eq(unsealed(&A, ACME_GROUP_ACCOUNTS, "ca-test"), "THIRD-KEY");

    /* acmectl account deactivate on A: every node learns it, one node makes the new account */
    save(A.local, ACME_GROUP_ACCOUNTS, "ca-test", "account.json",
         "{\"url\":\"u\",\"status\":\"deactivated\"}");
    ck_assert_int_eq(acme_fleet_account_request(A.local, "ca-test", pool), APR_SUCCESS);
    acme_fleet_tick(A.fleet, apr_time_now(), pool);
    acme_fleet_tick(B.fleet, apr_time_now(), pool);
    ck_assert_ptr_nonnull(strstr(load(B.local, ACME_GROUP_ACCOUNTS, "ca-test", "account.json"),
                                 "deactivated"));
    ck_assert_int_eq(acme_fleet_may_order(B.fleet, "b.example", names_of("b.example"), pool), 1);
    ck_assert_int_eq(acme_fleet_may_order(A.fleet, "a.example", names_of("a.example"), pool), 0);
    save(B.st, ACME_GROUP_ACCOUNTS, "ca-test", "account.json", "{\"url\":\"u2\"}");
    acme_fleet_done(B.fleet, "b.example", pool);
    ck_assert_int_eq(acme_fleet_may_order(A.fleet, "a.example", names_of("a.example"), pool), 1);
    ck_assert_str_eq(load(A.local, ACME_GROUP_ACCOUNTS, "ca-test", "account.json"),
                     "{\"url\":\"u2\"}");
}
END_TEST

START_TEST(failure_backoff_shared_by_the_fleet)
{
    acme_cert_status_t st0, *got;
    fake_entry_t *e;
    int i;

    save(A.st, ACME_GROUP_ACCOUNTS, "ca-test", "account.json", "{}");
    acme_fleet_tick(B.fleet, apr_time_now(), pool);
    /* A's attempt fails: its failure record goes to the database under the lease */
    ck_assert_int_eq(acme_fleet_may_order(A.fleet, "a.example", names_of("a.example"), pool), 1);
    memset(&st0, 0, sizeof(st0));
    st0.failures = 2;
    st0.last_failure = apr_time_now();
    st0.next_attempt = apr_time_now() + apr_time_from_sec(600);
    st0.err_detail = "refused";
    ck_assert_int_eq(acme_status_save(A.st, "a.example", &st0, pool), APR_SUCCESS);
    ck_assert_ptr_nonnull(e = db_entry("orders", "a.example"));
    acme_fleet_done(A.fleet, "a.example", pool);
    /* B, due by its own plan, gets the lease but not the order: the back-off holds */
    ck_assert_int_eq(acme_fleet_may_order(B.fleet, "a.example", names_of("a.example"), pool), 0);
    ck_assert(unit_logged(logs, ACME_LOG_INFO, "ACME00722", "a.example"));
    ck_assert_int_eq(lease_find("a.example")->expires, 0);   /* given back */
    ck_assert_int_eq(acme_status_load(&got, pool, B.local, "a.example"), APR_SUCCESS);
    ck_assert_int_eq(got->failures, 2);
    ck_assert(SEC_OF(got->next_attempt) == SEC_OF(st0.next_attempt));
    /* a record whose next attempt has come (the database's copy aged): B orders, with the
     * record in its store (its runner continues the ladder from it) */
    st0.next_attempt = apr_time_now() - apr_time_from_sec(1);
    ck_assert_int_eq(acme_status_save(A.local, "a.example", &st0, pool), APR_SUCCESS);
    for (i = 0; i < e->blobs->nelts; ++i) {
        acme_store_blob_t *b = &APR_ARRAY_IDX(e->blobs, i, acme_store_blob_t);
        if (!strcmp(b->aspect, "status.json")) {
            b->data = load(A.local, ACME_GROUP_ORDERS, "a.example", "status.json");
            b->len = strlen(b->data);
        }
    }
    /* A, without the lease, publishes nothing over it */
    st0.next_attempt = apr_time_now() + apr_time_from_sec(600);
    ck_assert_int_eq(acme_status_save(A.st, "a.example", &st0, pool), APR_SUCCESS);
    ck_assert_int_eq(acme_fleet_may_order(B.fleet, "a.example", names_of("a.example"), pool), 1);
    ck_assert_int_eq(acme_status_load(&got, pool, B.local, "a.example"), APR_SUCCESS);
    ck_assert_int_eq(got->failures, 2);
    ck_assert(got->next_attempt < apr_time_now());
    /* B's success removes the record: the database forgets it */
    ck_assert_int_eq(acme_store_remove(B.st, ACME_GROUP_ORDERS, "a.example", NULL, pool),
                     APR_SUCCESS);
    ck_assert_ptr_null(db_entry("orders", "a.example"));
    acme_fleet_done(B.fleet, "a.example", pool);
}
END_TEST

Suite *fleet_suite(void)
{
    Suite *s = suite_create("fleet");
    TCase *tc = tcase_create("fleet");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, store_arg_forms);
    tcase_add_test(tc, fleet_key_forms);
    tcase_add_test(tc, node_default_name);
    tcase_add_test(tc, one_node_orders_the_other_pulls);
    tcase_add_test(tc, lease_held_elsewhere_then_taken_over);
    tcase_add_test(tc, challenges_reach_every_node_before_validation);
    tcase_add_test(tc, snapshot_and_database_down);
    tcase_add_test(tc, staged_while_down_published_when_back);
    tcase_add_test(tc, renewal_info_fetched_by_the_leader_only);
    tcase_add_test(tc, orders_only_once_settled);
    tcase_add_test(tc, account_changed_by_acmectl_reaches_every_node);
    tcase_add_test(tc, failure_backoff_shared_by_the_fleet);
    suite_add_tcase(s, tc);
    return s;
}
