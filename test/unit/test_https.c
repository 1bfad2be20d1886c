/* acme_https: ACMERequireHttps, which request is redirected, with which status and
 * Location, and which gets HSTS. */
#include <string.h>

#include <apr_strings.h>

#include "tests.h"
#include "acme_https.h"

static apr_pool_t *pool;

static void setup(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

/* A plain-http request for www.example.org, certificate live, permanent, no port map. */
static acme_https_request_t base(void)
{
    acme_https_request_t r;
    memset(&r, 0, sizeof(r));
    r.mode = ACME_HTTPS_PERMANENT;
    r.cert_live = 1;
    r.host = "www.example.org";
    r.host_header = "www.example.org";
    r.path = "/a/b%20c";
    r.query = "x=1&y=2";
    r.port_http = 80;
    r.port_https = 443;
    return r;
}

static const acme_https_answer_t *decide(const acme_https_request_t *r)
{
    acme_https_answer_t *a = NULL;
    ck_assert_int_eq(acme_https_decide(&a, pool, r), APR_SUCCESS);
    ck_assert_ptr_nonnull(a);
    return a;
}

START_TEST(mode_parse)
{
    acme_https_mode_t m = ACME_HTTPS_OFF;
    ck_assert_int_eq(acme_https_mode_parse(&m, "permanent"), APR_SUCCESS);
    ck_assert_int_eq(m, ACME_HTTPS_PERMANENT);
    ck_assert_int_eq(acme_https_mode_parse(&m, "Temporary"), APR_SUCCESS);
    ck_assert_int_eq(m, ACME_HTTPS_TEMPORARY);
    ck_assert_int_eq(acme_https_mode_parse(&m, "OFF"), APR_SUCCESS);
    ck_assert_int_eq(m, ACME_HTTPS_OFF);
    m = ACME_HTTPS_TEMPORARY;
    ck_assert_int_eq(acme_https_mode_parse(&m, "on"), APR_EINVAL);
    ck_assert_int_eq(acme_https_mode_parse(&m, ""), APR_EINVAL);
    ck_assert_int_eq(acme_https_mode_parse(&m, NULL), APR_EINVAL);
    ck_assert_int_eq(m, ACME_HTTPS_TEMPORARY); /* unchanged on error */
    ck_assert_str_eq(acme_https_mode_name(ACME_HTTPS_PERMANENT), "permanent");
    ck_assert_str_eq(acme_https_mode_name(ACME_HTTPS_OFF), "off");
}
END_TEST

START_TEST(permanent_redirects_with_301)
{
    acme_https_request_t r = base();
    const acme_https_answer_t *a = decide(&r);
    ck_assert_int_eq(a->status, 301);
    ck_assert_str_eq(a->location, "https://www.example.org/a/b%20c?x=1&y=2");
    ck_assert_ptr_null(a->hsts);
    r.query = NULL;
    ck_assert_str_eq(decide(&r)->location, "https://www.example.org/a/b%20c");
    r.query = "";       /* "/?" kept as sent */
    r.path = "/";
    ck_assert_str_eq(decide(&r)->location, "https://www.example.org/?");
}
END_TEST

START_TEST(temporary_redirects_with_302_no_hsts)
{
    acme_https_request_t r = base();
    const acme_https_answer_t *a;
    r.mode = ACME_HTTPS_TEMPORARY;
    a = decide(&r);
    ck_assert_int_eq(a->status, 302);
    ck_assert_str_eq(a->location, "https://www.example.org/a/b%20c?x=1&y=2");
    r.is_tls = 1;
    a = decide(&r);
    ck_assert_int_eq(a->status, 0);
    ck_assert_ptr_null(a->hsts);
}
END_TEST

START_TEST(hsts_only_permanent_over_tls)
{
    acme_https_request_t r = base();
    const acme_https_answer_t *a;
    r.is_tls = 1;
    a = decide(&r);
    ck_assert_int_eq(a->status, 0);
    ck_assert_ptr_null(a->location);
    ck_assert_str_eq(a->hsts, "max-age=5184000");
    ck_assert_int_eq(ACME_HSTS_MAX_AGE, 60 * 86400);
    r.path = "/.well-known/acme-challenge/x"; /* over TLS the path does not matter */
    ck_assert_str_eq(decide(&r)->hsts, "max-age=5184000");
}
END_TEST

START_TEST(nothing_when_off_or_not_live)
{
    acme_https_request_t r = base();
    const acme_https_answer_t *a;
    r.mode = ACME_HTTPS_OFF;
    a = decide(&r);
    ck_assert_int_eq(a->status, 0);
    ck_assert_ptr_null(a->hsts);
    r.is_tls = 1;
    ck_assert_ptr_null(decide(&r)->hsts);
    r = base();
    r.cert_live = 0;      /* only the fallback serves */
    ck_assert_int_eq(decide(&r)->status, 0);
    r.is_tls = 1;
    ck_assert_ptr_null(decide(&r)->hsts);
    r = base();
    r.host = NULL;        /* HTTP/1.0 without Host */
    ck_assert_int_eq(decide(&r)->status, 0);
}
END_TEST

START_TEST(challenge_path_never_redirected)
{
    acme_https_request_t r = base();
    r.path = "/.well-known/acme-challenge/abcDEF_-123";
    ck_assert_int_eq(decide(&r)->status, 0);
    r.path = "/.well-known/acme-challenge/";
    ck_assert_int_eq(decide(&r)->status, 0);
    r.path = "/.well-known/acme-challengeX"; /* not the challenge directory */
    ck_assert_int_eq(decide(&r)->status, 301);
    r.path = "/.well-known/other";
    ck_assert_int_eq(decide(&r)->status, 301);
}
END_TEST

START_TEST(odd_targets_not_redirected)
{
    acme_https_request_t r = base();
    r.path = "*";                 /* OPTIONS * */
    ck_assert_int_eq(decide(&r)->status, 0);
    r.path = NULL;                /* CONNECT */
    ck_assert_int_eq(decide(&r)->status, 0);
    r.path = "/a\r\nSet-Cookie: x=1";
    ck_assert_int_eq(decide(&r)->status, 0);
    r = base();
    r.query = "a b";
    ck_assert_int_eq(decide(&r)->status, 0);
}
END_TEST

START_TEST(port_mapping)
{
    acme_https_request_t r = base();
    r.port_http = 8080;           /* ACMEPortMap 80:8080 443:8443 */
    r.port_https = 8443;
    r.host_header = "www.example.org:8080"; /* the client used the local port */
    ck_assert_str_eq(decide(&r)->location, "https://www.example.org:8443/a/b%20c?x=1&y=2");
    r.host_header = "www.example.org";      /* public port 80 -> public 443 */
    ck_assert_str_eq(decide(&r)->location, "https://www.example.org/a/b%20c?x=1&y=2");
    r.host_header = "www.example.org:80";
    ck_assert_str_eq(decide(&r)->location, "https://www.example.org/a/b%20c?x=1&y=2");
    r.host_header = "www.example.org:9999"; /* not a mapped port: the public one */
    ck_assert_str_eq(decide(&r)->location, "https://www.example.org/a/b%20c?x=1&y=2");
    r.port_https = 443;           /* ACMEPortMap 80:8080 only */
    r.host_header = "www.example.org:8080";
    ck_assert_str_eq(decide(&r)->location, "https://www.example.org/a/b%20c?x=1&y=2");
    r = base();                   /* no map: 8080 is not the port public 80 reaches */
    r.host_header = "www.example.org:8080";
    ck_assert_str_eq(decide(&r)->location, "https://www.example.org/a/b%20c?x=1&y=2");
}
END_TEST

START_TEST(host_port)
{
    ck_assert_int_eq(acme_https_host_port("a.example:8080"), 8080);
    ck_assert_int_eq(acme_https_host_port("a.example"), 0);
    ck_assert_int_eq(acme_https_host_port("a.example:"), 0);
    ck_assert_int_eq(acme_https_host_port("a.example:80x"), 0);
    ck_assert_int_eq(acme_https_host_port("a.example:65536"), 0);
    ck_assert_int_eq(acme_https_host_port("a.example:123456"), 0);
    ck_assert_int_eq(acme_https_host_port("[::1]:8443"), 8443);
    ck_assert_int_eq(acme_https_host_port("[::1]"), 0);
    ck_assert_int_eq(acme_https_host_port(NULL), 0);
}
END_TEST

Suite *https_suite(void)
{
    Suite *s = suite_create("https");
    TCase *tc = tcase_create("https");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, mode_parse);
    tcase_add_test(tc, permanent_redirects_with_301);
    tcase_add_test(tc, temporary_redirects_with_302_no_hsts);
    tcase_add_test(tc, hsts_only_permanent_over_tls);
    tcase_add_test(tc, nothing_when_off_or_not_live);
    tcase_add_test(tc, challenge_path_never_redirected);
    tcase_add_test(tc, odd_targets_not_redirected);
    tcase_add_test(tc, port_mapping);
    tcase_add_test(tc, host_port);
    suite_add_tcase(s, tc);
    return s;
}
