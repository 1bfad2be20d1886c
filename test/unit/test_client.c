/* acme_client: directory caching, nonce pool, badNonce retry, problem documents and the
 * table of problem types, Link. */
#include <signal.h>
#include <string.h>

#include <apr_atomic.h>
#include <apr_network_io.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "tests.h"
#include "fake_http.h"
#include "acme_client.h"
#include "acme_crypto.h"
#include "acme_json.h"

#define DIR_URL   "https://ca.test/dir"
#define NONCE_URL "https://ca.test/nonce"
#define ACCT_URL  "https://ca.test/acct"
#define ORDER_URL "https://ca.test/order"
#define KID       "https://ca.test/acct/1"
#define DIRECTORY                                                                           \
    "{\"newNonce\":\"" NONCE_URL "\",\"newAccount\":\"" ACCT_URL "\",\"newOrder\":\""        \
    ORDER_URL "\",\"revokeCert\":\"https://ca.test/revoke\",\"keyChange\":\"https://ca.test/kc\"," \
    "\"meta\":{\"termsOfService\":\"https://ca.test/tos.pdf\"}}"

static apr_pool_t *pool;
static fake_http_t *fake;
static acme_client_t *client;
static acme_result_t res;

static void setup(void)
{
    acme_key_t *key = NULL;
    apr_pool_create(&pool, NULL);
    fake = fake_http_create(pool);
    ck_assert_int_eq(acme_client_create(&client, pool, fake_http_get(fake), DIR_URL),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_key_generate(&key, pool, ACME_KEY_EC_P256), APR_SUCCESS);
    acme_client_set_account(client, key, KID);
    acme_result_reset(&res);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

static const char *req_nonce(int i)
{
    const fake_request_t *r = fake_http_request(fake, i);
    ck_assert_ptr_nonnull(r);
    ck_assert_ptr_nonnull(r->protected_hdr);
    return acme_json_str(r->protected_hdr, "nonce");
}

static int count_method(const char *method)
{
    int i, n = 0;
    for (i = 0; i < fake_http_count(fake); ++i) {
        if (!strcmp(fake_http_request(fake, i)->method, method)) {
            ++n;
        }
    }
    return n;
}

START_TEST(directory_fetched_once)
{
    acme_response_t *resp = NULL;

    fake_http_expect(fake, "GET", DIR_URL, 200, DIRECTORY);
    fake_http_expect(fake, "HEAD", NONCE_URL, 200, NULL);
    fake_http_expect(fake, "POST", ORDER_URL, 201, "{\"status\":\"pending\"}");
    fake_http_expect(fake, "POST", ORDER_URL, 201, "{\"status\":\"pending\"}");

    ck_assert_int_eq(acme_client_directory(client, &res), APR_SUCCESS);
    ck_assert_int_eq(acme_client_directory(client, &res), APR_SUCCESS);
    ck_assert_str_eq(acme_client_endpoint(client, "newOrder"), ORDER_URL);
    ck_assert_str_eq(acme_client_endpoint(client, "newNonce"), NONCE_URL);
    ck_assert_str_eq(acme_client_endpoint(client, "revokeCert"), "https://ca.test/revoke");
    ck_assert_ptr_null(acme_client_endpoint(client, "renewalInfo"));
    ck_assert_str_eq(acme_client_tos(client), "https://ca.test/tos.pdf");
    ck_assert_int_eq(acme_client_post(&resp, client, pool, ORDER_URL, "{}", 0, &res),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_client_post(&resp, client, pool, ORDER_URL, "{}", 0, &res),
                     APR_SUCCESS);
    ck_assert_int_eq(count_method("GET"), 1);
    ck_assert_int_eq(fake_http_remaining(fake), 0);
    ck_assert_uint_eq(acme_client_request_count(client), 4);
}
END_TEST

/* acme_client_set_pace: called before every request with its endpoint. */
typedef struct pace_seen_t {
    int n;
    acme_pace_endpoint_e ep[8];
} pace_seen_t;

static void pace_record(void *baton, acme_pace_endpoint_e ep)
{
    pace_seen_t *s = baton;

    ck_assert_int_lt(s->n, 8);
    s->ep[s->n++] = ep;
}

START_TEST(pace_hook_sees_endpoints)
{
    acme_response_t *resp = NULL;
    pace_seen_t seen = { 0 };

    acme_client_set_pace(client, pace_record, &seen);
    fake_http_expect(fake, "GET", DIR_URL, 200, DIRECTORY);
    fake_http_expect(fake, "HEAD", NONCE_URL, 200, NULL);
    fake_http_expect(fake, "POST", ORDER_URL, 201, "{\"status\":\"pending\"}");
    fake_http_expect(fake, "POST", "https://ca.test/order/1", 200, "{\"status\":\"pending\"}");
    fake_http_expect(fake, "POST", "https://ca.test/revoke", 200, "{}");
    ck_assert_int_eq(acme_client_post(&resp, client, pool, ORDER_URL, "{}", 0, &res),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_client_post(&resp, client, pool, "https://ca.test/order/1", "", 0,
                                      &res), APR_SUCCESS);
    ck_assert_int_eq(acme_client_post(&resp, client, pool, "https://ca.test/revoke", "{}", 0,
                                      &res), APR_SUCCESS);
    ck_assert_int_eq(fake_http_remaining(fake), 0);
    ck_assert_int_eq(seen.n, 5);
    ck_assert_int_eq(seen.ep[0], ACME_PACE_EP_DIRECTORY);
    ck_assert_int_eq(seen.ep[1], ACME_PACE_EP_NEW_NONCE);
    ck_assert_int_eq(seen.ep[2], ACME_PACE_EP_NEW_ORDER);
    ck_assert_int_eq(seen.ep[3], ACME_PACE_EP_OTHER);
    ck_assert_int_eq(seen.ep[4], ACME_PACE_EP_REVOKE);
}
END_TEST

START_TEST(directory_not_acme)
{
    fake_http_expect(fake, "GET", DIR_URL, 200, "{\"hello\":\"world\"}");
    ck_assert_int_eq(acme_client_directory(client, &res), ACME_EPROTO);
    ck_assert_ptr_nonnull(res.detail);
    ck_assert_ptr_nonnull(strstr(res.detail, DIR_URL));
}
END_TEST

START_TEST(head_nonce_only_when_empty)
{
    acme_response_t *resp = NULL;
    const fake_request_t *r;

    fake_http_expect(fake, "GET", DIR_URL, 200, DIRECTORY);
    fake_http_expect(fake, "HEAD", NONCE_URL, 200, NULL);
    fake_http_expect(fake, "POST", ORDER_URL, 200, "{\"a\":1}");
    fake_http_expect(fake, "POST", ORDER_URL, 200, "{\"a\":2}");
    fake_http_expect(fake, "POST", ORDER_URL, 200, "{\"a\":3}");

    ck_assert_int_eq(acme_client_post(&resp, client, pool, ORDER_URL, NULL, 0, &res),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_client_post(&resp, client, pool, ORDER_URL, NULL, 0, &res),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_client_post(&resp, client, pool, ORDER_URL, "{\"x\":1}", 0, &res),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(resp->json);
    ck_assert_int_eq((int)json_integer_value(json_object_get(resp->json, "a")), 3);
    ck_assert_int_eq(count_method("HEAD"), 1);
    ck_assert_int_eq(fake_http_count(fake), 5);
    /* POST-as-GET: empty payload; kid used, no jwk */
    r = fake_http_request(fake, 2);
    ck_assert_str_eq(r->payload, "");
    ck_assert_str_eq(acme_json_str(r->protected_hdr, "kid"), KID);
    ck_assert_str_eq(acme_json_str(r->protected_hdr, "url"), ORDER_URL);
    ck_assert_ptr_null(json_object_get(r->protected_hdr, "jwk"));
    r = fake_http_request(fake, 4);
    ck_assert_ptr_nonnull(r->payload_json);
    ck_assert_int_eq((int)json_integer_value(json_object_get(r->payload_json, "x")), 1);
}
END_TEST

/* newOrder and finalize (acme_client_post_serial) go to the CA one at a time: two threads
 * posting at once never have two such requests in flight (each answer takes 200 ms). */
static volatile apr_uint32_t serial_now, serial_max;

static void serial_hook(void *baton, const fake_request_t *req, acme_http_response_t *resp,
                        apr_pool_t *p)
{
    apr_uint32_t n = apr_atomic_inc32(&serial_now) + 1, m;
    (void)baton; (void)req; (void)resp; (void)p;
    while ((m = apr_atomic_read32(&serial_max)) < n
           && apr_atomic_cas32(&serial_max, n, m) != m) {
    }
    apr_sleep(apr_time_from_msec(200));
    apr_atomic_dec32(&serial_now);
}

static void *APR_THREAD_FUNC serial_post(apr_thread_t *t, void *baton)
{
    acme_response_t *resp = NULL;
    acme_result_t r;
    apr_pool_t *p;
    (void)baton;
    apr_pool_create_unmanaged_ex(&p, NULL, NULL);
    acme_result_reset(&r);
    ck_assert_int_eq(acme_client_post_serial(&resp, client, p, ORDER_URL, "{}", &r),
                     APR_SUCCESS);
    apr_pool_destroy(p);
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

START_TEST(order_requests_one_at_a_time)
{
    acme_response_t *resp = NULL;
    apr_thread_t *th[2];
    apr_interval_time_t busy = -1;
    apr_uint32_t count = 99;
    apr_status_t trv;
    int i;

    acme_client_serial_stats(client, &busy, &count);
    ck_assert_uint_eq(count, 0);
    ck_assert_int_eq(busy, 0);

    fake_http_expect(fake, "GET", DIR_URL, 200, DIRECTORY);
    fake_http_expect(fake, "HEAD", NONCE_URL, 200, NULL);
    fake_http_expect(fake, "POST", ORDER_URL, 200, "{}");
    for (i = 0; i < 2; ++i) {
        fake_answer_hook(fake_http_expect(fake, "POST", ORDER_URL, 201, "{}"), serial_hook,
                         NULL);
    }
    /* the directory and a nonce first (one thread), then two threads at once */
    ck_assert_int_eq(acme_client_post(&resp, client, pool, ORDER_URL, NULL, 0, &res),
                     APR_SUCCESS);
    apr_atomic_set32(&serial_now, 0);
    apr_atomic_set32(&serial_max, 0);
    for (i = 0; i < 2; ++i) {
        ck_assert_int_eq(apr_thread_create(&th[i], NULL, serial_post, NULL, pool),
                         APR_SUCCESS);
    }
    for (i = 0; i < 2; ++i) {
        apr_thread_join(&trv, th[i]);
    }
    ck_assert_int_eq(fake_http_remaining(fake), 0);
    ck_assert_uint_eq(apr_atomic_read32(&serial_max), 1);
    /* both counted, with the time they held the CA: two answers of 200 ms each */
    acme_client_serial_stats(client, &busy, &count);
    ck_assert_uint_eq(count, 2);
    ck_assert_int_ge(busy, apr_time_from_msec(400));
}
END_TEST

START_TEST(replay_nonce_is_next_nonce)
{
    acme_response_t *resp = NULL;
    fake_answer_t *a;

    fake_http_auto_nonce(fake, 0);
    fake_http_expect(fake, "GET", DIR_URL, 200, DIRECTORY);
    a = fake_http_expect(fake, "HEAD", NONCE_URL, 200, NULL);
    fake_answer_header(a, "Replay-Nonce", "nonce-from-head", 0);
    a = fake_http_expect(fake, "POST", ORDER_URL, 201, "{}");
    fake_answer_header(a, "Replay-Nonce", "nonce-from-post-1", 0);
    a = fake_http_expect(fake, "POST", ACCT_URL, 200, "{}");
    fake_answer_header(a, "Replay-Nonce", "nonce-from-post-2", 0);
    fake_http_expect(fake, "POST", ORDER_URL, 200, "{}");

    ck_assert_int_eq(acme_client_post(&resp, client, pool, ORDER_URL, "{}", 0, &res),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_client_post(&resp, client, pool, ACCT_URL, "{}", 1, &res),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_client_post(&resp, client, pool, ORDER_URL, NULL, 0, &res),
                     APR_SUCCESS);
    ck_assert_str_eq(req_nonce(2), "nonce-from-head");
    ck_assert_str_eq(req_nonce(3), "nonce-from-post-1");
    ck_assert_str_eq(req_nonce(4), "nonce-from-post-2");
    /* force_jwk: a jwk, no kid */
    ck_assert_ptr_nonnull(json_object_get(fake_http_request(fake, 3)->protected_hdr, "jwk"));
    ck_assert_ptr_null(json_object_get(fake_http_request(fake, 3)->protected_hdr, "kid"));
    ck_assert_int_eq(fake_http_remaining(fake), 0);
}
END_TEST

START_TEST(bad_nonce_retried_once)
{
    acme_response_t *resp = NULL;
    fake_answer_t *a;

    fake_http_auto_nonce(fake, 0);
    fake_http_expect(fake, "GET", DIR_URL, 200, DIRECTORY);
    a = fake_http_expect(fake, "HEAD", NONCE_URL, 200, NULL);
    fake_answer_header(a, "Replay-Nonce", "stale", 0);
    a = fake_http_expect_problem(fake, "POST", ORDER_URL, 400,
                                 "urn:ietf:params:acme:error:badNonce", "JWS has an invalid "
                                 "anti-replay nonce");
    fake_answer_header(a, "Replay-Nonce", "fresh", 0);
    a = fake_http_expect(fake, "POST", ORDER_URL, 201, "{\"status\":\"pending\"}");
    fake_answer_header(a, "Location", "https://ca.test/order/7", 0);

    ck_assert_int_eq(acme_client_post(&resp, client, pool, ORDER_URL, "{}", 0, &res),
                     APR_SUCCESS);
    ck_assert_int_eq(res.status, APR_SUCCESS);
    ck_assert_int_eq(resp->status, 201);
    ck_assert_str_eq(resp->location, "https://ca.test/order/7");
    ck_assert_int_eq(count_method("POST"), 2);
    ck_assert_int_eq(count_method("HEAD"), 1);
    ck_assert_str_eq(req_nonce(2), "stale");
    ck_assert_str_eq(req_nonce(3), "fresh");
    /* the success leaves no pointer to the badNonce answer's URL behind (fuzz_acme found
     * the driver reading it after the authorization's pool was gone) */
    ck_assert_ptr_null(res.subject);
}
END_TEST

START_TEST(bad_nonce_twice_retried)
{
    acme_response_t *resp = NULL;
    fake_answer_t *a;

    fake_http_auto_nonce(fake, 0);
    fake_http_expect(fake, "GET", DIR_URL, 200, DIRECTORY);
    a = fake_http_expect(fake, "HEAD", NONCE_URL, 200, NULL);
    fake_answer_header(a, "Replay-Nonce", "n0", 0);
    a = fake_http_expect_problem(fake, "POST", ORDER_URL, 400,
                                 "urn:ietf:params:acme:error:badNonce", "bad nonce 1");
    fake_answer_header(a, "Replay-Nonce", "n1", 0);
    a = fake_http_expect_problem(fake, "POST", ORDER_URL, 400,
                                 "urn:ietf:params:acme:error:badNonce", "bad nonce 2");
    fake_answer_header(a, "Replay-Nonce", "n2", 0);
    a = fake_http_expect(fake, "POST", ORDER_URL, 201, "{\"status\":\"pending\"}");
    fake_answer_header(a, "Location", "https://ca.test/order/8", 0);

    ck_assert_int_eq(acme_client_post(&resp, client, pool, ORDER_URL, "{}", 0, &res),
                     APR_SUCCESS);
    ck_assert_int_eq(count_method("POST"), 3);
    ck_assert_str_eq(req_nonce(2), "n0");
    ck_assert_str_eq(req_nonce(3), "n1");
    ck_assert_str_eq(req_nonce(4), "n2");
}
END_TEST

START_TEST(bad_nonce_retries_bounded)
{
    acme_response_t *resp = NULL;
    int i;

    fake_http_expect(fake, "GET", DIR_URL, 200, DIRECTORY);
    fake_http_expect(fake, "HEAD", NONCE_URL, 200, NULL);
    for (i = 0; i <= ACME_BADNONCE_RETRIES; ++i) {
        fake_http_expect_problem(fake, "POST", ORDER_URL, 400,
                                 "urn:ietf:params:acme:error:badNonce",
                                 i == ACME_BADNONCE_RETRIES ? "bad nonce last" : "bad nonce");
    }

    ck_assert_int_eq(acme_client_post(&resp, client, pool, ORDER_URL, "{}", 0, &res),
                     ACME_EPROBLEM);
    ck_assert_int_eq(res.status, ACME_EPROBLEM);
    ck_assert_str_eq(res.problem_type, "urn:ietf:params:acme:error:badNonce");
    ck_assert_str_eq(res.detail, "bad nonce last");
    ck_assert_int_eq(res.http_status, 400);
    ck_assert_ptr_nonnull(resp);
    ck_assert_int_eq(count_method("POST"), ACME_BADNONCE_RETRIES + 1);
    ck_assert_int_eq(fake_http_count(fake), ACME_BADNONCE_RETRIES + 3);
    ck_assert_int_eq(fake_http_remaining(fake), 0);
}
END_TEST

START_TEST(post_problem_rate_limited)
{
    acme_response_t *resp = NULL;
    fake_answer_t *a;
    apr_time_t before = apr_time_now();

    fake_http_expect(fake, "GET", DIR_URL, 200, DIRECTORY);
    fake_http_expect(fake, "HEAD", NONCE_URL, 200, NULL);
    a = fake_http_expect_problem(fake, "POST", ORDER_URL, 429,
                                 "urn:ietf:params:acme:error:rateLimited", "too many orders");
    fake_answer_header(a, "Retry-After", "3600", 0);

    ck_assert_int_eq(acme_client_post(&resp, client, pool, ORDER_URL, "{}", 0, &res),
                     ACME_EPROBLEM);
    ck_assert_str_eq(res.problem_type, "urn:ietf:params:acme:error:rateLimited");
    ck_assert_int_eq(res.http_status, 429);
    ck_assert(res.retry_after >= before + apr_time_from_sec(3600));
    ck_assert(res.retry_after <= apr_time_now() + apr_time_from_sec(3600));
    ck_assert_int_eq(count_method("POST"), 1);
}
END_TEST

START_TEST(problem_parse_json)
{
    apr_table_t *h = apr_table_make(pool, 2);
    apr_time_t now = apr_time_from_sec(1700000000);
    const char *body =
        "{\"type\":\"urn:ietf:params:acme:error:malformed\",\"detail\":\"Some identifiers "
        "were rejected\",\"subproblems\":[{\"type\":\"urn:ietf:params:acme:error:malformed\","
        "\"detail\":\"Invalid underscore in DNS name\",\"identifier\":{\"type\":\"dns\","
        "\"value\":\"_example.org\"}},{\"type\":\"urn:ietf:params:acme:error:rejectedIdentifier\","
        "\"detail\":\"This CA will not issue for example.net\",\"identifier\":{\"type\":\"dns\","
        "\"value\":\"example.net\"}}]}";

    apr_table_set(h, "Retry-After", "120");
    acme_problem_parse(&res, pool, 400, h, body, strlen(body), now);
    ck_assert_int_eq(res.status, ACME_EPROBLEM);
    ck_assert_int_eq(res.http_status, 400);
    ck_assert_str_eq(res.problem_type, "urn:ietf:params:acme:error:malformed");
    ck_assert_str_eq(res.detail, "Some identifiers were rejected; _example.org: Invalid "
                                 "underscore in DNS name; example.net: This CA will not issue "
                                 "for example.net");
    ck_assert(res.retry_after == now + apr_time_from_sec(120));
}
END_TEST

START_TEST(problem_parse_retry_after_date)
{
    apr_table_t *h = apr_table_make(pool, 2);
    apr_time_t now = apr_time_from_sec(1700000000); /* Tue, 14 Nov 2023 22:13:20 GMT */
    const char *body = "{\"type\":\"urn:ietf:params:acme:error:rateLimited\",\"detail\":\"x\"}";

    apr_table_set(h, "Retry-After", "Tue, 14 Nov 2023 23:13:20 GMT");
    acme_problem_parse(&res, pool, 429, h, body, strlen(body), now);
    ck_assert_str_eq(res.problem_type, "urn:ietf:params:acme:error:rateLimited");
    ck_assert(res.retry_after == now + apr_time_from_sec(3600));
    ck_assert_int_eq(res.http_status, 429);
}
END_TEST

START_TEST(problem_parse_not_json)
{
    apr_table_t *h = apr_table_make(pool, 2);
    const char *body = "<html>\n<body>Service\tUnavailable</body></html>";
    char big[400];

    res.subject = "https://ca.test/order";
    acme_problem_parse(&res, pool, 503, h, body, strlen(body), apr_time_now());
    ck_assert_int_eq(res.status, ACME_EPROBLEM);
    ck_assert_ptr_null(res.problem_type);
    ck_assert_int_eq(res.retry_after, 0);
    ck_assert_ptr_nonnull(strstr(res.detail, "HTTP 503 from https://ca.test/order"));
    ck_assert_ptr_nonnull(strstr(res.detail, "Service Unavailable"));
    ck_assert_ptr_null(strchr(res.detail, '\n'));

    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    acme_result_reset(&res);
    acme_problem_parse(&res, pool, 502, NULL, big, strlen(big), apr_time_now());
    ck_assert_ptr_nonnull(strstr(res.detail, "HTTP 502 from"));
    ck_assert(strlen(res.detail) < 200 + 40);

    acme_result_reset(&res);
    acme_problem_parse(&res, pool, 500, NULL, "", 0, apr_time_now());
    ck_assert_ptr_nonnull(strstr(res.detail, "HTTP 500"));
}
END_TEST

START_TEST(links_parsed)
{
    apr_table_t *h = apr_table_make(pool, 4);
    apr_array_header_t *a;

    apr_table_add(h, "Link", "<https://ca.test/dir>;rel=\"index\"");
    apr_table_add(h, "Link", "<https://ca.test/cert/1/alt/1>; rel=\"alternate\", "
                             "<https://ca.test/cert/1/alt/2>; rel=alternate");
    apr_table_add(h, "Link", "<https://ca.test/a,b>; title=\"x, y; z\"; REL=\"up alternate\"");
    apr_table_add(h, "Content-Type", "application/json");

    a = acme_links(pool, h, "alternate");
    ck_assert_int_eq(a->nelts, 3);
    ck_assert_str_eq(APR_ARRAY_IDX(a, 0, const char *), "https://ca.test/cert/1/alt/1");
    ck_assert_str_eq(APR_ARRAY_IDX(a, 1, const char *), "https://ca.test/cert/1/alt/2");
    ck_assert_str_eq(APR_ARRAY_IDX(a, 2, const char *), "https://ca.test/a,b");
    a = acme_links(pool, h, "index");
    ck_assert_int_eq(a->nelts, 1);
    ck_assert_str_eq(APR_ARRAY_IDX(a, 0, const char *), "https://ca.test/dir");
    a = acme_links(pool, h, "up");
    ck_assert_int_eq(a->nelts, 1);
    a = acme_links(pool, h, "next");
    ck_assert_int_eq(a->nelts, 0);
}
END_TEST

START_TEST(transport_error)
{
    acme_result_reset(&res);
    /* no script at all would fail the test; use a CA that does not answer instead */
    {
        acme_http_t *http = NULL;
        acme_client_t *c2 = NULL;
        ck_assert_int_eq(acme_http_curl_create(&http, pool, NULL, NULL, apr_time_from_sec(5)),
                         APR_SUCCESS);
        ck_assert_int_eq(acme_client_create(&c2, pool, http, "http://127.0.0.1:1/dir"),
                         APR_SUCCESS);
        ck_assert_int_ne(acme_client_directory(c2, &res), APR_SUCCESS);
        ck_assert(APR_STATUS_IS_ECONNREFUSED(res.status));
        ck_assert_ptr_nonnull(res.detail);
        ck_assert_uint_eq(acme_client_request_count(c2), 1);
    }
}
END_TEST

/* ------------------------------------------------------------------ the curl transport
 * against a one-shot HTTP server on loopback (a thread of the test) */

typedef struct one_shot_t {
    apr_pool_t *p;
    apr_socket_t *listener;
    apr_port_t port;
    const char *answer;           /* raw HTTP answer */
    apr_size_t answer_len;
    const char *request;          /* what the client sent (head and body) */
} one_shot_t;

static void *APR_THREAD_FUNC one_shot_run(apr_thread_t *t, void *data)
{
    one_shot_t *os = data;
    apr_socket_t *s = NULL;
    char buf[8192];
    const char *req = "";
    apr_size_t n, off = 0;

    if (apr_socket_accept(&s, os->listener, os->p) != APR_SUCCESS) {
        return NULL;
    }
    apr_socket_timeout_set(s, apr_time_from_sec(5));
    /* read the head, then as many body bytes as Content-Length says */
    for (;;) {
        const char *end, *cl;
        n = sizeof(buf) - 1;
        if (apr_socket_recv(s, buf, &n) != APR_SUCCESS || n == 0) {
            break;
        }
        buf[n] = '\0';
        req = apr_pstrcat(os->p, req, buf, NULL);
        end = strstr(req, "\r\n\r\n");
        if (end) {
            cl = strcasestr(req, "Content-Length:");
            if (!cl || strlen(end + 4) >= (apr_size_t)atoi(cl + 15)) {
                break;
            }
        }
    }
    os->request = req;
    while (off < os->answer_len) {
        n = os->answer_len - off;
        if (apr_socket_send(s, os->answer + off, &n) != APR_SUCCESS) {
            break;
        }
        off += n;
    }
    apr_socket_close(s);
    return NULL;
}

static apr_thread_t *one_shot_start(one_shot_t *os, const char *answer, apr_size_t len)
{
    apr_sockaddr_t *sa = NULL;
    apr_thread_t *t = NULL;

    os->p = pool;
    os->answer = answer;
    os->answer_len = len;
    ck_assert_int_eq(apr_sockaddr_info_get(&sa, "127.0.0.1", APR_INET, 0, 0, pool), APR_SUCCESS);
    ck_assert_int_eq(apr_socket_create(&os->listener, APR_INET, SOCK_STREAM, APR_PROTO_TCP, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(apr_socket_bind(os->listener, sa), APR_SUCCESS);
    ck_assert_int_eq(apr_socket_listen(os->listener, 1), APR_SUCCESS);
    ck_assert_int_eq(apr_socket_addr_get(&sa, APR_LOCAL, os->listener), APR_SUCCESS);
    os->port = sa->port;
    ck_assert_int_eq(apr_thread_create(&t, NULL, one_shot_run, os, pool), APR_SUCCESS);
    return t;
}

START_TEST(curl_headers_and_body)
{
    static const char answer[] =
        "HTTP/1.1 100 Continue\r\nX-Early: yes\r\n\r\n"
        "HTTP/1.1 201 Created\r\n"
        "Content-Type: application/json\r\n"
        "Link: <https://ca.test/dir>;rel=\"index\"\r\n"
        "Link: <https://ca.test/alt/1>;rel=\"alternate\"\r\n"
        "Replay-Nonce: n-1\r\n"
        "Content-Length: 11\r\n"
        "Connection: close\r\n\r\n"
        "{\"ok\":true}";
    one_shot_t os;
    acme_http_t *http = NULL;
    acme_http_response_t *resp = NULL;
    acme_http_request_t req;
    apr_thread_t *t;
    apr_status_t trv;
    int links = 0;
    const apr_array_header_t *arr;
    int i;

    memset(&os, 0, sizeof(os));
    t = one_shot_start(&os, answer, sizeof(answer) - 1);
    ck_assert_int_eq(acme_http_curl_create(&http, pool, NULL, "unit-test/1", apr_time_from_sec(5)),
                     APR_SUCCESS);
    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.url = apr_psprintf(pool, "http://127.0.0.1:%d/new-order", (int)os.port);
    req.content_type = "application/jose+json";
    req.accept = "application/pem-certificate-chain";
    req.body = "{\"protected\":\"x\"}";
    req.body_len = strlen(req.body);
    ck_assert_int_eq(http->perform(http->baton, &resp, pool, &req), APR_SUCCESS);
    apr_thread_join(&trv, t);

    ck_assert_int_eq(resp->status, 201);
    ck_assert_str_eq(resp->body, "{\"ok\":true}");
    ck_assert_int_eq((int)resp->body_len, 11);
    ck_assert_ptr_null(apr_table_get(resp->headers, "X-Early"));   /* reset at the 201 */
    ck_assert_str_eq(apr_table_get(resp->headers, "replay-nonce"), "n-1");
    arr = apr_table_elts(resp->headers);
    for (i = 0; i < arr->nelts; ++i) {
        if (!strcasecmp(APR_ARRAY_IDX(arr, i, apr_table_entry_t).key, "Link")) {
            ++links;
        }
    }
    ck_assert_int_eq(links, 2);
    ck_assert_int_eq(acme_links(pool, resp->headers, "alternate")->nelts, 1);

    ck_assert_ptr_nonnull(os.request);
    ck_assert_ptr_nonnull(strstr(os.request, "POST /new-order HTTP/1.1\r\n"));
    ck_assert_ptr_nonnull(strcasestr(os.request, "Content-Type: application/jose+json\r\n"));
    ck_assert_ptr_nonnull(strcasestr(os.request, "Accept: application/pem-certificate-chain\r\n"));
    ck_assert_ptr_nonnull(strcasestr(os.request, "User-Agent: unit-test/1\r\n"));
    ck_assert_ptr_null(strcasestr(os.request, "Expect:"));
    ck_assert_ptr_nonnull(strstr(os.request, "\r\n\r\n{\"protected\":\"x\"}"));
}
END_TEST

START_TEST(curl_body_cap)
{
    apr_size_t big = 2 * 1024 * 1024 + 100;
    const char *head = apr_psprintf(pool, "HTTP/1.1 200 OK\r\nContent-Length: %lu\r\n"
                                    "Connection: close\r\n\r\n", (unsigned long)big);
    apr_size_t hlen = strlen(head);
    char *answer = apr_palloc(pool, hlen + big);
    one_shot_t os;
    acme_http_t *http = NULL;
    acme_http_response_t *resp = NULL;
    acme_http_request_t req;
    apr_thread_t *t;
    apr_status_t trv;

    signal(SIGPIPE, SIG_IGN);   /* the client hangs up on the server mid-answer */
    memcpy(answer, head, hlen);
    memset(answer + hlen, 'x', big);
    memset(&os, 0, sizeof(os));
    t = one_shot_start(&os, answer, hlen + big);
    ck_assert_int_eq(acme_http_curl_create(&http, pool, NULL, NULL, apr_time_from_sec(5)),
                     APR_SUCCESS);
    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = apr_psprintf(pool, "http://127.0.0.1:%d/big", (int)os.port);
    ck_assert_int_eq(http->perform(http->baton, &resp, pool, &req), ACME_ETOOLARGE);
    ck_assert_ptr_nonnull(resp);
    ck_assert_int_eq(resp->status, 0);
    ck_assert_msg(strstr(resp->error, "larger than the limit of 2097152 bytes") != NULL, "%s",
                  resp->error);
    apr_thread_join(&trv, t);
}
END_TEST

/* GET url with curl (timeout 1 s); the status, *presp as the transport left it. */
static apr_status_t curl_get(acme_http_response_t **presp, const char *url)
{
    acme_http_t *http = NULL;
    acme_http_request_t req;

    ck_assert_int_eq(acme_http_curl_create(&http, pool, "/nonexistent/ca.pem", NULL,
                                           apr_time_from_sec(1)),
                     APR_SUCCESS);
    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = url;
    *presp = NULL;
    return http->perform(http->baton, presp, pool, &req);
}

/* A listening port that nobody accepts on (the kernel completes the handshake) or, with
 * close_it, a port nobody listens on. */
static int dead_port(int close_it)
{
    apr_sockaddr_t *sa = NULL;
    apr_socket_t *s = NULL;

    ck_assert_int_eq(apr_sockaddr_info_get(&sa, "127.0.0.1", APR_INET, 0, 0, pool), APR_SUCCESS);
    ck_assert_int_eq(apr_socket_create(&s, APR_INET, SOCK_STREAM, APR_PROTO_TCP, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(apr_socket_bind(s, sa), APR_SUCCESS);
    ck_assert_int_eq(apr_socket_listen(s, 1), APR_SUCCESS);
    ck_assert_int_eq(apr_socket_addr_get(&sa, APR_LOCAL, s), APR_SUCCESS);
    if (close_it) {
        apr_socket_close(s);
    }
    return sa->port;
}

/* Each transport failure has its own status and words. */
START_TEST(curl_failures_in_words)
{
    static const char truncated[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                    "Content-Length: 100\r\n\r\n{\"status\":";
    static const char garbage[] = "SSH-2.0-OpenSSH_9.2\r\n\r\n";
    acme_http_response_t *resp;
    one_shot_t os;
    apr_thread_t *t;
    apr_status_t trv;
    apr_time_t start;

    ck_assert_int_eq(curl_get(&resp, apr_psprintf(pool, "http://127.0.0.1:%d/", dead_port(1))),
                     APR_ECONNREFUSED);
    ck_assert_msg(strstr(resp->error, "connection refused") != NULL, "%s", resp->error);

    start = apr_time_now();
    ck_assert_int_eq(curl_get(&resp, apr_psprintf(pool, "http://127.0.0.1:%d/", dead_port(0))),
                     APR_TIMEUP);
    ck_assert_msg(strstr(resp->error, "timeout: no complete answer within 1s (ACMETimeout")
                  != NULL, "%s", resp->error);
    ck_assert_int_lt(apr_time_now() - start, apr_time_from_sec(5));

    memset(&os, 0, sizeof(os));
    t = one_shot_start(&os, truncated, sizeof(truncated) - 1);
    ck_assert_int_eq(curl_get(&resp, apr_psprintf(pool, "http://127.0.0.1:%d/", (int)os.port)),
                     ACME_ETRUNCATED);
    apr_thread_join(&trv, t);
    ck_assert_msg(strstr(resp->error, "truncated answer: the connection closed after 10 bytes")
                  != NULL, "%s", resp->error);

    memset(&os, 0, sizeof(os));
    t = one_shot_start(&os, garbage, sizeof(garbage) - 1);
    trv = curl_get(&resp, apr_psprintf(pool, "http://127.0.0.1:%d/", (int)os.port));
    ck_assert_msg(trv == ACME_EHTTP, "%d %s", trv, resp ? resp->error : "");
    apr_thread_join(&trv, t);
    ck_assert_msg(strstr(resp->error, "not valid HTTP") != NULL, "%s", resp->error);

    /* TLS with a CA file that cannot be loaded: its own status, and the file is named */
    memset(&os, 0, sizeof(os));
    t = one_shot_start(&os, garbage, sizeof(garbage) - 1);
    ck_assert_int_eq(curl_get(&resp, apr_psprintf(pool, "https://127.0.0.1:%d/", (int)os.port)),
                     ACME_ETRUST);
    apr_thread_join(&trv, t);
    ck_assert_ptr_nonnull(resp->error);
    ck_assert_msg(strstr(resp->error, "/nonexistent/ca.pem") != NULL, "%s", resp->error);
}
END_TEST

START_TEST(curl_no_redirects_no_file_urls)
{
    static const char answer[] = "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/elsewhere\r\n"
                                 "Content-Length: 0\r\nConnection: close\r\n\r\n";
    one_shot_t os;
    acme_http_t *http = NULL;
    acme_http_response_t *resp = NULL;
    acme_http_request_t req;
    apr_thread_t *t;
    apr_status_t trv;

    memset(&os, 0, sizeof(os));
    t = one_shot_start(&os, answer, sizeof(answer) - 1);
    ck_assert_int_eq(acme_http_curl_create(&http, pool, NULL, NULL, apr_time_from_sec(5)),
                     APR_SUCCESS);
    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = apr_psprintf(pool, "http://127.0.0.1:%d/r", (int)os.port);
    ck_assert_int_eq(http->perform(http->baton, &resp, pool, &req), APR_SUCCESS);
    apr_thread_join(&trv, t);
    ck_assert_int_eq(resp->status, 302);
    ck_assert_str_eq(resp->body, "");

    req.url = "file:///etc/passwd";
    resp = NULL;
    ck_assert_int_eq(http->perform(http->baton, &resp, pool, &req), APR_EINVAL);
    ck_assert_int_eq(resp->status, 0);
    ck_assert_str_eq(resp->body, "");
}
END_TEST

/* ---- the table of problem types ---------------------------------------------------- */

typedef struct problem_case_t {
    const char *type;          /* short name, "" for a body without type, NULL: no body */
    int http_status;
    const char *retry_after;   /* Retry-After header or NULL */
    apr_status_t status;       /* ACME_EPROBLEM (an answer) or ACME_EINVALID (an object) */
    acme_problem_handling_t handling;
    int retry_in;              /* expected retry_at - now in seconds; -1: retry_at 0 */
    const char *hint;          /* a word the hint must contain, NULL: no hint */
    int ends_order;
} problem_case_t;

static const problem_case_t problem_cases[] = {
    { "badNonce", 400, NULL, ACME_EPROBLEM, ACME_PH_RETRY_NOW, 0, NULL, 0 },
    { "rateLimited", 429, "120", ACME_EPROBLEM, ACME_PH_RATE_LIMITED, 120, NULL, 0 },
    { "rateLimited", 429, NULL, ACME_EPROBLEM, ACME_PH_RATE_LIMITED, -1, NULL, 0 },
    /* the type decides, not the status: a CA answering rateLimited with 403 is rate limited */
    { "rateLimited", 403, "60", ACME_EPROBLEM, ACME_PH_RATE_LIMITED, 60, NULL, 0 },
    { "serverInternal", 500, "30", ACME_EPROBLEM, ACME_PH_RETRY_LATER, 30, NULL, 0 },
    { "serverInternal", 500, NULL, ACME_EPROBLEM, ACME_PH_RETRY_LATER, -1, NULL, 0 },
    { "orderNotReady", 403, NULL, ACME_EPROBLEM, ACME_PH_RESYNC, 0, NULL, 0 },
    { "alreadyReplaced", 409, NULL, ACME_EPROBLEM, ACME_PH_WITHOUT_REPLACES, 0, NULL, 0 },
    { "accountDoesNotExist", 400, NULL, ACME_EPROBLEM, ACME_PH_NEW_ACCOUNT, -1, "account", 1 },
    { "externalAccountRequired", 400, NULL, ACME_EPROBLEM, ACME_PH_ADMIN, -1,
      "External Account Binding", 1 },
    { "userActionRequired", 403, NULL, ACME_EPROBLEM, ACME_PH_ADMIN, -1, "instance", 1 },
    { "invalidContact", 400, NULL, ACME_EPROBLEM, ACME_PH_ADMIN, -1, "ACMEContact", 1 },
    { "unsupportedContact", 400, NULL, ACME_EPROBLEM, ACME_PH_ADMIN, -1, "mailto:", 1 },
    { "rejectedIdentifier", 400, NULL, ACME_EPROBLEM, ACME_PH_ADMIN, -1, "ServerAlias", 1 },
    { "unsupportedIdentifier", 400, NULL, ACME_EPROBLEM, ACME_PH_ADMIN, -1, "another CA", 1 },
    { "badSignatureAlgorithm", 400, NULL, ACME_EPROBLEM, ACME_PH_ADMIN, -1, "ES256", 1 },
    { "badPublicKey", 400, NULL, ACME_EPROBLEM, ACME_PH_ADMIN, -1, "ES256", 1 },
    { "malformed", 400, NULL, ACME_EPROBLEM, ACME_PH_FINAL, -1, NULL, 1 },
    { "badCSR", 400, NULL, ACME_EPROBLEM, ACME_PH_FINAL, -1, "ACMEKeyType", 1 },
    { "unauthorized", 403, NULL, ACME_EPROBLEM, ACME_PH_FINAL, -1, "reach this server", 1 },
    { "compound", 400, NULL, ACME_EPROBLEM, ACME_PH_FINAL, -1, NULL, 1 },
    { "badRevocationReason", 400, NULL, ACME_EPROBLEM, ACME_PH_FINAL, -1, NULL, 1 },
    { "alreadyRevoked", 400, NULL, ACME_EPROBLEM, ACME_PH_FINAL, -1, NULL, 1 },
    /* the errors of a failed validation, as an invalid authorization carries them */
    { "connection", 0, NULL, ACME_EINVALID, ACME_PH_FINAL, -1, "port 80", 1 },
    { "dns", 0, NULL, ACME_EINVALID, ACME_PH_FINAL, -1, "DNS", 1 },
    { "caa", 0, NULL, ACME_EINVALID, ACME_PH_FINAL, -1, "CAA", 1 },
    { "tls", 0, NULL, ACME_EINVALID, ACME_PH_FINAL, -1, "TLS", 1 },
    { "incorrectResponse", 0, NULL, ACME_EINVALID, ACME_PH_FINAL, -1, "acme-challenge", 1 },
    { "rejectedIdentifier", 0, NULL, ACME_EINVALID, ACME_PH_ADMIN, -1, "ServerAlias", 1 },
    /* an invalid object is never retried as it is, whatever its error says */
    { "serverInternal", 0, NULL, ACME_EINVALID, ACME_PH_FINAL, -1, NULL, 1 },
    { "badNonce", 0, NULL, ACME_EINVALID, ACME_PH_FINAL, -1, NULL, 1 },
    /* types not in the registry, and answers without a type: the HTTP status decides */
    { "somethingNew", 400, NULL, ACME_EPROBLEM, ACME_PH_FINAL, -1, NULL, 1 },
    { "somethingNew", 503, "10", ACME_EPROBLEM, ACME_PH_RETRY_LATER, 10, NULL, 0 },
    { "", 429, "5", ACME_EPROBLEM, ACME_PH_RATE_LIMITED, 5, NULL, 0 },
    { NULL, 404, NULL, ACME_EPROBLEM, ACME_PH_FINAL, -1, NULL, 1 },
    { NULL, 502, NULL, ACME_EPROBLEM, ACME_PH_RETRY_LATER, -1, NULL, 0 },
    { NULL, 302, NULL, ACME_EPROBLEM, ACME_PH_RETRY_LATER, -1, NULL, 0 },
};

START_TEST(problem_table_cases)
{
    apr_time_t now = apr_time_from_sec(1700000000);
    size_t i;

    for (i = 0; i < sizeof(problem_cases) / sizeof(problem_cases[0]); ++i) {
        const problem_case_t *pc = &problem_cases[i];
        apr_table_t *h = apr_table_make(pool, 2);
        const char *body = NULL, *what;
        acme_problem_info_t info;

        if (pc->retry_after) {
            apr_table_set(h, "Retry-After", pc->retry_after);
        }
        if (pc->type && *pc->type) {
            body = apr_psprintf(pool, "{\"type\":\"" ACME_PROBLEM_NS "%s\",\"detail\":\"d\"}",
                                pc->type);
        }
        else if (pc->type) {
            body = "{\"detail\":\"no type\"}";
        }
        acme_result_reset(&res);
        acme_problem_parse(&res, pool, pc->http_status, h, body, body ? strlen(body) : 0, now);
        res.status = pc->status;
        acme_problem_classify(&info, &res, now);
        what = apr_psprintf(pool, "case %d (%s, HTTP %d)", (int)i,
                            pc->type ? pc->type : "no body", pc->http_status);
        ck_assert_msg(info.handling == pc->handling, "%s: handling %s, expected %s", what,
                      acme_problem_handling_str(info.handling),
                      acme_problem_handling_str(pc->handling));
        ck_assert_int_eq(info.handling, acme_problem_handling(&res));
        if (pc->retry_in < 0) {
            ck_assert_msg(info.retry_at == 0, "%s: retry_at set", what);
        }
        else {
            ck_assert_msg(info.retry_at == now + apr_time_from_sec(pc->retry_in),
                          "%s: retry_at %" APR_TIME_T_FMT, what, info.retry_at - now);
        }
        if (pc->hint) {
            ck_assert_msg(info.hint && strstr(info.hint, pc->hint), "%s: hint '%s'", what,
                          info.hint ? info.hint : "(none)");
            /* the log line carries it */
            ck_assert_ptr_nonnull(strstr(acme_result_str(&res, pool), info.hint));
        }
        else {
            ck_assert_msg(info.hint == NULL, "%s: unexpected hint", what);
        }
        ck_assert_msg(acme_problem_ends_order(&res) == pc->ends_order, "%s: ends_order", what);
        if (pc->type && *pc->type && strcmp(pc->type, "somethingNew")) {
            ck_assert_str_eq(info.name, pc->type);
        }
        else {
            ck_assert_ptr_null(info.name);
        }
    }

    /* not a problem at all: success, a transport failure, our own errors */
    acme_result_reset(&res);
    ck_assert_int_eq(acme_problem_handling(&res), ACME_PH_NONE);
    acme_result_set(&res, pool, APR_ECONNREFUSED, "refused");
    res.problem_type = ACME_PROBLEM_NS "badNonce";
    ck_assert_int_eq(acme_problem_handling(&res), ACME_PH_NONE);
    ck_assert(!acme_problem_ends_order(&res));
    ck_assert_int_eq(acme_problem_handling(NULL), ACME_PH_NONE);
    /* hints by short name too; none for a type the module handles by itself */
    ck_assert_ptr_nonnull(acme_problem_hint("caa"));
    ck_assert_ptr_null(acme_problem_hint(ACME_PROBLEM_NS "rateLimited"));
    ck_assert_ptr_null(acme_problem_hint(NULL));
}
END_TEST

/* Every type of the IANA registry (RFC 8555 6.7, RFC 9773) is in the table. */
START_TEST(problem_table_complete)
{
    static const char *const registered[] = {
        "accountDoesNotExist", "alreadyRevoked", "badCSR", "badNonce", "badPublicKey",
        "badRevocationReason", "badSignatureAlgorithm", "caa", "compound", "connection", "dns",
        "externalAccountRequired", "incorrectResponse", "invalidContact", "malformed",
        "orderNotReady", "rateLimited", "rejectedIdentifier", "serverInternal", "tls",
        "unauthorized", "unsupportedContact", "unsupportedIdentifier", "userActionRequired",
        "alreadyReplaced",
    };
    size_t i;

    for (i = 0; i < sizeof(registered) / sizeof(registered[0]); ++i) {
        acme_problem_info_t info;
        acme_result_reset(&res);
        res.status = ACME_EPROBLEM;
        res.http_status = 400;
        res.problem_type = apr_pstrcat(pool, ACME_PROBLEM_NS, registered[i], NULL);
        acme_problem_classify(&info, &res, apr_time_now());
        ck_assert_msg(info.name && !strcmp(info.name, registered[i]), "%s not in the table",
                      registered[i]);
        ck_assert_int_ne(info.handling, ACME_PH_NONE);
    }
}
END_TEST

/* userActionRequired names the page to visit; the line says what to do about it. */
START_TEST(problem_instance_and_hint_in_line)
{
    const char *body = "{\"type\":\"urn:ietf:params:acme:error:userActionRequired\","
                       "\"detail\":\"Terms of service have changed\","
                       "\"instance\":\"https://ca.test/agree\"}";
    const char *line;

    acme_problem_parse(&res, pool, 403, NULL, body, strlen(body), apr_time_now());
    ck_assert_str_eq(res.detail, "Terms of service have changed (see https://ca.test/agree)");
    line = acme_result_str(&res, pool);
    ck_assert_str_eq(line, apr_pstrcat(pool, "urn:ietf:params:acme:error:userActionRequired: "
                                       "Terms of service have changed (see "
                                       "https://ca.test/agree) (HTTP 403); ",
                                       acme_problem_hint("userActionRequired"), NULL));
}
END_TEST

Suite *client_suite(void)
{
    Suite *s = suite_create("client");
    TCase *tc = tcase_create("client");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, directory_fetched_once);
    tcase_add_test(tc, pace_hook_sees_endpoints);
    tcase_add_test(tc, order_requests_one_at_a_time);
    tcase_add_test(tc, curl_failures_in_words);
    tcase_add_test(tc, directory_not_acme);
    tcase_add_test(tc, head_nonce_only_when_empty);
    tcase_add_test(tc, replay_nonce_is_next_nonce);
    tcase_add_test(tc, bad_nonce_retried_once);
    tcase_add_test(tc, bad_nonce_twice_retried);
    tcase_add_test(tc, bad_nonce_retries_bounded);
    tcase_add_test(tc, post_problem_rate_limited);
    tcase_add_test(tc, problem_parse_json);
    tcase_add_test(tc, problem_parse_retry_after_date);
    tcase_add_test(tc, problem_parse_not_json);
    tcase_add_test(tc, problem_table_cases);
    tcase_add_test(tc, problem_table_complete);
    tcase_add_test(tc, problem_instance_and_hint_in_line);
    tcase_add_test(tc, links_parsed);
    tcase_add_test(tc, transport_error);
    tcase_add_test(tc, curl_headers_and_body);
    tcase_add_test(tc, curl_body_cap);
    tcase_add_test(tc, curl_no_redirects_no_file_urls);
    suite_add_tcase(s, tc);
    return s;
}
