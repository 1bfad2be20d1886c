/* The per-process count of pending http-01 and tls-alpn-01 responses and the fingerprints
 * of their questions (see acme_pending.h). */
#include <apr_atomic.h>
#include <apr_thread_proc.h>

#include "acme_pending.h"

typedef struct {
    apr_uint32_t pid;       /* 0: free */
    apr_uint32_t count;     /* unsigned: an underflow reads as "pending", never as 0 */
} pending_slot_t;

/* One pending question: claimed by pid (compare-and-swap from 0), then fp is set. A reader
 * compares fp only: a slot being claimed reads 0 before its response is in the store. */
typedef struct {
    apr_uint32_t pid;       /* 0: free */
    apr_uint32_t fp;        /* fingerprint (never 0), 0: none yet / being freed */
} pending_key_t;

struct acme_pending_t {
    pending_slot_t slot[ACME_PENDING_SLOTS];
    apr_uint32_t overflow;
    apr_uint32_t ended;
    apr_uint32_t keyless;   /* publications with no fingerprint in key[] (full, or no key) */
    apr_uint32_t claiming;  /* 1 while a process claims a slot (slot_of) */
    pending_key_t key[ACME_PENDING_KEYS];
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
    for (i = 0; i < ACME_PENDING_KEYS; ++i) {
        apr_atomic_set32(&pd->key[i].fp, 0);
        apr_atomic_set32(&pd->key[i].pid, 0);
    }
    apr_atomic_set32(&pd->overflow, 0);
    apr_atomic_set32(&pd->ended, 0);
    apr_atomic_set32(&pd->keyless, 0);
    return pd;
}

/* The slot of pid; with claim, a free one becomes its slot when it has none. */
static pending_slot_t *find_slot(acme_pending_t *pd, apr_uint32_t pid)
{
    int i;

    for (i = 0; i < ACME_PENDING_SLOTS; ++i) {
        if (apr_atomic_read32(&pd->slot[i].pid) == pid) {
            return &pd->slot[i];
        }
    }
    return NULL;
}

/* pid's slot; with claim, a free one when it has none. Claims are made one at a time
 * (pd->claiming): two threads of one process claiming at once took two slots, and the count
 * of the second was never taken back (its -1 went to the first: "pending" for ever). A
 * claimer that died holding the flag is waited for at most ~1,000 tries; then the claim goes
 * on unlocked (a second slot only makes responders look in the store). */
static pending_slot_t *slot_of(acme_pending_t *pd, apr_uint32_t pid, int claim)
{
    pending_slot_t *s = find_slot(pd, pid);
    int i, locked = 0;

    if (s || !claim) {
        return s;
    }
    for (i = 0; i < 1000 && !(locked = apr_atomic_cas32(&pd->claiming, 1, 0) == 0); ++i) {
        apr_thread_yield();
    }
    if (!(s = find_slot(pd, pid))) {
        for (i = 0; i < ACME_PENDING_SLOTS; ++i) {
            if (apr_atomic_cas32(&pd->slot[i].pid, pid, 0) == 0) {
                s = &pd->slot[i];
                break;
            }
        }
    }
    if (locked) {
        apr_atomic_set32(&pd->claiming, 0);
    }
    return s;
}

/* FNV-1a (32 bit) of type, a 0 byte and key with ASCII letters folded to lower case: a
 * match only means "look in the store", so collisions cost a look-up, never an answer. */
static apr_uint32_t fingerprint(const char *type, const char *key)
{
    apr_uint32_t h = 2166136261u;
    const unsigned char *s;

    for (s = (const unsigned char *)type; s && *s; ++s) {
        h = (h ^ *s) * 16777619u;
    }
    h = (h ^ 0) * 16777619u;
    for (s = (const unsigned char *)key; *s; ++s) {
        h = (h ^ (unsigned char)(*s >= 'A' && *s <= 'Z' ? *s + ('a' - 'A') : *s)) * 16777619u;
    }
    return h ? h : 1;
}

static void count(apr_uint32_t *n, int delta)
{
    if (delta > 0) {
        apr_atomic_inc32(n);
    }
    else {
        apr_atomic_dec32(n);
    }
}

/* +1: a free slot becomes pid's with fp; -1: pid's slot with fp is freed. A question
 * without a fingerprint (fp 0), or a +1 finding no free slot, counts in keyless (and its
 * -1, finding no slot, there too). */
static void key_count(acme_pending_t *pd, apr_uint32_t pid, apr_uint32_t fp, int delta)
{
    int i;

    for (i = 0; fp && i < ACME_PENDING_KEYS; ++i) {
        pending_key_t *k = &pd->key[i];
        if (delta > 0 && apr_atomic_cas32(&k->pid, pid, 0) == 0) {
            apr_atomic_set32(&k->fp, fp);
            return;
        }
        if (delta < 0 && apr_atomic_read32(&k->pid) == pid
            && apr_atomic_cas32(&k->fp, 0, fp) == fp) {
            apr_atomic_set32(&k->pid, 0);
            return;
        }
    }
    count(&pd->keyless, delta);
}

void acme_pending_publish(acme_pending_t *pd, long pid, const char *type, const char *key,
                          int delta)
{
    pending_slot_t *s;
    apr_uint32_t fp = key ? fingerprint(type, key) : 0;

    if (!pd || pid <= 0 || !delta) {
        return;
    }
    s = slot_of(pd, (apr_uint32_t)pid, delta > 0);
    /* +1: counted first, then the question; -1: the other way round. A responder that sees
     * no fingerprint also sees the count, and with it asks the table */
    if (delta > 0) {
        count(s ? &s->count : &pd->overflow, delta);
        key_count(pd, (apr_uint32_t)pid, fp, delta);
    }
    else {
        key_count(pd, (apr_uint32_t)pid, fp, delta);
        count(s ? &s->count : &pd->overflow, delta);
    }
}

void acme_pending_add(acme_pending_t *pd, long pid, int delta)
{
    acme_pending_publish(pd, pid, NULL, NULL, delta);
}

apr_uint32_t acme_pending_release(acme_pending_t *pd, long pid)
{
    pending_slot_t *s;
    apr_uint32_t n = 0;
    int i;

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
    /* its questions: while "ended" counts, every question looks in the store anyway */
    for (i = 0; i < ACME_PENDING_KEYS; ++i) {
        if (apr_atomic_read32(&pd->key[i].pid) == (apr_uint32_t)pid) {
            apr_atomic_set32(&pd->key[i].fp, 0);
            apr_atomic_set32(&pd->key[i].pid, 0);
        }
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

int acme_pending_wanted(const acme_pending_t *pd, const char *type, const char *key)
{
    acme_pending_t *m = (acme_pending_t *)pd;
    apr_uint32_t fp;
    int i;

    if (!m) {
        return 1;
    }
    if (!acme_pending_any(m)) {
        return 0;
    }
    if (!key || apr_atomic_read32(&m->keyless) || apr_atomic_read32(&m->overflow)
        || apr_atomic_read32(&m->ended)) {
        return 1;
    }
    fp = fingerprint(type, key);
    for (i = 0; i < ACME_PENDING_KEYS; ++i) {
        if (apr_atomic_read32(&m->key[i].fp) == fp) {
            return 1;
        }
    }
    return 0;
}
