/* Activation safety (acme_activation.c, acme_tlsfiles.c): the configtest command, its
 * result and reason, when to check again, the blocked record, the listener list, and the
 * certificate/key pair check. File tests work in their own mkdtemp directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_strings.h>
#include <apr_file_io.h>
#include <openssl/pem.h>

#include "tests.h"
#include "acme_activation.h"
#include "acme_cert.h"
#include "acme_crypto.h"
#include "acme_proc.h"
#include "acme_state.h"
#include "acme_store.h"
#include "acme_tlsfiles.h"

static apr_pool_t *pool;

static void setup(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

static const char *joined(const char *const *argv)
{
    apr_array_header_t *a = apr_array_make(pool, 8, sizeof(const char *));
    for (; *argv; ++argv) {
        APR_ARRAY_PUSH(a, const char *) = *argv;
    }
    return apr_array_pstrcat(pool, a, ' ');
}

/* ---- the configtest command ---------------------------------------------------------- */

START_TEST(test_argv)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        /* the harness and Debian's systemd unit */
        { "apache2 -d /srv/r -f /srv/r/conf/httpd.conf -DFOREGROUND",
          "/usr/sbin/apache2 -d /srv/r -f /srv/r/conf/httpd.conf -DFOREGROUND -t" },
        { "/usr/sbin/apache2 -k start", "/usr/sbin/apache2 -t" },
        { "httpd -k graceful -D SSL -D FOREGROUND -X",
          "/usr/sbin/apache2 -D SSL -D FOREGROUND -t" },
        /* errors must reach the pipe: -e/-E dropped with their arguments */
        { "httpd -E /var/log/startup.log -e debug -dROOT -fconf -C 'x y' -c last",
          "/usr/sbin/apache2 -dROOT -fconf -C x y -c last -t" },
        /* -t, -S, stray words dropped; an option missing its argument ends the list */
        { "httpd -t -S word -f", "/usr/sbin/apache2 -t" },
        { "httpd", "/usr/sbin/apache2 -t" },
    };
    size_t i;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
        const char *const *out;
        char **argv;
        int argc = 0;
        ck_assert_int_eq(apr_tokenize_to_argv(cases[i].in, &argv, pool), APR_SUCCESS);
        while (argv[argc]) {
            argc++;
        }
        ck_assert_int_eq(acme_configtest_argv(&out, pool, "/usr/sbin/apache2", argc,
                                              (const char *const *)argv), APR_SUCCESS);
        /* (apr_tokenize_to_argv strips quotes: 'x y' is one word, joined with a blank) */
        ck_assert_str_eq(joined(out), cases[i].out);
        /* the NULL-terminated form gives the same */
        ck_assert_int_eq(acme_configtest_argv(&out, pool, "/usr/sbin/apache2", -1,
                                              (const char *const *)argv), APR_SUCCESS);
        ck_assert_str_eq(joined(out), cases[i].out);
    }
}
END_TEST

START_TEST(test_argv_no_exe)
{
    const char *const *out;
    const char *const argv[] = { "httpd", NULL };
    ck_assert_int_eq(acme_configtest_argv(&out, pool, NULL, -1, argv), APR_EINVAL);
    ck_assert_int_eq(acme_configtest_argv(&out, pool, "", -1, argv), APR_EINVAL);
    ck_assert_ptr_null(out);
}
END_TEST

/* ---- the result and the reason ------------------------------------------------------- */

START_TEST(test_passed)
{
    ck_assert(acme_configtest_passed(APR_SUCCESS, 0, "Syntax OK\n"));
    ck_assert(!acme_configtest_passed(APR_SUCCESS, 1, "Syntax OK\n"));
    ck_assert(!acme_configtest_passed(APR_TIMEUP, 0, "Syntax OK\n"));
    ck_assert(!acme_configtest_passed(APR_SUCCESS, -1, ""));
    /* reaped by httpd's own waitpid(-1): the output decides */
    ck_assert(acme_configtest_passed(APR_SUCCESS, ACME_PROC_EXIT_LOST,
                                     "AH00558: apache2: Could not reliably determine\nSyntax OK\n"));
    ck_assert(!acme_configtest_passed(APR_SUCCESS, ACME_PROC_EXIT_LOST,
                                      "AH00526: Syntax error on line 2 of /x:\nInvalid\n"));
    ck_assert(!acme_configtest_passed(APR_SUCCESS, ACME_PROC_EXIT_LOST, "Not Syntax OK yet\n"));
    ck_assert(!acme_configtest_passed(APR_SUCCESS, ACME_PROC_EXIT_LOST, NULL));
}
END_TEST

START_TEST(test_reason)
{
    static const struct {
        const char *out, *reason;
    } cases[] = {
        /* httpd 2.4's own formats, as `apache2 -t` printed them here */
        { "AH00526: Syntax error on line 2 of /tmp/rs/conf/b.conf:\n"
          "Invalid command 'FooBar', perhaps misspelled or defined by a module not included "
          "in the server configuration\n",
          "/tmp/rs/conf/b.conf line 2: Invalid command 'FooBar', perhaps misspelled or "
          "defined by a module not included in the server configuration" },
        { "apache2: Syntax error on line 7 of /tmp/rs/conf/a.conf: Syntax error on line 2 of "
          "/tmp/rs/conf/b.conf: Could not open configuration file /tmp/rs/conf/missing.conf: "
          "No such file or directory\n",
          "/tmp/rs/conf/b.conf line 2: Could not open configuration file "
          "/tmp/rs/conf/missing.conf: No such file or directory" },
        { "AH00526: Syntax error on line 3 of /etc/apache2/sites-enabled/x.conf:\n"
          "SSLCertificateFile: file '/nonexist.pem' does not exist or is empty\n",
          "/etc/apache2/sites-enabled/x.conf line 3: SSLCertificateFile: file "
          "'/nonexist.pem' does not exist or is empty" },
        /* a check_config error (ours) names file and line itself */
        { "[Mon Nov 30 05:40:01.123 2026] [ssl:warn] [pid 9] AH01909: x: server certificate "
          "does NOT include an ID which matches the server name\n"
          "[Mon Nov 30 05:40:01.124 2026] [acme:emerg] [pid 9] ACME00105: /r/httpd.conf line "
          "60: SSLCertificateFile: do not match\n"
          "AH00016: Configuration Failed\n",
          "/r/httpd.conf line 60: SSLCertificateFile: do not match" },
        { "[Mon Nov 30 05:40:01 2026] [acme:emerg] [pid 9:tid 9] AH1: x\n", "AH1: x" },
        { "[Mon Nov 30 05:40:01 2026] [ssl:emerg] [pid 9] AH02565: Certificate and key "
          "do not match\n", "Certificate and key do not match" },
        /* otherwise the last line that says something */
        { "something odd\nAH00016: Configuration Failed\n\n",
          "AH00016: Configuration Failed" },
        { "", "no output" },
        { "Syntax OK\n", "no output" },
        /* control characters never reach the log line */
        { "bad\tthing\x1b[31m\n", "bad thing [31m" },
    };
    size_t i;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
        ck_assert_str_eq(acme_configtest_reason(pool, cases[i].out), cases[i].reason);
    }
    ck_assert_str_eq(acme_configtest_reason(pool, NULL), "no output");
}
END_TEST

START_TEST(test_reason_bounded)
{
    char *big = apr_palloc(pool, 5000);
    memset(big, 'x', 4999);
    big[4999] = '\0';
    ck_assert_uint_eq(strlen(acme_configtest_reason(pool, big)), 512);
}
END_TEST

/* ---- when to check again ------------------------------------------------------------- */

START_TEST(test_should_check)
{
    const apr_time_t t0 = apr_time_from_sec(1000000), iv = apr_time_from_sec(60);
    acme_activation_t st;
    const char *why;

    memset(&st, 0, sizeof(st));
    ck_assert(acme_activation_should_check(&st, "c1", "s1", t0, iv, &why));
    ck_assert_str_eq(why, "first check");
    st.checked = t0;
    st.config_sig = "c1";
    st.staged_sig = "s1";
    st.blocked = 1;
    /* nothing changed: wait */
    ck_assert(!acme_activation_should_check(&st, "c1", "s1", t0 + apr_time_from_sec(59), iv,
                                            &why));
    ck_assert_ptr_null(why);
    ck_assert(acme_activation_should_check(&st, "c2", "s1", t0 + 1, iv, &why));
    ck_assert_str_eq(why, "configuration files changed");
    ck_assert(acme_activation_should_check(&st, NULL, "s1", t0 + 1, iv, &why));
    ck_assert_str_eq(why, "configuration files changed");
    ck_assert(acme_activation_should_check(&st, "c1", "s2", t0 + 1, iv, &why));
    ck_assert_str_eq(why, "staged certificates changed");
    ck_assert(acme_activation_should_check(&st, "c1", "s1", t0 + iv, iv, &why));
    ck_assert_str_eq(why, "interval passed");
    /* the clock went back: check rather than wait for a long time */
    ck_assert(acme_activation_should_check(&st, "c1", "s1", t0 - 1, iv, &why));
    /* the last check passed (the restart did not happen, e.g. min gap): check again */
    st.blocked = 0;
    ck_assert(acme_activation_should_check(&st, "c1", "s1", t0 + 1, iv, NULL));
}
END_TEST

START_TEST(test_files_signature)
{
    char dir[] = "/tmp/acme-activation-test-XXXXXX";
    const char *a, *b, *s1, *s2, *s3, *s4;
    apr_array_header_t *paths = apr_array_make(pool, 2, sizeof(const char *));
    FILE *f;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    a = apr_pstrcat(pool, dir, "/a.conf", NULL);
    b = apr_pstrcat(pool, dir, "/b.conf", NULL);
    f = fopen(a, "w");
    fputs("Listen 1\n", f);
    fclose(f);
    APR_ARRAY_PUSH(paths, const char *) = a;
    APR_ARRAY_PUSH(paths, const char *) = b;     /* missing */
    ck_assert_int_eq(acme_files_signature(&s1, pool, paths), APR_SUCCESS);
    ck_assert_uint_eq(strlen(s1), 64);
    ck_assert_int_eq(acme_files_signature(&s2, pool, paths), APR_SUCCESS);
    ck_assert_str_eq(s1, s2);
    f = fopen(b, "w");                            /* appears */
    fclose(f);
    ck_assert_int_eq(acme_files_signature(&s3, pool, paths), APR_SUCCESS);
    ck_assert_str_ne(s1, s3);
    f = fopen(a, "a");                            /* grows in the same second */
    fputs("Bad line\n", f);
    fclose(f);
    ck_assert_int_eq(acme_files_signature(&s4, pool, paths), APR_SUCCESS);
    ck_assert_str_ne(s3, s4);
    unlink(a);
    unlink(b);
    rmdir(dir);
}
END_TEST

/* ---- the record ---------------------------------------------------------------------- */

/* ---- when to restart: the coalescing window ------------------------------------------ */

START_TEST(test_restart_due)
{
    const apr_time_t t0 = apr_time_from_sec(1767225600), s = apr_time_from_sec(1);
    acme_restart_in_t in;
    const char *why;

    memset(&in, 0, sizeof(in));
    ck_assert(!acme_restart_due(&in, t0, &why));
    ck_assert_str_eq(why, "nothing staged");

    /* every certificate staged or live, nothing in flight: nothing more can join the
     * batch, restart at once (no quiet wait) */
    in.staged = 1;
    in.staged_seen = in.staged_grew = t0;
    ck_assert(acme_restart_due(&in, t0, &why));
    ck_assert_str_eq(why, "every certificate is staged or live");
    /* ... but not while an order runs (a renewal of a live one, say) */
    in.in_flight = 1;
    ck_assert(!acme_restart_due(&in, t0, &why));
    ck_assert_str_eq(why, "orders of the batch in flight");
    in.in_flight = 0;

    /* one certificate staged, another still expected, nothing in flight (between two
     * orders): live after the quiet second, not 3 s */
    in.missing = 1;
    ck_assert(!acme_restart_due(&in, t0 + apr_time_from_msec(500), &why));
    ck_assert_str_eq(why, "the batch is still growing");
    ck_assert(acme_restart_due(&in, t0 + s, &why));
    ck_assert_str_eq(why, "the batch is complete");

    /* orders of the batch still running: wait for them, but never past the batch limit */
    in.in_flight = 3;
    ck_assert(!acme_restart_due(&in, t0 + 5 * s, &why));
    ck_assert_str_eq(why, "orders of the batch in flight");
    ck_assert(!acme_restart_due(&in, t0 + ACME_RESTART_BATCH_MAX - 1, NULL));
    ck_assert(acme_restart_due(&in, t0 + ACME_RESTART_BATCH_MAX, &why));
    ck_assert_str_eq(why, "the batch waited long enough");
    in.in_flight = 0;

    /* a second batch right after a restart: a short gap, not 20 s */
    in.last_restart = t0 + 2 * s;
    in.staged_seen = in.staged_grew = t0 + 3 * s;
    ck_assert(!acme_restart_due(&in, t0 + 5 * s, &why));
    ck_assert_str_eq(why, "too soon after the last restart");
    ck_assert(!acme_restart_due(&in, in.last_restart + ACME_RESTART_GAP - 1, NULL));
    ck_assert(acme_restart_due(&in, in.last_restart + ACME_RESTART_GAP, NULL));
    ck_assert(ACME_RESTART_GAP <= apr_time_from_sec(5));

    /* the same sets as at our last restart: it did not take them live; no storm */
    in.same_as_last = 1;
    ck_assert(!acme_restart_due(&in, in.last_restart + ACME_RESTART_GAP, &why));
    ck_assert_str_eq(why, "the last restart did not activate these certificates");
    ck_assert(!acme_restart_due(&in, in.last_restart + ACME_RESTART_STUCK_GAP - 1, NULL));
    ck_assert(acme_restart_due(&in, in.last_restart + ACME_RESTART_STUCK_GAP, NULL));

    /* a clock that went back does not block forever */
    in.same_as_last = 0;
    ck_assert(acme_restart_due(&in, in.last_restart - 100 * s, NULL));
}
END_TEST

/* Restarts during a long issuance keep to their share of the time: the gap and the batch
 * cap grow with the measured cost of the last restart while certificates are still
 * expected; the batch that completes the set is not held back; a cheap restart changes
 * nothing. */
START_TEST(test_restart_due_cost)
{
    const apr_time_t t0 = apr_time_from_sec(1767225600), s = apr_time_from_sec(1);
    acme_restart_in_t in;
    const char *why;

    ck_assert_int_eq(acme_restart_spacing(0), 0);
    ck_assert_int_eq(acme_restart_spacing(-s), 0);
    /* at most ACME_RESTART_SHARE percent: cost / (spacing + cost) */
    ck_assert_int_eq(acme_restart_spacing(10 * s), 40 * s);
    ck_assert_int_eq(100 * (10 * s) / (acme_restart_spacing(10 * s) + 10 * s),
                     ACME_RESTART_SHARE);

    /* 10,000 vhosts: the last restart cost 10 s of the parent's CPU; orders in flight, more
     * certificates expected */
    memset(&in, 0, sizeof(in));
    in.staged = 500;
    in.missing = 9000;
    in.in_flight = 32;
    in.restart_cost = 10 * s;
    in.last_restart = t0;
    in.staged_seen = in.staged_grew = t0 + 11 * s;
    /* the plain gap is not enough */
    ck_assert(!acme_restart_due(&in, t0 + ACME_RESTART_GAP, &why));
    ck_assert_str_eq(why, "restarts keep to their share of the time while certificates are "
                          "still expected");
    /* nor the plain cap, counted from the batch's start */
    ck_assert(!acme_restart_due(&in, in.staged_seen + ACME_RESTART_BATCH_MAX, &why));
    ck_assert_str_eq(why, "orders of the batch in flight");
    ck_assert(!acme_restart_due(&in, in.staged_seen + 40 * s - 1, NULL));
    ck_assert(acme_restart_due(&in, in.staged_seen + 40 * s, &why));
    ck_assert_str_eq(why, "the batch waited long enough");
    /* a complete batch with certificates still expected (some failed, nothing in flight)
     * waits for the spacing too */
    in.in_flight = 0;
    ck_assert(!acme_restart_due(&in, t0 + 39 * s, &why));
    ck_assert(acme_restart_due(&in, t0 + 40 * s, &why));
    ck_assert_str_eq(why, "the batch is complete");

    /* the batch that completes the set: only the plain gap */
    in.missing = 0;
    ck_assert(!acme_restart_due(&in, t0 + ACME_RESTART_GAP - 1, &why));
    ck_assert_str_eq(why, "too soon after the last restart");
    ck_assert(acme_restart_due(&in, t0 + ACME_RESTART_GAP, &why));
    ck_assert_str_eq(why, "every certificate is staged or live");

    /* a cheap restart (1,000 vhosts: about 1 s) changes nothing: 5 s gap, 30 s cap */
    in.missing = 1;
    in.in_flight = 3;
    in.restart_cost = s;
    ck_assert(acme_restart_due(&in, in.staged_seen + ACME_RESTART_BATCH_MAX, &why));
    ck_assert_str_eq(why, "the batch waited long enough");
    in.in_flight = 0;
    in.staged_grew = t0;
    ck_assert(acme_restart_due(&in, t0 + ACME_RESTART_GAP, &why));
    ck_assert_str_eq(why, "the batch is complete");

    /* the stuck gap still wins over the spacing */
    in.restart_cost = 10 * s;
    in.same_as_last = 1;
    ck_assert(!acme_restart_due(&in, t0 + 60 * s, &why));
    ck_assert_str_eq(why, "the last restart did not activate these certificates");
    ck_assert(acme_restart_due(&in, t0 + ACME_RESTART_STUCK_GAP, NULL));
}
END_TEST

START_TEST(test_orders_in_flight)
{
    char dir[] = "/tmp/acme-activation-test-XXXXXX";
    acme_store_t *st;
    apr_time_t now = apr_time_now();
    const char *path;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(acme_store_fs_create(&st, pool, dir), APR_SUCCESS);
    ck_assert_int_eq(acme_store_fs_setup(st, -1, -1, pool), APR_SUCCESS);
    ck_assert_int_eq(acme_orders_in_flight(st, now - ACME_RESTART_ACTIVE, pool), 0);
    ck_assert_int_eq(acme_store_save(st, ACME_GROUP_ORDERS, "a.example", ACME_ORDER_STATE_FILE,
                                     "{}", 2, pool), APR_SUCCESS);
    ck_assert_int_eq(acme_store_save(st, ACME_GROUP_ORDERS, "b.example", ACME_ORDER_STATE_FILE,
                                     "{}", 2, pool), APR_SUCCESS);
    /* other files of an order directory, and the driver's own entry, are no order */
    ck_assert_int_eq(acme_store_save(st, ACME_GROUP_ORDERS, "c.example", ACME_STATE_STATUS,
                                     "{}", 2, pool), APR_SUCCESS);
    ck_assert_int_eq(acme_store_save(st, ACME_GROUP_ORDERS, "_driver", ACME_ORDER_STATE_FILE,
                                     "{}", 2, pool), APR_SUCCESS);
    ck_assert_int_eq(acme_orders_in_flight(st, now - ACME_RESTART_ACTIVE, pool), 2);
    /* an order not written to for a while (backing off, or abandoned) is not in flight */
    path = st->path(st, ACME_GROUP_ORDERS, "b.example", ACME_ORDER_STATE_FILE, pool);
    ck_assert_int_eq(apr_file_mtime_set(path, now - apr_time_from_sec(60), pool), APR_SUCCESS);
    ck_assert_int_eq(acme_orders_in_flight(st, now - ACME_RESTART_ACTIVE, pool), 1);
    ck_assert_int_eq(system(apr_psprintf(pool, "rm -rf '%s'", dir)), 0);
}
END_TEST

START_TEST(test_blocked_record)
{
    char dir[] = "/tmp/acme-activation-test-XXXXXX";
    acme_store_t *st;
    acme_blocked_t b, *got;
    char *cmd;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(acme_store_fs_create(&st, pool, dir), APR_SUCCESS);
    ck_assert_int_eq(acme_store_fs_setup(st, -1, -1, pool), APR_SUCCESS);
    ck_assert_int_eq(acme_blocked_load(&got, pool, st), APR_ENOENT);
    ck_assert_ptr_null(got);

    b.since = apr_time_from_sec(1767225600);
    b.checked = b.since + apr_time_from_sec(61);
    b.reason = "/etc/apache2/x.conf line 3: Invalid command 'Foo'";
    b.certs = apr_array_make(pool, 2, sizeof(const char *));
    APR_ARRAY_PUSH(b.certs, const char *) = "a.example";
    APR_ARRAY_PUSH(b.certs, const char *) = "b.example";
    ck_assert_int_eq(acme_blocked_save(st, &b, pool), APR_SUCCESS);
    ck_assert_int_eq(acme_blocked_load(&got, pool, st), APR_SUCCESS);
    ck_assert_int_eq(got->v, ACME_STATE_VERSION);
    ck_assert(got->since == b.since && got->checked == b.checked);
    ck_assert_str_eq(got->reason, b.reason);
    ck_assert_int_eq(got->certs->nelts, 2);
    ck_assert(acme_blocked_has(got, "b.example"));
    ck_assert(!acme_blocked_has(got, "c.example"));
    ck_assert(!acme_blocked_has(NULL, "a.example"));
    {
        json_t *j = acme_blocked_json(got, pool), *n = acme_blocked_json(NULL, pool);
        ck_assert_str_eq(json_string_value(json_object_get(j, "since")),
                         "2026-01-01T00:00:00Z");
        ck_assert_str_eq(json_string_value(json_object_get(j, "reason")), b.reason);
        ck_assert(json_is_null(n));
        json_decref(j);
        json_decref(n);
    }

    /* once per episode */
    ck_assert(!acme_blocked_notified(st, got, pool));
    ck_assert_int_eq(acme_blocked_set_notified(st, got, pool), APR_SUCCESS);
    ck_assert(acme_blocked_notified(st, got, pool));
    b.since += apr_time_from_sec(300);             /* a new episode */
    ck_assert_int_eq(acme_blocked_save(st, &b, pool), APR_SUCCESS);
    ck_assert_int_eq(acme_blocked_load(&got, pool, st), APR_SUCCESS);
    ck_assert(!acme_blocked_notified(st, got, pool));

    ck_assert_int_eq(acme_blocked_clear(st, pool), APR_SUCCESS);
    ck_assert_int_eq(acme_blocked_load(&got, pool, st), APR_ENOENT);
    ck_assert_int_eq(acme_blocked_clear(st, pool), APR_SUCCESS);  /* missing: fine */
    cmd = apr_psprintf(pool, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* blocked.json as written before it was versioned still loads (v 0); a newer version or
 * a damaged file is no record (APR_ENOENT), and every save writes the current version. */
START_TEST(test_blocked_record_versions)
{
    char dir[] = "/tmp/acme-activation-test-XXXXXX";
    const char *old = "{\"since\":\"2026-01-01T00:00:00Z\",\"checked\":\"2026-01-01T00:01:01Z\","
                      "\"reason\":\"x.conf line 3: Invalid command 'Foo'\","
                      "\"certificates\":[\"a.example\"]}";
    const char *newer = "{\"v\":99,\"since\":\"2026-01-01T00:00:00Z\",\"reason\":\"r\"}";
    acme_store_t *st;
    acme_blocked_t *got;
    char *data, *cmd;
    json_t *j;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(acme_store_fs_create(&st, pool, dir), APR_SUCCESS);
    ck_assert_int_eq(acme_store_fs_setup(st, -1, -1, pool), APR_SUCCESS);
    ck_assert_int_eq(acme_store_save(st, ACME_GROUP_ORDERS, ACME_BLOCKED_ENTRY,
                                     ACME_BLOCKED_ASPECT, old, strlen(old), pool), APR_SUCCESS);
    ck_assert_int_eq(acme_blocked_load(&got, pool, st), APR_SUCCESS);
    ck_assert_int_eq(got->v, 0);
    ck_assert(got->since == apr_time_from_sec(1767225600));
    ck_assert(got->checked == apr_time_from_sec(1767225661));
    ck_assert_str_eq(got->reason, "x.conf line 3: Invalid command 'Foo'");
    ck_assert(acme_blocked_has(got, "a.example"));
    /* saved again: the current version, the same content */
    ck_assert_int_eq(acme_blocked_save(st, got, pool), APR_SUCCESS);
    ck_assert_int_eq(acme_store_load(st, ACME_GROUP_ORDERS, ACME_BLOCKED_ENTRY,
                                     ACME_BLOCKED_ASPECT, &data, NULL, pool), APR_SUCCESS);
    j = json_loads(data, 0, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "v")), ACME_STATE_VERSION);
    json_decref(j);
    ck_assert_int_eq(acme_blocked_load(&got, pool, st), APR_SUCCESS);
    ck_assert_int_eq(got->v, ACME_STATE_VERSION);
    ck_assert(acme_blocked_has(got, "a.example"));
    /* a version this code does not know, damaged JSON: no record */
    ck_assert_int_eq(acme_store_save(st, ACME_GROUP_ORDERS, ACME_BLOCKED_ENTRY,
                                     ACME_BLOCKED_ASPECT, newer, strlen(newer), pool),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_blocked_load(&got, pool, st), APR_ENOENT);
    ck_assert_int_eq(acme_store_save(st, ACME_GROUP_ORDERS, ACME_BLOCKED_ENTRY,
                                     ACME_BLOCKED_ASPECT, "{\"since", 7, pool), APR_SUCCESS);
    ck_assert_int_eq(acme_blocked_load(&got, pool, st), APR_ENOENT);
    cmd = apr_psprintf(pool, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* ---- the running server's listeners -------------------------------------------------- */

START_TEST(test_listeners)
{
    const char *l = "";
    l = acme_listeners_add(pool, l, "127.0.0.1", 8080);
    l = acme_listeners_add(pool, l, "::", 8443);
    l = acme_listeners_add(pool, l, "::1", 9000);
    ck_assert_str_eq(l, "127.0.0.1 8080;:: 8443;::1 9000");
    ck_assert(acme_listeners_has(l, "127.0.0.1", 8080));
    ck_assert(!acme_listeners_has(l, "127.0.0.1", 808));
    ck_assert(!acme_listeners_has(l, "127.0.0.2", 8080));
    ck_assert(!acme_listeners_has(l, "127.0.0.10", 8080));
    ck_assert(acme_listeners_has(l, "::1", 9000));
    ck_assert(acme_listeners_has(l, NULL, 8443));      /* "Listen 8443": the wildcard */
    ck_assert(!acme_listeners_has(l, NULL, 8080));     /* only 127.0.0.1 has it */
    ck_assert(!acme_listeners_has(l, NULL, 9000));
    ck_assert(!acme_listeners_has("", NULL, 80));
    ck_assert(!acme_listeners_has(NULL, "127.0.0.1", 80));
    ck_assert(acme_listeners_has("0.0.0.0 80", NULL, 80));
}
END_TEST

/* ---- certificate and key files ------------------------------------------------------- */

typedef struct pair_fx {
    char dir[40];
    const char *cert, *key, *other_key, *both, *enc_key, *garbage;
} pair_fx;

static const char *write_file(pair_fx *fx, const char *name, const char *text)
{
    const char *path = apr_pstrcat(pool, fx->dir, "/", name, NULL);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void pair_setup(pair_fx *fx)
{
    acme_key_t *k1, *k2;
    const char *cert, *kpem, *k2pem;
    apr_array_header_t *names = apr_array_make(pool, 1, sizeof(const char *));
    BIO *bio;
    char *data;
    long len;

    strcpy(fx->dir, "/tmp/acme-activation-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(fx->dir));
    APR_ARRAY_PUSH(names, const char *) = "www.example.org";
    ck_assert_int_eq(acme_key_generate(&k1, pool, ACME_KEY_EC_P256), APR_SUCCESS);
    ck_assert_int_eq(acme_key_generate(&k2, pool, ACME_KEY_EC_P256), APR_SUCCESS);
    ck_assert_int_eq(acme_selfsigned_create(&cert, pool, k1, "www.example.org", names,
                                            apr_time_from_sec(3600)), APR_SUCCESS);
    ck_assert_int_eq(acme_key_to_pem(&kpem, NULL, pool, k1), APR_SUCCESS);
    ck_assert_int_eq(acme_key_to_pem(&k2pem, NULL, pool, k2), APR_SUCCESS);
    fx->cert = write_file(fx, "cert.pem", cert);
    fx->key = write_file(fx, "key.pem", kpem);
    fx->other_key = write_file(fx, "other.pem", k2pem);
    fx->both = write_file(fx, "both.pem", apr_pstrcat(pool, cert, kpem, NULL));
    fx->garbage = write_file(fx, "garbage.pem", "not a certificate\n");
    bio = BIO_new(BIO_s_mem());
    ck_assert(PEM_write_bio_PKCS8PrivateKey(bio, acme_key_evp(k1), EVP_aes_256_cbc(),
                                            "secret", 6, NULL, NULL) == 1);
    len = BIO_get_mem_data(bio, &data);
    fx->enc_key = write_file(fx, "enc.pem", apr_pstrmemdup(pool, data, (apr_size_t)len));
    BIO_free(bio);
}

static void pair_teardown(pair_fx *fx)
{
    char *cmd = apr_psprintf(pool, "rm -rf '%s'", fx->dir);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_pair_check)
{
    pair_fx fx;
    const char *why;

    pair_setup(&fx);
    ck_assert_int_eq(acme_tls_pair_check(&why, pool, fx.cert, fx.key), APR_SUCCESS);
    ck_assert_ptr_null(why);
    /* the key inside the certificate file */
    ck_assert_int_eq(acme_tls_pair_check(&why, pool, fx.both, NULL), APR_SUCCESS);
    ck_assert_int_eq(acme_tls_pair_check(&why, pool, fx.both, fx.both), APR_SUCCESS);
    /* the admin's mistake this exists for */
    ck_assert_int_eq(acme_tls_pair_check(&why, pool, fx.cert, fx.other_key), ACME_EVERIFY);
    ck_assert_ptr_nonnull(strstr(why, "do not match"));
    ck_assert_ptr_nonnull(strstr(why, fx.other_key));
    /* no key where one is expected */
    ck_assert_int_eq(acme_tls_pair_check(&why, pool, fx.cert, NULL), ACME_EVERIFY);
    ck_assert_ptr_nonnull(strstr(why, "no PEM private key"));
    ck_assert_int_eq(acme_tls_pair_check(&why, pool, fx.garbage, fx.key), ACME_EVERIFY);
    ck_assert_ptr_nonnull(strstr(why, "no PEM certificate"));
    ck_assert_int_eq(acme_tls_pair_check(&why, pool, fx.cert,
                                         apr_pstrcat(pool, fx.dir, "/missing.pem", NULL)),
                     ACME_EVERIFY);
    ck_assert_ptr_nonnull(strstr(why, "cannot read"));
    /* what cannot be checked here is skipped, never failed */
    ck_assert_int_eq(acme_tls_pair_check(&why, pool, fx.cert, fx.enc_key), APR_ENOTIMPL);
    ck_assert_ptr_nonnull(strstr(why, "encrypted"));
    ck_assert_int_eq(acme_tls_pair_check(&why, pool, fx.cert,
                                         "pkcs11:token=t;object=k;type=private"),
                     APR_ENOTIMPL);
    ck_assert_int_eq(acme_tls_pair_check(&why, pool, "pkcs11:object=c", NULL), APR_ENOTIMPL);
    pair_teardown(&fx);
}
END_TEST

START_TEST(test_is_uri)
{
    ck_assert(acme_tls_is_uri("pkcs11:token=x"));
    ck_assert(acme_tls_is_uri("engine:id"));
    ck_assert(!acme_tls_is_uri("/etc/ssl/a.pem"));
    ck_assert(!acme_tls_is_uri("conf/a.pem"));
    ck_assert(!acme_tls_is_uri(":x"));
    ck_assert(!acme_tls_is_uri(""));
    ck_assert(!acme_tls_is_uri(NULL));
}
END_TEST

/* ---- acme_proc when someone else reaps the program (httpd's parent does) ------------- */

START_TEST(test_proc_reaped_elsewhere)
{
    const char *const argv[] = { "/bin/sh", "-c", "echo 'Syntax OK'", NULL };
    acme_proc_t *proc;
    const char *out = "";
    int code = 0, status, i;
    apr_status_t rv = APR_INCOMPLETE;
    pid_t pid;

    ck_assert_int_eq(acme_proc_start(&proc, pool, argv, NULL, apr_time_from_sec(10)),
                     APR_SUCCESS);
    pid = (pid_t)acme_proc_pid(proc);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);   /* the MPM's waitpid(-1) */
    for (i = 0; i < 500 && (rv = acme_proc_poll(proc, &code, &out)) == APR_INCOMPLETE; ++i) {
        apr_sleep(apr_time_from_msec(10));
    }
    ck_assert_int_eq(rv, APR_SUCCESS);
    ck_assert_int_eq(code, ACME_PROC_EXIT_LOST);
    ck_assert_str_eq(out, "Syntax OK\n");
    ck_assert(acme_configtest_passed(rv, code, out));
}
END_TEST

START_TEST(test_proc_stop)
{
    const char *const argv[] = { "/bin/sleep", "30", NULL };
    acme_proc_t *proc;
    const char *out;
    int code;
    apr_time_t t0 = apr_time_now();

    ck_assert_int_eq(acme_proc_start(&proc, pool, argv, NULL, apr_time_from_sec(30)),
                     APR_SUCCESS);
    acme_proc_stop(proc);
    ck_assert(apr_time_now() - t0 < apr_time_from_sec(3));
    ck_assert_int_ne(acme_proc_poll(proc, &code, &out), APR_INCOMPLETE);
    ck_assert_int_ne(kill((pid_t)acme_proc_pid(proc), 0), 0);   /* reaped: gone */
}
END_TEST

Suite *activation_suite(void)
{
    Suite *s = suite_create("activation");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_argv);
    tcase_add_test(tc, test_argv_no_exe);
    tcase_add_test(tc, test_passed);
    tcase_add_test(tc, test_reason);
    tcase_add_test(tc, test_reason_bounded);
    tcase_add_test(tc, test_should_check);
    tcase_add_test(tc, test_files_signature);
    tcase_add_test(tc, test_restart_due);
    tcase_add_test(tc, test_restart_due_cost);
    tcase_add_test(tc, test_orders_in_flight);
    tcase_add_test(tc, test_blocked_record);
    tcase_add_test(tc, test_blocked_record_versions);
    tcase_add_test(tc, test_listeners);
    tcase_add_test(tc, test_pair_check);
    tcase_add_test(tc, test_is_uri);
    tcase_add_test(tc, test_proc_reaped_elsewhere);
    tcase_add_test(tc, test_proc_stop);
    suite_add_tcase(s, tc);
    return s;
}
