/* Filesystem store: <dir>/<group>/<name>/<aspect>, directories 0700, files 0600 from
 * creation, atomic replacement (tmp + fsync + rename), lock files in <dir>/locks/.
 * The layout is documented for admins in docs/store.md. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1      /* lchown, link, renameat2 (RENAME_EXCHANGE) */
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <apr_file_io.h>
#include <apr_file_info.h>
#include <apr_hash.h>
#include <apr_strings.h>
#if APR_HAS_THREADS
#include <apr_thread_mutex.h>
#include <apr_thread_cond.h>
#endif

#include "acme_store.h"
#include "acme_challenge.h"
#include "acme_util.h"
#include "acme_crypto.h"
#include "acme_log.h"

#define PERMS_DIR      (APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_UEXECUTE)   /* 0700 */
#define PERMS_FILE     (APR_FPROT_UREAD | APR_FPROT_UWRITE)                        /* 0600 */
#define PERMS_ROOT_DIR (PERMS_DIR | APR_FPROT_GREAD | APR_FPROT_GEXECUTE \
                        | APR_FPROT_WREAD | APR_FPROT_WEXECUTE)                     /* 0755 */

#define LOCKS_DIR      "locks"
#define SECRET_NAME    "secret"
#define SECRET_ASPECT  "secret.key"

typedef struct fs_store_t {
    apr_pool_t *pool;
    const char *dir;
#if APR_HAS_THREADS
    /* In-process registry of held lock names: fcntl() locks belong to the process, so
     * two threads of one process would both "get" the same file lock (see fs_lock). */
    apr_thread_mutex_t *mutex;
    apr_thread_cond_t *cond;
#endif
    apr_hash_t *held;       /* lock name -> fs_lock_t* */
} fs_store_t;

typedef struct fs_lock_t {
    fs_store_t *fs;
    apr_pool_t *pool;
    const char *name;
    apr_file_t *file;
    pid_t pid;              /* registry entries inherited through fork() are not ours */
    int held;
} fs_lock_t;

static const char *const group_names[ACME_GROUP_COUNT] = {
    "system", "accounts", "challenges", "orders", "staging", "live", "archive"
};

const char *acme_group_name(acme_group_t g)
{
    if ((int)g < 0 || g >= ACME_GROUP_COUNT) {
        return NULL;
    }
    return group_names[g];
}

/* A name or aspect must be one plain path component: not empty, no '/', not starting
 * with '.' (which also rules out "." and ".."; temp files start with '.'). A NUL inside
 * a C string cannot be seen; callers pass C strings, so the string ends there. */
static int valid_component(const char *s)
{
    if (!s || !*s || s[0] == '.') {
        return 0;
    }
    return strchr(s, '/') == NULL;
}

static fs_store_t *fs_of(acme_store_t *st)
{
    return st->baton;
}

static const char *group_dir(fs_store_t *fs, acme_group_t g, apr_pool_t *p)
{
    return apr_pstrcat(p, fs->dir, "/", group_names[g], NULL);
}

/* ---- small file system helpers ---------------------------------------------------- */

static apr_status_t fsync_dir(const char *dir, apr_pool_t *p)
{
    apr_file_t *f;
    apr_status_t rv = apr_file_open(&f, dir, APR_FOPEN_READ, APR_FPROT_OS_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = apr_file_sync(f);
    apr_file_close(f);
    /* Some file systems refuse fsync on directories; that is not a failure of ours. */
    if (rv == APR_EINVAL || rv == APR_FROM_OS_ERROR(EBADF)) {
        rv = APR_SUCCESS;
    }
    return rv;
}

/* Write one new file (must not exist) with 0600 from creation, fsync it. */
static apr_status_t write_new_file(const char *path, const void *data, apr_size_t len,
                                   apr_pool_t *p)
{
    apr_file_t *f;
    apr_status_t rv = apr_file_open(&f, path,
                                    APR_FOPEN_WRITE | APR_FOPEN_CREATE | APR_FOPEN_EXCL
                                    | APR_FOPEN_BINARY, PERMS_FILE, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (len > 0) {
        rv = apr_file_write_full(f, data, len, NULL);
    }
    if (rv == APR_SUCCESS) {
        rv = apr_file_sync(f);
    }
    apr_status_t rv2 = apr_file_close(f);
    if (rv == APR_SUCCESS) {
        rv = rv2;
    }
    if (rv != APR_SUCCESS) {
        apr_file_remove(path, p);
    }
    return rv;
}

/* rm -rf that never follows symbolic links. Missing is success. */
static apr_status_t remove_tree(const char *path, apr_pool_t *p)
{
    apr_finfo_t fi;
    apr_status_t rv = apr_stat(&fi, path, APR_FINFO_TYPE | APR_FINFO_LINK, p);
    if (APR_STATUS_IS_ENOENT(rv)) {
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS && !APR_STATUS_IS_INCOMPLETE(rv)) {
        return rv;
    }
    if (fi.filetype != APR_DIR) {
        rv = apr_file_remove(path, p);
        return APR_STATUS_IS_ENOENT(rv) ? APR_SUCCESS : rv;
    }

    apr_pool_t *sub;
    apr_dir_t *d;
    rv = apr_pool_create(&sub, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = apr_dir_open(&d, path, sub);
    if (rv == APR_SUCCESS) {
        apr_finfo_t e;
        apr_status_t rr;
        while ((rr = apr_dir_read(&e, APR_FINFO_NAME | APR_FINFO_TYPE, d)) == APR_SUCCESS
               || APR_STATUS_IS_INCOMPLETE(rr)) {
            if (!strcmp(e.name, ".") || !strcmp(e.name, "..")) {
                continue;
            }
            rv = remove_tree(apr_pstrcat(sub, path, "/", e.name, NULL), sub);
            if (rv != APR_SUCCESS) {
                break;
            }
        }
        apr_dir_close(d);
        if (rv == APR_SUCCESS) {
            rv = apr_dir_remove(path, sub);
            if (APR_STATUS_IS_ENOENT(rv)) {
                rv = APR_SUCCESS;
            }
        }
    }
    apr_pool_destroy(sub);
    return rv;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* UTC "YYYYmmddTHHMMSSZ" */
static const char *timestamp(apr_pool_t *p, apr_time_t t)
{
    apr_time_exp_t tm;
    apr_time_exp_gmt(&tm, t);
    return apr_psprintf(p, "%04d%02d%02dT%02d%02d%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                        tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Reserve a fresh archive/<name>/<timestamp>[-n] directory (mkdir is the atomic
 * reservation; rename() of a directory onto an empty directory then replaces it). */
static apr_status_t reserve_archive_slot(const char **pdest, fs_store_t *fs, const char *name,
                                         apr_pool_t *p)
{
    const char *adir = apr_pstrcat(p, group_dir(fs, ACME_GROUP_ARCHIVE, p), "/", name, NULL);
    apr_status_t rv = acme_mkdir_p(adir, PERMS_DIR, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    const char *ts = timestamp(p, apr_time_now());
    for (int n = 1; n < 10000; n++) {
        const char *dest = (n == 1) ? apr_pstrcat(p, adir, "/", ts, NULL)
                                    : apr_psprintf(p, "%s/%s-%d", adir, ts, n);
        rv = apr_dir_make(dest, PERMS_DIR, p);
        if (rv == APR_SUCCESS) {
            *pdest = dest;
            return APR_SUCCESS;
        }
        if (!APR_STATUS_IS_EEXIST(rv)) {
            return rv;
        }
    }
    return APR_EEXIST;
}

/* ---- store operations ------------------------------------------------------------- */

static const char *fs_path(acme_store_t *st, acme_group_t g, const char *name,
                           const char *aspect, apr_pool_t *p)
{
    fs_store_t *fs = fs_of(st);
    if ((int)g < 0 || g >= ACME_GROUP_COUNT || !valid_component(name)
        || (aspect && !valid_component(aspect))) {
        return NULL;
    }
    if (aspect) {
        return apr_pstrcat(p, fs->dir, "/", group_names[g], "/", name, "/", aspect, NULL);
    }
    return apr_pstrcat(p, fs->dir, "/", group_names[g], "/", name, NULL);
}

static apr_status_t fs_load(acme_store_t *st, acme_group_t g, const char *name,
                            const char *aspect, char **pdata, apr_size_t *plen, apr_pool_t *p)
{
    if (!aspect) {
        return APR_EINVAL;
    }
    const char *path = fs_path(st, g, name, aspect, p);
    if (!path) {
        return APR_EINVAL;
    }
    apr_status_t rv = acme_file_read(pdata, plen, path, p);
    if (APR_STATUS_IS_ENOENT(rv)) {
        return APR_ENOENT;
    }
    return rv;
}

/* Challenge responses live only while their authorization is pending in this process: a
 * crash ends that, and the resumed order publishes them again. They need to be visible to
 * the children at once (atomic rename), not to survive a power loss, so they are not
 * fsynced (measured: 4 of the 14 fsyncs of an http-01 order, ~0.35 ms of CPU a
 * certificate). Keys (the tls-alpn-01 one included) are always fsynced. */
static int save_transient(acme_group_t g, const char *aspect)
{
    return g == ACME_GROUP_CHALLENGES
           && (!strcmp(aspect, ACME_HTTP01_ASPECT) || !strcmp(aspect, ACME_HTTP01_HOST));
}

static apr_status_t fs_save(acme_store_t *st, acme_group_t g, const char *name,
                            const char *aspect, const void *data, apr_size_t len, apr_pool_t *p)
{
    if (!aspect) {
        return APR_EINVAL;
    }
    const char *entry = fs_path(st, g, name, NULL, p);
    if (!entry || !valid_component(aspect)) {
        return APR_EINVAL;
    }
    apr_status_t rv = acme_mkdir_p(entry, PERMS_DIR, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (save_transient(g, aspect)) {
        return acme_file_write_visible(apr_pstrcat(p, entry, "/", aspect, NULL), data, len,
                                       PERMS_FILE, p);
    }
    return acme_file_write_atomic(apr_pstrcat(p, entry, "/", aspect, NULL), data, len,
                                  PERMS_FILE, p);
}

/* A second name for the file (link into a temporary name, rename over the target): the
 * inode and its data, already fsynced by the save that wrote them, are shared. */
static apr_status_t fs_copy(acme_store_t *st, acme_group_t from, acme_group_t to,
                            const char *name, const char *aspect, apr_pool_t *p)
{
    const char *src = aspect ? fs_path(st, from, name, aspect, p) : NULL;
    const char *entry = aspect ? fs_path(st, to, name, NULL, p) : NULL;
    apr_status_t rv;

    if (!src || !entry || !valid_component(aspect)) {
        return APR_EINVAL;
    }
    if ((rv = acme_mkdir_p(entry, PERMS_DIR, p)) != APR_SUCCESS) {
        return rv;
    }
    return acme_file_link_atomic(src, apr_pstrcat(p, entry, "/", aspect, NULL), p);
}

apr_status_t acme_store_copy(acme_store_t *st, acme_group_t from, acme_group_t to,
                             const char *name, const char *aspect, apr_pool_t *p)
{
    char *data = NULL;
    apr_size_t len = 0;
    apr_status_t rv;

    if (st->copy) {
        return st->copy(st, from, to, name, aspect, p);
    }
    rv = acme_store_load(st, from, name, aspect, &data, &len, p);
    if (rv == APR_SUCCESS) {
        rv = acme_store_save(st, to, name, aspect, data, len, p);
    }
    return rv;
}

static apr_status_t fs_remove(acme_store_t *st, acme_group_t g, const char *name,
                              const char *aspect, apr_pool_t *p)
{
    const char *path = fs_path(st, g, name, aspect, p);
    if (!path) {
        return APR_EINVAL;
    }
    if (!aspect) {
        return remove_tree(path, p);
    }
    apr_status_t rv = apr_file_remove(path, p);
    return APR_STATUS_IS_ENOENT(rv) ? APR_SUCCESS : rv;
}

static apr_status_t fs_list(acme_store_t *st, acme_group_t g, apr_array_header_t **pnames,
                            apr_pool_t *p)
{
    fs_store_t *fs = fs_of(st);
    if ((int)g < 0 || g >= ACME_GROUP_COUNT) {
        return APR_EINVAL;
    }
    apr_array_header_t *names = apr_array_make(p, 8, sizeof(const char *));
    *pnames = names;

    apr_pool_t *sub;
    apr_dir_t *d;
    apr_status_t rv = apr_pool_create(&sub, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = apr_dir_open(&d, group_dir(fs, g, sub), sub);
    if (APR_STATUS_IS_ENOENT(rv)) {
        rv = APR_SUCCESS;       /* group not created yet: no entries */
        goto leave;
    }
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    apr_finfo_t e;
    apr_status_t rr;
    while ((rr = apr_dir_read(&e, APR_FINFO_NAME | APR_FINFO_TYPE, d)) == APR_SUCCESS
           || APR_STATUS_IS_INCOMPLETE(rr)) {
        if (!e.name || e.name[0] == '.' || e.filetype != APR_DIR) {
            continue;           /* ".", "..", temp entries, stray files */
        }
        APR_ARRAY_PUSH(names, const char *) = apr_pstrdup(p, e.name);
    }
    apr_dir_close(d);
    qsort(names->elts, (size_t)names->nelts, sizeof(const char *), cmp_str);
leave:
    apr_pool_destroy(sub);
    return rv;
}

/* Is this a temp dir ".<name>.new-<16 hex>" of install_live for name? */
static int is_stale_new_dir(const char *entry, const char *name)
{
    size_t nl = strlen(name);
    if (entry[0] != '.' || strncmp(entry + 1, name, nl) != 0
        || strncmp(entry + 1 + nl, ".new-", 5) != 0) {
        return 0;
    }
    const char *hex = entry + 1 + nl + 5;
    if (strlen(hex) != 16) {
        return 0;
    }
    for (; *hex; hex++) {
        if (!strchr("0123456789abcdef", *hex)) {
            return 0;
        }
    }
    return 1;
}

static apr_status_t remove_stale_new_dirs(const char *livedir, const char *name, apr_pool_t *p)
{
    apr_dir_t *d;
    apr_status_t rv = apr_dir_open(&d, livedir, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_array_header_t *stale = apr_array_make(p, 2, sizeof(const char *));
    apr_finfo_t e;
    apr_status_t rr;
    while ((rr = apr_dir_read(&e, APR_FINFO_NAME, d)) == APR_SUCCESS
           || APR_STATUS_IS_INCOMPLETE(rr)) {
        if (e.name && is_stale_new_dir(e.name, name)) {
            APR_ARRAY_PUSH(stale, const char *) = apr_pstrcat(p, livedir, "/", e.name, NULL);
        }
    }
    apr_dir_close(d);
    for (int i = 0; i < stale->nelts; i++) {
        rv = remove_tree(APR_ARRAY_IDX(stale, i, const char *), p);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

/* Swap two directory entries atomically (Linux renameat2). APR_ENOTIMPL when the
 * system or file system cannot. */
static apr_status_t exchange_paths(const char *a, const char *b)
{
#if defined(RENAME_EXCHANGE)
    if (renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) == 0) {
        return APR_SUCCESS;
    }
    if (errno == ENOSYS || errno == EINVAL || errno == ENOTSUP) {
        return APR_ENOTIMPL;
    }
    return APR_FROM_OS_ERROR(errno);
#else
    (void)a;
    (void)b;
    return APR_ENOTIMPL;
#endif
}

static apr_status_t fs_install_live(acme_store_t *st, const char *name,
                                    const acme_store_blob_t *blobs, int nblobs, apr_pool_t *p)
{
    fs_store_t *fs = fs_of(st);
    if (!valid_component(name) || nblobs <= 0 || !blobs) {
        return APR_EINVAL;
    }
    for (int i = 0; i < nblobs; i++) {
        if (!valid_component(blobs[i].aspect) || (blobs[i].len > 0 && !blobs[i].data)) {
            return APR_EINVAL;
        }
        for (int j = 0; j < i; j++) {
            if (!strcmp(blobs[i].aspect, blobs[j].aspect)) {
                return APR_EINVAL;
            }
        }
    }

    apr_pool_t *sub;
    apr_status_t rv = apr_pool_create(&sub, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    const char *livedir = group_dir(fs, ACME_GROUP_LIVE, sub);
    const char *live = apr_pstrcat(sub, livedir, "/", name, NULL);
    const char *tmp = NULL;
    unsigned char rnd[8];

    if ((rv = acme_mkdir_p(livedir, PERMS_DIR, sub)) != APR_SUCCESS
        || (rv = remove_stale_new_dirs(livedir, name, sub)) != APR_SUCCESS
        || (rv = acme_random_bytes(rnd, sizeof(rnd))) != APR_SUCCESS) {
        goto leave;
    }
    tmp = apr_pstrcat(sub, livedir, "/.", name, ".new-", acme_hex(sub, rnd, sizeof(rnd)), NULL);
    if ((rv = apr_dir_make(tmp, PERMS_DIR, sub)) != APR_SUCCESS) {
        tmp = NULL;
        goto leave;
    }
    for (int i = 0; i < nblobs; i++) {
        rv = write_new_file(apr_pstrcat(sub, tmp, "/", blobs[i].aspect, NULL), blobs[i].data,
                            blobs[i].len, sub);
        if (rv != APR_SUCCESS) {
            goto leave;
        }
    }
    if ((rv = fsync_dir(tmp, sub)) != APR_SUCCESS) {
        goto leave;
    }

    apr_finfo_t fi;
    rv = apr_stat(&fi, live, APR_FINFO_TYPE | APR_FINFO_LINK, sub);
    if (APR_STATUS_IS_ENOENT(rv)) {
        /* First installation: one rename. */
        rv = apr_file_rename(tmp, live, sub);
        if (rv == APR_SUCCESS) {
            tmp = NULL;
        }
    }
    else if (rv == APR_SUCCESS || APR_STATUS_IS_INCOMPLETE(rv)) {
        const char *dest;
        if ((rv = reserve_archive_slot(&dest, fs, name, sub)) != APR_SUCCESS) {
            goto leave;
        }
        rv = exchange_paths(tmp, live);
        if (rv == APR_SUCCESS) {
            /* live/<name> is the new set, tmp holds the previous one: archive it. A crash
             * right here loses that archive copy (the stale dir is removed later), never
             * the live set. */
            apr_status_t arv = apr_file_rename(tmp, dest, sub);
            if (arv == APR_SUCCESS) {
                tmp = NULL;
            }
            else {
                /* live is installed; only the archive copy is lost (tmp goes below) */
                acme_log(ACME_LOG_WARNING, arv, "store: installed live/%s, but could not "
                         "archive the previous set to %s", name, dest);
                apr_dir_remove(dest, sub);
            }
        }
        else if (rv == APR_ENOTIMPL) {
            /* Two renames. A crash in between leaves live/<name> missing, the old set
             * complete in the archive and the new set complete in tmp; the caller still
             * has its staging set and installs again. */
            rv = apr_file_rename(live, dest, sub);
            if (rv == APR_SUCCESS) {
                rv = apr_file_rename(tmp, live, sub);
                if (rv == APR_SUCCESS) {
                    tmp = NULL;
                }
                else {
                    apr_file_rename(dest, live, sub);   /* put the old set back */
                }
            }
        }
        if (rv != APR_SUCCESS) {
            apr_dir_remove(dest, sub);                  /* the (still empty) reservation */
        }
        else {
            fsync_dir(apr_pstrcat(sub, group_dir(fs, ACME_GROUP_ARCHIVE, sub), "/", name,
                                  NULL), sub);
        }
    }
    if (rv == APR_SUCCESS) {
        rv = fsync_dir(livedir, sub);
    }
leave:
    if (tmp) {
        remove_tree(tmp, sub);
    }
    apr_pool_destroy(sub);
    return rv;
}

static apr_status_t fs_archive(acme_store_t *st, acme_group_t g, const char *name,
                               apr_pool_t *p)
{
    fs_store_t *fs = fs_of(st);
    if (g == ACME_GROUP_ARCHIVE) {
        return APR_EINVAL;
    }
    const char *src = fs_path(st, g, name, NULL, p);
    if (!src) {
        return APR_EINVAL;
    }
    apr_finfo_t fi;
    apr_status_t rv = apr_stat(&fi, src, APR_FINFO_TYPE | APR_FINFO_LINK, p);
    if (APR_STATUS_IS_ENOENT(rv)) {
        return APR_ENOENT;
    }
    if (rv != APR_SUCCESS && !APR_STATUS_IS_INCOMPLETE(rv)) {
        return rv;
    }
    const char *dest;
    if ((rv = reserve_archive_slot(&dest, fs, name, p)) != APR_SUCCESS) {
        return rv;
    }
    rv = apr_file_rename(src, dest, p);
    if (rv != APR_SUCCESS) {
        apr_dir_remove(dest, p);
        return rv;
    }
    fsync_dir(group_dir(fs, g, p), p);
    return fsync_dir(apr_pstrcat(p, group_dir(fs, ACME_GROUP_ARCHIVE, p), "/", name, NULL), p);
}

/* ---- locks ---------------------------------------------------------------------------
 * apr_file_lock() maps to flock(2) on Debian's APR 1.7 (found by strace; other APR builds
 * use fcntl(F_SETLK[W]) record locks). flock() locks belong to the open file description:
 * two opens in one process exclude each other, a lock survives closing other descriptors,
 * dies with the last descriptor (process exit), and is SHARED with children forked while
 * it is held (a child's LOCK_UN would release the parent's lock). fcntl() locks belong to
 * the process: a second open+lock in the same process succeeds at once and closing ANY
 * descriptor of the file drops the lock. To get the same semantics with both, the store
 * keeps an in-process registry of held names (threads wait on a condition variable, or
 * get APR_EAGAIN with wait=0), and a process never unlocks a descriptor it inherited
 * through fork() (it only closes it). Across processes both kinds exclude each other. */

static void registry_lock(fs_store_t *fs)
{
#if APR_HAS_THREADS
    apr_thread_mutex_lock(fs->mutex);
#else
    (void)fs;
#endif
}

static void registry_unlock(fs_store_t *fs)
{
#if APR_HAS_THREADS
    apr_thread_mutex_unlock(fs->mutex);
#else
    (void)fs;
#endif
}

static void registry_release(fs_lock_t *lk)
{
    fs_store_t *fs = lk->fs;
    registry_lock(fs);
    if (apr_hash_get(fs->held, lk->name, APR_HASH_KEY_STRING) == lk) {
        apr_hash_set(fs->held, lk->name, APR_HASH_KEY_STRING, NULL);
    }
#if APR_HAS_THREADS
    apr_thread_cond_broadcast(fs->cond);
#endif
    registry_unlock(fs);
}

static apr_status_t lock_cleanup(void *baton)
{
    fs_lock_t *lk = baton;
    apr_status_t rv = APR_SUCCESS;
    if (lk->held) {
        lk->held = 0;
        if (lk->file) {
            if (lk->pid == getpid()) {
                rv = apr_file_unlock(lk->file);
            }
            apr_file_close(lk->file);
            lk->file = NULL;
        }
        registry_release(lk);
    }
    return rv;
}

static apr_status_t fs_lock(acme_store_t *st, const char *name, int wait, void **plock,
                            apr_pool_t *p)
{
    fs_store_t *fs = fs_of(st);
    *plock = NULL;
    if (!valid_component(name)) {
        return APR_EINVAL;
    }
    const char *ldir = apr_pstrcat(p, fs->dir, "/" LOCKS_DIR, NULL);
    apr_status_t rv = acme_mkdir_p(ldir, PERMS_DIR, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }

    fs_lock_t *lk = apr_pcalloc(p, sizeof(*lk));
    lk->fs = fs;
    lk->pool = p;
    lk->name = apr_pstrdup(p, name);
    lk->pid = getpid();

    registry_lock(fs);
    fs_lock_t *other;
    while ((other = apr_hash_get(fs->held, lk->name, APR_HASH_KEY_STRING)) != NULL
           && other->pid == lk->pid) {
#if APR_HAS_THREADS
        if (wait) {
            apr_thread_cond_wait(fs->cond, fs->mutex);
            continue;
        }
#endif
        registry_unlock(fs);
        return APR_EAGAIN;
    }
    apr_hash_set(fs->held, lk->name, APR_HASH_KEY_STRING, lk);
    registry_unlock(fs);

    rv = apr_file_open(&lk->file, apr_pstrcat(p, ldir, "/", name, ".lock", NULL),
                       APR_FOPEN_READ | APR_FOPEN_WRITE | APR_FOPEN_CREATE, PERMS_FILE, p);
    if (rv != APR_SUCCESS) {
        registry_release(lk);
        return rv;
    }
    rv = apr_file_lock(lk->file, APR_FLOCK_EXCLUSIVE | (wait ? 0 : APR_FLOCK_NONBLOCK));
    if (rv != APR_SUCCESS) {
        if (!wait && (APR_STATUS_IS_EAGAIN(rv) || rv == APR_FROM_OS_ERROR(EACCES)
                      || rv == APR_FROM_OS_ERROR(EBUSY))) {
            rv = APR_EAGAIN;
        }
        apr_file_close(lk->file);
        registry_release(lk);
        return rv;
    }
    /* Registered after the file's own cleanup, so it runs first (LIFO) when p goes. */
    lk->held = 1;
    apr_pool_cleanup_register(p, lk, lock_cleanup, apr_pool_cleanup_null);
    *plock = lk;
    return APR_SUCCESS;
}

static apr_status_t fs_unlock(acme_store_t *st, void *lock)
{
    (void)st;
    fs_lock_t *lk = lock;
    if (!lk) {
        return APR_EINVAL;
    }
    if (!lk->held) {
        return APR_EINVAL;      /* already released */
    }
    return apr_pool_cleanup_run(lk->pool, lk, lock_cleanup);
}

/* ---- creation, setup, secret ------------------------------------------------------ */

apr_status_t acme_store_fs_create(acme_store_t **pst, apr_pool_t *p, const char *dir)
{
    *pst = NULL;
    if (!dir || !*dir) {
        return APR_EINVAL;
    }
    fs_store_t *fs = apr_pcalloc(p, sizeof(*fs));
    fs->pool = p;
    fs->dir = apr_pstrdup(p, dir);
    /* strip trailing slashes (but keep "/") */
    size_t n = strlen(fs->dir);
    while (n > 1 && fs->dir[n - 1] == '/') {
        ((char *)fs->dir)[--n] = '\0';
    }
    fs->held = apr_hash_make(p);
#if APR_HAS_THREADS
    apr_status_t rv = apr_thread_mutex_create(&fs->mutex, APR_THREAD_MUTEX_DEFAULT, p);
    if (rv == APR_SUCCESS) {
        rv = apr_thread_cond_create(&fs->cond, p);
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
#endif
    acme_store_t *st = apr_pcalloc(p, sizeof(*st));
    st->kind = "fs";
    st->baton = fs;
    st->load = fs_load;
    st->save = fs_save;
    st->remove = fs_remove;
    st->list = fs_list;
    st->install_live = fs_install_live;
    st->archive = fs_archive;
    st->lock = fs_lock;
    st->unlock = fs_unlock;
    st->path = fs_path;
    st->copy = fs_copy;
    *pst = st;
    return APR_SUCCESS;
}

/* Give path (not following links) to uid/gid when it differs. */
static apr_status_t chown_one(const char *path, long uid, long gid)
{
    struct stat sb;
    if (lstat(path, &sb) != 0) {
        return errno == ENOENT ? APR_SUCCESS : APR_FROM_OS_ERROR(errno);
    }
    uid_t u = (uid_t)uid;
    gid_t g = (gid == -1) ? (gid_t)-1 : (gid_t)gid;
    if (sb.st_uid == u && (g == (gid_t)-1 || sb.st_gid == g)) {
        return APR_SUCCESS;
    }
    if (lchown(path, u, g) != 0) {
        return APR_FROM_OS_ERROR(errno);
    }
    return APR_SUCCESS;
}

static apr_status_t chown_tree(const char *path, long uid, long gid, apr_pool_t *p)
{
    apr_status_t rv = chown_one(path, uid, gid);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_finfo_t fi;
    rv = apr_stat(&fi, path, APR_FINFO_TYPE | APR_FINFO_LINK, p);
    if (rv != APR_SUCCESS && !APR_STATUS_IS_INCOMPLETE(rv)) {
        return APR_STATUS_IS_ENOENT(rv) ? APR_SUCCESS : rv;
    }
    if (fi.filetype != APR_DIR) {
        return APR_SUCCESS;
    }
    apr_pool_t *sub;
    apr_dir_t *d;
    if ((rv = apr_pool_create(&sub, p)) != APR_SUCCESS) {
        return rv;
    }
    rv = apr_dir_open(&d, path, sub);
    if (rv == APR_SUCCESS) {
        apr_finfo_t e;
        apr_status_t rr;
        while ((rr = apr_dir_read(&e, APR_FINFO_NAME | APR_FINFO_TYPE, d)) == APR_SUCCESS
               || APR_STATUS_IS_INCOMPLETE(rr)) {
            if (!strcmp(e.name, ".") || !strcmp(e.name, "..")) {
                continue;
            }
            rv = chown_tree(apr_pstrcat(sub, path, "/", e.name, NULL), uid, gid, sub);
            if (rv != APR_SUCCESS) {
                break;
            }
        }
        apr_dir_close(d);
    }
    apr_pool_destroy(sub);
    return rv;
}

/* Make sure path is a directory we can rely on, creating it when missing. Refused
 * (APR_EINVAL): a symbolic link owned by someone else, or a directory writable by group
 * or others. A new directory gets exactly `mode` (umask could narrow 0755 otherwise);
 * with fix_existing, an existing real directory of ours is set to `mode` as well.
 * Directories hold no secrets, so chmod on them is fine (files never get chmod). */
static apr_status_t ensure_dir(const char *path, mode_t mode, apr_fileperms_t perms,
                               int fix_existing, apr_pool_t *p)
{
    struct stat sb;
    if (lstat(path, &sb) != 0) {
        if (errno != ENOENT) {
            return APR_FROM_OS_ERROR(errno);
        }
        apr_status_t rv = acme_mkdir_p(path, perms, p);
        if (rv != APR_SUCCESS && !APR_STATUS_IS_EEXIST(rv)) {
            return rv;
        }
        if (lstat(path, &sb) != 0) {
            return APR_FROM_OS_ERROR(errno);
        }
        fix_existing = 1;
    }
    if (S_ISLNK(sb.st_mode)) {
        if (sb.st_uid != geteuid()) {
            return APR_EINVAL;
        }
        if (stat(path, &sb) != 0) {
            return APR_FROM_OS_ERROR(errno);
        }
    }
    else if (fix_existing && S_ISDIR(sb.st_mode) && (sb.st_mode & 07777) != mode) {
        if (chmod(path, mode) == 0) {
            sb.st_mode = (sb.st_mode & ~(mode_t)07777) | mode;
        }
        else if (errno != EPERM) {
            return APR_FROM_OS_ERROR(errno);
        }
    }
    if (!S_ISDIR(sb.st_mode)) {
        return APR_ENOTDIR;
    }
    if (sb.st_mode & (S_IWGRP | S_IWOTH)) {
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

/* A file (or anything but a directory or symbolic link) where a group directory belongs
 * is moved aside to <group>.damaged-<timestamp> in the store, so the group can be made
 * again and nothing is lost. */
static apr_status_t move_aside_nondir(fs_store_t *fs, const char *name, apr_pool_t *p)
{
    struct stat sb;
    const char *path = apr_pstrcat(p, fs->dir, "/", name, NULL), *dest;
    if (lstat(path, &sb) != 0 || S_ISDIR(sb.st_mode) || S_ISLNK(sb.st_mode)) {
        return APR_SUCCESS;
    }
    dest = apr_pstrcat(p, path, ".damaged-", timestamp(p, apr_time_now()), NULL);
    if (rename(path, dest) != 0) {
        apr_status_t rv = APR_FROM_OS_ERROR(errno);
        acme_log(ACME_LOG_ERR, rv, ACMELOGNO(00148) "store: %s should be a directory but is "
                 "a file, and moving it away failed: move it away yourself", path);
        return rv;
    }
    acme_log(ACME_LOG_WARNING, APR_SUCCESS, ACMELOGNO(00149) "store: %s should be a "
             "directory but was a file: moved to %s (look at it, then delete it) and made "
             "the directory again", path, dest);
    return APR_SUCCESS;
}

/* Lock files are plain files; anything else in locks/ (a directory named like a lock file)
 * would make that lock fail forever. Nobody can hold such an entry: removing it is safe
 * even while an older generation runs (real lock files are left alone). */
static void clean_locks(fs_store_t *fs, apr_pool_t *p)
{
    const char *ldir = apr_pstrcat(p, fs->dir, "/" LOCKS_DIR, NULL);
    apr_array_header_t *bad = apr_array_make(p, 1, sizeof(const char *));
    apr_dir_t *d;
    apr_finfo_t e;
    apr_status_t rr;

    if (apr_dir_open(&d, ldir, p) != APR_SUCCESS) {
        return;
    }
    while ((rr = apr_dir_read(&e, APR_FINFO_NAME | APR_FINFO_TYPE, d)) == APR_SUCCESS
           || APR_STATUS_IS_INCOMPLETE(rr)) {
        if (strcmp(e.name, ".") && strcmp(e.name, "..") && e.filetype != APR_REG) {
            APR_ARRAY_PUSH(bad, const char *) = apr_pstrcat(p, ldir, "/", e.name, NULL);
        }
    }
    apr_dir_close(d);
    for (int i = 0; i < bad->nelts; i++) {
        const char *path = APR_ARRAY_IDX(bad, i, const char *);
        apr_status_t rv = remove_tree(path, p);
        acme_log(rv == APR_SUCCESS ? ACME_LOG_WARNING : ACME_LOG_ERR, rv,
                 ACMELOGNO(00150) "store: %s is not a lock file: %s", path,
                 rv == APR_SUCCESS ? "removed" : "removing it failed; remove it yourself");
    }
}

apr_status_t acme_store_fs_setup(acme_store_t *st, long uid, long gid, apr_pool_t *p)
{
    fs_store_t *fs = fs_of(st);
    apr_status_t rv = ensure_dir(fs->dir, 0755, PERMS_ROOT_DIR, 0, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    for (int g = 0; g <= ACME_GROUP_COUNT; g++) {
        /* g == ACME_GROUP_COUNT stands for locks/ */
        const char *name = (g == ACME_GROUP_COUNT) ? LOCKS_DIR : group_names[g];
        const char *path = apr_pstrcat(p, fs->dir, "/", name, NULL);
        if ((rv = move_aside_nondir(fs, name, p)) != APR_SUCCESS) {
            return rv;
        }
        rv = ensure_dir(path, 0700, PERMS_DIR, 1, p);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        if (uid == -1) {
            continue;
        }
        int worker = (g == ACME_GROUP_COUNT || g == ACME_GROUP_ACCOUNTS
                      || g == ACME_GROUP_CHALLENGES || g == ACME_GROUP_ORDERS
                      || g == ACME_GROUP_STAGING);
        if (worker) {
            rv = chown_tree(path, uid, gid, p);
        }
        else {
            /* root-only groups: the directory itself stays with us (root) */
            rv = chown_one(path, (long)geteuid(), (long)getegid());
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    clean_locks(fs, p);
    return APR_SUCCESS;
}

/* archive/<name>/ entries sort by their timestamp, then by the -n suffix as a number. */
static int cmp_archive_newest_first(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    const char *xs = strrchr(x, '/'), *ys = strrchr(y, '/');
    size_t xl, yl;
    int c;

    xs = xs ? xs + 1 : x;
    ys = ys ? ys + 1 : y;
    xl = strcspn(xs, "-");
    yl = strcspn(ys, "-");
    c = strncmp(xs, ys, xl < yl ? xl : yl);
    if (c == 0 && xl != yl) {
        c = xl < yl ? -1 : 1;
    }
    if (c == 0) {
        c = atoi(xs[xl] ? xs + xl + 1 : "1") - atoi(ys[yl] ? ys + yl + 1 : "1");
    }
    return -c;
}

apr_status_t acme_store_fs_archived(apr_array_header_t **pdirs, acme_store_t *st,
                                    const char *name, apr_pool_t *p)
{
    const char *adir = fs_path(st, ACME_GROUP_ARCHIVE, name, NULL, p);
    apr_array_header_t *dirs = apr_array_make(p, 4, sizeof(const char *));
    apr_dir_t *d;
    apr_finfo_t e;
    apr_status_t rv, rr;

    *pdirs = dirs;
    if (!adir) {
        return APR_EINVAL;
    }
    rv = apr_dir_open(&d, adir, p);
    if (APR_STATUS_IS_ENOENT(rv) || APR_STATUS_IS_ENOTDIR(rv)) {
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    while ((rr = apr_dir_read(&e, APR_FINFO_NAME | APR_FINFO_TYPE, d)) == APR_SUCCESS
           || APR_STATUS_IS_INCOMPLETE(rr)) {
        if (e.name && e.name[0] != '.' && e.filetype == APR_DIR) {
            APR_ARRAY_PUSH(dirs, const char *) = apr_pstrcat(p, adir, "/", e.name, NULL);
        }
    }
    apr_dir_close(d);
    qsort(dirs->elts, (size_t)dirs->nelts, sizeof(const char *), cmp_archive_newest_first);
    return APR_SUCCESS;
}

apr_status_t acme_store_fs_secret(acme_store_t *st, unsigned char out[32], apr_pool_t *p)
{
    fs_store_t *fs = fs_of(st);
    apr_pool_t *sub;
    apr_status_t rv = apr_pool_create(&sub, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    const char *edir = apr_pstrcat(sub, group_dir(fs, ACME_GROUP_SYSTEM, sub), "/",
                                   SECRET_NAME, NULL);
    const char *path = apr_pstrcat(sub, edir, "/" SECRET_ASPECT, NULL);
    char *data = NULL;
    apr_size_t len = 0;

    rv = acme_file_read(&data, &len, path, sub);
    if (APR_STATUS_IS_ENOENT(rv)) {
        /* Create: full temp file (0600, fsynced), then link() it into place, which fails
         * when someone else created the secret meanwhile: theirs wins, read it. */
        unsigned char fresh[32];
        if ((rv = acme_random_bytes(fresh, sizeof(fresh))) != APR_SUCCESS
            || (rv = acme_mkdir_p(edir, PERMS_DIR, sub)) != APR_SUCCESS) {
            goto leave;
        }
        unsigned char rnd[8];
        if ((rv = acme_random_bytes(rnd, sizeof(rnd))) != APR_SUCCESS) {
            goto leave;
        }
        const char *tmp = apr_pstrcat(sub, edir, "/." SECRET_ASPECT ".",
                                      acme_hex(sub, rnd, sizeof(rnd)), NULL);
        if ((rv = write_new_file(tmp, fresh, sizeof(fresh), sub)) != APR_SUCCESS) {
            goto leave;
        }
        int lrc = link(tmp, path);
        int lerr = errno;
        apr_file_remove(tmp, sub);
        if (lrc == 0) {
            fsync_dir(edir, sub);
            memcpy(out, fresh, sizeof(fresh));
            memset(fresh, 0, sizeof(fresh));
            rv = APR_SUCCESS;
            goto leave;
        }
        if (lerr != EEXIST) {
            rv = APR_FROM_OS_ERROR(lerr);
            goto leave;
        }
        rv = acme_file_read(&data, &len, path, sub);
    }
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    if (len != 32) {
        rv = APR_EINVAL;        /* never silently replaced: sealed data depends on it */
        goto leave;
    }
    memcpy(out, data, 32);
leave:
    if (data) {
        memset(data, 0, len);
    }
    apr_pool_destroy(sub);
    return rv;
}
