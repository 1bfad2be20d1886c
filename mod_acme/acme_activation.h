/* Activation safety: before the root parent restarts httpd gracefully to activate new
 * certificates it runs the check `apachectl configtest` runs. This file holds the policy
 * (when to check, how to call httpd, what its answer means) and the "blocked" record the
 * status pages and acmectl read. httpd-free. */
#ifndef ACME_ACTIVATION_H
#define ACME_ACTIVATION_H

#include <apr_network_io.h>

#include "acme.h"
#include "acme_store.h"
#include <jansson.h>

/* What status pages and acmectl say while a configuration that does not pass holds back
 * staged certificates. */
#define ACME_BLOCKED_TEXT "activation blocked: configuration does not pass"
/* The record: orders/_activation/blocked.json (the parent writes it, readable by the
 * User); notified.json beside it is the worker's "notify program ran for this episode". */
#define ACME_BLOCKED_ENTRY "_activation"
#define ACME_BLOCKED_ASPECT "blocked.json"
#define ACME_BLOCKED_NOTIFIED_ASPECT "notified.json"

/* The argv for the configtest child: exe, then the running server's -d, -f, -C, -c and -D
 * options (separate "-d X" or joined "-dX"), then "-t". Everything else is dropped: -k
 * ACTION, -X, -e/-E (errors must reach our pipe), -t, -S and the like. argv is
 * NULL-terminated (argc < 0) or has argc entries; argv[0] is skipped. The result is
 * NULL-terminated. */
apr_status_t acme_configtest_argv(const char *const **pargv, apr_pool_t *p, const char *exe,
                                  int argc, const char *const *argv);

/* Whether `httpd -t` passed. exit_code ACME_PROC_EXIT_LOST (the status was reaped by
 * someone else, e.g. the MPM's waitpid(-1)): passed when the output has a line
 * "Syntax OK". run_rv is what acme_proc reported (APR_TIMEUP: failed). */
int acme_configtest_passed(apr_status_t run_rv, int exit_code, const char *output);

/* One line naming file and line from `httpd -t` output:
 * "FILE line N: MESSAGE" for httpd's "Syntax error on line N of FILE:" (the innermost of
 * nested Include errors), else the first error-level log line without its prefix and
 * message tag (mod_acme's own configtest checks name file and line themselves), else the last non-empty line that
 * is not "Syntax OK". Control characters become spaces; at most 512 characters. */
const char *acme_configtest_reason(apr_pool_t *p, const char *output);

/* When the restarter runs the check (again). */
typedef struct acme_activation_t {
    apr_time_t checked;        /* last check in this episode, 0: none yet */
    const char *config_sig;    /* acme_files_signature at that check */
    const char *staged_sig;    /* the staged ids at that check */
    int blocked;               /* the last check failed */
} acme_activation_t;

/* Whether to run the configtest now: no check yet (or the last one passed), the
 * configuration files changed, the staged set changed, or interval passed since the last
 * check. *pwhy says which ("first check", "configuration files changed", ...). */
int acme_activation_should_check(const acme_activation_t *st, const char *config_sig,
                                 const char *staged_sig, apr_time_t now,
                                 apr_interval_time_t interval, const char **pwhy);

/* When the restarter restarts for staged certificates: a coalescing window instead of a
 * fixed wait. A batch of certificates obtained together goes live in one restart as soon as
 * it is complete: no order written to within ACME_RESTART_ACTIVE (the driver persists
 * every step, so a recent order.json is an order in flight) and nothing newly staged for
 * ACME_RESTART_QUIET; a batch that keeps growing waits at most ACME_RESTART_BATCH_MAX.
 * When no order is in flight and every configured certificate has a live or a staged set
 * (nothing missing), no more can join the batch: it is complete without the quiet wait.
 * Restarts are at least ACME_RESTART_GAP apart: a graceful restart leaves the old
 * generation's children finishing their requests in scoreboard slots the new generation
 * cannot use yet, and back-to-back restarts would pile them up. When the staged sets are
 * the very sets (files) our last restart was for, that restart did not take them live (a
 * store that cannot be written): the next try waits ACME_RESTART_STUCK_GAP, never a
 * restart storm.
 * A restart is not free: the parent configures every vhost again (mod_ssl loads every
 * certificate), about 1 ms of its CPU a vhost, seconds at 10,000 vhosts, and no order runs
 * meanwhile. While more certificates are still expected (missing > 0), the restarts of a
 * long issuance keep to ACME_RESTART_SHARE percent of the wall time: with the measured cost
 * of our last restart (restart_cost, the parent's CPU from SIGUSR1 to the end of the new
 * generation's post_config, or before any, the parent's start-up CPU; the activation before it is paid once a set, however the sets
 * are batched, and is not counted), both the gap and the batch cap are at least
 * acme_restart_spacing(restart_cost). The batch that completes the set (missing 0) is not
 * held back by it: only the plain gap applies. At 1 to 1,000 vhosts a restart costs well
 * under the plain gap and cap's share, and nothing changes. */
#define ACME_RESTART_SHARE 20
#define ACME_RESTART_QUIET apr_time_from_msec(1000)
#define ACME_RESTART_ACTIVE apr_time_from_sec(10)
#define ACME_RESTART_BATCH_MAX apr_time_from_sec(30)
#define ACME_RESTART_GAP apr_time_from_sec(5)
#define ACME_RESTART_STUCK_GAP apr_time_from_sec(300)

/* The driver's order state file in orders/<id>/ (acme_driver.c writes it at every step
 * and removes it when the order ends). */
#define ACME_ORDER_STATE_FILE "order.json"

typedef struct acme_restart_in_t {
    int staged;                /* complete staged sets of configured certificates */
    int missing;               /* configured certificates with neither a live nor a
                                * complete staged set: still expected in this batch */
    apr_time_t staged_seen;    /* when this batch was first seen */
    apr_time_t staged_grew;    /* when it last grew */
    int in_flight;             /* orders written to within ACME_RESTART_ACTIVE */
    apr_time_t last_restart;   /* our last restart, 0: none in this httpd run */
    int same_as_last;          /* the staged sets are the very sets of our last restart
                                * (the same files, not merely the same ids) */
    apr_interval_time_t restart_cost; /* the parent's CPU our last restart took (SIGUSR1
                                * to post_config's end), 0: not measured (the first
                                * generation) */
} acme_restart_in_t;

/* The time to leave between restarts that cost `cost' each so that they take at most
 * ACME_RESTART_SHARE percent of the wall time: cost * (100 - share) / share (0 for 0). */
apr_interval_time_t acme_restart_spacing(apr_interval_time_t cost);

/* 1: restart now; 0: wait (*pwhy says for what, or why now). */
int acme_restart_due(const acme_restart_in_t *in, apr_time_t now, const char **pwhy);

/* How many orders in the store were written to since `since' (orders/<id>/order.json
 * mtime); entries named _... are not certificates. */
int acme_orders_in_flight(acme_store_t *st, apr_time_t since, apr_pool_t *p);

/* A signature of the files (const char* paths): hex SHA-256 over each path's mtime, size,
 * inode, or "missing". Any change to a file (or its disappearance) changes it. */
apr_status_t acme_files_signature(const char **psig, apr_pool_t *p,
                                  const apr_array_header_t *paths);

/* The blocked record. No secrets in it: the reason is httpd's configtest message. */
typedef struct acme_blocked_t {
    int v;                     /* format version read (0: the previous, unversioned format);
                                * saved as ACME_STATE_VERSION (acme_state.h) */
    apr_time_t since;          /* the episode: first failing check */
    apr_time_t checked;        /* last failing check */
    const char *reason;        /* acme_configtest_reason */
    apr_array_header_t *certs; /* const char*: staged ids held back */
} acme_blocked_t;

/* APR_ENOENT when there is none (activation is not blocked), or when the file is not a
 * JSON object or of a version this code does not know (acme_state_parse). */
apr_status_t acme_blocked_load(acme_blocked_t **pb, apr_pool_t *p, acme_store_t *st);
apr_status_t acme_blocked_save(acme_store_t *st, const acme_blocked_t *b, apr_pool_t *p);
/* Remove the record (and the notified mark). Missing is not an error. */
apr_status_t acme_blocked_clear(acme_store_t *st, apr_pool_t *p);
/* {"since", "checked", "reason"} for status JSON and `acmectl --json` (a new reference),
 * JSON null for b NULL. */
json_t *acme_blocked_json(const acme_blocked_t *b, apr_pool_t *p);
/* Whether certificate id is among those held back. */
int acme_blocked_has(const acme_blocked_t *b, const char *id);
/* The notify program ran for this episode (since): the worker's mark. */
int acme_blocked_notified(acme_store_t *st, const acme_blocked_t *b, apr_pool_t *p);
apr_status_t acme_blocked_set_notified(acme_store_t *st, const acme_blocked_t *b,
                                       apr_pool_t *p);

/* The running server's listening addresses, handed to the configtest child in the
 * environment variable ACME_LISTENERS_ENV: "IP PORT" pairs separated by ';'.
 * acme_listeners_add appends one (ip: numeric, "0.0.0.0" or "::" for any). */
#define ACME_LISTENERS_ENV "MOD_ACME_RUNNING_LISTENERS"
const char *acme_listeners_add(apr_pool_t *p, const char *list, const char *ip,
                               apr_port_t port);
/* Whether a Listen on ip (NULL: any address) and port is one the running server has
 * (a graceful restart keeps that socket, so it needs no new bind): the same address and
 * port, or for ip NULL any wildcard listener ("0.0.0.0" or "::") on that port. */
int acme_listeners_has(const char *list, const char *ip, apr_port_t port);

#endif
