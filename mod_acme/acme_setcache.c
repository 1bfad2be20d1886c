/* Verified live sets by file version (see acme_setcache.h). */
#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>

#include "acme_setcache.h"

#define ARI_MAX 160                     /* base64url(AKI) "." base64url(serial) */

typedef struct entry_t {
    int valid;
    acme_set_version_t v;
    int has_ari;
    char ari[ARI_MAX];
} entry_t;

struct acme_setcache_t {
    apr_pool_t *pool;
    apr_hash_t *entries;                /* id -> entry_t* */
};

static void file_version(acme_file_version_t *f, const char *path, apr_pool_t *p)
{
    apr_finfo_t fi;

    memset(f, 0, sizeof(*f));
    if (apr_stat(&fi, path, APR_FINFO_TYPE | APR_FINFO_DEV | APR_FINFO_INODE | APR_FINFO_SIZE
                 | APR_FINFO_MTIME | APR_FINFO_CTIME | APR_FINFO_PROT, p) != APR_SUCCESS
        || fi.filetype != APR_REG) {
        return;
    }
    f->exists = 1;
    f->dev = fi.device;
    f->ino = fi.inode;
    f->size = fi.size;
    f->mtime = fi.mtime;
    f->ctime = fi.ctime;
    f->prot = fi.protection;
}

void acme_set_version_read(acme_set_version_t *v, const char *dir, apr_pool_t *p)
{
    file_version(&v->chain, apr_pstrcat(p, dir, "/chain.pem", NULL), p);
    file_version(&v->key, apr_pstrcat(p, dir, "/key.pem", NULL), p);
    file_version(&v->meta, apr_pstrcat(p, dir, "/meta.json", NULL), p);
}

static int file_same(const acme_file_version_t *a, const acme_file_version_t *b)
{
    return a->exists && b->exists && a->dev == b->dev && a->ino == b->ino
           && a->size == b->size && a->mtime == b->mtime && a->ctime == b->ctime;
}

int acme_set_version_same(const acme_set_version_t *a, const acme_set_version_t *b)
{
    return file_same(&a->chain, &b->chain) && file_same(&a->key, &b->key)
           && file_same(&a->meta, &b->meta);
}

apr_status_t acme_setcache_create(acme_setcache_t **pc)
{
    apr_pool_t *pool;
    acme_setcache_t *c;
    apr_status_t rv;

    *pc = NULL;
    if ((rv = apr_pool_create_unmanaged_ex(&pool, NULL, NULL)) != APR_SUCCESS) {
        return rv;
    }
    c = apr_pcalloc(pool, sizeof(*c));
    c->pool = pool;
    c->entries = apr_hash_make(pool);
    *pc = c;
    return APR_SUCCESS;
}

void acme_setcache_destroy(acme_setcache_t *c)
{
    if (c) {
        apr_pool_destroy(c->pool);
    }
}

int acme_setcache_get(acme_setcache_t *c, const char *id, const acme_set_version_t *v,
                      const char **pari_id)
{
    entry_t *e = c ? apr_hash_get(c->entries, id, APR_HASH_KEY_STRING) : NULL;

    *pari_id = NULL;
    if (!e || !e->valid || !acme_set_version_same(&e->v, v)) {
        return 0;
    }
    *pari_id = e->has_ari ? e->ari : NULL;
    return 1;
}

void acme_setcache_put(acme_setcache_t *c, const char *id, const acme_set_version_t *v,
                       const char *ari_id)
{
    entry_t *e;

    if (!c) {
        return;
    }
    if (ari_id && strlen(ari_id) >= ARI_MAX) {
        acme_setcache_drop(c, id);      /* cannot keep it: verify again next time */
        return;
    }
    if (!(e = apr_hash_get(c->entries, id, APR_HASH_KEY_STRING))) {
        e = apr_pcalloc(c->pool, sizeof(*e));
        apr_hash_set(c->entries, apr_pstrdup(c->pool, id), APR_HASH_KEY_STRING, e);
    }
    e->v = *v;
    e->has_ari = ari_id != NULL;
    if (ari_id) {
        apr_cpystrn(e->ari, ari_id, sizeof(e->ari));
    }
    e->valid = 1;
}

void acme_setcache_drop(acme_setcache_t *c, const char *id)
{
    entry_t *e = c ? apr_hash_get(c->entries, id, APR_HASH_KEY_STRING) : NULL;
    if (e) {
        e->valid = 0;
    }
}
