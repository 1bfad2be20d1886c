/* acme_account management against a scripted CA (fake_http), real keys and a real
 * filesystem store in a temporary directory: contact update (RFC 8555 7.3.2), optional
 * contact, key change (7.3.5: the inner JWS), deactivation (7.3.6) and revocation signed
 * by the account or by the certificate's own key (7.6). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_file_info.h>
#include <apr_strings.h>

#include "tests.h"
#include "fake_http.h"
#include "unit_helpers.h"
#include "acme_account.h"
#include "acme_client.h"
#include "acme_crypto.h"
#include "acme_json.h"
#include "acme_jws.h"
#include "acme_log.h"
#include "acme_util.h"

#define CA         "https://ca.test"
#define DIR_URL    CA "/dir"
#define NONCE_URL  CA "/nonce"
#define ACCT_URL   CA "/new-acct"
#define KID        CA "/acct/1"
#define KID2       CA "/acct/2"
#define KEYCHANGE  CA "/key-change"
#define REVOKE     CA "/revoke"
#define DIRECTORY                                                                          \
    "{\"newNonce\":\"" NONCE_URL "\",\"newAccount\":\"" ACCT_URL "\",\"newOrder\":\""       \
    CA "/new-order\",\"revokeCert\":\"" REVOKE "\",\"keyChange\":\"" KEYCHANGE "\"}"

static struct {
    apr_pool_t *p;
    char dir[64];
    acme_store_t *st;
    unsigned char secret[ACME_SECRET_LEN];
    fake_http_t *fake;
    acme_client_t *c;
    acme_result_t res;
    const char *name;              /* the account's store entry */
    apr_array_header_t *logs;      /* "LEVEL message" */
} fx;

static int logged(int level, const char *s1, const char *s2)
{
    return unit_logged(fx.logs, level, s1, s2);
}

/* A fresh client (as the server has after a restart, or acmectl). */
static void new_client(void)
{
    fx.fake = fake_http_create(fx.p);
    ck_assert_int_eq(acme_client_create(&fx.c, fx.p, fake_http_get(fx.fake), DIR_URL),
                     APR_SUCCESS);
}

static void setup(void)
{
    memset(&fx, 0, sizeof(fx));
    apr_pool_create(&fx.p, NULL);
    strcpy(fx.dir, "/tmp/acme-account-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(fx.dir));
    ck_assert_int_eq(acme_store_fs_create(&fx.st, fx.p, fx.dir), APR_SUCCESS);
    ck_assert_int_eq(acme_store_fs_setup(fx.st, -1, -1, fx.p), APR_SUCCESS);
    ck_assert_int_eq(acme_random_bytes(fx.secret, sizeof(fx.secret)), APR_SUCCESS);
    fx.logs = unit_log_capture(fx.p);
    fx.name = acme_account_store_name(fx.p, DIR_URL);
    acme_result_reset(&fx.res);
    new_client();
}

static void teardown(void)
{
    acme_log_set(NULL, NULL, NULL);
    unit_rmtree(fx.dir);
    apr_pool_destroy(fx.p);
}

static acme_account_spec_t *spec_of(const char *contact1, const char *contact2)
{
    acme_account_spec_t *as = apr_pcalloc(fx.p, sizeof(*as));
    as->contacts = apr_array_make(fx.p, 2, sizeof(const char *));
    if (contact1) {
        APR_ARRAY_PUSH(as->contacts, const char *) = contact1;
    }
    if (contact2) {
        APR_ARRAY_PUSH(as->contacts, const char *) = contact2;
    }
    as->agree_tos = 1;
    return as;
}

/* GET dir, HEAD newNonce, POST newAccount (answered with location). */
static void script_new_account(const char *location)
{
    fake_answer_t *a;
    fake_http_expect(fx.fake, "GET", DIR_URL, 200, DIRECTORY);
    fake_http_expect(fx.fake, "HEAD", NONCE_URL, 200, NULL);
    a = fake_http_expect(fx.fake, "POST", ACCT_URL, 201, "{\"status\":\"valid\"}");
    fake_answer_header(a, "Location", location, 0);
}

static void ensure(const acme_account_spec_t *as)
{
    ck_assert_int_eq(acme_account_ensure(fx.c, fx.st, fx.secret, as, fx.p, &fx.res),
                     APR_SUCCESS);
}

static json_t *record(void)
{
    char *text;
    apr_size_t len;
    json_t *j;
    ck_assert_int_eq(acme_store_load(fx.st, ACME_GROUP_ACCOUNTS, fx.name, "account.json", &text,
                                     &len, fx.p), APR_SUCCESS);
    j = acme_json_parse(fx.p, text, len, NULL);
    ck_assert_ptr_nonnull(j);
    return j;
}

static const char *thumb(const acme_key_t *key)
{
    const char *t = NULL;
    ck_assert_int_eq(acme_jwk_thumbprint(&t, fx.p, key), APR_SUCCESS);
    return t;
}

/* The key in accounts/<name>/<aspect>, unsealed. */
static acme_key_t *stored_key(const char *aspect)
{
    char *sealed, *pem;
    apr_size_t slen, plen;
    acme_key_t *key = NULL;
    ck_assert_int_eq(acme_store_load(fx.st, ACME_GROUP_ACCOUNTS, fx.name, aspect, &sealed, &slen,
                                     fx.p), APR_SUCCESS);
    ck_assert_int_eq(acme_unseal(&pem, &plen, fx.p, fx.secret, sealed, slen), APR_SUCCESS);
    ck_assert_int_eq(acme_key_from_pem(&key, fx.p, pem, plen), APR_SUCCESS);
    return key;
}

static int stored(const char *aspect)
{
    char *data;
    apr_size_t len;
    return acme_store_load(fx.st, ACME_GROUP_ACCOUNTS, fx.name, aspect, &data, &len, fx.p)
           == APR_SUCCESS;
}

static const fake_request_t *last_request(void)
{
    ck_assert_int_gt(fake_http_count(fx.fake), 0);
    return fake_http_request(fx.fake, fake_http_count(fx.fake) - 1);
}

/* ------------------------------------------------------------------ contact */

START_TEST(no_contact_no_member)
{
    const fake_request_t *r;

    script_new_account(KID);
    ensure(spec_of(NULL, NULL));
    r = last_request();
    ck_assert_str_eq(r->url, ACCT_URL);
    ck_assert_ptr_nonnull(r->payload_json);
    ck_assert_msg(!json_object_get(r->payload_json, "contact"), "contact sent: %s", r->payload);
    ck_assert(json_is_true(json_object_get(r->payload_json, "termsOfServiceAgreed")));
    ck_assert(logged(ACME_LOG_NOTICE, "ACME00205", "contact: none"));
    /* still none next time: nothing to update, nothing sent */
    ensure(spec_of(NULL, NULL));
    ck_assert_int_eq(fake_http_count(fx.fake), 3);
}
END_TEST

START_TEST(contact_change_sent_once)
{
    const fake_request_t *r;
    json_t *rec, *want;
    acme_key_t *key;

    /* no account yet: nothing for the account alone (the first order creates it) */
    ck_assert(!acme_account_update_due(fx.st, DIR_URL, spec_of("mailto:a@example.org", NULL),
                                       fx.p));
    script_new_account(KID);
    ensure(spec_of("mailto:a@example.org", NULL));
    ck_assert_int_eq(fake_http_count(fx.fake), 3);
    ck_assert(!acme_account_update_due(fx.st, DIR_URL, spec_of("mailto:a@example.org", NULL),
                                       fx.p));
    ck_assert(acme_account_update_due(fx.st, DIR_URL, spec_of("mailto:b@example.org",
                                                              "mailto:c@example.org"), fx.p));
    ck_assert(acme_account_update_due(fx.st, DIR_URL, spec_of(NULL, NULL), fx.p));
    ck_assert(!acme_account_update_due(fx.st, CA "/other-dir", spec_of(NULL, NULL), fx.p));
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(
                         last_request()->payload_json, "contact"), 0)), "mailto:a@example.org");

    /* changed: one POST to the account URL with the new list, signed with the kid */
    fake_http_expect(fx.fake, "POST", KID, 200,
                     "{\"status\":\"valid\",\"contact\":[\"mailto:b@example.org\","
                     "\"mailto:c@example.org\"]}");
    ensure(spec_of("mailto:b@example.org", "mailto:c@example.org"));
    ck_assert_int_eq(fake_http_count(fx.fake), 4);
    r = last_request();
    ck_assert_str_eq(acme_json_str(r->protected_hdr, "kid"), KID);
    ck_assert_ptr_null(json_object_get(r->protected_hdr, "jwk"));
    want = json_pack("{s:[s,s]}", "contact", "mailto:b@example.org", "mailto:c@example.org");
    ck_assert_msg(json_equal(r->payload_json, want), "update payload %s", r->payload);
    json_decref(want);
    key = acme_client_account_key(fx.c, fx.p);
    ck_assert_int_eq(acme_jws_verify(key, r->body, fx.p), APR_SUCCESS);
    rec = record();
    ck_assert_int_eq(json_array_size(json_object_get(rec, "contact")), 2);
    ck_assert_ptr_nonnull(acme_json_str(rec, "contact_updated"));
    ck_assert_str_eq(acme_json_str(rec, "url"), KID);
    ck_assert(logged(ACME_LOG_NOTICE, "ACME00490", "mailto:b@example.org, mailto:c@example.org"));
    ck_assert(!acme_account_update_due(fx.st, DIR_URL, spec_of("mailto:b@example.org",
                                                               "mailto:c@example.org"), fx.p));

    /* the record remembers what was sent: a restart (new client) sends nothing more */
    new_client();
    fake_http_expect(fx.fake, "GET", DIR_URL, 200, DIRECTORY);
    ensure(spec_of("mailto:b@example.org", "mailto:c@example.org"));
    ck_assert_int_eq(fake_http_count(fx.fake), 1);

    /* ACMEContact removed: the contact is cleared at the CA */
    fake_http_expect(fx.fake, "HEAD", NONCE_URL, 200, NULL);
    fake_http_expect(fx.fake, "POST", KID, 200, "{\"status\":\"valid\"}");
    ensure(spec_of(NULL, NULL));
    r = last_request();
    ck_assert_str_eq(r->payload, "{\"contact\":[]}");
    ck_assert_int_eq(json_array_size(json_object_get(record(), "contact")), 0);
}
END_TEST

START_TEST(contact_change_refused_retried)
{
    script_new_account(KID);
    ensure(spec_of("mailto:a@example.org", NULL));
    fake_http_expect_problem(fx.fake, "POST", KID, 400,
                             "urn:ietf:params:acme:error:invalidContact", "no such domain");
    /* the account stays usable: ensure succeeds, the record keeps the old contact */
    ensure(spec_of("mailto:b@example.org", NULL));
    ck_assert_str_eq(acme_client_account_url(fx.c), KID);
    ck_assert(logged(ACME_LOG_WARNING, "ACME00491", "invalidContact"));
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(record(), "contact"), 0)),
                     "mailto:a@example.org");
    /* tried again at the next run */
    fake_http_expect(fx.fake, "POST", KID, 200, "{\"status\":\"valid\"}");
    ensure(spec_of("mailto:b@example.org", NULL));
    ck_assert_int_eq(fake_http_remaining(fx.fake), 0);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(record(), "contact"), 0)),
                     "mailto:b@example.org");
}
END_TEST

/* ------------------------------------------------------------------ key change */

START_TEST(key_change_inner_jws)
{
    acme_key_t *oldk = NULL, *newk = NULL;
    const char *jws = NULL, *prot_b64, *payload_b64;
    unsigned char *raw;
    apr_size_t len;
    json_t *j, *hdr, *payload, *old_jwk = NULL, *new_jwk = NULL;

    ck_assert_int_eq(acme_key_generate(&oldk, fx.p, ACME_KEY_EC_P256), APR_SUCCESS);
    ck_assert_int_eq(acme_key_generate(&newk, fx.p, ACME_KEY_EC_P256), APR_SUCCESS);
    ck_assert_int_eq(acme_account_key_change_jws(&jws, fx.p, newk, oldk, KID, KEYCHANGE),
                     APR_SUCCESS);
    j = acme_json_parse(fx.p, jws, strlen(jws), NULL);
    ck_assert_ptr_nonnull(j);
    prot_b64 = acme_json_str(j, "protected");
    payload_b64 = acme_json_str(j, "payload");
    ck_assert_int_eq(acme_b64url_decode(&raw, &len, fx.p, prot_b64), APR_SUCCESS);
    hdr = acme_json_parse(fx.p, (const char *)raw, len, NULL);
    ck_assert_int_eq(acme_b64url_decode(&raw, &len, fx.p, payload_b64), APR_SUCCESS);
    payload = acme_json_parse(fx.p, (const char *)raw, len, NULL);
    ck_assert_ptr_nonnull(hdr);
    ck_assert_ptr_nonnull(payload);

    /* header: alg, jwk of the NEW key, url; no nonce, no kid */
    ck_assert_str_eq(acme_json_str(hdr, "alg"), "ES256");
    ck_assert_str_eq(acme_json_str(hdr, "url"), KEYCHANGE);
    ck_assert_ptr_null(json_object_get(hdr, "nonce"));
    ck_assert_ptr_null(json_object_get(hdr, "kid"));
    ck_assert_int_eq(acme_jwk_public(&new_jwk, newk), APR_SUCCESS);
    ck_assert(json_equal(json_object_get(hdr, "jwk"), new_jwk));
    /* payload: the account URL and the OLD key */
    ck_assert_int_eq(json_object_size(payload), 2);
    ck_assert_str_eq(acme_json_str(payload, "account"), KID);
    ck_assert_int_eq(acme_jwk_public(&old_jwk, oldk), APR_SUCCESS);
    ck_assert(json_equal(json_object_get(payload, "oldKey"), old_jwk));
    /* signed by the new key, not the old */
    ck_assert_int_eq(acme_jws_verify(newk, jws, fx.p), APR_SUCCESS);
    ck_assert_int_ne(acme_jws_verify(oldk, jws, fx.p), APR_SUCCESS);
    json_decref(old_jwk);
    json_decref(new_jwk);
    ck_assert_int_ne(acme_account_key_change_jws(&jws, fx.p, newk, oldk, NULL, KEYCHANGE),
                     APR_SUCCESS);
}
END_TEST

/* Hook at the keyChange answer: the new key is kept (key.sealed.next) before the CA answers;
 * key.sealed is still the old one. */
static void at_key_change(void *baton, const fake_request_t *req, acme_http_response_t *resp,
                          apr_pool_t *p)
{
    const char *old_thumb = baton;
    ck_assert(stored("key.sealed.next"));
    ck_assert_str_eq(thumb(stored_key("key.sealed")), old_thumb);
}

START_TEST(rollover_replaces_key_after_ca)
{
    acme_key_t *oldk, *newk;
    const fake_request_t *r;
    const char *old_thumb, *inner;
    json_t *inner_j, *jwk = NULL;
    unsigned char *raw;
    apr_size_t len;
    const char *name = NULL;
    fake_answer_t *a;
    json_t *acct = NULL;

    script_new_account(KID);
    ensure(spec_of("mailto:a@example.org", NULL));
    oldk = acme_client_account_key(fx.c, fx.p);
    old_thumb = thumb(oldk);

    /* as acmectl does it: a fresh client opened on the stored account */
    new_client();
    fake_http_expect(fx.fake, "GET", DIR_URL, 200, DIRECTORY);
    ck_assert_int_eq(acme_account_open(&name, fx.c, fx.st, NULL, fx.secret, fx.p, &fx.res),
                     APR_SUCCESS);
    ck_assert_str_eq(name, fx.name);
    ck_assert_str_eq(acme_client_account_url(fx.c), KID);
    fake_http_expect(fx.fake, "HEAD", NONCE_URL, 200, NULL);
    a = fake_http_expect(fx.fake, "POST", KEYCHANGE, 200, NULL);
    fake_answer_hook(a, at_key_change, (void *)old_thumb);
    ck_assert_int_eq(acme_account_rollover(fx.c, fx.st, NULL, fx.secret, fx.p, &fx.res), APR_SUCCESS);

    /* outer: kid, signed by the old key; its payload is the inner JWS */
    r = last_request();
    ck_assert_str_eq(acme_json_str(r->protected_hdr, "kid"), KID);
    ck_assert_str_eq(acme_json_str(r->protected_hdr, "url"), KEYCHANGE);
    ck_assert_ptr_nonnull(acme_json_str(r->protected_hdr, "nonce"));
    ck_assert_int_eq(acme_jws_verify(oldk, r->body, fx.p), APR_SUCCESS);
    inner = r->payload;
    newk = stored_key("key.sealed");
    ck_assert_str_ne(thumb(newk), old_thumb);
    ck_assert_int_eq(acme_jws_verify(newk, inner, fx.p), APR_SUCCESS);
    inner_j = acme_json_parse(fx.p, inner, strlen(inner), NULL);
    ck_assert_int_eq(acme_b64url_decode(&raw, &len, fx.p, acme_json_str(inner_j, "protected")),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_jwk_public(&jwk, newk), APR_SUCCESS);
    ck_assert(json_equal(json_object_get(acme_json_parse(fx.p, (const char *)raw, len, NULL),
                                         "jwk"), jwk));
    json_decref(jwk);
    ck_assert(!stored("key.sealed.next"));
    ck_assert_ptr_nonnull(acme_json_str(record(), "key_changed"));
    ck_assert(logged(ACME_LOG_NOTICE, "ACME00493", fx.name));

    /* the client signs with the new key from now on */
    fake_http_expect(fx.fake, "POST", KID, 200, "{\"status\":\"valid\",\"contact\":[]}");
    ck_assert_int_eq(acme_account_fetch(&acct, fx.c, fx.p, &fx.res), APR_SUCCESS);
    ck_assert_str_eq(acme_json_str(acct, "status"), "valid");
    r = last_request();
    ck_assert_str_eq(r->payload, "");
    ck_assert_int_eq(acme_jws_verify(newk, r->body, fx.p), APR_SUCCESS);

    /* and so does the server after its next ensure: same URL, the new key, no new account */
    new_client();
    fake_http_expect(fx.fake, "GET", DIR_URL, 200, DIRECTORY);
    ensure(spec_of("mailto:a@example.org", NULL));
    ck_assert_int_eq(fake_http_count(fx.fake), 1);
    ck_assert_str_eq(thumb(acme_client_account_key(fx.c, fx.p)), thumb(newk));
    ck_assert_str_eq(acme_client_account_url(fx.c), KID);
}
END_TEST

START_TEST(rollover_refused_keeps_old_key)
{
    const char *old_thumb, *name;

    script_new_account(KID);
    ensure(spec_of(NULL, NULL));
    old_thumb = thumb(acme_client_account_key(fx.c, fx.p));
    fake_http_expect_problem(fx.fake, "POST", KEYCHANGE, 409,
                             "urn:ietf:params:acme:error:malformed", "key in use");
    ck_assert_int_ne(acme_account_rollover(fx.c, fx.st, NULL, fx.secret, fx.p, &fx.res), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(acme_result_str(&fx.res, fx.p), "key in use"));
    ck_assert_str_eq(thumb(stored_key("key.sealed")), old_thumb);
    ck_assert_str_eq(thumb(acme_client_account_key(fx.c, fx.p)), old_thumb);
    ck_assert(!stored("key.sealed.next"));
    ck_assert_ptr_null(acme_json_str(record(), "key_changed"));

    /* no account open: a clear error, nothing sent */
    new_client();
    ck_assert_int_ne(acme_account_rollover(fx.c, fx.st, NULL, fx.secret, fx.p, &fx.res), APR_SUCCESS);
    ck_assert_int_eq(fake_http_count(fx.fake), 0);
    /* a store without an account: acme_account_open says so */
    ck_assert_int_eq(acme_store_remove(fx.st, ACME_GROUP_ACCOUNTS, fx.name, "account.json",
                                       fx.p), APR_SUCCESS);
    acme_result_reset(&fx.res);
    ck_assert_int_eq(acme_account_open(&name, fx.c, fx.st, NULL, fx.secret, fx.p, &fx.res),
                     APR_ENOENT);
    ck_assert_ptr_nonnull(strstr(acme_result_str(&fx.res, fx.p), "no ACME account"));
}
END_TEST

/* ------------------------------------------------------------------ deactivation */

START_TEST(deactivate_then_new_account)
{
    const fake_request_t *r;
    const char *old_thumb, *name;
    json_t *rec;
    int kept = 0;
    apr_finfo_t fi;
    apr_dir_t *d;

    script_new_account(KID);
    ensure(spec_of("mailto:a@example.org", NULL));
    old_thumb = thumb(acme_client_account_key(fx.c, fx.p));
    fake_http_expect(fx.fake, "POST", KID, 200, "{\"status\":\"deactivated\"}");
    ck_assert_int_eq(acme_account_deactivate(fx.c, fx.st, NULL, fx.p, &fx.res), APR_SUCCESS);
    r = last_request();
    ck_assert_str_eq(r->payload, "{\"status\":\"deactivated\"}");
    ck_assert_str_eq(acme_json_str(r->protected_hdr, "kid"), KID);
    rec = record();
    ck_assert_str_eq(acme_json_str(rec, "status"), "deactivated");
    ck_assert_ptr_nonnull(acme_json_str(rec, "deactivated"));
    ck_assert(logged(ACME_LOG_NOTICE, "ACME00494", "deactivated"));
    /* the server has work for the account alone: a new one */
    ck_assert(acme_account_update_due(fx.st, DIR_URL, spec_of("mailto:a@example.org", NULL),
                                      fx.p));

    /* acmectl can no longer open it */
    new_client();
    ck_assert_int_eq(acme_account_open(&name, fx.c, fx.st, NULL, fx.secret, fx.p, &fx.res),
                     ACME_EACCOUNT_DEACTIVATED);
    ck_assert_int_eq(fake_http_count(fx.fake), 0);

    /* the server: old account set aside (logged), a new key and account */
    script_new_account(KID2);
    ensure(spec_of("mailto:a@example.org", NULL));
    ck_assert_str_eq(acme_client_account_url(fx.c), KID2);
    ck_assert_str_ne(thumb(acme_client_account_key(fx.c, fx.p)), old_thumb);
    r = last_request();
    ck_assert_str_eq(r->url, ACCT_URL);
    ck_assert_ptr_nonnull(json_object_get(r->protected_hdr, "jwk"));
    ck_assert(logged(ACME_LOG_NOTICE, "ACME00492", "creating a new account"));
    rec = record();
    ck_assert_str_eq(acme_json_str(rec, "url"), KID2);
    ck_assert_ptr_null(acme_json_str(rec, "status"));
    /* account.json.deactivated-* and key.sealed.deactivated-* are kept */
    ck_assert_int_eq(apr_dir_open(&d, apr_pstrcat(fx.p, fx.dir, "/accounts/", fx.name, NULL),
                                  fx.p), APR_SUCCESS);
    while (apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS) {
        kept += strstr(fi.name, ".deactivated-") != NULL;
    }
    apr_dir_close(d);
    ck_assert_int_eq(kept, 2);
}
END_TEST

START_TEST(deactivate_refused_keeps_record)
{
    script_new_account(KID);
    ensure(spec_of(NULL, NULL));
    fake_http_expect_problem(fx.fake, "POST", KID, 403,
                             "urn:ietf:params:acme:error:unauthorized", "no");
    ck_assert_int_ne(acme_account_deactivate(fx.c, fx.st, NULL, fx.p, &fx.res), APR_SUCCESS);
    ck_assert_ptr_null(acme_json_str(record(), "status"));
    ck_assert(!logged(ACME_LOG_NOTICE, "ACME00494", NULL));
}
END_TEST

/* ------------------------------------------------------------------ revocation */

START_TEST(revoke_with_cert_key_or_account)
{
    static const unsigned char der[] = { 0x30, 0x03, 0x02, 0x01, 0x05 };
    acme_key_t *cert_key = NULL, *acct_key;
    const fake_request_t *r;
    json_t *jwk = NULL;

    script_new_account(KID);
    ensure(spec_of(NULL, NULL));
    acct_key = acme_client_account_key(fx.c, fx.p);

    /* by the account: kid, account key */
    fake_http_expect(fx.fake, "POST", REVOKE, 200, NULL);
    ck_assert_int_eq(acme_account_revoke(fx.c, der, sizeof(der), 4, NULL, fx.p, &fx.res),
                     APR_SUCCESS);
    r = last_request();
    ck_assert_str_eq(acme_json_str(r->protected_hdr, "kid"), KID);
    ck_assert_int_eq(acme_jws_verify(acct_key, r->body, fx.p), APR_SUCCESS);
    ck_assert_str_eq(acme_json_str(r->payload_json, "certificate"),
                     acme_b64url_encode(fx.p, der, sizeof(der)));
    ck_assert_int_eq(json_integer_value(json_object_get(r->payload_json, "reason")), 4);

    /* by the certificate's key: jwk of that key, no kid, signed by it; no reason 0 sent */
    ck_assert_int_eq(acme_key_generate(&cert_key, fx.p, ACME_KEY_EC_P384), APR_SUCCESS);
    fake_http_expect(fx.fake, "POST", REVOKE, 200, NULL);
    ck_assert_int_eq(acme_account_revoke(fx.c, der, sizeof(der), 0, cert_key, fx.p, &fx.res),
                     APR_SUCCESS);
    r = last_request();
    ck_assert_ptr_null(json_object_get(r->protected_hdr, "kid"));
    ck_assert_int_eq(acme_jwk_public(&jwk, cert_key), APR_SUCCESS);
    ck_assert(json_equal(json_object_get(r->protected_hdr, "jwk"), jwk));
    json_decref(jwk);
    ck_assert_str_eq(acme_json_str(r->protected_hdr, "alg"), "ES384");
    ck_assert_int_eq(acme_jws_verify(cert_key, r->body, fx.p), APR_SUCCESS);
    ck_assert_ptr_null(json_object_get(r->payload_json, "reason"));

    /* a refusal is an error with the CA's words */
    fake_http_expect_problem(fx.fake, "POST", REVOKE, 400,
                             "urn:ietf:params:acme:error:alreadyRevoked", "already revoked");
    ck_assert_int_ne(acme_account_revoke(fx.c, der, sizeof(der), 0, cert_key, fx.p, &fx.res),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(acme_result_str(&fx.res, fx.p), "already revoked"));
}
END_TEST

Suite *account_suite(void)
{
    Suite *s = suite_create("account");
    TCase *tc = tcase_create("account");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, no_contact_no_member);
    tcase_add_test(tc, contact_change_sent_once);
    tcase_add_test(tc, contact_change_refused_retried);
    tcase_add_test(tc, key_change_inner_jws);
    tcase_add_test(tc, rollover_replaces_key_after_ca);
    tcase_add_test(tc, rollover_refused_keeps_old_key);
    tcase_add_test(tc, deactivate_then_new_account);
    tcase_add_test(tc, deactivate_refused_keeps_record);
    tcase_add_test(tc, revoke_with_cert_key_or_account);
    suite_add_tcase(s, tc);
    return s;
}
