/* The per-process count of pending http-01 responses (see acme_pending.h). */
#include <apr_atomic.h>

#include "acme_pending.h"

typedef struct {
    apr_uint32_t pid;       /* 0: free */
    apr_uint32_t count;     /* unsigned: an underflow reads as "pending", never as 0 */
} pending_slot_t;

struct acme_pending_t {
    pending_slot_t slot[ACME_PENDING_SLOTS];
    apr_uint32_t overflow;
    apr_uint32_t ended;
};

apr_size_t acme_pending_size(void)
{
    return sizeof(acme_pending_t);
}

acme_pending_t *acme_pending_init(void *mem)
{
    acme_pending_t *pd = mem;
    int i;

    for (i = 0; i < ACME_PENDING_SLOTS; ++i) {
        apr_atomic_set32(&pd->slot[i].count, 0);
        apr_atomic_set32(&pd->slot[i].pid, 0);
    }
    apr_atomic_set32(&pd->overflow, 0);
    apr_atomic_set32(&pd->ended, 0);
    return pd;
}

/* The slot of pid; with claim, a free one becomes its slot when it has none. */
static pending_slot_t *slot_of(acme_pending_t *pd, apr_uint32_t pid, int claim)
{
    int i;

    for (i = 0; i < ACME_PENDING_SLOTS; ++i) {
        if (apr_atomic_read32(&pd->slot[i].pid) == pid) {
            return &pd->slot[i];
        }
    }
    for (i = 0; claim && i < ACME_PENDING_SLOTS; ++i) {
        if (apr_atomic_cas32(&pd->slot[i].pid, pid, 0) == 0) {
            return &pd->slot[i];
        }
    }
    return NULL;
}

void acme_pending_add(acme_pending_t *pd, long pid, int delta)
{
    pending_slot_t *s;
    apr_uint32_t *n;

    if (!pd || pid <= 0 || !delta) {
        return;
    }
    s = slot_of(pd, (apr_uint32_t)pid, delta > 0);
    n = s ? &s->count : &pd->overflow;
    if (delta > 0) {
        apr_atomic_inc32(n);
    }
    else {
        apr_atomic_dec32(n);
    }
}

apr_uint32_t acme_pending_release(acme_pending_t *pd, long pid)
{
    pending_slot_t *s;
    apr_uint32_t n = 0;

    if (!pd || pid <= 0) {
        return 0;
    }
    s = slot_of(pd, (apr_uint32_t)pid, 0);
    if (s) {
        /* its responses may outlive it: counted as ended until the store has none; then
         * the slot, starting from 0 for the process claiming it next */
        n = apr_atomic_xchg32(&s->count, 0);
        apr_atomic_add32(&pd->ended, n);
        apr_atomic_set32(&s->pid, 0);
    }
    return n;
}

apr_uint32_t acme_pending_ended(const acme_pending_t *pd)
{
    return pd ? apr_atomic_read32(&((acme_pending_t *)pd)->ended) : 0;
}

void acme_pending_clear_ended(acme_pending_t *pd)
{
    if (pd) {
        apr_atomic_set32(&pd->ended, 0);
    }
}

int acme_pending_any(const acme_pending_t *pd)
{
    acme_pending_t *m = (acme_pending_t *)pd;
    int i;

    if (apr_atomic_read32(&m->overflow) || apr_atomic_read32(&m->ended)) {
        return 1;
    }
    for (i = 0; i < ACME_PENDING_SLOTS; ++i) {
        if (apr_atomic_read32(&m->slot[i].count)) {
            return 1;
        }
    }
    return 0;
}
