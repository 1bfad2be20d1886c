/* How many http-01 responses are pending, kept per process in one block of memory that the
 * caller shares between processes (the module: anonymous shared memory made by httpd's
 * parent). Each publishing process counts in a slot of its own. When a process ends
 * (the module: httpd's parent, told by the MPM), its count moves to "ended": the responses
 * it published may still be in the store and a CA may still ask for them. Whoever can see
 * that the store holds no http-01 response any more clears "ended" (the module: the
 * parent's monitor hook). The http-01 responder asks acme_pending_any(): while it is 0 no
 * response exists and an unknown token needs no look-up. */
#ifndef ACME_PENDING_H
#define ACME_PENDING_H

#include "acme.h"

#define ACME_PENDING_SLOTS 64

/* An http-01 response older than this was left by a process that ended (e.g. a graceful
 * restart ended it mid-order and the order was resumed past its authorizations): the
 * driver stops waiting for a validation after 5 minutes and removes its response then. */
#define ACME_HTTP01_STALE apr_time_from_sec(600)

typedef struct acme_pending_t acme_pending_t;

/* Bytes to reserve for the block; acme_pending_init() makes them an empty count. */
apr_size_t acme_pending_size(void);
acme_pending_t *acme_pending_init(void *mem);

/* +1/-1 for process pid (thread-safe, lock-free). A -1 goes to the slot the +1 went to;
 * with all slots taken the count goes to a shared overflow that is never released (the
 * responder then looks in the store: slower, never wrong). */
void acme_pending_add(acme_pending_t *pd, long pid, int delta);
/* Process pid ended: its count moves to "ended" (returned), its slot is free. Call only
 * when pid cannot add any more. */
apr_uint32_t acme_pending_release(acme_pending_t *pd, long pid);
/* The count of ended processes; clear it only when no http-01 response is in the store
 * (and only from the process that calls acme_pending_release, so that none moves there
 * meanwhile). */
apr_uint32_t acme_pending_ended(const acme_pending_t *pd);
void acme_pending_clear_ended(acme_pending_t *pd);
/* Non-zero while any process counts a pending response (or the count is inconsistent). */
int acme_pending_any(const acme_pending_t *pd);

#endif
