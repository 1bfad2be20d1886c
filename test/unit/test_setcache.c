/* Verified live sets by file version (acme_setcache.c): a set is taken as verified only
 * while its three files are the very files that were verified. Files in a mkdtemp
 * directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>
#include <apr_file_io.h>

#include "tests.h"
#include "acme_setcache.h"
#include "acme_store.h"

static apr_pool_t *pool;

static void setup(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

static void put_file(const char *dir, const char *name, const char *text)
{
    FILE *f = fopen(apr_pstrcat(pool, dir, "/", name, NULL), "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void make_set(const char *dir)
{
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    put_file(dir, "chain.pem", "chain");
    put_file(dir, "key.pem", "key");
    put_file(dir, "meta.json", "{}");
}

START_TEST(test_setcache_versions)
{
    char base[] = "/tmp/acme-setcache-test-XXXXXX";
    const char *live, *next, *ari;
    acme_set_version_t v, w;
    acme_setcache_t *c;

    ck_assert_ptr_nonnull(mkdtemp(base));
    live = apr_pstrcat(pool, base, "/live", NULL);
    next = apr_pstrcat(pool, base, "/next", NULL);
    make_set(live);
    ck_assert_int_eq(acme_setcache_create(&c), APR_SUCCESS);

    acme_set_version_read(&v, live, pool);
    ck_assert(v.chain.exists && v.key.exists && v.meta.exists);
    ck_assert(!acme_setcache_get(c, "a.example", &v, &ari));   /* never verified */
    acme_setcache_put(c, "a.example", &v, "QUtJ.AQID");
    acme_set_version_read(&w, live, pool);
    ck_assert(acme_setcache_get(c, "a.example", &w, &ari));    /* the same files */
    ck_assert_str_eq(ari, "QUtJ.AQID");
    ck_assert(!acme_setcache_get(c, "b.example", &w, &ari));   /* another certificate */

    /* the certID of the same files replaced: shorter, longer than the first, none, back */
    acme_setcache_put(c, "a.example", &w, "QQ.AQ");
    ck_assert(acme_setcache_get(c, "a.example", &w, &ari));
    ck_assert_str_eq(ari, "QQ.AQ");
    acme_setcache_put(c, "a.example", &w, apr_psprintf(pool, "%0100d", 5));
    ck_assert(acme_setcache_get(c, "a.example", &w, &ari));
    ck_assert_str_eq(ari, apr_psprintf(pool, "%0100d", 5));
    acme_setcache_put(c, "a.example", &w, NULL);
    ck_assert(acme_setcache_get(c, "a.example", &w, &ari));
    ck_assert_ptr_null(ari);
    acme_setcache_put(c, "a.example", &w, "QUtJ.AQID");
    ck_assert(acme_setcache_get(c, "a.example", &w, &ari));
    ck_assert_str_eq(ari, "QUtJ.AQID");

    /* a write to any file (same size, same second) is another version: its ctime moved
     * or its size did; here the size changes */
    put_file(live, "key.pem", "key2");
    acme_set_version_read(&w, live, pool);
    ck_assert(!acme_setcache_get(c, "a.example", &w, &ari));
    acme_setcache_put(c, "a.example", &w, NULL);
    ck_assert(acme_setcache_get(c, "a.example", &w, &ari));
    ck_assert_ptr_null(ari);

    /* a whole set swapped in by rename (activation): new inodes */
    make_set(next);
    ck_assert_int_eq(rename(live, apr_pstrcat(pool, base, "/old", NULL)), 0);
    ck_assert_int_eq(rename(next, live), 0);
    acme_set_version_read(&v, live, pool);
    ck_assert(!acme_set_version_same(&v, &w));
    ck_assert(!acme_setcache_get(c, "a.example", &v, &ari));

    /* a missing file never matches, not even a recorded missing file */
    ck_assert_int_eq(unlink(apr_pstrcat(pool, live, "/meta.json", NULL)), 0);
    acme_set_version_read(&v, live, pool);
    ck_assert(!v.meta.exists);
    acme_setcache_put(c, "a.example", &v, NULL);
    ck_assert(!acme_setcache_get(c, "a.example", &v, &ari));

    /* drop: verify again */
    put_file(live, "meta.json", "{}");
    acme_set_version_read(&v, live, pool);
    acme_setcache_put(c, "a.example", &v, NULL);
    ck_assert(acme_setcache_get(c, "a.example", &v, &ari));
    acme_setcache_drop(c, "a.example");
    ck_assert(!acme_setcache_get(c, "a.example", &v, &ari));

    /* an over-long certID is not kept (and the entry is not trusted) */
    acme_setcache_put(c, "a.example", &v, apr_psprintf(pool, "%0300d", 7));
    ck_assert(!acme_setcache_get(c, "a.example", &v, &ari));
    ck_assert(!acme_setcache_get(NULL, "a.example", &v, &ari));

    acme_setcache_destroy(c);
    ck_assert_int_eq(system(apr_psprintf(pool, "rm -rf '%s'", base)), 0);
}
END_TEST

START_TEST(test_setcache_in_store)
{
    char base[] = "/tmp/acme-setcache-test-XXXXXX";
    const char *live, *ari;
    acme_set_version_t v;
    acme_setcache_t *c, *d;
    acme_store_t *st;

    ck_assert_ptr_nonnull(mkdtemp(base));
    ck_assert_int_eq(acme_store_fs_create(&st, pool, apr_pstrcat(pool, base, "/store", NULL)),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_store_fs_setup(st, -1, -1, pool), APR_SUCCESS);
    live = apr_pstrcat(pool, base, "/set", NULL);
    make_set(live);
    acme_set_version_read(&v, live, pool);

    /* nothing to save until something changed; a missing file loads nothing */
    ck_assert_int_eq(acme_setcache_create(&c), APR_SUCCESS);
    acme_setcache_load(c, st, pool);
    ck_assert_int_eq(acme_setcache_save(c, st, pool), APR_SUCCESS);
    acme_setcache_put(c, "a.example", &v, "QUtJ.AQID");
    acme_setcache_put(c, "b.example", &v, NULL);
    acme_setcache_drop(c, "b.example");
    ck_assert_int_eq(acme_setcache_save(c, st, pool), APR_SUCCESS);

    /* the next start (another cache) knows a.example at these files, not b.example */
    ck_assert_int_eq(acme_setcache_create(&d), APR_SUCCESS);
    acme_setcache_load(d, st, pool);
    ck_assert(acme_setcache_get(d, "a.example", &v, &ari));
    ck_assert_str_eq(ari, "QUtJ.AQID");
    ck_assert(!acme_setcache_get(d, "b.example", &v, &ari));
    acme_setcache_destroy(d);

    /* a damaged file, or one of another version, is ignored: everything is verified */
    ck_assert_int_eq(acme_store_save(st, ACME_GROUP_SYSTEM, ACME_SETCACHE_ENTRY,
                                     ACME_SETCACHE_ASPECT, "{\"version\":1,\"sets\":", 20,
                                     pool), APR_SUCCESS);
    ck_assert_int_eq(acme_setcache_create(&d), APR_SUCCESS);
    acme_setcache_load(d, st, pool);
    ck_assert(!acme_setcache_get(d, "a.example", &v, &ari));
    acme_setcache_destroy(d);
    ck_assert_int_eq(acme_setcache_save(c, st, pool), APR_SUCCESS); /* not dirty: kept */
    acme_setcache_put(c, "c.example", &v, NULL);
    ck_assert_int_eq(acme_setcache_save(c, st, pool), APR_SUCCESS);
    {
        char *text;
        ck_assert_int_eq(acme_store_load(st, ACME_GROUP_SYSTEM, ACME_SETCACHE_ENTRY,
                                         ACME_SETCACHE_ASPECT, &text, NULL, pool), APR_SUCCESS);
        ck_assert_ptr_nonnull(strstr(text, "a.example"));
        ck_assert_ptr_nonnull(strstr(text, "\"version\":1"));
        /* the same entries under a version this code does not know */
        text = apr_pstrdup(pool, text);
        memcpy(strstr(text, "\"version\":1"), "\"version\":2", 11);
        ck_assert_int_eq(acme_store_save(st, ACME_GROUP_SYSTEM, ACME_SETCACHE_ENTRY,
                                         ACME_SETCACHE_ASPECT, text, strlen(text), pool),
                         APR_SUCCESS);
    }
    ck_assert_int_eq(acme_setcache_create(&d), APR_SUCCESS);
    acme_setcache_load(d, st, pool);
    ck_assert(!acme_setcache_get(d, "a.example", &v, &ari));
    acme_setcache_destroy(d);

    acme_setcache_destroy(c);
    ck_assert_int_eq(system(apr_psprintf(pool, "rm -rf '%s'", base)), 0);
}
END_TEST

Suite *setcache_suite(void)
{
    Suite *s = suite_create("setcache");
    TCase *tc = tcase_create("setcache");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_setcache_versions);
    tcase_add_test(tc, test_setcache_in_store);
    suite_add_tcase(s, tc);
    return s;
}
