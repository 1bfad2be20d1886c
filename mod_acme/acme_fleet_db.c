/* Fleet mode's database layer on PostgreSQL through apr_dbd ("pgsql"). See acme_fleet_db.h
 * and docs/fleet-schema.md.
 *
 * Blobs: bytea columns. Writes pass the bytes as a binary parameter (apr_dbd's %pDb, sent
 * by libpq in binary format: no escaping, NUL bytes kept). Reads select encode(data,'hex'):
 * apr_dbd's pgsql driver asks libpq for results in text format only, in which bytea comes
 * back escaped; hex has no line breaks and no escapes, so decoding it is one small loop.
 *
 * Statements are prepared unnamed (apr_dbd_prepare with label NULL: libpq's
 * PQexecParams at every call), so nothing lives in the server session and a new
 * connection needs no preparing again. */
#include <ctype.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>

#include <apr_dbd.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>

#include "acme_fleet_db.h"
#include "acme_log.h"

/* pg_advisory_xact_lock keys of mod_acme (fixed: every node must use the same). */
#define LOCK_SCHEMA  1634558821LL
#define LOCK_SEQ     1634558822LL

#define BACKOFF_MIN  apr_time_from_msec(500)
#define BACKOFF_MAX  apr_time_from_sec(8)
#define MASK         "********"

struct acme_fleet_db_t {
    apr_pool_t *pool;
    apr_thread_mutex_t *mutex;
    const apr_dbd_driver_t *driver;
    const char *conninfo;          /* given to libpq: may hold the password */
    const char *shown;             /* masked */
    const char *password;          /* scrubbed from every message */
    apr_pool_t *cpool;             /* the connection's pool; NULL while not connected */
    apr_dbd_t *handle;
    int schema;
    int reachable;
    apr_time_t next_try;           /* no connect attempt before this */
    apr_interval_time_t backoff;
    char err[512];
    /* the call watcher (a frozen server answers TCP but never the query: libpq would wait
     * for ever, and every thread behind the mutex with it) */
    apr_thread_mutex_t *wmutex;    /* guards the three below, never held during I/O */
    int fd;                        /* the connection's socket while a call runs, else -1 */
    apr_time_t busy_since;         /* when the running call began (0: none) */
    int cut;                       /* the watcher shut the socket down */
    apr_interval_time_t call_max;  /* ACME_FLEET_DB_CALL_MAX unless a test set it */
    apr_thread_t *watcher;
    volatile int stopping;
    int no_socket;                 /* PQsocket not found (said once) */
};

/* ---- the schema ---------------------------------------------------------------------- */

static const char *const schema_v1[] = {
    "CREATE SEQUENCE acme_seq",
    "CREATE SEQUENCE acme_fence_seq",
    "CREATE TABLE acme_lease ("
    " name text PRIMARY KEY,"
    " owner text NOT NULL,"
    " expires timestamptz NOT NULL,"
    " fence bigint NOT NULL)",
    "CREATE TABLE acme_entry ("
    " grp text NOT NULL,"
    " name text NOT NULL,"
    " generation bigint NOT NULL,"
    " seq bigint NOT NULL,"
    " removed boolean NOT NULL DEFAULT false,"
    " updated timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (grp, name))",
    "CREATE INDEX acme_entry_grp_seq ON acme_entry (grp, seq)",
    "CREATE TABLE acme_blob ("
    " grp text NOT NULL,"
    " name text NOT NULL,"
    " aspect text NOT NULL,"
    " data bytea NOT NULL,"
    " PRIMARY KEY (grp, name, aspect),"
    " FOREIGN KEY (grp, name) REFERENCES acme_entry (grp, name) ON DELETE CASCADE)",
    "CREATE TABLE acme_node ("
    " node text PRIMARY KEY,"
    " last_beat timestamptz NOT NULL,"
    " challenge_seq bigint NOT NULL DEFAULT 0,"
    " info text NOT NULL DEFAULT '{}')",
    NULL
};

static const acme_fleet_db_migration_t migrations[] = {
    { 1, schema_v1 },
};

const acme_fleet_db_migration_t *acme_fleet_db_migrations(int *pcount)
{
    *pcount = (int)(sizeof(migrations) / sizeof(migrations[0]));
    return migrations;
}

/* ---- conninfo: masking and building (pure) ------------------------------------------ */

static int is_uri(const char *s)
{
    return !strncmp(s, "postgresql://", 13) || !strncmp(s, "postgres://", 11);
}

static void put(apr_array_header_t *out, const char *s, apr_size_t n)
{
    while (n--) {
        APR_ARRAY_PUSH(out, char) = *s++;
    }
}

static const char *done(apr_array_header_t *out)
{
    APR_ARRAY_PUSH(out, char) = '\0';
    return out->elts;
}

/* Keyword form ("key = value ..." with '...' quoting and backslash escapes, as libpq
 * reads it): a copy with password values masked; the keywords given go into keys. */
static const char *kw_walk(apr_pool_t *p, const char *s, apr_table_t *keys)
{
    apr_array_header_t *out = apr_array_make(p, (int)strlen(s) + 16, 1);
    apr_size_t i = 0, k, v;
    int is_pw;

    while (s[i]) {
        if (isspace((unsigned char)s[i])) {
            put(out, s + i++, 1);
            continue;
        }
        k = i;
        while (s[i] && s[i] != '=' && !isspace((unsigned char)s[i])) {
            ++i;
        }
        put(out, s + k, i - k);
        is_pw = (i - k == 8 && !strncmp(s + k, "password", 8));
        apr_table_setn(keys, apr_pstrmemdup(p, s + k, i - k), "");
        /* blanks, '=', blanks */
        v = i;
        while (isspace((unsigned char)s[i])) {
            ++i;
        }
        if (s[i] == '=') {
            for (++i; isspace((unsigned char)s[i]); ++i) {
            }
        }
        put(out, s + v, i - v);
        v = i;
        if (s[i] == '\'') {
            for (++i; s[i] && s[i] != '\''; ++i) {
                if (s[i] == '\\' && s[i + 1]) {
                    ++i;
                }
            }
            if (s[i] == '\'') {
                ++i;
            }
        }
        else {
            for (; s[i] && !isspace((unsigned char)s[i]); ++i) {
                if (s[i] == '\\' && s[i + 1]) {
                    ++i;
                }
            }
        }
        if (is_pw) {
            put(out, MASK, strlen(MASK));
        }
        else {
            put(out, s + v, i - v);
        }
    }
    return done(out);
}

/* URI form: a copy with user:PASSWORD@ and ?password=VALUE masked; the parameters of its
 * query go into keys. */
static const char *uri_walk(apr_pool_t *p, const char *s, apr_table_t *keys)
{
    apr_array_header_t *out = apr_array_make(p, (int)strlen(s) + 16, 1);
    const char *auth = strstr(s, "://") + 3;
    const char *end = auth + strcspn(auth, "/?");
    const char *at = NULL, *c, *q;

    for (c = auth; c < end; ++c) {
        if (*c == '@') {
            at = c;
        }
    }
    c = at ? memchr(auth, ':', (apr_size_t)(at - auth)) : NULL;
    if (c) {
        put(out, s, (apr_size_t)(c + 1 - s));
        put(out, MASK, strlen(MASK));
        put(out, at, (apr_size_t)(end - at));
    }
    else {
        put(out, s, (apr_size_t)(end - s));
    }
    q = end + strcspn(end, "?");      /* the path, then the query */
    put(out, end, (apr_size_t)(q - end));
    while (*q) {
        apr_size_t n = strcspn(q + 1, "&");
        const char *param = q + 1;
        put(out, q, 1);
        apr_table_setn(keys, apr_pstrmemdup(p, param, strcspn(param, "=&")), "");
        if (!strncmp(param, "password=", 9) && n >= 9) {
            put(out, param, 9);
            put(out, MASK, strlen(MASK));
        }
        else {
            put(out, param, n);
        }
        q = param + n;
    }
    return done(out);
}

static const char *walk(apr_pool_t *p, const char *conninfo, apr_table_t *keys)
{
    return is_uri(conninfo) ? uri_walk(p, conninfo, keys) : kw_walk(p, conninfo, keys);
}

const char *acme_fleet_db_conninfo_mask(apr_pool_t *p, const char *conninfo)
{
    return conninfo ? walk(p, conninfo, apr_table_make(p, 8)) : "";
}

/* What the module adds unless the conninfo sets it: an unreachable server costs at most
 * 5 s per attempt, and a connection whose peer vanished (network partition, no RST) is
 * found dead within about 15 to 25 s instead of the kernel's minutes. */
static const char *const conn_defaults[][2] = {
    { "connect_timeout", "5" },
    { "keepalives_idle", "10" },
    { "keepalives_interval", "5" },
    { "keepalives_count", "3" },
    { "tcp_user_timeout", "15000" },
};

const char *acme_fleet_db_conninfo_build(apr_pool_t *p, const char *conninfo,
                                         const char *password)
{
    int uri = is_uri(conninfo);
    apr_table_t *keys = apr_table_make(p, 8);
    const char *s = conninfo;
    apr_array_header_t *pw;
    const char *c;
    apr_size_t i;

    (void)walk(p, conninfo, keys);
    if (password && *password) {
        pw = apr_array_make(p, (int)strlen(password) * 3 + 1, 1);
        for (c = password; *c; ++c) {
            if (uri && !(apr_isalnum(*c) || strchr("-._~", *c))) {
                char hex[4];
                apr_snprintf(hex, sizeof(hex), "%%%02X", (unsigned char)*c);
                put(pw, hex, 3);
            }
            else {
                if (!uri && (*c == '\\' || *c == '\'')) {
                    put(pw, "\\", 1);
                }
                put(pw, c, 1);
            }
        }
        s = uri ? apr_pstrcat(p, s, strchr(s, '?') ? "&" : "?", "password=", done(pw), NULL)
                : apr_pstrcat(p, s, " password='", done(pw), "'", NULL);
    }
    for (i = 0; i < sizeof(conn_defaults) / sizeof(conn_defaults[0]); ++i) {
        if (!apr_table_get(keys, conn_defaults[i][0])) {
            s = apr_pstrcat(p, s, !uri ? " " : strchr(s, '?') ? "&" : "?", conn_defaults[i][0],
                            "=", conn_defaults[i][1], NULL);
        }
    }
    return s;
}

/* ---- the connection -------------------------------------------------------------------- */

/* msg with every occurrence of the password masked, trailing blanks dropped, into db->err. */
static void set_err(acme_fleet_db_t *db, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_err(acme_fleet_db_t *db, const char *fmt, ...)
{
    char buf[sizeof(db->err)];
    const char *in = buf, *hit;
    apr_size_t n = 0, len;
    va_list ap;

    va_start(ap, fmt);
    apr_vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    len = db->password ? strlen(db->password) : 0;
    while (n + 1 < sizeof(db->err) && *in) {
        if (len && (hit = strstr(in, db->password)) == in) {
            apr_size_t m = strlen(MASK) < sizeof(db->err) - 1 - n ? strlen(MASK)
                                                                   : sizeof(db->err) - 1 - n;
            memcpy(db->err + n, MASK, m);
            n += m;
            in += len;
            continue;
        }
        db->err[n++] = (isspace((unsigned char)*in) ? ' ' : *in);
        ++in;
    }
    while (n > 0 && db->err[n - 1] == ' ') {
        --n;
    }
    db->err[n] = '\0';
}

/* The connection's pool cleanup: closes the connection (libpq's PQfinish). Runs when
 * drop_conn destroys the pool and when the handle's pool goes. */
static apr_status_t conn_cleanup(void *data)
{
    acme_fleet_db_t *db = data;

    if (db->handle) {
        apr_dbd_close(db->driver, db->handle);
        db->handle = NULL;
    }
    db->cpool = NULL;
    return APR_SUCCESS;
}

static void drop_conn(acme_fleet_db_t *db)
{
    if (db->cpool) {
        apr_pool_destroy(db->cpool);   /* conn_cleanup */
    }
}

/* Run sql (apr_dbd format: %s text, %lld bigint, %pDb bytes = data, apr_size_t *len, NULL,
 * NULL) with args; every row as a char *[] (pstrdup'ed: the driver frees its result at the
 * end of the rows; NULL for SQL NULL). prows may be NULL. APR_EGENERAL on any failure. */
static apr_status_t q(acme_fleet_db_t *db, apr_pool_t *p, const char *sql, const void **args,
                      apr_array_header_t **prows)
{
    apr_dbd_prepared_t *stmt = NULL;
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    apr_array_header_t *rows = NULL;
    const void *none[1] = { NULL };
    int rc, ncols, i;

    rc = apr_dbd_prepare(db->driver, p, db->handle, sql, NULL, &stmt);
    if (rc == 0) {
        rc = apr_dbd_pbselect(db->driver, p, db->handle, &res, stmt, 1, args ? args : none);
    }
    if (rc != 0) {
        set_err(db, "%s", apr_dbd_error(db->driver, db->handle, rc));
        return APR_EGENERAL;
    }
    if (prows) {
        ncols = apr_dbd_num_cols(db->driver, res);
        rows = apr_array_make(p, 4, sizeof(char **));
        while (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
            char **r = apr_pcalloc(p, sizeof(char *) * (apr_size_t)(ncols > 0 ? ncols : 1));
            for (i = 0; i < ncols; ++i) {
                char *v = NULL;
                if (apr_dbd_datum_get(db->driver, row, i, APR_DBD_TYPE_STRING, &v) == APR_SUCCESS
                    && v) {
                    r[i] = apr_pstrdup(p, v);
                }
            }
            APR_ARRAY_PUSH(rows, char **) = r;
        }
        *prows = rows;
    }
    return APR_SUCCESS;
}

/* End a transaction: COMMIT when rv is APR_SUCCESS (a failed COMMIT is APR_EGENERAL), else
 * ROLLBACK and rv. */
static apr_status_t txn_end(acme_fleet_db_t *db, apr_pool_t *p, apr_status_t rv)
{
    char keep[sizeof(db->err)];

    if (rv == APR_SUCCESS) {
        return q(db, p, "COMMIT", NULL, NULL);
    }
    memcpy(keep, db->err, sizeof(keep));
    (void)q(db, p, "ROLLBACK", NULL, NULL);
    memcpy(db->err, keep, sizeof(keep));
    return rv;
}

static apr_int64_t num(const char *s)
{
    return s ? apr_atoi64(s) : 0;
}

/* Create or migrate the schema in one transaction under the schema lock. */
static apr_status_t migrate(acme_fleet_db_t *db, apr_pool_t *p)
{
    const apr_int64_t key = LOCK_SCHEMA;
    const void *lock_args[] = { &key };
    apr_array_header_t *rows;
    const char *const *sql;
    int have, i, n;
    apr_status_t rv;

    const acme_fleet_db_migration_t *m = acme_fleet_db_migrations(&n);
    rv = q(db, p, "BEGIN", NULL, NULL);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = q(db, p, "SELECT pg_advisory_xact_lock(%lld::bigint)", lock_args, NULL);
    if (rv == APR_SUCCESS) {
        rv = q(db, p, "CREATE TABLE IF NOT EXISTS acme_schema (version integer NOT NULL)",
               NULL, NULL);
    }
    if (rv == APR_SUCCESS) {
        rv = q(db, p, "SELECT coalesce(max(version), 0) FROM acme_schema", NULL, &rows);
    }
    if (rv != APR_SUCCESS) {
        return txn_end(db, p, rv);
    }
    have = (int)num(rows->nelts ? APR_ARRAY_IDX(rows, 0, char **)[0] : NULL);
    if (have > ACME_FLEET_DB_SCHEMA) {
        set_err(db, "the fleet database (%s) has schema version %d, newer than this module "
                "knows (%d): upgrade mod_acme on this node", db->shown, have,
                ACME_FLEET_DB_SCHEMA);
        db->schema = have;
        return txn_end(db, p, ACME_ESCHEMA);
    }
    for (i = have; i < n && rv == APR_SUCCESS; ++i) {
        for (sql = m[i].sql; *sql && rv == APR_SUCCESS; ++sql) {
            rv = q(db, p, *sql, NULL, NULL);
        }
    }
    if (rv == APR_SUCCESS && have < n) {
        const apr_int64_t v = n;
        const void *args[] = { &v };
        rv = q(db, p, "DELETE FROM acme_schema", NULL, NULL);
        if (rv == APR_SUCCESS) {
            rv = q(db, p, "INSERT INTO acme_schema (version) VALUES (%lld::integer)", args, NULL);
        }
    }
    rv = txn_end(db, p, rv);
    if (rv == APR_SUCCESS) {
        if (have < n) {
            acme_log(ACME_LOG_NOTICE, 0, ACMELOGNO(00620) "fleet database %s: schema %s "
                     "version %d", db->shown, have ? "migrated to" : "created at", n);
        }
        db->schema = n;
    }
    return rv;
}

/* libpq's socket of the connection (PQsocket, found in the process: the apr_dbd driver
 * loaded libpq; no link to it here), -1 when unknown. */
static int conn_socket(acme_fleet_db_t *db)
{
    int (*pq_socket)(const void *) = NULL;
    void *conn = db->handle ? apr_dbd_native_handle(db->driver, db->handle) : NULL;
    void *lib = dlopen("libpq.so.5", RTLD_NOW | RTLD_NOLOAD); /* the driver's, if local */

    *(void **)&pq_socket = dlsym(lib ? lib : RTLD_DEFAULT, "PQsocket");
    if (lib) {
        dlclose(lib);
    }
    if (conn && !pq_socket && !db->no_socket) {
        db->no_socket = 1;
        acme_log(ACME_LOG_WARNING, 0, ACMELOGNO(00724) "fleet database %s: libpq's PQsocket "
                 "not found: a call to a frozen server cannot be cut", db->shown);
    }
    return conn && pq_socket ? pq_socket(conn) : -1;
}

/* The call on the connection begins (fd known) or ends (fd -1). */
static void watch(acme_fleet_db_t *db, int fd)
{
    apr_thread_mutex_lock(db->wmutex);
    db->fd = fd;
    db->busy_since = fd >= 0 ? apr_time_now() : 0;
    if (fd < 0) {
        db->cut = 0;
    }
    apr_thread_mutex_unlock(db->wmutex);
}

/* A call that has run longer than call_max: its socket is shut down, so libpq's wait ends
 * with an error and the caller drops the connection (APR_ECONNREFUSED, reconnect later). */
static void *APR_THREAD_FUNC watcher_main(apr_thread_t *t, void *data)
{
    acme_fleet_db_t *db = data;

    while (!db->stopping) {
        apr_sleep(ACME_FLEET_DB_WATCH_TICK);
        apr_thread_mutex_lock(db->wmutex);
        if (db->fd >= 0 && !db->cut && db->busy_since
            && apr_time_now() - db->busy_since > db->call_max) {
            db->cut = 1;
            (void)shutdown(db->fd, SHUT_RDWR);
            acme_log(ACME_LOG_WARNING, 0, ACMELOGNO(00723) "fleet database %s: a call has "
                     "had no answer for %.0f s (the server or its host is frozen?): "
                     "connection cut, the fleet goes on without the database until it "
                     "answers again", db->shown, (double)db->call_max / APR_USEC_PER_SEC);
        }
        apr_thread_mutex_unlock(db->wmutex);
    }
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

static apr_status_t watcher_stop(void *data)
{
    acme_fleet_db_t *db = data;
    apr_status_t trv;

    if (db->watcher) {
        db->stopping = 1;
        apr_thread_join(&trv, db->watcher);
        db->watcher = NULL;
    }
    return APR_SUCCESS;
}

void acme_fleet_db_set_call_max(acme_fleet_db_t *db, apr_interval_time_t t)
{
    apr_thread_mutex_lock(db->wmutex);
    db->call_max = t > 0 ? t : ACME_FLEET_DB_CALL_MAX;
    apr_thread_mutex_unlock(db->wmutex);
}

/* Connected, or APR_ECONNREFUSED (back-off running or the attempt failed), or
 * ACME_ESCHEMA / APR_EGENERAL from the migration. Called with the mutex held. */
static apr_status_t ensure_conn(acme_fleet_db_t *db)
{
    apr_time_t now = apr_time_now();
    const char *err = NULL;
    apr_pool_t *tp;
    apr_status_t rv;

    if (db->handle) {
        return APR_SUCCESS;
    }
    if (now < db->next_try) {
        return APR_ECONNREFUSED;
    }
    if (!db->watcher) {   /* first connect: in the process that uses the handle */
        db->stopping = 0;
        if (apr_thread_create(&db->watcher, NULL, watcher_main, db, db->pool) == APR_SUCCESS) {
            /* before the thread's own pool (a child of db->pool) goes */
            apr_pool_pre_cleanup_register(db->pool, db, watcher_stop);
        }
        else {
            db->watcher = NULL;
        }
    }
    apr_pool_create(&db->cpool, db->pool);
    apr_pool_cleanup_register(db->cpool, db, conn_cleanup, apr_pool_cleanup_null);
    rv = apr_dbd_open_ex(db->driver, db->cpool, db->conninfo, &db->handle, &err);
    if (rv != APR_SUCCESS || !db->handle) {
        if (err && (strstr(err, "connection info string") || strstr(err, "URI")
                    || strstr(err, "percent-encoded"))) {
            /* libpq quotes the text it could not parse: it may be a password */
            err = "libpq cannot parse the conninfo (check the key=value pairs, the quoting, "
                  "or the URI)";
        }
        set_err(db, "cannot connect to the fleet database (%s): %s", db->shown,
                err ? err : "no reason given");
        db->handle = NULL;   /* closed by apr_dbd_open_ex */
        drop_conn(db);
        rv = APR_ECONNREFUSED;
        goto out;
    }
    apr_pool_create(&tp, db->cpool);
    watch(db, conn_socket(db));
    rv = migrate(db, tp);
    watch(db, -1);
    apr_pool_destroy(tp);
    if (rv != APR_SUCCESS) {
        /* a broken connection or a lasting fault (no right to create tables): either way
         * the database cannot be used now; the message tells which */
        if (rv == APR_EGENERAL) {
            char keep[sizeof(db->err)];
            memcpy(keep, db->err, sizeof(keep));
            set_err(db, "fleet database (%s): creating or checking the schema failed: %s",
                    db->shown, keep);
            rv = APR_ECONNREFUSED;
        }
        drop_conn(db);
    }
out:
    if (rv == APR_SUCCESS) {
        db->backoff = 0;
        db->next_try = 0;
    }
    else {
        db->backoff = db->backoff ? db->backoff * 2 : BACKOFF_MIN;
        if (db->backoff > BACKOFF_MAX) {
            db->backoff = BACKOFF_MAX;
        }
        db->next_try = now + db->backoff;
    }
    return rv;
}

/* Lock the handle and connect when needed. */
static apr_status_t enter(acme_fleet_db_t *db)
{
    apr_status_t rv;

    apr_thread_mutex_lock(db->mutex);
    rv = ensure_conn(db);
    if (rv != APR_SUCCESS) {
        db->reachable = 0;
        apr_thread_mutex_unlock(db->mutex);
    }
    else {
        watch(db, conn_socket(db));
    }
    return rv;
}

/* Unlock; an APR_EGENERAL (SQL failure) is APR_ECONNREFUSED when the connection broke
 * (then dropped: the next call connects again), else stays. */
static apr_status_t leave(acme_fleet_db_t *db, apr_status_t rv)
{
    int cut;

    apr_thread_mutex_lock(db->wmutex);
    cut = db->cut;
    apr_thread_mutex_unlock(db->wmutex);
    watch(db, -1);
    if (cut) {
        set_err(db, "the fleet database (%s) did not answer within %.0f s: connection cut",
                db->shown, (double)db->call_max / APR_USEC_PER_SEC);
        drop_conn(db);
        rv = APR_ECONNREFUSED;
    }
    else if (rv == APR_EGENERAL) {
        char keep[sizeof(db->err)];
        apr_pool_t *tp;

        memcpy(keep, db->err, sizeof(keep));
        apr_pool_create(&tp, db->cpool);
        if (q(db, tp, "SELECT 1", NULL, NULL) != APR_SUCCESS) {
            set_err(db, "lost the connection to the fleet database (%s): %s", db->shown, keep);
            apr_pool_destroy(tp);
            drop_conn(db);
            rv = APR_ECONNREFUSED;
        }
        else {
            apr_pool_destroy(tp);
            memcpy(db->err, keep, sizeof(keep));
        }
    }
    db->reachable = (rv != APR_ECONNREFUSED);
    apr_thread_mutex_unlock(db->mutex);
    return rv;
}

/* One statement outside a transaction: connect when needed, run, classify a failure. */
static apr_status_t run(acme_fleet_db_t *db, apr_pool_t *p, const char *sql, const void **args,
                        apr_array_header_t **prows)
{
    apr_status_t rv = enter(db);

    return rv != APR_SUCCESS ? rv : leave(db, q(db, p, sql, args, prows));
}

apr_status_t acme_fleet_db_create(acme_fleet_db_t **pdb, apr_pool_t *p, const char *conninfo,
                                  const char *password, const char **perr)
{
    acme_fleet_db_t *db = NULL;
    apr_status_t rv;

    *pdb = NULL;
    *perr = NULL;
    if (!conninfo || !*conninfo) {
        *perr = "the fleet database conninfo is empty";
        rv = APR_EINVAL;
        goto out;
    }
    db = apr_pcalloc(p, sizeof(*db));
    /* A pool of our own: connections' pools are made from it under db->mutex only. */
    apr_pool_create(&db->pool, p);
    db->password = (password && *password) ? apr_pstrdup(p, password) : NULL;
    db->conninfo = acme_fleet_db_conninfo_build(p, conninfo, password);
    db->shown = acme_fleet_db_conninfo_mask(p, conninfo);
    db->fd = -1;
    db->call_max = ACME_FLEET_DB_CALL_MAX;
    rv = apr_thread_mutex_create(&db->mutex, APR_THREAD_MUTEX_DEFAULT, db->pool);
    if (rv == APR_SUCCESS) {
        rv = apr_thread_mutex_create(&db->wmutex, APR_THREAD_MUTEX_DEFAULT, db->pool);
    }
    if (rv == APR_SUCCESS) {
        rv = apr_dbd_init(p);
    }
    if (rv == APR_SUCCESS) {
        rv = apr_dbd_get_driver(p, "pgsql", &db->driver);
    }
    if (rv != APR_SUCCESS) {
        *perr = apr_psprintf(p, "cannot load apr_dbd's pgsql driver (%s): install Debian's "
                             "libaprutil1-dbd-pgsql", rv == APR_EDSOOPEN ? "not installed"
                             : "error");
        goto out;
    }
    *pdb = db;
out:
    if (rv != APR_SUCCESS && db) {
        apr_pool_destroy(db->pool);
    }
    return rv;
}

apr_status_t acme_fleet_db_open(acme_fleet_db_t **pdb, apr_pool_t *p, const char *conninfo,
                                const char *password, const char **perr)
{
    acme_fleet_db_t *db;
    apr_status_t rv;

    rv = acme_fleet_db_create(&db, p, conninfo, password, perr);
    if (rv != APR_SUCCESS) {
        goto out;
    }
    rv = enter(db);
    if (rv == APR_SUCCESS) {
        rv = leave(db, rv);
    }
    if (rv != APR_SUCCESS) {
        *perr = apr_pstrdup(p, db->err);
    }
    *pdb = (rv == APR_SUCCESS || rv == APR_ECONNREFUSED) ? db : NULL;
out:
    return rv;
}

int acme_fleet_db_schema_version(acme_fleet_db_t *db)
{
    return db->schema;
}

int acme_fleet_db_reachable(acme_fleet_db_t *db)
{
    return db->reachable;
}

const char *acme_fleet_db_error(acme_fleet_db_t *db, apr_pool_t *p)
{
    const char *e;

    apr_thread_mutex_lock(db->mutex);
    e = db->err[0] ? apr_pstrdup(p, db->err) : NULL;
    apr_thread_mutex_unlock(db->mutex);
    return e;
}

const char *acme_fleet_db_conninfo_shown(acme_fleet_db_t *db)
{
    return db->shown;
}

void acme_fleet_db_close(acme_fleet_db_t *db)
{
    if (db) {
        apr_thread_mutex_lock(db->mutex);
        drop_conn(db);
        apr_thread_mutex_unlock(db->mutex);
    }
}

/* ---- leases ---------------------------------------------------------------------------- */

#define USEC(col) "(extract(epoch from " col ") * 1000000)::bigint"

static int bad_name(const char *s)
{
    return !s || !*s;
}

apr_status_t acme_fleet_db_lease_take(acme_fleet_db_t *db, const char *name, const char *node,
                                      apr_interval_time_t ttl, apr_int64_t *pfence,
                                      const char **pholder, apr_time_t *pexpires,
                                      apr_pool_t *p)
{
    const apr_int64_t usec = ttl;
    const void *args[] = { name, node, &usec };
    const void *who[] = { name };
    apr_array_header_t *rows = NULL;
    char **r;
    apr_status_t rv;
    int tries;

    if (bad_name(name) || bad_name(node) || ttl <= 0) {
        return APR_EINVAL;
    }
    rv = enter(db);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* A release between the two statements leaves no row to report: try once more. */
    for (tries = 0; tries < 2; ++tries) {
        rv = q(db, p,
               "INSERT INTO acme_lease AS l (name, owner, expires, fence)"
               " VALUES (%s, %s, now() + %lld::bigint * interval '1 microsecond',"
               "         nextval('acme_fence_seq'))"
               " ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner,"
               "  expires = EXCLUDED.expires,"
               "  fence = CASE WHEN l.owner = EXCLUDED.owner AND l.expires > now()"
               "          THEN l.fence ELSE EXCLUDED.fence END"
               " WHERE l.owner = EXCLUDED.owner OR l.expires <= now()"
               " RETURNING fence, " USEC("expires") ", owner", args, &rows);
        if (rv != APR_SUCCESS || rows->nelts) {
            break;
        }
        rv = q(db, p, "SELECT fence, " USEC("expires") ", owner FROM acme_lease"
               " WHERE name = %s", who, &rows);
        if (rv != APR_SUCCESS || rows->nelts) {
            rv = (rv == APR_SUCCESS) ? APR_EAGAIN : rv;
            break;
        }
    }
    if (rv == APR_SUCCESS && !rows->nelts) {
        rv = APR_EAGAIN;
    }
    if ((rv == APR_SUCCESS || rv == APR_EAGAIN) && rows->nelts) {
        r = APR_ARRAY_IDX(rows, 0, char **);
        *pfence = num(r[0]);
        if (pexpires) {
            *pexpires = (apr_time_t)num(r[1]);
        }
        if (pholder) {
            *pholder = r[2];
        }
    }
    return leave(db, rv);
}

apr_status_t acme_fleet_db_lease_release(acme_fleet_db_t *db, const char *name,
                                         const char *node, apr_int64_t fence, apr_pool_t *p)
{
    const void *args[] = { name, node, &fence };

    if (bad_name(name) || bad_name(node)) {
        return APR_EINVAL;
    }
    return run(db, p, "DELETE FROM acme_lease WHERE name = %s AND owner = %s"
               " AND fence = %lld::bigint", args, NULL);
}

apr_status_t acme_fleet_db_leases(acme_fleet_db_t *db, apr_array_header_t **prows,
                                  apr_pool_t *p)
{
    apr_array_header_t *rows;
    acme_fleet_lease_t *l;
    apr_status_t rv;
    int i;

    rv = run(db, p, "SELECT name, owner, " USEC("expires") ", fence FROM acme_lease"
             " ORDER BY name", NULL, &rows);
    if (rv == APR_SUCCESS) {
        *prows = apr_array_make(p, rows->nelts, sizeof(acme_fleet_lease_t));
        for (i = 0; i < rows->nelts; ++i) {
            char **r = APR_ARRAY_IDX(rows, i, char **);
            l = apr_array_push(*prows);
            l->name = r[0];
            l->owner = r[1];
            l->expires = (apr_time_t)num(r[2]);
            l->fence = num(r[3]);
        }
    }
    return rv;
}

/* ---- entries --------------------------------------------------------------------------- */

/* Connect, lock the handle, BEGIN; with fence > 0 APR_EBUSY unless fence is lease_name's
 * current fence (its row then stays locked until the transaction ends); then the sequence
 * lock. On success the caller is in the transaction and ends it with txn_end + leave; on
 * failure all is ended and unlocked. */
static apr_status_t begin_write(acme_fleet_db_t *db, const char *lease_name,
                                apr_int64_t fence, apr_pool_t *p)
{
    const apr_int64_t key = LOCK_SEQ;
    const void *largs[] = { lease_name };
    const void *kargs[] = { &key };
    apr_array_header_t *rows;
    apr_status_t rv;

    rv = enter(db);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = q(db, p, "BEGIN", NULL, NULL);
    if (rv == APR_SUCCESS && fence > 0) {
        rv = q(db, p, "SELECT fence FROM acme_lease WHERE name = %s FOR UPDATE", largs, &rows);
        if (rv == APR_SUCCESS
            && (!rows->nelts || num(APR_ARRAY_IDX(rows, 0, char **)[0]) != fence)) {
            set_err(db, "fenced: fence %" APR_INT64_T_FMT " is not the current one of lease %s",
                    fence, lease_name);
            rv = APR_EBUSY;
        }
    }
    if (rv == APR_SUCCESS) {
        rv = q(db, p, "SELECT pg_advisory_xact_lock(%lld::bigint)", kargs, NULL);
    }
    if (rv != APR_SUCCESS) {
        rv = leave(db, txn_end(db, p, rv));
        /* leave() never turns a failure into success */
    }
    return rv;
}

static int bad_entry(const char *group, const char *name, const char *lease_name,
                     apr_int64_t fence)
{
    return bad_name(group) || bad_name(name) || fence < 0 || (fence > 0 && bad_name(lease_name));
}

apr_status_t acme_fleet_db_put(acme_fleet_db_t *db, const char *group, const char *name,
                               const acme_store_blob_t *blobs, int nblobs,
                               const char *lease_name, apr_int64_t fence,
                               apr_int64_t *pgeneration, apr_pool_t *p)
{
    const void *args[] = { group, name };
    apr_array_header_t *rows;
    apr_status_t rv;
    int i;

    if (bad_entry(group, name, lease_name, fence) || nblobs < 0 || (nblobs && !blobs)) {
        return APR_EINVAL;
    }
    for (i = 0; i < nblobs; ++i) {
        if (bad_name(blobs[i].aspect) || (blobs[i].len && !blobs[i].data)) {
            return APR_EINVAL;
        }
    }
    rv = begin_write(db, lease_name, fence, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = q(db, p, "INSERT INTO acme_entry AS e (grp, name, generation, seq, removed, updated)"
           " VALUES (%s, %s, 1, nextval('acme_seq'), false, now())"
           " ON CONFLICT (grp, name) DO UPDATE SET generation = e.generation + 1,"
           "  seq = EXCLUDED.seq, removed = false, updated = now()"
           " RETURNING generation", args, &rows);
    if (rv == APR_SUCCESS) {
        rv = q(db, p, "DELETE FROM acme_blob WHERE grp = %s AND name = %s", args, NULL);
    }
    for (i = 0; i < nblobs && rv == APR_SUCCESS; ++i) {
        apr_size_t len = blobs[i].len;
        const void *bargs[] = { group, name, blobs[i].aspect, len ? blobs[i].data : "",
                                &len, NULL, NULL };
        rv = q(db, p, "INSERT INTO acme_blob (grp, name, aspect, data)"
               " VALUES (%s, %s, %s, %pDb)", bargs, NULL);
    }
    if (rv == APR_SUCCESS && pgeneration) {
        *pgeneration = rows->nelts ? num(APR_ARRAY_IDX(rows, 0, char **)[0]) : 0;
    }
    rv = txn_end(db, p, rv);
    return leave(db, rv);
}

static int unhex(int c)
{
    return (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10
         : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
}

/* hex text -> bytes (NUL-terminated, not counted); APR_EGENERAL on a bad digit. */
static apr_status_t from_hex(const char *hex, char **pdata, apr_size_t *plen, apr_pool_t *p)
{
    apr_size_t n = hex ? strlen(hex) / 2 : 0, i;
    char *out = apr_palloc(p, n + 1);

    for (i = 0; i < n; ++i) {
        int hi = unhex(hex[2 * i]), lo = unhex(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return APR_EGENERAL;
        }
        out[i] = (char)(hi << 4 | lo);
    }
    out[n] = '\0';
    *pdata = out;
    *plen = n;
    return APR_SUCCESS;
}

apr_status_t acme_fleet_db_get(acme_fleet_db_t *db, const char *group, const char *name,
                               apr_int64_t *pgeneration, apr_array_header_t **pblobs,
                               apr_pool_t *p)
{
    const void *args[] = { group, name };
    apr_array_header_t *rows;
    acme_store_blob_t *b;
    apr_status_t rv;
    char **r;
    int i;

    if (bad_name(group) || bad_name(name)) {
        return APR_EINVAL;
    }
    rv = enter(db);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* One statement: one snapshot of the entry and its blobs. */
    rv = q(db, p, "SELECT e.generation, e.removed, b.aspect, encode(b.data, 'hex')"
           " FROM acme_entry e LEFT JOIN acme_blob b ON b.grp = e.grp AND b.name = e.name"
           " WHERE e.grp = %s AND e.name = %s ORDER BY b.aspect", args, &rows);
    if (rv == APR_SUCCESS) {
        r = rows->nelts ? APR_ARRAY_IDX(rows, 0, char **) : NULL;
        rv = (!r || !r[1] || r[1][0] == 't') ? APR_ENOENT : APR_SUCCESS;
    }
    if (rv == APR_SUCCESS) {
        if (pgeneration) {
            *pgeneration = num(r[0]);
        }
        *pblobs = apr_array_make(p, rows->nelts, sizeof(acme_store_blob_t));
        for (i = 0; i < rows->nelts && rv == APR_SUCCESS; ++i) {
            char *data;
            apr_size_t len;
            r = APR_ARRAY_IDX(rows, i, char **);
            if (!r[2]) {
                continue;   /* an entry without blobs */
            }
            rv = from_hex(r[3], &data, &len, p);
            if (rv != APR_SUCCESS) {
                set_err(db, "fleet database: blob %s of %s/%s is not hex", r[2], group, name);
                rv = APR_EINVAL;   /* a data problem, not the connection */
                break;
            }
            b = apr_array_push(*pblobs);
            b->aspect = r[2];
            b->data = data;
            b->len = len;
        }
    }
    return leave(db, rv);
}

apr_status_t acme_fleet_db_remove(acme_fleet_db_t *db, const char *group, const char *name,
                                  const char *lease_name, apr_int64_t fence, apr_pool_t *p)
{
    const void *args[] = { group, name };
    apr_array_header_t *rows;
    apr_status_t rv;

    if (bad_entry(group, name, lease_name, fence)) {
        return APR_EINVAL;
    }
    rv = begin_write(db, lease_name, fence, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = q(db, p, "UPDATE acme_entry SET removed = true, seq = nextval('acme_seq'),"
           " updated = now() WHERE grp = %s AND name = %s AND NOT removed"
           " RETURNING seq", args, &rows);
    if (rv == APR_SUCCESS && rows->nelts) {
        rv = q(db, p, "DELETE FROM acme_blob WHERE grp = %s AND name = %s", args, NULL);
    }
    rv = txn_end(db, p, rv);
    return leave(db, rv);
}

apr_status_t acme_fleet_db_changes(acme_fleet_db_t *db, const char *group, apr_int64_t since,
                                   apr_array_header_t **prows, apr_int64_t *pmax_seq,
                                   apr_pool_t *p)
{
    const void *args[] = { group, &since };
    apr_array_header_t *rows;
    acme_fleet_change_t *c;
    apr_status_t rv;
    int i;

    if (bad_name(group)) {
        return APR_EINVAL;
    }
    rv = run(db, p, "SELECT name, generation, seq, removed FROM acme_entry"
             " WHERE grp = %s AND seq > %lld::bigint ORDER BY seq", args, &rows);
    if (rv == APR_SUCCESS) {
        *prows = apr_array_make(p, rows->nelts, sizeof(acme_fleet_change_t));
        *pmax_seq = since;
        for (i = 0; i < rows->nelts; ++i) {
            char **r = APR_ARRAY_IDX(rows, i, char **);
            c = apr_array_push(*prows);
            c->name = r[0];
            c->generation = num(r[1]);
            c->seq = num(r[2]);
            c->removed = (r[3] && r[3][0] == 't');
            if (c->seq > *pmax_seq) {
                *pmax_seq = c->seq;
            }
        }
    }
    return rv;
}

apr_status_t acme_fleet_db_purge_removed(acme_fleet_db_t *db, const char *group,
                                         apr_interval_time_t age, int *pcount, apr_pool_t *p)
{
    const apr_int64_t usec = age;
    const void *args[] = { group, &usec };
    apr_array_header_t *rows;
    apr_status_t rv;

    if (bad_name(group) || age < 0) {
        return APR_EINVAL;
    }
    rv = run(db, p, "DELETE FROM acme_entry WHERE grp = %s AND removed"
             " AND updated < now() - %lld::bigint * interval '1 microsecond' RETURNING name",
             args, &rows);
    if (rv == APR_SUCCESS && pcount) {
        *pcount = rows->nelts;
    }
    return rv;
}

/* ---- nodes and the clock ---------------------------------------------------------------- */

apr_status_t acme_fleet_db_node_beat(acme_fleet_db_t *db, const char *node,
                                     apr_int64_t challenge_seq, const char *info_json,
                                     apr_pool_t *p)
{
    const void *args[] = { node, &challenge_seq, info_json ? info_json : "{}" };

    if (bad_name(node)) {
        return APR_EINVAL;
    }
    return run(db, p, "INSERT INTO acme_node (node, last_beat, challenge_seq, info)"
               " VALUES (%s, now(), %lld::bigint, %s)"
               " ON CONFLICT (node) DO UPDATE SET last_beat = now(),"
               "  challenge_seq = EXCLUDED.challenge_seq, info = EXCLUDED.info", args, NULL);
}

apr_status_t acme_fleet_db_nodes(acme_fleet_db_t *db, apr_array_header_t **prows,
                                 apr_pool_t *p)
{
    apr_array_header_t *rows;
    acme_fleet_node_t *n;
    apr_status_t rv;
    int i;

    rv = run(db, p, "SELECT node, " USEC("last_beat") ", challenge_seq, info FROM acme_node"
             " ORDER BY node", NULL, &rows);
    if (rv == APR_SUCCESS) {
        *prows = apr_array_make(p, rows->nelts, sizeof(acme_fleet_node_t));
        for (i = 0; i < rows->nelts; ++i) {
            char **r = APR_ARRAY_IDX(rows, i, char **);
            n = apr_array_push(*prows);
            n->node = r[0];
            n->last_beat = (apr_time_t)num(r[1]);
            n->challenge_seq = num(r[2]);
            n->info_json = r[3] ? r[3] : "{}";
        }
    }
    return rv;
}

apr_status_t acme_fleet_db_now(acme_fleet_db_t *db, apr_time_t *pnow)
{
    apr_array_header_t *rows;
    apr_pool_t *tp;
    apr_status_t rv;

    rv = enter(db);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_pool_create(&tp, db->cpool);
    rv = q(db, tp, "SELECT " USEC("now()"), NULL, &rows);
    if (rv == APR_SUCCESS) {
        *pnow = rows->nelts ? (apr_time_t)num(APR_ARRAY_IDX(rows, 0, char **)[0]) : 0;
    }
    apr_pool_destroy(tp);
    return leave(db, rv);
}
