/* acme_notify: the ACMENotifyCmd queue with a real shell script: runs of one certificate in
 * event order while others are not held back, the time limit, exit status and output in the
 * log, the run records in the store and their adoption by the next generation. */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_strings.h>

#include "tests.h"
#include "acme_json.h"
#include "acme_log.h"
#include "acme_notify.h"
#include "acme_util.h"

static apr_pool_t *pool;
static char dir[64];
static acme_store_t *st;
static apr_array_header_t *logs;
static const char *script;

static void sink(void *baton, acme_log_level_t level, apr_status_t rv, const char *msg)
{
    APR_ARRAY_PUSH(logs, const char *) = apr_psprintf(pool, "%d %s", (int)level, msg);
}

static int enabled(void *baton, acme_log_level_t level)
{
    return 1;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void setup(void)
{
    FILE *f;
    apr_pool_create(&pool, NULL);
    strcpy(dir, "/tmp/acme-notify-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(acme_store_fs_create(&st, pool, apr_pstrcat(pool, dir, "/store", NULL)),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_store_fs_setup(st, -1, -1, pool), APR_SUCCESS);
    logs = apr_array_make(pool, 8, sizeof(const char *));
    acme_log_set(sink, enabled, NULL);
    script = apr_pstrcat(pool, dir, "/notify.sh", NULL);
    f = fopen(script, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "#!/bin/sh\n"
               "echo \"start $1 $2 $ACME_EVENT $ACME_CERT $ACME_SERIAL\" >> %s/log\n"
               "case \"$1\" in\n"
               "  slow) sleep 0.5 ;;\n"
               "  hang) exec sleep 30 ;;\n"
               "  fail) echo boom-output; exit 3 ;;\n"
               "  slowfail) sleep 0.5; exit 3 ;;\n"
               "esac\n"
               "echo \"end $1 $2\" >> %s/log\n"
               "echo said-$1\n", dir, dir);
    fclose(f);
    ck_assert_int_eq(chmod(script, 0700), 0);
}

static void teardown(void)
{
    acme_log_set(NULL, NULL, NULL);
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    apr_pool_destroy(pool);
}

static void event(acme_notify_t *q, const char *what, const char *cert)
{
    acme_notify_event_t ev;
    memset(&ev, 0, sizeof(ev));
    ev.event = what;
    ev.cert = cert;
    ev.names = cert;
    ev.serial = "0abc";
    acme_notify_event(q, &ev);
}

/* poll until nothing is pending (bounded) */
static void drain(acme_notify_t *q, double max_secs)
{
    apr_time_t until = apr_time_now() + (apr_time_t)(max_secs * APR_USEC_PER_SEC);
    while (acme_notify_pending(q) && apr_time_now() < until) {
        acme_notify_poll(q, pool);
        apr_sleep(apr_time_from_msec(20));
    }
    ck_assert_msg(!acme_notify_pending(q), "runs still pending after %.0f s", max_secs);
}

static const char *script_log(void)
{
    char *data = NULL;
    apr_size_t len;
    apr_file_t *f;
    if (apr_file_open(&f, apr_pstrcat(pool, dir, "/log", NULL), APR_READ, 0, pool)
        != APR_SUCCESS) {
        return "";
    }
    data = apr_pcalloc(pool, 8192);
    len = 8191;
    apr_file_read(f, data, &len);
    apr_file_close(f);
    return data;
}

static const char *log_with(const char *needle)
{
    int i;
    for (i = 0; i < logs->nelts; ++i) {
        if (strstr(APR_ARRAY_IDX(logs, i, const char *), needle)) {
            return APR_ARRAY_IDX(logs, i, const char *);
        }
    }
    return NULL;
}

static const char *all_logs(void)
{
    return apr_array_pstrcat(pool, logs, '\n');
}

static int pos(const char *text, const char *needle)
{
    const char *s = strstr(text, needle);
    ck_assert_msg(s != NULL, "%s not in:\n%s", needle, text);
    return (int)(s - text);
}

START_TEST(order_per_certificate)
{
    acme_notify_t *q;
    const char *text;
    ck_assert_int_eq(acme_notify_create(&q, pool, st, script, NULL, ACME_NOTIFY_TIMEOUT),
                     APR_SUCCESS);
    event(q, "slow", "a.test");
    event(q, "fast", "a.test");
    event(q, "fast", "b.test");
    /* fast b.test may already be done on a busy machine; slow a.test (0.5 s) and the
     * fast a.test queued behind it are not */
    ck_assert_int_ge(acme_notify_pending(q), 2);
    ck_assert_int_le(acme_notify_pending(q), 3);
    drain(q, 10);
    text = script_log();
    /* a.test's second run waits for its first; b.test's does not wait for a.test's */
    ck_assert_int_lt(pos(text, "end slow a.test"), pos(text, "start fast a.test"));
    ck_assert_int_lt(pos(text, "start fast b.test"), pos(text, "end slow a.test"));
    ck_assert_int_lt(pos(text, "start fast b.test"), pos(text, "start fast a.test"));
    pos(text, "start slow a.test slow a.test 0abc"); /* the environment */
    ck_assert_ptr_nonnull(log_with("ACMENotifyCmd for slow a.test succeeded; output: "
                                   "said-slow"));
}
END_TEST

START_TEST(exit_status_and_output)
{
    acme_notify_t *q;
    const char *line;
    ck_assert_int_eq(acme_notify_create(&q, pool, st, script, NULL, ACME_NOTIFY_TIMEOUT),
                     APR_SUCCESS);
    event(q, "fail", "a.test");
    drain(q, 10);
    line = log_with("ACME00053");
    ck_assert_msg(line != NULL, "no ACME00053 line in:\n%s", all_logs());
    ck_assert_ptr_nonnull(strstr(line, "exited with status 3"));
    ck_assert_ptr_nonnull(strstr(line, "boom-output"));
    ck_assert_int_eq(line[0] - '0', ACME_LOG_WARNING);
}
END_TEST

START_TEST(hanging_run_bounded)
{
    acme_notify_t *q;
    apr_time_t t0 = apr_time_now();
    const char *line;
    ck_assert_int_eq(acme_notify_create(&q, pool, st, script, NULL, apr_time_from_sec(1)),
                     APR_SUCCESS);
    event(q, "hang", "a.test");
    event(q, "fast", "a.test");    /* behind the hanging one */
    drain(q, 10);
    ck_assert_msg(apr_time_now() - t0 < apr_time_from_sec(8), "the limit did not hold");
    line = log_with("did not finish in 1 s and was killed");
    ck_assert_msg(line != NULL, "no time limit line in:\n%s", all_logs());
    ck_assert_ptr_nonnull(strstr(script_log(), "end fast a.test"));
}
END_TEST

START_TEST(not_startable)
{
    acme_notify_t *q;
    ck_assert_int_eq(acme_notify_create(&q, pool, st, "/nonexistent/notify", NULL,
                                        ACME_NOTIFY_TIMEOUT), APR_SUCCESS);
    event(q, "fast", "a.test");
    drain(q, 10);
    /* with timeout(1) the wrapper starts and exits 127; without it the start fails */
    ck_assert_msg(log_with("ACME00056") || log_with("exited with status 127"),
                  "no line about the missing program in:\n%s", all_logs());
}
END_TEST

static int run_records(void)
{
    apr_array_header_t *ids;
    int i, n = 0;
    if (st->list(st, ACME_GROUP_ORDERS, &ids, pool) != APR_SUCCESS) {
        return 0;
    }
    for (i = 0; i < ids->nelts; ++i) {
        n += !strncmp(APR_ARRAY_IDX(ids, i, const char *), ACME_NOTIFY_RUN_PREFIX,
                      sizeof(ACME_NOTIFY_RUN_PREFIX) - 1);
    }
    return n;
}

static void record(long pid, apr_time_t started, const char *what)
{
    json_t *j = acme_json_pool(pool, json_object());
    const char *text;
    json_object_set_new(j, "pid", json_integer(pid));
    json_object_set_new(j, "started", json_string(acme_time_rfc3339(pool, started)));
    json_object_set_new(j, "what", json_string(what));
    text = acme_json_dump(pool, j);
    ck_assert_int_eq(acme_store_save(st, ACME_GROUP_ORDERS,
                                     apr_psprintf(pool, ACME_NOTIFY_RUN_PREFIX "%ld", pid),
                                     "run.json", text, strlen(text), pool), APR_SUCCESS);
}

static long dead_pid(void)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    return (long)pid;
}

START_TEST(records_while_running)
{
    acme_notify_t *q;
    ck_assert_int_eq(acme_notify_create(&q, pool, st, script, NULL, ACME_NOTIFY_TIMEOUT),
                     APR_SUCCESS);
    event(q, "slow", "a.test");
    ck_assert_int_eq(run_records(), 1);
    drain(q, 10);
    ck_assert_int_eq(run_records(), 0);
}
END_TEST

START_TEST(adoption)
{
    acme_notify_t *q;
    apr_time_t now = apr_time_now();
    record(dead_pid(), now - apr_time_from_sec(1), "renewed a.test");      /* ended */
    record(dead_pid(), now - apr_time_from_sec(40), "failed b.test");      /* hit the limit */
    record((long)getpid(), now, "renewing c.test");                        /* alive */
    ck_assert_int_eq(acme_notify_create(&q, pool, st, script, NULL, ACME_NOTIFY_TIMEOUT),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_notify_pending(q), 3);
    acme_notify_poll(q, pool);
    ck_assert_int_eq(acme_notify_pending(q), 1);
    ck_assert_int_eq(run_records(), 1);
    ck_assert_msg(log_with("ACME00421") && strstr(log_with("ACME00421"), "renewed a.test"),
                  "%s", all_logs());
    ck_assert_msg(log_with("ACME00066") && strstr(log_with("ACME00066"), "failed b.test")
                  && strstr(log_with("ACME00066"), "30 s time limit"), "%s", all_logs());
    ck_assert_ptr_null(strstr(all_logs(), "c.test"));
}
END_TEST

/* a run one generation started and the next adopts: reported once it ends */
START_TEST(adoption_of_a_real_run)
{
    acme_notify_t *q1, *q2;
    ck_assert_int_eq(acme_notify_create(&q1, pool, st, script, NULL, ACME_NOTIFY_TIMEOUT),
                     APR_SUCCESS);
    event(q1, "slow", "a.test");
    ck_assert_int_eq(acme_notify_create(&q2, pool, st, script, NULL, ACME_NOTIFY_TIMEOUT),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_notify_pending(q2), 1);
    drain(q1, 10);  /* the first generation reaps it (a real successor finds it gone) */
    drain(q2, 10);
    ck_assert_int_eq(run_records(), 0);
}
END_TEST

/* the entry and pid of the one run recorded */
static const char *the_record(long *ppid)
{
    apr_array_header_t *ids;
    char *data;
    apr_size_t len;
    json_t *j;
    int i;
    ck_assert_int_eq(st->list(st, ACME_GROUP_ORDERS, &ids, pool), APR_SUCCESS);
    for (i = 0; i < ids->nelts; ++i) {
        const char *id = APR_ARRAY_IDX(ids, i, const char *);
        if (!strncmp(id, ACME_NOTIFY_RUN_PREFIX, sizeof(ACME_NOTIFY_RUN_PREFIX) - 1)) {
            ck_assert_int_eq(acme_store_load(st, ACME_GROUP_ORDERS, id, "run.json", &data,
                                             &len, pool), APR_SUCCESS);
            ck_assert_ptr_nonnull(j = acme_json_parse(pool, data, len, NULL));
            *ppid = (long)json_integer_value(json_object_get(j, "pid"));
            return id;
        }
    }
    ck_abort_msg("no run recorded; log:\n%s", all_logs());
    return NULL;
}

/* A run that ends after its generation is gone (it runs half a second, so that it is still
 * running when event() returns): the next one reports its exit status (the
 * test reaps the ended process itself, as httpd's parent would, and stops polling q1). */
static void adopted_exit(const char *what, const char *expect)
{
    acme_notify_t *q1, *q2;
    const char *entry;
    long pid;
    apr_finfo_t fi;
    apr_time_t until = apr_time_now() + apr_time_from_sec(10);
    int st_code;
    ck_assert_int_eq(acme_notify_create(&q1, pool, st, script, NULL, ACME_NOTIFY_TIMEOUT),
                     APR_SUCCESS);
    event(q1, what, "a.test");
    entry = the_record(&pid);
    ck_assert_int_gt(pid, 0);
    ck_assert_int_eq(waitpid((pid_t)pid, &st_code, 0), (pid_t)pid);
    ck_assert_int_eq(apr_stat(&fi, st->path(st, ACME_GROUP_ORDERS, entry, "exit.status", pool),
                              APR_FINFO_SIZE, pool), APR_SUCCESS);
    ck_assert_int_eq(acme_notify_create(&q2, pool, st, script, NULL, ACME_NOTIFY_TIMEOUT),
                     APR_SUCCESS);
    while (acme_notify_pending(q2) && apr_time_now() < until) {
        acme_notify_poll(q2, pool);
        apr_sleep(apr_time_from_msec(20));
    }
    ck_assert_msg(strstr(all_logs(), expect) != NULL, "%s not in:\n%s", expect, all_logs());
    ck_assert_int_eq(run_records(), 0);
}

START_TEST(adoption_reports_exit_status)
{
    adopted_exit("slowfail", "ACME00420: ACMENotifyCmd for slowfail a.test (started before "
                 "the last restart) exited with status 3");
}
END_TEST

START_TEST(adoption_reports_success)
{
    adopted_exit("slow", "ACME00067: ACMENotifyCmd for slow a.test (started before the last "
                 "restart) succeeded");
}
END_TEST

START_TEST(command_line_and_environment)
{
    const char *const *argv, *const *env;
    apr_array_header_t *args = apr_array_make(pool, 2, sizeof(const char *));
    acme_notify_event_t ev;
    acme_result_t res;
    const char *e;
    APR_ARRAY_PUSH(args, const char *) = "--tag";
    APR_ARRAY_PUSH(args, const char *) = "two words";
    acme_result_reset(&res);
    res.status = APR_EGENERAL;
    res.problem_type = "urn:ietf:params:acme:error:rejectedIdentifier";
    res.detail = "no";
    memset(&ev, 0, sizeof(ev));
    ev.event = "failed";
    ev.cert = "a.test";
    ev.names = "a.test www.a.test";
    ev.res = &res;
    acme_notify_command(&argv, &env, pool, "/bin/prog", args, &ev);
    ck_assert_str_eq(argv[0], "/bin/prog");
    ck_assert_str_eq(argv[1], "--tag");
    ck_assert_str_eq(argv[2], "two words");
    ck_assert_str_eq(argv[3], "failed");
    ck_assert_str_eq(argv[4], "a.test");
    ck_assert_ptr_null(argv[5]);
    e = apr_pstrcat(pool, env[0], "|", env[1], "|", env[2], "|", env[3], "|", env[4], "|",
                    env[5], NULL);
    ck_assert_msg(strstr(e, "ACME_EVENT=failed|ACME_CERT=a.test|ACME_NAMES=a.test www.a.test|"
                         "ACME_ERROR_TYPE=urn:ietf:params:acme:error:rejectedIdentifier|"
                         "ACME_ERROR_DETAIL="), "%s", e);
    ck_assert_ptr_null(env[6]);
}
END_TEST

Suite *notify_suite(void)
{
    Suite *s = suite_create("notify");
    TCase *tc = tcase_create("notify");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, order_per_certificate);
    tcase_add_test(tc, exit_status_and_output);
    tcase_add_test(tc, hanging_run_bounded);
    tcase_add_test(tc, not_startable);
    tcase_add_test(tc, records_while_running);
    tcase_add_test(tc, adoption);
    tcase_add_test(tc, adoption_of_a_real_run);
    tcase_add_test(tc, command_line_and_environment);
    tcase_add_test(tc, adoption_reports_exit_status);
    tcase_add_test(tc, adoption_reports_success);
    suite_add_tcase(s, tc);
    return s;
}
