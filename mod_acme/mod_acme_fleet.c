/* mod_acme: fleet mode's wiring. The policy (leases, publish, pull, challenges, beats,
 * snapshot) is acme_fleet.c's; the database is acme_fleet_db.c's. Here: the node name and
 * facts, the database handle behind the fleet layer's operations (opened in the watchdog
 * child, never in the root parent: a connection must not cross fork()), and the sync
 * thread in the watchdog child (challenges every 200 ms, the rest every second). */
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_network_io.h>
#include <apr_thread_proc.h>

#include <httpd.h>
#include <http_config.h>
#include <http_main.h>
#include <http_core.h>
#include <http_log.h>

#include "mod_acme_log.h"
#include "mod_acme_fleet.h"
#include "mod_acme_challenge.h"

APLOG_USE_MODULE(acme);
#include "acme_fleet.h"
#include "acme_fleet_db.h"
#include "acme_util.h"
#include "acme_json.h"

#define OPEN_RETRY apr_time_from_sec(10)

struct mod_acme_fleet_t {
    mod_acme_gen_t *m;
    acme_fleet_t *fleet;
    acme_runner_fleet_t hooks;
    apr_pool_t *pool;              /* pconf: the handle's pool in the child */
    acme_fleet_db_t *db;           /* NULL until the watchdog child opened it */
    apr_time_t next_open;
    int started;
    apr_thread_t *thread;
    volatile int stop;
};

/* ---- the database behind the fleet layer's operations (called under its mutex) ------- */

static acme_fleet_db_t *handle(void *baton)
{
    mod_acme_fleet_t *mf = baton;
    const char *err = NULL;
    apr_status_t rv;

    if (mf->db || !mf->started || apr_time_now() < mf->next_open) {
        return mf->db;
    }
    mf->next_open = apr_time_now() + OPEN_RETRY;
    rv = acme_fleet_db_open(&mf->db, mf->pool, mf->m->fleet_conninfo, mf->m->fleet_password,
                            &err);
    if (rv != APR_SUCCESS && !mf->db) {
        ap_log_error(APLOG_MARK, APLOG_ERR, ACME_LOG_RV(rv), mf->m->s, ACMELOGNO(00653)
                     "fleet database %s cannot be used: %s (tried again in %d s)",
                     acme_fleet_db_conninfo_mask(mf->pool, mf->m->fleet_conninfo),
                     err ? err : "?", (int)apr_time_sec(OPEN_RETRY));
    }
    return mf->db;
}

#define DB_OR_DOWN(b) acme_fleet_db_t *db = handle(b); if (!db) return APR_ECONNREFUSED

static apr_status_t o_lease_take(void *b, const char *name, const char *node,
                                 apr_interval_time_t ttl, apr_int64_t *pfence,
                                 const char **pholder, apr_time_t *pexpires, apr_pool_t *p)
{
    DB_OR_DOWN(b);
    return acme_fleet_db_lease_take(db, name, node, ttl, pfence, pholder, pexpires, p);
}

static apr_status_t o_lease_release(void *b, const char *name, const char *node,
                                    apr_int64_t fence, apr_pool_t *p)
{
    DB_OR_DOWN(b);
    return acme_fleet_db_lease_release(db, name, node, fence, p);
}

static apr_status_t o_leases(void *b, apr_array_header_t **prows, apr_pool_t *p)
{
    DB_OR_DOWN(b);
    return acme_fleet_db_leases(db, prows, p);
}

static apr_status_t o_put(void *b, const char *group, const char *name,
                          const acme_store_blob_t *blobs, int nblobs, const char *lease,
                          apr_int64_t fence, apr_int64_t *pgen, apr_pool_t *p)
{
    DB_OR_DOWN(b);
    return acme_fleet_db_put(db, group, name, blobs, nblobs, lease, fence, pgen, p);
}

static apr_status_t o_get(void *b, const char *group, const char *name, apr_int64_t *pgen,
                          apr_array_header_t **pblobs, apr_pool_t *p)
{
    DB_OR_DOWN(b);
    return acme_fleet_db_get(db, group, name, pgen, pblobs, p);
}

static apr_status_t o_remove(void *b, const char *group, const char *name, const char *lease,
                             apr_int64_t fence, apr_pool_t *p)
{
    DB_OR_DOWN(b);
    return acme_fleet_db_remove(db, group, name, lease, fence, p);
}

static apr_status_t o_changes(void *b, const char *group, apr_int64_t since,
                              apr_array_header_t **prows, apr_int64_t *pmax, apr_pool_t *p)
{
    DB_OR_DOWN(b);
    return acme_fleet_db_changes(db, group, since, prows, pmax, p);
}

static apr_status_t o_node_beat(void *b, const char *node, apr_int64_t seq, const char *info,
                                apr_pool_t *p)
{
    DB_OR_DOWN(b);
    return acme_fleet_db_node_beat(db, node, seq, info, p);
}

static apr_status_t o_nodes(void *b, apr_array_header_t **prows, apr_pool_t *p)
{
    DB_OR_DOWN(b);
    return acme_fleet_db_nodes(db, prows, p);
}

static apr_status_t o_now(void *b, apr_time_t *pnow)
{
    DB_OR_DOWN(b);
    return acme_fleet_db_now(db, pnow);
}

static apr_status_t o_purge_removed(void *b, const char *group, apr_interval_time_t age,
                                    int *pcount, apr_pool_t *p)
{
    DB_OR_DOWN(b);
    return acme_fleet_db_purge_removed(db, group, age, pcount, p);
}

static const acme_fleet_db_ops_t db_ops = {
    o_lease_take, o_lease_release, o_leases, o_put, o_get, o_remove, o_changes,
    o_node_beat, o_nodes, o_now, o_purge_removed
};

/* ---- the runner's hooks ------------------------------------------------------------------ */

static int hook_may_order(void *baton, const char *id, const apr_array_header_t *names,
                          apr_pool_t *p)
{
    return acme_fleet_may_order(((mod_acme_fleet_t *)baton)->fleet, id, names, p);
}

static void hook_done(void *baton, const char *id, apr_pool_t *p)
{
    acme_fleet_done(((mod_acme_fleet_t *)baton)->fleet, id, p);
}

static int hook_may_fetch_ari(void *baton, const char *id, apr_pool_t *p)
{
    return acme_fleet_may_fetch_ari(((mod_acme_fleet_t *)baton)->fleet, id, p);
}

static int hook_may_run(void *baton, apr_time_t now)
{
    return acme_fleet_settled(((mod_acme_fleet_t *)baton)->fleet, now);
}

/* ---- set-up ------------------------------------------------------------------------------- */

/* Fleet mode without a usable fleet key: what is wrong and the fix, or NULL. */
static const char *key_problem(apr_pool_t *p, const char *conninfo, const char *at,
                               const unsigned char *key, const char *key_file)
{
    if (!conninfo || key) {
        return NULL;
    }
    return apr_psprintf(p, "ACMEStore pgsql: (%s) needs ACMEFleetKeyFile%s%s: the key that "
                        "encrypts private keys in the database, the same root-only file on "
                        "every node (make one with 'openssl rand -hex 32')", at ? at : "?",
                        key_file ? ", and this one could not be read: " : "",
                        key_file ? key_file : "");
}

int mod_acme_fleet_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                                server_rec *s)
{
    mod_acme_srv_conf_t *sc = mod_acme_srv_conf(s);
    const char *why = key_problem(ptemp, sc->fleet_conninfo, sc->fleet_at, sc->fleet_key,
                                  sc->fleet_key_file);

    if (!why) {
        return OK;
    }
    if (ap_state_query(AP_SQ_RUN_MODE) == AP_SQ_RM_CONFIG_TEST
        || ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, ACMELOGNO(00654) "%s", why);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* a restart (ours, or graceful without configtest): stopping the server would be worse;
     * it serves its local copy and orders nothing (mod_acme_fleet_setup) */
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, ACMELOGNO(00654) "%s; this node serves its "
                 "local copy and orders nothing until it is fixed", why);
    return OK;
}

/* This node's facts for its row: when this generation started, what it activated then,
 * the serials it serves. */
static const char *node_info(mod_acme_gen_t *m, apr_hash_t *served, apr_hash_t *names,
                             apr_pool_t *p)
{
    json_t *j = acme_json_pool(p, json_object()), *act = json_array(), *srv = json_object();
    int i;

    for (i = 0; i < m->certs->nelts; ++i) {
        mod_acme_managed_t *mc = APR_ARRAY_IDX(m->certs, i, mod_acme_managed_t *);
        if (!mc->used_by_tls) {
            continue;
        }
        apr_hash_set(served, mc->id, APR_HASH_KEY_STRING, mc->live_serial ? mc->live_serial : "");
        apr_hash_set(names, mc->id, APR_HASH_KEY_STRING,
                     acme_names_join(p, acme_names_normalize(p, mc->names), " "));
        if (mc->live_serial) {
            json_object_set_new(srv, mc->id, json_string(mc->live_serial));
        }
        if (mc->activated) {
            json_array_append_new(act, json_string(mc->id));
        }
    }
    json_object_set_new(j, "started", json_string(acme_time_rfc3339(p, apr_time_now())));
    json_object_set_new(j, "activated", act);
    json_object_set_new(j, "served", srv);
    return acme_json_dump(p, j);
}

apr_status_t mod_acme_fleet_setup(mod_acme_gen_t *m, apr_pool_t *p)
{
    mod_acme_fleet_t *mf;
    acme_fleet_conf_t conf;
    char host[APRMAXHOSTLEN + 1];
    apr_status_t rv;

    if (!m->fleet_conninfo) {
        return APR_SUCCESS;
    }
    if (!m->fleet_key) {
        return APR_EINVAL; /* logged by mod_acme_fleet_check_config: no ACME work */
    }
    mf = apr_pcalloc(p, sizeof(*mf));
    mf->m = m;
    mf->pool = p;
    if (!m->fleet_node) {
        if (apr_gethostname(host, sizeof(host), p) != APR_SUCCESS) {
            strcpy(host, "node");
        }
        m->fleet_node = acme_fleet_node_default(p, host, ap_server_root);
    }
    memset(&conf, 0, sizeof(conf));
    conf.ops = &db_ops;
    conf.db = mf;
    conf.node = m->fleet_node;
    conf.fleet_key = m->fleet_key;
    conf.secret = m->secret;
    conf.store = m->store;
    conf.served = apr_hash_make(p);
    conf.names = apr_hash_make(p);
    conf.info_json = node_info(m, conf.served, conf.names, p);
    if (m->http01_pending) {
        conf.http01_count = mod_acme_http01_count;
        conf.http01_count_baton = m->http01_pending;
    }
    if ((rv = acme_fleet_create(&mf->fleet, p, &conf)) != APR_SUCCESS) {
        return rv;
    }
    mf->hooks.may_order = hook_may_order;
    mf->hooks.done = hook_done;
    mf->hooks.may_fetch_ari = hook_may_fetch_ari;
    mf->hooks.may_run = hook_may_run;
    mf->hooks.baton = mf;
    m->fleet = mf;
    return APR_SUCCESS;
}

acme_store_t *mod_acme_fleet_store(mod_acme_fleet_t *mf)
{
    return acme_fleet_store(mf->fleet);
}

const acme_runner_fleet_t *mod_acme_fleet_hooks(mod_acme_fleet_t *mf)
{
    return &mf->hooks;
}

/* ---- the sync thread in the watchdog child ----------------------------------------------- */

static void *APR_THREAD_FUNC sync_thread(apr_thread_t *t, void *baton)
{
    mod_acme_fleet_t *mf = baton;
    apr_time_t next_tick = 0;
    apr_pool_t *p;

    if (apr_pool_create_unmanaged_ex(&p, NULL, NULL) != APR_SUCCESS) {
        apr_thread_exit(t, APR_ENOMEM);
        return NULL;
    }
    while (!mf->stop) {
        apr_time_t now = apr_time_now();
        if (now >= next_tick) {
            acme_fleet_tick(mf->fleet, now, p);
            next_tick = now + ACME_FLEET_TICK;
        }
        acme_fleet_challenges_tick(mf->fleet, p);
        apr_pool_clear(p);
        apr_sleep(ACME_FLEET_CHALLENGE_TICK);
    }
    apr_pool_destroy(p);
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

void mod_acme_fleet_child_start(mod_acme_fleet_t *mf)
{
    apr_status_t rv;

    if (!mf || mf->started) {
        return;
    }
    mf->started = 1;
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, mf->m->s, ACMELOGNO(00655)
                 "fleet mode: node %s, database %s", mf->m->fleet_node,
                 acme_fleet_db_conninfo_mask(mf->pool, mf->m->fleet_conninfo));
    (void)handle(mf);
    mf->stop = 0;
    if ((rv = apr_thread_create(&mf->thread, NULL, sync_thread, mf, mf->pool)) != APR_SUCCESS) {
        mf->thread = NULL;
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, mf->m->s, ACMELOGNO(00656)
                     "fleet mode: the sync thread cannot start: node %s neither pulls nor "
                     "beats", mf->m->fleet_node);
    }
}

void mod_acme_fleet_child_stop(mod_acme_fleet_t *mf)
{
    apr_status_t trv;

    if (mf && mf->thread) {
        mf->stop = 1;
        apr_thread_join(&trv, mf->thread);
        mf->thread = NULL;
    }
}
