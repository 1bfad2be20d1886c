/* Fleet mode (ACMEStore pgsql:"..."): several servers share one store in a database. The
 * local filesystem store stays the store of every code path; this layer synchronizes it
 * with the database in the watchdog child (docs/fleet.md):
 *  - leases: a certificate is ordered only by the node holding its lease (with a fencing
 *    token); the others skip it and pull the result;
 *  - publish: what the holder's driver writes (the staged set, the order state, the
 *    account, the challenges) goes to the database through a store that wraps the local
 *    one (acme_fleet_store), sealed keys re-sealed under the fleet key;
 *  - pull: every node copies newer entries into its local store (a staged set into
 *    staging/<id>/, where its own restarter activates it; challenges into challenges/);
 *  - nodes: a heartbeat row per node and a local snapshot (orders/_fleet/fleet.json) of
 *    the nodes and leases for the status page and acmectl, which never ask the database.
 * The database itself is reached through acme_fleet_db_ops_t (the glue fills it with
 * acme_fleet_db.c's functions, the unit tests with an in-memory table), with the status
 * codes acme_fleet_db.h documents. httpd-free. */
#ifndef ACME_FLEET_H
#define ACME_FLEET_H

#include <apr_hash.h>

#include "acme.h"
#include "acme_store.h"
#include "acme_challenge.h"
#include "acme_fleet_db.h"

#define ACME_FLEET_KEY_LEN 32
#define ACME_FLEET_LEASE_TTL apr_time_from_sec(15)      /* a lease its holder stopped renewing */
#define ACME_FLEET_TICK apr_time_from_sec(1)            /* beats, lease renewals, pulls */
#define ACME_FLEET_CHALLENGE_TICK apr_time_from_msec(200) /* challenge pulls */
#define ACME_FLEET_LIVE_TICKS 3                         /* a node beat within 3 ticks: live */
#define ACME_FLEET_CHALLENGE_WAIT apr_time_from_sec(5)  /* every live node has a challenge */
#define ACME_FLEET_SETTLE apr_time_from_sec(2)          /* a node orders this long after its
                                                         * first beat (see acme_fleet_settled) */
#define ACME_FLEET_RETRY_MAX apr_time_from_sec(8)       /* database unreachable: back-off cap */
#define ACME_FLEET_SNAPSHOT_ENTRY "_fleet"              /* orders/_fleet/fleet.json */
#define ACME_FLEET_SNAPSHOT "fleet.json"
#define ACME_FLEET_ACCOUNT_LEASE "_account"             /* while the first account is made */
#define ACME_FLEET_ACCOUNT_REQUEST "fleet-publish"  /* accounts/<name>/: acmectl changed it */
#define ACME_FLEET_PURGE_AGE apr_time_from_sec(7 * 86400) /* removed challenges forgotten */
#define ACME_FLEET_PURGE_EVERY apr_time_from_sec(3600)  /* ... by the leader, this often */

/* ---- what the fleet layer needs of the database (acme_fleet_db.h's operations) ------- */

/* The rows the database returns (acme_fleet_db.h). */
typedef acme_fleet_lease_t acme_fleet_lease_row_t;
typedef acme_fleet_change_t acme_fleet_change_row_t;
typedef acme_fleet_node_t acme_fleet_node_row_t;

/* Return values: APR_SUCCESS; lease_take APR_EAGAIN when another node holds the lease;
 * put/remove with fence > 0 APR_EBUSY when that fence is no longer the lease's ("fenced");
 * get APR_ENOENT when missing; anything else means the database could not be used. */
typedef struct acme_fleet_db_ops_t {
    apr_status_t (*lease_take)(void *db, const char *name, const char *node,
                               apr_interval_time_t ttl, apr_int64_t *pfence,
                               const char **pholder, apr_time_t *pexpires, apr_pool_t *p);
    apr_status_t (*lease_release)(void *db, const char *name, const char *node,
                                  apr_int64_t fence, apr_pool_t *p);
    apr_status_t (*leases)(void *db, apr_array_header_t **prows /* acme_fleet_lease_row_t */,
                           apr_pool_t *p);
    apr_status_t (*put)(void *db, const char *group, const char *name,
                        const acme_store_blob_t *blobs, int nblobs, const char *lease_name,
                        apr_int64_t fence, apr_int64_t *pgeneration, apr_pool_t *p);
    apr_status_t (*get)(void *db, const char *group, const char *name,
                        apr_int64_t *pgeneration,
                        apr_array_header_t **pblobs /* acme_store_blob_t */, apr_pool_t *p);
    apr_status_t (*remove)(void *db, const char *group, const char *name,
                           const char *lease_name, apr_int64_t fence, apr_pool_t *p);
    apr_status_t (*changes)(void *db, const char *group, apr_int64_t since,
                            apr_array_header_t **prows /* acme_fleet_change_row_t */,
                            apr_int64_t *pmax_seq, apr_pool_t *p);
    apr_status_t (*node_beat)(void *db, const char *node, apr_int64_t challenge_seq,
                              const char *info_json, apr_pool_t *p);
    apr_status_t (*nodes)(void *db, apr_array_header_t **prows /* acme_fleet_node_row_t */,
                          apr_pool_t *p);
    apr_status_t (*now)(void *db, apr_time_t *pnow);
    /* Forget the tombstones of group removed more than age ago (NULL: never). */
    apr_status_t (*purge_removed)(void *db, const char *group, apr_interval_time_t age,
                                  int *pcount, apr_pool_t *p);
} acme_fleet_db_ops_t;

/* ---- configuration helpers (pure; the directives use them) --------------------------- */

/* The argument of ACMEStore when it selects the database: `pgsql:"CONNINFO" [LOCAL-DIR]`
 * (or `"pgsql:CONNINFO" [LOCAL-DIR]`). 1 and *pconninfo (and *plocal, NULL when not given)
 * for a pgsql argument, 0 for anything else (a directory); -1 and *pwhy when it is a
 * pgsql argument that is malformed (empty conninfo, a quote not closed, more words). */
int acme_fleet_store_arg(const char **pconninfo, const char **plocal, const char **pwhy,
                         apr_pool_t *p, const char *raw);
/* The fleet key from its file's text: 32 raw bytes, 64 hex digits or base64 of 32 bytes
 * (surrounding white space allowed for the text forms). *pwhy says what is wrong without
 * quoting the key. */
apr_status_t acme_fleet_key_parse(unsigned char out[ACME_FLEET_KEY_LEN], const char **pwhy,
                                  apr_pool_t *p, const char *text, apr_size_t len);
/* Check the file (regular, root-only as acme_eab_file_problem says), read and parse it;
 * the text read is overwritten. *pwhy names the file, what is wrong and the fix. */
apr_status_t acme_fleet_key_load(unsigned char out[ACME_FLEET_KEY_LEN], const char **pwhy,
                                 apr_pool_t *p, const char *path);
/* ACMEStorePasswordFile: the password (first line, without its newline) from a file
 * checked like the key file. */
apr_status_t acme_fleet_password_load(const char **ppw, const char **pwhy, apr_pool_t *p,
                                      const char *path);
/* The default node name: the host name, '-', 8 hex digits of the SHA-256 of ServerRoot
 * (two servers on one host differ). */
const char *acme_fleet_node_default(apr_pool_t *p, const char *host, const char *server_root);

/* ---- the fleet layer ----------------------------------------------------------------- */

typedef struct acme_fleet_conf_t {
    const acme_fleet_db_ops_t *ops;
    void *db;                          /* the connection the ops take */
    const char *node;                  /* this node's name */
    const unsigned char *fleet_key;    /* ACME_FLEET_KEY_LEN bytes (ACMEFleetKeyFile) */
    const unsigned char *secret;       /* this node's store secret (ACME_SECRET_LEN) */
    acme_store_t *store;               /* the local store */
    apr_hash_t *served;                /* certificate id -> serial this node serves (the
                                        * configured certificates; others are not pulled) */
    apr_hash_t *names;                 /* certificate id -> its names, normalized and joined
                                        * with " " (NULL: not checked): a set for other
                                        * names (another node's configuration) is not pulled */
    const char *info_json;             /* this node's facts for its row (JSON object text) */
    acme_http01_count_fn *http01_count;/* tells the workers about pulled http-01 answers */
    void *http01_count_baton;
    apr_interval_time_t lease_ttl;     /* 0: ACME_FLEET_LEASE_TTL */
    apr_interval_time_t challenge_wait;/* 0: ACME_FLEET_CHALLENGE_WAIT */
    apr_interval_time_t tick;          /* 0: ACME_FLEET_TICK (a node's liveness) */
} acme_fleet_conf_t;

typedef struct acme_fleet_t acme_fleet_t;

/* Thread-safe after creation (one mutex around the database calls and the state). */
apr_status_t acme_fleet_create(acme_fleet_t **pf, apr_pool_t *p, const acme_fleet_conf_t *conf);
/* The store the driver and the runner use in fleet mode: the local store, with what the
 * fleet shares published as it is written (see the top of this file). */
acme_store_t *acme_fleet_store(acme_fleet_t *f);

/* Before ordering certificate id for these names: 1 when this node took (or holds) its
 * lease and the database has no usable newer set (then it pulls that set instead and says
 * 0). 0 also when the database cannot be reached (a node without it never orders). With
 * a new fencing token the order state the previous holder published is pulled first. */
int acme_fleet_may_order(acme_fleet_t *f, const char *id, const apr_array_header_t *names,
                         apr_pool_t *p);
/* The order for id ended (staged and published, or failed): release its lease. */
void acme_fleet_done(acme_fleet_t *f, const char *id, apr_pool_t *p);

/* Whether this node fetches renewalInfo for the fleet: the live node first by name, while
 * the database is reachable. The others adopt the window it publishes (pulled each tick
 * into orders/<id>/ari.json), so renewal times are chosen once fleet-wide. */
int acme_fleet_may_fetch_ari(acme_fleet_t *f, const char *id, apr_pool_t *p);

/* Each tick (ACME_FLEET_TICK): renew the leases held, heartbeat, pull newer staged sets
 * and accounts, write the snapshot. Back-off while the database is unreachable. */
void acme_fleet_tick(acme_fleet_t *f, apr_time_t now, apr_pool_t *p);
/* Each ACME_FLEET_CHALLENGE_TICK: pull new and removed challenges. */
void acme_fleet_challenges_tick(acme_fleet_t *f, apr_pool_t *p);
/* acmectl account rollover|deactivate on a fleet node: ask the node's watchdog to publish
 * the account entry name (its next tick does, under the account lease, so the other nodes
 * pull the new key or the deactivation). */
apr_status_t acme_fleet_account_request(acme_store_t *st, const char *name, apr_pool_t *p);
/* Whether the last database call worked. */
int acme_fleet_reachable(acme_fleet_t *f);
/* May this node start ordering? Only ACME_FLEET_SETTLE after its first heartbeat reached
 * the database: nodes started together must see each other's beats first, else a node
 * orders, does not wait for the challenge pulls of a node that has not beaten yet, and
 * the CA's validation reaching that node gets a 404 (the order fails, another is made). */
int acme_fleet_settled(acme_fleet_t *f, apr_time_t now);

#endif
