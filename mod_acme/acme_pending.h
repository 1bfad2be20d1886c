/* How many http-01 and tls-alpn-01 responses are pending, and for which questions, kept per
 * process in one block of memory that the caller shares between processes (the module:
 * anonymous shared memory made by httpd's parent). Each publishing process counts in a slot
 * of its own, and puts a fingerprint of the question each response answers (the token, the
 * tls-alpn-01 identifier) in a table. When a process ends
 * (the module: httpd's parent, told by the MPM), its count moves to "ended": the responses
 * it published may still be in the store and a CA may still ask for them. Whoever can see
 * that the store holds no http-01 response any more clears "ended" (the module: the
 * parent's monitor hook). The responders ask acme_pending_wanted(): while it is 0 no response
 * to that question can exist and an unknown token (or a tls-alpn-01 handshake for a name
 * nobody validates) needs no look-up in the store, also while other responses are pending.
 * No call allocates memory or touches a file. */
#ifndef ACME_PENDING_H
#define ACME_PENDING_H

#include "acme.h"

#define ACME_PENDING_SLOTS 64
/* Fingerprints of pending questions: 8 parallel orders of 100 names each fit 2.5 times.
 * A publication that finds the table full makes every question look in the store until
 * it is removed again (slower, never wrong). */
#define ACME_PENDING_KEYS 2048

/* An http-01 response older than this was left by a process that ended (e.g. a graceful
 * restart ended it mid-order and the order was resumed past its authorizations): the
 * driver stops waiting for a validation after 5 minutes and removes its response then. */
#define ACME_HTTP01_STALE apr_time_from_sec(600)

typedef struct acme_pending_t acme_pending_t;

/* Bytes to reserve for the block; acme_pending_init() makes them an empty count. */
apr_size_t acme_pending_size(void);
acme_pending_t *acme_pending_init(void *mem);

/* +1/-1 for process pid (thread-safe, lock-free): a response to the question (type, key)
 * is published (+1, before it is in the store) or removed (-1, after it left the store).
 * key: the http-01 token, the tls-alpn-01 identifier (compared without ASCII case); NULL:
 * unknown, every question then looks in the store until the -1. A -1 goes to the slot the
 * +1 went to; with all slots taken the count goes to a shared overflow that is never
 * released (the responder then looks in the store: slower, never wrong). */
void acme_pending_publish(acme_pending_t *pd, long pid, const char *type, const char *key,
                          int delta);
/* acme_pending_publish() with an unknown question. */
void acme_pending_add(acme_pending_t *pd, long pid, int delta);
/* Process pid ended: its count moves to "ended" (returned), its slot and its fingerprints
 * are free. Call only when pid cannot add any more. */
apr_uint32_t acme_pending_release(acme_pending_t *pd, long pid);
/* The count of ended processes; clear it only when no http-01 response is in the store
 * (and only from the process that calls acme_pending_release, so that none moves there
 * meanwhile). */
apr_uint32_t acme_pending_ended(const acme_pending_t *pd);
void acme_pending_clear_ended(acme_pending_t *pd);
/* Non-zero while any process counts a pending response (or the count is inconsistent). */
int acme_pending_any(const acme_pending_t *pd);
/* Non-zero when a response to (type, key) may be in the store: one is pending for that
 * fingerprint, or the table cannot tell (a process ended with responses published, a full
 * table, a publication without key). 0: none can be, no look-up needed. pd NULL: 1. */
int acme_pending_wanted(const acme_pending_t *pd, const char *type, const char *key);

#endif
