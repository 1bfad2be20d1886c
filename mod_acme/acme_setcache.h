/* Which live sets already passed start-up verification, by file version. The root parent
 * verifies every live set before mod_ssl loads it (acme_verify.c); a set whose three files
 * (chain.pem, key.pem, meta.json) are still the very files it verified before, in this
 * httpd run, need not be parsed again: not in the second config pass at first start, not at
 * a graceful restart, not after the restarter activated it. A file's version is its device,
 * inode, size, mtime and ctime: activation replaces a set by renaming a new directory in
 * (new inodes), and any write to a file changes its ctime, which no program can set back.
 * The cache lives in its own unmanaged pool for the whole httpd run (one entry per
 * certificate id, updated in place) and is used by one thread at a time. */
#ifndef ACME_SETCACHE_H
#define ACME_SETCACHE_H

#include <apr_file_info.h>

#include "acme.h"
#include "acme_store.h"

typedef struct acme_file_version_t {
    int exists;                /* 0: missing (or not a regular file) */
    apr_dev_t dev;
    apr_ino_t ino;
    apr_off_t size;
    apr_time_t mtime, ctime;
    apr_fileperms_t prot;      /* for the "readable by others" warning, not compared */
} acme_file_version_t;

typedef struct acme_set_version_t {
    acme_file_version_t chain, key, meta;
} acme_set_version_t;

/* The versions of dir/chain.pem, dir/key.pem and dir/meta.json (stat only). */
void acme_set_version_read(acme_set_version_t *v, const char *dir, apr_pool_t *p);

/* Whether a and b are the same files, all three present. */
int acme_set_version_same(const acme_set_version_t *a, const acme_set_version_t *b);

typedef struct acme_setcache_t acme_setcache_t;

apr_status_t acme_setcache_create(acme_setcache_t **pc);
void acme_setcache_destroy(acme_setcache_t *c);

/* 1 when certificate id's set was verified at exactly version v; *pari_id then is the
 * RFC 9773 certID recorded with it (NULL: none), valid until the next put or drop. */
int acme_setcache_get(acme_setcache_t *c, const char *id, const acme_set_version_t *v,
                      const char **pari_id);
/* Record that id's set verified at version v (ari_id may be NULL). */
void acme_setcache_put(acme_setcache_t *c, const char *id, const acme_set_version_t *v,
                       const char *ari_id);
/* Forget id (its set failed, or changed in a way the caller noticed). */
void acme_setcache_drop(acme_setcache_t *c, const char *id);

/* The cache survives a stop and start of httpd in the store (system/cache/verified.json,
 * root 0600, like everything under system/): a file version stays what it is across
 * processes and reboots, and a file copied or restored from a backup has a new inode and
 * ctime, so it is verified again. load adds what the file holds (a missing, damaged or
 * unknown-version file adds nothing); save writes it when a put or drop changed the cache
 * since the last load or save. */
#define ACME_SETCACHE_ENTRY "cache"
#define ACME_SETCACHE_ASPECT "verified.json"
void acme_setcache_load(acme_setcache_t *c, acme_store_t *st, apr_pool_t *p);
apr_status_t acme_setcache_save(acme_setcache_t *c, acme_store_t *st, apr_pool_t *p);

#endif
