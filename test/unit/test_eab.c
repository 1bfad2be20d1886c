/* Unit tests for External Account Binding: HMAC-SHA256 and HS256 on published vectors, the
 * EAB JWS against a known answer computed independently (Python's hmac, hashlib, json and
 * base64 modules over the key below), the key id and key file checks, and newAccount with
 * and without a binding against a scripted CA (fake_http). */
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>
#include <ftw.h>
#include <unistd.h>

#include <apr_strings.h>

#include "tests.h"
#include "fake_http.h"
#include "acme.h"
#include "acme_account.h"
#include "acme_client.h"
#include "acme_crypto.h"
#include "acme_eab.h"
#include "acme_json.h"
#include "acme_jws.h"
#include "acme_store.h"
#include "acme_util.h"

#define CA       "https://ca.test"
#define DIR_URL  CA "/dir"
#define NONCE    CA "/nonce"
#define NEW_ACCT CA "/new-acct"
#define ACCT1    CA "/acct/1"

/* A fixed P-256 account key (its private scalar is SHA-256 of "mod_acme eab test key"). */
static const char account_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQggp59tBi5LLac5g8K\n"
    "aQ6zLijitXoNgweu83oQUKPcVwKhRANCAAR7CGvJUfAJCaRtZR+Knj0msClG1tmx\n"
    "PfI5394FvamMZmGlZPseZ+yCBqMpw4zpadWletc6Q+wig3GOc+r6aMAJ\n"
    "-----END PRIVATE KEY-----\n";
/* pebble's example EAB key (base64url, 48 bytes) */
#define MAC_KEY_B64 "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"
/* The EAB JWS for account_pem, kid "kid-1", url NEW_ACCT, MAC_KEY_B64, from Python:
 * b64(json.dumps(obj, sort_keys=True, separators=(',',':'))) for protected and payload,
 * b64(hmac.new(key, (protected + "." + payload).encode(), hashlib.sha256).digest()). */
static const char kat_protected[] =
    "eyJhbGciOiJIUzI1NiIsImtpZCI6ImtpZC0xIiwidXJsIjoiaHR0cHM6Ly9jYS50ZXN0L25ldy1hY2N0In0";
static const char kat_payload[] =
    "eyJjcnYiOiJQLTI1NiIsImt0eSI6IkVDIiwieCI6ImV3aHJ5Vkh3Q1Fta2JXVWZpcDQ5SnJBcFJ0YlpzVDN5T2Rf"
    "ZUJiMnBqR1kiLCJ5IjoiWWFWay14NW43SUlHb3luRGpPbHAxYVY2MXpwRDdDS0RjWTV6NnZwb3dBayJ9";
static const char kat_signature[] = "uD9Ubip0UZ6ZlmDQjRSiPQhNrDhPGyhBAGeQS8zGZE0";

static apr_pool_t *pool;
static char dir[64];

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void setup(void)
{
    apr_pool_create(&pool, NULL);
    strcpy(dir, "/tmp/acme-eab-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    apr_pool_destroy(pool);
}

static acme_key_t *account_key(void)
{
    acme_key_t *key = NULL;
    ck_assert_int_eq(acme_key_from_pem(&key, pool, account_pem, strlen(account_pem)),
                     APR_SUCCESS);
    return key;
}

static const unsigned char *mac_key(apr_size_t *plen)
{
    unsigned char *k = NULL;
    ck_assert_int_eq(acme_b64url_decode(&k, plen, pool, MAC_KEY_B64), APR_SUCCESS);
    return k;
}

/* ---- HMAC and HS256 -------------------------------------------------------------------- */

START_TEST(hmac_rfc4231_case2)
{
    static const char data[] = "what do ya want for nothing?";
    unsigned char out[32];
    ck_assert_int_eq(acme_hmac_sha256(out, "Jefe", 4, data, strlen(data)), APR_SUCCESS);
    ck_assert_str_eq(acme_hex(pool, out, 32),
                     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    ck_assert_int_eq(acme_hmac_sha256(out, "", 0, data, strlen(data)), APR_EINVAL);
}
END_TEST

/* RFC 7515 A.1: the HS256 example JWS. */
START_TEST(hs256_rfc7515_a1)
{
    static const char prot[] = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9";
    static const char payload[] =
        "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb2"
        "90Ijp0cnVlfQ";
    static const char k[] = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4"
                            "hcgUuTwjAzZr1Z9CAow";
    unsigned char *key, out[32];
    apr_size_t klen;
    const char *input = apr_pstrcat(pool, prot, ".", payload, NULL);

    ck_assert_int_eq(acme_b64url_decode(&key, &klen, pool, k), APR_SUCCESS);
    ck_assert_int_eq(acme_hmac_sha256(out, key, klen, input, strlen(input)), APR_SUCCESS);
    ck_assert_str_eq(acme_b64url_encode(pool, out, 32),
                     "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
}
END_TEST

START_TEST(eab_jws_known_answer)
{
    apr_size_t mlen;
    const unsigned char *mk = mac_key(&mlen);
    json_t *eab = NULL;

    ck_assert_int_eq(mlen, 48);
    ck_assert_int_eq(acme_jws_eab(&eab, pool, account_key(), "kid-1", mk, mlen, NEW_ACCT),
                     APR_SUCCESS);
    ck_assert_str_eq(acme_json_str(eab, "protected"), kat_protected);
    ck_assert_str_eq(acme_json_str(eab, "payload"), kat_payload);
    ck_assert_str_eq(acme_json_str(eab, "signature"), kat_signature);
    ck_assert_int_eq(json_object_size(eab), 3);
    /* no key id, no key, no URL: nothing to bind */
    ck_assert_int_eq(acme_jws_eab(&eab, pool, account_key(), "", mk, mlen, NEW_ACCT),
                     APR_EINVAL);
    ck_assert_int_eq(acme_jws_eab(&eab, pool, account_key(), "kid-1", mk, 0, NEW_ACCT),
                     APR_EINVAL);
    ck_assert_int_eq(acme_jws_eab(&eab, pool, account_key(), "kid-1", mk, mlen, NULL),
                     APR_EINVAL);
}
END_TEST

/* ---- key id and key file checks ------------------------------------------------------- */

START_TEST(kid_checks)
{
    char longkid[300];
    memset(longkid, 'a', sizeof(longkid) - 1);
    longkid[sizeof(longkid) - 1] = '\0';
    ck_assert_ptr_null(acme_eab_kid_problem(pool, "kid-1"));
    ck_assert_ptr_null(acme_eab_kid_problem(pool, "f_eXaMpLe-KiD.0123456789"));
    ck_assert_ptr_nonnull(acme_eab_kid_problem(pool, ""));
    ck_assert_ptr_nonnull(acme_eab_kid_problem(pool, NULL));
    ck_assert_ptr_nonnull(acme_eab_kid_problem(pool, "kid 1"));
    ck_assert_ptr_nonnull(acme_eab_kid_problem(pool, "kid\"1"));
    ck_assert_ptr_nonnull(acme_eab_kid_problem(pool, "kid\x01"));
    ck_assert_ptr_nonnull(acme_eab_kid_problem(pool, longkid));
}
END_TEST

START_TEST(file_mode_checks)
{
    const char *why;
    ck_assert_ptr_null(acme_eab_file_problem(pool, "/k", 0, 0, 0600));
    ck_assert_ptr_null(acme_eab_file_problem(pool, "/k", 0, 0, 0400));
    /* not root: the reading user's own file */
    ck_assert_ptr_null(acme_eab_file_problem(pool, "/k", 1000, 1000, 0600));
    why = acme_eab_file_problem(pool, "/k", 0, 0, 0644);
    ck_assert_ptr_nonnull(why);
    ck_assert_ptr_nonnull(strstr(why, "chmod 600 '/k'"));
    ck_assert_ptr_nonnull(acme_eab_file_problem(pool, "/k", 0, 0, 0640));
    ck_assert_ptr_nonnull(acme_eab_file_problem(pool, "/k", 0, 0, 0604));
    ck_assert_ptr_nonnull(acme_eab_file_problem(pool, "/k", 0, 0, 0602));
    why = acme_eab_file_problem(pool, "/k", 33, 0, 0600);
    ck_assert_ptr_nonnull(why);
    ck_assert_ptr_nonnull(strstr(why, "chown root"));
}
END_TEST

static const char *parse_why(const char *text)
{
    unsigned char *key = NULL;
    apr_size_t len = 0;
    const char *why = NULL;
    apr_status_t rv = acme_eab_key_parse(&key, &len, &why, pool, text, strlen(text));
    if (rv == APR_SUCCESS) {
        ck_assert_ptr_null(why);
        ck_assert_uint_ge(len, ACME_EAB_KEY_MIN);
        return NULL;
    }
    ck_assert_ptr_null(key);
    ck_assert_ptr_nonnull(why);
    return why;
}

START_TEST(key_parse)
{
    unsigned char *key = NULL;
    apr_size_t len = 0;
    const char *why = NULL;
    apr_size_t mlen;
    const unsigned char *mk = mac_key(&mlen);

    ck_assert_int_eq(acme_eab_key_parse(&key, &len, &why, pool, MAC_KEY_B64 "\n",
                                        strlen(MAC_KEY_B64) + 1), APR_SUCCESS);
    ck_assert_int_eq(len, mlen);
    ck_assert_mem_eq(key, mk, mlen);
    ck_assert_ptr_null(parse_why("  " MAC_KEY_B64 "\r\n"));
    ck_assert_ptr_null(parse_why("YWJjZGVmZ2hpamtsbW5vcHE="));     /* padded: 17 bytes */
    ck_assert_ptr_nonnull(strstr(parse_why(""), "is empty"));
    ck_assert_ptr_nonnull(strstr(parse_why(" \n"), "is empty"));
    ck_assert_ptr_nonnull(strstr(parse_why("ab+/cdefghijklmnopqrstuvwx"), "base64url"));
    ck_assert_ptr_nonnull(strstr(parse_why("abcdefghij klmnopqrstuvwx"), "white space"));
    ck_assert_ptr_nonnull(strstr(parse_why("abcdefghijklmnopqrstuvwx!"), "not base64url"));
    ck_assert_ptr_nonnull(strstr(parse_why("abcdefghijklmnopqrstuvwxy"), "length"));
    ck_assert_ptr_nonnull(strstr(parse_why("YWJjZA"), "only 4 bytes"));
    /* the key is never quoted back */
    ck_assert_ptr_null(strstr(parse_why("SECRETSECRETSECRET+"), "SECRET"));
}
END_TEST

static const char *write_key_file(const char *name, const char *text, mode_t mode)
{
    const char *path = apr_pstrcat(pool, dir, "/", name, NULL);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    ck_assert_int_eq(chmod(path, mode), 0);
    return path;
}

START_TEST(key_load)
{
    unsigned char *key = NULL;
    apr_size_t len = 0;
    const char *why = NULL, *path;

    path = write_key_file("ok.key", MAC_KEY_B64 "\n", 0600);
    ck_assert_int_eq(acme_eab_key_load(&key, &len, &why, pool, path), APR_SUCCESS);
    ck_assert_int_eq(len, 48);

    path = write_key_file("open.key", MAC_KEY_B64 "\n", 0644);
    ck_assert_int_ne(acme_eab_key_load(&key, &len, &why, pool, path), APR_SUCCESS);
    ck_assert_ptr_null(key);
    ck_assert_ptr_nonnull(strstr(why, path));
    ck_assert_ptr_nonnull(strstr(why, "chmod 600"));

    path = write_key_file("bad.key", "not a key!\n", 0600);
    ck_assert_int_ne(acme_eab_key_load(&key, &len, &why, pool, path), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(why, path));
    ck_assert_ptr_nonnull(strstr(why, "base64url"));

    path = apr_pstrcat(pool, dir, "/missing.key", NULL);
    ck_assert_int_ne(acme_eab_key_load(&key, &len, &why, pool, path), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(why, "does not exist"));

    ck_assert_int_ne(acme_eab_key_load(&key, &len, &why, pool, dir), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(why, "not a regular file"));
}
END_TEST

/* The key is overwritten with zeros when its pool goes. */
START_TEST(key_wiped_with_pool)
{
    apr_pool_t *sub;
    unsigned char *key = NULL;
    apr_size_t len = 0, i, nonzero = 0;
    const char *why = NULL, *path = write_key_file("w.key", MAC_KEY_B64, 0600);

    apr_pool_create(&sub, pool);
    ck_assert_int_eq(acme_eab_key_load(&key, &len, &why, sub, path), APR_SUCCESS);
    apr_pool_clear(sub);
    /* the memory still belongs to the (cleared, not destroyed) pool */
    for (i = 0; i < len; ++i) {
        nonzero += key[i] != 0;
    }
    ck_assert_uint_eq(nonzero, 0);
    apr_pool_destroy(sub);
}
END_TEST

/* ---- account store names -------------------------------------------------------------- */

START_TEST(entry_names)
{
    const char *base = acme_account_store_name(pool, DIR_URL), *h1, *h2;
    ck_assert_str_eq(acme_account_entry_name(pool, DIR_URL, NULL), base);
    ck_assert_str_eq(acme_account_entry_name(pool, DIR_URL, ""), base);
    ck_assert_str_eq(acme_account_entry_name(pool, DIR_URL, "kid-1"),
                     apr_pstrcat(pool, base, "+eab-kid-1", NULL));
    ck_assert_str_ne(acme_account_entry_name(pool, DIR_URL, "kid-1"),
                     acme_account_entry_name(pool, DIR_URL, "kid-2"));
    h1 = acme_account_entry_name(pool, DIR_URL, "a/b");
    h2 = acme_account_entry_name(pool, DIR_URL, "a:b");
    ck_assert_ptr_null(strchr(h1, '/'));
    ck_assert_str_ne(h1, h2);
    ck_assert_int_eq(strlen(h1), strlen(base) + strlen("+eab-sha-") + 16);
}
END_TEST

/* ---- newAccount against a scripted CA ------------------------------------------------- */

typedef struct eab_fx_t {
    acme_store_t *st;
    unsigned char secret[ACME_SECRET_LEN];
    fake_http_t *fake;
    acme_client_t *c;
    acme_result_t res;
    acme_eab_t eab;
    acme_account_spec_t spec;
} eab_fx_t;

static eab_fx_t *eab_fixture(int required, int with_eab)
{
    eab_fx_t *f = apr_pcalloc(pool, sizeof(*f));
    ck_assert_int_eq(acme_store_fs_create(&f->st, pool, dir), APR_SUCCESS);
    ck_assert_int_eq(acme_store_fs_setup(f->st, -1, -1, pool), APR_SUCCESS);
    ck_assert_int_eq(acme_random_bytes(f->secret, sizeof(f->secret)), APR_SUCCESS);
    f->fake = fake_http_create(pool);
    ck_assert_int_eq(acme_client_create(&f->c, pool, fake_http_get(f->fake), DIR_URL),
                     APR_SUCCESS);
    fake_http_expect(f->fake, "GET", DIR_URL, 200,
                     apr_psprintf(pool, "{\"newNonce\":\"" NONCE "\",\"newAccount\":\"" NEW_ACCT
                                  "\",\"newOrder\":\"" CA "/new-order\"%s}",
                                  required ? ",\"meta\":{\"externalAccountRequired\":true}"
                                           : ""));
    f->spec.contacts = apr_array_make(pool, 1, sizeof(const char *));
    f->eab.kid = "kid-1";
    f->eab.file = "/etc/apache2/eab.key";
    f->eab.key = mac_key(&f->eab.key_len);
    if (with_eab) {
        f->spec.eab = &f->eab;
    }
    acme_result_reset(&f->res);
    return f;
}

static fake_answer_t *expect_new_account(eab_fx_t *f)
{
    fake_answer_t *a;
    fake_http_expect(f->fake, "HEAD", NONCE, 200, NULL);
    a = fake_http_expect(f->fake, "POST", NEW_ACCT, 201, "{\"status\":\"valid\"}");
    fake_answer_header(a, "Location", ACCT1, 0);
    return a;
}

START_TEST(required_without_binding)
{
    eab_fx_t *f = eab_fixture(1, 0);
    apr_array_header_t *names = NULL;

    ck_assert_int_ne(acme_account_ensure(f->c, f->st, f->secret, &f->spec, pool, &f->res),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(f->res.detail, "External Account Binding (EAB)"));
    ck_assert_ptr_nonnull(strstr(f->res.detail, "ACMEExternalAccountBinding KID KEY-FILE"));
    /* the directory only: no key made, nothing sent to newAccount */
    ck_assert_int_eq(fake_http_count(f->fake), 1);
    ck_assert_int_eq(f->st->list(f->st, ACME_GROUP_ACCOUNTS, &names, pool), APR_SUCCESS);
    ck_assert_int_eq(names->nelts, 0);
}
END_TEST

START_TEST(binding_sent_and_account_keyed_by_kid)
{
    eab_fx_t *f = eab_fixture(1, 1);
    const fake_request_t *req;
    json_t *eab, *hdr, *jwk;
    unsigned char *raw, mac[32];
    apr_size_t rlen;
    const char *name, *input, *mk_b64 = MAC_KEY_B64;
    char *text;
    apr_size_t tlen;
    acme_key_t *key;

    expect_new_account(f);
    ck_assert_int_eq(acme_account_ensure(f->c, f->st, f->secret, &f->spec, pool, &f->res),
                     APR_SUCCESS);
    req = fake_http_request(f->fake, 2);
    ck_assert_ptr_nonnull(req->payload_json);
    eab = json_object_get(req->payload_json, "externalAccountBinding");
    ck_assert_ptr_nonnull(eab);
    ck_assert_int_eq(acme_b64url_decode(&raw, &rlen, pool, acme_json_str(eab, "protected")),
                     APR_SUCCESS);
    hdr = acme_json_parse(pool, (const char *)raw, rlen, NULL);
    ck_assert_str_eq(acme_json_str(hdr, "alg"), "HS256");
    ck_assert_str_eq(acme_json_str(hdr, "kid"), "kid-1");
    ck_assert_str_eq(acme_json_str(hdr, "url"), NEW_ACCT);
    ck_assert_ptr_null(json_object_get(hdr, "nonce"));
    /* the payload is the outer JWS's jwk: the account key */
    jwk = json_object_get(req->protected_hdr, "jwk");
    ck_assert_ptr_nonnull(jwk);
    ck_assert_int_eq(acme_b64url_decode(&raw, &rlen, pool, acme_json_str(eab, "payload")),
                     APR_SUCCESS);
    ck_assert_str_eq(apr_pstrmemdup(pool, (const char *)raw, rlen), acme_json_dump(pool, jwk));
    input = apr_pstrcat(pool, acme_json_str(eab, "protected"), ".",
                        acme_json_str(eab, "payload"), NULL);
    ck_assert_int_eq(acme_hmac_sha256(mac, f->eab.key, f->eab.key_len, input, strlen(input)),
                     APR_SUCCESS);
    ck_assert_str_eq(acme_json_str(eab, "signature"), acme_b64url_encode(pool, mac, 32));

    /* stored under the CA and the kid; the record names the kid, never the key */
    name = acme_account_entry_name(pool, DIR_URL, "kid-1");
    ck_assert_int_eq(acme_store_load(f->st, ACME_GROUP_ACCOUNTS, name, "account.json", &text,
                                     &tlen, pool), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(text, "\"eab_kid\":\"kid-1\""));
    ck_assert_ptr_null(strstr(text, mk_b64));
    ck_assert_int_eq(acme_store_load(f->st, ACME_GROUP_ACCOUNTS,
                                     acme_account_store_name(pool, DIR_URL), "account.json",
                                     &text, &tlen, pool), APR_ENOENT);

    /* used again: no second newAccount */
    key = acme_client_account_key(f->c, pool);
    ck_assert_ptr_nonnull(key);
    ck_assert_int_eq(acme_account_ensure(f->c, f->st, f->secret, &f->spec, pool, &f->res),
                     APR_SUCCESS);
    ck_assert_int_eq(fake_http_count(f->fake), 3);
    ck_assert_str_eq(acme_client_account_url(f->c), ACCT1);
}
END_TEST

/* An account made without EAB stays in use while no binding is configured. */
START_TEST(account_without_binding_kept)
{
    eab_fx_t *f = eab_fixture(0, 0);
    const fake_request_t *req;

    expect_new_account(f);
    ck_assert_int_eq(acme_account_ensure(f->c, f->st, f->secret, &f->spec, pool, &f->res),
                     APR_SUCCESS);
    req = fake_http_request(f->fake, 2);
    ck_assert_ptr_null(json_object_get(req->payload_json, "externalAccountBinding"));
    ck_assert_int_eq(acme_store_load(f->st, ACME_GROUP_ACCOUNTS,
                                     acme_account_store_name(pool, DIR_URL), "key.sealed",
                                     &(char *){ NULL }, NULL, pool), APR_SUCCESS);
}
END_TEST

START_TEST(unreadable_key_file_reported)
{
    eab_fx_t *f = eab_fixture(1, 1);
    f->eab.key = NULL;
    f->eab.key_len = 0;
    f->eab.why = "'/etc/apache2/eab.key' does not exist";
    ck_assert_int_ne(acme_account_ensure(f->c, f->st, f->secret, &f->spec, pool, &f->res),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(f->res.detail, "could not be read"));
    ck_assert_ptr_nonnull(strstr(f->res.detail, "does not exist"));
    ck_assert_int_eq(fake_http_count(f->fake), 1);
}
END_TEST

START_TEST(refused_binding_names_kid)
{
    eab_fx_t *f = eab_fixture(1, 1);
    const char *line;

    fake_http_expect(f->fake, "HEAD", NONCE, 200, NULL);
    fake_http_expect_problem(f->fake, "POST", NEW_ACCT, 403,
                             "urn:ietf:params:acme:error:unauthorized",
                             "external account binding JWS verification error");
    ck_assert_int_ne(acme_account_ensure(f->c, f->st, f->secret, &f->spec, pool, &f->res),
                     APR_SUCCESS);
    line = acme_result_str(&f->res, pool);
    ck_assert_ptr_nonnull(strstr(line, "key id kid-1"));
    ck_assert_ptr_nonnull(strstr(line, "/etc/apache2/eab.key"));
    ck_assert_ptr_nonnull(strstr(line, "verification error"));
    ck_assert_ptr_null(strstr(line, MAC_KEY_B64));
}
END_TEST

Suite *eab_suite(void)
{
    Suite *s = suite_create("eab");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, hmac_rfc4231_case2);
    tcase_add_test(tc, hs256_rfc7515_a1);
    tcase_add_test(tc, eab_jws_known_answer);
    tcase_add_test(tc, kid_checks);
    tcase_add_test(tc, file_mode_checks);
    tcase_add_test(tc, key_parse);
    tcase_add_test(tc, key_load);
    tcase_add_test(tc, key_wiped_with_pool);
    tcase_add_test(tc, entry_names);
    tcase_add_test(tc, required_without_binding);
    tcase_add_test(tc, binding_sent_and_account_keyed_by_kid);
    tcase_add_test(tc, account_without_binding_kept);
    tcase_add_test(tc, unreadable_key_file_reported);
    tcase_add_test(tc, refused_binding_names_kid);
    suite_add_tcase(s, tc);
    return s;
}
