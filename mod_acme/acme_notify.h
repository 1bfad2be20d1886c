/* The ACMENotifyCmd queue: the admin's program runs in the background for each event
 * (PROGRAM ARGS EVENT CERT, ACME_* in its environment), with a time limit. Runs for one
 * certificate happen one after the other in event order (a script must not see 'failed'
 * before 'renewing'); certificates do not wait for each other. Every run is recorded in the
 * store (orders/_notify-<pid>-<n>/run.json) while it runs, and a small /bin/sh wrapper
 * leaves its exit status there (exit.status), so that the next generation adopts a run that
 * outlived this process and reports how it ended, exit status included. Thread-safe. */
#ifndef ACME_NOTIFY_H
#define ACME_NOTIFY_H

#include "acme.h"
#include "acme_store.h"

#define ACME_NOTIFY_TIMEOUT apr_time_from_sec(30)
#define ACME_NOTIFY_MAX_RUNNING 32
#define ACME_NOTIFY_RUN_PREFIX "_notify-"

typedef struct acme_notify_t acme_notify_t;

/* program: absolute path; args: const char * (may be NULL); limit: the time limit of one
 * run (ACME_NOTIFY_TIMEOUT in the module). Adopts what older generations recorded. */
apr_status_t acme_notify_create(acme_notify_t **pq, apr_pool_t *p, acme_store_t *store,
                                const char *program, const apr_array_header_t *args,
                                apr_interval_time_t limit);

typedef struct acme_notify_event_t {
    const char *event;             /* renewing, renewed, failed, activated, expiring, ... */
    const char *cert;              /* the certificate id */
    const char *names;             /* its names, space-separated */
    const char *serial;            /* or NULL */
    apr_time_t not_after;          /* or 0 */
    const acme_result_t *res;      /* the error (failed, blocked) or NULL */
} acme_notify_event_t;

/* The argv and environment of a run (NULL-terminated arrays, from p). */
void acme_notify_command(const char *const **pargv, const char *const **penv, apr_pool_t *p,
                         const char *program, const apr_array_header_t *args,
                         const acme_notify_event_t *ev);

/* Queue a run and start it unless a run for the same certificate is ahead. Not queued (a
 * warning logged) when ACME_NOTIFY_MAX_RUNNING runs are pending. */
void acme_notify_event(acme_notify_t *q, const acme_notify_event_t *ev);

/* Without blocking: log the end of finished runs (exit status, output), kill those over the
 * limit, start queued ones whose turn came, report adopted runs that ended. Call about once
 * a second while acme_notify_pending says so. */
void acme_notify_poll(acme_notify_t *q, apr_pool_t *ptemp);

/* Runs running, queued or adopted and not yet seen ending. */
int acme_notify_pending(acme_notify_t *q);

#endif
