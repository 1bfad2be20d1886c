/* Unit tests for acme_util (base64url, hex, durations, times, files, names) and acme_log. */
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <stdlib.h>
#include <unistd.h>

#include <apr_file_info.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "tests.h"
#include "unit_helpers.h"
#include "acme.h"
#include "acme_log.h"
#include "acme_util.h"
#include "acme_json.h"

static apr_pool_t *pool;

static void setup(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

/* ---- base64url ----------------------------------------------------------------------- */

/* RFC 4648 section 10 vectors; padding dropped (base64url without '=') */
static const struct {
    const char *plain;
    const char *b64;
} b64_vectors[] = {
    { "", "" },
    { "f", "Zg" },
    { "fo", "Zm8" },
    { "foo", "Zm9v" },
    { "foob", "Zm9vYg" },
    { "fooba", "Zm9vYmE" },
    { "foobar", "Zm9vYmFy" },
};

START_TEST(b64url_rfc4648)
{
    size_t i;
    for (i = 0; i < sizeof(b64_vectors) / sizeof(b64_vectors[0]); ++i) {
        const char *plain = b64_vectors[i].plain;
        unsigned char *dec;
        apr_size_t dlen;

        ck_assert_str_eq(acme_b64url_encode(pool, (const unsigned char *)plain, strlen(plain)),
                         b64_vectors[i].b64);
        ck_assert_int_eq(acme_b64url_decode(&dec, &dlen, pool, b64_vectors[i].b64), APR_SUCCESS);
        ck_assert_uint_eq(dlen, strlen(plain));
        ck_assert(memcmp(dec, plain, dlen) == 0);
    }
}
END_TEST

START_TEST(b64url_url_alphabet)
{
    /* 0xfb 0xff 0xbf -> "+/+/" in standard base64, "-_-_" in base64url */
    static const unsigned char d1[] = { 0xfb, 0xef, 0xbe };
    static const unsigned char d2[] = { 0xff, 0xff, 0xff };
    static const unsigned char d3[] = { 0x00, 0x10, 0x83, 0x10, 0x51, 0x87 };
    unsigned char *dec;
    apr_size_t dlen;

    ck_assert_str_eq(acme_b64url_encode(pool, d1, sizeof(d1)), "----");
    ck_assert_str_eq(acme_b64url_encode(pool, d2, sizeof(d2)), "____");
    ck_assert_str_eq(acme_b64url_encode(pool, d3, sizeof(d3)), "ABCDEFGH");
    ck_assert_int_eq(acme_b64url_decode(&dec, &dlen, pool, "____"), APR_SUCCESS);
    ck_assert_uint_eq(dlen, 3);
    ck_assert(memcmp(dec, d2, 3) == 0);
    ck_assert_int_eq(acme_b64url_decode(&dec, &dlen, pool, "----"), APR_SUCCESS);
    ck_assert(memcmp(dec, d1, 3) == 0);
    /* padding accepted */
    ck_assert_int_eq(acme_b64url_decode(&dec, &dlen, pool, "Zm8="), APR_SUCCESS);
    ck_assert_uint_eq(dlen, 2);
    ck_assert(memcmp(dec, "fo", 2) == 0);
    ck_assert_int_eq(acme_b64url_decode(&dec, &dlen, pool, "Zg=="), APR_SUCCESS);
    ck_assert_uint_eq(dlen, 1);
}
END_TEST

START_TEST(b64url_reject)
{
    static const char *bad[] = { "++++", "////", "Zm9v+", "Zm/v", "Zm9v Yg", "Zm9v\n",
                                 "Zg=a", "Z", "Zm9vY", "Zg===", "=Zg", "Zm9*", "é" };
    unsigned char *dec;
    apr_size_t dlen;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        ck_assert_msg(acme_b64url_decode(&dec, &dlen, pool, bad[i]) != APR_SUCCESS,
                      "accepted '%s'", bad[i]);
    }
}
END_TEST

START_TEST(hex)
{
    static const unsigned char d[] = { 0x00, 0x01, 0xab, 0xff, 0x7f };
    ck_assert_str_eq(acme_hex(pool, d, sizeof(d)), "0001abff7f");
    ck_assert_str_eq(acme_hex(pool, d, 0), "");
}
END_TEST

/* ---- durations and times ------------------------------------------------------------- */

START_TEST(durations)
{
    apr_interval_time_t d;
    static const char *bad[] = { "", "s", "5x", "-5s", "5 s", " 5s", "5s ", "1.5h", "abc",
                                 "5mm", "99999999999999999999d" };
    size_t i;

    ck_assert_int_eq(acme_duration_parse(&d, "30s"), APR_SUCCESS);
    ck_assert_int_eq(d, apr_time_from_sec(30));
    ck_assert_int_eq(acme_duration_parse(&d, "5m"), APR_SUCCESS);
    ck_assert_int_eq(d, apr_time_from_sec(300));
    ck_assert_int_eq(acme_duration_parse(&d, "12h"), APR_SUCCESS);
    ck_assert_int_eq(d, apr_time_from_sec(12 * 3600));
    ck_assert_int_eq(acme_duration_parse(&d, "30d"), APR_SUCCESS);
    ck_assert_int_eq(d, apr_time_from_sec(30 * 86400));
    ck_assert_int_eq(acme_duration_parse(&d, "90"), APR_SUCCESS);
    ck_assert_int_eq(d, apr_time_from_sec(90));
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        ck_assert_msg(acme_duration_parse(&d, bad[i]) == APR_EINVAL, "accepted '%s'", bad[i]);
    }
    ck_assert_int_eq(acme_duration_parse(&d, NULL), APR_EINVAL);
    {
        static const char *badp[] = { "", "%", "-5%", "+5%", " 5%", "5 %", "5%%", "1.5%",
                                      "99999999999999999999%" };
        int pct = 0;
        apr_interval_time_t wd;
        for (i = 0; i < sizeof(badp) / sizeof(badp[0]); ++i) {
            ck_assert_msg(acme_window_parse(&pct, &wd, badp[i], apr_time_from_sec(86400))
                          == APR_EINVAL, "accepted '%s'", badp[i]);
        }
    }

    ck_assert_str_eq(acme_duration_print(pool, apr_time_from_sec(30 * 86400)), "30d");
    ck_assert_str_eq(acme_duration_print(pool, apr_time_from_sec(12 * 3600)), "12h");
    ck_assert_str_eq(acme_duration_print(pool, apr_time_from_sec(300)), "5m");
    ck_assert_str_eq(acme_duration_print(pool, apr_time_from_sec(90)), "90s");
    ck_assert_int_eq(acme_duration_parse(&d, acme_duration_print(pool, apr_time_from_sec(3601))),
                     APR_SUCCESS);
    ck_assert_int_eq(d, apr_time_from_sec(3601));
}
END_TEST

/* Directive values: well-formed but absurd is APR_ERANGE, garbage APR_EINVAL. */
START_TEST(duration_ranges)
{
    apr_interval_time_t d = 7, day = apr_time_from_sec(86400);
    int pct = 7;

    ck_assert_int_eq(acme_duration_parse_range(&d, "1d", 0, day), APR_SUCCESS);
    ck_assert_int_eq(d, day);
    ck_assert_int_eq(acme_duration_parse_range(&d, "0", 0, day), APR_SUCCESS);
    ck_assert_int_eq(d, 0);
    d = 7;
    ck_assert_int_eq(acme_duration_parse_range(&d, "0", 1, day), APR_ERANGE);
    ck_assert_int_eq(acme_duration_parse_range(&d, "25h", 0, day), APR_ERANGE);
    ck_assert_int_eq(acme_duration_parse_range(&d, "100000d", 0, day), APR_ERANGE);
    ck_assert_int_eq(acme_duration_parse_range(&d, "-1s", 0, day), APR_EINVAL);
    ck_assert_int_eq(acme_duration_parse_range(&d, "soon", 0, day), APR_EINVAL);
    ck_assert_int_eq(acme_duration_parse_range(&d, NULL, 0, day), APR_EINVAL);
    ck_assert_int_eq(d, 7); /* untouched on error */

    ck_assert_int_eq(acme_window_parse(&pct, &d, "33%", day), APR_SUCCESS);
    ck_assert_int_eq(pct, 33);
    ck_assert_int_eq(d, 0);
    ck_assert_int_eq(acme_window_parse(&pct, &d, "12h", day), APR_SUCCESS);
    ck_assert_int_eq(pct, 0);
    ck_assert_int_eq(d, apr_time_from_sec(12 * 3600));
    ck_assert_int_eq(acme_window_parse(&pct, &d, "1%", day), APR_SUCCESS);
    ck_assert_int_eq(acme_window_parse(&pct, &d, "99%", day), APR_SUCCESS);
    ck_assert_int_eq(pct, 99);
    pct = 7;
    d = 7;
    ck_assert_int_eq(acme_window_parse(&pct, &d, "0%", day), APR_ERANGE);
    ck_assert_int_eq(acme_window_parse(&pct, &d, "100%", day), APR_ERANGE);
    ck_assert_int_eq(acme_window_parse(&pct, &d, "150%", day), APR_ERANGE);
    ck_assert_int_eq(acme_window_parse(&pct, &d, "0", day), APR_ERANGE);
    ck_assert_int_eq(acme_window_parse(&pct, &d, "2d", day), APR_ERANGE);
    ck_assert_int_eq(acme_window_parse(&pct, &d, "99999999999999999999%", day), APR_EINVAL);
    ck_assert_int_eq(acme_window_parse(&pct, &d, "-5%", day), APR_EINVAL);
    ck_assert_int_eq(acme_window_parse(&pct, &d, "+5%", day), APR_EINVAL);
    ck_assert_int_eq(acme_window_parse(&pct, &d, "5 %", day), APR_EINVAL);
    ck_assert_int_eq(acme_window_parse(&pct, &d, "10%%", day), APR_EINVAL);
    ck_assert_int_eq(acme_window_parse(&pct, &d, "%", day), APR_EINVAL);
    ck_assert_int_eq(acme_window_parse(&pct, &d, "", day), APR_EINVAL);
    ck_assert_int_eq(acme_window_parse(&pct, &d, NULL, day), APR_EINVAL);
    ck_assert_int_eq(pct, 7);
    ck_assert_int_eq(d, 7);
}
END_TEST

START_TEST(retry_after)
{
    apr_time_t now = apr_time_from_sec(1700000000);
    apr_time_t later = apr_time_from_sec(1700000000 + 7200);
    char date[APR_RFC822_DATE_LEN];

    ck_assert_int_eq(acme_retry_after_parse("120", now), now + apr_time_from_sec(120));
    ck_assert_int_eq(acme_retry_after_parse("0", now), now);
    ck_assert_int_eq(apr_rfc822_date(date, later), APR_SUCCESS);
    ck_assert_int_eq(acme_retry_after_parse(date, now), later);
    ck_assert_int_eq(acme_retry_after_parse("Sun, 06 Nov 1994 08:49:37 GMT", now),
                     apr_time_from_sec(784111777));
    ck_assert_int_eq(acme_retry_after_parse(NULL, now), 0);
    ck_assert_int_eq(acme_retry_after_parse("", now), 0);
    ck_assert_int_eq(acme_retry_after_parse("soon", now), 0);
    ck_assert_int_eq(acme_retry_after_parse("12abc", now), 0);
    ck_assert_int_eq(acme_retry_after_parse("-5", now), 0);
}
END_TEST

START_TEST(rfc3339)
{
    apr_time_t t = apr_time_from_sec(1795378287); /* 2026-11-22T20:11:27Z */
    const char *s = acme_time_rfc3339(pool, t);

    ck_assert_str_eq(s, "2026-11-22T20:11:27Z");
    ck_assert_int_eq(acme_time_parse_rfc3339(s), t);
    ck_assert_int_eq(acme_time_parse_rfc3339("1970-01-01T00:00:00Z"), 0);
    ck_assert_int_eq(acme_time_parse_rfc3339("2026-11-22T22:11:27+02:00"), t);
    ck_assert_int_eq(acme_time_parse_rfc3339("2026-11-22T19:11:27-01:00"), t);
    ck_assert_int_eq(acme_time_parse_rfc3339("2026-11-22T20:11:27.25Z"), t + 250000);
    ck_assert_int_eq(acme_time_parse_rfc3339("2026-11-22"), 0);
    ck_assert_int_eq(acme_time_parse_rfc3339("2026-13-22T20:11:27Z"), 0);
    ck_assert_int_eq(acme_time_parse_rfc3339("2026-11-22T20:11:27"), 0);
    ck_assert_int_eq(acme_time_parse_rfc3339("2026-11-22T20:11:27Zjunk"), 0);
    ck_assert_int_eq(acme_time_parse_rfc3339("garbage"), 0);
    ck_assert_int_eq(acme_time_parse_rfc3339(NULL), 0);
    /* round trip of "now", whole seconds */
    t = apr_time_from_sec(apr_time_sec(apr_time_now()));
    ck_assert_int_eq(acme_time_parse_rfc3339(acme_time_rfc3339(pool, t)), t);
}
END_TEST

/* ---- files ---------------------------------------------------------------------------- */

static const char *make_tmpdir(void)
{
    char *tmpl = apr_pstrdup(pool, "/tmp/acme-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    return tmpl;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            ++n;
        }
    }
    closedir(d);
    return n;
}

START_TEST(atomic_write)
{
    const char *dir = make_tmpdir();
    const char *path = apr_pstrcat(pool, dir, "/key.pem", NULL);
    const char *text = "secret key material\n", *text2 = "replaced";
    struct stat st;
    char *data;
    apr_size_t len;
    mode_t old_umask = umask(022);

    ck_assert_int_eq(acme_file_write_atomic(path, text, strlen(text),
                                            APR_FPROT_UREAD | APR_FPROT_UWRITE, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0600);
    ck_assert_int_eq(acme_file_read(&data, &len, path, pool), APR_SUCCESS);
    ck_assert_uint_eq(len, strlen(text));
    ck_assert_str_eq(data, text);
    ck_assert_int_eq(count_entries(dir), 1);

    /* replace an existing file, with another mode */
    ck_assert_int_eq(acme_file_write_atomic(path, text2, strlen(text2),
                                            APR_FPROT_UREAD | APR_FPROT_UWRITE
                                                | APR_FPROT_GREAD | APR_FPROT_WREAD,
                                            pool),
                     APR_SUCCESS);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0644);
    ck_assert_int_eq(acme_file_read(&data, NULL, path, pool), APR_SUCCESS);
    ck_assert_str_eq(data, text2);
    ck_assert_int_eq(count_entries(dir), 1);

    /* umask still applies: never wider than it allows */
    umask(077);
    ck_assert_int_eq(acme_file_write_atomic(path, "x", 1,
                                            APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_GREAD,
                                            pool),
                     APR_SUCCESS);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0600);
    umask(022);

    /* empty content */
    ck_assert_int_eq(acme_file_write_atomic(path, "", 0, APR_FPROT_UREAD | APR_FPROT_UWRITE,
                                            pool),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_file_read(&data, &len, path, pool), APR_SUCCESS);
    ck_assert_uint_eq(len, 0);

    /* a directory that does not exist: error, nothing left behind */
    ck_assert_int_ne(acme_file_write_atomic(apr_pstrcat(pool, dir, "/nope/x", NULL), "x", 1,
                                            APR_FPROT_UREAD | APR_FPROT_UWRITE, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(count_entries(dir), 1);
    ck_assert_int_ne(acme_file_read(&data, &len, apr_pstrcat(pool, dir, "/missing", NULL),
                                    pool),
                     APR_SUCCESS);

    unlink(path);
    rmdir(dir);
    umask(old_umask);
}
END_TEST

/* acme_file_write_visible (no fsync): the same whole-file replacement, mode and clean-up */
START_TEST(visible_write)
{
    const char *dir = make_tmpdir();
    const char *path = apr_pstrcat(pool, dir, "/http-01", NULL);
    struct stat st;
    char *data;
    apr_size_t len;
    mode_t old_umask = umask(022);

    ck_assert_int_eq(acme_file_write_visible(path, "token.thumb", 11,
                                             APR_FPROT_UREAD | APR_FPROT_UWRITE, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0600);
    ck_assert_int_eq(acme_file_read(&data, &len, path, pool), APR_SUCCESS);
    ck_assert_uint_eq(len, 11);
    ck_assert_str_eq(data, "token.thumb");
    ck_assert_int_eq(acme_file_write_visible(path, "other", 5,
                                             APR_FPROT_UREAD | APR_FPROT_UWRITE, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_file_read(&data, NULL, path, pool), APR_SUCCESS);
    ck_assert_str_eq(data, "other");
    ck_assert_int_eq(count_entries(dir), 1);
    ck_assert_int_ne(acme_file_write_visible(apr_pstrcat(pool, dir, "/nope/x", NULL), "x", 1,
                                             APR_FPROT_UREAD | APR_FPROT_UWRITE, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(count_entries(dir), 1);
    unlink(path);
    rmdir(dir);
    umask(old_umask);
}
END_TEST

START_TEST(mkdir_p)
{
    const char *dir = make_tmpdir();
    const char *sub = apr_pstrcat(pool, dir, "/a/b/c", NULL);
    struct stat st;
    mode_t old_umask = umask(022);

    ck_assert_int_eq(acme_mkdir_p(sub, APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_UEXECUTE,
                                  pool),
                     APR_SUCCESS);
    ck_assert_int_eq(stat(sub, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    ck_assert_int_eq(st.st_mode & 0777, 0700);
    /* again: exists is fine */
    ck_assert_int_eq(acme_mkdir_p(sub, APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_UEXECUTE,
                                  pool),
                     APR_SUCCESS);
    rmdir(sub);
    rmdir(apr_pstrcat(pool, dir, "/a/b", NULL));
    rmdir(apr_pstrcat(pool, dir, "/a", NULL));
    rmdir(dir);
    umask(old_umask);
}
END_TEST

/* ---- names ---------------------------------------------------------------------------- */

START_TEST(names_normalize)
{
    static const char *const in[] = { "WWW.Example.TEST", "b.test", "example.test",
                                      "www.example.test", "B.test", NULL };
    static const char *const other[] = { "example.test", "b.test", "www.example.test", NULL };
    static const char *const fewer[] = { "example.test", "b.test", NULL };
    apr_array_header_t *n = acme_names_normalize(pool, unit_names(pool, in));

    ck_assert_int_eq(n->nelts, 3);
    ck_assert_str_eq(APR_ARRAY_IDX(n, 0, const char *), "b.test");
    ck_assert_str_eq(APR_ARRAY_IDX(n, 1, const char *), "example.test");
    ck_assert_str_eq(APR_ARRAY_IDX(n, 2, const char *), "www.example.test");
    ck_assert_str_eq(acme_names_join(pool, n, " "), "b.test example.test www.example.test");
    ck_assert_str_eq(acme_names_join(pool, n, ","), "b.test,example.test,www.example.test");
    ck_assert(acme_names_equal(n, acme_names_normalize(pool, unit_names(pool, other))));
    ck_assert(!acme_names_equal(n, acme_names_normalize(pool, unit_names(pool, fewer))));
    ck_assert_str_eq(acme_name_lower(pool, "A.Test"), "a.test");
}
END_TEST

START_TEST(names_contain)
{
    apr_array_header_t *a = apr_array_make(pool, 2, sizeof(const char *));
    ck_assert(!acme_names_contain(NULL, "x"));
    ck_assert(!acme_names_contain(a, "x"));
    APR_ARRAY_PUSH(a, const char *) = "http-01";
    APR_ARRAY_PUSH(a, const char *) = "dns-01";
    ck_assert(acme_names_contain(a, "dns-01"));
    ck_assert(!acme_names_contain(a, "dns"));
    ck_assert(!acme_names_contain(a, "HTTP-01"));
}
END_TEST

START_TEST(names_certifiable)
{
    static const struct {
        const char *name;
        int ok;
    } cases[] = {
        { "a.test", 1 },
        { "*.a.test", 1 },
        { "www.example.org", 1 },
        { "xn--bcher-kva.example", 1 },
        { "a-b.test", 1 },
        { "localhost", 0 },
        { "LOCALHOST", 0 },
        { "foo.localhost", 0 },
        { "*.localhost", 0 },
        { "127.0.0.1", 0 },
        { "::1", 0 },
        { "2001:db8::1", 0 },
        { "[::1]", 0 },
        { "intranet", 0 },
        { "a..b", 0 },
        { ".a.test", 0 },
        { "a.test.", 0 },
        { "a_b.test", 0 },
        { "a b.test", 0 },
        { "*.*.a.test", 0 },
        { "a.*.test", 0 },
        { "*a.test", 0 },
        { "-a.test", 0 },
        { "a-.test", 0 },
        { "", 0 },
    };
    const char *why;
    char *longname;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
        why = NULL;
        ck_assert_msg(acme_name_is_certifiable(cases[i].name, &why) == cases[i].ok,
                      "'%s': expected %d (%s)", cases[i].name, cases[i].ok, why ? why : "-");
        if (!cases[i].ok) {
            ck_assert_ptr_nonnull(why);
        }
    }
    /* 254 characters: labels of 49 + '.' */
    longname = apr_palloc(pool, 300);
    memset(longname, 'a', 254);
    for (i = 49; i < 254; i += 50) {
        longname[i] = '.';
    }
    longname[254] = '\0';
    ck_assert(!acme_name_is_certifiable(longname, &why));
    longname[253] = '\0';
    ck_assert(acme_name_is_certifiable(longname, NULL));
}
END_TEST

/* ---- results and logging -------------------------------------------------------------- */

static int log_calls;
static char log_last[256];

static void test_sink(void *baton, acme_log_level_t level, apr_status_t rv, const char *msg)
{
    ++log_calls;
    apr_cpystrn(log_last, msg, sizeof(log_last));
}

static int test_enabled(void *baton, acme_log_level_t level)
{
    return level <= ACME_LOG_INFO;
}

START_TEST(result_and_log)
{
    acme_result_t res;

    acme_result_reset(&res);
    ck_assert_int_eq(res.status, APR_SUCCESS);
    ck_assert_ptr_null(acme_result_problem_short(&res));
    ck_assert_int_eq(acme_result_set(&res, pool, ACME_EPROBLEM, "too many %s", "certificates"),
                     ACME_EPROBLEM);
    res.problem_type = ACME_PROBLEM_NS "rateLimited";
    res.http_status = 429;
    ck_assert_str_eq(acme_result_str(&res, pool),
                     "urn:ietf:params:acme:error:rateLimited: too many certificates (HTTP 429)");
    ck_assert_str_eq(acme_result_problem_short(&res), "rateLimited");
    res.problem_type = NULL;
    ck_assert_str_eq(acme_result_str(&res, pool), "too many certificates");

    acme_log_set(test_sink, test_enabled, NULL);
    log_calls = 0;
    acme_log(ACME_LOG_INFO, APR_SUCCESS, "hello %d", 42);
    acme_log(ACME_LOG_DEBUG, APR_SUCCESS, "not shown");
    ck_assert_int_eq(log_calls, 1);
    ck_assert_str_eq(log_last, "hello 42");
    /* text from a CA cannot start a log line of its own */
    acme_log(ACME_LOG_INFO, APR_SUCCESS, "detail: %s", "no\n[acme:emerg] forged\r\x1b[31m\x7f");
    ck_assert_str_eq(log_last, "detail: no [acme:emerg] forged  [31m ");
    log_calls = 1;
    ck_assert(acme_log_is(ACME_LOG_INFO));
    ck_assert(!acme_log_is(ACME_LOG_DEBUG));
    acme_log_set(NULL, NULL, NULL);
    ck_assert(acme_log_is(ACME_LOG_NOTICE));
    ck_assert(!acme_log_is(ACME_LOG_INFO));
}
END_TEST

/* ---- the located sink: file and line of the acme_log call reach it ---- */

static const char *at_file;
static int at_line, at_calls, at_evaluated;
static char at_msg[256];

static void test_sink_at(void *baton, const char *file, int line, acme_log_level_t level,
                         apr_status_t rv, const char *msg)
{
    ++at_calls;
    at_file = file;
    at_line = line;
    apr_cpystrn(at_msg, msg, sizeof(at_msg));
}

static const char *evaluated(void)
{
    ++at_evaluated;
    return "x";
}

START_TEST(log_sink_gets_file_and_line)
{
    int line;

    acme_log_set_at(test_sink_at, test_enabled, NULL);
    at_calls = 0;
    line = __LINE__; acme_log(ACME_LOG_INFO, APR_SUCCESS, "at %s", "line");
    ck_assert_int_eq(at_calls, 1);
    ck_assert_str_eq(at_msg, "at line");
    ck_assert_int_eq(at_line, line);
    ck_assert_ptr_nonnull(at_file);
    ck_assert_ptr_nonnull(strstr(at_file, "test_util.c"));
    /* a level that is off: the sink is not called, the arguments are not even evaluated */
    at_evaluated = 0;
    acme_log(ACME_LOG_DEBUG, APR_SUCCESS, "%s", evaluated());
    ck_assert_int_eq(at_calls, 1);
    ck_assert_int_eq(at_evaluated, 0);
    acme_log(ACME_LOG_ERR, APR_SUCCESS, "%s", evaluated());
    ck_assert_int_eq(at_evaluated, 1);
    ck_assert_int_eq(at_calls, 2);
    /* one sink at a time: the plain one replaces the located one */
    acme_log_set(test_sink, test_enabled, NULL);
    log_calls = 0;
    acme_log(ACME_LOG_INFO, APR_SUCCESS, "plain");
    ck_assert_int_eq(log_calls, 1);
    ck_assert_int_eq(at_calls, 2);
    acme_log_set(NULL, NULL, NULL);
    ck_assert(!acme_log_is(ACME_LOG_INFO));
}
END_TEST

START_TEST(json_helpers)
{
    const char *err = NULL;
    const char *text = "{\"b\":1,\"a\":\"x\",\"o\":{},\"l\":[1]}";
    json_t *j = acme_json_parse(pool, text, strlen(text), &err);

    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(acme_json_str(j, "a"), "x");
    ck_assert_ptr_null(acme_json_str(j, "b"));
    ck_assert_ptr_null(acme_json_str(j, "missing"));
    ck_assert_ptr_nonnull(acme_json_obj(j, "o"));
    ck_assert_ptr_null(acme_json_obj(j, "l"));
    ck_assert_ptr_nonnull(acme_json_arr(j, "l"));
    ck_assert_str_eq(acme_json_dump(pool, j), "{\"a\":\"x\",\"b\":1,\"l\":[1],\"o\":{}}");
    ck_assert_ptr_null(acme_json_parse(pool, "{bad", 4, &err));
    ck_assert_ptr_nonnull(err);
}
END_TEST

Suite *util_suite(void)
{
    Suite *s = suite_create("util");
    TCase *tc = tcase_create("util");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, b64url_rfc4648);
    tcase_add_test(tc, b64url_url_alphabet);
    tcase_add_test(tc, b64url_reject);
    tcase_add_test(tc, hex);
    tcase_add_test(tc, durations);
    tcase_add_test(tc, duration_ranges);
    tcase_add_test(tc, retry_after);
    tcase_add_test(tc, rfc3339);
    tcase_add_test(tc, atomic_write);
    tcase_add_test(tc, visible_write);
    tcase_add_test(tc, mkdir_p);
    tcase_add_test(tc, names_normalize);
    tcase_add_test(tc, names_contain);
    tcase_add_test(tc, names_certifiable);
    tcase_add_test(tc, result_and_log);
    tcase_add_test(tc, log_sink_gets_file_and_line);
    tcase_add_test(tc, json_helpers);
    suite_add_tcase(s, tc);
    return s;
}
