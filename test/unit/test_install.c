/* Unit tests for acme_install: a staged set is verified (every rule of
 * acme_verify_set_rules) and installed live atomically, 0600, the previous set archived;
 * a bad one is refused with its reason and archived. Real CA chain from data/chain/.
 * Each test works in its own mkdtemp store. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <apr_strings.h>

#include "tests.h"
#include "acme.h"
#include "acme_cert.h"
#include "acme_crypto.h"
#include "acme_install.h"
#include "acme_store.h"
#include "acme_util.h"
#include "acme_verify.h"

#define ID "a.test"

static apr_pool_t *pool;
static char root[64];
static acme_store_t *st;
static unsigned char secret[ACME_SECRET_LEN];
static const char *leaf, *inter, *ca_root, *leaf_key;
static apr_array_header_t *names;

static const char *data_file(const char *name)
{
    char *data;
    apr_size_t len;
    ck_assert_int_eq(acme_file_read(&data, &len, apr_pstrcat(pool, TEST_DATA_DIR "/chain/",
                                                             name, NULL), pool),
                     APR_SUCCESS);
    return data;
}

static void setup(void)
{
    apr_pool_create(&pool, NULL);
    strcpy(root, "/tmp/acme-install-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
    ck_assert_int_eq(acme_store_fs_create(&st, pool, apr_pstrcat(pool, root, "/acme", NULL)),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_store_fs_setup(st, -1, -1, pool), APR_SUCCESS);
    ck_assert_int_eq(acme_random_bytes(secret, sizeof(secret)), APR_SUCCESS);
    leaf = data_file("leaf.pem");
    inter = data_file("inter.pem");
    ca_root = data_file("root.pem");
    leaf_key = data_file("leaf.key");
    names = apr_array_make(pool, 2, sizeof(const char *));
    APR_ARRAY_PUSH(names, const char *) = "www.a.test";
    APR_ARRAY_PUSH(names, const char *) = "a.test";
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void teardown(void)
{
    nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    apr_pool_destroy(pool);
}

/* staging/a.test as the worker writes it: chain.pem, the key sealed, meta.json last. */
static void stage(const char *chain, const char *key_pem, apr_ssize_t sealed_cut)
{
    char *sealed;
    apr_size_t slen;
    const char *meta = "{\"names\":[\"a.test\",\"www.a.test\"],\"key\":\"p256\"}";

    ck_assert_int_eq(acme_seal(&sealed, &slen, pool, secret, key_pem, strlen(key_pem)),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_store_save(st, ACME_GROUP_STAGING, ID, "chain.pem", chain,
                                     strlen(chain), pool), APR_SUCCESS);
    ck_assert_int_eq(acme_store_save(st, ACME_GROUP_STAGING, ID, "key.sealed", sealed,
                                     slen - (apr_size_t)sealed_cut, pool), APR_SUCCESS);
    ck_assert_int_eq(acme_store_save(st, ACME_GROUP_STAGING, ID, "meta.json", meta,
                                     strlen(meta), pool), APR_SUCCESS);
}

static int exists(acme_group_t g, const char *aspect)
{
    char *data;
    return acme_store_load(st, g, ID, aspect, &data, NULL, pool) == APR_SUCCESS;
}

static int archived_count(void)
{
    apr_array_header_t *dirs;
    ck_assert_int_eq(acme_store_fs_archived(&dirs, st, ID, pool), APR_SUCCESS);
    return dirs->nelts;
}

/* A refused staged set: reason and file named, archived, live untouched. */
static acme_install_t *refuse(apr_time_t now, apr_status_t status, const char *file,
                              const char *part)
{
    acme_install_t *res;
    int before = archived_count();

    /* the check alone changes nothing */
    ck_assert_int_eq(acme_install_check(&res, pool, st, ID, names, secret, now), status);
    ck_assert_int_eq(res->outcome, ACME_INSTALL_REFUSED);
    ck_assert(exists(ACME_GROUP_STAGING, "meta.json"));
    ck_assert_int_eq(acme_install_staged(&res, pool, st, ID, names, secret, now), status);
    ck_assert_int_eq(res->outcome, ACME_INSTALL_REFUSED);
    ck_assert_int_eq(res->status, status);
    ck_assert_str_eq(res->bad_file, file);
    ck_assert_msg(res->why && strstr(res->why, part), "why '%s' lacks '%s'", res->why, part);
    ck_assert_ptr_null(strstr(res->why, "PRIVATE"));
    ck_assert_int_eq(res->archived, 1);
    ck_assert(!exists(ACME_GROUP_STAGING, "meta.json"));
    ck_assert(!exists(ACME_GROUP_LIVE, "chain.pem"));
    ck_assert_int_eq(archived_count(), before + 1);
    return res;
}

START_TEST(install_good_set)
{
    acme_install_t *res;
    apr_time_t now = apr_time_now();
    const char *live_key = st->path(st, ACME_GROUP_LIVE, ID, "key.pem", pool);
    apr_array_header_t *dirs;
    char *data;
    apr_size_t len;
    struct stat sb;

    stage(apr_pstrcat(pool, leaf, inter, NULL), leaf_key, 0);
    ck_assert_int_eq(acme_install_check(&res, pool, st, ID, names, secret, now), APR_SUCCESS);
    ck_assert_int_eq(res->outcome, ACME_INSTALL_PASSES);
    ck_assert(exists(ACME_GROUP_STAGING, "key.sealed"));
    ck_assert(!exists(ACME_GROUP_LIVE, "key.pem"));

    ck_assert_int_eq(acme_install_staged(&res, pool, st, ID, names, secret, now), APR_SUCCESS);
    ck_assert_int_eq(res->outcome, ACME_INSTALL_ACTIVATED);
    ck_assert_str_eq(res->leaf->serial, "03");
    ck_assert(!exists(ACME_GROUP_STAGING, "meta.json"));
    ck_assert_int_eq(archived_count(), 0);          /* nothing was live before */
    /* live: the unsealed key, 0600, ours; the chain as staged; meta.json */
    ck_assert_int_eq(stat(live_key, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 07777, 0600);
    ck_assert_int_eq(sb.st_uid, geteuid());
    ck_assert_int_eq(acme_store_load(st, ACME_GROUP_LIVE, ID, "key.pem", &data, &len, pool),
                     APR_SUCCESS);
    ck_assert_str_eq(data, leaf_key);
    ck_assert_int_eq(acme_store_load(st, ACME_GROUP_LIVE, ID, "chain.pem", &data, &len, pool),
                     APR_SUCCESS);
    ck_assert_str_eq(data, apr_pstrcat(pool, leaf, inter, NULL));
    ck_assert(exists(ACME_GROUP_LIVE, "meta.json"));

    /* the next one: the previous live set moves to the archive, whole */
    stage(apr_pstrcat(pool, leaf, inter, ca_root, NULL), leaf_key, 0);
    ck_assert_int_eq(acme_install_staged(&res, pool, st, ID, names, secret, now), APR_SUCCESS);
    ck_assert_int_eq(res->outcome, ACME_INSTALL_ACTIVATED);
    ck_assert_int_eq(acme_store_fs_archived(&dirs, st, ID, pool), APR_SUCCESS);
    ck_assert_int_eq(dirs->nelts, 1);
    ck_assert_int_eq(acme_file_read(&data, &len, apr_pstrcat(pool, APR_ARRAY_IDX(dirs, 0,
                                                                              const char *),
                                                             "/chain.pem", NULL), pool),
                     APR_SUCCESS);
    ck_assert_str_eq(data, apr_pstrcat(pool, leaf, inter, NULL));
    ck_assert_int_eq(stat(apr_pstrcat(pool, APR_ARRAY_IDX(dirs, 0, const char *), "/key.pem",
                                      NULL), &sb), 0);
    ck_assert_int_eq(sb.st_mode & 07777, 0600);
    ck_assert_int_eq(stat(live_key, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 07777, 0600);
}
END_TEST

START_TEST(install_nothing_staged)
{
    acme_install_t *res;
    const char *chain = apr_pstrcat(pool, leaf, inter, NULL);

    ck_assert_int_eq(acme_install_staged(&res, pool, st, ID, names, secret, apr_time_now()),
                     APR_SUCCESS);
    ck_assert_int_eq(res->outcome, ACME_INSTALL_NOTHING);
    /* still being written: no meta.json yet, so it is not touched */
    ck_assert_int_eq(acme_store_save(st, ACME_GROUP_STAGING, ID, "chain.pem", chain,
                                     strlen(chain), pool), APR_SUCCESS);
    ck_assert_int_eq(acme_install_staged(&res, pool, st, ID, names, secret, apr_time_now()),
                     APR_SUCCESS);
    ck_assert_int_eq(res->outcome, ACME_INSTALL_NOTHING);
    ck_assert(exists(ACME_GROUP_STAGING, "chain.pem"));
    ck_assert_int_eq(archived_count(), 0);
}
END_TEST

START_TEST(install_wrong_key)
{
    acme_key_t *other;
    const char *opem;
    apr_size_t olen;

    ck_assert_int_eq(acme_key_generate(&other, pool, ACME_KEY_EC_P256), APR_SUCCESS);
    ck_assert_int_eq(acme_key_to_pem(&opem, &olen, pool, other), APR_SUCCESS);
    stage(apr_pstrcat(pool, leaf, inter, NULL), opem, 0);
    refuse(apr_time_now(), ACME_EVERIFY, "key.pem", "private key does not match the "
           "certificate");
}
END_TEST

START_TEST(install_wrong_names)
{
    apr_array_header_t *want = apr_array_make(pool, 1, sizeof(const char *));

    APR_ARRAY_PUSH(want, const char *) = "a.test";
    names = want;
    stage(apr_pstrcat(pool, leaf, inter, NULL), leaf_key, 0);
    refuse(apr_time_now(), ACME_EVERIFY, "chain.pem", "names differ: certificate has a.test "
           "www.a.test, plan wants a.test");
}
END_TEST

START_TEST(install_expired)
{
    acme_install_t *res;
    /* the fixture is valid for 100 years from 2026-11-30 */
    apr_time_t later = apr_time_now() + apr_time_from_sec((apr_time_t)101 * 365 * 86400);

    stage(apr_pstrcat(pool, leaf, inter, NULL), leaf_key, 0);
    res = refuse(later, ACME_EVERIFY, "chain.pem", "certificate expired at 21");
    ck_assert_str_eq(res->leaf->serial, "03");
    stage(apr_pstrcat(pool, leaf, inter, NULL), leaf_key, 0);
    refuse(apr_time_now() - apr_time_from_sec(2 * 86400), ACME_EVERIFY, "chain.pem",
           "certificate not valid until ");
}
END_TEST

START_TEST(install_unparsable_chain)
{
    const char *chain = apr_pstrcat(pool, leaf, inter, NULL);

    stage("garbage\n", leaf_key, 0);
    refuse(apr_time_now(), ACME_EVERIFY, "chain.pem", "chain does not parse");
    /* truncated in the second certificate */
    stage(apr_pstrndup(pool, chain, strlen(chain) - 100), leaf_key, 0);
    refuse(apr_time_now(), ACME_EVERIFY, "chain.pem", "chain does not parse");
}
END_TEST

START_TEST(install_chain_not_signed_by_next)
{
    /* leaf, then the root: the intermediate that signed the leaf is left out */
    stage(apr_pstrcat(pool, leaf, ca_root, NULL), leaf_key, 0);
    refuse(apr_time_now(), ACME_EVERIFY, "chain.pem", "certificate 1 of the chain (CN = "
           "a.test) is not signed by certificate 2");
    /* in the wrong order */
    stage(apr_pstrcat(pool, leaf, ca_root, inter, NULL), leaf_key, 0);
    refuse(apr_time_now(), ACME_EVERIFY, "chain.pem", "out of order");
}
END_TEST

START_TEST(install_leaf_only)
{
    stage(leaf, leaf_key, 0);
    refuse(apr_time_now(), APR_INCOMPLETE, "chain.pem", "the chain holds only the leaf");
}
END_TEST

START_TEST(install_truncated_key)
{
    stage(apr_pstrcat(pool, leaf, inter, NULL), leaf_key, 10);
    refuse(apr_time_now(), ACME_EVERIFY, "key.sealed", "key.sealed ");
    /* sealed under another secret */
    stage(apr_pstrcat(pool, leaf, inter, NULL), leaf_key, 0);
    secret[0] ^= 1;
    refuse(apr_time_now(), ACME_EVERIFY, "key.sealed", "key.sealed ");
    secret[0] ^= 1;
    /* unseals, but to a truncated PEM key */
    stage(apr_pstrcat(pool, leaf, inter, NULL),
          apr_pstrndup(pool, leaf_key, strlen(leaf_key) - 40), 0);
    refuse(apr_time_now(), ACME_EVERIFY, "key.sealed", "holds no private key once unsealed");
}
END_TEST

/* The start-up check uses the same rules: a live set whose chain does not link is
 * damaged, one that links is servable. */
START_TEST(startup_check_same_rules)
{
    acme_set_files_t f;
    acme_set_check_t *c;

    memset(&f, 0, sizeof(f));
    f.chain = apr_pstrcat(pool, leaf, inter, NULL);
    f.chain_len = strlen(f.chain);
    f.key = leaf_key;
    f.key_len = strlen(leaf_key);
    ck_assert_int_eq(acme_verify_set(&c, pool, &f, 1, apr_time_now()), APR_SUCCESS);
    ck_assert_int_eq(c->reason, ACME_SET_OK);
    f.chain = apr_pstrcat(pool, leaf, ca_root, NULL);
    f.chain_len = strlen(f.chain);
    ck_assert_int_eq(acme_verify_set(&c, pool, &f, 0, apr_time_now()), ACME_EVERIFY);
    ck_assert_int_eq(c->reason, ACME_SET_CHAIN_LINK);
    ck_assert_str_eq(c->bad_file, "chain.pem");
    ck_assert_ptr_nonnull(strstr(c->why, "is not a usable chain: certificate 1"));
    f.chain = leaf;
    f.chain_len = strlen(leaf);
    ck_assert_int_eq(acme_verify_set(&c, pool, &f, 0, apr_time_now()), APR_INCOMPLETE);
    ck_assert_int_eq(c->reason, ACME_SET_CHAIN_INCOMPLETE);
}
END_TEST

Suite *install_suite(void)
{
    Suite *s = suite_create("install");
    TCase *tc = tcase_create("install");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, install_good_set);
    tcase_add_test(tc, install_nothing_staged);
    tcase_add_test(tc, install_wrong_key);
    tcase_add_test(tc, install_wrong_names);
    tcase_add_test(tc, install_expired);
    tcase_add_test(tc, install_unparsable_chain);
    tcase_add_test(tc, install_chain_not_signed_by_next);
    tcase_add_test(tc, install_leaf_only);
    tcase_add_test(tc, install_truncated_key);
    tcase_add_test(tc, startup_check_same_rules);
    suite_add_tcase(s, tc);
    return s;
}
