/* acme_account and acme_driver against a scripted CA (fake_http) with real keys, a real
 * filesystem store in a temporary directory and a small test CA made here with OpenSSL that
 * issues for the CSR the driver sends in finalize. */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>
#include <ftw.h>
#include <unistd.h>

#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tests.h"
#include "fake_http.h"
#include "unit_helpers.h"
#include "acme_account.h"
#include "acme_cert.h"
#include "acme_verify.h"
#include "acme_client.h"
#include "acme_driver.h"
#include "acme_json.h"
#include "acme_jws.h"
#include "acme_log.h"
#include "acme_util.h"
#include "acme_state.h"

#define CA         "https://ca.test"
#define DIR_URL    CA "/dir"
#define NONCE_URL  CA "/nonce"
#define ACCT_URL   CA "/new-acct"
#define ORDER_URL  CA "/new-order"
#define KID        CA "/acct/1"
#define ORDER1     CA "/order/1"
#define FINALIZE1  CA "/order/1/finalize"
#define AUTHZ1     CA "/authz/1"
#define AUTHZ2     CA "/authz/2"
#define CHALL1     CA "/chall/1"
#define CHALL2     CA "/chall/2"
#define CERT1      CA "/cert/1"
#define TOKEN1     "tok1_Abc-DEF0123456789"
#define TOKEN2     "tok2_Zyx-WVU9876543210"
#define TOS        CA "/terms.pdf"
#define CERT_ID    "www.example.org"

#define DIRECTORY_FMT                                                                      \
    "{\"newNonce\":\"" NONCE_URL "\",\"newAccount\":\"" ACCT_URL "\",\"newOrder\":\""       \
    ORDER_URL "\",\"revokeCert\":\"" CA "/revoke\",\"keyChange\":\"" CA "/key-change\"%s}"

/* ------------------------------------------------------------------ fixture */

typedef struct test_ca_t {
    EVP_PKEY *key;
    X509 *cert;
    const char *pem;
} test_ca_t;

typedef struct fixture_t {
    apr_pool_t *p;
    char dir[64];
    acme_store_t *st;
    unsigned char secret[ACME_SECRET_LEN];
    fake_http_t *fake;
    acme_client_t *c;
    acme_result_t res;
    acme_driver_env_t env;
    acme_cert_spec_t spec;
    apr_array_header_t *waits;       /* apr_interval_time_t: what the driver slept */
    test_ca_t ca;
    const char *chain_pem;           /* issued at finalize, served at the certificate URL */
    int issue_for_other_key;
    int leaf_only;                   /* the certificate URL serves the leaf without its issuer */
    const char *ca_issuers;          /* caIssuers URL in the leaf, or NULL */
    int challenge_checked;
    int http01_pending, http01_counted; /* env.http01_count: the sum, the +1 calls */
    apr_array_header_t *logs;        /* "LEVEL message" */
    const char *dir_profiles;        /* meta.profiles of the directory (JSON), or NULL */
} fixture_t;

static fixture_t fx;

static void record_sleep(void *baton, apr_interval_time_t t)
{
    fixture_t *f = baton;
    APR_ARRAY_PUSH(f->waits, apr_interval_time_t) = t;
}

static void count_http01(void *baton, const char *type, const char *key, int delta)
{
    fixture_t *f = baton;
    ck_assert_ptr_nonnull(key);
    if (strcmp(type, ACME_CHALLENGE_HTTP01)) {
        return;     /* tls-alpn-01 publications are counted too: not this fixture's business */
    }
    f->http01_pending += delta;
    f->http01_counted += delta > 0;
    ck_assert_int_ge(f->http01_pending, 0);
}

static int logged(int level, const char *s1, const char *s2)
{
    return unit_logged(fx.logs, level, s1, s2);
}

static X509_EXTENSION *ext_of(X509 *issuer, X509 *subject, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, subject, NULL, NULL, 0);
    return X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
}

static const char *x509_pem(apr_pool_t *p, X509 *x)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    long len;
    const char *pem;

    ck_assert_int_eq(PEM_write_bio_X509(bio, x), 1);
    len = BIO_get_mem_data(bio, &data);
    pem = apr_pstrmemdup(p, data, (apr_size_t)len);
    BIO_free(bio);
    return pem;
}

static apr_status_t ca_cleanup(void *data)
{
    test_ca_t *ca = data;
    X509_free(ca->cert);
    EVP_PKEY_free(ca->key);
    ca->cert = NULL;
    ca->key = NULL;
    return APR_SUCCESS;
}

static void test_ca_create(test_ca_t *ca, apr_pool_t *p)
{
    X509_NAME *name;
    X509_EXTENSION *ext;

    ca->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    ck_assert_ptr_nonnull(ca->key);
    ca->cert = X509_new();
    apr_pool_cleanup_register(p, ca, ca_cleanup, apr_pool_cleanup_null);
    X509_set_version(ca->cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(ca->cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(ca->cert), -86400);
    X509_gmtime_adj(X509_getm_notAfter(ca->cert), 365L * 86400);
    name = X509_get_subject_name(ca->cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"Unit Test CA",
                               -1, -1, 0);
    X509_set_issuer_name(ca->cert, name);
    X509_set_pubkey(ca->cert, ca->key);
    ext = ext_of(ca->cert, ca->cert, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(ca->cert, ext, -1);
    X509_EXTENSION_free(ext);
    ck_assert_int_gt(X509_sign(ca->cert, ca->key, EVP_sha256()), 0);
    ca->pem = x509_pem(p, ca->cert);
}

/* Issue a leaf for the CSR (base64url DER): its public key and its extensions (the SANs). */
static const char *test_ca_issue(test_ca_t *ca, apr_pool_t *p, const char *csr_b64,
                                 int other_key, const char *ca_issuers)
{
    unsigned char *der = NULL;
    const unsigned char *ptr;
    apr_size_t len = 0;
    X509_REQ *req;
    X509 *x;
    EVP_PKEY *pub, *other = NULL;
    STACK_OF(X509_EXTENSION) *exts;
    X509_EXTENSION *ext;
    const char *pem;
    int i;

    ck_assert_int_eq(acme_b64url_decode(&der, &len, p, csr_b64), APR_SUCCESS);
    ptr = der;
    req = d2i_X509_REQ(NULL, &ptr, (long)len);
    ck_assert_msg(req != NULL, "finalize carries no parsable CSR");
    pub = X509_REQ_get0_pubkey(req);
    ck_assert_int_eq(X509_REQ_verify(req, pub), 1);

    x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 0x1234ABCD);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 90L * 86400);
    X509_set_subject_name(x, X509_REQ_get_subject_name(req));
    X509_set_issuer_name(x, X509_get_subject_name(ca->cert));
    if (other_key) {
        other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        X509_set_pubkey(x, other);
    }
    else {
        X509_set_pubkey(x, pub);
    }
    exts = X509_REQ_get_extensions(req);
    for (i = 0; exts && i < sk_X509_EXTENSION_num(exts); ++i) {
        X509_add_ext(x, sk_X509_EXTENSION_value(exts, i), -1);
    }
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    ext = ext_of(ca->cert, x, NID_basic_constraints, "critical,CA:FALSE");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    if (ca_issuers) {
        ext = ext_of(ca->cert, x, NID_info_access,
                     apr_pstrcat(p, "caIssuers;URI:", ca_issuers, NULL));
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
    }
    ck_assert_int_gt(X509_sign(x, ca->key, EVP_sha256()), 0);
    pem = apr_pstrcat(p, x509_pem(p, x), ca->pem, NULL);
    X509_free(x);
    X509_REQ_free(req);
    EVP_PKEY_free(other);
    return pem;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void new_client(void)
{
    fx.fake = fake_http_create(fx.p);
    ck_assert_int_eq(acme_client_create(&fx.c, fx.p, fake_http_get(fx.fake), DIR_URL),
                     APR_SUCCESS);
    fx.env.client = fx.c;
}

static void setup(void)
{
    memset(&fx, 0, sizeof(fx));
    apr_pool_create(&fx.p, NULL);
    strcpy(fx.dir, "/tmp/acme-driver-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(fx.dir));
    ck_assert_int_eq(acme_store_fs_create(&fx.st, fx.p, fx.dir), APR_SUCCESS);
    ck_assert_int_eq(acme_store_fs_setup(fx.st, -1, -1, fx.p), APR_SUCCESS);
    ck_assert_int_eq(acme_random_bytes(fx.secret, sizeof(fx.secret)), APR_SUCCESS);
    test_ca_create(&fx.ca, fx.p);
    fx.waits = apr_array_make(fx.p, 8, sizeof(apr_interval_time_t));
    fx.logs = unit_log_capture(fx.p);
    new_client();

    fx.env.store = fx.st;
    fx.env.secret = fx.secret;
    fx.env.sleep = record_sleep;
    fx.env.sleep_baton = &fx;
    fx.env.http01_count = count_http01;
    fx.env.http01_count_baton = &fx;
    fx.spec.id = CERT_ID;
    fx.spec.names = apr_array_make(fx.p, 2, sizeof(const char *));
    APR_ARRAY_PUSH(fx.spec.names, const char *) = "www.example.org";
    fx.spec.ca_url = DIR_URL;
    fx.spec.key_type = ACME_KEY_EC_P256;
    acme_result_reset(&fx.res);
}

static void teardown(void)
{
    acme_log_set(NULL, NULL, NULL);
    nftw(fx.dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    apr_pool_destroy(fx.p);
}

/* ------------------------------------------------------------------ scripting helpers */

static const char *directory(int with_tos)
{
    const char *profiles = fx.dir_profiles ? apr_pstrcat(fx.p, ",\"profiles\":",
                                                         fx.dir_profiles, NULL) : "";
    return apr_psprintf(fx.p, DIRECTORY_FMT,
                        with_tos ? apr_pstrcat(fx.p, ",\"meta\":{\"termsOfService\":\"" TOS "\"",
                                               profiles, "}", NULL) : "");
}

static acme_account_spec_t *account_spec(int agree)
{
    acme_account_spec_t *as = apr_pcalloc(fx.p, sizeof(*as));
    as->contacts = apr_array_make(fx.p, 1, sizeof(const char *));
    APR_ARRAY_PUSH(as->contacts, const char *) = "mailto:admin@example.org";
    as->agree_tos = agree;
    return as;
}

/* GET dir, HEAD newNonce, POST newAccount: 3 requests. */
static void script_account(void)
{
    fake_answer_t *a;
    fake_http_expect(fx.fake, "GET", DIR_URL, 200, directory(1));
    fake_http_expect(fx.fake, "HEAD", NONCE_URL, 200, NULL);
    a = fake_http_expect(fx.fake, "POST", ACCT_URL, 201,
                         "{\"status\":\"valid\",\"contact\":[\"mailto:admin@example.org\"]}");
    fake_answer_header(a, "Location", KID, 0);
}

static void ensure_account(void)
{
    script_account();
    ck_assert_int_eq(acme_account_ensure(fx.c, fx.st, fx.secret, account_spec(1), fx.p, &fx.res),
                     APR_SUCCESS);
    ck_assert_str_eq(acme_client_account_url(fx.c), KID);
}

static const char *order_json(const char *status, const char *authz_list)
{
    return apr_psprintf(fx.p, "{\"status\":\"%s\",\"expires\":\"2099-01-01T00:00:00Z\","
                        "\"identifiers\":[{\"type\":\"dns\",\"value\":\"www.example.org\"}],"
                        "\"authorizations\":[%s],\"finalize\":\"" FINALIZE1 "\"%s}",
                        status, authz_list ? authz_list : "\"" AUTHZ1 "\"",
                        !strcmp(status, "valid") ? ",\"certificate\":\"" CERT1 "\"" : "");
}

static const char *authz_json(const char *status, const char *ident, const char *chall_url,
                              const char *token, const char *chall_status, const char *error)
{
    return apr_psprintf(fx.p, "{\"status\":\"%s\",\"expires\":\"2099-01-01T00:00:00Z\","
                        "\"identifier\":{\"type\":\"dns\",\"value\":\"%s\"},\"challenges\":["
                        "{\"type\":\"dns-01\",\"url\":\"%s-dns\",\"status\":\"pending\","
                        "\"token\":\"%s\"},"
                        "{\"type\":\"http-01\",\"url\":\"%s\",\"status\":\"%s\",\"token\":\"%s\""
                        "%s%s}]}",
                        status, ident, chall_url, token, chall_url, chall_status, token,
                        error ? ",\"error\":" : "", error ? error : "");
}

static void on_finalize(void *baton, const fake_request_t *req, acme_http_response_t *resp,
                        apr_pool_t *p)
{
    fixture_t *f = baton;
    const char *csr;
    ck_assert_ptr_nonnull(req->payload_json);
    csr = acme_json_str(req->payload_json, "csr");
    ck_assert_ptr_nonnull(csr);
    f->chain_pem = test_ca_issue(&f->ca, f->p, csr, f->issue_for_other_key,
                                 f->ca_issuers);
}

static void on_certificate(void *baton, const fake_request_t *req, acme_http_response_t *resp,
                           apr_pool_t *p)
{
    fixture_t *f = baton;
    ck_assert_ptr_nonnull(f->chain_pem);
    ck_assert_str_eq(req->accept, "application/pem-certificate-chain");
    ck_assert_str_eq(req->payload, "");
    resp->body = f->leaf_only ? apr_pstrndup(p, f->chain_pem,
                                             strlen(f->chain_pem) - strlen(f->ca.pem))
                              : apr_pstrdup(p, f->chain_pem);
    resp->body_len = strlen(resp->body);
    apr_table_set(resp->headers, "Content-Type", "application/pem-certificate-chain");
}

/* At the challenge POST, the key authorization must already be in the store. */
static void on_challenge(void *baton, const fake_request_t *req, acme_http_response_t *resp,
                         apr_pool_t *p)
{
    fixture_t *f = baton;
    const char *expected = NULL, *token = strstr(req->url, "/2") ? TOKEN2 : TOKEN1;
    acme_key_t *akey = acme_client_account_key(f->c, p);
    char *data = NULL;
    apr_size_t len = 0;

    ck_assert_ptr_nonnull(akey);
    ck_assert_int_eq(acme_key_authorization(&expected, p, token, akey), APR_SUCCESS);
    ck_assert_int_eq(acme_store_load(f->st, ACME_GROUP_CHALLENGES,
                                     acme_http01_store_name(p, token), "http-01", &data, &len, p),
                     APR_SUCCESS);
    ck_assert_str_eq(data, expected);
    /* the host it is for, and counted while it exists */
    ck_assert_int_eq(acme_store_load(f->st, ACME_GROUP_CHALLENGES,
                                     acme_http01_store_name(p, token), ACME_HTTP01_HOST, &data,
                                     &len, p), APR_SUCCESS);
    ck_assert(acme_names_contain(f->spec.names, data));
    ck_assert_int_ge(f->http01_pending, 1);
    ck_assert_ptr_nonnull(req->payload_json);
    ck_assert(json_is_object(req->payload_json) && json_object_size(req->payload_json) == 0);
    f->challenge_checked++;
}

static void script_cert(void)
{
    fake_answer_t *a = fake_http_expect(fx.fake, "POST", CERT1, 200, "");
    fake_answer_hook(a, on_certificate, &fx);
}

static fake_answer_t *script_finalize(const char *status_after)
{
    fake_answer_t *a = fake_http_expect(fx.fake, "POST", FINALIZE1, 200,
                                        order_json(status_after, NULL));
    fake_answer_hook(a, on_finalize, &fx);
    return a;
}

static int store_has(acme_group_t g, const char *name, const char *aspect)
{
    char *data = NULL;
    return acme_store_load(fx.st, g, name, aspect, &data, NULL, fx.p) == APR_SUCCESS;
}

static void assert_sequence(const char *const *expected, int n)
{
    int i;
    ck_assert_msg(fake_http_count(fx.fake) == n, "expected %d requests, got %d:\n%s", n,
                  fake_http_count(fx.fake), fake_http_trace(fx.fake, fx.p));
    for (i = 0; i < n; ++i) {
        const fake_request_t *r = fake_http_request(fx.fake, i);
        const char *s = apr_pstrcat(fx.p, r->method, " ", r->url, NULL);
        ck_assert_str_eq(s, expected[i]);
    }
    ck_assert_int_eq(fake_http_remaining(fx.fake), 0);
}

static void assert_staged(void)
{
    char *chain = NULL, *sealed = NULL, *meta = NULL, *pem = NULL;
    apr_size_t clen = 0, slen = 0, mlen = 0, plen = 0;
    acme_key_t *key = NULL;
    const char *why = NULL;
    json_t *j;

    ck_assert_int_eq(acme_store_load(fx.st, ACME_GROUP_STAGING, CERT_ID, "chain.pem", &chain,
                                     &clen, fx.p), APR_SUCCESS);
    ck_assert_int_eq(acme_store_load(fx.st, ACME_GROUP_STAGING, CERT_ID, "key.sealed", &sealed,
                                     &slen, fx.p), APR_SUCCESS);
    ck_assert_int_eq(acme_store_load(fx.st, ACME_GROUP_STAGING, CERT_ID, "meta.json", &meta,
                                     &mlen, fx.p), APR_SUCCESS);
    ck_assert(acme_is_sealed(sealed, slen));
    ck_assert_int_eq(acme_unseal(&pem, &plen, fx.p, fx.secret, sealed, slen), APR_SUCCESS);
    ck_assert_int_eq(acme_key_from_pem(&key, fx.p, pem, plen), APR_SUCCESS);
    ck_assert_int_eq(acme_cert_verify_set(&why, fx.p, chain, clen, key, fx.spec.names,
                                          apr_time_now()), APR_SUCCESS);
    j = acme_json_parse(fx.p, meta, mlen, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(acme_json_str(j, "ca"), DIR_URL);
    ck_assert_str_eq(acme_json_str(j, "key"), "p256");
    ck_assert_str_eq(acme_json_str(j, "serial"), "1234ABCD");
    ck_assert_str_eq(acme_json_str(j, "order"), ORDER1);
    ck_assert_ptr_nonnull(acme_json_str(j, "not_before"));
    ck_assert(acme_time_parse_rfc3339(acme_json_str(j, "not_after")) > apr_time_now());
    ck_assert_ptr_nonnull(acme_json_str(j, "staged"));
    ck_assert_int_eq((int)json_array_size(acme_json_arr(j, "names")), 1);
    ck_assert_str_eq(json_string_value(json_array_get(acme_json_arr(j, "names"), 0)),
                     "www.example.org");
    /* the order is done: its state is gone */
    ck_assert(!store_has(ACME_GROUP_ORDERS, CERT_ID, "order.json"));
    ck_assert(!store_has(ACME_GROUP_ORDERS, CERT_ID, "key.sealed"));
    /* the staged key is the order's file under its new name: 0600, no other name left */
    {
        struct stat sb;
        const char *kp = fx.st->path(fx.st, ACME_GROUP_STAGING, CERT_ID, "key.sealed", fx.p);
        ck_assert_int_eq(lstat(kp, &sb), 0);
        ck_assert_int_eq((int)(sb.st_mode & 07777), 0600);
        ck_assert_int_eq((int)sb.st_nlink, 1);
    }
}

static void save_order_state(const char *url)
{
    const char *s = apr_psprintf(fx.p, "{\"url\":\"%s\",\"names\":[\"www.example.org\"],"
                                 "\"ca\":\"" DIR_URL "\"}", url);
    ck_assert_int_eq(acme_store_save(fx.st, ACME_GROUP_ORDERS, CERT_ID, "order.json", s,
                                     strlen(s), fx.p), APR_SUCCESS);
}

/* newOrder, one pending authorization (http-01), finalize, order, certificate: 7 requests
 * after the account. */
static void script_one_name_order(void)
{
    fake_answer_t *a;

    a = fake_http_expect(fx.fake, "POST", ORDER_URL, 201, order_json("pending", NULL));
    fake_answer_header(a, "Location", ORDER1, 0);
    fake_http_expect(fx.fake, "POST", AUTHZ1, 200,
                     authz_json("pending", "www.example.org", CHALL1, TOKEN1, "pending", NULL));
    a = fake_http_expect(fx.fake, "POST", CHALL1, 200,
                         "{\"type\":\"http-01\",\"status\":\"pending\",\"url\":\"" CHALL1 "\"}");
    fake_answer_hook(a, on_challenge, &fx);
    fake_http_expect(fx.fake, "POST", AUTHZ1, 200,
                     authz_json("valid", "www.example.org", CHALL1, TOKEN1, "valid", NULL));
    script_finalize("processing");
    fake_http_expect(fx.fake, "POST", ORDER1, 200, order_json("valid", NULL));
    script_cert();
}

static json_t *staged_meta(void)
{
    char *meta = NULL;
    apr_size_t len = 0;
    ck_assert_int_eq(acme_store_load(fx.st, ACME_GROUP_STAGING, CERT_ID, "meta.json", &meta,
                                     &len, fx.p), APR_SUCCESS);
    return acme_json_parse(fx.p, meta, len, NULL);
}

/* ------------------------------------------------------------------ driver tests */

START_TEST(happy_path)
{
    static const char *const seq[] = {
        "GET " DIR_URL, "HEAD " NONCE_URL, "POST " ACCT_URL, "POST " ORDER_URL,
        "POST " AUTHZ1, "POST " CHALL1, "POST " AUTHZ1, "POST " FINALIZE1, "POST " ORDER1,
        "POST " CERT1,
    };
    const fake_request_t *r;
    const json_t *ids;

    ensure_account();
    script_one_name_order();

    ck_assert_int_eq(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), APR_SUCCESS);
    ck_assert_int_eq(fx.res.status, APR_SUCCESS);
    assert_sequence(seq, 10);
    ck_assert_uint_eq(acme_client_request_count(fx.c), 10);
    ck_assert_int_eq(fx.challenge_checked, 1);
    assert_staged();
    /* the http-01 response is gone again, and so is its count */
    ck_assert(!store_has(ACME_GROUP_CHALLENGES, acme_http01_store_name(fx.p, TOKEN1), "http-01"));
    ck_assert(!store_has(ACME_GROUP_CHALLENGES, acme_http01_store_name(fx.p, TOKEN1),
                         ACME_HTTP01_HOST));
    ck_assert_int_eq(fx.http01_counted, 1);
    ck_assert_int_eq(fx.http01_pending, 0);

    /* newOrder payload */
    r = fake_http_request(fx.fake, 3);
    ids = acme_json_arr(r->payload_json, "identifiers");
    ck_assert_int_eq((int)json_array_size(ids), 1);
    ck_assert_str_eq(acme_json_str(json_array_get(ids, 0), "type"), "dns");
    ck_assert_str_eq(acme_json_str(json_array_get(ids, 0), "value"), "www.example.org");
    ck_assert_str_eq(acme_json_str(r->protected_hdr, "kid"), KID);
    /* polling without Retry-After: the default first (50 ms) */
    ck_assert_int_eq(fx.waits->nelts, 2);
    ck_assert(APR_ARRAY_IDX(fx.waits, 0, apr_interval_time_t) == apr_time_from_msec(50));
    ck_assert(logged(ACME_LOG_INFO, CERT_ID, "staged"));
}
END_TEST

/* ACMEProfile offered by the CA: newOrder asks for it; the staged set records it. */
START_TEST(profile_offered_is_sent)
{
    json_t *meta;

    fx.dir_profiles = "{\"classic\":\"90 days\",\"shortlived\":\"6 days\"}";
    fx.spec.profile = "shortlived";
    fx.spec.profile_mandatory = 1;
    ensure_account();
    script_one_name_order();
    ck_assert_int_eq(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), APR_SUCCESS);
    ck_assert_str_eq(acme_json_str(fake_http_request(fx.fake, 3)->payload_json, "profile"),
                     "shortlived");
    assert_staged();
    meta = staged_meta();
    ck_assert_str_eq(acme_json_str(meta, "profile"), "shortlived");
    ck_assert_ptr_null(json_object_get(meta, "profile_fallback"));
    ck_assert(!logged(ACME_LOG_WARNING, "ACME00470", NULL));
}
END_TEST

/* Not offered, not mandatory: a warning, a plain order, the fallback recorded. */
START_TEST(profile_not_offered_falls_back)
{
    json_t *meta;

    fx.dir_profiles = "{\"classic\":\"90 days\"}";
    fx.spec.profile = "shortlived";
    ensure_account();
    script_one_name_order();
    ck_assert_int_eq(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), APR_SUCCESS);
    ck_assert_ptr_null(json_object_get(fake_http_request(fx.fake, 3)->payload_json, "profile"));
    ck_assert(logged(ACME_LOG_WARNING, "ACME00470", "does not offer the profile 'shortlived' "
                     "(it offers: classic): ordering with the CA's default profile"));
    meta = staged_meta();
    ck_assert_str_eq(acme_json_str(meta, "profile"), "shortlived");
    ck_assert(json_is_true(json_object_get(meta, "profile_fallback")));
}
END_TEST

/* Not offered (no profiles at all) and mandatory: no newOrder, a clear error. */
START_TEST(profile_mandatory_missing_orders_nothing)
{
    static const char *const seq[] = { "GET " DIR_URL, "HEAD " NONCE_URL, "POST " ACCT_URL };

    fx.spec.profile = "shortlived";
    fx.spec.profile_mandatory = 1;
    ensure_account();
    ck_assert_int_eq(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), APR_EINVAL);
    assert_sequence(seq, 3);
    ck_assert_ptr_nonnull(strstr(fx.res.detail, "ACMEProfile shortlived mandatory: the CA at "
                                 DIR_URL " does not offer the profile 'shortlived' (its "
                                 "directory lists no profiles)"));
    ck_assert_str_eq(fx.res.subject, CERT_ID);
    ck_assert(!store_has(ACME_GROUP_STAGING, CERT_ID, "meta.json"));
    ck_assert(!store_has(ACME_GROUP_ORDERS, CERT_ID, "order.json"));
}
END_TEST

/* An order begun for another profile is not resumed. */
START_TEST(profile_changed_order_not_resumed)
{
    fx.dir_profiles = "{\"shortlived\":\"6 days\",\"tlsserver\":\"45 days\"}";
    fx.spec.profile = "tlsserver";
    ensure_account();
    save_order_state(ORDER1);   /* begun without a profile */
    script_one_name_order();
    ck_assert_int_eq(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), APR_SUCCESS);
    ck_assert_str_eq(fake_http_request(fx.fake, 3)->url, ORDER_URL);
    ck_assert_str_eq(acme_json_str(fake_http_request(fx.fake, 3)->payload_json, "profile"),
                     "tlsserver");
    ck_assert(logged(ACME_LOG_INFO, "does not match the configuration", NULL));
}
END_TEST

/* A refused newOrder with more names than the newer profiles allow says so. */
START_TEST(profile_too_many_names_hint)
{
    int i;

    fx.dir_profiles = "{\"tlsserver\":\"45 days\"}";
    fx.spec.profile = "tlsserver";
    for (i = 0; i < 25; ++i) {
        APR_ARRAY_PUSH(fx.spec.names, const char *) = apr_psprintf(fx.p, "n%d.example.org", i);
    }
    ensure_account();
    fake_http_expect_problem(fx.fake, "POST", ORDER_URL, 400,
                             "urn:ietf:params:acme:error:rejectedIdentifier",
                             "Order cannot contain more than 25 identifiers");
    ck_assert_int_ne(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(fx.res.detail, "Order cannot contain more than 25 identifiers "
                                 "(26 names with ACMEProfile tlsserver: "));
}
END_TEST

/* alreadyReplaced, unauthorized (the certificate came from another account, e.g. one
 * deactivated since), serverInternal and malformed (pebble 2.10 cannot find a serial whose DER
 * has a leading zero): the same order once more without "replaces" */
START_TEST(replaces_sent_and_dropped_when_already_replaced)
{
    static const char *const types[] = { "alreadyReplaced", "unauthorized", "serverInternal",
                                         "malformed" };
    static const int codes[] = { 409, 403, 500, 400 };
    const fake_request_t *r;

    fx.spec.replaces = "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE";
    ensure_account();
    fake_http_expect_problem(fx.fake, "POST", ORDER_URL, codes[_i],
                             apr_pstrcat(fx.p, "urn:ietf:params:acme:error:", types[_i], NULL),
                             "refused");
    fake_http_expect_problem(fx.fake, "POST", ORDER_URL, 400,
                             "urn:ietf:params:acme:error:rejectedIdentifier", "no");

    ck_assert_int_ne(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), APR_SUCCESS);
    ck_assert_str_eq(fx.res.problem_type, "urn:ietf:params:acme:error:rejectedIdentifier");
    r = fake_http_request(fx.fake, 3);
    ck_assert_str_eq(acme_json_str(r->payload_json, "replaces"),
                     "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
    r = fake_http_request(fx.fake, 4);
    ck_assert_str_eq(r->url, ORDER_URL);
    ck_assert_ptr_null(json_object_get(r->payload_json, "replaces"));
    ck_assert_int_eq(fake_http_remaining(fx.fake), 0);
}
END_TEST

START_TEST(two_names_ready_after_finalize)
{
    /* two authorizations, one already valid; finalize answers valid at once: 8 requests
     * after the account */
    fake_answer_t *a;

    APR_ARRAY_PUSH(fx.spec.names, const char *) = "zz.example.org";
    ensure_account();
    a = fake_http_expect(fx.fake, "POST", ORDER_URL, 201,
                         order_json("pending", "\"" AUTHZ1 "\",\"" AUTHZ2 "\""));
    fake_answer_header(a, "Location", ORDER1, 0);
    fake_http_expect(fx.fake, "POST", AUTHZ1, 200,
                     authz_json("valid", "www.example.org", CHALL1, TOKEN1, "valid", NULL));
    fake_http_expect(fx.fake, "POST", AUTHZ2, 200,
                     authz_json("pending", "zz.example.org", CHALL2, TOKEN2, "pending", NULL));
    a = fake_http_expect(fx.fake, "POST", CHALL2, 200,
                         "{\"type\":\"http-01\",\"status\":\"processing\"}");
    fake_answer_hook(a, on_challenge, &fx);
    fake_http_expect(fx.fake, "POST", AUTHZ2, 200,
                     authz_json("valid", "zz.example.org", CHALL2, TOKEN2, "valid", NULL));
    script_finalize("valid");
    script_cert();
    /* the response a process that ended published for the already valid authorization */
    ck_assert_int_eq(acme_store_save(fx.st, ACME_GROUP_CHALLENGES,
                                     acme_http01_store_name(fx.p, TOKEN1), "http-01", "stale", 5,
                                     fx.p), APR_SUCCESS);

    ck_assert_int_eq(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), APR_SUCCESS);
    ck_assert_int_eq(fake_http_count(fx.fake), 3 + 7);
    ck_assert_int_eq(fake_http_remaining(fx.fake), 0);
    ck_assert_int_eq(fx.challenge_checked, 1);
    /* removed, without a count of its own (it went with its process) */
    ck_assert(!store_has(ACME_GROUP_CHALLENGES, acme_http01_store_name(fx.p, TOKEN1), "http-01"));
    ck_assert_int_eq(fx.http01_counted, 1);
    ck_assert_int_eq(fx.http01_pending, 0);
}
END_TEST

START_TEST(retry_after_honoured)
{
    fake_answer_t *a;

    ensure_account();
    a = fake_http_expect(fx.fake, "POST", ORDER_URL, 201, order_json("pending", NULL));
    fake_answer_header(a, "Location", ORDER1, 0);
    fake_http_expect(fx.fake, "POST", AUTHZ1, 200,
                     authz_json("pending", "www.example.org", CHALL1, TOKEN1, "pending", NULL));
    a = fake_http_expect(fx.fake, "POST", CHALL1, 200,
                         "{\"type\":\"http-01\",\"status\":\"pending\"}");
    fake_answer_header(a, "Retry-After", "3", 0);
    a = fake_http_expect(fx.fake, "POST", AUTHZ1, 200,
                         authz_json("pending", "www.example.org", CHALL1, TOKEN1, "processing",
                                    NULL));
    fake_answer_header(a, "Retry-After", "2", 0);
    fake_http_expect(fx.fake, "POST", AUTHZ1, 200,
                     authz_json("pending", "www.example.org", CHALL1, TOKEN1, "processing",
                                NULL));
    fake_http_expect(fx.fake, "POST", AUTHZ1, 200,
                     authz_json("valid", "www.example.org", CHALL1, TOKEN1, "valid", NULL));
    a = script_finalize("processing");
    fake_answer_header(a, "Retry-After", "120", 0);   /* capped at 60 s */
    fake_http_expect(fx.fake, "POST", ORDER1, 200, order_json("valid", NULL));
    script_cert();

    ck_assert_int_eq(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), APR_SUCCESS);
    ck_assert_int_eq(fake_http_remaining(fx.fake), 0);
    ck_assert_int_eq(fx.waits->nelts, 4);
    ck_assert(APR_ARRAY_IDX(fx.waits, 0, apr_interval_time_t) == apr_time_from_sec(3));
    ck_assert(APR_ARRAY_IDX(fx.waits, 1, apr_interval_time_t) == apr_time_from_sec(2));
    ck_assert(APR_ARRAY_IDX(fx.waits, 2, apr_interval_time_t) == apr_time_from_msec(50));
    ck_assert(APR_ARRAY_IDX(fx.waits, 3, apr_interval_time_t) == apr_time_from_sec(60));
    assert_staged();
}
END_TEST

/* The account, newOrder, one pending authorization and its challenge posted: what comes
 * next is the wait for the CA's validation. */
static void script_until_challenge_posted(void)
{
    fake_answer_t *a;

    ensure_account();
    a = fake_http_expect(fx.fake, "POST", ORDER_URL, 201, order_json("pending", NULL));
    fake_answer_header(a, "Location", ORDER1, 0);
    fake_http_expect(fx.fake, "POST", AUTHZ1, 200,
                     authz_json("pending", "www.example.org", CHALL1, TOKEN1, "pending", NULL));
    fake_http_expect(fx.fake, "POST", CHALL1, 200, "{\"type\":\"http-01\",\"status\":\"pending\"}");
}

START_TEST(poll_backoff_and_timeout)
{
    int i;

    fx.env.poll_timeout = apr_time_from_sec(10);
    script_until_challenge_posted();
    for (i = 0; i < 9; ++i) {
        fake_http_expect(fx.fake, "POST", AUTHZ1, 200,
                         authz_json("pending", "www.example.org", CHALL1, TOKEN1, "processing",
                                    NULL));
    }

    ck_assert_int_eq(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), ACME_EAGAIN);
    ck_assert_int_eq(fx.res.status, ACME_EAGAIN);
    ck_assert_str_eq(fx.res.subject, CERT_ID);
    ck_assert_int_eq(fake_http_remaining(fx.fake), 0);
    /* 50 ms, doubling up to 2 s, until the next wait would pass the timeout (10 s):
     * 0.05 0.1 0.2 0.4 0.8 1.6 2 2 2 (9.15 s) */
    ck_assert_int_eq(fx.waits->nelts, 9);
    for (i = 0; i < 9; ++i) {
        static const int ms[] = { 50, 100, 200, 400, 800, 1600, 2000, 2000, 2000 };
        ck_assert(APR_ARRAY_IDX(fx.waits, i, apr_interval_time_t) == apr_time_from_msec(ms[i]));
    }
    /* resumable: the order state stays, the challenge response does not */
    ck_assert(store_has(ACME_GROUP_ORDERS, CERT_ID, "order.json"));
    ck_assert(!store_has(ACME_GROUP_CHALLENGES, acme_http01_store_name(fx.p, TOKEN1), "http-01"));
}
END_TEST

/* The server stops or restarts while the CA validates: the order ends at its next wait
 * with ACME_EINTERRUPTED, before sleeping; its state and the published response stay (the
 * CA may still be fetching it), for the next start to resume. */
START_TEST(stop_interrupts_at_the_next_wait)
{
    volatile int stop = 1;

    fx.env.stop = &stop;
    script_until_challenge_posted();

    ck_assert_int_eq(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), ACME_EINTERRUPTED);
    ck_assert_int_eq(fx.res.status, ACME_EINTERRUPTED);
    ck_assert_int_eq(fake_http_remaining(fx.fake), 0);
    ck_assert_int_eq(fx.waits->nelts, 0);
    ck_assert(store_has(ACME_GROUP_ORDERS, CERT_ID, "order.json"));
    ck_assert(store_has(ACME_GROUP_CHALLENGES, acme_http01_store_name(fx.p, TOKEN1), "http-01"));
    fx.env.stop = NULL;
}
END_TEST

static void *APR_THREAD_FUNC stop_later(apr_thread_t *t, void *baton)
{
    (void)t;
    apr_sleep(apr_time_from_msec(200));
    *(volatile int *)baton = 1;
    return NULL;
}

/* A stop that comes while the driver sleeps between polls ends the sleep at once (the
 * ending child waits for its orders only a few seconds). */
START_TEST(stop_ends_a_long_wait)
{
    volatile int stop = 0;
    apr_thread_t *t;
    apr_status_t trv;
    apr_time_t t0;

    fx.env.stop = &stop;
    fx.env.sleep = NULL;                       /* real sleeps */
    fx.env.poll_default = apr_time_from_sec(20);
    script_until_challenge_posted();
    ck_assert_int_eq(apr_thread_create(&t, NULL, stop_later, (void *)&stop, fx.p),
                     APR_SUCCESS);
    t0 = apr_time_now();
    ck_assert_int_eq(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), ACME_EINTERRUPTED);
    ck_assert_msg(apr_time_now() - t0 < apr_time_from_sec(5), "the 20 s wait was not cut");
    apr_thread_join(&trv, t);
    ck_assert(store_has(ACME_GROUP_ORDERS, CERT_ID, "order.json"));
    fx.env.stop = NULL;
}
END_TEST

START_TEST(invalid_authorization)
{
    fake_answer_t *a;
    const char *err = "{\"type\":\"urn:ietf:params:acme:error:unauthorized\",\"detail\":"
                      "\"Invalid response from http://www.example.org/.well-known/"
                      "acme-challenge/" TOKEN1 ": 404\",\"status\":403}";

    ensure_account();
    a = fake_http_expect(fx.fake, "POST", ORDER_URL, 201, order_json("pending", NULL));
    fake_answer_header(a, "Location", ORDER1, 0);
    fake_http_expect(fx.fake, "POST", AUTHZ1, 200,
                     authz_json("pending", "www.example.org", CHALL1, TOKEN1, "pending", NULL));
    a = fake_http_expect(fx.fake, "POST", CHALL1, 200,
                         "{\"type\":\"http-01\",\"status\":\"processing\"}");
    fake_answer_hook(a, on_challenge, &fx);
    fake_http_expect(fx.fake, "POST", AUTHZ1, 200,
                     authz_json("invalid", "www.example.org", CHALL1, TOKEN1, "invalid", err));

    ck_assert_int_eq(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), ACME_EINVALID);
    ck_assert_int_eq(fx.res.status, ACME_EINVALID);
    ck_assert_str_eq(fx.res.problem_type, "urn:ietf:params:acme:error:unauthorized");
    ck_assert_ptr_nonnull(strstr(fx.res.detail, "Invalid response from http://www.example.org"));
    ck_assert_ptr_nonnull(strstr(fx.res.detail, "www.example.org"));
    ck_assert_str_eq(fx.res.subject, CERT_ID);
    ck_assert_int_eq(fx.challenge_checked, 1);
    ck_assert_int_eq(fake_http_remaining(fx.fake), 0);
    ck_assert(!store_has(ACME_GROUP_ORDERS, CERT_ID, "order.json"));
    ck_assert(!store_has(ACME_GROUP_CHALLENGES, acme_http01_store_name(fx.p, TOKEN1), "http-01"));
    ck_assert_int_eq(fx.http01_counted, 1);
    ck_assert_int_eq(fx.http01_pending, 0);
    ck_assert(!store_has(ACME_GROUP_STAGING, CERT_ID, "meta.json"));
    ck_assert(logged(ACME_LOG_DEBUG, CERT_ID, "urn:ietf:params:acme:error:unauthorized"));
}
END_TEST

START_TEST(resume_ready_order)
{
    static const char *const seq[] = {
        "GET " DIR_URL, "HEAD " NONCE_URL, "POST " ACCT_URL,
        "POST " ORDER1, "POST " FINALIZE1, "POST " CERT1,
    };

    ensure_account();
    save_order_state(ORDER1);
    fake_http_expect(fx.fake, "POST", ORDER1, 200, order_json("ready", NULL));
    script_finalize("valid");
    script_cert();

    ck_assert_int_eq(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), APR_SUCCESS);
    assert_sequence(seq, 6);
    assert_staged();
}
END_TEST

START_TEST(crash_after_finalize)
{
    fake_answer_t *a;
    char *sealed = NULL;
    apr_size_t slen = 0;

    ensure_account();
    /* run 1: finalize accepted, then the CA fails while we poll */
    a = fake_http_expect(fx.fake, "POST", ORDER_URL, 201, order_json("ready", NULL));
    fake_answer_header(a, "Location", ORDER1, 0);
    script_finalize("processing");
    fake_http_expect_problem(fx.fake, "POST", ORDER1, 500,
                             "urn:ietf:params:acme:error:serverInternal", "database on fire");
    ck_assert_int_eq(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), ACME_EPROBLEM);
    ck_assert_str_eq(fx.res.problem_type, "urn:ietf:params:acme:error:serverInternal");
    ck_assert_str_eq(fx.res.detail, "database on fire");
    ck_assert_int_eq(fx.res.http_status, 500);
    ck_assert(store_has(ACME_GROUP_ORDERS, CERT_ID, "order.json"));
    ck_assert_int_eq(acme_store_load(fx.st, ACME_GROUP_ORDERS, CERT_ID, "key.sealed", &sealed,
                                     &slen, fx.p), APR_SUCCESS);
    ck_assert(acme_is_sealed(sealed, slen));

    /* run 2: the order is valid now; the certificate matches the key sealed in run 1 */
    fake_http_expect(fx.fake, "POST", ORDER1, 200, order_json("valid", NULL));
    script_cert();
    acme_result_reset(&fx.res);
    ck_assert_int_eq(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), APR_SUCCESS);
    ck_assert_int_eq(fake_http_remaining(fx.fake), 0);
    ck_assert_int_eq(fake_http_count(fx.fake), 3 + 3 + 2);
    assert_staged();
}
END_TEST

START_TEST(stale_order_replaced)
{
    static const char *const seq[] = {
        "GET " DIR_URL, "HEAD " NONCE_URL, "POST " ACCT_URL,
        "POST " CA "/order/old", "POST " ORDER_URL,
    };

    ensure_account();
    save_order_state(CA "/order/old");
    fake_http_expect_problem(fx.fake, "POST", CA "/order/old", 404,
                             "urn:ietf:params:acme:error:malformed", "No such order");
    fake_http_expect_problem(fx.fake, "POST", ORDER_URL, 400,
                             "urn:ietf:params:acme:error:rejectedIdentifier",
                             "Policy forbids issuing for www.example.org");

    ck_assert_int_eq(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), ACME_EPROBLEM);
    assert_sequence(seq, 5);
    ck_assert_str_eq(fx.res.problem_type, "urn:ietf:params:acme:error:rejectedIdentifier");
    ck_assert_str_eq(fx.res.detail, "Policy forbids issuing for www.example.org");
    ck_assert_str_eq(fx.res.subject, CERT_ID);
    ck_assert(!store_has(ACME_GROUP_ORDERS, CERT_ID, "order.json"));
    ck_assert(logged(ACME_LOG_DEBUG, CERT_ID, "rejectedIdentifier"));
}
END_TEST

/* A problem the table calls final (badCSR at finalize) drops the order and its key: the next
 * run orders anew instead of meeting the same answer for ever. */
START_TEST(final_problem_drops_order)
{
    fake_answer_t *a;

    ensure_account();
    a = fake_http_expect(fx.fake, "POST", ORDER_URL, 201, order_json("ready", NULL));
    fake_answer_header(a, "Location", ORDER1, 0);
    fake_http_expect_problem(fx.fake, "POST", FINALIZE1, 400,
                             "urn:ietf:params:acme:error:badCSR", "key too small");
    ck_assert_int_eq(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), ACME_EPROBLEM);
    ck_assert_str_eq(fx.res.problem_type, "urn:ietf:params:acme:error:badCSR");
    ck_assert_int_eq(acme_problem_handling(&fx.res), ACME_PH_FINAL);
    ck_assert(!store_has(ACME_GROUP_ORDERS, CERT_ID, "order.json"));
    ck_assert(!store_has(ACME_GROUP_ORDERS, CERT_ID, "key.sealed"));
    ck_assert_int_eq(fake_http_remaining(fx.fake), 0);
}
END_TEST

/* A transient problem keeps the order: badNonce still there after all its retries (the
 * stored order's fetch) and serverInternal both leave order.json for the next run. */
START_TEST(transient_problem_keeps_order)
{
    int i;

    ensure_account();
    save_order_state(ORDER1);
    for (i = 0; i <= ACME_BADNONCE_RETRIES; ++i) {
        fake_answer_t *a = fake_http_expect_problem(fx.fake, "POST", ORDER1, 400,
                                                    "urn:ietf:params:acme:error:badNonce",
                                                    "bad nonce");
        fake_answer_header(a, "Replay-Nonce", apr_psprintf(fx.p, "n%d", i), 0);
    }
    ck_assert_int_eq(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), ACME_EPROBLEM);
    ck_assert_int_eq(acme_problem_handling(&fx.res), ACME_PH_RETRY_NOW);
    ck_assert(store_has(ACME_GROUP_ORDERS, CERT_ID, "order.json"));

    fake_http_expect_problem(fx.fake, "POST", ORDER1, 500,
                             "urn:ietf:params:acme:error:serverInternal", "try later");
    acme_result_reset(&fx.res);
    ck_assert_int_eq(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), ACME_EPROBLEM);
    ck_assert_int_eq(acme_problem_handling(&fx.res), ACME_PH_RETRY_LATER);
    ck_assert(store_has(ACME_GROUP_ORDERS, CERT_ID, "order.json"));
    ck_assert_int_eq(fake_http_remaining(fx.fake), 0);
}
END_TEST

START_TEST(mismatching_state_dropped)
{
    static const char *const seq[] = {
        "GET " DIR_URL, "HEAD " NONCE_URL, "POST " ACCT_URL, "POST " ORDER_URL,
    };
    const char *s = "{\"url\":\"" ORDER1 "\",\"names\":[\"other.example.org\"],"
                    "\"ca\":\"" DIR_URL "\"}";
    fake_answer_t *a;
    apr_time_t before = apr_time_now();

    ensure_account();
    ck_assert_int_eq(acme_store_save(fx.st, ACME_GROUP_ORDERS, CERT_ID, "order.json", s,
                                     strlen(s), fx.p), APR_SUCCESS);
    a = fake_http_expect_problem(fx.fake, "POST", ORDER_URL, 429,
                                 "urn:ietf:params:acme:error:rateLimited", "too many new orders");
    fake_answer_header(a, "Retry-After", "600", 0);

    ck_assert_int_eq(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), ACME_EPROBLEM);
    assert_sequence(seq, 4);
    ck_assert_str_eq(fx.res.problem_type, "urn:ietf:params:acme:error:rateLimited");
    ck_assert(fx.res.retry_after >= before + apr_time_from_sec(600));
    ck_assert_int_eq(fx.res.http_status, 429);
    ck_assert(!store_has(ACME_GROUP_ORDERS, CERT_ID, "order.json"));
}
END_TEST

START_TEST(no_http01_offered)
{
    fake_answer_t *a;

    ensure_account();
    a = fake_http_expect(fx.fake, "POST", ORDER_URL, 201, order_json("pending", NULL));
    fake_answer_header(a, "Location", ORDER1, 0);
    fake_http_expect(fx.fake, "POST", AUTHZ1, 200,
                     "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":"
                     "\"www.example.org\"},\"challenges\":[{\"type\":\"dns-01\",\"url\":\""
                     CA "/c/d\",\"token\":\"abc\",\"status\":\"pending\"},{\"type\":"
                     "\"tls-alpn-01\",\"url\":\"" CA "/c/t\",\"token\":\"abc\",\"status\":"
                     "\"pending\"}]}");

    ck_assert_int_eq(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), ACME_ENOCHALLENGE);
    ck_assert_int_eq(fx.res.status, ACME_ENOCHALLENGE);
    ck_assert_ptr_nonnull(strstr(fx.res.detail, "dns-01, tls-alpn-01"));
    ck_assert_ptr_nonnull(strstr(fx.res.detail, "www.example.org"));
    ck_assert_int_eq(fake_http_remaining(fx.fake), 0);
    ck_assert_int_eq(fake_http_count(fx.fake), 5);
}
END_TEST

/* A token the CA sends in a form the responder would refuse is refused here by the same
 * check (acme_challenge_token_valid), before anything is published or POSTed. */
START_TEST(bad_token_refused_before_publishing)
{
    static const char *const bad[] = { "../../etc/passwd", "a.b", "%2e%2e", "" };
    char *long_token = apr_palloc(fx.p, ACME_TOKEN_MAX_LEN + 2);
    apr_array_header_t *names = NULL;
    size_t i;

    memset(long_token, 'x', ACME_TOKEN_MAX_LEN + 1);
    long_token[ACME_TOKEN_MAX_LEN + 1] = '\0';
    ensure_account();
    for (i = 0; i <= sizeof(bad) / sizeof(bad[0]); ++i) {
        const char *token = i < sizeof(bad) / sizeof(bad[0]) ? bad[i] : long_token;
        fake_answer_t *a;
        a = fake_http_expect(fx.fake, "POST", ORDER_URL, 201, order_json("pending", NULL));
        fake_answer_header(a, "Location", ORDER1, 0);
        fake_http_expect(fx.fake, "POST", AUTHZ1, 200,
                         authz_json("pending", "www.example.org", CHALL1, token, "pending",
                                    NULL));
        acme_result_reset(&fx.res);
        ck_assert_int_eq(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), ACME_EPROTO);
        ck_assert_msg(strstr(fx.res.detail, "no valid token") != NULL, "%s", fx.res.detail);
        ck_assert_int_eq(fx.http01_counted, 0);
        ck_assert_int_eq(fake_http_remaining(fx.fake), 0);
        /* the order is kept for the next run; nothing was published */
        ck_assert_int_eq(fx.st->list(fx.st, ACME_GROUP_CHALLENGES, &names, fx.p),
                         APR_SUCCESS);
        ck_assert_int_eq(names->nelts, 0);
        ck_assert_int_eq(acme_store_remove(fx.st, ACME_GROUP_ORDERS, CERT_ID, NULL, fx.p),
                         APR_SUCCESS);
    }
}
END_TEST

/* ------------------------------------------------------------------ challenge types */

static const char *authz_all_types(const char *ident, int wildcard)
{
    return apr_psprintf(fx.p, "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\","
                        "\"value\":\"%s\"},%s\"challenges\":["
                        "{\"type\":\"http-01\",\"url\":\"" CA "/c/h\",\"token\":\"" TOKEN1 "\","
                        "\"status\":\"pending\"},"
                        "{\"type\":\"dns-01\",\"url\":\"" CA "/c/d\",\"token\":\"" TOKEN1 "\","
                        "\"status\":\"pending\"},"
                        "{\"type\":\"tls-alpn-01\",\"url\":\"" CA "/c/t\",\"token\":\"" TOKEN1
                        "\",\"status\":\"pending\"}]}", ident,
                        wildcard ? "\"wildcard\":true," : "");
}

static void script_order_with_authz(const char *authz)
{
    fake_answer_t *a;
    ensure_account();
    a = fake_http_expect(fx.fake, "POST", ORDER_URL, 201, order_json("pending", NULL));
    fake_answer_header(a, "Location", ORDER1, 0);
    fake_http_expect(fx.fake, "POST", AUTHZ1, 200, authz);
}

static void on_tlsalpn_challenge(void *baton, const fake_request_t *req,
                                 acme_http_response_t *resp, apr_pool_t *p)
{
    fixture_t *f = baton;
    const char *name = acme_tlsalpn01_store_name(p, "www.example.org");
    char *cert = NULL, *sealed = NULL;
    apr_size_t clen = 0, slen = 0;
    ck_assert_int_eq(acme_store_load(f->st, ACME_GROUP_CHALLENGES, name, ACME_TLSALPN01_CERT,
                                     &cert, &clen, p), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(cert, "BEGIN CERTIFICATE"));
    ck_assert_int_eq(acme_store_load(f->st, ACME_GROUP_CHALLENGES, name, ACME_TLSALPN01_KEY,
                                     &sealed, &slen, p), APR_SUCCESS);
    ck_assert(acme_is_sealed(sealed, slen));
    f->challenge_checked++;
}

static apr_array_header_t *types(const char *a, const char *b)
{
    apr_array_header_t *t = apr_array_make(fx.p, 2, sizeof(const char *));
    APR_ARRAY_PUSH(t, const char *) = a;
    if (b) {
        APR_ARRAY_PUSH(t, const char *) = b;
    }
    return t;
}

START_TEST(tls_alpn_chosen_by_preference)
{
    fake_answer_t *a;

    fx.spec.challenge_types = types(ACME_CHALLENGE_TLSALPN01, ACME_CHALLENGE_HTTP01);
    script_order_with_authz(authz_all_types("www.example.org", 0));
    a = fake_http_expect_problem(fx.fake, "POST", CA "/c/t", 400,
                                 "urn:ietf:params:acme:error:malformed", "stop here");
    fake_answer_hook(a, on_tlsalpn_challenge, &fx);

    ck_assert_int_ne(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), APR_SUCCESS);
    ck_assert_int_eq(fx.challenge_checked, 1);
    /* removed afterwards */
    ck_assert(!store_has(ACME_GROUP_CHALLENGES,
                         acme_tlsalpn01_store_name(fx.p, "www.example.org"),
                         ACME_TLSALPN01_CERT));
    ck_assert_int_eq(fake_http_remaining(fx.fake), 0);
}
END_TEST

START_TEST(none_allowed_names_both_lists)
{
    fx.spec.challenge_types = types(ACME_CHALLENGE_TLSALPN01, NULL);
    script_order_with_authz(apr_psprintf(fx.p, "{\"status\":\"pending\",\"identifier\":"
                                         "{\"type\":\"dns\",\"value\":\"www.example.org\"},"
                                         "\"challenges\":[{\"type\":\"http-01\",\"url\":\""
                                         CA "/c/h\",\"token\":\"" TOKEN1 "\",\"status\":"
                                         "\"pending\"}]}"));
    ck_assert_int_eq(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), ACME_ENOCHALLENGE);
    ck_assert_ptr_nonnull(strstr(fx.res.detail, "offers http-01"));
    ck_assert_ptr_nonnull(strstr(fx.res.detail, "allowed: tls-alpn-01"));
}
END_TEST

START_TEST(wildcard_without_hook_needs_dns)
{
    script_order_with_authz(authz_all_types("example.org", 1));
    ck_assert_int_eq(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), ACME_ENOCHALLENGE);
    ck_assert_ptr_nonnull(strstr(fx.res.detail, "*.example.org"));
    ck_assert_ptr_nonnull(strstr(fx.res.detail, "ACMEDNSHook"));
}
END_TEST

/* dns-persist-01: no token, nothing published; a failed validation names the standing
 * record (issuer domain from the challenge, this account's URL) in the outcome. */
START_TEST(dnspersist_failure_names_the_record)
{
    fake_answer_t *a;
    const char *record = "_validation-persist.www.example.org. IN TXT \"ca.test; "
                         "accounturi=" KID "\"";

    fx.spec.challenge_types = types(ACME_CHALLENGE_DNSPERSIST01, NULL);
    script_order_with_authz("{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\","
                            "\"value\":\"www.example.org\"},\"challenges\":["
                            "{\"type\":\"dns-persist-01\",\"url\":\"" CA "/c/p\","
                            "\"status\":\"pending\",\"issuer-domain-names\":[\"ca.test\","
                            "\"other.test\"]}]}");
    a = fake_http_expect(fx.fake, "POST", CA "/c/p", 200,
                         "{\"type\":\"dns-persist-01\",\"status\":\"invalid\",\"error\":"
                         "{\"type\":\"urn:ietf:params:acme:error:unauthorized\",\"detail\":"
                         "\"No TXT records found for DNS-PERSIST-01 challenge\"}}");
    (void)a;
    ck_assert_int_ne(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(fx.res.detail, "No TXT records found"));
    ck_assert_msg(strstr(fx.res.detail, record) != NULL, "%s", fx.res.detail);
    ck_assert(logged(ACME_LOG_NOTICE, CERT_ID, record));
    ck_assert_int_eq(fx.http01_counted, 0);
    ck_assert_int_eq(fake_http_remaining(fx.fake), 0);
    /* the record is state from the order on, and outlives the order's state */
    {
        acme_persist_t *ps;
        const acme_persist_record_t *rec;
        ck_assert_int_eq(acme_persist_load(&ps, fx.p, fx.st, CERT_ID), APR_SUCCESS);
        ck_assert_int_eq(ps->records->nelts, 1);
        rec = acme_persist_find(ps, "www.example.org");
        ck_assert_ptr_nonnull(rec);
        ck_assert_str_eq(acme_persist_zone_line(fx.p, rec), record);
    }
}
END_TEST

/* A certificate with NAME and *.NAME: whichever authorization comes first, the record shown
 * is the one with policy=wildcard, which serves both names. */
START_TEST(dnspersist_apex_of_a_wildcard_gets_the_wildcard_record)
{
    const char *record = "_validation-persist.www.example.org. IN TXT \"ca.test; "
                         "accounturi=" KID "; policy=wildcard\"";

    APR_ARRAY_PUSH(fx.spec.names, const char *) = "*.www.example.org";
    fx.spec.challenge_types = types(ACME_CHALLENGE_DNSPERSIST01, NULL);
    script_order_with_authz("{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\","
                            "\"value\":\"www.example.org\"},\"challenges\":["
                            "{\"type\":\"dns-persist-01\",\"url\":\"" CA "/c/p\","
                            "\"status\":\"pending\",\"issuer-domain-names\":[\"ca.test\"]}]}");
    fake_http_expect(fx.fake, "POST", CA "/c/p", 200,
                     "{\"type\":\"dns-persist-01\",\"status\":\"invalid\",\"error\":"
                     "{\"type\":\"urn:ietf:params:acme:error:unauthorized\",\"detail\":"
                     "\"No TXT records found for DNS-PERSIST-01 challenge\"}}");
    ck_assert_int_ne(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), APR_SUCCESS);
    ck_assert_msg(strstr(fx.res.detail, record) != NULL, "%s", fx.res.detail);
    ck_assert(logged(ACME_LOG_NOTICE, CERT_ID, record));
}
END_TEST

/* Saved records of names the certificate no longer has go at the next run, and all of them
 * once it no longer allows dns-persist-01. */
START_TEST(dnspersist_records_dropped_when_unused)
{
    acme_persist_t *ps = acme_persist_make(fx.p);

    acme_persist_set(ps, fx.p, "_validation-persist.www.example.org",
                     "ca.test; accounturi=" KID);
    acme_persist_set(ps, fx.p, "_validation-persist.old.example.org",
                     "ca.test; accounturi=" KID);
    ck_assert_int_eq(acme_persist_save(fx.st, CERT_ID, ps, fx.p), APR_SUCCESS);
    fx.spec.challenge_types = types(ACME_CHALLENGE_DNSPERSIST01, NULL);
    ensure_account();
    fake_http_expect_problem(fx.fake, "POST", ORDER_URL, 400,
                             "urn:ietf:params:acme:error:malformed", "stop here");
    ck_assert_int_ne(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), APR_SUCCESS);
    ck_assert_int_eq(acme_persist_load(&ps, fx.p, fx.st, CERT_ID), APR_SUCCESS);
    ck_assert_int_eq(ps->records->nelts, 1);
    ck_assert_ptr_nonnull(acme_persist_find(ps, "www.example.org"));

    fx.spec.challenge_types = types(ACME_CHALLENGE_HTTP01, NULL);
    fake_http_expect_problem(fx.fake, "POST", ORDER_URL, 400,
                             "urn:ietf:params:acme:error:malformed", "stop here");
    ck_assert_int_ne(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), APR_SUCCESS);
    ck_assert_int_eq(acme_persist_load(&ps, fx.p, fx.st, CERT_ID), APR_ENOENT);
    ck_assert_int_eq(fake_http_remaining(fx.fake), 0);
}
END_TEST

/* RFC 8738: an address goes to newOrder as an "ip" identifier and is never validated
 * through DNS, even where a DNS-based type is preferred. */
static void on_ip_order(void *baton, const fake_request_t *req, acme_http_response_t *resp,
                        apr_pool_t *p)
{
    fixture_t *f = baton;
    const json_t *ids = acme_json_arr(req->payload_json, "identifiers");
    ck_assert_int_eq(json_array_size(ids), 1);
    ck_assert_str_eq(acme_json_str(json_array_get(ids, 0), "type"), "ip");
    ck_assert_str_eq(acme_json_str(json_array_get(ids, 0), "value"), "192.0.2.1");
    f->challenge_checked++;
}

START_TEST(ip_identifier_ordered_and_never_dns)
{
    fake_answer_t *a;

    APR_ARRAY_IDX(fx.spec.names, 0, const char *) = "192.0.2.1";
    fx.spec.challenge_types = types(ACME_CHALLENGE_DNSPERSIST01, ACME_CHALLENGE_HTTP01);
    ensure_account();
    a = fake_http_expect(fx.fake, "POST", ORDER_URL, 201, order_json("pending", NULL));
    fake_answer_header(a, "Location", ORDER1, 0);
    fake_answer_hook(a, on_ip_order, &fx);
    fake_http_expect(fx.fake, "POST", AUTHZ1, 200,
                     "{\"status\":\"pending\",\"identifier\":{\"type\":\"ip\",\"value\":"
                     "\"192.0.2.1\"},\"challenges\":[{\"type\":\"dns-persist-01\",\"url\":\""
                     CA "/c/p\",\"status\":\"pending\",\"issuer-domain-names\":[\"ca.test\"]},"
                     "{\"type\":\"http-01\",\"url\":\"" CA "/c/h\",\"token\":\"" TOKEN1 "\","
                     "\"status\":\"pending\"}]}");
    fake_http_expect_problem(fx.fake, "POST", CA "/c/h", 400,
                             "urn:ietf:params:acme:error:malformed", "stop here");
    ck_assert_int_ne(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), APR_SUCCESS);
    ck_assert_int_eq(fx.challenge_checked, 1);
    ck_assert_int_eq(fake_http_remaining(fx.fake), 0);
}
END_TEST

static const char *write_hook(const char *body)
{
    return unit_hook_write(fx.p, fx.dir, body);
}

static const char *hook_log(void)
{
    return unit_hook_log(fx.p, fx.dir);
}

START_TEST(dns01_hook_setup_and_teardown)
{
    acme_dns_hook_t hook;
    apr_array_header_t *args = apr_array_make(fx.p, 1, sizeof(const char *));
    const char *ka, *expect;
    unsigned char md[32];

    memset(&hook, 0, sizeof(hook));
    APR_ARRAY_PUSH(args, const char *) = "--zone=example.org";
    hook.program = write_hook("exit 0");
    hook.args = args;
    fx.spec.dns_hook = &hook;
    fx.spec.challenge_types = types(ACME_CHALLENGE_HTTP01, ACME_CHALLENGE_DNS01);
    script_order_with_authz(authz_all_types("example.org", 1));
    fake_http_expect_problem(fx.fake, "POST", CA "/c/d", 400,
                             "urn:ietf:params:acme:error:malformed", "stop here");

    ck_assert_int_ne(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), APR_SUCCESS);
    ck_assert_str_eq(fx.res.detail, "stop here");
    ck_assert_int_eq(acme_key_authorization(&ka, fx.p, TOKEN1,
                                            acme_client_account_key(fx.c, fx.p)), APR_SUCCESS);
    acme_sha256(md, ka, strlen(ka));
    expect = apr_psprintf(fx.p, "--zone=example.org setup example.org %s\n"
                          "--zone=example.org teardown example.org %s\n",
                          acme_b64url_encode(fx.p, md, 32), acme_b64url_encode(fx.p, md, 32));
    ck_assert_str_eq(hook_log(), expect);
}
END_TEST

START_TEST(dns01_hook_failure_still_tears_down)
{
    acme_dns_hook_t hook;

    memset(&hook, 0, sizeof(hook));
    hook.program = write_hook("[ \"$1\" = setup ] && { echo zone refused; exit 3; }; exit 0");
    fx.spec.dns_hook = &hook;
    fx.spec.challenge_types = types(ACME_CHALLENGE_DNS01, NULL);
    script_order_with_authz(authz_all_types("example.org", 0));

    ck_assert_int_eq(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), ACME_EHOOK);
    ck_assert_ptr_nonnull(strstr(fx.res.detail, "exit status 3"));
    ck_assert_ptr_nonnull(strstr(fx.res.detail, "zone refused"));
    ck_assert_ptr_nonnull(strstr(hook_log(), "setup example.org"));
    ck_assert_ptr_nonnull(strstr(hook_log(), "teardown example.org"));
    ck_assert_int_eq(fake_http_remaining(fx.fake), 0);
}
END_TEST

START_TEST(dns01_hook_killed_after_timeout)
{
    acme_dns_hook_t hook;
    apr_time_t start = apr_time_now();

    memset(&hook, 0, sizeof(hook));
    hook.program = write_hook("[ \"$1\" = setup ] && exec sleep 30; exit 0");
    hook.timeout = apr_time_from_msec(300);
    fx.spec.dns_hook = &hook;
    fx.spec.challenge_types = types(ACME_CHALLENGE_DNS01, NULL);
    script_order_with_authz(authz_all_types("example.org", 0));

    ck_assert_int_eq(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), APR_TIMEUP);
    ck_assert_ptr_nonnull(strstr(fx.res.detail, "killed"));
    ck_assert(apr_time_now() - start < apr_time_from_sec(10));
    ck_assert_ptr_nonnull(strstr(hook_log(), "teardown example.org"));
}
END_TEST

/* An account, a new order that is ready at once, finalized to valid. */
static void script_ready_order(void)
{
    fake_answer_t *a;

    ensure_account();
    a = fake_http_expect(fx.fake, "POST", ORDER_URL, 201, order_json("ready", NULL));
    fake_answer_header(a, "Location", ORDER1, 0);
    script_finalize("valid");
}

START_TEST(certificate_for_other_key)
{
    fx.issue_for_other_key = 1;
    script_ready_order();
    script_cert();

    ck_assert_int_eq(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), ACME_EVERIFY);
    ck_assert_int_eq(fx.res.status, ACME_EVERIFY);
    ck_assert_ptr_nonnull(fx.res.detail);
    ck_assert(!store_has(ACME_GROUP_STAGING, CERT_ID, "meta.json"));
    ck_assert(!store_has(ACME_GROUP_STAGING, CERT_ID, "chain.pem"));
    ck_assert(!store_has(ACME_GROUP_ORDERS, CERT_ID, "order.json"));
}
END_TEST

/* A leaf without its issuer is completed from the answer's Link rel="up", and what gets
 * staged is the whole chain. */
START_TEST(leaf_only_completed_from_up_link)
{
    fake_answer_t *a;
    char *chain = NULL;
    apr_size_t clen = 0;

    fx.leaf_only = 1;
    script_ready_order();
    a = fake_http_expect(fx.fake, "POST", CERT1, 200, "");
    fake_answer_hook(a, on_certificate, &fx);
    fake_answer_header(a, "Link", "<" CA "/issuer/1>;rel=\"up\"", 1);
    a = fake_http_expect(fx.fake, "POST", CA "/issuer/1", 200, fx.ca.pem);
    fake_answer_header(a, "Content-Type", "application/pem-certificate-chain", 0);

    ck_assert_int_eq(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), APR_SUCCESS);
    assert_staged();
    ck_assert_int_eq(acme_store_load(fx.st, ACME_GROUP_STAGING, CERT_ID, "chain.pem", &chain,
                                     &clen, fx.p), APR_SUCCESS);
    ck_assert_str_eq(chain, fx.chain_pem);
    ck_assert(logged(ACME_LOG_INFO, "the CA sent the leaf alone", CA "/issuer/1"));
}
END_TEST

/* Without a Link rel="up", the issuer comes from the leaf's caIssuers URL (plain GET). */
/* An order whose certificate URL serves the leaf alone, the leaf naming a caIssuers URL
 * that serves issuer_pem. */
static void script_leaf_with_ca_issuers(const char *issuer_pem)
{
    fake_answer_t *a;

    fx.leaf_only = 1;
    fx.ca_issuers = "http://ca.test/issuer.pem";
    script_ready_order();
    script_cert();
    a = fake_http_expect(fx.fake, "GET", fx.ca_issuers, 200, issuer_pem);
    fake_answer_header(a, "Content-Type", "application/x-pem-file", 0);
}

START_TEST(leaf_only_completed_from_ca_issuers)
{
    char *chain = NULL;
    apr_size_t clen = 0;

    script_leaf_with_ca_issuers(fx.ca.pem);

    ck_assert_int_eq(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), APR_SUCCESS);
    assert_staged();
    ck_assert_int_eq(acme_store_load(fx.st, ACME_GROUP_STAGING, CERT_ID, "chain.pem", &chain,
                                     &clen, fx.p), APR_SUCCESS);
    ck_assert_str_eq(chain, fx.chain_pem);
}
END_TEST

/* An issuer download that is not the leaf's issuer does not complete the chain. */
START_TEST(leaf_only_wrong_issuer_refused)
{
    test_ca_t *other = apr_pcalloc(fx.p, sizeof(*other));   /* its cleanup runs at teardown */

    test_ca_create(other, fx.p);
    script_leaf_with_ca_issuers(other->pem);

    ck_assert_int_eq(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), ACME_EVERIFY);
    ck_assert_msg(strstr(fx.res.detail, "is not signed by certificate 2") != NULL, "%s",
                  fx.res.detail);
    ck_assert(!store_has(ACME_GROUP_STAGING, CERT_ID, "chain.pem"));
}
END_TEST

/* Without a Link rel="up" and without caIssuers, a lone leaf is refused, never staged. */
START_TEST(leaf_only_refused)
{

    fx.leaf_only = 1;
    script_ready_order();
    script_cert();

    ck_assert_int_eq(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), ACME_EVERIFY);
    ck_assert_msg(strstr(fx.res.detail, "fails verification, not activated: the chain holds "
                                        "only the leaf") != NULL, "%s", fx.res.detail);
    ck_assert_msg(strstr(fx.res.detail, "no Link rel=\"up\"") != NULL, "%s", fx.res.detail);
    ck_assert(!store_has(ACME_GROUP_STAGING, CERT_ID, "chain.pem"));
    ck_assert(!store_has(ACME_GROUP_ORDERS, CERT_ID, "order.json"));
}
END_TEST

/* ------------------------------------------------------------------ preferred chain, key reuse */

/* A root named cn and a cross-signed copy of the test CA under it (same subject and key;
 * broken: another key): the top certificate of an alternate chain "leaf, cross" whose issuer
 * is cn. */
typedef struct alt_chain_t {
    const char *cross_pem;
    int served;
} alt_chain_t;

static alt_chain_t *alt_chain_make(const char *cn, int broken)
{
    alt_chain_t *alt = apr_pcalloc(fx.p, sizeof(*alt));
    test_ca_t *root = apr_pcalloc(fx.p, sizeof(*root));
    X509 *cross = X509_new();
    X509_EXTENSION *ext;

    test_ca_create(root, fx.p);
    X509_NAME_ENTRY_free(X509_NAME_delete_entry(X509_get_subject_name(root->cert), 0));
    X509_NAME_add_entry_by_txt(X509_get_subject_name(root->cert), "CN", MBSTRING_ASC,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(root->cert, X509_get_subject_name(root->cert));
    ck_assert_int_gt(X509_sign(root->cert, root->key, EVP_sha256()), 0);
    X509_set_version(cross, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cross), 7);
    X509_gmtime_adj(X509_getm_notBefore(cross), -86400);
    X509_gmtime_adj(X509_getm_notAfter(cross), 365L * 86400);
    X509_set_subject_name(cross, X509_get_subject_name(fx.ca.cert));
    X509_set_issuer_name(cross, X509_get_subject_name(root->cert));
    X509_set_pubkey(cross, broken ? root->key : fx.ca.key); /* broken: the leaf's signature
                                                                 does not verify with it */
    ext = ext_of(root->cert, cross, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(cross, ext, -1);
    X509_EXTENSION_free(ext);
    ck_assert_int_gt(X509_sign(cross, root->key, EVP_sha256()), 0);
    alt->cross_pem = x509_pem(fx.p, cross);
    X509_free(cross);
    return alt;
}

/* The alternate answer: the leaf issued at finalize, then the cross-signed CA. */
static void on_alternate(void *baton, const fake_request_t *req, acme_http_response_t *resp,
                         apr_pool_t *p)
{
    alt_chain_t *alt = baton;
    ck_assert_ptr_nonnull(fx.chain_pem);
    ck_assert_str_eq(req->accept, "application/pem-certificate-chain");
    ck_assert_str_eq(req->payload, "");
    resp->body = apr_pstrcat(p, apr_pstrndup(p, fx.chain_pem,
                                             strlen(fx.chain_pem) - strlen(fx.ca.pem)),
                             alt->cross_pem, NULL);
    resp->body_len = strlen(resp->body);
    apr_table_set(resp->headers, "Content-Type", "application/pem-certificate-chain");
    alt->served++;
}

/* The answer of alternate i (/cert/1/alternate/i): the leaf under alt's cross certificate. */
static void script_alternate(int i, alt_chain_t *alt)
{
    fake_answer_t *a = fake_http_expect(fx.fake, "POST",
                                        apr_psprintf(fx.p, CERT1 "/alternate/%d", i), 200, "");
    fake_answer_hook(a, on_alternate, alt);
}

/* An order whose certificate answer links to alternates 1..n (/cert/1/alternate/N). */
static void script_cert_with_alternates(int n)
{
    fake_answer_t *a = fake_http_expect(fx.fake, "POST", CERT1, 200, "");
    int i;
    fake_answer_hook(a, on_certificate, &fx);
    for (i = 1; i <= n; ++i) {
        fake_answer_header(a, "Link", apr_psprintf(fx.p, "<" CERT1 "/alternate/%d>;rel="
                                                   "\"alternate\"", i), 1);
    }
}

static const char *staged_text(const char *aspect)
{
    char *data = NULL;
    ck_assert_int_eq(acme_store_load(fx.st, ACME_GROUP_STAGING, CERT_ID, aspect, &data, NULL,
                                     fx.p), APR_SUCCESS);
    return data;
}

/* The second alternate ends at the preferred name (any case): it is what is staged. */
START_TEST(preferred_chain_alternate_taken)
{
    alt_chain_t *one = alt_chain_make("Other Root", 0), *two = alt_chain_make("Alt Root CA", 0);
    json_t *meta;

    fx.spec.preferred_chain = "alt root ca";
    script_ready_order();
    script_cert_with_alternates(2);
    script_alternate(1, one);
    script_alternate(2, two);

    ck_assert_int_eq(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), APR_SUCCESS);
    ck_assert_int_eq(one->served + two->served, 2);
    assert_staged();
    ck_assert_msg(strstr(staged_text("chain.pem"), two->cross_pem) != NULL,
                  "the alternate chain was not staged");
    meta = acme_json_parse(fx.p, staged_text("meta.json"), strlen(staged_text("meta.json")),
                           NULL);
    ck_assert_str_eq(acme_json_str(meta, "chain"), "Alt Root CA");
    ck_assert(logged(ACME_LOG_INFO, "ACME00481", CERT1 "/alternate/2"));
}
END_TEST

/* No chain ends at the name: the default is staged, with a warning naming what was offered. */
START_TEST(preferred_chain_none_matches)
{
    alt_chain_t *one = alt_chain_make("Other Root", 0);

    fx.spec.preferred_chain = "Nobody's Root";
    script_ready_order();
    script_cert_with_alternates(1);
    script_alternate(1, one);

    ck_assert_int_eq(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), APR_SUCCESS);
    assert_staged();
    ck_assert_str_eq(staged_text("chain.pem"), fx.chain_pem);
    ck_assert(logged(ACME_LOG_WARNING, "ACME00480", "'Unit Test CA' (default), 'Other Root'"));
}
END_TEST

/* The default chain already ends at the name: no alternate is fetched. An alternate that
 * fails the chain check is never taken either. */
START_TEST(preferred_chain_default_or_broken_alternate)
{
    alt_chain_t *bad;

    fx.spec.preferred_chain = "UNIT TEST CA";
    script_ready_order();
    script_cert_with_alternates(1);
    ck_assert_int_eq(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), APR_SUCCESS);
    ck_assert_int_eq(fake_http_remaining(fx.fake), 0);
    ck_assert_int_eq(fake_http_count(fx.fake), 6); /* dir, nonce, account, order, finalize, cert */
    ck_assert_str_eq(staged_text("chain.pem"), fx.chain_pem);

    /* a second order: the alternate's top names the preferred root but does not link */
    teardown();
    setup();
    bad = alt_chain_make("Broken Root", 1);
    fx.spec.preferred_chain = "Broken Root";
    script_ready_order();
    script_cert_with_alternates(1);
    script_alternate(1, bad);
    ck_assert_int_eq(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), APR_SUCCESS);
    ck_assert_int_eq(bad->served, 1);
    ck_assert_str_eq(staged_text("chain.pem"), fx.chain_pem);
    ck_assert(logged(ACME_LOG_WARNING, "ACME00480", "not usable: " CERT1 "/alternate/1"));
}
END_TEST

/* A new p256 key, its PEM in *ppem, handed to the driver as the live key to reuse. */
static void spec_reuse_key(const char **ppem)
{
    acme_key_t *key = NULL;
    char *sealed = NULL;
    apr_size_t plen = 0, slen = 0;

    ck_assert_int_eq(acme_key_generate(&key, fx.p, ACME_KEY_EC_P256), APR_SUCCESS);
    ck_assert_int_eq(acme_key_to_pem(ppem, &plen, fx.p, key), APR_SUCCESS);
    ck_assert_int_eq(acme_seal(&sealed, &slen, fx.p, fx.secret, *ppem, plen), APR_SUCCESS);
    fx.spec.reuse_key = sealed;
    fx.spec.reuse_key_len = slen;
}

/* The staged key as PEM (re-encoded: comparable with acme_key_to_pem output). */
static const char *staged_key_pem(void)
{
    acme_key_t *staged = NULL;
    const char *pem = NULL;
    char *sealed = NULL, *plain = NULL;
    apr_size_t slen = 0, len = 0;

    ck_assert_int_eq(acme_store_load(fx.st, ACME_GROUP_STAGING, CERT_ID, "key.sealed", &sealed,
                                     &slen, fx.p), APR_SUCCESS);
    ck_assert_int_eq(acme_unseal(&plain, &len, fx.p, fx.secret, sealed, slen), APR_SUCCESS);
    ck_assert_int_eq(acme_key_from_pem(&staged, fx.p, plain, len), APR_SUCCESS);
    ck_assert_int_eq(acme_key_to_pem(&pem, &len, fx.p, staged), APR_SUCCESS);
    return pem;
}

/* ACMEKeyReuse: the sealed key in the spec is the certificate key (CSR and staged set); one
 * of another type than the spec's is not used. */
START_TEST(key_reuse_given_key)
{
    const char *pem = NULL;

    spec_reuse_key(&pem);
    script_ready_order();
    script_cert();
    ck_assert_int_eq(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), APR_SUCCESS);
    assert_staged();
    ck_assert_str_eq(staged_key_pem(), pem);
    ck_assert(logged(ACME_LOG_INFO, "ACME00482", CERT_ID));

    /* the spec wants p384 now: the p256 key is not used */
    teardown();
    setup();
    spec_reuse_key(&pem);
    fx.spec.key_type = ACME_KEY_EC_P384;
    script_ready_order();
    script_cert();
    ck_assert_int_eq(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), APR_SUCCESS);
    ck_assert_msg(strcmp(staged_key_pem(), pem) != 0, "a p256 key was reused for a p384 "
                  "certificate");
    ck_assert(!logged(ACME_LOG_INFO, "ACME00482", NULL));
}
END_TEST

/* A renewal requested after a revocation (acmectl revoke: new_key) never reuses the key. */
START_TEST(key_reuse_vetoed_after_revoke)
{
    const char *pem = NULL;
    acme_renew_request_t req = { 0, 0, "acmectl", 1 };

    spec_reuse_key(&pem);
    req.requested = apr_time_now();
    ck_assert_int_eq(acme_request_save(fx.st, CERT_ID, &req, fx.p), APR_SUCCESS);
    script_ready_order();
    script_cert();
    ck_assert_int_eq(acme_driver_obtain(&fx.env, &fx.spec, fx.p, &fx.res), APR_SUCCESS);
    assert_staged();
    ck_assert_msg(strcmp(staged_key_pem(), pem) != 0, "the key was reused after a revocation");
    ck_assert(logged(ACME_LOG_NOTICE, "ACME00484", CERT_ID));
    ck_assert(!logged(ACME_LOG_INFO, "ACME00482", NULL));
}
END_TEST

START_TEST(http01_store_name)
{
    /* SHA-256("abc") */
    ck_assert_str_eq(acme_http01_store_name(fx.p, "abc"),
                     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
END_TEST

/* ------------------------------------------------------------------ account tests */

START_TEST(account_created_once_and_reused)
{
    const fake_request_t *r;
    char *text = NULL, *sealed = NULL;
    apr_size_t len = 0, slen = 0;
    const char *name = acme_account_store_name(fx.p, DIR_URL);
    json_t *j;

    ensure_account();
    ck_assert_int_eq(fake_http_count(fx.fake), 3);
    r = fake_http_request(fx.fake, 2);
    ck_assert_ptr_nonnull(json_object_get(r->protected_hdr, "jwk"));
    ck_assert_ptr_null(json_object_get(r->protected_hdr, "kid"));
    ck_assert_str_eq(acme_json_str(r->protected_hdr, "alg"), "ES256");
    ck_assert(json_is_true(json_object_get(r->payload_json, "termsOfServiceAgreed")));
    ck_assert_str_eq(json_string_value(json_array_get(acme_json_arr(r->payload_json, "contact"),
                                                      0)), "mailto:admin@example.org");

    ck_assert_int_eq(acme_store_load(fx.st, ACME_GROUP_ACCOUNTS, name, "account.json", &text,
                                     &len, fx.p), APR_SUCCESS);
    j = acme_json_parse(fx.p, text, len, NULL);
    ck_assert_str_eq(acme_json_str(j, "url"), KID);
    ck_assert_str_eq(acme_json_str(j, "ca"), DIR_URL);
    ck_assert_ptr_nonnull(acme_json_str(j, "created"));
    ck_assert_int_eq((int)json_array_size(acme_json_arr(j, "contact")), 1);
    ck_assert_int_eq(acme_store_load(fx.st, ACME_GROUP_ACCOUNTS, name, "key.sealed", &sealed,
                                     &slen, fx.p), APR_SUCCESS);
    ck_assert(acme_is_sealed(sealed, slen));
    ck_assert_ptr_null(strstr(sealed, "PRIVATE KEY"));
    /* the log names the account's store entry, never its URL (it identifies the account) */
    ck_assert(logged(ACME_LOG_NOTICE, name, "mailto:admin@example.org"));
    ck_assert(!logged(ACME_LOG_NOTICE, KID, NULL));

    /* same client again: nothing to ask */
    ck_assert_int_eq(acme_account_ensure(fx.c, fx.st, fx.secret, account_spec(1), fx.p, &fx.res),
                     APR_SUCCESS);
    ck_assert_int_eq(fake_http_count(fx.fake), 3);

    /* a new client (a restart): only the directory */
    new_client();
    fake_http_expect(fx.fake, "GET", DIR_URL, 200, directory(1));
    ck_assert_int_eq(acme_account_ensure(fx.c, fx.st, fx.secret, account_spec(1), fx.p, &fx.res),
                     APR_SUCCESS);
    ck_assert_int_eq(fake_http_count(fx.fake), 1);
    ck_assert_str_eq(acme_client_account_url(fx.c), KID);
}
END_TEST

static const char *jwk_of(int i)
{
    const fake_request_t *r = fake_http_request(fx.fake, i);
    ck_assert_ptr_nonnull(r);
    return acme_json_dump(fx.p, json_object_get(r->protected_hdr, "jwk"));
}

START_TEST(account_url_lost)
{
    const char *name = acme_account_store_name(fx.p, DIR_URL), *jwk1;
    const fake_request_t *r;
    fake_answer_t *a;

    ensure_account();
    jwk1 = jwk_of(2);
    ck_assert_int_eq(acme_store_remove(fx.st, ACME_GROUP_ACCOUNTS, name, "account.json", fx.p),
                     APR_SUCCESS);
    new_client();
    fake_http_expect(fx.fake, "GET", DIR_URL, 200, directory(1));
    fake_http_expect(fx.fake, "HEAD", NONCE_URL, 200, NULL);
    a = fake_http_expect(fx.fake, "POST", ACCT_URL, 200, "{\"status\":\"valid\"}");
    fake_answer_header(a, "Location", KID, 0);

    ck_assert_int_eq(acme_account_ensure(fx.c, fx.st, fx.secret, account_spec(1), fx.p, &fx.res),
                     APR_SUCCESS);
    ck_assert_int_eq(fake_http_remaining(fx.fake), 0);
    r = fake_http_request(fx.fake, 2);
    ck_assert(json_is_true(json_object_get(r->payload_json, "onlyReturnExisting")));
    ck_assert_str_eq(jwk_of(2), jwk1);
    ck_assert_str_eq(acme_client_account_url(fx.c), KID);
    ck_assert(store_has(ACME_GROUP_ACCOUNTS, name, "account.json"));
}
END_TEST

/* An unusable account key (empty, garbage, sealed under another secret) leads to a new
 * account with a warning naming the file, and the old files are kept aside. */
START_TEST(account_key_damaged)
{
    static const char *const damage[] = { "", "garbage" };      /* then a truncated one */
    static const char *const why[] = { "is empty", "is not a sealed key", "cannot be unsealed" };
    const char *name = acme_account_store_name(fx.p, DIR_URL), *jwk1;
    int i;

    ensure_account();
    for (i = 0; i < 3; ++i) {
        apr_dir_t *d;
        apr_finfo_t e;
        int kept = 0;
        fake_answer_t *a;

        jwk1 = jwk_of(fake_http_count(fx.fake) - 1);
        if (i < 2) {
            ck_assert_int_eq(acme_store_save(fx.st, ACME_GROUP_ACCOUNTS, name, "key.sealed",
                                             damage[i], strlen(damage[i]), fx.p), APR_SUCCESS);
        }
        else {
            char *sealed;
            apr_size_t slen;
            ck_assert_int_eq(acme_store_load(fx.st, ACME_GROUP_ACCOUNTS, name, "key.sealed",
                                             &sealed, &slen, fx.p), APR_SUCCESS);
            ck_assert_int_eq(acme_store_save(fx.st, ACME_GROUP_ACCOUNTS, name, "key.sealed",
                                             sealed, slen - 20, fx.p), APR_SUCCESS);
        }
        new_client();
        fake_http_expect(fx.fake, "GET", DIR_URL, 200, directory(1));
        fake_http_expect(fx.fake, "HEAD", NONCE_URL, 200, NULL);
        a = fake_http_expect(fx.fake, "POST", ACCT_URL, 201, "{\"status\":\"valid\"}");
        fake_answer_header(a, "Location", KID, 0);
        ck_assert_int_eq(acme_account_ensure(fx.c, fx.st, fx.secret, account_spec(1), fx.p,
                                             &fx.res), APR_SUCCESS);
        ck_assert_int_eq(fake_http_remaining(fx.fake), 0);
        /* a new key: no onlyReturnExisting, a jwk of its own */
        ck_assert_ptr_null(json_object_get(fake_http_request(fx.fake, 2)->payload_json,
                                           "onlyReturnExisting"));
        ck_assert_str_ne(jwk_of(2), jwk1);
        ck_assert_msg(logged(ACME_LOG_WARNING, "key.sealed", why[i]), "no warning: %s", why[i]);
        ck_assert(logged(ACME_LOG_WARNING, "ACME00151", "creating a new account"));
        ck_assert(store_has(ACME_GROUP_ACCOUNTS, name, "account.json"));
        ck_assert_int_eq(apr_dir_open(&d, fx.st->path(fx.st, ACME_GROUP_ACCOUNTS, name, NULL,
                                                       fx.p), fx.p), APR_SUCCESS);
        while (apr_dir_read(&e, APR_FINFO_NAME, d) == APR_SUCCESS) {
            kept += strstr(e.name, ".damaged-") != NULL;
        }
        apr_dir_close(d);
        ck_assert_int_ge(kept, 2);      /* key.sealed.damaged-*, account.json.damaged-* */
    }
}
END_TEST

/* An account key that cannot even be read (a directory in its place) is left alone: a
 * clear error saying what to do, no new account. */
START_TEST(account_key_unreadable)
{
    const char *name = acme_account_store_name(fx.p, DIR_URL);
    const char *path;

    ensure_account();
    path = fx.st->path(fx.st, ACME_GROUP_ACCOUNTS, name, "key.sealed", fx.p);
    ck_assert_int_eq(remove(path), 0);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    new_client();
    fake_http_expect(fx.fake, "GET", DIR_URL, 200, directory(1));
    ck_assert_int_ne(acme_account_ensure(fx.c, fx.st, fx.secret, account_spec(1), fx.p,
                                         &fx.res), APR_SUCCESS);
    ck_assert_int_eq(fake_http_remaining(fx.fake), 0);
    ck_assert_ptr_nonnull(strstr(fx.res.detail, "key.sealed cannot be read"));
    ck_assert_ptr_nonnull(strstr(fx.res.detail, "move it away"));
    ck_assert(store_has(ACME_GROUP_ACCOUNTS, name, "account.json"));
    ck_assert_int_eq(rmdir(path), 0);   /* still there, still a directory */
}
END_TEST

START_TEST(account_lookup_then_create)
{
    const char *name = acme_account_store_name(fx.p, DIR_URL), *jwk1;
    fake_answer_t *a;

    ensure_account();
    jwk1 = jwk_of(2);
    ck_assert_int_eq(acme_store_remove(fx.st, ACME_GROUP_ACCOUNTS, name, "account.json", fx.p),
                     APR_SUCCESS);
    new_client();
    fake_http_expect(fx.fake, "GET", DIR_URL, 200, directory(1));
    fake_http_expect(fx.fake, "HEAD", NONCE_URL, 200, NULL);
    fake_http_expect_problem(fx.fake, "POST", ACCT_URL, 400,
                             "urn:ietf:params:acme:error:accountDoesNotExist", "No account");
    a = fake_http_expect(fx.fake, "POST", ACCT_URL, 201, "{\"status\":\"valid\"}");
    fake_answer_header(a, "Location", CA "/acct/2", 0);

    ck_assert_int_eq(acme_account_ensure(fx.c, fx.st, fx.secret, account_spec(1), fx.p, &fx.res),
                     APR_SUCCESS);
    ck_assert_int_eq(fake_http_remaining(fx.fake), 0);
    ck_assert_int_eq(fake_http_count(fx.fake), 4);
    ck_assert(json_is_true(json_object_get(fake_http_request(fx.fake, 3)->payload_json,
                                           "termsOfServiceAgreed")));
    ck_assert_str_eq(jwk_of(2), jwk1);
    ck_assert_str_eq(jwk_of(3), jwk1);
    ck_assert_str_eq(acme_client_account_url(fx.c), CA "/acct/2");
}
END_TEST

START_TEST(account_tos_not_agreed)
{
    const char *name = acme_account_store_name(fx.p, DIR_URL);

    fake_http_expect(fx.fake, "GET", DIR_URL, 200, directory(1));
    ck_assert_int_eq(acme_account_ensure(fx.c, fx.st, fx.secret, account_spec(0), fx.p, &fx.res),
                     ACME_ETOS);
    ck_assert_int_eq(fx.res.status, ACME_ETOS);
    ck_assert_ptr_nonnull(strstr(fx.res.detail, TOS));
    ck_assert_ptr_nonnull(strstr(fx.res.detail, "ACMEAgreeTerms on"));
    ck_assert_int_eq(fake_http_count(fx.fake), 1);
    ck_assert_ptr_null(acme_client_account_url(fx.c));
    ck_assert(!store_has(ACME_GROUP_ACCOUNTS, name, "key.sealed"));
}
END_TEST

START_TEST(account_store_names)
{
    ck_assert_str_eq(acme_account_store_name(fx.p, "https://127.0.0.1:14000/dir"),
                     "127.0.0.1_14000_dir");
    ck_assert_str_eq(acme_account_store_name(fx.p,
                                             "https://acme-v02.api.letsencrypt.org/directory"),
                     "acme-v02.api.letsencrypt.org_directory");
    ck_assert_ptr_null(strchr(acme_account_store_name(fx.p, "https://x.test/../a/b"), '/'));
}
END_TEST

Suite *driver_suite(void)
{
    Suite *s = suite_create("driver");
    TCase *tc = tcase_create("driver");
    TCase *ta = tcase_create("account");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, happy_path);
    tcase_add_test(tc, tls_alpn_chosen_by_preference);
    tcase_add_test(tc, none_allowed_names_both_lists);
    tcase_add_test(tc, wildcard_without_hook_needs_dns);
    tcase_add_test(tc, dnspersist_failure_names_the_record);
    tcase_add_test(tc, dnspersist_records_dropped_when_unused);
    tcase_add_test(tc, dnspersist_apex_of_a_wildcard_gets_the_wildcard_record);
    tcase_add_test(tc, ip_identifier_ordered_and_never_dns);
    tcase_add_test(tc, dns01_hook_setup_and_teardown);
    tcase_add_test(tc, dns01_hook_failure_still_tears_down);
    tcase_add_test(tc, dns01_hook_killed_after_timeout);
    tcase_add_loop_test(tc, replaces_sent_and_dropped_when_already_replaced, 0, 4);
    tcase_add_test(tc, profile_offered_is_sent);
    tcase_add_test(tc, profile_not_offered_falls_back);
    tcase_add_test(tc, profile_mandatory_missing_orders_nothing);
    tcase_add_test(tc, profile_changed_order_not_resumed);
    tcase_add_test(tc, profile_too_many_names_hint);
    tcase_add_test(tc, two_names_ready_after_finalize);
    tcase_add_test(tc, retry_after_honoured);
    tcase_add_test(tc, poll_backoff_and_timeout);
    tcase_add_test(tc, invalid_authorization);
    tcase_add_test(tc, resume_ready_order);
    tcase_add_test(tc, stop_interrupts_at_the_next_wait);
    tcase_add_test(tc, stop_ends_a_long_wait);
    tcase_add_test(tc, crash_after_finalize);
    tcase_add_test(tc, stale_order_replaced);
    tcase_add_test(tc, mismatching_state_dropped);
    tcase_add_test(tc, final_problem_drops_order);
    tcase_add_test(tc, transient_problem_keeps_order);
    tcase_add_test(tc, no_http01_offered);
    tcase_add_test(tc, bad_token_refused_before_publishing);
    tcase_add_test(tc, certificate_for_other_key);
    tcase_add_test(tc, leaf_only_completed_from_up_link);
    tcase_add_test(tc, leaf_only_refused);
    tcase_add_test(tc, leaf_only_completed_from_ca_issuers);
    tcase_add_test(tc, leaf_only_wrong_issuer_refused);
    tcase_add_test(tc, http01_store_name);
    tcase_add_test(tc, preferred_chain_alternate_taken);
    tcase_add_test(tc, preferred_chain_none_matches);
    tcase_add_test(tc, preferred_chain_default_or_broken_alternate);
    tcase_add_test(tc, key_reuse_given_key);
    tcase_add_test(tc, key_reuse_vetoed_after_revoke);
    suite_add_tcase(s, tc);

    tcase_add_checked_fixture(ta, setup, teardown);
    tcase_set_timeout(ta, 30);
    tcase_add_test(ta, account_created_once_and_reused);
    tcase_add_test(ta, account_url_lost);
    tcase_add_test(ta, account_lookup_then_create);
    tcase_add_test(ta, account_key_damaged);
    tcase_add_test(ta, account_key_unreadable);
    tcase_add_test(ta, account_tos_not_agreed);
    tcase_add_test(ta, account_store_names);
    suite_add_tcase(s, ta);
    return s;
}
