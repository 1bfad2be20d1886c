/* Filesystem store: round trips, modes (umask-proof), install_live/archive, names,
 * cross-process locks, the secret. Each test works in its own mkdtemp directory. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <apr_strings.h>
#include <apr_file_io.h>
#include <apr_time.h>

#include "tests.h"
#include "acme_store.h"
#include "acme_util.h"

typedef struct {
    apr_pool_t *pool;
    char root[64];           /* the mkdtemp directory */
    const char *dir;         /* the store directory inside it */
    acme_store_t *st;
} fixture_t;

static void fx_init(fixture_t *fx, mode_t umask_value)
{
    umask(umask_value);
    ck_assert_int_eq(apr_pool_create(&fx->pool, NULL), APR_SUCCESS);
    strcpy(fx->root, "/tmp/acme-store-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(fx->root));
    ck_assert_int_eq(chmod(fx->root, 0755), 0);   /* mkdtemp gives 0700; fine either way */
    fx->dir = apr_pstrcat(fx->pool, fx->root, "/acme", NULL);
    ck_assert_int_eq(acme_store_fs_create(&fx->st, fx->pool, fx->dir), APR_SUCCESS);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void fx_done(fixture_t *fx)
{
    nftw(fx->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    apr_pool_destroy(fx->pool);
}

static mode_t mode_of(const char *path)
{
    struct stat sb;
    ck_assert_msg(lstat(path, &sb) == 0, "stat %s: %s", path, strerror(errno));
    return sb.st_mode & 07777;
}

static int exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}

static const char *P(fixture_t *fx, const char *rel)
{
    return apr_pstrcat(fx->pool, fx->dir, "/", rel, NULL);
}

/* Number of entries in a directory, dot-entries counted separately. */
static int count_entries(const char *dir, int *pdots)
{
    int n = 0, dots = 0;
    apr_pool_t *p;
    apr_dir_t *d;
    apr_finfo_t fi;
    apr_pool_create(&p, NULL);
    if (apr_dir_open(&d, dir, p) == APR_SUCCESS) {
        while (apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS) {
            if (!strcmp(fi.name, ".") || !strcmp(fi.name, "..")) {
                continue;
            }
            if (fi.name[0] == '.') {
                dots++;
            }
            else {
                n++;
            }
        }
        apr_dir_close(d);
    }
    apr_pool_destroy(p);
    if (pdots) {
        *pdots = dots;
    }
    return n;
}

static void write_raw(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

START_TEST(test_group_names)
{
    ck_assert_str_eq(acme_group_name(ACME_GROUP_SYSTEM), "system");
    ck_assert_str_eq(acme_group_name(ACME_GROUP_ACCOUNTS), "accounts");
    ck_assert_str_eq(acme_group_name(ACME_GROUP_CHALLENGES), "challenges");
    ck_assert_str_eq(acme_group_name(ACME_GROUP_ORDERS), "orders");
    ck_assert_str_eq(acme_group_name(ACME_GROUP_STAGING), "staging");
    ck_assert_str_eq(acme_group_name(ACME_GROUP_LIVE), "live");
    ck_assert_str_eq(acme_group_name(ACME_GROUP_ARCHIVE), "archive");
    ck_assert_ptr_null(acme_group_name(ACME_GROUP_COUNT));
}
END_TEST

START_TEST(test_roundtrip)
{
    fixture_t fx;
    fx_init(&fx, 022);
    acme_store_t *st = fx.st;
    apr_pool_t *p = fx.pool;
    char *data;
    apr_size_t len;
    apr_array_header_t *names;

    ck_assert_str_eq(st->kind, "fs");
    ck_assert_int_eq(acme_store_fs_setup(st, -1, -1, p), APR_SUCCESS);

    /* missing */
    ck_assert_int_eq(acme_store_load(st, ACME_GROUP_ACCOUNTS, "acct1", "account.json", &data,
                                     &len, p), APR_ENOENT);
    ck_assert_int_eq(acme_store_remove(st, ACME_GROUP_ACCOUNTS, "acct1", "account.json", p),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_store_remove(st, ACME_GROUP_ACCOUNTS, "acct1", NULL, p),
                     APR_SUCCESS);
    ck_assert_int_eq(st->list(st, ACME_GROUP_ACCOUNTS, &names, p), APR_SUCCESS);
    ck_assert_int_eq(names->nelts, 0);

    /* save / load / replace */
    ck_assert_int_eq(acme_store_save(st, ACME_GROUP_ACCOUNTS, "acct1", "account.json",
                                     "{\"a\":1}", 7, p), APR_SUCCESS);
    ck_assert_int_eq(acme_store_load(st, ACME_GROUP_ACCOUNTS, "acct1", "account.json", &data,
                                     &len, p), APR_SUCCESS);
    ck_assert_uint_eq(len, 7);
    ck_assert_str_eq(data, "{\"a\":1}");
    ck_assert_int_eq(acme_store_save(st, ACME_GROUP_ACCOUNTS, "acct1", "account.json",
                                     "{}", 2, p), APR_SUCCESS);
    ck_assert_int_eq(acme_store_load(st, ACME_GROUP_ACCOUNTS, "acct1", "account.json", &data,
                                     NULL, p), APR_SUCCESS);
    ck_assert_str_eq(data, "{}");

    /* binary data and empty values */
    const char bin[4] = { 'x', 0, 'y', 0 };
    ck_assert_int_eq(acme_store_save(st, ACME_GROUP_ACCOUNTS, "acct1", "key.sealed", bin, 4, p),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_store_load(st, ACME_GROUP_ACCOUNTS, "acct1", "key.sealed", &data,
                                     &len, p), APR_SUCCESS);
    ck_assert_uint_eq(len, 4);
    ck_assert_int_eq(memcmp(data, bin, 4), 0);
    ck_assert_int_eq(acme_store_save(st, ACME_GROUP_ORDERS, "o", "empty", "", 0, p),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_store_load(st, ACME_GROUP_ORDERS, "o", "empty", &data, &len, p),
                     APR_SUCCESS);
    ck_assert_uint_eq(len, 0);
    ck_assert_str_eq(data, "");

    /* path */
    ck_assert_str_eq(st->path(st, ACME_GROUP_LIVE, "example.org", "chain.pem", p),
                     P(&fx, "live/example.org/chain.pem"));
    ck_assert_str_eq(st->path(st, ACME_GROUP_LIVE, "example.org", NULL, p),
                     P(&fx, "live/example.org"));

    /* list: sorted, no dot entries, no stray files */
    ck_assert_int_eq(acme_store_save(st, ACME_GROUP_ACCOUNTS, "zeta", "a", "1", 1, p),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_store_save(st, ACME_GROUP_ACCOUNTS, "alpha", "a", "1", 1, p),
                     APR_SUCCESS);
    ck_assert_int_eq(mkdir(P(&fx, "accounts/.tmp-dir"), 0700), 0);
    write_raw(P(&fx, "accounts/.tmpfile"), "x", 1);
    write_raw(P(&fx, "accounts/stray"), "x", 1);
    ck_assert_int_eq(st->list(st, ACME_GROUP_ACCOUNTS, &names, p), APR_SUCCESS);
    ck_assert_int_eq(names->nelts, 3);
    ck_assert_str_eq(APR_ARRAY_IDX(names, 0, const char *), "acct1");
    ck_assert_str_eq(APR_ARRAY_IDX(names, 1, const char *), "alpha");
    ck_assert_str_eq(APR_ARRAY_IDX(names, 2, const char *), "zeta");

    /* remove one aspect, then the whole entry */
    ck_assert_int_eq(acme_store_remove(st, ACME_GROUP_ACCOUNTS, "acct1", "key.sealed", p),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_store_load(st, ACME_GROUP_ACCOUNTS, "acct1", "key.sealed", &data,
                                     &len, p), APR_ENOENT);
    ck_assert_int_eq(acme_store_load(st, ACME_GROUP_ACCOUNTS, "acct1", "account.json", &data,
                                     &len, p), APR_SUCCESS);
    ck_assert_int_eq(mkdir(P(&fx, "accounts/acct1/sub"), 0700), 0);
    write_raw(P(&fx, "accounts/acct1/sub/f"), "x", 1);
    ck_assert_int_eq(symlink(P(&fx, "accounts/zeta"), P(&fx, "accounts/acct1/link")), 0);
    ck_assert_int_eq(acme_store_remove(st, ACME_GROUP_ACCOUNTS, "acct1", NULL, p), APR_SUCCESS);
    ck_assert(!exists(P(&fx, "accounts/acct1")));
    ck_assert(exists(P(&fx, "accounts/zeta/a")));   /* the link was not followed */
    ck_assert_int_eq(st->list(st, ACME_GROUP_ACCOUNTS, &names, p), APR_SUCCESS);
    ck_assert_int_eq(names->nelts, 2);

    /* a group that does not exist yet lists empty; save creates it */
    fx_done(&fx);
    fx_init(&fx, 022);
    ck_assert_int_eq(fx.st->list(fx.st, ACME_GROUP_ORDERS, &names, fx.pool), APR_SUCCESS);
    ck_assert_int_eq(names->nelts, 0);
    ck_assert_int_eq(acme_store_save(fx.st, ACME_GROUP_ORDERS, "o1", "order.json", "{}", 2,
                                     fx.pool), APR_SUCCESS);
    ck_assert_int_eq(mode_of(P(&fx, "orders/o1/order.json")), 0600);
    fx_done(&fx);
}
END_TEST

static void check_modes(mode_t um)
{
    fixture_t fx;
    fx_init(&fx, um);
    acme_store_t *st = fx.st;
    apr_pool_t *p = fx.pool;
    static const char *const groups[] = {
        "system", "accounts", "challenges", "orders", "staging", "live", "archive", "locks"
    };
    unsigned char secret[32];
    void *lock;

    ck_assert_int_eq(acme_store_fs_setup(st, -1, -1, p), APR_SUCCESS);
    ck_assert_int_eq(mode_of(fx.dir), 0755);
    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
        ck_assert_msg(mode_of(P(&fx, groups[i])) == 0700, "%s: %o (umask %03o)", groups[i],
                      (unsigned)mode_of(P(&fx, groups[i])), (unsigned)um);
    }
    for (int g = 0; g < ACME_GROUP_COUNT; g++) {
        if (g == ACME_GROUP_ARCHIVE) {
            continue;
        }
        ck_assert_int_eq(acme_store_save(st, (acme_group_t)g, "e1", "v", "data", 4, p),
                         APR_SUCCESS);
        const char *entry = st->path(st, (acme_group_t)g, "e1", NULL, p);
        ck_assert_int_eq(mode_of(entry), 0700);
        ck_assert_int_eq(mode_of(apr_pstrcat(p, entry, "/v", NULL)), 0600);
    }
    acme_store_blob_t blobs[2] = {
        { "chain.pem", "CHAIN", 5 }, { "key.pem", "KEY", 3 }
    };
    ck_assert_int_eq(st->install_live(st, "site", blobs, 2, p), APR_SUCCESS);
    ck_assert_int_eq(st->install_live(st, "site", blobs, 2, p), APR_SUCCESS);
    ck_assert_int_eq(mode_of(P(&fx, "live/site")), 0700);
    ck_assert_int_eq(mode_of(P(&fx, "live/site/key.pem")), 0600);
    ck_assert_int_eq(mode_of(P(&fx, "live/site/chain.pem")), 0600);
    ck_assert_int_eq(mode_of(P(&fx, "archive/site")), 0700);

    ck_assert_int_eq(acme_store_fs_secret(st, secret, p), APR_SUCCESS);
    ck_assert_int_eq(mode_of(P(&fx, "system/secret/secret.key")), 0600);
    ck_assert_int_eq(mode_of(P(&fx, "system/secret")), 0700);

    ck_assert_int_eq(st->lock(st, "site", 0, &lock, p), APR_SUCCESS);
    ck_assert_int_eq(mode_of(P(&fx, "locks/site.lock")), 0600);
    ck_assert_int_eq(st->unlock(st, lock), APR_SUCCESS);

    /* setup is idempotent and repairs group directory modes */
    ck_assert_int_eq(chmod(P(&fx, "live"), 0750), 0);
    ck_assert_int_eq(acme_store_fs_setup(st, -1, -1, p), APR_SUCCESS);
    ck_assert_int_eq(mode_of(P(&fx, "live")), 0700);
    ck_assert_int_eq(mode_of(fx.dir), 0755);
    fx_done(&fx);
}

START_TEST(test_modes_umask022)
{
    check_modes(022);
}
END_TEST

START_TEST(test_modes_umask077)
{
    check_modes(077);
}
END_TEST

START_TEST(test_modes_umask000)
{
    check_modes(000);
}
END_TEST

START_TEST(test_setup_refuses)
{
    fixture_t fx;
    fx_init(&fx, 022);
    ck_assert_int_eq(mkdir(fx.dir, 0777), 0);
    ck_assert_int_eq(chmod(fx.dir, 0777), 0);
    ck_assert_int_eq(acme_store_fs_setup(fx.st, -1, -1, fx.pool), APR_EINVAL);
    ck_assert_int_eq(chmod(fx.dir, 0775), 0);
    ck_assert_int_eq(acme_store_fs_setup(fx.st, -1, -1, fx.pool), APR_EINVAL);
    ck_assert_int_eq(chmod(fx.dir, 0750), 0);   /* an admin's narrower choice is kept */
    ck_assert_int_eq(acme_store_fs_setup(fx.st, -1, -1, fx.pool), APR_SUCCESS);
    ck_assert_int_eq(mode_of(fx.dir), 0750);
    fx_done(&fx);

    /* a symbolic link we own to a safe directory is fine */
    fx_init(&fx, 022);
    const char *real = apr_pstrcat(fx.pool, fx.root, "/real", NULL);
    ck_assert_int_eq(mkdir(real, 0755), 0);
    ck_assert_int_eq(symlink(real, fx.dir), 0);
    ck_assert_int_eq(acme_store_fs_setup(fx.st, -1, -1, fx.pool), APR_SUCCESS);
    ck_assert(exists(apr_pstrcat(fx.pool, real, "/live", NULL)));
    if (geteuid() == 0) {
        /* ... but not one owned by someone else */
        ck_assert_int_eq(lchown(fx.dir, 65534, 65534), 0);
        ck_assert_int_eq(acme_store_fs_setup(fx.st, -1, -1, fx.pool), APR_EINVAL);
    }
    fx_done(&fx);
}
END_TEST

START_TEST(test_setup_chown)
{
    fixture_t fx;
    fx_init(&fx, 022);
    acme_store_t *st = fx.st;
    apr_pool_t *p = fx.pool;
    long uid = (geteuid() == 0) ? 65534 : (long)getuid();
    long gid = (geteuid() == 0) ? 65534 : (long)getgid();
    struct stat sb;

    ck_assert_int_eq(acme_store_fs_setup(st, -1, -1, p), APR_SUCCESS);
    ck_assert_int_eq(acme_store_save(st, ACME_GROUP_ACCOUNTS, "a1", "account.json", "{}", 2, p),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_store_save(st, ACME_GROUP_LIVE, "l1", "key.pem", "K", 1, p),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_store_fs_setup(st, uid, gid, p), APR_SUCCESS);
    ck_assert_int_eq(acme_store_fs_setup(st, uid, gid, p), APR_SUCCESS);   /* idempotent */

    static const char *const worker[] = {
        "accounts", "challenges", "orders", "staging", "locks", "accounts/a1",
        "accounts/a1/account.json"
    };
    for (size_t i = 0; i < sizeof(worker) / sizeof(worker[0]); i++) {
        ck_assert_int_eq(lstat(P(&fx, worker[i]), &sb), 0);
        ck_assert_msg((long)sb.st_uid == uid && (long)sb.st_gid == gid, "%s owned by %ld",
                      worker[i], (long)sb.st_uid);
    }
    static const char *const rootonly[] = { "", "system", "live", "archive", "live/l1",
                                            "live/l1/key.pem" };
    for (size_t i = 0; i < sizeof(rootonly) / sizeof(rootonly[0]); i++) {
        ck_assert_int_eq(lstat(P(&fx, rootonly[i]), &sb), 0);
        ck_assert_msg(sb.st_uid == geteuid(), "%s owned by %ld", rootonly[i],
                      (long)sb.st_uid);
    }
    fx_done(&fx);
}
END_TEST

START_TEST(test_install_live)
{
    fixture_t fx;
    fx_init(&fx, 022);
    acme_store_t *st = fx.st;
    apr_pool_t *p = fx.pool;
    char *data;
    int dots;
    apr_array_header_t *names;

    ck_assert_int_eq(acme_store_fs_setup(st, -1, -1, p), APR_SUCCESS);
    acme_store_blob_t set1[3] = {
        { "chain.pem", "CHAIN1", 6 }, { "key.pem", "KEY1", 4 }, { "meta.json", "{}", 2 }
    };
    acme_store_blob_t set2[2] = {
        { "chain.pem", "CHAIN2", 6 }, { "key.pem", "KEY2", 4 }
    };
    ck_assert_int_eq(st->install_live(st, "example.org", set1, 3, p), APR_SUCCESS);
    ck_assert_int_eq(acme_store_load(st, ACME_GROUP_LIVE, "example.org", "chain.pem", &data,
                                     NULL, p), APR_SUCCESS);
    ck_assert_str_eq(data, "CHAIN1");
    ck_assert_int_eq(count_entries(P(&fx, "archive"), NULL), 0);

    /* a stale temp dir of an interrupted install is cleaned up; others' are not */
    ck_assert_int_eq(mkdir(P(&fx, "live/.example.org.new-0123456789abcdef"), 0700), 0);
    write_raw(P(&fx, "live/.example.org.new-0123456789abcdef/chain.pem"), "half", 4);
    ck_assert_int_eq(mkdir(P(&fx, "live/.other.new-0123456789abcdef"), 0700), 0);

    ck_assert_int_eq(st->install_live(st, "example.org", set2, 2, p), APR_SUCCESS);
    ck_assert_int_eq(acme_store_load(st, ACME_GROUP_LIVE, "example.org", "chain.pem", &data,
                                     NULL, p), APR_SUCCESS);
    ck_assert_str_eq(data, "CHAIN2");
    ck_assert_int_eq(acme_store_load(st, ACME_GROUP_LIVE, "example.org", "key.pem", &data,
                                     NULL, p), APR_SUCCESS);
    ck_assert_str_eq(data, "KEY2");
    /* exactly the new set: meta.json of the first set is gone from live */
    ck_assert_int_eq(acme_store_load(st, ACME_GROUP_LIVE, "example.org", "meta.json", &data,
                                     NULL, p), APR_ENOENT);
    ck_assert_int_eq(count_entries(P(&fx, "live"), &dots), 1);
    ck_assert_int_eq(dots, 1);   /* only the other name's temp dir is left */
    ck_assert(!exists(P(&fx, "live/.example.org.new-0123456789abcdef")));

    /* archive holds the first set under a UTC timestamp */
    ck_assert_int_eq(st->list(st, ACME_GROUP_ARCHIVE, &names, p), APR_SUCCESS);
    ck_assert_int_eq(names->nelts, 1);
    ck_assert_str_eq(APR_ARRAY_IDX(names, 0, const char *), "example.org");
    apr_dir_t *d;
    apr_finfo_t fi;
    const char *stamp = NULL;
    ck_assert_int_eq(apr_dir_open(&d, P(&fx, "archive/example.org"), p), APR_SUCCESS);
    while (apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS) {
        if (fi.name[0] != '.') {
            stamp = apr_pstrdup(p, fi.name);
        }
    }
    apr_dir_close(d);
    ck_assert_ptr_nonnull(stamp);
    ck_assert_uint_eq(strlen(stamp), 16);           /* YYYYmmddTHHMMSSZ */
    ck_assert_int_eq(stamp[8], 'T');
    ck_assert_int_eq(stamp[15], 'Z');
    ck_assert_int_eq(acme_file_read(&data, NULL, apr_pstrcat(p, P(&fx, "archive/example.org/"),
                                                             stamp, "/chain.pem", NULL), p),
                     APR_SUCCESS);
    ck_assert_str_eq(data, "CHAIN1");
    ck_assert_int_eq(acme_file_read(&data, NULL, apr_pstrcat(p, P(&fx, "archive/example.org/"),
                                                             stamp, "/meta.json", NULL), p),
                     APR_SUCCESS);

    /* two more installs within the same second: -2, -3 suffixes, nothing lost */
    ck_assert_int_eq(st->install_live(st, "example.org", set1, 3, p), APR_SUCCESS);
    ck_assert_int_eq(st->install_live(st, "example.org", set2, 2, p), APR_SUCCESS);
    ck_assert_int_eq(count_entries(P(&fx, "archive/example.org"), &dots), 3);
    ck_assert_int_eq(dots, 0);

    /* invalid blobs: nothing changes */
    acme_store_blob_t bad[2] = { { "chain.pem", "X", 1 }, { "../evil", "X", 1 } };
    ck_assert_int_eq(st->install_live(st, "example.org", bad, 2, p), APR_EINVAL);
    ck_assert_int_eq(st->install_live(st, "example.org", bad, 0, p), APR_EINVAL);
    acme_store_blob_t dup[2] = { { "chain.pem", "X", 1 }, { "chain.pem", "Y", 1 } };
    ck_assert_int_eq(st->install_live(st, "example.org", dup, 2, p), APR_EINVAL);
    ck_assert_int_eq(acme_store_load(st, ACME_GROUP_LIVE, "example.org", "chain.pem", &data,
                                     NULL, p), APR_SUCCESS);
    ck_assert_str_eq(data, "CHAIN2");
    ck_assert_int_eq(count_entries(P(&fx, "live"), &dots), 1);
    ck_assert_int_eq(dots, 1);
    fx_done(&fx);
}
END_TEST

START_TEST(test_archive)
{
    fixture_t fx;
    fx_init(&fx, 022);
    acme_store_t *st = fx.st;
    apr_pool_t *p = fx.pool;
    apr_array_header_t *names;

    ck_assert_int_eq(acme_store_fs_setup(st, -1, -1, p), APR_SUCCESS);
    ck_assert_int_eq(acme_store_save(st, ACME_GROUP_STAGING, "site", "chain.pem", "C", 1, p),
                     APR_SUCCESS);
    ck_assert_int_eq(st->archive(st, ACME_GROUP_STAGING, "site", p), APR_SUCCESS);
    ck_assert(!exists(P(&fx, "staging/site")));
    ck_assert_int_eq(st->list(st, ACME_GROUP_STAGING, &names, p), APR_SUCCESS);
    ck_assert_int_eq(names->nelts, 0);
    ck_assert_int_eq(count_entries(P(&fx, "archive/site"), NULL), 1);

    ck_assert_int_eq(acme_store_save(st, ACME_GROUP_STAGING, "site", "chain.pem", "D", 1, p),
                     APR_SUCCESS);
    ck_assert_int_eq(st->archive(st, ACME_GROUP_STAGING, "site", p), APR_SUCCESS);
    ck_assert_int_eq(count_entries(P(&fx, "archive/site"), NULL), 2);

    ck_assert_int_eq(st->archive(st, ACME_GROUP_STAGING, "site", p), APR_ENOENT);
    ck_assert_int_eq(st->archive(st, ACME_GROUP_ARCHIVE, "site", p), APR_EINVAL);
    ck_assert_int_eq(st->archive(st, ACME_GROUP_STAGING, "..", p), APR_EINVAL);
    fx_done(&fx);
}
END_TEST

START_TEST(test_invalid_names)
{
    fixture_t fx;
    fx_init(&fx, 022);
    acme_store_t *st = fx.st;
    apr_pool_t *p = fx.pool;
    static const char *const bad[] = { "", ".", "..", "a/b", "/abs", "../x", ".hidden", "x/" };
    char *data;
    void *lock;
    acme_store_blob_t blob = { "chain.pem", "C", 1 };

    ck_assert_int_eq(acme_store_fs_setup(st, -1, -1, p), APR_SUCCESS);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *b = bad[i];
        ck_assert_int_eq(acme_store_save(st, ACME_GROUP_ORDERS, b, "a", "x", 1, p), APR_EINVAL);
        ck_assert_int_eq(acme_store_save(st, ACME_GROUP_ORDERS, "n", b, "x", 1, p), APR_EINVAL);
        ck_assert_int_eq(acme_store_load(st, ACME_GROUP_ORDERS, b, "a", &data, NULL, p),
                         APR_EINVAL);
        ck_assert_int_eq(acme_store_load(st, ACME_GROUP_ORDERS, "n", b, &data, NULL, p),
                         APR_EINVAL);
        ck_assert_int_eq(acme_store_remove(st, ACME_GROUP_ORDERS, b, NULL, p), APR_EINVAL);
        ck_assert_int_eq(acme_store_remove(st, ACME_GROUP_ORDERS, "n", b, p), APR_EINVAL);
        ck_assert_ptr_null(st->path(st, ACME_GROUP_ORDERS, b, NULL, p));
        ck_assert_ptr_null(st->path(st, ACME_GROUP_ORDERS, "n", b, p));
        ck_assert_int_eq(st->install_live(st, b, &blob, 1, p), APR_EINVAL);
        ck_assert_int_eq(st->archive(st, ACME_GROUP_ORDERS, b, p), APR_EINVAL);
        ck_assert_int_eq(st->lock(st, b, 0, &lock, p), APR_EINVAL);
    }
    ck_assert_int_eq(acme_store_save(st, ACME_GROUP_ORDERS, NULL, "a", "x", 1, p), APR_EINVAL);
    ck_assert_int_eq(acme_store_save(st, ACME_GROUP_ORDERS, "n", NULL, "x", 1, p), APR_EINVAL);
    ck_assert_int_eq(acme_store_save(st, ACME_GROUP_COUNT, "n", "a", "x", 1, p), APR_EINVAL);
    /* nothing escaped into the tree */
    ck_assert_int_eq(count_entries(P(&fx, "orders"), NULL), 0);
    ck_assert_int_eq(count_entries(fx.root, NULL), 1);
    fx_done(&fx);
}
END_TEST

START_TEST(test_lock_fork)
{
    fixture_t fx;
    fx_init(&fx, 022);
    acme_store_t *st = fx.st;
    apr_pool_t *p = fx.pool;
    void *lock = NULL;
    int ready[2], go[2];
    char c = 0;

    ck_assert_int_eq(acme_store_fs_setup(st, -1, -1, p), APR_SUCCESS);
    ck_assert_int_eq(pipe(ready), 0);
    ck_assert_int_eq(pipe(go), 0);
    pid_t pid = fork();
    ck_assert_int_ne(pid, -1);
    if (pid == 0) {
        apr_pool_t *cp;
        void *clock;
        int rc = 1;
        apr_pool_create(&cp, NULL);
        if (st->lock(st, "site", 1, &clock, cp) == APR_SUCCESS) {
            rc = 0;
        }
        c = rc ? 'n' : 'y';
        if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1) {
            rc = 2;
        }
        _exit(rc);   /* exit holding the lock: the kernel releases it */
    }
    ck_assert_int_eq(read(ready[0], &c, 1), 1);
    ck_assert_int_eq(c, 'y');

    ck_assert_int_eq(st->lock(st, "site", 0, &lock, p), APR_EAGAIN);
    ck_assert_ptr_null(lock);
    ck_assert_int_eq(st->lock(st, "site", 0, &lock, p), APR_EAGAIN);   /* twice */
    /* other names are independent */
    ck_assert_int_eq(st->lock(st, "other", 0, &lock, p), APR_SUCCESS);
    ck_assert_int_eq(st->unlock(st, lock), APR_SUCCESS);

    ck_assert_int_eq(write(go[1], "x", 1), 1);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    ck_assert_int_eq(st->lock(st, "site", 0, &lock, p), APR_SUCCESS);

    /* Now the parent holds it. A forked child using the inherited store object (its
     * registry says "held by another pid") fails a non-waiting lock, and destroying the
     * inherited lock's pool in the child must not release the parent's lock. */
    pid = fork();
    ck_assert_int_ne(pid, -1);
    if (pid == 0) {
        apr_pool_t *cp;
        void *clock;
        apr_pool_create(&cp, NULL);
        int rc = (st->lock(st, "site", 0, &clock, cp) == APR_EAGAIN) ? 0 : 1;
        apr_pool_destroy(p);      /* runs the inherited lock's cleanup */
        _exit(rc);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* a separate process with its own store object: still held by the parent */
    pid = fork();
    ck_assert_int_ne(pid, -1);
    if (pid == 0) {
        apr_pool_t *cp;
        acme_store_t *cst;
        void *clock;
        apr_pool_create(&cp, NULL);
        if (acme_store_fs_create(&cst, cp, fx.dir) != APR_SUCCESS) {
            _exit(2);
        }
        _exit(cst->lock(cst, "site", 0, &clock, cp) == APR_EAGAIN ? 0 : 1);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_int_eq(st->unlock(st, lock), APR_SUCCESS);

    /* released: a child gets it, blocking or not */
    pid = fork();
    ck_assert_int_ne(pid, -1);
    if (pid == 0) {
        apr_pool_t *cp;
        acme_store_t *cst;
        void *clock;
        apr_pool_create(&cp, NULL);
        if (acme_store_fs_create(&cst, cp, fx.dir) != APR_SUCCESS) {
            _exit(2);
        }
        _exit(cst->lock(cst, "site", 0, &clock, cp) == APR_SUCCESS ? 0 : 1);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* a waiting lock blocks until the holder (another process) lets go */
    ck_assert_int_eq(st->lock(st, "site", 0, &lock, p), APR_SUCCESS);
    pid = fork();
    ck_assert_int_ne(pid, -1);
    if (pid == 0) {
        apr_pool_t *cp;
        acme_store_t *cst;
        void *clock;
        apr_pool_create(&cp, NULL);
        if (acme_store_fs_create(&cst, cp, fx.dir) != APR_SUCCESS) {
            _exit(2);
        }
        apr_time_t t0 = apr_time_now();
        if (cst->lock(cst, "site", 1, &clock, cp) != APR_SUCCESS) {
            _exit(1);
        }
        _exit(apr_time_now() - t0 >= apr_time_from_msec(150) ? 0 : 3);
    }
    apr_sleep(apr_time_from_msec(300));
    ck_assert_int_eq(st->unlock(st, lock), APR_SUCCESS);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    close(ready[0]);
    close(ready[1]);
    close(go[0]);
    close(go[1]);
    fx_done(&fx);
}
END_TEST

START_TEST(test_lock_in_process)
{
    fixture_t fx;
    fx_init(&fx, 022);
    acme_store_t *st = fx.st;
    apr_pool_t *p = fx.pool, *lp;
    void *l1, *l2;

    /* fcntl locks alone would let a second lock in the same process succeed; the store
     * makes it exclusive per lock object */
    ck_assert_int_eq(st->lock(st, "site", 0, &l1, p), APR_SUCCESS);
    ck_assert_int_eq(st->lock(st, "site", 0, &l2, p), APR_EAGAIN);
    ck_assert_int_eq(st->unlock(st, l1), APR_SUCCESS);
    ck_assert_int_eq(st->lock(st, "site", 0, &l2, p), APR_SUCCESS);
    ck_assert_int_eq(st->unlock(st, l2), APR_SUCCESS);
    ck_assert_int_eq(st->unlock(st, l2), APR_EINVAL);     /* already released */

    /* destroying the lock's pool releases it */
    apr_pool_create(&lp, p);
    ck_assert_int_eq(st->lock(st, "site", 1, &l1, lp), APR_SUCCESS);
    apr_pool_destroy(lp);
    ck_assert_int_eq(st->lock(st, "site", 0, &l2, p), APR_SUCCESS);
    ck_assert_int_eq(st->unlock(st, l2), APR_SUCCESS);
    fx_done(&fx);
}
END_TEST

START_TEST(test_secret)
{
    fixture_t fx;
    fx_init(&fx, 022);
    acme_store_t *st = fx.st;
    apr_pool_t *p = fx.pool;
    unsigned char s1[32], s2[32], zero[32] = { 0 };
    char *data;
    apr_size_t len;

    ck_assert_int_eq(acme_store_fs_setup(st, -1, -1, p), APR_SUCCESS);
    ck_assert_int_eq(acme_store_fs_secret(st, s1, p), APR_SUCCESS);
    ck_assert_int_ne(memcmp(s1, zero, 32), 0);
    const char *path = P(&fx, "system/secret/secret.key");
    ck_assert_int_eq(mode_of(path), 0600);
    ck_assert_int_eq(acme_file_read(&data, &len, path, p), APR_SUCCESS);
    ck_assert_uint_eq(len, 32);
    ck_assert_int_eq(memcmp(data, s1, 32), 0);
    int dots;
    ck_assert_int_eq(count_entries(P(&fx, "system/secret"), &dots), 1);
    ck_assert_int_eq(dots, 0);

    /* loaded identically, also by another store object */
    ck_assert_int_eq(acme_store_fs_secret(st, s2, p), APR_SUCCESS);
    ck_assert_int_eq(memcmp(s1, s2, 32), 0);
    acme_store_t *st2;
    ck_assert_int_eq(acme_store_fs_create(&st2, p, fx.dir), APR_SUCCESS);
    memset(s2, 0, 32);
    ck_assert_int_eq(acme_store_fs_secret(st2, s2, p), APR_SUCCESS);
    ck_assert_int_eq(memcmp(s1, s2, 32), 0);

    /* a wrong-sized secret is an error and is never replaced */
    write_raw(path, s1, 31);
    ck_assert_int_ne(acme_store_fs_secret(st, s2, p), APR_SUCCESS);
    ck_assert_int_eq(acme_file_read(&data, &len, path, p), APR_SUCCESS);
    ck_assert_uint_eq(len, 31);
    write_raw(path, "0123456789012345678901234567890123", 33);
    ck_assert_int_ne(acme_store_fs_secret(st, s2, p), APR_SUCCESS);
    write_raw(path, "", 0);
    ck_assert_int_ne(acme_store_fs_secret(st, s2, p), APR_SUCCESS);
    fx_done(&fx);
}
END_TEST

/* Damage the admin might find: a file where a group directory belongs is moved aside (not
 * lost), a directory in locks/ is removed, real lock files stay. */
START_TEST(test_setup_repairs)
{
    fixture_t fx;
    fx_init(&fx, 022);
    acme_store_t *st = fx.st;
    apr_pool_t *p = fx.pool;
    void *lk;

    ck_assert_int_eq(acme_store_fs_setup(st, -1, -1, p), APR_SUCCESS);
    ck_assert_int_eq(remove(P(&fx, "live")), 0);
    write_raw(P(&fx, "live"), "oops", 4);
    ck_assert_int_eq(mkdir(P(&fx, "locks/x.lock"), 0700), 0);
    write_raw(P(&fx, "locks/y.lock"), "", 0);
    ck_assert_int_eq(acme_store_fs_setup(st, -1, -1, p), APR_SUCCESS);
    ck_assert_int_eq(mode_of(P(&fx, "live")), 0700);
    ck_assert_int_eq(count_entries(fx.dir, NULL), 9);   /* 8 groups + live.damaged-... */
    ck_assert(!exists(P(&fx, "locks/x.lock")));
    ck_assert(exists(P(&fx, "locks/y.lock")));
    ck_assert_int_eq(st->lock(st, "x", 0, &lk, p), APR_SUCCESS);
    ck_assert_int_eq(st->unlock(st, lk), APR_SUCCESS);
    fx_done(&fx);
}
END_TEST

/* archive/<name>/ sets newest first, -n suffixes as numbers. */
START_TEST(test_archived_order)
{
    fixture_t fx;
    fx_init(&fx, 022);
    acme_store_t *st = fx.st;
    apr_pool_t *p = fx.pool;
    apr_array_header_t *dirs;
    const char *names[] = { "20261130T050000Z", "20261130T050000Z-2", "20261130T050000Z-10",
                            "20251231T235959Z", "20261201T000000Z" };
    const char *want[] = { "20261201T000000Z", "20261130T050000Z-10", "20261130T050000Z-2",
                           "20261130T050000Z", "20251231T235959Z" };

    ck_assert_int_eq(acme_store_fs_setup(st, -1, -1, p), APR_SUCCESS);
    ck_assert_int_eq(acme_store_fs_archived(&dirs, st, "a.example", p), APR_SUCCESS);
    ck_assert_int_eq(dirs->nelts, 0);
    ck_assert_int_eq(mkdir(P(&fx, "archive/a.example"), 0700), 0);
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(mkdir(P(&fx, apr_pstrcat(p, "archive/a.example/", names[i], NULL)),
                               0700), 0);
    }
    write_raw(P(&fx, "archive/a.example/stray"), "x", 1);
    ck_assert_int_eq(acme_store_fs_archived(&dirs, st, "a.example", p), APR_SUCCESS);
    ck_assert_int_eq(dirs->nelts, 5);
    for (int i = 0; i < 5; i++) {
        ck_assert_str_eq(APR_ARRAY_IDX(dirs, i, const char *),
                         P(&fx, apr_pstrcat(p, "archive/a.example/", want[i], NULL)));
    }
    ck_assert_int_eq(acme_store_fs_archived(&dirs, st, "../x", p), APR_EINVAL);
    fx_done(&fx);
}
END_TEST

/* copy(): a link, not a new file (same inode, 0600 under any umask), replacing what the
 * target held, independent of the source afterwards, no temporary name left behind; a
 * missing source is APR_ENOENT and leaves the target as it was. */
START_TEST(test_copy_links)
{
    fixture_t fx;
    fx_init(&fx, 000);
    acme_store_t *st = fx.st;
    apr_pool_t *p = fx.pool;
    struct stat a, b;
    char *data = NULL;
    apr_size_t len = 0;
    int dots = -1;

    ck_assert_int_eq(acme_store_fs_setup(st, -1, -1, p), APR_SUCCESS);
    ck_assert_ptr_nonnull(st->copy);
    ck_assert_int_eq(acme_store_save(st, ACME_GROUP_ORDERS, "a.example", "key.sealed",
                                     "KEY1", 4, p), APR_SUCCESS);
    ck_assert_int_eq(acme_store_save(st, ACME_GROUP_STAGING, "a.example", "key.sealed",
                                     "OLD", 3, p), APR_SUCCESS);
    ck_assert_int_eq(acme_store_copy(st, ACME_GROUP_ORDERS, ACME_GROUP_STAGING, "a.example",
                                     "key.sealed", p), APR_SUCCESS);
    ck_assert_int_eq(lstat(P(&fx, "orders/a.example/key.sealed"), &a), 0);
    ck_assert_int_eq(lstat(P(&fx, "staging/a.example/key.sealed"), &b), 0);
    ck_assert(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
    ck_assert_int_eq(mode_of(P(&fx, "staging/a.example/key.sealed")), 0600);
    ck_assert_int_eq(acme_store_load(st, ACME_GROUP_STAGING, "a.example", "key.sealed", &data,
                                     &len, p), APR_SUCCESS);
    ck_assert_uint_eq(len, 4);
    ck_assert_str_eq(data, "KEY1");
    ck_assert_int_eq(count_entries(P(&fx, "staging/a.example"), &dots), 1);
    ck_assert_int_eq(dots, 0);
    /* the source replaced, then removed: the copy keeps its value */
    ck_assert_int_eq(acme_store_save(st, ACME_GROUP_ORDERS, "a.example", "key.sealed",
                                     "KEY2", 4, p), APR_SUCCESS);
    ck_assert_int_eq(acme_store_remove(st, ACME_GROUP_ORDERS, "a.example", NULL, p),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_store_load(st, ACME_GROUP_STAGING, "a.example", "key.sealed", &data,
                                     &len, p), APR_SUCCESS);
    ck_assert_str_eq(data, "KEY1");
    /* a new entry directory is made; a missing source changes nothing */
    ck_assert_int_eq(acme_store_copy(st, ACME_GROUP_ORDERS, ACME_GROUP_STAGING, "a.example",
                                     "key.sealed", p), APR_ENOENT);
    ck_assert_int_eq(acme_store_load(st, ACME_GROUP_STAGING, "a.example", "key.sealed", &data,
                                     &len, p), APR_SUCCESS);
    ck_assert_str_eq(data, "KEY1");
    ck_assert_int_eq(count_entries(P(&fx, "staging/a.example"), &dots), 1);
    ck_assert_int_eq(dots, 0);
    ck_assert_int_eq(acme_store_save(st, ACME_GROUP_ORDERS, "b.example", "chain.pem",
                                     "C", 1, p), APR_SUCCESS);
    ck_assert_int_eq(acme_store_copy(st, ACME_GROUP_ORDERS, ACME_GROUP_STAGING, "b.example",
                                     "chain.pem", p), APR_SUCCESS);
    ck_assert_int_eq(mode_of(P(&fx, "staging/b.example")), 0700);
    ck_assert_int_eq(acme_store_copy(st, ACME_GROUP_ORDERS, ACME_GROUP_STAGING, "b.example",
                                     "../x", p), APR_EINVAL);
    ck_assert_int_eq(acme_store_copy(st, ACME_GROUP_ORDERS, ACME_GROUP_STAGING, "b.example",
                                     NULL, p), APR_EINVAL);
    /* a store without copy(): load + save */
    {
        acme_store_t plain = *st;
        plain.copy = NULL;
        ck_assert_int_eq(acme_store_copy(&plain, ACME_GROUP_ORDERS, ACME_GROUP_STAGING,
                                         "b.example", "chain.pem", p), APR_SUCCESS);
        ck_assert_int_eq(lstat(P(&fx, "orders/b.example/chain.pem"), &a), 0);
        ck_assert_int_eq(lstat(P(&fx, "staging/b.example/chain.pem"), &b), 0);
        ck_assert(a.st_ino != b.st_ino);
    }
    fx_done(&fx);
}
END_TEST

Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("fs");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_group_names);
    tcase_add_test(tc, test_roundtrip);
    tcase_add_test(tc, test_modes_umask022);
    tcase_add_test(tc, test_modes_umask077);
    tcase_add_test(tc, test_modes_umask000);
    tcase_add_test(tc, test_setup_refuses);
    tcase_add_test(tc, test_setup_chown);
    tcase_add_test(tc, test_install_live);
    tcase_add_test(tc, test_archive);
    tcase_add_test(tc, test_invalid_names);
    tcase_add_test(tc, test_lock_fork);
    tcase_add_test(tc, test_lock_in_process);
    tcase_add_test(tc, test_secret);
    tcase_add_test(tc, test_setup_repairs);
    tcase_add_test(tc, test_archived_order);
    tcase_add_test(tc, test_copy_links);
    suite_add_tcase(s, tc);
    return s;
}
