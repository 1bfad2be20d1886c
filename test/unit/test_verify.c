/* Unit tests for acme_verify: which certificate set may be served, which archived set
 * replaces a damaged live one, meta.json checked and rebuilt from the certificate. */
#include <string.h>

#include <apr_strings.h>

#include "tests.h"
#include "acme.h"
#include "acme_cert.h"
#include "acme_crypto.h"
#include "acme_json.h"
#include "acme_util.h"
#include "acme_verify.h"

static apr_pool_t *pool;

static void setup(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

/* A servable set for www.example.org: self-signed chain, its key, valid now-1h..now+days. */
static acme_set_files_t good_set(acme_key_type_t type, int days)
{
    acme_set_files_t f;
    acme_key_t *key;
    const char *cpem, *kpem;
    apr_size_t klen;
    apr_array_header_t *names = apr_array_make(pool, 2, sizeof(const char *));

    APR_ARRAY_PUSH(names, const char *) = "www.example.org";
    APR_ARRAY_PUSH(names, const char *) = "example.org";
    ck_assert_int_eq(acme_key_generate(&key, pool, type), APR_SUCCESS);
    ck_assert_int_eq(acme_selfsigned_create(&cpem, pool, key, "www.example.org", names,
                                            apr_time_from_sec(days * 86400)), APR_SUCCESS);
    ck_assert_int_eq(acme_key_to_pem(&kpem, &klen, pool, key), APR_SUCCESS);
    memset(&f, 0, sizeof(f));
    f.chain = cpem;
    f.chain_len = strlen(cpem);
    f.key = kpem;
    f.key_len = klen;
    return f;
}

static acme_set_check_t *check_bad(const acme_set_files_t *f, int current, apr_time_t now,
                                   const char *file, const char *part)
{
    acme_set_check_t *c;
    ck_assert_int_eq(acme_verify_set(&c, pool, f, current, now), ACME_EVERIFY);
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(c->bad_file, file);
    ck_assert_msg(c->why && strstr(c->why, part), "why '%s' lacks '%s'", c->why, part);
    return c;
}

START_TEST(test_good_set)
{
    acme_set_files_t f = good_set(ACME_KEY_EC_P256, 30);
    acme_set_check_t *c;

    ck_assert_int_eq(acme_verify_set(&c, pool, &f, 1, apr_time_now()), APR_SUCCESS);
    ck_assert_ptr_null(c->bad_file);
    ck_assert_str_eq(c->key_type, "p256");
    ck_assert_ptr_nonnull(c->leaf);
    ck_assert_int_eq(c->leaf->names->nelts, 2);
}
END_TEST

START_TEST(test_damaged_chain)
{
    acme_set_files_t f = good_set(ACME_KEY_EC_P256, 30), g;
    apr_time_t now = apr_time_now();

    g = f;
    g.chain_len = 0;
    check_bad(&g, 0, now, "chain.pem", "empty (0 bytes)");
    g = f;
    g.chain = NULL;
    check_bad(&g, 0, now, "chain.pem", "missing");
    g = f;
    g.chain = NULL;
    g.chain_read_error = "Is a directory";
    check_bad(&g, 0, now, "chain.pem", "cannot be read (Is a directory)");
    g = f;
    g.chain_len = f.chain_len / 2;       /* truncated */
    check_bad(&g, 0, now, "chain.pem", "does not parse");
    g = f;
    g.chain = "garbage\n";
    g.chain_len = 8;
    check_bad(&g, 0, now, "chain.pem", "does not parse");
}
END_TEST

START_TEST(test_damaged_key)
{
    acme_set_files_t f = good_set(ACME_KEY_EC_P256, 30), other = good_set(ACME_KEY_EC_P256, 30);
    acme_set_files_t g;
    acme_set_check_t *c;
    apr_time_t now = apr_time_now();

    g = f;
    g.key_len = 0;
    c = check_bad(&g, 0, now, "key.pem", "empty (0 bytes)");
    ck_assert_ptr_nonnull(c->leaf);      /* the chain's facts are there for the log */
    g = f;
    g.key_len = f.key_len - 40;          /* truncated */
    check_bad(&g, 0, now, "key.pem", "does not parse");
    g = f;
    g.key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    g.key_len = strlen(g.key);
    check_bad(&g, 0, now, "key.pem", "does not parse");
    g = f;
    g.key = other.key;
    g.key_len = other.key_len;
    c = check_bad(&g, 0, now, "key.pem", "does not belong to the certificate");
    ck_assert_ptr_nonnull(strstr(c->why, c->leaf->serial));
    ck_assert_ptr_null(strstr(c->why, "PRIVATE")); /* no key material in the message */
}
END_TEST

START_TEST(test_expired)
{
    acme_set_files_t f = good_set(ACME_KEY_EC_P256, 1);
    acme_set_check_t *c;
    apr_time_t later = apr_time_now() + apr_time_from_sec(3 * 86400);

    /* live: an expired set still serves (the renewal replaces it) */
    ck_assert_int_eq(acme_verify_set(&c, pool, &f, 0, later), APR_SUCCESS);
    /* archived: an expired set is no better than the fallback */
    check_bad(&f, 1, later, "chain.pem", "expired at");
    check_bad(&f, 1, apr_time_now() - apr_time_from_sec(86400), "chain.pem",
              "not valid before");
}
END_TEST

START_TEST(test_key_types)
{
    acme_set_files_t f = good_set(ACME_KEY_EC_P384, 30);
    acme_set_check_t *c;
    char *rsa;
    apr_size_t rlen;
    acme_key_t *key;
    acme_key_type_t t;

    ck_assert_int_eq(acme_verify_set(&c, pool, &f, 1, apr_time_now()), APR_SUCCESS);
    ck_assert_str_eq(c->key_type, "p384");
    ck_assert_int_eq(acme_file_read(&rsa, &rlen, TEST_DATA_DIR "/rsa2048.pem", pool),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_key_from_pem(&key, pool, rsa, rlen), APR_SUCCESS);
    ck_assert_int_eq(acme_key_type_of(&t, key), APR_SUCCESS);
    ck_assert_int_eq(t, ACME_KEY_RSA2048);
}
END_TEST

START_TEST(test_meta_rebuild_and_check)
{
    acme_set_files_t f = good_set(ACME_KEY_EC_P256, 30);
    acme_set_check_t *c;
    const char *text, *why;
    json_t *j;
    apr_time_t now = apr_time_now();
    const char *old = "{\"ca\":\"https://ca.test/dir\",\"names\":[\"x\"],\"staged\":"
                      "\"2026-01-02T03:04:05Z\",\"order\":\"u\",\"profile\":\"shortlived\","
                      "\"profile_fallback\":true}";

    ck_assert_int_eq(acme_verify_set(&c, pool, &f, 0, now), APR_SUCCESS);
    /* damaged meta.json texts: each says what is wrong */
    ck_assert_int_eq(acme_verify_meta(&why, pool, NULL, 0, c), ACME_EVERIFY);
    ck_assert_str_eq(why, "is missing");
    ck_assert_int_eq(acme_verify_meta(&why, pool, "", 0, c), ACME_EVERIFY);
    ck_assert_str_eq(why, "is empty (0 bytes)");
    ck_assert_int_eq(acme_verify_meta(&why, pool, "{\"names\":[\"a", 11, c), ACME_EVERIFY);
    ck_assert_ptr_nonnull(strstr(why, "not valid JSON"));
    ck_assert_int_eq(acme_verify_meta(&why, pool, "[1]", 3, c), ACME_EVERIFY);
    ck_assert_ptr_nonnull(strstr(why, "not a JSON object"));
    ck_assert_int_eq(acme_verify_meta(&why, pool, old, strlen(old), c), ACME_EVERIFY);
    ck_assert_ptr_nonnull(strstr(why, "serial"));

    /* rebuilt from the certificate: passes the check, carries ca and staged over */
    ck_assert_int_eq(acme_verify_meta_rebuild(&text, pool, c, old, strlen(old), now),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_verify_meta(&why, pool, text, strlen(text), c), APR_SUCCESS);
    j = acme_json_parse(pool, text, strlen(text), NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(acme_json_str(j, "ca"), "https://ca.test/dir");
    ck_assert_str_eq(acme_json_str(j, "staged"), "2026-01-02T03:04:05Z");
    ck_assert_str_eq(acme_json_str(j, "profile"), "shortlived");
    ck_assert(json_is_true(json_object_get(j, "profile_fallback")));
    ck_assert_str_eq(acme_json_str(j, "key"), "p256");
    ck_assert_str_eq(acme_json_str(j, "serial"), c->leaf->serial);
    ck_assert_ptr_null(acme_json_str(j, "order"));
    ck_assert_int_eq((int)json_array_size(acme_json_arr(j, "names")), 2);

    /* from a truncated old text: no CA (unknown, so no order because of it) */
    ck_assert_int_eq(acme_verify_meta_rebuild(&text, pool, c, old, 20, now), APR_SUCCESS);
    j = acme_json_parse(pool, text, strlen(text), NULL);
    ck_assert_ptr_null(acme_json_str(j, "ca"));
    ck_assert_int_eq(acme_verify_meta(&why, pool, text, strlen(text), c), APR_SUCCESS);

    /* a key type that does not match key.pem */
    j = acme_json_parse(pool, text, strlen(text), NULL);
    json_object_set_new(j, "key", json_string("rsa2048"));
    text = acme_json_dump(pool, j);
    ck_assert_int_eq(acme_verify_meta(&why, pool, text, strlen(text), c), ACME_EVERIFY);
    ck_assert_ptr_nonnull(strstr(why, "key type rsa2048"));
}
END_TEST

START_TEST(test_pick_archived)
{
    acme_set_files_t sets[4];
    apr_array_header_t *whys;
    apr_time_t now = apr_time_now();

    sets[0] = good_set(ACME_KEY_EC_P256, 30);
    sets[0].key_len = 0;                                  /* newest: damaged */
    sets[1] = good_set(ACME_KEY_EC_P256, 1);              /* expired by "now" below */
    sets[2] = good_set(ACME_KEY_EC_P256, 30);             /* the last good one */
    sets[3] = good_set(ACME_KEY_EC_P256, 60);             /* older, also good */
    now += apr_time_from_sec(2 * 86400);
    ck_assert_int_eq(acme_verify_pick_archived(&whys, pool, sets, 4, now), 2);
    ck_assert_int_eq(whys->nelts, 2);
    ck_assert_ptr_nonnull(strstr(APR_ARRAY_IDX(whys, 0, const char *), "key.pem: is empty"));
    ck_assert_ptr_nonnull(strstr(APR_ARRAY_IDX(whys, 1, const char *), "chain.pem: "
                                 "the certificate expired"));
    ck_assert_int_eq(acme_verify_pick_archived(&whys, pool, sets, 2, now), -1);
    ck_assert_int_eq(acme_verify_pick_archived(NULL, pool, sets, 0, now), -1);
}
END_TEST

Suite *verify_suite(void)
{
    Suite *s = suite_create("verify");
    TCase *tc = tcase_create("verify");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_good_set);
    tcase_add_test(tc, test_damaged_chain);
    tcase_add_test(tc, test_damaged_key);
    tcase_add_test(tc, test_expired);
    tcase_add_test(tc, test_key_types);
    tcase_add_test(tc, test_meta_rebuild_and_check);
    tcase_add_test(tc, test_pick_archived);
    suite_add_tcase(s, tc);
    return s;
}
