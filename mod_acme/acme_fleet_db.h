/* Fleet mode's database layer: the fleet's shared truth in PostgreSQL, reached through
 * APR-util's apr_dbd with the "pgsql" driver (Debian: libaprutil1-dbd-pgsql). httpd-free.
 * Schema, versions and migration rules: docs/fleet-schema.md.
 *
 * Notes for the fleet layer (refinements of the interface the fleet design set out):
 *  - acme_fleet_db_create() makes a handle without any I/O (the root parent may check the
 *    conninfo at configtest); acme_fleet_db_open() is create + connect + migrate now. When
 *    the database cannot be reached, open returns APR_ECONNREFUSED and STILL sets *pdb: the
 *    handle connects (and migrates) by itself at a later call. Any other error leaves *pdb
 *    NULL. Never use a handle across fork(): open it in the process that uses it (the
 *    watchdog child), never in the root parent before the children are forked.
 *  - Status codes of every call:
 *      APR_SUCCESS
 *      APR_ECONNREFUSED  the database cannot be reached or used (connect, authentication or
 *                        creating the schema failed: acme_fleet_db_error says which), or the
 *                        connection broke during the call (then nothing of a write was
 *                        committed, except when it broke during COMMIT itself). The
 *                        next call reconnects; after a failed connect attempt further
 *                        attempts wait a bounded back-off (0.5 s doubling to 8 s) and calls
 *                        in between return APR_ECONNREFUSED at once.
 *      APR_EAGAIN        lease_take: held by another node and not expired.
 *      APR_EBUSY         put/remove with fence > 0: fenced (the fence is not the lease's
 *                        current one: taken over, released or expired and retaken).
 *      APR_ENOENT        get: no such entry (or removed).
 *      ACME_ESCHEMA      the database's schema is newer than this module knows.
 *      APR_EINVAL        bad arguments (NULL/empty names, nblobs < 0, ...).
 *      APR_EGENERAL      any other SQL error; acme_fleet_db_error() has the message.
 *  - Thread use: ONE connection per handle, guarded by a mutex: every call may come from
 *    any thread of the process; calls are serialized.
 *  - Times are apr_time_t (microseconds) from the DATABASE clock (now()), so lease expiry
 *    does not depend on the nodes' clocks; acme_fleet_db_now() gives that clock.
 *  - Sequence numbers: every put/remove of any entry takes the next number of one fleet-wide
 *    sequence while holding a transaction-level lock, so numbers become visible in commit
 *    order: a reader that saw sequence S never later meets a new entry with a number <= S.
 *  - No message of this layer contains the password (conninfo shown masked). */
#ifndef ACME_FLEET_DB_H
#define ACME_FLEET_DB_H

#include "acme.h"
#include "acme_store.h"

/* The database's schema is newer than this module: upgrade the module on this node. */
#define ACME_ESCHEMA (ACME_STATUS_BASE + 620)

/* A call without an answer for this long (a frozen server or host: TCP still answers, so
 * neither keepalives nor TCP_USER_TIMEOUT end libpq's wait) has its connection cut by the
 * handle's watcher thread: the call returns APR_ECONNREFUSED and the next one reconnects. */
#define ACME_FLEET_DB_CALL_MAX apr_time_from_sec(10)
#define ACME_FLEET_DB_WATCH_TICK apr_time_from_msec(250)

/* The schema version this module creates and understands. */
#define ACME_FLEET_DB_SCHEMA 1

typedef struct acme_fleet_db_t acme_fleet_db_t;

typedef struct acme_fleet_lease_t {
    const char *name;
    const char *owner;        /* node name */
    apr_time_t expires;       /* database clock */
    apr_int64_t fence;
} acme_fleet_lease_t;

typedef struct acme_fleet_change_t {
    const char *name;
    apr_int64_t generation;   /* grows by one at every put of the entry */
    apr_int64_t seq;          /* the fleet-wide sequence number of its last put/remove */
    int removed;              /* the entry was removed (its blobs are gone) */
} acme_fleet_change_t;

typedef struct acme_fleet_node_t {
    const char *node;
    apr_time_t last_beat;     /* database clock */
    apr_int64_t challenge_seq;
    const char *info_json;    /* as given to node_beat ("{}" when none) */
} acme_fleet_node_t;

/* A handle for conninfo (a libpq conninfo string "host=... dbname=..." or a postgresql://
 * URI) with an optional password (from ACMEStorePasswordFile; NULL: none, libpq's own
 * PGPASSFILE/passfile= still apply). No I/O but loading the pgsql driver. Added unless
 * conninfo sets them: connect_timeout=5 (a connect attempt blocks the handle, and so every
 * thread calling it, at most 5 s), keepalives_idle=10 keepalives_interval=5
 * keepalives_count=3 tcp_user_timeout=15000 (a vanished peer is found dead in about 15 to
 * 25 s). *perr gets a message without secrets. */
apr_status_t acme_fleet_db_create(acme_fleet_db_t **pdb, apr_pool_t *p, const char *conninfo,
                                  const char *password, const char **perr);
/* create + connect + create/migrate the schema (one transaction under
 * pg_advisory_xact_lock, so nodes starting together do not race). See above for *pdb on
 * APR_ECONNREFUSED. *perr gets a message without secrets. */
apr_status_t acme_fleet_db_open(acme_fleet_db_t **pdb, apr_pool_t *p, const char *conninfo,
                                const char *password, const char **perr);
/* The schema version found at the last connection (0 before any). */
int acme_fleet_db_schema_version(acme_fleet_db_t *db);
/* Non-zero when the last call reached the database. */
int acme_fleet_db_reachable(acme_fleet_db_t *db);
/* The message of the last failed call (allocated from p), without secrets; NULL when none. */
const char *acme_fleet_db_error(acme_fleet_db_t *db, apr_pool_t *p);
/* The longest a call may go without an answer (0: ACME_FLEET_DB_CALL_MAX); tests shorten it. */
void acme_fleet_db_set_call_max(acme_fleet_db_t *db, apr_interval_time_t t);
/* The conninfo with any password masked, for logs and status. */
const char *acme_fleet_db_conninfo_shown(acme_fleet_db_t *db);

/* Leases. ttl in microseconds (> 0). APR_SUCCESS: node holds the lease now until
 * *pexpires; *pfence is its fencing token: a new, larger one when taken over from another
 * owner, after expiry or after a release; the same one when renewed by its holder before
 * expiry. APR_EAGAIN: held by another node and not expired; *pholder / *pexpires say by
 * whom and until when (*pfence is then the holder's). pholder, pexpires may be NULL. */
apr_status_t acme_fleet_db_lease_take(acme_fleet_db_t *db, const char *name, const char *node,
                                      apr_interval_time_t ttl, apr_int64_t *pfence,
                                      const char **pholder, apr_time_t *pexpires,
                                      apr_pool_t *p);
/* Release when (name, node, fence) is still the lease; not holding it is not an error. */
apr_status_t acme_fleet_db_lease_release(acme_fleet_db_t *db, const char *name,
                                         const char *node, apr_int64_t fence, apr_pool_t *p);
/* All leases (expired ones too: compare expires with acme_fleet_db_now), sorted by name. */
apr_status_t acme_fleet_db_leases(acme_fleet_db_t *db,
                                  apr_array_header_t **prows /* acme_fleet_lease_t */,
                                  apr_pool_t *p);

/* Entries: (group, name) -> blobs (aspect -> bytes, binary-safe; aspects distinct). A put
 * replaces all the entry's blobs; its generation grows by one at every put (also after a
 * remove); *pgeneration (may be NULL) gets the new one. With fence > 0 a put or remove
 * succeeds only while fence is the current fence of lease lease_name (checked with the
 * lease row locked, in the same transaction): else APR_EBUSY and nothing changes. fence 0:
 * unfenced (lease_name ignored). One transaction each. */
apr_status_t acme_fleet_db_put(acme_fleet_db_t *db, const char *group, const char *name,
                               const acme_store_blob_t *blobs, int nblobs,
                               const char *lease_name, apr_int64_t fence,
                               apr_int64_t *pgeneration, apr_pool_t *p);
/* APR_ENOENT when missing or removed. Blob data is NUL-terminated (not counted in len). */
apr_status_t acme_fleet_db_get(acme_fleet_db_t *db, const char *group, const char *name,
                               apr_int64_t *pgeneration,
                               apr_array_header_t **pblobs /* acme_store_blob_t */,
                               apr_pool_t *p);
/* Removing a missing or removed entry is APR_SUCCESS and changes nothing. */
apr_status_t acme_fleet_db_remove(acme_fleet_db_t *db, const char *group, const char *name,
                                  const char *lease_name, apr_int64_t fence, apr_pool_t *p);
/* The entries of group changed (put or removed) after sequence since, ordered by seq; and
 * *pmax_seq the highest seq returned (since when nothing changed). */
apr_status_t acme_fleet_db_changes(acme_fleet_db_t *db, const char *group, apr_int64_t since,
                                   apr_array_header_t **prows /* acme_fleet_change_t */,
                                   apr_int64_t *pmax_seq, apr_pool_t *p);

/* Forget the tombstones of group removed more than age ago (database clock); *pcount (may
 * be NULL) gets how many. A node that was away longer than age does not learn of those
 * removals through changes(): use an age well above any outage a node may have (days). */
apr_status_t acme_fleet_db_purge_removed(acme_fleet_db_t *db, const char *group,
                                         apr_interval_time_t age, int *pcount, apr_pool_t *p);

/* Nodes. info_json is a small JSON text the fleet layer owns (NULL: "{}"); stored as text. */
apr_status_t acme_fleet_db_node_beat(acme_fleet_db_t *db, const char *node,
                                     apr_int64_t challenge_seq, const char *info_json,
                                     apr_pool_t *p);
/* All nodes, sorted by name. */
apr_status_t acme_fleet_db_nodes(acme_fleet_db_t *db,
                                 apr_array_header_t **prows /* acme_fleet_node_t */,
                                 apr_pool_t *p);
/* The database clock (now()). */
apr_status_t acme_fleet_db_now(acme_fleet_db_t *db, apr_time_t *pnow);
/* Close the connection (also done when the pool given to create/open is destroyed). */
void acme_fleet_db_close(acme_fleet_db_t *db);

/* ---- pure helpers (exposed for the unit tests and the configuration checks) */

/* conninfo with the value of every password (keyword "password", a URI's user:password@
 * and its ?password= parameter) replaced by "********". */
const char *acme_fleet_db_conninfo_mask(apr_pool_t *p, const char *conninfo);
/* The conninfo given to libpq: conninfo, plus password (quoted for libpq; NULL/"" none)
 * and the connection defaults above for what conninfo does not set. Keeps the URI or
 * keyword form. */
const char *acme_fleet_db_conninfo_build(apr_pool_t *p, const char *conninfo,
                                         const char *password);
/* The schema migrations: version i+1 is migrations[i]; each a NULL-terminated list of SQL
 * statements. *pcount gets the number (== ACME_FLEET_DB_SCHEMA). */
typedef struct acme_fleet_db_migration_t {
    int version;
    const char *const *sql;
} acme_fleet_db_migration_t;
const acme_fleet_db_migration_t *acme_fleet_db_migrations(int *pcount);

#endif
