/* acme_runner: the driver's runs without httpd, against the scripted fake HTTP layer and
 * the fs store in a temp dir: an attempt's result recorded (failure record, backoff ladder,
 * counters, notify events), `acmectl renew` requests picked up and cleared, 'blocked' said
 * once per episode, 'expiring' once a day, renewalInfo fetched into the plan. */
#include <stdlib.h>
#include <string.h>

#include <apr_atomic.h>
#include <apr_strings.h>

#include "tests.h"
#include "fake_http.h"
#include "unit_helpers.h"
#include "acme_runner.h"
#include "acme_ca.h"
#include "acme_activation.h"
#include "acme_state.h"
#include "acme_store.h"
#include "acme_util.h"

#define DIR_URL "https://ca.test/dir"
#define ARI_URL "https://ca.test/ari"
#define CERT_ID "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"
#define DIRECTORY_ARI                                                                       \
    "{\"newNonce\":\"https://ca.test/nonce\",\"newAccount\":\"https://ca.test/acct\","      \
    "\"newOrder\":\"https://ca.test/order\",\"renewalInfo\":\"" ARI_URL "\"}"
#define ID "a.example"
#define DAY apr_time_from_sec(86400)
/* the store keeps times in whole seconds (RFC 3339) */
#define SEC(t) ((t) / APR_USEC_PER_SEC)

static apr_pool_t *pool;
static char dir[64];
static acme_store_t *st;
static fake_http_t *fake;
static unsigned char secret[ACME_SECRET_LEN];
static acme_runner_t *runners[4];
static int nrunners;
static const acme_runner_fleet_t *fleet_hooks; /* fleet mode for runner_make, NULL: none */
static int request_rates;       /* ACMERequestRates for runner_make (0: auto) */
static apr_time_t (*pace_clock)(void); /* conf.now for runner_make, NULL: the real clock */
static apr_interval_time_t slept[64]; /* conf.sleep's waits while pace_clock is set */
static int nslept;
static apr_time_t now;

static void setup(void)
{
    apr_pool_create(&pool, NULL);
    strcpy(dir, "/tmp/acme-runner-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(acme_store_fs_create(&st, pool, dir), APR_SUCCESS);
    ck_assert_int_eq(acme_store_fs_setup(st, -1, -1, pool), APR_SUCCESS);
    fake = fake_http_create(pool);
    fleet_hooks = NULL;
    request_rates = 0;
    pace_clock = NULL;
    nslept = 0;
    memset(secret, 7, sizeof(secret));
    now = apr_time_now();
    nrunners = 0;
}

static void teardown(void)
{
    int i;
    while (nrunners > 0) {
        acme_runner_destroy(runners[--nrunners]);
    }
    /* a notify program outlives its runner by design (the next generation adopts it) and
     * may still write its record here: retry, bounded */
    for (i = 0; i < 50 && system(apr_pstrcat(pool, "rm -rf '", dir, "' 2>/dev/null", NULL)) != 0;
         ++i) {
        apr_sleep(apr_time_from_msec(20));
    }
    ck_assert_int_lt(i, 50);
    apr_pool_destroy(pool);
}

/* What every runner of these tests has: the store, the secret, the CA, an account spec. */
static void conf_base(acme_runner_conf_t *conf)
{
    memset(conf, 0, sizeof(*conf));
    conf->store = st;
    conf->secret = secret;
    conf->ca_url = DIR_URL;
    conf->contacts = apr_array_make(pool, 1, sizeof(const char *));
    conf->agree_tos = 1;
}

/* Certificate id; with a live one obtained 60 days ago, valid for expires_in more. */
static acme_runner_cert_t *cert_make(const char *id, int live, apr_time_t expires_in)
{
    acme_spec_input_t in;
    acme_runner_cert_t *c = apr_pcalloc(pool, sizeof(*c));
    apr_array_header_t *names = apr_array_make(pool, 1, sizeof(const char *));

    APR_ARRAY_PUSH(names, const char *) = id;
    memset(&in, 0, sizeof(in));
    in.cert.id = id;
    in.cert.names = names;
    in.cert.ca_url = DIR_URL;
    in.key_type = ACME_SPEC_UNSET;
    in.listen_http = 1;
    acme_spec_build(&c->spec, pool, &in);
    c->id = id;
    c->names = names;
    c->used = 1;
    if (live) {
        c->have_live = c->input.have_live = 1;
        c->input.live_names = names;
        c->input.live_ca = DIR_URL;
        c->input.live_key = "p256";
        c->input.live_not_before = c->input.live_obtained = now - 60 * DAY;
        c->input.live_not_after = now + expires_in;
        c->live_serial = "0a1b";
        c->ari_cert_id = CERT_ID;
    }
    return c;
}

/* conf.sleep while pace_clock is set: records the wait instead of sleeping. */
static void record_sleep(void *baton, apr_interval_time_t t)
{
    if (nslept < 64) {
        slept[nslept++] = t;
    }
}

/* A started runner for these certificates (acme_runner_cert_t *), max_parallel at once. */
static acme_runner_t *runner_make_certs(apr_array_header_t *certs, int max_parallel)
{
    acme_runner_conf_t conf;
    acme_runner_t *r;
    int i;

    conf_base(&conf);
    conf.renewal_info = 1;
    conf.notify_cmd = unit_hook_write(pool, dir, "exit 0");
    conf.fleet = fleet_hooks;
    conf.max_parallel = max_parallel;
    conf.request_rates = request_rates;
    if (pace_clock) {
        conf.now = pace_clock;
        conf.sleep = record_sleep;
    }
    ck_assert_int_eq(acme_runner_create(&r, pool, &conf, certs), APR_SUCCESS);
    ck_assert_int_lt(nrunners, 4);
    runners[nrunners++] = r;
    for (i = 0; i < certs->nelts; ++i) {
        acme_runner_replan(r, i, now);
    }
    ck_assert_int_eq(acme_runner_start(r, fake_http_get(fake), now), APR_SUCCESS);
    ck_assert(acme_runner_started(r));
    return r;
}

/* n certificates: ID, then c1.example, c2.example, ... (see cert_make). */
static acme_runner_t *runner_make_n(int n, int live, apr_time_t expires_in)
{
    apr_array_header_t *certs = apr_array_make(pool, n, sizeof(acme_runner_cert_t *));
    int k;

    for (k = 0; k < n; ++k) {
        APR_ARRAY_PUSH(certs, acme_runner_cert_t *) =
            cert_make(k ? apr_psprintf(pool, "c%d.example", k) : ID, live, expires_in);
    }
    return runner_make_certs(certs, 0);
}

/* One certificate ID (see cert_make). */
static acme_runner_t *runner_make(int live, apr_time_t expires_in)
{
    apr_array_header_t *certs = apr_array_make(pool, 1, sizeof(acme_runner_cert_t *));

    APR_ARRAY_PUSH(certs, acme_runner_cert_t *) = cert_make(ID, live, expires_in);
    return runner_make_certs(certs, 0);
}

/* The notify program's runs so far ("EVENT CERT" lines), after the pending ones ended. */
static const char *notified(acme_runner_t *r)
{
    apr_time_t until = apr_time_now() + apr_time_from_sec(20);
    while (acme_runner_notify_pending(r) && apr_time_now() < until) {
        acme_runner_notify_poll(r, pool);
        apr_sleep(apr_time_from_msec(20));
    }
    ck_assert_msg(!acme_runner_notify_pending(r), "notify runs still pending after 20 s");
    return unit_hook_log(pool, dir);
}

static int count(const char *text, const char *what)
{
    int n = 0;
    for (; (text = strstr(text, what)) != NULL; text += strlen(what)) {
        ++n;
    }
    return n;
}

START_TEST(failure_recorded_with_backoff)
{
    acme_runner_t *r = runner_make(0, 0);
    acme_runner_cert_t *c = acme_runner_cert(r, 0);
    acme_sched_t *s = acme_runner_sched(r);
    acme_cert_status_t *cs;
    acme_counters_t *k;
    apr_time_t t0, t1;

    ck_assert_int_eq(c->plan.action, ACME_PLAN_OBTAIN);
    ck_assert(s->slot[0].next == now);
    /* the CA cannot be reached: the account cannot be ensured, the certificate fails */
    fake_http_expect(fake, "GET", DIR_URL, 503, "down");
    t0 = apr_time_now();
    acme_runner_run_due(r, now, pool);
    t1 = apr_time_now();
    ck_assert_msg(fake_http_remaining(fake) == 0, "%s", fake_http_trace(fake, pool));
    ck_assert_int_eq(c->input.failures, 1);
    ck_assert_int_eq(acme_status_load(&cs, pool, st, ID), APR_SUCCESS);
    ck_assert_int_eq(cs->failures, 1);
    ck_assert(SEC(cs->next_attempt) == SEC(s->slot[0].next));
    /* the first step of the ladder: 1 min (+ up to 10% jitter) */
    ck_assert(s->slot[0].next >= t0 + apr_time_from_sec(60));
    ck_assert(s->slot[0].next <= t1 + apr_time_from_sec(66));
    ck_assert(s->next_run <= s->slot[0].next); /* sooner while notify runs are pending */
    ck_assert_int_eq(acme_counters_load(&k, pool, st), APR_SUCCESS);
    ck_assert(k->failed == 1 && k->staged == 0 && k->attempts == 1);
    ck_assert_int_eq(count(notified(r), "failed " ID), 1);

    /* not due before that: nothing happens */
    acme_runner_run_due(r, now + apr_time_from_sec(30), pool);
    ck_assert_int_eq(fake_http_count(fake), 1);
    ck_assert_int_eq(c->input.failures, 1);

    /* the second failure: 10 min */
    fake_http_expect(fake, "GET", DIR_URL, 503, "down");
    t0 = apr_time_now();
    acme_runner_run_due(r, s->slot[0].next, pool);
    t1 = apr_time_now();
    ck_assert_msg(fake_http_remaining(fake) == 0, "%s", fake_http_trace(fake, pool));
    ck_assert_int_eq(c->input.failures, 2);
    ck_assert(s->slot[0].next >= t0 + apr_time_from_sec(600));
    ck_assert(s->slot[0].next <= t1 + apr_time_from_sec(660));
    ck_assert_int_eq(acme_status_load(&cs, pool, st, ID), APR_SUCCESS);
    ck_assert_int_eq(cs->failures, 2);
    ck_assert_ptr_nonnull(strstr(c->plan.reason, "retry after failure 2"));
    ck_assert_int_eq(acme_counters_load(&k, pool, st), APR_SUCCESS);
    ck_assert(k->failed == 2 && k->attempts == 2);
    ck_assert_int_eq(count(notified(r), "failed " ID), 2);
}
END_TEST

START_TEST(success_recorded)
{
    acme_runner_t *r = runner_make(0, 0);
    acme_runner_cert_t *c = acme_runner_cert(r, 0);
    acme_cert_status_t *cs;
    acme_cert_meta_t meta;
    acme_result_t res;

    acme_result_reset(&res);
    res.status = APR_EGENERAL;
    ck_assert_int_eq(acme_status_record_failure(st, ID, 3, now, now, &res, pool), APR_SUCCESS);
    c->input.failures = 3;
    memset(&meta, 0, sizeof(meta));
    meta.names = c->names;
    meta.ca = DIR_URL;
    meta.key = "p256";
    meta.serial = "0fed";
    meta.not_before = now;
    meta.not_after = now + 90 * DAY;
    meta.staged = now;
    ck_assert_int_eq(acme_meta_save(st, ACME_GROUP_STAGING, ID, &meta, pool), APR_SUCCESS);
    acme_result_reset(&res);
    acme_runner_record(r, 0, APR_SUCCESS, &res, pool);
    ck_assert_int_eq(c->input.failures, 0);
    ck_assert(c->input.have_staged);
    ck_assert_int_eq(c->plan.action, ACME_PLAN_NOTHING);
    ck_assert(acme_runner_sched(r)->slot[0].next == 0);
    ck_assert_int_eq(acme_status_load(&cs, pool, st, ID), APR_ENOENT);
    ck_assert_ptr_nonnull(strstr(notified(r), "renewed " ID));
}
END_TEST

/* Interrupted or failed: the server's stop or restart is no failure of the order. */
START_TEST(interrupted_vs_failed)
{
    acme_result_t res;

    acme_result_reset(&res);
    /* the driver stopped at a wait for the stop */
    ck_assert(acme_order_interrupted(ACME_EINTERRUPTED, &res, 1));
    ck_assert(acme_order_interrupted(ACME_EINTERRUPTED, &res, 0));
    /* not stopping: every error is a failure */
    ck_assert(!acme_order_interrupted(APR_ECONNRESET, &res, 0));
    ck_assert(!acme_order_interrupted(APR_TIMEUP, &res, 0));
    /* stopping: an error of our own side (no answer of the CA) is the stop's doing */
    ck_assert(acme_order_interrupted(APR_ECONNRESET, &res, 1));
    ck_assert(acme_order_interrupted(APR_EGENERAL, &res, 1));
    ck_assert(!acme_order_interrupted(APR_SUCCESS, &res, 1));
    ck_assert(!acme_order_interrupted(ACME_EPACED, &res, 1));
    /* ... but the CA's answer is the CA's word, stopping or not */
    ck_assert(!acme_order_interrupted(ACME_EPROBLEM, &res, 1));
    ck_assert(!acme_order_interrupted(ACME_EINVALID, &res, 1));
    ck_assert(!acme_order_interrupted(ACME_EVERIFY, &res, 1));
    res.http_status = 500;
    ck_assert(!acme_order_interrupted(APR_EGENERAL, &res, 1));
    res.http_status = 0;
    res.problem_type = ACME_PROBLEM_NS "serverInternal";
    ck_assert(!acme_order_interrupted(APR_EGENERAL, &res, 1));
}
END_TEST

/* An order cut short by the server's stop: no failure record, no backoff, no 'failed', due
 * again at once; a CA's answer in the same situation is still a failure. */
START_TEST(interrupted_recorded_not_failed)
{
    acme_runner_t *r = runner_make(0, 0);
    acme_runner_cert_t *c = acme_runner_cert(r, 0);
    acme_sched_t *s = acme_runner_sched(r);
    acme_cert_status_t *cs;
    acme_counters_t *k;
    acme_result_t res;
    apr_time_t t0;

    acme_runner_stop(r);
    acme_result_reset(&res);
    acme_result_set(&res, pool, ACME_EINTERRUPTED, "interrupted");
    t0 = apr_time_now();
    acme_runner_record(r, 0, ACME_EINTERRUPTED, &res, pool);
    ck_assert_int_eq(c->input.failures, 0);
    ck_assert_int_eq(acme_status_load(&cs, pool, st, ID), APR_ENOENT);
    ck_assert(s->slot[0].next >= t0 && s->slot[0].next <= apr_time_now());
    /* a transfer cut while stopping, likewise */
    acme_result_reset(&res);
    acme_result_set(&res, pool, APR_ECONNRESET, "connection reset");
    acme_runner_record(r, 0, APR_ECONNRESET, &res, pool);
    ck_assert_int_eq(c->input.failures, 0);
    ck_assert_int_eq(acme_status_load(&cs, pool, st, ID), APR_ENOENT);
    ck_assert_int_eq(count(notified(r), "failed " ID), 0);
    /* a stopped runner starts no run: no request to the CA, nothing recorded */
    acme_runner_run_due(r, now, pool);
    ck_assert_int_eq(fake_http_count(fake), 0);
    ck_assert_int_ne(acme_counters_load(&k, pool, st) == APR_SUCCESS && k->failed > 0, 1);
    /* the CA's answer while stopping is its word: a failure with its backoff */
    acme_result_reset(&res);
    acme_result_set(&res, pool, ACME_EPROBLEM, "rejected");
    res.http_status = 403;
    res.problem_type = ACME_PROBLEM_NS "unauthorized";
    acme_runner_record(r, 0, ACME_EPROBLEM, &res, pool);
    ck_assert_int_eq(c->input.failures, 1);
    ck_assert_int_eq(acme_status_load(&cs, pool, st, ID), APR_SUCCESS);
    ck_assert(s->slot[0].next >= apr_time_now() + apr_time_from_sec(50));
}
END_TEST

START_TEST(renew_request_picked_up)
{
    acme_runner_t *r = runner_make(1, 40 * DAY);
    acme_runner_cert_t *c = acme_runner_cert(r, 0);
    acme_sched_t *s = acme_runner_sched(r);
    acme_renew_request_t req, *got;

    ck_assert_int_eq(c->plan.action, ACME_PLAN_NOTHING);
    ck_assert(s->slot[0].next > now + DAY);
    acme_runner_check_requests(r, pool);          /* no request: nothing changes */
    ck_assert_int_eq(c->plan.action, ACME_PLAN_NOTHING);
    s->slot[0].ari_next = 0;                      /* no renewalInfo fetch soon */
    acme_runner_run_due(r, now, pool);            /* nothing due: wake up at renewal time */
    ck_assert_int_eq(fake_http_count(fake), 0);
    ck_assert(s->next_run > now + DAY);

    memset(&req, 0, sizeof(req));
    req.requested = now - apr_time_from_sec(3600);
    req.by = "acmectl";
    ck_assert_int_eq(acme_request_save(st, ID, &req, pool), APR_SUCCESS);
    acme_runner_check_requests(r, pool);
    ck_assert(SEC(c->input.renew_requested) == SEC(req.requested));
    ck_assert(c->plan.request_pending);
    ck_assert_int_eq(c->plan.action, ACME_PLAN_RENEW);
    ck_assert(s->slot[0].next <= apr_time_now());
    ck_assert(s->next_run <= apr_time_now());
    /* it stays until a newer certificate is live */
    ck_assert_int_eq(acme_request_load(&got, pool, st, ID), APR_SUCCESS);
    acme_runner_check_requests(r, pool);
    ck_assert_int_eq(acme_request_load(&got, pool, st, ID), APR_SUCCESS);
}
END_TEST

START_TEST(renew_request_cleared)
{
    acme_runner_t *r = runner_make(1, 40 * DAY);
    acme_runner_cert_t *c = acme_runner_cert(r, 0);
    acme_renew_request_t req, *got;

    /* asked before the live certificate was obtained: satisfied, removed */
    memset(&req, 0, sizeof(req));
    req.requested = c->input.live_obtained - apr_time_from_sec(3600);
    req.by = "acmectl";
    ck_assert_int_eq(acme_request_save(st, ID, &req, pool), APR_SUCCESS);
    acme_runner_check_requests(r, pool);
    ck_assert_int_eq(acme_request_load(&got, pool, st, ID), APR_ENOENT);
    ck_assert(c->input.renew_requested == 0);
    ck_assert(!c->plan.request_pending);
    ck_assert_int_eq(c->plan.action, ACME_PLAN_NOTHING);
}
END_TEST

START_TEST(blocked_notified_once)
{
    acme_runner_t *r = runner_make(1, 40 * DAY);
    acme_blocked_t b;

    acme_runner_blocked_check(r, pool);           /* not blocked: nothing */
    memset(&b, 0, sizeof(b));
    b.since = b.checked = now;
    b.reason = "x.conf line 3: Invalid command 'Foo'";
    b.certs = apr_array_make(pool, 2, sizeof(const char *));
    APR_ARRAY_PUSH(b.certs, const char *) = ID;
    APR_ARRAY_PUSH(b.certs, const char *) = "not.configured";
    ck_assert_int_eq(acme_blocked_save(st, &b, pool), APR_SUCCESS);
    acme_runner_blocked_check(r, pool);
    acme_runner_blocked_check(r, pool);
    ck_assert_int_eq(count(notified(r), "blocked "), 1);
    ck_assert_int_eq(count(notified(r), "blocked " ID), 1);
    b.checked += apr_time_from_sec(60);           /* the same episode, checked again */
    ck_assert_int_eq(acme_blocked_save(st, &b, pool), APR_SUCCESS);
    acme_runner_blocked_check(r, pool);
    ck_assert_int_eq(count(notified(r), "blocked "), 1);
    b.since += apr_time_from_sec(600);            /* a new episode */
    ck_assert_int_eq(acme_blocked_save(st, &b, pool), APR_SUCCESS);
    acme_runner_blocked_check(r, pool);
    ck_assert_int_eq(count(notified(r), "blocked " ID), 2);
}
END_TEST

START_TEST(expiring_once_a_day)
{
    acme_runner_t *r = runner_make(1, 2 * DAY);   /* inside the default 10% warn window */
    apr_time_t last;

    acme_runner_expiring_check(r, 0, now, pool);
    ck_assert_int_eq(acme_expiring_load(&last, pool, st, ID), APR_SUCCESS);
    ck_assert(SEC(last) == SEC(now));
    acme_runner_expiring_check(r, 0, now + apr_time_from_sec(3600), pool);
    ck_assert_int_eq(count(notified(r), "expiring " ID), 1);
    /* a new generation reads when it was said last */
    r = runner_make(1, 2 * DAY);
    acme_runner_expiring_check(r, 0, now + apr_time_from_sec(7200), pool);
    ck_assert_int_eq(count(notified(r), "expiring " ID), 1);
    acme_runner_expiring_check(r, 0, now + DAY + apr_time_from_sec(60), pool);
    ck_assert_int_eq(count(notified(r), "expiring " ID), 2);
    ck_assert_int_eq(acme_expiring_load(&last, pool, st, ID), APR_SUCCESS);
    ck_assert(SEC(last) == SEC(now + DAY + apr_time_from_sec(60)));
}
END_TEST

START_TEST(expiring_not_before_the_window)
{
    acme_runner_t *r = runner_make(1, 40 * DAY);
    apr_time_t last = 0;

    acme_runner_expiring_check(r, 0, now, pool);
    ck_assert_int_eq(acme_expiring_load(&last, pool, st, ID), APR_ENOENT);
    ck_assert_int_eq(count(notified(r), "expiring"), 0);
}
END_TEST

START_TEST(ari_window_replans)
{
    acme_runner_t *r = runner_make(1, 40 * DAY);
    acme_runner_cert_t *c = acme_runner_cert(r, 0);
    const char *win;

    ck_assert_ptr_null(c->spec.cert.replaces);
    win = apr_psprintf(pool, "{\"suggestedWindow\":{\"start\":\"%s\",\"end\":\"%s\"}}",
                       acme_time_rfc3339(pool, now + DAY), acme_time_rfc3339(pool, now + 2 * DAY));
    fake_http_expect(fake, "GET", DIR_URL, 200, DIRECTORY_ARI);
    fake_http_expect(fake, "GET", ARI_URL "/" CERT_ID, 200, win);
    acme_runner_ari_fetch(r, 0, now, pool);
    ck_assert_msg(fake_http_remaining(fake) == 0, "%s", fake_http_trace(fake, pool));
    ck_assert(SEC(c->input.ari_start) == SEC(now + DAY));
    ck_assert(c->plan.ari_used);
    ck_assert(c->plan.when >= c->input.ari_start && c->plan.when <= c->input.ari_end);
    ck_assert(c->input.ari_chosen != 0);         /* the choice is kept for the next plans */
    ck_assert(c->plan.when == c->input.ari_chosen);
    ck_assert(acme_runner_sched(r)->slot[0].next == c->plan.when);
    ck_assert(acme_runner_sched(r)->slot[0].ari_next > now);
    ck_assert_str_eq(c->spec.cert.replaces, CERT_ID);
}
END_TEST


/* Fleet mode: the runner orders only what the fleet layer lets it, and says when done. */
typedef struct fleet_calls_t {
    int allow, asked, done;
} fleet_calls_t;

static int fleet_may(void *baton, const char *id, const apr_array_header_t *names,
                     apr_pool_t *p)
{
    fleet_calls_t *fc = baton;
    ck_assert_str_eq(id, ID);
    ck_assert_int_eq(names->nelts, 1);
    ++fc->asked;
    return fc->allow;
}

static void fleet_done(void *baton, const char *id, apr_pool_t *p)
{
    ++((fleet_calls_t *)baton)->done;
}

START_TEST(fleet_lease_gates_orders)
{
    fleet_calls_t fc = { 0, 0, 0 };
    acme_runner_fleet_t hooks = { .may_order = fleet_may, .done = fleet_done, .baton = &fc };
    acme_runner_t *r;
    acme_sched_t *s;

    fleet_hooks = &hooks;
    r = runner_make(0, 0);
    s = acme_runner_sched(r);
    /* another node holds the lease: no request, no failure, asked again in 5 s */
    acme_runner_run_due(r, now, pool);
    ck_assert_int_eq(fc.asked, 1);
    ck_assert_int_eq(fake_http_count(fake), 0);
    ck_assert_int_eq(acme_runner_cert(r, 0)->input.failures, 0);
    ck_assert(s->slot[0].next == now + ACME_RUNNER_FLEET_WAIT);
    ck_assert(s->next_run <= now + ACME_RUNNER_FLEET_WAIT);
    acme_runner_run_due(r, now + apr_time_from_sec(1), pool);
    ck_assert_int_eq(fc.asked, 1); /* not due before then */
    /* this node holds it: the attempt runs (the CA is down) and the lease goes back */
    fc.allow = 1;
    fake_http_expect(fake, "GET", DIR_URL, 503, "down");
    acme_runner_run_due(r, now + ACME_RUNNER_FLEET_WAIT, pool);
    ck_assert_int_eq(fc.asked, 2);
    ck_assert_msg(fake_http_remaining(fake) == 0, "%s", fake_http_trace(fake, pool));
    ck_assert_int_eq(acme_runner_cert(r, 0)->input.failures, 1);
    ck_assert_int_eq(fc.done, 1);
}
END_TEST


/* ACMERequestRates letsencrypt at a CA of any URL: the directory endpoint's bucket (40 a
 * second, a burst of 40) paces the runner's requests. The pacing clock stands still, so
 * the bucket does not refill: 40 runs fetch the directory (it fails: fetched again each
 * run) without a wait, the 41st waits 25 ms, the 42nd 50 ms. With off, never. */
static apr_time_t still_clock(void)
{
    return apr_time_from_sec(2000000000);
}

static void directory_fetches(int runs, int mode)
{
    acme_runner_t *r;
    acme_sched_t *s;
    int k;

    request_rates = mode;
    pace_clock = still_clock;
    nslept = 0;
    r = runner_make(0, 0);
    s = acme_runner_sched(r);
    for (k = 0; k < runs; ++k) {
        fake_http_expect(fake, "GET", DIR_URL, 503, "down");
        acme_runner_run_due(r, s->slot[0].next, pool);
    }
    ck_assert_msg(fake_http_remaining(fake) == 0, "%s", fake_http_trace(fake, pool));
}

START_TEST(request_rates_pace_the_runner)
{
    directory_fetches(42, ACME_REQUEST_RATES_LETSENCRYPT);
    ck_assert_int_eq(nslept, 2);
    ck_assert(slept[0] == apr_time_from_msec(25));
    ck_assert(slept[1] == apr_time_from_msec(50));
    teardown();
    setup();
    directory_fetches(42, ACME_REQUEST_RATES_OFF);
    ck_assert_int_eq(nslept, 0);
}
END_TEST

/* Fleet mode: until the fleet layer says this node may run (acme_fleet_settled), a run
 * asks for no lease and sends nothing, and what is due stays due for the next tick. */
typedef struct fleet_settle_t {
    fleet_calls_t calls;
    apr_time_t settled_at;         /* may_run says yes from then on */
    int runs_asked;
} fleet_settle_t;

static int fleet_may_settled(void *baton, const char *id, const apr_array_header_t *names,
                             apr_pool_t *p)
{
    return fleet_may(&((fleet_settle_t *)baton)->calls, id, names, p);
}

static void fleet_done_settled(void *baton, const char *id, apr_pool_t *p)
{
    fleet_done(&((fleet_settle_t *)baton)->calls, id, p);
}

static int fleet_may_run(void *baton, apr_time_t t)
{
    fleet_settle_t *fs = baton;

    ++fs->runs_asked;
    return t >= fs->settled_at;
}

START_TEST(fleet_runs_only_once_settled)
{
    fleet_settle_t fs = { { 1, 0, 0 }, 0, 0 };
    acme_runner_fleet_t hooks = { .may_order = fleet_may_settled, .done = fleet_done_settled,
                                  .may_run = fleet_may_run, .baton = &fs };
    acme_runner_t *r;
    acme_sched_t *s;
    apr_time_t next, slot;

    fs.settled_at = now + apr_time_from_sec(2);
    fleet_hooks = &hooks;
    r = runner_make(0, 0);
    s = acme_runner_sched(r);
    next = s->next_run;
    slot = s->slot[0].next;
    ck_assert(slot <= now);
    acme_runner_run_due(r, now, pool);
    acme_runner_run_due(r, now + apr_time_from_sec(1), pool);
    ck_assert_int_eq(fs.runs_asked, 2);
    ck_assert_int_eq(fs.calls.asked, 0);          /* no lease asked for */
    ck_assert_int_eq(fake_http_count(fake), 0);
    ck_assert(s->next_run == next && s->slot[0].next == slot);     /* still due */
    /* settled: the order starts (the CA is down) and the lease goes back */
    fake_http_expect(fake, "GET", DIR_URL, 503, "down");
    acme_runner_run_due(r, fs.settled_at, pool);
    ck_assert_int_eq(fs.runs_asked, 3);
    ck_assert_int_eq(fs.calls.asked, 1);
    ck_assert_msg(fake_http_remaining(fake) == 0, "%s", fake_http_trace(fake, pool));
    ck_assert_int_eq(acme_runner_cert(r, 0)->input.failures, 1);
    ck_assert_int_eq(fs.calls.done, 1);
}
END_TEST


/* Fleet mode with more due than one run leases at once: the rest take their lease when a
 * thread starts them (obtain_one). The hooks answer per certificate. */
typedef struct fleet_ids_t {
    const char *deny;              /* the certificate whose lease another node holds */
    int asked_a, asked_b, done_a, done_b;
} fleet_ids_t;

static int fleet_may_id(void *baton, const char *id, const apr_array_header_t *names,
                        apr_pool_t *p)
{
    fleet_ids_t *fi = baton;
    ++*(strcmp(id, ID) ? &fi->asked_b : &fi->asked_a);
    return !fi->deny || strcmp(fi->deny, id);
}

static void fleet_done_id(void *baton, const char *id, apr_pool_t *p)
{
    fleet_ids_t *fi = baton;
    ++*(strcmp(id, ID) ? &fi->done_b : &fi->done_a);
}

/* The run's account is made (GET dir, HEAD newNonce, POST newAccount), then the CA answers
 * the order with 503: the attempt runs in an obtain thread and fails there. */
static void script_account_then_refused_order(void)
{
    fake_answer_t *a;

    fake_http_expect(fake, "GET", DIR_URL, 200, DIRECTORY_ARI);
    fake_http_expect(fake, "HEAD", "https://ca.test/nonce", 200, NULL);
    a = fake_http_expect(fake, "POST", "https://ca.test/acct", 201, "{\"status\":\"valid\"}");
    fake_answer_header(a, "Location", "https://ca.test/acct/1", 0);
    fake_http_expect(fake, "POST", "https://ca.test/order", 503, "down");
}

START_TEST(fleet_lease_taken_when_the_thread_starts)
{
    fleet_ids_t fi = { "b.example", 0, 0, 0, 0 };
    acme_runner_fleet_t hooks = { .may_order = fleet_may_id, .done = fleet_done_id,
                                  .baton = &fi };
    apr_array_header_t *certs = apr_array_make(pool, 2, sizeof(acme_runner_cert_t *));
    acme_runner_t *r;
    acme_sched_t *s;
    acme_cert_status_t fst;
    apr_time_t before;

    fleet_hooks = &hooks;
    APR_ARRAY_PUSH(certs, acme_runner_cert_t *) = cert_make(ID, 0, 0);
    APR_ARRAY_PUSH(certs, acme_runner_cert_t *) = cert_make("b.example", 0, 0);
    r = runner_make_certs(certs, 1);     /* one lease taken before the run */
    s = acme_runner_sched(r);
    /* a.example leased before the run and attempted (the CA refuses the order);
     * b.example's lease is asked for only when its thread starts: another node has it, so
     * no attempt, no failure, asked again after ACME_RUNNER_FLEET_WAIT */
    script_account_then_refused_order();
    before = apr_time_now();
    acme_runner_run_due(r, now, pool);
    ck_assert_int_eq(fi.asked_a, 1);
    ck_assert_int_eq(fi.asked_b, 1);
    ck_assert_msg(fake_http_remaining(fake) == 0, "%s", fake_http_trace(fake, pool));
    ck_assert_int_eq(acme_runner_cert(r, 0)->input.failures, 1);
    ck_assert_int_eq(fi.done_a, 1);
    ck_assert_int_eq(acme_runner_cert(r, 1)->input.failures, 0);
    ck_assert_int_eq(fi.done_b, 0);      /* nothing held, nothing given back */
    ck_assert(s->slot[1].next >= before + ACME_RUNNER_FLEET_WAIT);
    ck_assert(s->slot[1].next <= apr_time_now() + ACME_RUNNER_FLEET_WAIT);
    /* the other node let it go after 3 failed attempts of its own (their record pulled into
     * the store by the fleet layer): the thread takes the lease and orders, the ladder goes
     * on from the fleet's count, the lease is given back */
    fi.deny = NULL;
    memset(&fst, 0, sizeof(fst));
    fst.failures = 3;
    fst.last_failure = now - apr_time_from_sec(7200);
    fst.next_attempt = now - apr_time_from_sec(1);
    ck_assert_int_eq(acme_status_save(st, "b.example", &fst, pool), APR_SUCCESS);
    fake_http_expect(fake, "POST", "https://ca.test/order", 503, "down");
    acme_runner_run_due(r, s->slot[1].next, pool);
    ck_assert_int_eq(fi.asked_b, 2);
    ck_assert_msg(fake_http_remaining(fake) == 0, "%s", fake_http_trace(fake, pool));
    ck_assert_int_eq(acme_runner_cert(r, 1)->input.failures, 4);
    ck_assert_int_eq(fi.done_b, 1);
}
END_TEST

static int fleet_no_ari(void *baton, const char *id, apr_pool_t *p)
{
    ++((fleet_calls_t *)baton)->asked;
    return 0;
}

START_TEST(fleet_ari_adopted_from_the_leader)
{
    fleet_calls_t fc = { 1, 0, 0 };
    acme_runner_fleet_t hooks = { .may_order = fleet_may, .done = fleet_done,
                                  .may_fetch_ari = fleet_no_ari, .baton = &fc };
    acme_runner_t *r;
    acme_runner_cert_t *c;
    acme_ari_state_t a;

    fleet_hooks = &hooks;
    r = runner_make(1, 40 * DAY);
    c = acme_runner_cert(r, 0);
    /* nothing pulled yet: no request, asked again later */
    acme_runner_ari_fetch(r, 0, now, pool);
    ck_assert_int_eq(fc.asked, 1);
    ck_assert_int_eq(fake_http_count(fake), 0);
    ck_assert(acme_runner_sched(r)->slot[0].ari_next == now + ACME_RUNNER_FLEET_ARI_CHECK);
    ck_assert(!c->input.ari_end);
    /* the leader's window, pulled into the store: adopted with its chosen time */
    memset(&a, 0, sizeof(a));
    a.cert_id = CERT_ID;
    a.start = now + DAY;
    a.end = now + 2 * DAY;
    a.chosen = now + DAY + DAY / 3;
    a.next_fetch = now + DAY / 4;
    ck_assert_int_eq(acme_ari_state_save(st, ID, &a, pool), APR_SUCCESS);
    acme_runner_ari_fetch(r, 0, now, pool);
    ck_assert_int_eq(fake_http_count(fake), 0);
    ck_assert(SEC(c->input.ari_end) == SEC(now + 2 * DAY));
    ck_assert(SEC(c->plan.when) == SEC(a.chosen));
    ck_assert_str_eq(c->spec.cert.replaces, CERT_ID);
}
END_TEST

/* Pacing: with the account's order budget spent (orders/_driver/pace.json from an earlier
 * generation), nothing is sent to the CA; the ARI replacement gets the first token, the
 * others the next ones, each its own time; no failure is recorded, paced.json says why. */
START_TEST(orders_paced_in_order)
{
    static const char *ids[] = { "p0.example", "p1.example", "p2.example" };
    acme_runner_conf_t conf;
    apr_array_header_t *certs = apr_array_make(pool, 3, sizeof(acme_runner_cert_t *));
    acme_pace_state_t saved = { 0, 0, 0 };
    const char *url = DIR_URL;
    acme_runner_t *r;
    acme_sched_t *s;
    acme_paced_t *pd;
    acme_cert_status_t *cs;
    apr_time_t t0 = apr_time_now(), base;
    int k;

    for (k = 0; k < 3; ++k) {
        acme_spec_input_t in;
        acme_runner_cert_t *c = apr_pcalloc(pool, sizeof(*c));
        apr_array_header_t *names = apr_array_make(pool, 1, sizeof(const char *));
        APR_ARRAY_PUSH(names, const char *) = ids[k];
        memset(&in, 0, sizeof(in));
        in.cert.id = ids[k];
        in.cert.names = names;
        in.cert.ca_url = DIR_URL;
        in.key_type = ACME_SPEC_UNSET;
        in.listen_http = 1;
        acme_spec_build(&c->spec, pool, &in);
        c->id = ids[k];
        c->names = names;
        c->used = 1;
        if (k == 1) {   /* live, inside the CA's renewal window: an ARI replacement */
            c->have_live = c->input.have_live = 1;
            c->input.live_names = names;
            c->input.live_ca = DIR_URL;
            c->input.live_key = "p256";
            c->input.live_not_before = c->input.live_obtained = now - 60 * DAY;
            c->input.live_not_after = now + 20 * DAY;
            c->input.ari_start = now - DAY;
            c->input.ari_end = now + DAY;
            c->input.ari_chosen = now - apr_time_from_sec(60);
            c->live_serial = "0a1b";
            c->ari_cert_id = CERT_ID;
        }
        APR_ARRAY_PUSH(certs, acme_runner_cert_t *) = c;
    }
    /* 2 per 2 h: one token an hour; the bucket is 2.5 h behind (none for 1.5 h) */
    saved.orders_tat = t0 + apr_time_from_sec(9000);
    ck_assert_int_eq(acme_pace_state_save(st, &url, &saved, 1, pool), APR_SUCCESS);
    conf_base(&conf);
    conf.order_rate.count = 2;
    conf.order_rate.period = apr_time_from_sec(7200);
    ck_assert_int_eq(acme_runner_create(&r, pool, &conf, certs), APR_SUCCESS);
    runners[nrunners++] = r;
    for (k = 0; k < 3; ++k) {
        acme_runner_replan(r, k, now);
    }
    ck_assert_int_eq(acme_runner_start(r, fake_http_get(fake), now), APR_SUCCESS);
    ck_assert_str_eq(acme_runner_cert(r, 1)->spec.cert.replaces, CERT_ID);
    s = acme_runner_sched(r);
    ck_assert(s->slot[0].next && s->slot[1].next && s->slot[2].next);

    acme_runner_run_due(r, apr_time_now(), pool);
    /* no request at all: not even the account */
    ck_assert_int_eq(fake_http_count(fake), 0);
    /* the ARI replacement first (in 1.5 h), then the others in config order, 1 h apart */
    base = t0 + apr_time_from_sec(5400);
    ck_assert(s->slot[1].next >= base && s->slot[1].next <= base + apr_time_from_sec(5));
    ck_assert(s->slot[0].next >= base + apr_time_from_sec(3600)
              && s->slot[0].next <= base + apr_time_from_sec(3605));
    ck_assert(s->slot[2].next >= base + apr_time_from_sec(7200)
              && s->slot[2].next <= base + apr_time_from_sec(7205));
    for (k = 0; k < 3; ++k) {
        acme_runner_cert_t *c = acme_runner_cert(r, k);
        ck_assert_int_eq(c->input.failures, 0);
        ck_assert_int_eq(acme_status_load(&cs, pool, st, ids[k]), APR_ENOENT);
        ck_assert_int_eq(acme_paced_load(&pd, pool, st, ids[k]), APR_SUCCESS);
        ck_assert(SEC(pd->until) == SEC(s->slot[k].next));
        ck_assert_msg(strstr(pd->reason, "new orders per account: 2 per 2h"), "%s", pd->reason);
    }
    /* the state is kept for the next generation */
    ck_assert_int_eq(acme_pace_state_load(&saved, pool, st, DIR_URL), APR_SUCCESS);
    ck_assert(saved.orders_tat >= t0 + apr_time_from_sec(9000));
}
END_TEST

/* Fleet mode with more due certificates than one run starts at once: leases for the first
 * ACME_RUNNER_FLEET_LEASES before the run, the others when a thread starts them, so the
 * other nodes take what this node has not started. Here the CA is down, so the run fails
 * before any thread starts: the certificates whose lease this node took fail (and their
 * leases go back), the two others were never this node's: no lease asked for, no failure,
 * looked at again after the fleet's wait. */
typedef struct fleet_count_t {
    apr_uint32_t allow, asked, done;
} fleet_count_t;

static int fleet_first_n(void *baton, const char *id, const apr_array_header_t *names,
                         apr_pool_t *p)
{
    fleet_count_t *fc = baton;
    return apr_atomic_inc32(&fc->asked) < fc->allow;   /* the first `allow` asked */
}

static void fleet_count_done(void *baton, const char *id, apr_pool_t *p)
{
    apr_atomic_inc32(&((fleet_count_t *)baton)->done);
}

START_TEST(fleet_leases_taken_as_threads_start)
{
    fleet_count_t fc = { ACME_RUNNER_FLEET_LEASES, 0, 0 };
    acme_runner_fleet_t hooks = { .may_order = fleet_first_n, .done = fleet_count_done,
                                  .baton = &fc };
    int n = ACME_RUNNER_FLEET_LEASES + 2, k, attempted = 0;
    acme_runner_t *r;
    acme_sched_t *s;

    fleet_hooks = &hooks;
    r = runner_make_n(n, 0, 0);
    s = acme_runner_sched(r);
    fake_http_expect(fake, "GET", DIR_URL, 503, "down");
    acme_runner_run_due(r, now, pool);
    ck_assert_int_eq(apr_atomic_read32(&fc.asked), ACME_RUNNER_FLEET_LEASES);
    ck_assert_msg(fake_http_remaining(fake) == 0, "%s", fake_http_trace(fake, pool));
    for (k = 0; k < n; ++k) {
        acme_runner_cert_t *c = acme_runner_cert(r, k);
        if (c->input.failures) {
            ++attempted;
        }
        else {
            /* a certificate another node took: looked at again after the fleet's wait */
            ck_assert_msg(s->slot[k].next >= now + ACME_RUNNER_FLEET_WAIT, "%s", c->id);
        }
    }
    ck_assert_int_eq(attempted, ACME_RUNNER_FLEET_LEASES);
    ck_assert_int_eq(apr_atomic_read32(&fc.done), ACME_RUNNER_FLEET_LEASES);
}
END_TEST

Suite *runner_suite(void)
{
    Suite *s = suite_create("runner");
    TCase *tc = tcase_create("runner");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, failure_recorded_with_backoff);
    tcase_add_test(tc, success_recorded);
    tcase_add_test(tc, interrupted_vs_failed);
    tcase_add_test(tc, interrupted_recorded_not_failed);
    tcase_add_test(tc, renew_request_picked_up);
    tcase_add_test(tc, renew_request_cleared);
    tcase_add_test(tc, blocked_notified_once);
    tcase_add_test(tc, expiring_once_a_day);
    tcase_add_test(tc, expiring_not_before_the_window);
    tcase_add_test(tc, ari_window_replans);
    tcase_add_test(tc, fleet_lease_gates_orders);
    tcase_add_test(tc, fleet_runs_only_once_settled);
    tcase_add_test(tc, request_rates_pace_the_runner);
    tcase_add_test(tc, fleet_leases_taken_as_threads_start);
    tcase_add_test(tc, fleet_ari_adopted_from_the_leader);
    tcase_add_test(tc, fleet_lease_taken_when_the_thread_starts);
    tcase_add_test(tc, orders_paced_in_order);
    suite_add_tcase(s, tc);
    return s;
}
