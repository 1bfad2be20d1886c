/* The watchdog's timetable: per certificate when the driver looks at it next (from its
 * plan), when its renewal information is fetched next and when 'expiring' was last said;
 * which certificates are due and when the watchdog wakes up. Pure bookkeeping, no I/O: the
 * watchdog (mod_acme_watchdog.c) only follows it. Not thread-safe (the watchdog's mutex). */
#ifndef ACME_SCHED_H
#define ACME_SCHED_H

#include "acme.h"
#include "acme_plan.h"

#define ACME_SCHED_IDLE apr_time_from_sec(3600)        /* nothing planned: look again */
#define ACME_SCHED_NOTIFY_POLL apr_time_from_sec(1)    /* notify runs pending */
#define ACME_SCHED_LOCKED_RETRY apr_time_from_sec(5)   /* another driver holds the lock */
#define ACME_SCHED_START_RETRY apr_time_from_sec(60)   /* the client could not be set up */

typedef struct acme_sched_slot_t {
    apr_time_t next;               /* next attempt, 0: nothing to do */
    apr_time_t ari_next;           /* next renewalInfo fetch, 0: none */
    apr_time_t expiring_last;      /* last 'expiring' warning, 0: none */
} acme_sched_slot_t;

typedef struct acme_sched_t {
    int n;
    acme_sched_slot_t *slot;       /* one per certificate, in config order */
    int ari_unavailable;           /* the CA has no renewalInfo: no fetches at all */
    apr_time_t next_run;           /* the next driver run */
} acme_sched_t;

apr_status_t acme_sched_create(acme_sched_t **ps, apr_pool_t *p, int n);

/* When to look at a certificate next: 0 when it is not used by TLS; with something to do,
 * the plan's time (now at the earliest); with nothing to do, the plan's time when it is
 * still ahead (e.g. the renewal time), else 0. */
apr_time_t acme_sched_next_attempt(int used, const acme_plan_t *plan, apr_time_t now);
/* Set slot i's next attempt from its plan. */
void acme_sched_plan(acme_sched_t *s, int i, int used, const acme_plan_t *plan,
                     apr_time_t now);
/* Bring the next run forward to slot i's next attempt when that is sooner. */
void acme_sched_hurry(acme_sched_t *s, int i);
/* Indexes (int) of the slots due at now, in order. */
apr_array_header_t *acme_sched_due(acme_sched_t *s, apr_time_t now, apr_pool_t *p);
/* Whether slot i's renewalInfo is to be fetched now. */
int acme_sched_ari_due(const acme_sched_t *s, int i, apr_time_t now);
/* After a run: the next run is the soonest attempt or renewalInfo fetch, within a second
 * while notify runs are pending, in ACME_SCHED_IDLE when nothing is planned. */
void acme_sched_after_run(acme_sched_t *s, apr_time_t now, int notify_pending);
/* After an attempt for slot i: the plan inputs its outcome changes. Staged: no failures,
 * no renewalInfo fetches (the staged certificate replaces this one at the restart). Failed:
 * one more failure now and the CA's Retry-After (the plan's backoff ladder sets the next
 * attempt). Returns 1 when the CA does not know the account (ensure it again). */
int acme_sched_record(acme_sched_t *s, int i, acme_plan_input_t *in, apr_status_t rv,
                      const acme_result_t *res, apr_time_t now);
/* A periodic check: 1 (and *pnext moves to now + interval) when *pnext is reached. */
int acme_sched_every(apr_time_t *pnext, apr_interval_time_t interval, apr_time_t now);

#endif
