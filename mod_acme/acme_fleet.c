/* Fleet mode: leases, publish, pull, challenge sync, node beats and the local snapshot
 * (see acme_fleet.h). One mutex guards the database calls (one connection) and the state;
 * it is never held while waiting for the other nodes. */
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include "acme_fleet.h"
#include "acme_crypto.h"
#include "acme_eab.h"
#include "acme_json.h"
#include "acme_log.h"
#include "acme_state.h"
#include "acme_util.h"

#define ASPECT_KEY   "key.sealed"
#define ASPECT_CHAIN "chain.pem"
#define ASPECT_META  "meta.json"
#define ASPECT_ORDER "order.json"
#define ASPECT_ACCOUNT "account.json"
#define ASPECT_ARI   "ari.json"
#define ARI_GROUP    "ari"            /* database group of the renewal windows */

struct acme_fleet_t {
    acme_fleet_conf_t conf;
    apr_pool_t *pool;
    apr_thread_mutex_t *mutex;
    acme_store_t wrap;             /* acme_fleet_store: the local store, publishing */
    apr_hash_t *fences;            /* lease name -> apr_int64_t * (leases this node holds) */
    apr_hash_t *pulled;            /* challenge name -> "h" (http-01) or "t": pulled here */
    apr_hash_t *own;               /* "group/name" -> the generation this node wrote (that
                                    * one is not pulled back; a newer one is) */
    const char *account_for;       /* the certificate whose order holds the account lease */
    apr_int64_t staging_since, accounts_since, challenges_since;
    int reachable;
    int pending_check;             /* look for sets waiting in orders/_fleet/pending.* */
    int leader;                    /* the first live node by name: fetches renewalInfo,
                                    * purges the challenges' tombstones */
    apr_time_t next_purge;
    apr_int64_t ari_since;
    const char *why;               /* the last failure, for the log and the snapshot */
    apr_time_t down_since, next_try;
    apr_time_t joined;             /* the first heartbeat that reached the database */
    apr_interval_time_t backoff;
};

/* ---- configuration helpers ------------------------------------------------------------ */

int acme_fleet_store_arg(const char **pconninfo, const char **plocal, const char **pwhy,
                         apr_pool_t *p, const char *raw)
{
    const char *s = raw, *end, *rest;
    int quoted_all = 0;

    *pconninfo = *plocal = *pwhy = NULL;
    while (apr_isspace(*s)) {
        ++s;
    }
    if (*s == '"' && !strncmp(s + 1, "pgsql:", 6)) {
        quoted_all = 1;
        s += 7;
    }
    else if (!strncmp(s, "pgsql:", 6)) {
        s += 6;
    }
    else {
        return 0;
    }
    if (!quoted_all && *s == '"') {
        quoted_all = 1;
        ++s;
    }
    if (quoted_all) {
        if (!(end = strchr(s, '"'))) {
            *pwhy = "the quote before the connection string is not closed";
            return -1;
        }
        rest = end + 1;
    }
    else {
        for (end = s; *end && !apr_isspace(*end); ++end) {
        }
        rest = end;
    }
    *pconninfo = apr_pstrmemdup(p, s, (apr_size_t)(end - s));
    if (!**pconninfo || strspn(*pconninfo, " \t") == strlen(*pconninfo)) {
        *pwhy = "the connection string is empty";
        return -1;
    }
    while (apr_isspace(*rest)) {
        ++rest;
    }
    if (*rest) {
        const char *w = rest;
        while (*w && !apr_isspace(*w)) {
            ++w;
        }
        *plocal = apr_pstrmemdup(p, rest, (apr_size_t)(w - rest));
        while (apr_isspace(*w)) {
            ++w;
        }
        if (*w) {
            *pwhy = "more than one local directory after the connection string";
            return -1;
        }
    }
    return 1;
}

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

apr_status_t acme_fleet_key_parse(unsigned char out[ACME_FLEET_KEY_LEN], const char **pwhy,
                                  apr_pool_t *p, const char *text, apr_size_t len)
{
    const char *s = text, *e = text + len;
    char *b64;
    unsigned char *dec = NULL;
    apr_size_t n = 0, i;

    *pwhy = NULL;
    if (len == ACME_FLEET_KEY_LEN) { /* raw bytes (text of exactly 32 bytes is taken raw) */
        memcpy(out, text, ACME_FLEET_KEY_LEN);
        return APR_SUCCESS;
    }
    while (s < e && apr_isspace(*s)) {
        ++s;
    }
    while (e > s && apr_isspace(e[-1])) {
        --e;
    }
    if (e - s == 2 * ACME_FLEET_KEY_LEN) {
        for (i = 0; i < ACME_FLEET_KEY_LEN; ++i) {
            int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
            if (hi < 0 || lo < 0) {
                break;
            }
            out[i] = (unsigned char)(hi * 16 + lo);
        }
        if (i == ACME_FLEET_KEY_LEN) {
            return APR_SUCCESS;
        }
    }
    /* base64 (standard or URL alphabet, padding allowed) */
    b64 = apr_pstrmemdup(p, s, (apr_size_t)(e - s));
    for (i = 0; b64[i]; ++i) {
        b64[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
    }
    if (acme_b64url_decode(&dec, &n, p, b64) == APR_SUCCESS && n == ACME_FLEET_KEY_LEN) {
        memcpy(out, dec, ACME_FLEET_KEY_LEN);
        memset(dec, 0, n);
        memset(b64, 0, strlen(b64));
        return APR_SUCCESS;
    }
    memset(b64, 0, strlen(b64));
    if (dec) {
        memset(dec, 0, n);
    }
    *pwhy = apr_psprintf(p, "holds %" APR_SIZE_T_FMT " bytes that are neither 32 raw bytes, "
                         "64 hex digits nor base64 of 32 bytes", len);
    return APR_EINVAL;
}

apr_status_t acme_fleet_key_load(unsigned char out[ACME_FLEET_KEY_LEN], const char **pwhy,
                                 apr_pool_t *p, const char *path)
{
    char *text;
    apr_size_t len = 0;
    const char *why;
    apr_status_t rv;

    *pwhy = NULL;
    if ((rv = acme_eab_secret_file_read(&text, &len, pwhy, p, path, "the fleet key")) != APR_SUCCESS) {
        return rv;
    }
    rv = acme_fleet_key_parse(out, &why, p, text, len);
    memset(text, 0, len);
    if (rv != APR_SUCCESS) {
        *pwhy = apr_psprintf(p, "'%s' %s: make it with e.g. 'openssl rand -hex 32 > %s' and "
                             "copy the same file to every node", path, why, path);
    }
    return rv;
}

apr_status_t acme_fleet_password_load(const char **ppw, const char **pwhy, apr_pool_t *p,
                                      const char *path)
{
    char *text;
    apr_size_t len = 0;
    apr_status_t rv;

    *ppw = *pwhy = NULL;
    if ((rv = acme_eab_secret_file_read(&text, &len, pwhy, p, path, "the database password"))
        != APR_SUCCESS) {
        return rv;
    }
    text[strcspn(text, "\r\n")] = '\0';
    if (!*text) {
        *pwhy = apr_psprintf(p, "'%s' is empty: put the database password on its first line",
                             path);
        return APR_EINVAL;
    }
    *ppw = text;
    return APR_SUCCESS;
}

const char *acme_fleet_node_default(apr_pool_t *p, const char *host, const char *server_root)
{
    unsigned char md[32];

    if (acme_sha256(md, server_root ? server_root : "", server_root ? strlen(server_root) : 0)
        != APR_SUCCESS) {
        memset(md, 0, sizeof(md));
    }
    return apr_pstrcat(p, host && *host ? host : "node", "-", acme_hex(p, md, 4), NULL);
}

/* ---- database calls and reachability ---------------------------------------------------- */

/* Whether rv says the database could not be used; logs the start and end of an episode. */
static int db_failed(acme_fleet_t *f, apr_status_t rv, const char *what)
{
    int failed = rv != APR_SUCCESS && !APR_STATUS_IS_EAGAIN(rv) && !APR_STATUS_IS_EBUSY(rv)
                 && !APR_STATUS_IS_ENOENT(rv);
    char ebuf[128];

    if (failed && f->reachable) {
        f->reachable = 0;
        f->down_since = apr_time_now();
        f->why = apr_psprintf(f->pool, "%s: %s", what, apr_strerror(rv, ebuf, sizeof(ebuf)));
        acme_log(ACME_LOG_ERR, rv, ACMELOGNO(00640) "fleet database unreachable (%s): node %s "
                 "serves what its local store holds and orders nothing until it is back",
                 what, f->conf.node);
    }
    else if (!failed && !f->reachable) {
        f->reachable = 1;
        f->backoff = 0;
        f->next_try = 0;
        acme_log(ACME_LOG_NOTICE, 0, ACMELOGNO(00641) "fleet database reachable again "
                 "(node %s, after %.0f s)", f->conf.node,
                 (double)(apr_time_now() - f->down_since) / APR_USEC_PER_SEC);
    }
    return failed;
}

/* Blobs whose content is sealed are re-sealed from one secret to another (the node's
 * secret <-> the fleet key); others are copied by reference. */
static apr_status_t reseal(acme_store_blob_t *out, const acme_store_blob_t *in,
                           const unsigned char *from, const unsigned char *to, apr_pool_t *p)
{
    char *plain, *sealed;
    apr_size_t plen, slen;
    apr_status_t rv;

    *out = *in;
    if (!acme_is_sealed(in->data, in->len)) {
        return APR_SUCCESS;
    }
    if ((rv = acme_unseal(&plain, &plen, p, from, in->data, in->len)) != APR_SUCCESS) {
        return rv;
    }
    rv = acme_seal(&sealed, &slen, p, to, plain, plen);
    memset(plain, 0, plen);
    if (rv == APR_SUCCESS) {
        out->data = sealed;
        out->len = slen;
    }
    return rv;
}

static const char *own_key(apr_pool_t *p, acme_group_t g, const char *name)
{
    return apr_pstrcat(p, acme_group_name(g), "/", name, NULL);
}

static apr_int64_t fence_of(acme_fleet_t *f, const char *name)
{
    apr_int64_t *v = apr_hash_get(f->fences, name, APR_HASH_KEY_STRING);
    return v ? *v : 0;
}

static void fence_set(acme_fleet_t *f, const char *name, apr_int64_t fence)
{
    apr_int64_t *v = apr_hash_get(f->fences, name, APR_HASH_KEY_STRING);

    if (!fence) {
        apr_hash_set(f->fences, name, APR_HASH_KEY_STRING, NULL);
        return;
    }
    if (!v) {
        v = apr_palloc(f->pool, sizeof(*v));
        apr_hash_set(f->fences, apr_pstrdup(f->pool, name), APR_HASH_KEY_STRING, v);
    }
    *v = fence;
}

/* ---- publish (through the wrapping store) --------------------------------------------- */

/* The local aspects (prefix + aspect) of (g, name) that exist, sealed keys re-sealed
 * under the fleet key, named without the prefix. */
static apr_status_t gather(acme_store_blob_t **pblobs, int *pn, acme_fleet_t *f, acme_group_t g,
                           const char *name, const char *prefix, const char *const *aspects,
                           int naspects, apr_pool_t *p)
{
    acme_store_blob_t *blobs = apr_pcalloc(p, sizeof(*blobs) * (apr_size_t)naspects);
    apr_status_t rv = APR_SUCCESS;
    int i, n = 0;

    for (i = 0; i < naspects && rv == APR_SUCCESS; ++i) {
        acme_store_blob_t b;
        char *data;
        rv = acme_store_load(f->conf.store, g, name, apr_pstrcat(p, prefix, aspects[i], NULL),
                             &data, &b.len, p);
        if (APR_STATUS_IS_ENOENT(rv)) {
            rv = APR_SUCCESS;
            continue;
        }
        if (rv == APR_SUCCESS) {
            b.aspect = aspects[i];
            b.data = data;
            rv = reseal(&blobs[n++], &b, f->conf.secret, f->conf.fleet_key, p);
        }
    }
    if (rv != APR_SUCCESS) {
        acme_log(ACME_LOG_ERR, rv, ACMELOGNO(00642) "fleet: %s/%s could not be prepared for "
                 "the database", acme_group_name(g), name);
    }
    *pblobs = blobs;
    *pn = n;
    return rv;
}

static const char *const STAGED_ASPECTS[] = { ASPECT_KEY, ASPECT_CHAIN, ASPECT_META };
/* orders/_fleet/pending.<id>.<aspect>: a set to publish (not in orders/<id>/, which the
 * driver removes once the set is staged) */
#define PENDING_PREFIX(p, id) apr_pstrcat((p), "pending.", (id), ".", NULL)

/* A staged set the database did not take because it was unreachable: a copy waits in
 * orders/<id>/ (the staged one goes live and its key becomes root-only) until it is back. */
static void pending_keep(acme_fleet_t *f, const char *id, apr_pool_t *p)
{
    int i;

    for (i = 0; i < 3; ++i) {
        char *data;
        apr_size_t len;
        if (acme_store_load(f->conf.store, ACME_GROUP_STAGING, id, STAGED_ASPECTS[i], &data,
                            &len, p) != APR_SUCCESS
            || acme_store_save(f->conf.store, ACME_GROUP_ORDERS, ACME_FLEET_SNAPSHOT_ENTRY,
                               apr_pstrcat(p, PENDING_PREFIX(p, id), STAGED_ASPECTS[i], NULL),
                               data, len, p)
               != APR_SUCCESS) {
            return;
        }
    }
    f->pending_check = 1;
}

/* Put the entry (g, name) with these of its local aspects that exist (none: remove it).
 * Called with the mutex held. */
static apr_status_t publish(acme_fleet_t *f, acme_group_t g, const char *name,
                            const char *const *aspects, int naspects, const char *lease,
                            apr_int64_t fence, apr_pool_t *p)
{
    acme_store_blob_t *blobs;
    apr_int64_t gen = 0;
    int n;
    apr_status_t rv;

    if ((rv = gather(&blobs, &n, f, g, name, "", aspects, naspects, p)) != APR_SUCCESS) {
        return rv;
    }
    rv = n ? f->conf.ops->put(f->conf.db, acme_group_name(g), name, blobs, n, lease, fence,
                              &gen, p)
           : f->conf.ops->remove(f->conf.db, acme_group_name(g), name, lease, fence, p);
    if (APR_STATUS_IS_EBUSY(rv)) {
        acme_log(ACME_LOG_WARNING, rv, ACMELOGNO(00643) "fleet: %s/%s not published: the "
                 "lease of %s passed to another node (fencing token %" APR_INT64_T_FMT
                 " is stale)", acme_group_name(g), name, lease, fence);
    }
    else if (db_failed(f, rv, "publish")) {
        acme_log(ACME_LOG_WARNING, rv, ACMELOGNO(00644) "fleet: %s/%s not published (the "
                 "database is unreachable)%s", acme_group_name(g), name,
                 g == ACME_GROUP_STAGING ? ": it is published when the database is back" : "");
        if (g == ACME_GROUP_STAGING) {
            pending_keep(f, name, p);
        }
    }
    else if (rv == APR_SUCCESS) {
        apr_hash_set(f->own, own_key(f->pool, g, name), APR_HASH_KEY_STRING,
                     apr_psprintf(f->pool, "%" APR_INT64_T_FMT, gen));
        acme_log(ACME_LOG_DEBUG, 0, "fleet: %s/%s published (generation %" APR_INT64_T_FMT
                 ")", acme_group_name(g), name, gen);
    }
    return rv;
}

/* the order state and the failure record (status.json: the back-off is fleet-wide) */
static const char *const ORDER_ASPECTS[] = { ASPECT_KEY, ASPECT_ORDER, ACME_STATE_STATUS };
static const char *const ACCOUNT_ASPECTS[] = { ASPECT_ACCOUNT, ASPECT_KEY };
static const char *const ARI_ASPECTS[] = { ASPECT_ARI };
static const char *const HTTP01_ASPECTS[] = { ACME_HTTP01_HOST, ACME_HTTP01_ASPECT };
static const char *const TLSALPN01_ASPECTS[] = { ACME_TLSALPN01_KEY, ACME_TLSALPN01_CERT };
#define NASPECTS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int is_order_aspect(const char *aspect)
{
    return !aspect || !strcmp(aspect, ASPECT_KEY) || !strcmp(aspect, ASPECT_ORDER)
           || !strcmp(aspect, ACME_STATE_STATUS);
}

/* The highest challenge sequence every other live node has pulled reaches seq, or
 * challenge_wait passed (then the CA is asked anyway: a node that missed it answers 404
 * and the CA's other vantage points may still succeed). */
static void wait_for_nodes(acme_fleet_t *f, const char *name, apr_int64_t seq, apr_pool_t *p)
{
    apr_interval_time_t wait = f->conf.challenge_wait ? f->conf.challenge_wait
                                                      : ACME_FLEET_CHALLENGE_WAIT;
    apr_interval_time_t live = ACME_FLEET_LIVE_TICKS * (f->conf.tick ? f->conf.tick
                                                        : ACME_FLEET_TICK);
    apr_time_t until = apr_time_now() + wait;
    const char *behind = NULL;

    do {
        apr_array_header_t *rows = NULL;
        apr_time_t now = 0;
        apr_status_t rv;
        int i;

        behind = NULL;
        apr_thread_mutex_lock(f->mutex);
        rv = f->conf.ops->now(f->conf.db, &now);
        if (rv == APR_SUCCESS) {
            rv = f->conf.ops->nodes(f->conf.db, &rows, p);
        }
        (void)db_failed(f, rv, "nodes");
        apr_thread_mutex_unlock(f->mutex);
        if (rv != APR_SUCCESS) {
            return;
        }
        for (i = 0; i < rows->nelts; ++i) {
            const acme_fleet_node_row_t *n = &APR_ARRAY_IDX(rows, i, acme_fleet_node_row_t);
            if (strcmp(n->node, f->conf.node) && n->last_beat + live >= now
                && n->challenge_seq < seq) {
                behind = behind ? apr_pstrcat(p, behind, ", ", n->node, NULL) : n->node;
            }
        }
        if (!behind) {
            return;
        }
        apr_sleep(apr_time_from_msec(50));
    } while (apr_time_now() < until);
    acme_log(ACME_LOG_WARNING, 0, ACMELOGNO(00645) "fleet: challenge %s: node(s) %s did not "
             "pull it within %.0f s; asking the CA to validate anyway", name, behind,
             (double)wait / APR_USEC_PER_SEC);
}

/* A challenge the other nodes cannot get (the database is unreachable) fails its save: the
 * driver then does not ask the CA to validate (their answers would be 404s, and failed
 * validations count against the CA's limits). */
static apr_status_t publish_challenge(acme_fleet_t *f, const char *name,
                                      const char *const *aspects, apr_pool_t *p)
{
    apr_array_header_t *rows;
    apr_int64_t seq = 0;
    apr_status_t rv;

    apr_thread_mutex_lock(f->mutex);
    rv = publish(f, ACME_GROUP_CHALLENGES, name, aspects, 2, NULL, 0, p);
    if (rv == APR_SUCCESS) {
        /* the sequence number of this put: the group's high-water mark now */
        rv = f->conf.ops->changes(f->conf.db, acme_group_name(ACME_GROUP_CHALLENGES),
                                  f->challenges_since, &rows, &seq, p);
        (void)db_failed(f, rv, "changes");
    }
    apr_thread_mutex_unlock(f->mutex);
    if (rv == APR_SUCCESS && seq > 0) {
        wait_for_nodes(f, name, seq, p);
    }
    return rv == APR_SUCCESS ? APR_SUCCESS : APR_ECONNREFUSED;
}

/* The renewal window the leader fetched: for every node (database group "ari"). */
static void publish_ari(acme_fleet_t *f, const char *id, apr_pool_t *p)
{
    acme_store_blob_t *blobs;
    apr_int64_t gen;
    int n;

    apr_thread_mutex_lock(f->mutex);
    if (gather(&blobs, &n, f, ACME_GROUP_ORDERS, id, "", ARI_ASPECTS, 1, p) == APR_SUCCESS
        && n == 1) {
        (void)db_failed(f, f->conf.ops->put(f->conf.db, ARI_GROUP, id, blobs, n, NULL, 0, &gen,
                                            p), "publish");
    }
    apr_thread_mutex_unlock(f->mutex);
}

/* What the holder of the lease `name` writes: published under its fencing token (nothing
 * without the lease: another node's result is not overwritten). */
static void publish_fenced(acme_fleet_t *f, acme_group_t g, const char *name,
                           const char *const *aspects, int naspects, apr_pool_t *p)
{
    apr_thread_mutex_lock(f->mutex);
    if (fence_of(f, name)) {
        (void)publish(f, g, name, aspects, naspects, name, fence_of(f, name), p);
    }
    apr_thread_mutex_unlock(f->mutex);
}

static apr_status_t after_save(acme_fleet_t *f, acme_group_t g, const char *name,
                               const char *aspect, apr_pool_t *p)
{
    switch (g) {
    case ACME_GROUP_STAGING:
        if (!strcmp(aspect, ASPECT_META)) { /* written last: the set is complete */
            publish_fenced(f, g, name, STAGED_ASPECTS, NASPECTS(STAGED_ASPECTS), p);
        }
        break;
    case ACME_GROUP_ORDERS:
        if (*name != '_' && is_order_aspect(aspect)) {
            publish_fenced(f, g, name, ORDER_ASPECTS, NASPECTS(ORDER_ASPECTS), p);
        }
        else if (*name != '_' && !strcmp(aspect, ASPECT_ARI)) {
            publish_ari(f, name, p);
        }
        break;
    case ACME_GROUP_ACCOUNTS:
        if (!strcmp(aspect, ASPECT_ACCOUNT) || !strcmp(aspect, ASPECT_KEY)) {
            apr_thread_mutex_lock(f->mutex);
            (void)publish(f, g, name, ACCOUNT_ASPECTS, NASPECTS(ACCOUNT_ASPECTS), NULL, 0, p);
            apr_thread_mutex_unlock(f->mutex);
        }
        break;
    case ACME_GROUP_CHALLENGES: /* the aspect the responder needs last */
        if (!strcmp(aspect, ACME_HTTP01_ASPECT)) {
            return publish_challenge(f, name, HTTP01_ASPECTS, p);
        }
        if (!strcmp(aspect, ACME_TLSALPN01_CERT)) {
            return publish_challenge(f, name, TLSALPN01_ASPECTS, p);
        }
        break;
    default:
        break;
    }
    return APR_SUCCESS;
}

static void after_remove(acme_fleet_t *f, acme_group_t g, const char *name, const char *aspect,
                         apr_pool_t *p)
{
    if (g == ACME_GROUP_CHALLENGES && !aspect) {
        apr_thread_mutex_lock(f->mutex);
        (void)db_failed(f, f->conf.ops->remove(f->conf.db, acme_group_name(g), name, NULL, 0,
                                               p), "remove");
        apr_hash_set(f->own, own_key(p, g, name), APR_HASH_KEY_STRING, NULL);
        apr_thread_mutex_unlock(f->mutex);
    }
    else if (g == ACME_GROUP_ORDERS && *name != '_' && is_order_aspect(aspect)) {
        publish_fenced(f, g, name, ORDER_ASPECTS, NASPECTS(ORDER_ASPECTS), p);
    }
}

static acme_fleet_t *wrapped(acme_store_t *st)
{
    return st->baton;
}

static apr_status_t w_load(acme_store_t *st, acme_group_t g, const char *name,
                           const char *aspect, char **pdata, apr_size_t *plen, apr_pool_t *p)
{
    acme_store_t *in = wrapped(st)->conf.store;
    return in->load(in, g, name, aspect, pdata, plen, p);
}

static apr_status_t w_save(acme_store_t *st, acme_group_t g, const char *name,
                           const char *aspect, const void *data, apr_size_t len, apr_pool_t *p)
{
    acme_store_t *in = wrapped(st)->conf.store;
    apr_status_t rv = in->save(in, g, name, aspect, data, len, p);

    if (rv == APR_SUCCESS) {
        rv = after_save(wrapped(st), g, name, aspect, p);
    }
    return rv;
}

static apr_status_t w_copy(acme_store_t *st, acme_group_t from, acme_group_t to,
                           const char *name, const char *aspect, apr_pool_t *p)
{
    acme_store_t *in = wrapped(st)->conf.store;
    apr_status_t rv = acme_store_copy(in, from, to, name, aspect, p);

    if (rv == APR_SUCCESS) {
        rv = after_save(wrapped(st), to, name, aspect, p);
    }
    return rv;
}

static apr_status_t w_remove(acme_store_t *st, acme_group_t g, const char *name,
                             const char *aspect, apr_pool_t *p)
{
    acme_store_t *in = wrapped(st)->conf.store;
    apr_status_t rv = in->remove(in, g, name, aspect, p);

    if (rv == APR_SUCCESS) {
        after_remove(wrapped(st), g, name, aspect, p);
    }
    return rv;
}

static apr_status_t w_list(acme_store_t *st, acme_group_t g, apr_array_header_t **pnames,
                           apr_pool_t *p)
{
    acme_store_t *in = wrapped(st)->conf.store;
    return in->list(in, g, pnames, p);
}

static apr_status_t w_install_live(acme_store_t *st, const char *name,
                                   const acme_store_blob_t *blobs, int nblobs, apr_pool_t *p)
{
    acme_store_t *in = wrapped(st)->conf.store;
    return in->install_live(in, name, blobs, nblobs, p);
}

static apr_status_t w_archive(acme_store_t *st, acme_group_t g, const char *name, apr_pool_t *p)
{
    acme_store_t *in = wrapped(st)->conf.store;
    return in->archive(in, g, name, p);
}

static apr_status_t w_lock(acme_store_t *st, const char *name, int wait, void **plock,
                           apr_pool_t *p)
{
    acme_store_t *in = wrapped(st)->conf.store;
    return in->lock(in, name, wait, plock, p);
}

static apr_status_t w_unlock(acme_store_t *st, void *lock)
{
    acme_store_t *in = wrapped(st)->conf.store;
    return in->unlock(in, lock);
}

static const char *w_path(acme_store_t *st, acme_group_t g, const char *name,
                          const char *aspect, apr_pool_t *p)
{
    acme_store_t *in = wrapped(st)->conf.store;
    return in->path ? in->path(in, g, name, aspect, p) : NULL;
}

/* An episode of an unreachable database goes on across a restart (the snapshot says so):
 * said once when it began, and once when it ends, whichever generation sees that. */
static void episode_resume(acme_fleet_t *f, apr_pool_t *p)
{
    json_t *j = NULL, *db;
    char *data;
    apr_size_t len;

    if (acme_store_load(f->conf.store, ACME_GROUP_ORDERS, ACME_FLEET_SNAPSHOT_ENTRY,
                        ACME_FLEET_SNAPSHOT, &data, &len, p) == APR_SUCCESS) {
        j = acme_json_parse(p, data, len, NULL);
    }
    if (j && (db = acme_json_obj(j, "database")) != NULL
        && json_is_false(json_object_get(db, "reachable"))) {
        f->reachable = 0;
        f->down_since = acme_time_parse_rfc3339(acme_json_str(db, "since"));
        f->down_since = f->down_since ? f->down_since : apr_time_now();
        f->why = acme_json_str(db, "error") ? apr_pstrdup(p, acme_json_str(db, "error"))
                                             : NULL;
    }
}

apr_status_t acme_fleet_create(acme_fleet_t **pf, apr_pool_t *p, const acme_fleet_conf_t *conf)
{
    acme_fleet_t *f = apr_pcalloc(p, sizeof(*f));
    apr_status_t rv;

    f->conf = *conf;
    f->pool = p;
    f->fences = apr_hash_make(p);
    f->pulled = apr_hash_make(p);
    f->own = apr_hash_make(p);
    f->reachable = 1;
    f->pending_check = 1;
    if (!f->conf.served) {
        f->conf.served = apr_hash_make(p);
    }
    if ((rv = apr_thread_mutex_create(&f->mutex, APR_THREAD_MUTEX_DEFAULT, p)) != APR_SUCCESS) {
        return rv;
    }
    episode_resume(f, p);
    f->wrap.kind = "fleet";
    f->wrap.baton = f;
    f->wrap.load = w_load;
    f->wrap.save = w_save;
    f->wrap.remove = w_remove;
    f->wrap.list = w_list;
    f->wrap.install_live = w_install_live;
    f->wrap.archive = w_archive;
    f->wrap.lock = w_lock;
    f->wrap.unlock = w_unlock;
    f->wrap.path = w_path;
    f->wrap.copy = w_copy;
    *pf = f;
    return APR_SUCCESS;
}

acme_store_t *acme_fleet_store(acme_fleet_t *f)
{
    return &f->wrap;
}

int acme_fleet_settled(acme_fleet_t *f, apr_time_t now)
{
    int r;
    apr_thread_mutex_lock(f->mutex);
    r = f->reachable && f->joined && now - f->joined >= ACME_FLEET_SETTLE;
    apr_thread_mutex_unlock(f->mutex);
    return r;
}

int acme_fleet_reachable(acme_fleet_t *f)
{
    int r;
    apr_thread_mutex_lock(f->mutex);
    r = f->reachable;
    apr_thread_mutex_unlock(f->mutex);
    return r;
}

/* ---- pull ------------------------------------------------------------------------------ */

static const acme_store_blob_t *blob_find(const apr_array_header_t *blobs, const char *aspect)
{
    int i;
    for (i = 0; blobs && i < blobs->nelts; ++i) {
        const acme_store_blob_t *b = &APR_ARRAY_IDX(blobs, i, acme_store_blob_t);
        if (!strcmp(b->aspect, aspect)) {
            return b;
        }
    }
    return NULL;
}

/* Write the aspects (in this order: the last one makes the entry complete for its readers)
 * of a database entry into the local store, sealed keys re-sealed with the node's secret. */
static apr_status_t write_local(acme_fleet_t *f, acme_group_t g, const char *name,
                                const apr_array_header_t *blobs, const char *const *aspects,
                                int naspects, apr_pool_t *p)
{
    acme_store_t *st = f->conf.store;
    apr_status_t rv = APR_SUCCESS;
    int i;

    for (i = 0; i < naspects && rv == APR_SUCCESS; ++i) {
        const acme_store_blob_t *b = blob_find(blobs, aspects[i]);
        acme_store_blob_t local;
        if (!b) {
            continue;
        }
        rv = reseal(&local, b, f->conf.fleet_key, f->conf.secret, p);
        if (rv == APR_SUCCESS) {
            rv = acme_store_save(st, g, name, aspects[i], local.data, local.len, p);
        }
    }
    if (rv != APR_SUCCESS) {
        acme_log(ACME_LOG_ERR, rv, ACMELOGNO(00646) "fleet: %s/%s from the database could not "
                 "be written to the local store%s", acme_group_name(g), name,
                 rv == ACME_ECRYPTO ? " (its key does not unseal with this node's "
                                      "ACMEFleetKeyFile: is it the same file on every node?)"
                                    : "");
    }
    return rv;
}

/* The database's staged set of a configured certificate: its facts, when it has one. */
static apr_status_t db_cert(acme_cert_meta_t **pmeta, apr_array_header_t **pblobs,
                            acme_fleet_t *f, const char *id, apr_pool_t *p)
{
    const acme_store_blob_t *mb;
    apr_int64_t gen;
    apr_status_t rv;

    *pmeta = NULL;
    rv = f->conf.ops->get(f->conf.db, acme_group_name(ACME_GROUP_STAGING), id, &gen, pblobs, p);
    if (db_failed(f, rv, "get") || rv != APR_SUCCESS) {
        return rv;
    }
    if (!(mb = blob_find(*pblobs, ASPECT_META))
        || acme_meta_parse(pmeta, p, mb->data, mb->len) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

/* Whether this node serves the set with this serial. */
static int serves(acme_fleet_t *f, const char *id, const char *serial)
{
    const char *served = apr_hash_get(f->conf.served, id, APR_HASH_KEY_STRING);
    return !serial || !*serial || (served && !strcasecmp(served, serial));
}

/* Whether this node has the database's set (serves it or has it staged already). */
static int have_serial(acme_fleet_t *f, const char *id, const char *serial, apr_pool_t *p)
{
    acme_cert_meta_t *m;

    if (serves(f, id, serial)) {
        return 1;
    }
    return acme_meta_load(&m, p, f->conf.store, ACME_GROUP_STAGING, id) == APR_SUCCESS
           && m->serial && !strcasecmp(m->serial, serial);
}

/* Whether a set's names are those this node configures for id (unknown: yes). */
static int wanted_names(acme_fleet_t *f, const char *id, const acme_cert_meta_t *m,
                        apr_pool_t *p)
{
    const char *want = f->conf.names ? apr_hash_get(f->conf.names, id, APR_HASH_KEY_STRING)
                                     : NULL;
    return !want || (m->names && !strcmp(want, acme_names_join(p, acme_names_normalize(
                                                                   p, m->names), " ")));
}

/* Copy the database's set of id into staging/<id>/ unless this node has it, or it is for
 * other names than this node's configuration says (activation would refuse it, and the
 * next pull bring it again). 1: pulled. */
static int pull_cert(acme_fleet_t *f, const char *id, apr_pool_t *p)
{
    acme_cert_meta_t *meta;
    apr_array_header_t *blobs;

    if (!apr_hash_get(f->conf.served, id, APR_HASH_KEY_STRING)
        || db_cert(&meta, &blobs, f, id, p) != APR_SUCCESS
        || have_serial(f, id, meta->serial, p) || !wanted_names(f, id, meta, p)) {
        return 0;
    }
    /* a stale set there must not meet the new key: the entry goes first, meta.json last */
    (void)acme_store_remove(f->conf.store, ACME_GROUP_STAGING, id, NULL, p);
    if (write_local(f, ACME_GROUP_STAGING, id, blobs, STAGED_ASPECTS, NASPECTS(STAGED_ASPECTS),
                    p) != APR_SUCCESS) {
        (void)acme_store_remove(f->conf.store, ACME_GROUP_STAGING, id, NULL, p);
        return 0;
    }
    acme_log(ACME_LOG_NOTICE, 0, ACMELOGNO(00647) "certificate %s: serial %s from the fleet "
             "database staged on node %s: it goes live at this node's next graceful restart",
             id, meta->serial, f->conf.node);
    return 1;
}

/* Whether the change is the generation this node wrote itself (a later one, another node's
 * account rollover for instance, is pulled). */
static int own_generation(acme_fleet_t *f, acme_group_t g, const acme_fleet_change_row_t *c,
                          apr_pool_t *p)
{
    const char *gen = apr_hash_get(f->own, own_key(p, g, c->name), APR_HASH_KEY_STRING);
    return gen && apr_atoi64(gen) >= c->generation;
}

static void pull_group(acme_fleet_t *f, acme_group_t g, apr_int64_t *psince, apr_pool_t *p)
{
    apr_array_header_t *rows, *blobs;
    apr_int64_t max = *psince, gen;
    apr_status_t rv;
    int i;

    rv = f->conf.ops->changes(f->conf.db, acme_group_name(g), *psince, &rows, &max, p);
    if (db_failed(f, rv, "changes") || rv != APR_SUCCESS) {
        return;
    }
    for (i = 0; i < rows->nelts; ++i) {
        const acme_fleet_change_row_t *c = &APR_ARRAY_IDX(rows, i, acme_fleet_change_row_t);
        if (c->removed) {
            continue;
        }
        if (g == ACME_GROUP_STAGING) {
            (void)pull_cert(f, c->name, p);
        }
        else if (g == ACME_GROUP_ACCOUNTS && !own_generation(f, g, c, p)) {
            rv = f->conf.ops->get(f->conf.db, acme_group_name(g), c->name, &gen, &blobs, p);
            if (rv == APR_SUCCESS
                && write_local(f, g, c->name, blobs, ACCOUNT_ASPECTS,
                               NASPECTS(ACCOUNT_ASPECTS), p) == APR_SUCCESS) {
                acme_log(ACME_LOG_INFO, 0, ACMELOGNO(00648) "fleet: account %s pulled from "
                         "the database", c->name);
            }
        }
    }
    *psince = max;
}

/* The renewal windows the leader published: into orders/<id>/ari.json, where the runner
 * adopts them (acme_runner_ari_fetch). */
static void pull_ari(acme_fleet_t *f, apr_pool_t *p)
{
    apr_array_header_t *rows, *blobs;
    apr_int64_t max = f->ari_since, gen;
    int i;

    if (db_failed(f, f->conf.ops->changes(f->conf.db, ARI_GROUP, f->ari_since, &rows, &max, p),
                  "changes") || !f->reachable) {
        return;
    }
    for (i = 0; i < rows->nelts; ++i) {
        const acme_fleet_change_row_t *c = &APR_ARRAY_IDX(rows, i, acme_fleet_change_row_t);
        if (c->removed || !apr_hash_get(f->conf.served, c->name, APR_HASH_KEY_STRING)
            || f->conf.ops->get(f->conf.db, ARI_GROUP, c->name, &gen, &blobs, p)
               != APR_SUCCESS) {
            continue;
        }
        (void)write_local(f, ACME_GROUP_ORDERS, c->name, blobs, ARI_ASPECTS, 1, p);
    }
    f->ari_since = max;
}

/* The leader is the live node first by name (the database decides who is live). */
static int is_leader(acme_fleet_t *f, const apr_array_header_t *nodes, apr_time_t dbnow)
{
    apr_interval_time_t live = ACME_FLEET_LIVE_TICKS * (f->conf.tick ? f->conf.tick
                                                        : ACME_FLEET_TICK);
    int i;

    for (i = 0; i < nodes->nelts; ++i) {
        const acme_fleet_node_row_t *n = &APR_ARRAY_IDX(nodes, i, acme_fleet_node_row_t);
        if (n->last_beat + live >= dbnow && strcmp(n->node, f->conf.node) < 0) {
            return 0;
        }
    }
    return 1;
}

int acme_fleet_may_fetch_ari(acme_fleet_t *f, const char *id, apr_pool_t *p)
{
    int r;
    apr_thread_mutex_lock(f->mutex);
    r = f->reachable && f->leader;
    apr_thread_mutex_unlock(f->mutex);
    return r;
}

/* Whether the database has any account (made by some node). */
static int db_has_account(acme_fleet_t *f, apr_pool_t *p)
{
    apr_array_header_t *rows;
    apr_int64_t max;
    int i;

    if (f->conf.ops->changes(f->conf.db, acme_group_name(ACME_GROUP_ACCOUNTS), 0, &rows, &max,
                             p) != APR_SUCCESS) {
        return 0;
    }
    for (i = 0; i < rows->nelts; ++i) {
        if (!APR_ARRAY_IDX(rows, i, acme_fleet_change_row_t).removed) {
            return 1;
        }
    }
    return 0;
}

/* Whether a local account is deactivated (acmectl account deactivate on some node, pulled):
 * its replacement is made by one node, under the account lease, as the first account is. */
static int local_deactivated(acme_fleet_t *f, apr_pool_t *p)
{
    apr_array_header_t *names;
    int i;

    if (f->conf.store->list(f->conf.store, ACME_GROUP_ACCOUNTS, &names, p) != APR_SUCCESS) {
        return 0;
    }
    for (i = 0; i < names->nelts; ++i) {
        char *text;
        apr_size_t len;
        json_t *j;
        const char *status;
        if (acme_store_load(f->conf.store, ACME_GROUP_ACCOUNTS, APR_ARRAY_IDX(names, i,
                            const char *), ASPECT_ACCOUNT, &text, &len, p) == APR_SUCCESS
            && (j = acme_json_parse(p, text, len, NULL)) != NULL
            && (status = acme_json_str(j, "status")) != NULL && !strcmp(status, "deactivated")) {
            return 1;
        }
    }
    return 0;
}

apr_status_t acme_fleet_account_request(acme_store_t *st, const char *name, apr_pool_t *p)
{
    return acme_store_save(st, ACME_GROUP_ACCOUNTS, name, ACME_FLEET_ACCOUNT_REQUEST, "1\n", 2,
                           p);
}

/* The accounts acmectl changed on this node (ACME_FLEET_ACCOUNT_REQUEST): published under
 * the account lease, so that no node makes or publishes an account meanwhile; the request
 * stays until the database took the account. Called with the mutex held. */
static void publish_requested(acme_fleet_t *f, apr_pool_t *p)
{
    apr_array_header_t *names;
    int i;

    if (f->conf.store->list(f->conf.store, ACME_GROUP_ACCOUNTS, &names, p) != APR_SUCCESS) {
        return;
    }
    for (i = 0; i < names->nelts && f->reachable; ++i) {
        const char *name = APR_ARRAY_IDX(names, i, const char *), *holder = NULL;
        apr_int64_t fence = fence_of(f, ACME_FLEET_ACCOUNT_LEASE);
        apr_time_t expires = 0;
        char *data;
        apr_size_t len;
        int took = 0;
        apr_status_t rv;

        if (acme_store_load(f->conf.store, ACME_GROUP_ACCOUNTS, name,
                            ACME_FLEET_ACCOUNT_REQUEST, &data, &len, p) != APR_SUCCESS) {
            continue;
        }
        if (!fence) {
            rv = f->conf.ops->lease_take(f->conf.db, ACME_FLEET_ACCOUNT_LEASE, f->conf.node,
                                         f->conf.lease_ttl ? f->conf.lease_ttl
                                                           : ACME_FLEET_LEASE_TTL,
                                         &fence, &holder, &expires, p);
            if (db_failed(f, rv, "lease") || rv != APR_SUCCESS) {
                acme_log(ACME_LOG_INFO, rv, ACMELOGNO(00720) "fleet: account %s waits to be "
                         "published: node %s holds the account lease", name,
                         holder ? holder : "?");
                return;
            }
            took = 1;
        }
        rv = publish(f, ACME_GROUP_ACCOUNTS, name, ACCOUNT_ASPECTS, NASPECTS(ACCOUNT_ASPECTS),
                     ACME_FLEET_ACCOUNT_LEASE, fence, p);
        if (rv == APR_SUCCESS) {
            (void)acme_store_remove(f->conf.store, ACME_GROUP_ACCOUNTS, name,
                                    ACME_FLEET_ACCOUNT_REQUEST, p);
            acme_log(ACME_LOG_NOTICE, 0, ACMELOGNO(00721) "fleet: account %s as acmectl left "
                     "it on this node published: every node uses it from its next pull", name);
        }
        if (took) {
            (void)f->conf.ops->lease_release(f->conf.db, ACME_FLEET_ACCOUNT_LEASE, f->conf.node,
                                             fence, p);
        }
    }
}

/* The account: pulled from the database; when it has none yet, only the node holding the
 * account lease may make it (the others wait: one account fleet-wide). */
static int account_ready(acme_fleet_t *f, const char *id, apr_pool_t *p)
{
    apr_int64_t fence = 0;
    const char *holder = NULL;
    apr_time_t expires = 0;
    apr_status_t rv;

    pull_group(f, ACME_GROUP_ACCOUNTS, &f->accounts_since, p);
    if (!f->reachable) {
        return 0;
    }
    if ((db_has_account(f, p) && !local_deactivated(f, p))
        || fence_of(f, ACME_FLEET_ACCOUNT_LEASE)) {
        return 1;
    }
    rv = f->conf.ops->lease_take(f->conf.db, ACME_FLEET_ACCOUNT_LEASE, f->conf.node,
                                 f->conf.lease_ttl ? f->conf.lease_ttl : ACME_FLEET_LEASE_TTL,
                                 &fence, &holder, &expires, p);
    if (db_failed(f, rv, "lease") || rv != APR_SUCCESS) {
        acme_log(ACME_LOG_DEBUG, rv, "fleet: certificate %s waits: node %s is making the "
                 "fleet's account", id, holder ? holder : "?");
        return 0;
    }
    fence_set(f, ACME_FLEET_ACCOUNT_LEASE, fence);
    f->account_for = apr_pstrdup(f->pool, id);
    return 1;
}

/* A new fencing token: the order state the previous holder published replaces this node's. */
static void pull_order(acme_fleet_t *f, const char *id, apr_pool_t *p)
{
    apr_array_header_t *blobs;
    apr_int64_t gen;
    apr_status_t rv;

    rv = f->conf.ops->get(f->conf.db, acme_group_name(ACME_GROUP_ORDERS), id, &gen, &blobs, p);
    if (db_failed(f, rv, "get") || rv != APR_SUCCESS || !blob_find(blobs, ASPECT_ORDER)) {
        return;
    }
    if (write_local(f, ACME_GROUP_ORDERS, id, blobs, ORDER_ASPECTS, NASPECTS(ORDER_ASPECTS), p)
        == APR_SUCCESS) {
        acme_log(ACME_LOG_NOTICE, 0, ACMELOGNO(00649) "certificate %s: node %s took the lease "
                 "over and resumes the order state another node left in the database", id,
                 f->conf.node);
    }
}

/* The failure record the last holder published (a failed attempt and its back-off): into
 * the local store (the status page shows it, the runner continues its ladder). 1 when its
 * next attempt is still to come: then no node orders before it, as one server would not. */
static int fleet_backoff(acme_fleet_t *f, const char *id, apr_pool_t *p)
{
    static const char *const aspects[] = { ACME_STATE_STATUS };
    apr_array_header_t *blobs;
    acme_cert_status_t *s;
    apr_int64_t gen;
    apr_status_t rv;

    rv = f->conf.ops->get(f->conf.db, acme_group_name(ACME_GROUP_ORDERS), id, &gen, &blobs, p);
    if (db_failed(f, rv, "get") || rv != APR_SUCCESS || !blob_find(blobs, ACME_STATE_STATUS)
        || write_local(f, ACME_GROUP_ORDERS, id, blobs, aspects, 1, p) != APR_SUCCESS
        || acme_status_load(&s, p, f->conf.store, id) != APR_SUCCESS
        || s->next_attempt <= apr_time_now()) {
        return 0;
    }
    acme_log(ACME_LOG_INFO, 0, ACMELOGNO(00722) "certificate %s: %d failed attempt(s) in the "
             "fleet, the last at %s: no node orders it before %s (back-off shared by the fleet)",
             id, s->failures, acme_time_rfc3339(p, s->last_failure),
             acme_time_rfc3339(p, s->next_attempt));
    return 1;
}

static int names_match(const acme_cert_meta_t *m, const apr_array_header_t *names,
                       apr_pool_t *p)
{
    return m->names && names
           && acme_names_equal(acme_names_normalize(p, m->names),
                               acme_names_normalize(p, names));
}

int acme_fleet_may_order(acme_fleet_t *f, const char *id, const apr_array_header_t *names,
                         apr_pool_t *p)
{
    apr_int64_t fence = 0, had;
    const char *holder = NULL;
    apr_time_t expires = 0;
    acme_cert_meta_t *meta;
    apr_array_header_t *blobs;
    apr_status_t rv;
    int ok = 0;

    apr_thread_mutex_lock(f->mutex);
    if (!f->reachable || !account_ready(f, id, p)) {
        goto leave;
    }
    had = fence_of(f, id);
    rv = f->conf.ops->lease_take(f->conf.db, id, f->conf.node,
                                 f->conf.lease_ttl ? f->conf.lease_ttl : ACME_FLEET_LEASE_TTL,
                                 &fence, &holder, &expires, p);
    if (APR_STATUS_IS_EAGAIN(rv)) {
        acme_log(ACME_LOG_INFO, 0, ACMELOGNO(00650) "certificate %s: node %s holds its lease "
                 "(until %s): this node waits for its result", id, holder ? holder : "?",
                 acme_time_rfc3339(p, expires));
        goto leave;
    }
    if (db_failed(f, rv, "lease") || rv != APR_SUCCESS) {
        goto leave;
    }
    fence_set(f, id, fence);
    if (db_cert(&meta, &blobs, f, id, p) == APR_SUCCESS && names_match(meta, names, p)
        && !serves(f, id, meta->serial) && meta->not_after > apr_time_now()) {
        /* another node obtained it meanwhile: this node takes that one (staged here
         * already, or now) */
        (void)pull_cert(f, id, p);
        (void)f->conf.ops->lease_release(f->conf.db, id, f->conf.node, fence, p);
        fence_set(f, id, 0);
        acme_log(ACME_LOG_INFO, 0, ACMELOGNO(00651) "certificate %s: the fleet database has a "
                 "newer one (serial %s): pulled, not ordered", id, meta->serial);
        goto leave;
    }
    if (fence != had && fleet_backoff(f, id, p)) {
        (void)f->conf.ops->lease_release(f->conf.db, id, f->conf.node, fence, p);
        fence_set(f, id, 0);
        goto leave;
    }
    if (fence != had) {
        pull_order(f, id, p);
    }
    ok = 1;
leave:
    apr_thread_mutex_unlock(f->mutex);
    return ok;
}

void acme_fleet_done(acme_fleet_t *f, const char *id, apr_pool_t *p)
{
    apr_int64_t fence;

    apr_thread_mutex_lock(f->mutex);
    if ((fence = fence_of(f, id)) != 0) {
        (void)db_failed(f, f->conf.ops->lease_release(f->conf.db, id, f->conf.node, fence, p),
                        "lease");
        fence_set(f, id, 0);
    }
    if (f->account_for && !strcmp(f->account_for, id)
        && (fence = fence_of(f, ACME_FLEET_ACCOUNT_LEASE)) != 0) {
        (void)f->conf.ops->lease_release(f->conf.db, ACME_FLEET_ACCOUNT_LEASE, f->conf.node,
                                         fence, p);
        fence_set(f, ACME_FLEET_ACCOUNT_LEASE, 0);
        f->account_for = NULL;
    }
    apr_thread_mutex_unlock(f->mutex);
}

/* ---- ticks ---------------------------------------------------------------------------- */

/* The sets kept while the database was unreachable (orders/_fleet/pending.*): published now (without a fence: the
 * lease is long gone) unless the database has one valid as long by now. */
static void publish_pending(acme_fleet_t *f, apr_pool_t *p)
{
    apr_hash_index_t *hi;

    f->pending_check = 0;
    for (hi = apr_hash_first(p, f->conf.served); hi && f->reachable; hi = apr_hash_next(hi)) {
        const char *id = apr_hash_this_key(hi);
        acme_cert_meta_t *mine, *theirs = NULL;
        apr_array_header_t *dbb;
        acme_store_blob_t *blobs;
        apr_int64_t gen;
        apr_size_t len;
        char *data;
        int n, i;

        if (acme_store_load(f->conf.store, ACME_GROUP_ORDERS, ACME_FLEET_SNAPSHOT_ENTRY,
                            apr_pstrcat(p, PENDING_PREFIX(p, id), ASPECT_META, NULL), &data,
                            &len, p) != APR_SUCCESS
            || acme_meta_parse(&mine, p, data, len) != APR_SUCCESS) {
            continue;
        }
        (void)db_cert(&theirs, &dbb, f, id, p);
        if (!f->reachable) {
            f->pending_check = 1;
            return;
        }
        if ((!theirs || theirs->not_after < mine->not_after)
            && gather(&blobs, &n, f, ACME_GROUP_ORDERS, ACME_FLEET_SNAPSHOT_ENTRY,
                      PENDING_PREFIX(p, id), STAGED_ASPECTS, 3, p)
               == APR_SUCCESS && n == 3) {
            if (db_failed(f, f->conf.ops->put(f->conf.db, acme_group_name(ACME_GROUP_STAGING),
                                              id, blobs, n, NULL, 0, &gen, p), "publish")) {
                f->pending_check = 1;
                return;
            }
            acme_log(ACME_LOG_NOTICE, 0, ACMELOGNO(00657) "certificate %s: serial %s, obtained "
                     "while the fleet database was unreachable, published now", id,
                     mine->serial);
        }
        for (i = 0; i < 3; ++i) {
            (void)acme_store_remove(f->conf.store, ACME_GROUP_ORDERS, ACME_FLEET_SNAPSHOT_ENTRY,
                                    apr_pstrcat(p, PENDING_PREFIX(p, id), STAGED_ASPECTS[i],
                                                NULL), p);
        }
    }
}

/* Renew the leases held (the same fencing token); a lease lost meanwhile is dropped. */
static void renew_leases(acme_fleet_t *f, apr_pool_t *p)
{
    apr_hash_index_t *hi;

    for (hi = apr_hash_first(p, f->fences); hi; hi = apr_hash_next(hi)) {
        const char *name = apr_hash_this_key(hi);
        apr_int64_t fence = 0, had = *(apr_int64_t *)apr_hash_this_val(hi);
        const char *holder = NULL;
        apr_time_t expires;
        apr_status_t rv = f->conf.ops->lease_take(f->conf.db, name, f->conf.node,
                                                  f->conf.lease_ttl ? f->conf.lease_ttl
                                                  : ACME_FLEET_LEASE_TTL,
                                                  &fence, &holder, &expires, p);
        if (db_failed(f, rv, "lease")) {
            return;
        }
        if (rv != APR_SUCCESS || fence != had) {
            acme_log(ACME_LOG_WARNING, 0, ACMELOGNO(00652) "fleet: node %s lost the lease of "
                     "%s (now %s's): what it still publishes for it is refused", f->conf.node,
                     name, holder ? holder : "another node's");
            fence_set(f, name, rv == APR_SUCCESS ? fence : 0);
        }
    }
}

static json_t *snapshot_nodes(const apr_array_header_t *rows, apr_time_t now,
                              apr_interval_time_t live, apr_pool_t *p)
{
    json_t *arr = json_array();
    int i;

    for (i = 0; rows && i < rows->nelts; ++i) {
        const acme_fleet_node_row_t *n = &APR_ARRAY_IDX(rows, i, acme_fleet_node_row_t);
        json_t *o = json_object(), *info = NULL;
        json_object_set_new(o, "node", json_string(n->node));
        json_object_set_new(o, "last_beat", json_string(acme_time_rfc3339(p, n->last_beat)));
        json_object_set_new(o, "live", json_boolean(n->last_beat + live >= now));
        json_object_set_new(o, "challenge_seq", json_integer((json_int_t)n->challenge_seq));
        if (n->info_json && (info = acme_json_parse(p, n->info_json, strlen(n->info_json),
                                                    NULL)) != NULL) {
            json_object_set(o, "info", info);
        }
        json_array_append_new(arr, o);
    }
    return arr;
}

static json_t *snapshot_leases(const apr_array_header_t *rows, apr_time_t now, apr_pool_t *p)
{
    json_t *arr = json_array();
    int i;

    for (i = 0; rows && i < rows->nelts; ++i) {
        const acme_fleet_lease_row_t *l = &APR_ARRAY_IDX(rows, i, acme_fleet_lease_row_t);
        json_t *o;
        if (l->expires < now) {
            continue; /* expired: nobody holds it */
        }
        o = json_object();
        json_object_set_new(o, "name", json_string(l->name));
        json_object_set_new(o, "owner", json_string(l->owner));
        json_object_set_new(o, "expires", json_string(acme_time_rfc3339(p, l->expires)));
        json_object_set_new(o, "fence", json_integer((json_int_t)l->fence));
        json_array_append_new(arr, o);
    }
    return arr;
}

/* orders/_fleet/fleet.json: what the status page and acmectl show. Without the database
 * the nodes and leases of the last snapshot are kept. */
static void snapshot_write(acme_fleet_t *f, const apr_array_header_t *nodes,
                           const apr_array_header_t *leases, apr_time_t now, apr_pool_t *p)
{
    apr_interval_time_t live = ACME_FLEET_LIVE_TICKS * (f->conf.tick ? f->conf.tick
                                                        : ACME_FLEET_TICK);
    json_t *j = acme_state_new(p), *old = NULL, *db = json_object();
    char *data;
    apr_size_t len;
    const char *text;

    if ((!nodes || !leases)
        && acme_store_load(f->conf.store, ACME_GROUP_ORDERS, ACME_FLEET_SNAPSHOT_ENTRY,
                           ACME_FLEET_SNAPSHOT, &data, &len, p) == APR_SUCCESS) {
        old = acme_json_parse(p, data, len, NULL);
    }
    json_object_set_new(j, "node", json_string(f->conf.node));
    json_object_set_new(j, "updated", json_string(acme_time_rfc3339(p, apr_time_now())));
    json_object_set_new(db, "reachable", json_boolean(f->reachable));
    if (!f->reachable) {
        json_object_set_new(db, "since", json_string(acme_time_rfc3339(p, f->down_since)));
        json_object_set_new(db, "error", json_string(f->why ? f->why : "unknown"));
    }
    json_object_set_new(j, "database", db);
    if (nodes) {
        json_object_set_new(j, "nodes", snapshot_nodes(nodes, now, live, p));
    }
    else if (old && acme_json_arr(old, "nodes")) {
        json_object_set(j, "nodes", acme_json_arr(old, "nodes"));
    }
    if (leases) {
        json_object_set_new(j, "leases", snapshot_leases(leases, now, p));
    }
    else if (old && acme_json_arr(old, "leases")) {
        json_object_set(j, "leases", acme_json_arr(old, "leases"));
    }
    if ((text = acme_json_dump(p, j)) != NULL) {
        (void)acme_store_save(f->conf.store, ACME_GROUP_ORDERS, ACME_FLEET_SNAPSHOT_ENTRY,
                              ACME_FLEET_SNAPSHOT, text, strlen(text), p);
    }
}

void acme_fleet_tick(acme_fleet_t *f, apr_time_t now, apr_pool_t *p)
{
    apr_array_header_t *nodes = NULL, *leases = NULL;
    apr_time_t dbnow = now;
    apr_status_t rv;

    apr_thread_mutex_lock(f->mutex);
    if (!f->reachable && now < f->next_try) {
        goto leave;
    }
    rv = f->conf.ops->node_beat(f->conf.db, f->conf.node, f->challenges_since,
                                f->conf.info_json ? f->conf.info_json : "{}", p);
    if (!db_failed(f, rv, "heartbeat")) {
        if (!f->joined) {
            f->joined = now;
        }
        renew_leases(f, p);
    }
    if (f->reachable && f->pending_check) {
        publish_pending(f, p);
    }
    if (f->reachable) {
        pull_group(f, ACME_GROUP_STAGING, &f->staging_since, p);
    }
    if (f->reachable) {
        publish_requested(f, p);    /* before the pull: the database's is older */
    }
    if (f->reachable) {
        pull_group(f, ACME_GROUP_ACCOUNTS, &f->accounts_since, p);
    }
    if (f->reachable) {
        rv = f->conf.ops->now(f->conf.db, &dbnow);
        if (rv == APR_SUCCESS) {
            rv = f->conf.ops->nodes(f->conf.db, &nodes, p);
        }
        if (rv == APR_SUCCESS) {
            rv = f->conf.ops->leases(f->conf.db, &leases, p);
        }
        if (db_failed(f, rv, "status")) {
            nodes = leases = NULL;
        }
    }
    f->leader = nodes && is_leader(f, nodes, dbnow);
    if (f->reachable) {
        pull_ari(f, p);
    }
    if (f->reachable && f->leader && f->conf.ops->purge_removed && now >= f->next_purge) {
        int n = 0;
        f->next_purge = now + ACME_FLEET_PURGE_EVERY;
        if (!db_failed(f, f->conf.ops->purge_removed(f->conf.db,
                                                     acme_group_name(ACME_GROUP_CHALLENGES),
                                                     ACME_FLEET_PURGE_AGE, &n, p), "purge")
            && n > 0) {
            acme_log(ACME_LOG_DEBUG, 0, "fleet: %d removed challenge(s) forgotten", n);
        }
    }
    if (!f->reachable) {
        /* a bounded back-off: 1 s, 2 s, 4 s ... ACME_FLEET_RETRY_MAX */
        f->backoff = f->backoff ? f->backoff * 2 : apr_time_from_sec(1);
        if (f->backoff > ACME_FLEET_RETRY_MAX) {
            f->backoff = ACME_FLEET_RETRY_MAX;
        }
        f->next_try = now + f->backoff;
        fence_set(f, ACME_FLEET_ACCOUNT_LEASE, 0);
        f->fences = apr_hash_make(f->pool); /* leases cannot be kept without the database */
    }
leave:
    snapshot_write(f, nodes, leases, dbnow, p);
    apr_thread_mutex_unlock(f->mutex);
}

/* Tell the responders about a pulled (+1) or removed (-1) challenge. An http-01 answer is
 * counted under its token (the part of the key authorization before the '.'), so unknown
 * tokens still need no store look-up; a tls-alpn-01 entry is named by a hash of its name,
 * so it is counted without a question (the responders then look in the store while it is
 * pending: slower, never wrong). */
static void count_pulled(acme_fleet_t *f, const char *kind, int delta)
{
    if (f->conf.http01_count) {
        f->conf.http01_count(f->conf.http01_count_baton,
                             *kind == 'h' ? ACME_CHALLENGE_HTTP01 : ACME_CHALLENGE_TLSALPN01,
                             kind[1] == ':' ? kind + 2 : NULL, delta);
    }
}

/* "h:TOKEN" for an http-01 entry (the token from its key authorization), else "h". */
static const char *http01_kind(const acme_store_blob_t *b, apr_pool_t *p)
{
    const char *dot = memchr(b->data, '.', b->len);
    if (!dot || dot == (const char *)b->data) {
        return "h";
    }
    return apr_pstrcat(p, "h:", apr_pstrmemdup(p, b->data, (apr_size_t)(dot - (const char *)b->data)),
                       NULL);
}

/* One challenge the database has: into the local store, counted for the responders. */
static void pull_challenge(acme_fleet_t *f, const acme_fleet_change_row_t *c, apr_pool_t *p)
{
    const char *kind = apr_hash_get(f->pulled, c->name, APR_HASH_KEY_STRING);
    const acme_store_blob_t *b;
    apr_array_header_t *blobs;
    apr_int64_t gen;
    apr_status_t rv;

    if (c->removed) {
        if (kind) {
            (void)acme_store_remove(f->conf.store, ACME_GROUP_CHALLENGES, c->name, NULL, p);
            count_pulled(f, kind, -1);
            apr_hash_set(f->pulled, c->name, APR_HASH_KEY_STRING, NULL);
        }
        return;
    }
    if (kind || apr_hash_get(f->own, own_key(p, ACME_GROUP_CHALLENGES, c->name),
                             APR_HASH_KEY_STRING)) {
        return;
    }
    rv = f->conf.ops->get(f->conf.db, acme_group_name(ACME_GROUP_CHALLENGES), c->name, &gen,
                          &blobs, p);
    if (db_failed(f, rv, "get") || rv != APR_SUCCESS) {
        return;
    }
    /* counted before it exists, as the driver does */
    if ((b = blob_find(blobs, ACME_HTTP01_ASPECT)) != NULL) {
        kind = apr_pstrdup(f->pool, http01_kind(b, p));
        count_pulled(f, kind, 1);
        rv = write_local(f, ACME_GROUP_CHALLENGES, c->name, blobs, HTTP01_ASPECTS, 2, p);
    }
    else {
        kind = "t";
        count_pulled(f, kind, 1);
        rv = write_local(f, ACME_GROUP_CHALLENGES, c->name, blobs, TLSALPN01_ASPECTS, 2, p);
    }
    if (rv != APR_SUCCESS) {
        count_pulled(f, kind, -1);
        return;
    }
    apr_hash_set(f->pulled, apr_pstrdup(f->pool, c->name), APR_HASH_KEY_STRING, kind);
}

void acme_fleet_challenges_tick(acme_fleet_t *f, apr_pool_t *p)
{
    apr_array_header_t *rows;
    apr_int64_t max = 0;
    apr_status_t rv;
    int i;

    apr_thread_mutex_lock(f->mutex);
    if (!f->reachable) {
        goto leave;
    }
    rv = f->conf.ops->changes(f->conf.db, acme_group_name(ACME_GROUP_CHALLENGES),
                              f->challenges_since, &rows, &max, p);
    if (db_failed(f, rv, "changes") || rv != APR_SUCCESS || max <= f->challenges_since) {
        goto leave;
    }
    for (i = 0; i < rows->nelts && f->reachable; ++i) {
        pull_challenge(f, &APR_ARRAY_IDX(rows, i, acme_fleet_change_row_t), p);
    }
    if (f->reachable) {
        f->challenges_since = max;
        /* the holder waits for this number in the node rows: say it at once */
        (void)db_failed(f, f->conf.ops->node_beat(f->conf.db, f->conf.node, max,
                                                  f->conf.info_json ? f->conf.info_json
                                                  : "{}", p), "heartbeat");
    }
leave:
    apr_thread_mutex_unlock(f->mutex);
}
