/* Verified live sets by file version (see acme_setcache.h). */
#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>

#include "acme_setcache.h"
#include "acme_json.h"

#define FILE_VERSION 1

#define ARI_MAX 160                     /* base64url(AKI) "." base64url(serial) */

/* What identifies one file's version: an acme_file_version_t without the fields the cache
 * does not compare (exists: an entry's files all exist; prot). */
typedef struct file_key_t {
    apr_dev_t dev;
    apr_ino_t ino;
    apr_off_t size;
    apr_time_t mtime, ctime;
} file_key_t;

/* One entry a certificate, for the life of the process: kept small (the ARI id is as long
 * as it is, not ARI_MAX), about 200 bytes with its hash slot and id. */
typedef struct entry_t {
    file_key_t files[3];                /* chain, key, meta */
    char *ari;                          /* the ARI id when has_ari (a buffer reused) */
    apr_size_t ari_size;                /* bytes of that buffer */
    int valid, has_ari;
} entry_t;

struct acme_setcache_t {
    apr_pool_t *pool;
    apr_hash_t *entries;                /* id -> entry_t* */
    int dirty;                          /* changed since the last load or save */
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

static void key_set(file_key_t *k, const acme_file_version_t *f)
{
    k->dev = f->dev;
    k->ino = f->ino;
    k->size = f->size;
    k->mtime = f->mtime;
    k->ctime = f->ctime;
}

/* Whether f is the file version k recorded (the comparison of file_same). */
static int key_same(const file_key_t *k, const acme_file_version_t *f)
{
    return f->exists && k->dev == f->dev && k->ino == f->ino && k->size == f->size
           && k->mtime == f->mtime && k->ctime == f->ctime;
}

static int entry_same(const entry_t *e, const acme_set_version_t *v)
{
    return e->valid && key_same(&e->files[0], &v->chain) && key_same(&e->files[1], &v->key)
           && key_same(&e->files[2], &v->meta);
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
    if (!e || !entry_same(e, v)) {
        return 0;
    }
    *pari_id = e->has_ari ? e->ari : NULL;
    return 1;
}

void acme_setcache_put(acme_setcache_t *c, const char *id, const acme_set_version_t *v,
                       const char *ari_id)
{
    entry_t *e;
    apr_size_t len;

    if (!c) {
        return;
    }
    if (ari_id && strlen(ari_id) >= ARI_MAX) {
        acme_setcache_drop(c, id);      /* cannot keep it: verify again next time */
        return;
    }
    if (!v->chain.exists || !v->key.exists || !v->meta.exists) {
        acme_setcache_drop(c, id);      /* a missing file never matches: nothing to keep */
        return;
    }
    if (!(e = apr_hash_get(c->entries, id, APR_HASH_KEY_STRING))) {
        e = apr_pcalloc(c->pool, sizeof(*e));
        apr_hash_set(c->entries, apr_pstrdup(c->pool, id), APR_HASH_KEY_STRING, e);
    }
    if (entry_same(e, v) && e->has_ari == (ari_id != NULL)
        && (!ari_id || !strcmp(e->ari, ari_id))) {
        return;                         /* known already */
    }
    key_set(&e->files[0], &v->chain);
    key_set(&e->files[1], &v->key);
    key_set(&e->files[2], &v->meta);
    e->has_ari = ari_id != NULL;
    if (ari_id) {
        /* the cache's pool lives as long as the process: a buffer that fits is reused */
        len = strlen(ari_id) + 1;
        if (len > e->ari_size) {
            e->ari_size = len < 64 ? 64 : len;
            e->ari = apr_palloc(c->pool, e->ari_size);
        }
        memcpy(e->ari, ari_id, len);
    }
    e->valid = 1;
    c->dirty = 1;
}

void acme_setcache_drop(acme_setcache_t *c, const char *id)
{
    entry_t *e = c ? apr_hash_get(c->entries, id, APR_HASH_KEY_STRING) : NULL;
    if (e && e->valid) {
        e->valid = 0;
        c->dirty = 1;
    }
}

/* ---- in the store ---------------------------------------------------------------------- */

static json_t *file_json(const file_key_t *f)
{
    return json_pack("[IIIII]", (json_int_t)f->dev, (json_int_t)f->ino, (json_int_t)f->size,
                     (json_int_t)f->mtime, (json_int_t)f->ctime);
}

static int file_from_json(acme_file_version_t *f, const json_t *j)
{
    json_int_t dev, ino, size, mtime, ctime;

    memset(f, 0, sizeof(*f));
    if (json_unpack((json_t *)j, "[IIIII]", &dev, &ino, &size, &mtime, &ctime) != 0) {
        return 0;
    }
    f->exists = 1;
    f->dev = (apr_dev_t)dev;
    f->ino = (apr_ino_t)ino;
    f->size = (apr_off_t)size;
    f->mtime = (apr_time_t)mtime;
    f->ctime = (apr_time_t)ctime;
    return 1;
}

void acme_setcache_load(acme_setcache_t *c, acme_store_t *st, apr_pool_t *p)
{
    char *text;
    apr_size_t len;
    json_t *j, *sets, *one, *ari;
    const char *id;
    acme_set_version_t v;

    if (!c || acme_store_load(st, ACME_GROUP_SYSTEM, ACME_SETCACHE_ENTRY, ACME_SETCACHE_ASPECT,
                              &text, &len, p) != APR_SUCCESS
        || !(j = acme_json_parse(p, text, len, NULL))
        || json_integer_value(json_object_get(j, "version")) != FILE_VERSION
        || !json_is_object(sets = json_object_get(j, "sets"))) {
        return;
    }
    json_object_foreach(sets, id, one) {
        ari = json_object_get(one, "ari");
        if (file_from_json(&v.chain, json_object_get(one, "chain"))
            && file_from_json(&v.key, json_object_get(one, "key"))
            && file_from_json(&v.meta, json_object_get(one, "meta"))
            && (!ari || json_is_string(ari))) {
            acme_setcache_put(c, id, &v, json_string_value(ari));
        }
    }
    c->dirty = 0;
}

apr_status_t acme_setcache_save(acme_setcache_t *c, acme_store_t *st, apr_pool_t *p)
{
    json_t *j, *sets;
    apr_hash_index_t *hi;
    const char *text;
    apr_status_t rv;

    if (!c || !c->dirty) {
        return APR_SUCCESS;
    }
    j = acme_json_pool(p, json_object());
    sets = json_object();
    json_object_set_new(j, "version", json_integer(FILE_VERSION));
    json_object_set_new(j, "sets", sets);
    for (hi = apr_hash_first(p, c->entries); hi; hi = apr_hash_next(hi)) {
        const entry_t *e = apr_hash_this_val(hi);
        json_t *one;
        if (!e->valid) {
            continue;
        }
        one = json_object();
        json_object_set_new(one, "chain", file_json(&e->files[0]));
        json_object_set_new(one, "key", file_json(&e->files[1]));
        json_object_set_new(one, "meta", file_json(&e->files[2]));
        if (e->has_ari) {
            json_object_set_new(one, "ari", json_string(e->ari));
        }
        json_object_set_new(sets, apr_hash_this_key(hi), one);
    }
    text = acme_json_dump(p, j);
    rv = acme_store_save(st, ACME_GROUP_SYSTEM, ACME_SETCACHE_ENTRY, ACME_SETCACHE_ASPECT, text,
                         strlen(text), p);
    if (rv == APR_SUCCESS) {
        c->dirty = 0;
    }
    return rv;
}
