/* The challenge providers against a real filesystem store in a temporary directory: each
 * provider's publish -> the responder's look-up finds it -> unpublish -> gone; the one token
 * check; the dns-01 hook's argv and teardown; the tls-alpn-01 certificate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <ftw.h>

#include <apr_file_io.h>
#include <apr_strings.h>
#include <openssl/x509.h>

#include "tests.h"
#include "unit_helpers.h"
#include "acme_cert.h"
#include "acme_challenge.h"
#include "acme_crypto.h"
#include "acme_log.h"
#include "acme_pending.h"
#include "acme_util.h"

#define TOKEN "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
#define KA    TOKEN ".9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"
#define HOST  "www.example.org"

typedef struct cfix_t {
    apr_pool_t *p;
    char dir[64];
    acme_store_t *st;
    unsigned char secret[ACME_SECRET_LEN];
    acme_challenge_env_t env;
    int counted, count_calls;      /* the http-01/tls-alpn-01 count: sum and calls */
    const char *count_type, *count_key; /* the question of the last call */
    apr_array_header_t *waits;
    apr_array_header_t *logs;      /* "LEVEL message" */
} cfix_t;

static cfix_t cf;

static void count(void *baton, const char *type, const char *key, int delta)
{
    cfix_t *f = baton;
    f->counted += delta;
    f->count_calls++;
    f->count_type = type;
    f->count_key = key;
}

static void no_sleep(void *baton, apr_interval_time_t t)
{
    cfix_t *f = baton;
    APR_ARRAY_PUSH(f->waits, apr_interval_time_t) = t;
}

static void log_sink(void *baton, acme_log_level_t level, apr_status_t rv, const char *msg)
{
    cfix_t *f = baton;
    APR_ARRAY_PUSH(f->logs, const char *) = apr_psprintf(f->p, "%d %s", (int)level, msg);
}

static int log_enabled(void *baton, acme_log_level_t level)
{
    return level <= ACME_LOG_DEBUG;
}

static int logged(int level, const char *s1)
{
    int i;
    for (i = 0; i < cf.logs->nelts; ++i) {
        const char *m = APR_ARRAY_IDX(cf.logs, i, const char *);
        if (atoi(m) == level && strstr(m, s1)) {
            return 1;
        }
    }
    return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void setup(void)
{
    memset(&cf, 0, sizeof(cf));
    apr_pool_create(&cf.p, NULL);
    strcpy(cf.dir, "/tmp/acme-challenge-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(cf.dir));
    ck_assert_int_eq(acme_store_fs_create(&cf.st, cf.p, cf.dir), APR_SUCCESS);
    ck_assert_int_eq(acme_store_fs_setup(cf.st, -1, -1, cf.p), APR_SUCCESS);
    ck_assert_int_eq(acme_random_bytes(cf.secret, sizeof(cf.secret)), APR_SUCCESS);
    cf.waits = apr_array_make(cf.p, 4, sizeof(apr_interval_time_t));
    cf.logs = apr_array_make(cf.p, 4, sizeof(const char *));
    acme_log_set(log_sink, log_enabled, &cf);
    cf.env.store = cf.st;
    cf.env.secret = cf.secret;
    cf.env.cert_id = HOST;
    cf.env.http01_count = count;
    cf.env.http01_count_baton = &cf;
    cf.env.sleep = no_sleep;
    cf.env.sleep_baton = &cf;
}

static void teardown(void)
{
    acme_log_set(NULL, NULL, NULL);
    nftw(cf.dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    apr_pool_destroy(cf.p);
}

static acme_challenge_t challenge(const char *type, const char *ident)
{
    acme_challenge_t ch;
    memset(&ch, 0, sizeof(ch));
    ch.type = type;
    ch.ident = ident;
    ch.token = TOKEN;
    ch.key_auth = KA;
    return ch;
}

static apr_status_t publish(const acme_challenge_t *ch, acme_result_t *res)
{
    const acme_challenge_provider_t *prov = acme_challenge_provider(ch->type);
    ck_assert_ptr_nonnull(prov);
    acme_result_reset(res);
    return prov->publish(&cf.env, ch, cf.p, res);
}

static void unpublish(const acme_challenge_t *ch)
{
    acme_challenge_provider(ch->type)->unpublish(&cf.env, ch, cf.p);
}

static apr_status_t ask(acme_challenge_answer_t **pans, const char *type, const char *token,
                        const char *host, const acme_pending_t *pending,
                        const unsigned char *secret)
{
    acme_challenge_query_t q;
    memset(&q, 0, sizeof(q));
    q.token = token;
    q.host = host;
    q.pending = pending;
    q.secret = secret;
    return acme_challenge_lookup(pans, cf.p, cf.st, type, &q);
}

/* ------------------------------------------------------------------ the token check */

START_TEST(token_check)
{
    static const char *const bad[] = {
        "", "../etc/passwd", "a/b", "..", ".", "a.b", "%2e%2e", "a b", "a=", "abc\n",
        "tok+en", "\xc3\xa9t\xc3\xa9", "a\\b", "a?b", "a#b", "a;b", "a:b"
    };
    char buf[ACME_TOKEN_MAX_LEN + 2];
    size_t i;

    ck_assert(!acme_challenge_token_valid(NULL));
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        ck_assert_msg(!acme_challenge_token_valid(bad[i]), "token '%s' accepted", bad[i]);
    }
    ck_assert(acme_challenge_token_valid(TOKEN));
    ck_assert(acme_challenge_token_valid("a"));
    ck_assert(acme_challenge_token_valid("AZaz09-_"));
    memset(buf, 'x', sizeof(buf));
    buf[ACME_TOKEN_MAX_LEN] = '\0';
    ck_assert(acme_challenge_token_valid(buf));
    buf[ACME_TOKEN_MAX_LEN] = 'x';
    buf[ACME_TOKEN_MAX_LEN + 1] = '\0';
    ck_assert(!acme_challenge_token_valid(buf));
}
END_TEST

/* ------------------------------------------------------------------ the table */

START_TEST(table_and_choice)
{
    const apr_array_header_t *dflt = acme_challenge_default_types();
    apr_array_header_t *allowed = apr_array_make(cf.p, 4, sizeof(const char *));
    apr_array_header_t *offered = apr_array_make(cf.p, 4, sizeof(const char *));
    acme_challenge_answer_t *ans = NULL;

    ck_assert_ptr_nonnull(acme_challenge_provider(ACME_CHALLENGE_HTTP01));
    ck_assert_ptr_nonnull(acme_challenge_provider(ACME_CHALLENGE_TLSALPN01));
    ck_assert_ptr_nonnull(acme_challenge_provider(ACME_CHALLENGE_DNS01));
    ck_assert_ptr_nonnull(acme_challenge_provider(ACME_CHALLENGE_DNSPERSIST01));
    ck_assert_ptr_null(acme_challenge_provider(ACME_CHALLENGE_DNSPERSIST01)->lookup);
    ck_assert_ptr_null(acme_challenge_provider("bogus-01"));
    ck_assert_ptr_null(acme_challenge_provider(NULL));
    ck_assert_ptr_null(acme_challenge_provider(ACME_CHALLENGE_DNS01)->lookup);
    ck_assert_int_eq(dflt->nelts, 1);
    ck_assert_str_eq(APR_ARRAY_IDX(dflt, 0, const char *), ACME_CHALLENGE_HTTP01);

    APR_ARRAY_PUSH(offered, const char *) = ACME_CHALLENGE_HTTP01;
    APR_ARRAY_PUSH(offered, const char *) = ACME_CHALLENGE_DNS01;
    APR_ARRAY_PUSH(offered, const char *) = ACME_CHALLENGE_TLSALPN01;
    APR_ARRAY_PUSH(allowed, const char *) = ACME_CHALLENGE_DNSPERSIST01;
    APR_ARRAY_PUSH(allowed, const char *) = ACME_CHALLENGE_DNS01;
    APR_ARRAY_PUSH(allowed, const char *) = ACME_CHALLENGE_TLSALPN01;
    APR_ARRAY_PUSH(allowed, const char *) = ACME_CHALLENGE_HTTP01;
    /* preference order; one not offered and dns-01 without a hook are skipped */
    ck_assert_str_eq(acme_challenge_choose(allowed, offered, 0, 0), ACME_CHALLENGE_TLSALPN01);
    ck_assert_str_eq(acme_challenge_choose(allowed, offered, 0, 1), ACME_CHALLENGE_DNS01);
    /* a wildcard: dns-01 only, and only with a hook */
    ck_assert_str_eq(acme_challenge_choose(allowed, offered, 1, 1), ACME_CHALLENGE_DNS01);
    ck_assert_ptr_null(acme_challenge_choose(allowed, offered, 1, 0));
    /* nothing allowed is offered */
    ck_assert_ptr_null(acme_challenge_choose(dflt, apr_array_make(cf.p, 1, sizeof(char *)),
                                             0, 1));
    ck_assert_str_eq(acme_challenge_choose(dflt, offered, 0, 0), ACME_CHALLENGE_HTTP01);
    /* dns-01 is answered by the admin's DNS, not by us */
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_DNS01, TOKEN, HOST, NULL, NULL), APR_ENOTIMPL);
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_DNSPERSIST01, TOKEN, HOST, NULL, NULL),
                     APR_ENOTIMPL);
    ck_assert_ptr_null(ans);
}
END_TEST

/* ------------------------------------------------------------------ http-01 */

START_TEST(http01_publish_lookup_unpublish)
{
    acme_challenge_t ch = challenge(ACME_CHALLENGE_HTTP01, HOST);
    acme_challenge_answer_t *ans = NULL;
    acme_result_t res;

    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_HTTP01, TOKEN, HOST, NULL, NULL), APR_ENOENT);
    ck_assert_int_eq(publish(&ch, &res), APR_SUCCESS);
    ck_assert_int_eq(cf.counted, 1);
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_HTTP01, TOKEN, HOST, NULL, NULL), APR_SUCCESS);
    ck_assert_ptr_nonnull(ans);
    ck_assert_int_eq(ans->body_len, strlen(KA));
    ck_assert(!memcmp(ans->body, KA, ans->body_len));
    /* the Host binding: case does not matter, another host or none gets nothing */
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_HTTP01, TOKEN, "WWW.Example.ORG", NULL, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_HTTP01, TOKEN, "evil.example.org", NULL, NULL),
                     APR_EACCES);
    ck_assert_ptr_null(ans);
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_HTTP01, TOKEN, NULL, NULL, NULL), APR_EACCES);
    /* another token, a malformed one */
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_HTTP01, "other", HOST, NULL, NULL), APR_ENOENT);
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_HTTP01, "../" TOKEN, HOST, NULL, NULL),
                     APR_EINVAL);
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_HTTP01, NULL, HOST, NULL, NULL), APR_EINVAL);

    unpublish(&ch);
    ck_assert_int_eq(cf.counted, 0);
    ck_assert_int_eq(cf.count_calls, 2);
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_HTTP01, TOKEN, HOST, NULL, NULL), APR_ENOENT);
    ck_assert_ptr_null(ans);
}
END_TEST

/* While the count says nothing is pending, the store is not even asked. */
START_TEST(http01_pending_count_spares_lookup)
{
    acme_challenge_t ch = challenge(ACME_CHALLENGE_HTTP01, HOST);
    acme_challenge_answer_t *ans = NULL;
    acme_pending_t *pd = acme_pending_init(apr_pcalloc(cf.p, acme_pending_size()));
    acme_result_t res;

    ck_assert_int_eq(publish(&ch, &res), APR_SUCCESS);
    /* published but not counted in pd: the count is believed */
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_HTTP01, TOKEN, HOST, pd, NULL), APR_ENOENT);
    acme_pending_add(pd, 4242, 1);
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_HTTP01, TOKEN, HOST, pd, NULL), APR_SUCCESS);
    acme_pending_add(pd, 4242, -1);
    unpublish(&ch);
}
END_TEST

/* An entry written before the host was recorded is answered for any host; forget removes
 * a left-over response without counting. */
START_TEST(http01_legacy_entry_and_forget)
{
    const acme_challenge_provider_t *prov = acme_challenge_provider(ACME_CHALLENGE_HTTP01);
    const char *name = acme_http01_store_name(cf.p, TOKEN);
    acme_challenge_answer_t *ans = NULL;

    ck_assert_int_eq(acme_store_save(cf.st, ACME_GROUP_CHALLENGES, name, ACME_HTTP01_ASPECT,
                                     KA, strlen(KA), cf.p), APR_SUCCESS);
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_HTTP01, TOKEN, "any.example.net", NULL, NULL),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(prov->forget);
    prov->forget(&cf.env, "../bad", HOST, cf.p);     /* refused, nothing happens */
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_HTTP01, TOKEN, HOST, NULL, NULL), APR_SUCCESS);
    prov->forget(&cf.env, TOKEN, HOST, cf.p);
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_HTTP01, TOKEN, HOST, NULL, NULL), APR_ENOENT);
    ck_assert_int_eq(cf.count_calls, 0);
}
END_TEST

/* The parent's sweep once publishing processes ended: stale http-01 and tls-alpn-01
 * responses go, fresh ones and one still being written count as left. */
START_TEST(http01_sweep_stale)
{
    acme_challenge_t fresh = challenge(ACME_CHALLENGE_HTTP01, HOST);
    acme_challenge_t stale = challenge(ACME_CHALLENGE_HTTP01, "old.example.org");
    acme_challenge_t alpn = challenge(ACME_CHALLENGE_TLSALPN01, HOST);
    const char *stale_name, *half_name = acme_http01_store_name(cf.p, "halfwritten");
    apr_array_header_t *removed = NULL;
    acme_challenge_answer_t *ans = NULL;
    apr_time_t now = apr_time_now();
    acme_result_t res;
    int left = -1;

    stale.token = "staleToken";
    stale_name = acme_http01_store_name(cf.p, stale.token);
    ck_assert_int_eq(publish(&fresh, &res), APR_SUCCESS);
    ck_assert_int_eq(publish(&stale, &res), APR_SUCCESS);
    ck_assert_int_eq(publish(&alpn, &res), APR_SUCCESS);
    ck_assert_int_eq(acme_store_save(cf.st, ACME_GROUP_CHALLENGES, half_name, ACME_HTTP01_HOST,
                                     HOST, strlen(HOST), cf.p), APR_SUCCESS);
    ck_assert_int_eq(apr_file_mtime_set(cf.st->path(cf.st, ACME_GROUP_CHALLENGES, stale_name,
                                                    ACME_HTTP01_ASPECT, cf.p),
                                        now - ACME_HTTP01_STALE - apr_time_from_sec(60), cf.p),
                     APR_SUCCESS);

    ck_assert_int_eq(acme_challenge_http01_sweep(&removed, &left, cf.p, cf.st, now,
                                                 ACME_HTTP01_STALE), APR_SUCCESS);
    ck_assert_int_eq(removed->nelts, 1);
    ck_assert_str_eq(APR_ARRAY_IDX(removed, 0, const char *), stale_name);
    ck_assert_int_eq(left, 3);      /* fresh, half-written, tls-alpn-01 */
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_HTTP01, stale.token, "old.example.org", NULL,
                         NULL), APR_ENOENT);
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_HTTP01, TOKEN, HOST, NULL, NULL), APR_SUCCESS);

    /* an hour later the fresh one is stale too; the half-written one still counts */
    ck_assert_int_eq(acme_challenge_http01_sweep(&removed, &left, cf.p, cf.st,
                                                 now + apr_time_from_sec(3600),
                                                 ACME_HTTP01_STALE), APR_SUCCESS);
    ck_assert_int_eq(removed->nelts, 2);   /* fresh http-01, tls-alpn-01 */
    ck_assert_int_eq(left, 1);
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_TLSALPN01, NULL, HOST, NULL, cf.secret),
                     APR_ENOENT);
}
END_TEST

/* ------------------------------------------------------------------ tls-alpn-01 */

START_TEST(tlsalpn01_publish_lookup_unpublish)
{
    acme_challenge_t ch = challenge(ACME_CHALLENGE_TLSALPN01, HOST);
    acme_challenge_answer_t *ans = NULL;
    unsigned char other[ACME_SECRET_LEN];
    apr_array_header_t *chain = NULL;
    acme_key_t *key = NULL;
    acme_result_t res;
    X509 *x;

    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_TLSALPN01, NULL, HOST, NULL, cf.secret),
                     APR_ENOENT);
    ck_assert_int_eq(publish(&ch, &res), APR_SUCCESS);
    /* counted like http-01, with the identifier as the question */
    ck_assert_int_eq(cf.count_calls, 1);
    ck_assert_int_eq(cf.counted, 1);
    ck_assert_str_eq(cf.count_type, ACME_CHALLENGE_TLSALPN01);
    ck_assert_str_eq(cf.count_key, HOST);
    /* the SNI, in any case */
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_TLSALPN01, NULL, "WWW.EXAMPLE.ORG", NULL,
                         cf.secret), APR_SUCCESS);
    ck_assert_ptr_nonnull(ans->cert_pem);
    ck_assert_ptr_nonnull(ans->key_pem);
    ck_assert_ptr_nonnull(strstr(ans->key_pem, "PRIVATE KEY"));

    /* RFC 8737 3: the identifier as its only SAN, acmeIdentifier (critical) holding
     * SHA-256 of the key authorization, and the key that goes with it */
    ck_assert_int_eq(acme_chain_parse(&chain, cf.p, ans->cert_pem, strlen(ans->cert_pem)),
                     APR_SUCCESS);
    x = APR_ARRAY_IDX(chain, 0, X509 *);
    unit_assert_tlsalpn01_cert(cf.p, x, HOST, KA);
    ck_assert_int_eq(acme_key_from_pem(&key, cf.p, ans->key_pem, strlen(ans->key_pem)),
                     APR_SUCCESS);
    ck_assert_int_eq(X509_check_private_key(x, acme_key_evp(key)), 1);

    /* another name, no SNI, no secret or the wrong one: nothing */
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_TLSALPN01, NULL, "other.example.org", NULL,
                         cf.secret), APR_ENOENT);
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_TLSALPN01, NULL, NULL, NULL, cf.secret),
                     APR_EINVAL);
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_TLSALPN01, NULL, HOST, NULL, NULL), APR_EINVAL);
    memset(other, 7, sizeof(other));
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_TLSALPN01, NULL, HOST, NULL, other), APR_ENOENT);

    unpublish(&ch);
    ck_assert_int_eq(cf.counted, 0);
    ck_assert_int_eq(cf.count_calls, 2);
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_TLSALPN01, NULL, HOST, NULL, cf.secret),
                     APR_ENOENT);
}
END_TEST

/* With the table of pending questions, only a question someone published a response to
 * reaches the store: a response in the store that the table does not know is not even
 * looked for (so an unknown token or SNI costs no file access while others are pending). */
START_TEST(pending_questions_spare_lookups)
{
    acme_challenge_t h = challenge(ACME_CHALLENGE_HTTP01, HOST);
    acme_challenge_t t = challenge(ACME_CHALLENGE_TLSALPN01, HOST);
    acme_challenge_answer_t *ans = NULL;
    acme_pending_t *pd = acme_pending_init(apr_pcalloc(cf.p, acme_pending_size()));
    acme_result_t res;

    ck_assert_int_eq(publish(&h, &res), APR_SUCCESS);
    ck_assert_str_eq(cf.count_type, ACME_CHALLENGE_HTTP01);
    ck_assert_str_eq(cf.count_key, TOKEN);
    ck_assert_int_eq(publish(&t, &res), APR_SUCCESS);
    /* another process publishes another token and name: these are not in the table */
    acme_pending_publish(pd, 4242, ACME_CHALLENGE_HTTP01, "otherToken", 1);
    acme_pending_publish(pd, 4242, ACME_CHALLENGE_TLSALPN01, "other.example.org", 1);
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_HTTP01, TOKEN, HOST, pd, NULL), APR_ENOENT);
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_TLSALPN01, NULL, HOST, pd, cf.secret),
                     APR_ENOENT);
    /* now they are: found, the SNI in any case */
    acme_pending_publish(pd, 4242, ACME_CHALLENGE_HTTP01, TOKEN, 1);
    acme_pending_publish(pd, 4242, ACME_CHALLENGE_TLSALPN01, HOST, 1);
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_HTTP01, TOKEN, HOST, pd, NULL), APR_SUCCESS);
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_TLSALPN01, NULL, "WWW.Example.ORG", pd,
                         cf.secret), APR_SUCCESS);
    /* the types do not mix: the token is no SNI name */
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_TLSALPN01, NULL, TOKEN, pd, cf.secret),
                     APR_ENOENT);
    /* the publishing process ended: its responses may still be asked for */
    acme_pending_release(pd, 4242);
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_HTTP01, TOKEN, HOST, pd, NULL), APR_SUCCESS);
    acme_pending_clear_ended(pd);
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_HTTP01, TOKEN, HOST, pd, NULL), APR_ENOENT);
    unpublish(&h);
    unpublish(&t);
}
END_TEST

/* RFC 8738: an address is validated by http-01 (Host: the address, IPv6 in brackets) or
 * tls-alpn-01 (SNI: its reverse-DNS name; the certificate's SAN is the iPAddress), never
 * through DNS. */
START_TEST(ip_identifier_responses)
{
    acme_challenge_t h = challenge(ACME_CHALLENGE_HTTP01, "::1");
    acme_challenge_t t = challenge(ACME_CHALLENGE_TLSALPN01, "127.0.0.1");
    acme_challenge_answer_t *ans = NULL;
    apr_array_header_t *chain = NULL;
    acme_result_t res;

    ck_assert(acme_challenge_ip_ok(ACME_CHALLENGE_HTTP01));
    ck_assert(acme_challenge_ip_ok(ACME_CHALLENGE_TLSALPN01));
    ck_assert(!acme_challenge_ip_ok(ACME_CHALLENGE_DNS01));
    ck_assert(!acme_challenge_ip_ok(ACME_CHALLENGE_DNSPERSIST01));
    ck_assert(!acme_challenge_ip_ok(NULL));

    ck_assert_int_eq(publish(&h, &res), APR_SUCCESS);
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_HTTP01, TOKEN, "[::1]", NULL, NULL), APR_SUCCESS);
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_HTTP01, TOKEN, "::1", NULL, NULL), APR_SUCCESS);
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_HTTP01, TOKEN, "0:0::1", NULL, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_HTTP01, TOKEN, "[::2]", NULL, NULL), APR_EACCES);
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_HTTP01, TOKEN, "127.0.0.1", NULL, NULL),
                     APR_EACCES);
    unpublish(&h);

    ck_assert_int_eq(publish(&t, &res), APR_SUCCESS);
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_TLSALPN01, NULL, "1.0.0.127.in-addr.arpa", NULL,
                         cf.secret), APR_SUCCESS);
    ck_assert_int_eq(acme_chain_parse(&chain, cf.p, ans->cert_pem, strlen(ans->cert_pem)),
                     APR_SUCCESS);
    unit_assert_tlsalpn01_cert(cf.p, APR_ARRAY_IDX(chain, 0, X509 *), "127.0.0.1", KA);
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_TLSALPN01, NULL, "1.0.0.127.in-addr.arpa.",
                         NULL, cf.secret), APR_SUCCESS);
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_TLSALPN01, NULL, "2.0.0.127.in-addr.arpa", NULL,
                         cf.secret), APR_ENOENT);
    unpublish(&t);
    ck_assert_int_eq(ask(&ans, ACME_CHALLENGE_TLSALPN01, NULL, "1.0.0.127.in-addr.arpa", NULL,
                         cf.secret), APR_ENOENT);
}
END_TEST

/* dns-persist-01: the standing record, exactly; publishing changes nothing anywhere and
 * tells the admin the record; without an issuer domain it refuses. */
START_TEST(dnspersist_record)
{
    acme_challenge_t ch = challenge(ACME_CHALLENGE_DNSPERSIST01, HOST);
    acme_result_t res;

    ch.token = NULL;
    ch.key_auth = NULL;
    ch.issuer = "pebble.letsencrypt.org";
    ch.account_url = "https://127.0.0.1:14000/my-account/1";
    ck_assert_str_eq(acme_dnspersist_record(cf.p, &ch),
                     "_validation-persist." HOST ". IN TXT \"pebble.letsencrypt.org; "
                     "accounturi=https://127.0.0.1:14000/my-account/1\"");
    ch.wildcard = 1;
    ck_assert_str_eq(acme_dnspersist_record(cf.p, &ch),
                     "_validation-persist." HOST ". IN TXT \"pebble.letsencrypt.org; "
                     "accounturi=https://127.0.0.1:14000/my-account/1; policy=wildcard\"");
    ch.wildcard = 0;

    ck_assert_int_eq(publish(&ch, &res), APR_SUCCESS);
    ck_assert(logged(ACME_LOG_NOTICE, "_validation-persist." HOST ". IN TXT "
                                      "\"pebble.letsencrypt.org; accounturi="));
    ck_assert_int_eq(cf.count_calls, 0);
    unpublish(&ch);
    {
        apr_array_header_t *names = NULL;
        ck_assert_int_eq(cf.st->list(cf.st, ACME_GROUP_CHALLENGES, &names, cf.p),
                         APR_SUCCESS);
        ck_assert_int_eq(names->nelts, 0);
    }

    ch.issuer = NULL;
    ck_assert_ptr_null(acme_dnspersist_record(cf.p, &ch));
    ck_assert_int_eq(publish(&ch, &res), ACME_EPROTO);
    ck_assert_ptr_nonnull(strstr(res.detail, "issuer domain"));
    ch.issuer = "ca.test";
    ch.account_url = NULL;
    ck_assert_ptr_null(acme_dnspersist_record(cf.p, &ch));
}
END_TEST

/* ------------------------------------------------------------------ dns-01 */

START_TEST(dns01_hook_argv)
{
    acme_challenge_t ch = challenge(ACME_CHALLENGE_DNS01, "example.org");
    apr_array_header_t *args = apr_array_make(cf.p, 2, sizeof(const char *));
    const char *txt = acme_dns01_txt(cf.p, KA);
    acme_dns_hook_t hook;
    acme_result_t res;

    /* base64url(SHA-256(key authorization)): 43 characters, no padding */
    ck_assert_int_eq(strlen(txt), 43);
    ck_assert(acme_challenge_token_valid(txt));
    memset(&hook, 0, sizeof(hook));
    APR_ARRAY_PUSH(args, const char *) = "--zone=example.org";
    APR_ARRAY_PUSH(args, const char *) = "two words";
    hook.program = unit_hook_write(cf.p, cf.dir, "echo done");
    hook.args = args;
    cf.env.dns_hook = &hook;

    ck_assert_int_eq(publish(&ch, &res), APR_SUCCESS);
    ck_assert_str_eq(unit_hook_log(cf.p, cf.dir),
                     apr_psprintf(cf.p, "--zone=example.org two words setup example.org %s\n",
                                  txt));
    ck_assert(logged(ACME_LOG_INFO, "dns-01 hook setup example.org succeeded; output: done"));
    unpublish(&ch);
    ck_assert_str_eq(unit_hook_log(cf.p, cf.dir),
                     apr_psprintf(cf.p, "--zone=example.org two words setup example.org %s\n"
                                  "--zone=example.org two words teardown example.org %s\n",
                                  txt, txt));
    ck_assert_int_eq(cf.count_calls, 0);
    ck_assert_int_eq(cf.waits->nelts, 0);    /* no propagation wait asked for */
}
END_TEST

/* A setup that fails is the order's error; the teardown still runs, and its own failure is
 * only logged. */
START_TEST(dns01_teardown_always_runs)
{
    acme_challenge_t ch = challenge(ACME_CHALLENGE_DNS01, "example.org");
    acme_dns_hook_t hook;
    acme_result_t res;

    memset(&hook, 0, sizeof(hook));
    hook.program = unit_hook_write(cf.p, cf.dir, "echo zone refused; exit 3");
    cf.env.dns_hook = &hook;

    ck_assert_int_eq(publish(&ch, &res), ACME_EHOOK);
    ck_assert_int_eq(res.status, ACME_EHOOK);
    ck_assert_ptr_nonnull(strstr(res.detail, "setup example.org failed with exit status 3"));
    ck_assert_ptr_nonnull(strstr(res.detail, "zone refused"));
    unpublish(&ch);
    ck_assert_ptr_nonnull(strstr(unit_hook_log(cf.p, cf.dir), "teardown example.org"));
    ck_assert(logged(ACME_LOG_WARNING, "teardown example.org failed with exit status 3"));
    ck_assert_int_eq(res.status, ACME_EHOOK);               /* unchanged by the teardown */
}
END_TEST

START_TEST(dns01_without_hook_refused)
{
    acme_challenge_t ch = challenge(ACME_CHALLENGE_DNS01, "example.org");
    acme_result_t res;

    ck_assert_int_eq(publish(&ch, &res), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(res.detail, "ACMEDNSHook"));
    unpublish(&ch);   /* logs, does not crash */
    ck_assert(logged(ACME_LOG_WARNING, "ACMEDNSHook"));
}
END_TEST

/* The propagation wait polls the resolver until its timeout, sleeping through env->sleep. */
START_TEST(dns01_propagation_wait_bounded)
{
    acme_challenge_t ch = challenge(ACME_CHALLENGE_DNS01, "example.invalid");
    acme_dns_hook_t hook;
    acme_result_t res;
    int i;

    memset(&hook, 0, sizeof(hook));
    hook.program = unit_hook_write(cf.p, cf.dir, "exit 0");
    hook.propagation_timeout = apr_time_from_msec(20);
    hook.resolver = "127.0.0.1:9";       /* discard: nobody answers */
    cf.env.dns_hook = &hook;

    ck_assert_int_eq(publish(&ch, &res), APR_SUCCESS);
    ck_assert(logged(ACME_LOG_WARNING, "is not visible through 127.0.0.1:9"));
    /* every pause between look-ups is the 2 s poll interval, asked of env->sleep */
    ck_assert_int_ge(cf.waits->nelts, 0);
    for (i = 0; i < cf.waits->nelts; ++i) {
        ck_assert_int_eq(APR_ARRAY_IDX(cf.waits, i, apr_interval_time_t), apr_time_from_sec(2));
    }
    unpublish(&ch);
}
END_TEST

Suite *challenge_suite(void)
{
    Suite *s = suite_create("challenge");
    TCase *tc = tcase_create("challenge");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, token_check);
    tcase_add_test(tc, table_and_choice);
    tcase_add_test(tc, http01_publish_lookup_unpublish);
    tcase_add_test(tc, http01_pending_count_spares_lookup);
    tcase_add_test(tc, http01_legacy_entry_and_forget);
    tcase_add_test(tc, http01_sweep_stale);
    tcase_add_test(tc, tlsalpn01_publish_lookup_unpublish);
    tcase_add_test(tc, pending_questions_spare_lookups);
    tcase_add_test(tc, ip_identifier_responses);
    tcase_add_test(tc, dnspersist_record);
    tcase_add_test(tc, dns01_hook_argv);
    tcase_add_test(tc, dns01_teardown_always_runs);
    tcase_add_test(tc, dns01_without_hook_refused);
    tcase_add_test(tc, dns01_propagation_wait_bounded);
    suite_add_tcase(s, tc);
    return s;
}
