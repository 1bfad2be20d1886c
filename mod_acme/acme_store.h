/* The store: accounts, challenges, orders, staging, live, archive, locks, behind one
 * interface. The filesystem store (acme_store_fs.c) is the first implementation. */
#ifndef ACME_STORE_H
#define ACME_STORE_H

#include "acme.h"

typedef enum {
    ACME_GROUP_SYSTEM,      /* root only: secret.key, fallback certificate */
    ACME_GROUP_ACCOUNTS,    /* ACME accounts: account.json, key.sealed (written by the worker User) */
    ACME_GROUP_CHALLENGES,  /* pending http-01 responses, read by workers */
    ACME_GROUP_ORDERS,      /* resumable order state */
    ACME_GROUP_STAGING,     /* new certificates waiting for activation: chain.pem, key.sealed, meta.json */
    ACME_GROUP_LIVE,        /* what mod_ssl serves: chain.pem, key.pem (plain, root 0600), meta.json */
    ACME_GROUP_ARCHIVE,     /* previous live sets */
    ACME_GROUP_COUNT
} acme_group_t;

const char *acme_group_name(acme_group_t g);   /* "system", "accounts", ... */

typedef struct acme_store_blob_t {
    const char *aspect;
    const void *data;
    apr_size_t len;
} acme_store_blob_t;

typedef struct acme_store_t acme_store_t;
struct acme_store_t {
    const char *kind;
    void *baton;
    /* APR_ENOENT when missing. Data is NUL-terminated; plen may be NULL. */
    apr_status_t (*load)(acme_store_t *st, acme_group_t g, const char *name, const char *aspect,
                         char **pdata, apr_size_t *plen, apr_pool_t *p);
    /* Atomic replace (never a half-written value). */
    apr_status_t (*save)(acme_store_t *st, acme_group_t g, const char *name, const char *aspect,
                         const void *data, apr_size_t len, apr_pool_t *p);
    /* aspect NULL removes the whole entry. Missing is not an error. */
    apr_status_t (*remove)(acme_store_t *st, acme_group_t g, const char *name, const char *aspect,
                           apr_pool_t *p);
    /* Names of the entries of a group (sorted). */
    apr_status_t (*list)(acme_store_t *st, acme_group_t g, apr_array_header_t **pnames,
                         apr_pool_t *p);
    /* Replace live/name with exactly these blobs as one atomic step; the previous live set,
     * if any, moves to archive/name/<timestamp>/. */
    apr_status_t (*install_live)(acme_store_t *st, const char *name,
                                 const acme_store_blob_t *blobs, int nblobs, apr_pool_t *p);
    /* Move an entry of group g to archive/name/<timestamp>/. */
    apr_status_t (*archive)(acme_store_t *st, acme_group_t g, const char *name, apr_pool_t *p);
    /* Cross-process exclusive lock on name. wait=0: APR_EAGAIN/EBUSY-like error when held. */
    apr_status_t (*lock)(acme_store_t *st, const char *name, int wait, void **plock,
                         apr_pool_t *p);
    apr_status_t (*unlock)(acme_store_t *st, void *lock);
    /* Filesystem path of a value (mod_ssl needs files), or NULL for stores without files. */
    const char *(*path)(acme_store_t *st, acme_group_t g, const char *name, const char *aspect,
                        apr_pool_t *p);
    /* Optional (NULL: use acme_store_copy): give to/name/aspect the value from/name/aspect
     * has now, atomically like save(). APR_ENOENT when the source is missing. */
    apr_status_t (*copy)(acme_store_t *st, acme_group_t from, acme_group_t to,
                         const char *name, const char *aspect, apr_pool_t *p);
};

/* Filesystem store rooted at dir (no I/O here). Layout and modes: docs/store.md.
 * Names and aspects must be one plain path component: "", ".", "..", anything with '/' or
 * starting with '.' is APR_EINVAL (path() returns NULL). load/save need an aspect.
 * list() returns the entry directories of a group (dot-entries and stray files skipped);
 * a group directory that does not exist yet lists empty.
 * install_live() needs nblobs >= 1 with distinct aspects; callers hold lock(name). The
 * swap is one renameat2(RENAME_EXCHANGE) where the system has it (else two renames: a
 * crash in between leaves no live/name, the old set archived, staging still there).
 * archive(): APR_ENOENT when the entry is missing, APR_EINVAL for ACME_GROUP_ARCHIVE.
 * lock(): wait=0 and held elsewhere -> APR_EAGAIN (*plock NULL). Exclusive per lock object,
 * also between threads of one process (in-process registry per store object) and across
 * processes (flock/fcntl on <dir>/locks/<name>.lock). Destroying the pool given to lock()
 * releases it; unlock() of a released lock is APR_EINVAL. A child forked while a lock is
 * held does not own it and never releases it for the parent. */
apr_status_t acme_store_fs_create(acme_store_t **pst, apr_pool_t *p, const char *dir);
/* Create the layout (as root at start-up): directories with their modes; the groups the
 * worker User writes (accounts, challenges, orders, staging, locks) are chowned to uid/gid
 * (pass (uid_t)-1 to leave owners as they are, e.g. in tests). Idempotent. */
/* (Refused with APR_EINVAL: dir or a group directory that is a symlink owned by someone
 * else, or that stays group/world-writable. Group directories are set to 0700, a new dir
 * to 0755; an existing dir keeps its mode. system, live, archive stay with the caller.
 * A file where a group directory belongs is moved to <dir>/<group>.damaged-<timestamp>;
 * anything but a plain file in locks/ is removed; both with a warning.) */
apr_status_t acme_store_fs_setup(acme_store_t *st, long uid, long gid, apr_pool_t *p);
/* Load SYSTEM/secret.key, creating 32 random bytes (0600) when missing. */
/* (file: system/secret/secret.key; created with link() so concurrent creators agree;
 * a file of any other size is APR_EINVAL and is never replaced.) */
apr_status_t acme_store_fs_secret(acme_store_t *st, unsigned char out[32], apr_pool_t *p);

/* The directories of the sets in archive/<name>/ (full paths), newest first (timestamp,
 * then -n suffix). A missing archive is an empty list. */
apr_status_t acme_store_fs_archived(apr_array_header_t **pdirs, acme_store_t *st,
                                    const char *name, apr_pool_t *p);

/* copy(): the store's own, else load + save. The fs store links the file (one more name
 * for the same inode, then a rename into place and a fsync of the directory): no new file,
 * no data written or fsynced again. Values are never changed in place (save() replaces the
 * file), so the two names stay independent values. */
apr_status_t acme_store_copy(acme_store_t *st, acme_group_t from, acme_group_t to,
                             const char *name, const char *aspect, apr_pool_t *p);

/* Convenience wrappers. */
#define acme_store_load(st, g, n, a, pd, pl, p)   (st)->load((st), (g), (n), (a), (pd), (pl), (p))
#define acme_store_save(st, g, n, a, d, l, p)     (st)->save((st), (g), (n), (a), (d), (l), (p))
#define acme_store_remove(st, g, n, a, p)         (st)->remove((st), (g), (n), (a), (p))

#endif
