/* acme_keyreuse: which key a new order uses (ACMEKeyReuse), and the live key handed to the
 * worker sealed. */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_strings.h>

#include "tests.h"
#include "acme_keyreuse.h"
#include "acme_state.h"
#include "acme_store.h"
#include "acme_util.h"

static apr_pool_t *pool;
static char dir[64];
static unsigned char secret[ACME_SECRET_LEN];

static void setup(void)
{
    apr_pool_create(&pool, NULL);
    strcpy(dir, "/tmp/acme-keyreuse-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(acme_random_bytes(secret, sizeof(secret)), APR_SUCCESS);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void teardown(void)
{
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    apr_pool_destroy(pool);
}

/* A key of type t written to dir/key.pem; its PEM in *ppem. */
static const char *write_key(acme_key_type_t t, const char **ppem)
{
    acme_key_t *key = NULL;
    apr_size_t len = 0;
    const char *path = apr_pstrcat(pool, dir, "/key.pem", NULL);
    FILE *f;

    ck_assert_int_eq(acme_key_generate(&key, pool, t), APR_SUCCESS);
    ck_assert_int_eq(acme_key_to_pem(ppem, &len, pool, key), APR_SUCCESS);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(*ppem, 1, len, f), len);
    fclose(f);
    return path;
}

START_TEST(decide)
{
    const char *why = NULL;
    static const struct {
        int reuse, have_live;
        acme_key_type_t live, want;
        acme_key_choice_t expect;
        const char *why;
    } rows[] = {
        { 0, 1, ACME_KEY_EC_P256, ACME_KEY_EC_P256, ACME_KEY_NEW, "off" },
        { 0, 0, ACME_KEY_EC_P256, ACME_KEY_EC_P256, ACME_KEY_NEW, "off" },
        { 1, 0, ACME_KEY_EC_P256, ACME_KEY_EC_P256, ACME_KEY_NEW, "no usable live key" },
        { 1, 1, ACME_KEY_EC_P256, ACME_KEY_EC_P256, ACME_KEY_REUSE, "live certificate's key" },
        { 1, 1, ACME_KEY_RSA2048, ACME_KEY_RSA2048, ACME_KEY_REUSE, "live certificate's key" },
        { 1, 1, ACME_KEY_EC_P256, ACME_KEY_EC_P384, ACME_KEY_NEW, "key type changed" },
        { 1, 1, ACME_KEY_RSA2048, ACME_KEY_RSA3072, ACME_KEY_NEW, "key type changed" },
        { 1, 1, ACME_KEY_RSA4096, ACME_KEY_EC_P256, ACME_KEY_NEW, "key type changed" },
    };
    size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); ++i) {
        ck_assert_msg(acme_key_reuse_decide(&why, rows[i].reuse, rows[i].have_live,
                                            rows[i].live, rows[i].want) == rows[i].expect,
                      "row %u", (unsigned)i);
        ck_assert_msg(strstr(why, rows[i].why) != NULL, "row %u: %s", (unsigned)i, why);
    }
}
END_TEST

/* Reuse on, same type: the live key sealed; it opens to the same key, for that type only. */
START_TEST(load_and_open)
{
    const char *pem = NULL, *path = write_key(ACME_KEY_EC_P256, &pem), *sealed = NULL;
    const char *why = NULL, *again = NULL;
    apr_size_t slen = 0, len = 0;
    acme_key_t *key = NULL;

    ck_assert_int_eq(acme_key_reuse_load(&sealed, &slen, &why, pool, path, 1, ACME_KEY_EC_P256,
                                         secret), APR_SUCCESS);
    ck_assert_ptr_nonnull(sealed);
    ck_assert(acme_is_sealed(sealed, slen));
    ck_assert_ptr_null(memmem(sealed, slen, "PRIVATE KEY", 11)); /* never in the clear */
    ck_assert_int_eq(acme_key_reuse_open(&key, pool, sealed, slen, ACME_KEY_EC_P256, secret),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_key_to_pem(&again, &len, pool, key), APR_SUCCESS);
    ck_assert_str_eq(again, pem);
    /* a driver spec of another type does not take it */
    ck_assert_int_ne(acme_key_reuse_open(&key, pool, sealed, slen, ACME_KEY_EC_P384, secret),
                     APR_SUCCESS);
    ck_assert_ptr_null(key);
    /* nor under another secret */
    secret[0] ^= 1;
    ck_assert_int_ne(acme_key_reuse_open(&key, pool, sealed, slen, ACME_KEY_EC_P256, secret),
                     APR_SUCCESS);
}
END_TEST

/* Reuse off, another type wanted, no file, a damaged file: nothing sealed (a new key). */
START_TEST(load_new_key)
{
    const char *pem = NULL, *path = write_key(ACME_KEY_EC_P256, &pem), *sealed = "x";
    const char *why = NULL;
    apr_size_t slen = 1;
    FILE *f;

    ck_assert_int_eq(acme_key_reuse_load(&sealed, &slen, &why, pool, path, 0, ACME_KEY_EC_P256,
                                         secret), APR_SUCCESS);
    ck_assert_ptr_null(sealed);
    ck_assert_uint_eq(slen, 0);
    ck_assert_ptr_nonnull(strstr(why, "off"));
    ck_assert_int_eq(acme_key_reuse_load(&sealed, &slen, &why, pool, path, 1, ACME_KEY_RSA2048,
                                         secret), APR_SUCCESS);
    ck_assert_ptr_null(sealed);
    ck_assert_ptr_nonnull(strstr(why, "key type changed"));
    ck_assert_int_eq(acme_key_reuse_load(&sealed, &slen, &why, pool, NULL, 1, ACME_KEY_EC_P256,
                                         secret), APR_SUCCESS);
    ck_assert_ptr_null(sealed);
    ck_assert_ptr_nonnull(strstr(why, "no usable live key"));
    f = fopen(path, "w");
    fputs("-----BEGIN PRIVATE KEY-----\ngarbage\n", f);
    fclose(f);
    ck_assert_int_eq(acme_key_reuse_load(&sealed, &slen, &why, pool, path, 1, ACME_KEY_EC_P256,
                                         secret), APR_SUCCESS);
    ck_assert_ptr_null(sealed);
    ck_assert_ptr_nonnull(strstr(why, "no usable live key"));
}
END_TEST

/* A pending renewal request vetoes reuse only when it asks for a new key (acmectl revoke);
 * the flag survives the record's text form. */
START_TEST(vetoed_by_request)
{
    acme_store_t *st = NULL;
    acme_renew_request_t req = { 0, 0, "acmectl", 0 }, *back = NULL;
    const char *text;

    ck_assert_int_eq(acme_store_fs_create(&st, pool, apr_pstrcat(pool, dir, "/store", NULL)),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_store_fs_setup(st, -1, -1, pool), APR_SUCCESS);
    ck_assert_int_eq(acme_key_reuse_vetoed(st, "a.example", pool), 0); /* no request */
    req.requested = apr_time_now();
    ck_assert_int_eq(acme_request_save(st, "a.example", &req, pool), APR_SUCCESS);
    ck_assert_int_eq(acme_key_reuse_vetoed(st, "a.example", pool), 0); /* acmectl renew */
    req.new_key = 1;
    text = acme_request_text(pool, &req);
    ck_assert_ptr_nonnull(strstr(text, "\"new_key\":true"));
    ck_assert_int_eq(acme_request_parse(&back, pool, text, strlen(text)), APR_SUCCESS);
    ck_assert_int_eq(back->new_key, 1);
    ck_assert_int_eq(acme_request_save(st, "a.example", &req, pool), APR_SUCCESS);
    ck_assert_int_eq(acme_key_reuse_vetoed(st, "a.example", pool), 1); /* acmectl revoke */
    ck_assert_int_eq(acme_key_reuse_vetoed(st, "b.example", pool), 0);
    ck_assert_int_eq(acme_request_clear(st, "a.example", pool), APR_SUCCESS);
    ck_assert_int_eq(acme_key_reuse_vetoed(st, "a.example", pool), 0);
}
END_TEST

Suite *keyreuse_suite(void)
{
    Suite *s = suite_create("keyreuse");
    TCase *tc = tcase_create("keyreuse");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, decide);
    tcase_add_test(tc, load_and_open);
    tcase_add_test(tc, load_new_key);
    tcase_add_test(tc, vetoed_by_request);
    suite_add_tcase(s, tc);
    return s;
}
