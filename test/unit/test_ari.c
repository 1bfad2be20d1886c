#include <stdlib.h>
/* acme_ari: the renewalInfo fetch (RFC 9773) against the scripted fake HTTP layer, the
 * refetch time, and the choice of the renewal time inside a window (a table of cases). */
#include <string.h>

#include <apr_strings.h>

#include "tests.h"
#include "fake_http.h"
#include "acme_state.h"
#include "acme_store.h"
#include "acme_ari.h"
#include "acme_client.h"
#include "acme_log.h"
#include "acme_util.h"

#define DIR_URL "https://ca.test/dir"
#define ARI_URL "https://ca.test/ari"
#define CERT_ID "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"
#define DIRECTORY_ARI                                                                       \
    "{\"newNonce\":\"https://ca.test/nonce\",\"newAccount\":\"https://ca.test/acct\","      \
    "\"newOrder\":\"https://ca.test/order\",\"renewalInfo\":\"" ARI_URL "\"}"
#define DIRECTORY_NO_ARI                                                                    \
    "{\"newNonce\":\"https://ca.test/nonce\",\"newAccount\":\"https://ca.test/acct\","      \
    "\"newOrder\":\"https://ca.test/order\"}"

static apr_pool_t *pool;
static fake_http_t *fake;
static acme_client_t *client;
static acme_result_t res;
static apr_time_t now;

static void setup(void)
{
    apr_pool_create(&pool, NULL);
    fake = fake_http_create(pool);
    ck_assert_int_eq(acme_client_create(&client, pool, fake_http_get(fake), DIR_URL),
                     APR_SUCCESS);
    acme_result_reset(&res);
    now = acme_time_parse_rfc3339("2026-01-10T00:00:00Z");
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

static apr_time_t T(const char *s)
{
    apr_time_t t = acme_time_parse_rfc3339(s);
    ck_assert_msg(t != 0, "bad time %s", s);
    return t;
}

START_TEST(fetch_window)
{
    acme_ari_window_t *w;
    fake_answer_t *a;
    fake_http_expect(fake, "GET", DIR_URL, 200, DIRECTORY_ARI);
    a = fake_http_expect(fake, "GET", ARI_URL "/" CERT_ID, 200,
                         "{\"suggestedWindow\":{\"start\":\"2026-02-01T00:00:00Z\","
                         "\"end\":\"2026-02-03T00:00:00Z\"},"
                         "\"explanationURL\":\"https://ca.test/why\"}");
    fake_answer_header(a, "Retry-After", "21600", 0);
    ck_assert_int_eq(acme_ari_fetch(&w, pool, client, CERT_ID, now, &res), APR_SUCCESS);
    ck_assert(w->start == T("2026-02-01T00:00:00Z"));
    ck_assert(w->end == T("2026-02-03T00:00:00Z"));
    ck_assert_str_eq(w->explanation_url, "https://ca.test/why");
    ck_assert(w->next_fetch == now + apr_time_from_sec(21600));
    ck_assert_int_eq(fake_http_remaining(fake), 0);
}
END_TEST

START_TEST(fetch_base_with_slash_and_long_retry_after)
{
    acme_ari_window_t *w;
    fake_answer_t *a;
    fake_http_expect(fake, "GET", DIR_URL, 200,
                     "{\"newNonce\":\"https://ca.test/nonce\",\"newAccount\":\"https://ca.test/acct\","
                     "\"newOrder\":\"https://ca.test/order\",\"renewalInfo\":\"" ARI_URL "/\"}");
    a = fake_http_expect(fake, "GET", ARI_URL "/" CERT_ID, 200,
                         "{\"suggestedWindow\":{\"start\":\"2026-02-01T00:00:00Z\","
                         "\"end\":\"2026-02-01T00:00:00Z\"}}");
    fake_answer_header(a, "Retry-After", "9999999", 0);
    ck_assert_int_eq(acme_ari_fetch(&w, pool, client, CERT_ID, now, &res), APR_SUCCESS);
    ck_assert_ptr_null(w->explanation_url);
    ck_assert(w->next_fetch == now + ACME_ARI_MAX_REFETCH);
}
END_TEST

START_TEST(fetch_no_renewal_info)
{
    acme_ari_window_t *w;
    fake_http_expect(fake, "GET", DIR_URL, 200, DIRECTORY_NO_ARI);
    ck_assert_int_eq(acme_ari_fetch(&w, pool, client, CERT_ID, now, &res), APR_ENOTIMPL);
    ck_assert(w->next_fetch == 0);
    ck_assert_int_eq(fake_http_count(fake), 1);
}
END_TEST

START_TEST(fetch_directory_error)
{
    acme_ari_window_t *w;
    fake_http_expect(fake, "GET", DIR_URL, 503, "down");
    ck_assert_int_ne(acme_ari_fetch(&w, pool, client, CERT_ID, now, &res), APR_SUCCESS);
    ck_assert(w->directory_error);
    ck_assert(w->next_fetch == now + ACME_ARI_ERROR_REFETCH);
}
END_TEST

START_TEST(fetch_error_with_retry_after)
{
    acme_ari_window_t *w;
    fake_answer_t *a;
    fake_http_expect(fake, "GET", DIR_URL, 200, DIRECTORY_ARI);
    a = fake_http_expect_problem(fake, "GET", ARI_URL "/" CERT_ID, 503,
                                 "urn:ietf:params:acme:error:serverInternal", "busy");
    fake_answer_header(a, "Retry-After", "120", 0);
    ck_assert_int_ne(acme_ari_fetch(&w, pool, client, CERT_ID, apr_time_now(), &res),
                     APR_SUCCESS);
    ck_assert(!w->directory_error);
    ck_assert(w->start == 0 && w->end == 0);
    ck_assert_msg(w->next_fetch > apr_time_now() + apr_time_from_sec(100)
                  && w->next_fetch <= apr_time_now() + apr_time_from_sec(121),
                  "next fetch not from Retry-After");
    ck_assert_ptr_nonnull(strstr(acme_result_str(&res, pool), "busy"));
}
END_TEST

/* answers without a usable window: an error naming it, next fetch in an hour */
static const char *const bad_bodies[] = {
    "{}",
    "{\"suggestedWindow\":{\"start\":\"2026-02-01T00:00:00Z\"}}",
    "{\"suggestedWindow\":{\"start\":\"garbage\",\"end\":\"2026-02-01T00:00:00Z\"}}",
    "{\"suggestedWindow\":{\"start\":\"2026-02-03T00:00:00Z\",\"end\":\"2026-02-01T00:00:00Z\"}}",
    "{\"suggestedWindow\":\"2026-02-01\"}",
    "not json",
};

START_TEST(fetch_unusable_window)
{
    acme_ari_window_t *w;
    fake_http_expect(fake, "GET", DIR_URL, 200, DIRECTORY_ARI);
    fake_http_expect(fake, "GET", ARI_URL "/" CERT_ID, 200, bad_bodies[_i]);
    ck_assert_int_ne(acme_ari_fetch(&w, pool, client, CERT_ID, now, &res), APR_SUCCESS);
    ck_assert_msg(w->start == 0 && w->end == 0, "case %d", _i);
    ck_assert(w->next_fetch == now + ACME_ARI_ERROR_REFETCH);
    ck_assert_ptr_nonnull(res.detail);
}
END_TEST

START_TEST(next_fetch_clamped)
{
    ck_assert(acme_ari_next_fetch(NULL, now) == now + ACME_ARI_DEFAULT_REFETCH);
    ck_assert(acme_ari_next_fetch("garbage", now) == now + ACME_ARI_DEFAULT_REFETCH);
    ck_assert(acme_ari_next_fetch("0", now) == now + ACME_ARI_DEFAULT_REFETCH);
    ck_assert(acme_ari_next_fetch("3600", now) == now + apr_time_from_sec(3600));
    ck_assert(acme_ari_next_fetch("99999999", now) == now + ACME_ARI_MAX_REFETCH);
}
END_TEST

/* The choice: a table of cases. Times are in hours after now. */
typedef struct {
    const char *what;
    int start, end;                /* the new window */
    int expl;                      /* the CA gave an explanationURL */
    int old_start, old_end, old_chosen; /* saved before (-1000: none) */
    apr_uint32_t fraction;
    int chosen;                    /* expected, hours after now */
    int fresh, moved_earlier;
} choose_case_t;

#define NONE (-1000)
#define HALF 0x7fffffffu
static const choose_case_t cases[] = {
    { "new window, start of it", 10, 20, 0, NONE, NONE, NONE, 0, 10, 1, 0 },
    { "new window, end of it", 10, 20, 0, NONE, NONE, NONE, 0xffffffffu, 20, 1, 0 },
    { "new window, middle", 10, 20, 0, NONE, NONE, NONE, HALF, 15, 1, 0 },
    { "same window keeps the time", 10, 20, 0, 10, 20, 17, 0, 17, 0, 0 },
    { "same window, nothing chosen yet", 10, 20, 0, 10, 20, NONE, 0, 10, 1, 0 },
    { "window began: from now", -10, 10, 0, NONE, NONE, NONE, HALF, 5, 1, 0 },
    { "window in the past: now", -20, -10, 0, NONE, NONE, NONE, HALF, 0, 1, 0 },
    { "window ends now: now", -20, 0, 0, NONE, NONE, NONE, HALF, 0, 1, 0 },
    { "moved earlier with explanation", 2, 4, 1, 10, 20, 15, 0, 2, 1, 1 },
    { "moved earlier without explanation", 2, 4, 0, 10, 20, 15, 0, 2, 1, 0 },
    { "moved later", 30, 40, 1, 10, 20, 15, 0, 30, 1, 0 },
    { "end changed only", 10, 30, 1, 10, 20, 15, 0, 10, 1, 0 },
};

START_TEST(choose_table)
{
    const choose_case_t *c = &cases[_i];
    acme_ari_window_t w;
    acme_ari_choice_t ch;
    apr_time_t h = apr_time_from_sec(3600);
#define AT(x) ((x) == NONE ? 0 : now + (apr_time_t)(x) * h)
    memset(&w, 0, sizeof(w));
    w.start = AT(c->start);
    w.end = AT(c->end);
    w.explanation_url = c->expl ? "https://ca.test/why" : NULL;
    ch = acme_ari_choose(&w, AT(c->old_start), AT(c->old_end), AT(c->old_chosen), now,
                         c->fraction);
    ck_assert_msg(ch.chosen - AT(c->chosen) < apr_time_from_sec(1)
                  && AT(c->chosen) - ch.chosen < apr_time_from_sec(1),
                  "%s: chosen %s, expected %s", c->what, acme_time_rfc3339(pool, ch.chosen),
                  acme_time_rfc3339(pool, AT(c->chosen)));
    ck_assert_msg(ch.fresh == c->fresh, "%s: fresh %d", c->what, ch.fresh);
    ck_assert_msg(ch.moved_earlier == c->moved_earlier, "%s: moved_earlier %d", c->what,
                  ch.moved_earlier);
#undef AT
}
END_TEST

START_TEST(random_in_bounds)
{
    int i;
    for (i = 0; i < 200; ++i) {
        apr_time_t t = acme_ari_random_in(now, now + apr_time_from_sec(5));
        ck_assert(t >= now && t <= now + apr_time_from_sec(5));
    }
    ck_assert(acme_ari_random_in(now, now) == now);
    ck_assert(acme_ari_random_in(now, now - 1) == now);
}
END_TEST

static apr_array_header_t *logs;

static void sink(void *baton, acme_log_level_t level, apr_status_t rv, const char *msg)
{
    if (strstr(msg, "ACME0005")) { /* this file's lines, not the client's */
        APR_ARRAY_PUSH(logs, const char *) = apr_psprintf(pool, "%d %s", (int)level, msg);
    }
}

static int enabled(void *baton, acme_log_level_t level)
{
    return 1;
}

#define WINDOW_20_22 "{\"suggestedWindow\":{\"start\":\"2026-01-20T00:00:00Z\"," \
                     "\"end\":\"2026-01-22T00:00:00Z\"},\"explanationURL\":\"https://ca.test/why\"}"

/* the log lines: a new time, a window moved earlier with its explanation, an error */
START_TEST(refresh_logs)
{
    acme_ari_window_t *w;
    acme_ari_choice_t c;
    const char *text;
    logs = apr_array_make(pool, 4, sizeof(const char *));
    acme_log_set(sink, enabled, NULL);
    fake_http_expect(fake, "GET", DIR_URL, 200, DIRECTORY_ARI);
    fake_http_expect(fake, "GET", ARI_URL "/" CERT_ID, 200, WINDOW_20_22);
    ck_assert_int_eq(acme_ari_refresh(&w, &c, pool, client, "a.test", CERT_ID,
                                      T("2026-01-25T00:00:00Z"), T("2026-01-27T00:00:00Z"),
                                      T("2026-01-26T00:00:00Z"), now), APR_SUCCESS);
    ck_assert(c.fresh && c.moved_earlier);
    ck_assert(c.chosen >= w->start && c.chosen <= w->end);
    /* the same window again: the time is kept, nothing logged */
    fake_http_expect(fake, "GET", ARI_URL "/" CERT_ID, 200, WINDOW_20_22);
    ck_assert_int_eq(acme_ari_refresh(&w, &c, pool, client, "a.test", CERT_ID, w->start,
                                      w->end, T("2026-01-21T00:00:00Z"), now), APR_SUCCESS);
    ck_assert(!c.fresh && c.chosen == T("2026-01-21T00:00:00Z"));
    fake_http_expect(fake, "GET", ARI_URL "/" CERT_ID, 200, "{}");
    ck_assert_int_ne(acme_ari_refresh(&w, &c, pool, client, "a.test", CERT_ID, 0, 0, 0, now),
                     APR_SUCCESS);
    acme_log_set(NULL, NULL, NULL);
    text = apr_array_pstrcat(pool, logs, '\n');
    ck_assert_int_eq(logs->nelts, 3);
    ck_assert_msg(strstr(text, "6 ACME00050: certificate a.test: the CA suggests renewal between "
                         "2026-01-20T00:00:00Z and 2026-01-22T00:00:00Z: renewal at "), "%s", text);
    ck_assert_msg(strstr(text, "5 ACME00051: certificate a.test: the CA moved its renewal "
                         "window earlier, see https://ca.test/why"), "%s", text);
    ck_assert_msg(strstr(text, "6 ACME00058: certificate a.test: no usable renewal information "
                         "from the CA: no suggestedWindow"), "%s", text);
}
END_TEST

START_TEST(refresh_no_ari_logs_debug)
{
    acme_ari_window_t *w;
    acme_ari_choice_t c;
    logs = apr_array_make(pool, 4, sizeof(const char *));
    acme_log_set(sink, enabled, NULL);
    fake_http_expect(fake, "GET", DIR_URL, 200, DIRECTORY_NO_ARI);
    ck_assert_int_eq(acme_ari_refresh(&w, &c, pool, client, "a.test", CERT_ID, 0, 0, 0, now),
                     APR_ENOTIMPL);
    acme_log_set(NULL, NULL, NULL);
    ck_assert_int_eq(logs->nelts, 1);
    ck_assert_str_eq(APR_ARRAY_IDX(logs, 0, const char *),
                     "7 ACME00057: the CA at " DIR_URL " offers no renewal information (ARI)");
}
END_TEST

/* acme_ari_update: the window is saved with its chosen time, the time is kept while the
 * window stays the same, and a record of another certificate's certID is no old window */
START_TEST(update_saves_and_keeps_the_time)
{
    acme_ari_window_t *w;
    acme_ari_choice_t c;
    acme_ari_state_t *saved, other;
    acme_store_t *st;
    apr_time_t first;
    char dir[64];

    strcpy(dir, "/tmp/acme-ari-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(acme_store_fs_create(&st, pool, dir), APR_SUCCESS);
    ck_assert_int_eq(acme_store_fs_setup(st, -1, -1, pool), APR_SUCCESS);
    /* a window saved for another certificate is not this one's */
    memset(&other, 0, sizeof(other));
    other.cert_id = "other.id";
    other.start = T("2026-01-20T00:00:00Z");
    other.end = T("2026-01-22T00:00:00Z");
    other.chosen = T("2026-01-21T00:00:00Z");
    ck_assert_int_eq(acme_ari_state_save(st, "a.test", &other, pool), APR_SUCCESS);
    fake_http_expect(fake, "GET", DIR_URL, 200, DIRECTORY_ARI);
    fake_http_expect(fake, "GET", ARI_URL "/" CERT_ID, 200, WINDOW_20_22);
    ck_assert_int_eq(acme_ari_update(&w, &c, pool, client, st, "a.test", CERT_ID, now),
                     APR_SUCCESS);
    ck_assert(c.fresh);
    ck_assert_int_eq(acme_ari_state_load(&saved, pool, st, "a.test"), APR_SUCCESS);
    ck_assert_str_eq(saved->cert_id, CERT_ID);
    /* times are saved to the second (RFC 3339) */
    ck_assert(saved->start == w->start && saved->end == w->end);
    ck_assert(saved->chosen == apr_time_from_sec(apr_time_sec(c.chosen)));
    ck_assert(saved->next_fetch == apr_time_from_sec(apr_time_sec(w->next_fetch)));
    ck_assert_str_eq(saved->explanation_url, "https://ca.test/why");
    first = saved->chosen;
    /* the same window again: the saved time stays */
    fake_http_expect(fake, "GET", ARI_URL "/" CERT_ID, 200, WINDOW_20_22);
    ck_assert_int_eq(acme_ari_update(&w, &c, pool, client, st, "a.test", CERT_ID, now),
                     APR_SUCCESS);
    ck_assert(!c.fresh && c.chosen == first);
    /* an unusable answer leaves the saved window alone */
    fake_http_expect(fake, "GET", ARI_URL "/" CERT_ID, 200, "{}");
    ck_assert_int_ne(acme_ari_update(&w, &c, pool, client, st, "a.test", CERT_ID, now),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_ari_state_load(&saved, pool, st, "a.test"), APR_SUCCESS);
    ck_assert(saved->chosen == first);
    ck_assert_int_eq(system(apr_pstrcat(pool, "rm -rf ", dir, NULL)), 0);
}
END_TEST

Suite *ari_suite(void)
{
    Suite *s = suite_create("ari");
    TCase *tc = tcase_create("ari");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, fetch_window);
    tcase_add_test(tc, update_saves_and_keeps_the_time);
    tcase_add_test(tc, fetch_base_with_slash_and_long_retry_after);
    tcase_add_test(tc, fetch_no_renewal_info);
    tcase_add_test(tc, fetch_directory_error);
    tcase_add_test(tc, fetch_error_with_retry_after);
    tcase_add_loop_test(tc, fetch_unusable_window, 0,
                        (int)(sizeof(bad_bodies) / sizeof(bad_bodies[0])));
    tcase_add_test(tc, next_fetch_clamped);
    tcase_add_loop_test(tc, choose_table, 0, (int)(sizeof(cases) / sizeof(cases[0])));
    tcase_add_test(tc, random_in_bounds);
    tcase_add_test(tc, refresh_logs);
    tcase_add_test(tc, refresh_no_ari_logs_debug);
    suite_add_tcase(s, tc);
    return s;
}
