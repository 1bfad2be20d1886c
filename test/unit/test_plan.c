/* Renewal planning: a table of cases, one per rule of acme_plan.h, plus backoff steps. */
#include <string.h>

#include <apr_strings.h>

#include "tests.h"
#include "acme_plan.h"
#include "acme_plan_store.h"
#include "acme_json.h"

#define SEC(n)  apr_time_from_sec(n)
#define MIN(n)  SEC((apr_int64_t)(n) * 60)
#define HOUR(n) MIN((apr_int64_t)(n) * 60)
#define DAY(n)  HOUR((apr_int64_t)(n) * 24)

/* 2026-01-01T00:00:00Z */
#define NOW SEC(INT64_C(1767225600))

#define CA1 "https://acme-v02.api.letsencrypt.org/directory"
#define CA2 "https://acme-staging-v02.api.letsencrypt.org/directory"
#define NAMES "example.org,www.example.org"

typedef struct {
    const char *label;
    /* spec */
    const char *names;          /* comma separated, already normalized */
    const char *ca;
    const char *key;
    int renew_percent;
    apr_interval_time_t renew_before;
    apr_interval_time_t retry_delay;
    /* input (times relative to NOW) */
    int have_live;
    const char *live_names;
    const char *live_ca;
    const char *live_key;
    apr_interval_time_t nb, na;  /* not_before/not_after - NOW */
    int have_staged;
    int failures;
    apr_interval_time_t last_failure;  /* - NOW */
    apr_interval_time_t retry_after;   /* - NOW, 0 none */
    /* expected */
    acme_plan_action_t action;
    int when_zero;                     /* when must be 0 */
    apr_interval_time_t when;          /* - NOW */
    const char *reason1, *reason2;     /* substrings of the reason */
    /* more input (times - NOW; 0 none), then more expectations */
    apr_interval_time_t requested;     /* renew_requested */
    apr_interval_time_t obtained;      /* live_obtained */
    apr_interval_time_t ari_start, ari_end, ari_chosen;
    apr_uint32_t jitter;
    int request_pending, request_done, ari_used;
} plan_case_t;

#define HALF 0x80000000u               /* jitter: half of a range */
#define X0 0, 0, 0, 0, 0, 0, 0, 0, 0  /* none of the additional fields */

static const plan_case_t cases[] = {
    { "nothing yet", NAMES, CA1, "p256", 0, 0, 0,
      0, NULL, NULL, NULL, 0, 0, 0, 0, 0, 0,
      ACME_PLAN_OBTAIN, 0, 0, "no certificate yet", NULL, X0 },
    { "staged waits", NAMES, CA1, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(80), DAY(10), 1, 0, 0, 0,
      ACME_PLAN_NOTHING, 1, 0, "new certificate staged, waiting for activation", NULL, X0 },
    { "staged, no live yet", NAMES, CA1, "p256", 0, 0, 0,
      0, NULL, NULL, NULL, 0, 0, 1, 2, 0, 0,
      ACME_PLAN_NOTHING, 1, 0, "staged", NULL, X0 },
    { "names changed", NAMES ",new.example.org", CA1, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(10), DAY(80), 0, 0, 0, 0,
      ACME_PLAN_OBTAIN, 0, 0, "names changed", "new.example.org", X0 },
    { "name removed", "example.org", CA1, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(10), DAY(80), 0, 0, 0, 0,
      ACME_PLAN_OBTAIN, 0, 0, "names changed", NULL, X0 },
    { "CA changed", NAMES, CA2, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(10), DAY(80), 0, 0, 0, 0,
      ACME_PLAN_OBTAIN, 0, 0, "CA changed", CA2, X0 },
    { "key type changed", NAMES, CA1, "rsa2048", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(10), DAY(80), 0, 0, 0, 0,
      ACME_PLAN_OBTAIN, 0, 0, "key type changed", NULL, X0 },
    { "key type case-insensitive", NAMES, CA1, "P256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(10), DAY(80), 0, 0, 0, 0,
      ACME_PLAN_NOTHING, 0, DAY(80) - (DAY(90) / 100) * 33, "valid until", NULL, X0 },
    { "unknown live CA is no change", NAMES, CA1, "p256", 0, 0, 0,
      1, NAMES, NULL, NULL, -DAY(10), DAY(80), 0, 0, 0, 0,
      ACME_PLAN_NOTHING, 0, DAY(80) - (DAY(90) / 100) * 33, "valid until", NULL, X0 },
    { "names and CA changed", NAMES ",x.example.org", CA2, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(10), DAY(80), 0, 0, 0, 0,
      ACME_PLAN_OBTAIN, 0, 0, "names changed", "CA changed", X0 },
    { "valid, default 33%", NAMES, CA1, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(10), DAY(80), 0, 0, 0, 0,
      ACME_PLAN_NOTHING, 0, DAY(80) - (DAY(90) / 100) * 33,
      "valid until 2026-03-22T00:00:00Z; renews from", NULL, X0 },
    { "percent window not reached", NAMES, CA1, "p256", 50, 0, 0,
      1, NAMES, CA1, "p256", -DAY(40), DAY(50), 0, 0, 0, 0,
      ACME_PLAN_NOTHING, 0, DAY(5), "renews from 2026-01-06T00:00:00Z", NULL, X0 },
    { "percent window reached", NAMES, CA1, "p256", 50, 0, 0,
      1, NAMES, CA1, "p256", -DAY(50), DAY(40), 0, 0, 0, 0,
      ACME_PLAN_RENEW, 0, 0, "renewal due", NULL, X0 },
    { "default 33% reached", NAMES, CA1, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(61), DAY(29), 0, 0, 0, 0,
      ACME_PLAN_RENEW, 0, 0, "renewal due", NULL, X0 },
    { "duration window not reached", NAMES, CA1, "p256", 50, DAY(30), 0,
      1, NAMES, CA1, "p256", -DAY(55), DAY(35), 0, 0, 0, 0,
      ACME_PLAN_NOTHING, 0, DAY(5), "valid until", NULL, X0 },
    { "duration window reached (wins over percent)", NAMES, CA1, "p256", 10, DAY(30), 0,
      1, NAMES, CA1, "p256", -DAY(65), DAY(25), 0, 0, 0, 0,
      ACME_PLAN_RENEW, 0, 0, "renewal due", NULL, X0 },
    { "window larger than lifetime: clamped to 50%", NAMES, CA1, "p256", 0, DAY(100), 0,
      1, NAMES, CA1, "p256", -DAY(1), DAY(89), 0, 0, 0, 0,
      ACME_PLAN_NOTHING, 0, DAY(44), "valid until", NULL, X0 },
    { "window larger than lifetime, half gone", NAMES, CA1, "p256", 0, DAY(100), 0,
      1, NAMES, CA1, "p256", -DAY(46), DAY(44), 0, 0, 0, 0,
      ACME_PLAN_RENEW, 0, 0, "renewal due", NULL, X0 },
    { "percent 100 clamped to 50%", NAMES, CA1, "p256", 100, 0, 0,
      1, NAMES, CA1, "p256", -HOUR(1), DAY(6) - HOUR(1), 0, 0, 0, 0,
      ACME_PLAN_NOTHING, 0, DAY(3) - HOUR(1), "valid until", NULL, X0 },
    { "expired", NAMES, CA1, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(100), -DAY(10), 0, 0, 0, 0,
      ACME_PLAN_RENEW, 0, 0, "expired at 2025-12-22T00:00:00Z", NULL, X0 },
    { "empty validity", NAMES, CA1, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", DAY(1), DAY(1), 0, 0, 0, 0,
      ACME_PLAN_RENEW, 0, 0, "validity", NULL, X0 },
    { "backoff 1: 1 min", NAMES, CA1, "p256", 0, 0, 0,
      0, NULL, NULL, NULL, 0, 0, 0, 1, 0, 0,
      ACME_PLAN_OBTAIN, 0, MIN(1), "no certificate yet; retry after failure 1", NULL, X0 },
    { "backoff 2: 10 min", NAMES, CA1, "p256", 0, 0, 0,
      0, NULL, NULL, NULL, 0, 0, 0, 2, 0, 0,
      ACME_PLAN_OBTAIN, 0, MIN(10), "retry after failure 2", NULL, X0 },
    { "backoff 3: 100 min", NAMES, CA1, "p256", 0, 0, 0,
      0, NULL, NULL, NULL, 0, 0, 0, 3, 0, 0,
      ACME_PLAN_OBTAIN, 0, MIN(100), "retry after failure 3", NULL, X0 },
    { "backoff 4: 1000 min", NAMES, CA1, "p256", 0, 0, 0,
      0, NULL, NULL, NULL, 0, 0, 0, 4, 0, 0,
      ACME_PLAN_OBTAIN, 0, MIN(1000), "retry after failure 4", NULL, X0 },
    { "backoff 5: capped at 24 h", NAMES, CA1, "p256", 0, 0, 0,
      0, NULL, NULL, NULL, 0, 0, 0, 5, 0, 0,
      ACME_PLAN_OBTAIN, 0, HOUR(24), "retry after failure 5", NULL, X0 },
    { "backoff 40: still 24 h", NAMES, CA1, "p256", 0, 0, 0,
      0, NULL, NULL, NULL, 0, 0, 0, 40, -HOUR(1), 0,
      ACME_PLAN_OBTAIN, 0, HOUR(23), "retry after failure 40", NULL, X0 },
    { "backoff elapsed: due now", NAMES, CA1, "p256", 0, 0, 0,
      0, NULL, NULL, NULL, 0, 0, 0, 2, -HOUR(1), 0,
      ACME_PLAN_OBTAIN, 0, 0, "retry after failure 2", NULL, X0 },
    { "custom retry delay 5 min, 2 failures", NAMES, CA1, "p256", 0, 0, MIN(5),
      0, NULL, NULL, NULL, 0, 0, 0, 2, -MIN(10), 0,
      ACME_PLAN_OBTAIN, 0, MIN(40), "retry after failure 2", NULL, X0 },
    { "renewal with backoff", NAMES, CA1, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(70), DAY(20), 0, 3, -MIN(30), 0,
      ACME_PLAN_RENEW, 0, MIN(70), "renewal due", "retry after failure 3", X0 },
    { "Retry-After wins over backoff", NAMES, CA1, "p256", 0, 0, 0,
      0, NULL, NULL, NULL, 0, 0, 0, 1, 0, HOUR(2),
      ACME_PLAN_OBTAIN, 0, HOUR(2), "retry after failure 1",
      "CA asked to retry after 2026-01-01T02:00:00Z", X0 },
    { "backoff wins over earlier Retry-After", NAMES, CA1, "p256", 0, 0, 0,
      0, NULL, NULL, NULL, 0, 0, 0, 3, 0, MIN(10),
      ACME_PLAN_OBTAIN, 0, MIN(100), "retry after failure 3", NULL, X0 },
    { "Retry-After without failures", NAMES, CA1, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(70), DAY(20), 0, 0, 0, HOUR(3),
      ACME_PLAN_RENEW, 0, HOUR(3), "CA asked to retry after", NULL, X0 },
    { "past Retry-After ignored", NAMES, CA1, "p256", 0, 0, 0,
      0, NULL, NULL, NULL, 0, 0, 0, 0, 0, -HOUR(3),
      ACME_PLAN_OBTAIN, 0, 0, "no certificate yet", NULL, X0 },
    /* rule 5a: expired while the server was down -> at once, whatever failed before
     * (without it: +21 h and +98 min of backoff) */
    { "expired while down: at once despite older failures", NAMES, CA1, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(90) - HOUR(2), -HOUR(2), 0, 5, -HOUR(3), 0,
      ACME_PLAN_RENEW, 0, 0, "certificate expired at 2025-12-31T22:00:00Z", NULL, X0 },
    { "expired a minute ago, failed just before: at once", NAMES, CA1, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(90), -MIN(1), 0, 3, -MIN(2), 0,
      ACME_PLAN_RENEW, 0, 0, "certificate expired at", NULL, X0 },
    { "expired, failed since: backoff again", NAMES, CA1, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(92), -DAY(2), 0, 2, -MIN(1), 0,
      ACME_PLAN_RENEW, 0, MIN(9), "certificate expired at", "retry after failure 2", X0 },
    { "expired: the CA's Retry-After still wins", NAMES, CA1, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(90) - HOUR(2), -HOUR(2), 0, 5, -HOUR(3), HOUR(1),
      ACME_PLAN_RENEW, 0, HOUR(1), "certificate expired at", "CA asked to retry after", X0 },
    { "not due: failures do not matter", NAMES, CA1, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(10), DAY(80), 0, 4, 0, HOUR(1),
      ACME_PLAN_NOTHING, 0, DAY(80) - (DAY(90) / 100) * 33, "valid until", NULL, X0 },

    /* admin renewal requests (acmectl renew) */
    { "request pending: renew now", NAMES, CA1, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(10), DAY(80), 0, 0, 0, 0,
      ACME_PLAN_RENEW, 0, 0, "renewal requested with acmectl at 2025-12-31T23:55:00Z", NULL,
      -MIN(5), -DAY(10), 0, 0, 0, 0, 1, 0, 0 },
    { "request satisfied by a newer certificate", NAMES, CA1, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(1), DAY(89), 0, 0, 0, 0,
      ACME_PLAN_NOTHING, 0, DAY(89) - (DAY(90) / 100) * 33, "valid until", NULL,
      -MIN(50), -MIN(5), 0, 0, 0, 0, 0, 1, 0 },
    { "request satisfied: obtained unknown, not_before stands in", NAMES, CA1, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -MIN(1), DAY(90) - MIN(1), 0, 0, 0, 0,
      ACME_PLAN_NOTHING, 0, DAY(90) - MIN(1) - (DAY(90) / 100) * 33, "valid until", NULL,
      -MIN(2), 0, 0, 0, 0, 0, 0, 1, 0 },
    { "request in the second the certificate was obtained: renew", NAMES, CA1, "p256", 0, 0,
      0, 1, NAMES, CA1, "p256", -DAY(10), DAY(80), 0, 0, 0, 0,
      ACME_PLAN_RENEW, 0, 0, "renewal requested with acmectl", NULL,
      -MIN(5), -MIN(5), 0, 0, 0, 0, 1, 0, 0 },
    { "request while a set is staged: waits, stays pending", NAMES, CA1, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(10), DAY(80), 1, 0, 0, 0,
      ACME_PLAN_NOTHING, 1, 0, "staged", NULL,
      -MIN(5), -DAY(10), 0, 0, 0, 0, 1, 0, 0 },
    { "request after failures keeps the backoff", NAMES, CA1, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(10), DAY(80), 0, 2, -MIN(1), 0,
      ACME_PLAN_RENEW, 0, MIN(9), "renewal requested", "retry after failure 2",
      -MIN(5), -DAY(10), 0, 0, 0, 0, 1, 0, 0 },
    { "request without a certificate: obtain", NAMES, CA1, "p256", 0, 0, 0,
      0, NULL, NULL, NULL, 0, 0, 0, 0, 0, 0,
      ACME_PLAN_OBTAIN, 0, 0, "no certificate yet", NULL,
      -MIN(5), 0, 0, 0, 0, 0, 1, 0, 0 },
    { "request and names changed: obtain", NAMES ",new.example.org", CA1, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(10), DAY(80), 0, 0, 0, 0,
      ACME_PLAN_OBTAIN, 0, 0, "names changed", NULL,
      -MIN(5), -DAY(10), 0, 0, 0, 0, 1, 0, 0 },

    /* the CA's renewal window (ARI) */
    { "ARI window ahead, earlier than ours", NAMES, CA1, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(10), DAY(80), 0, 0, 0, 0,
      ACME_PLAN_NOTHING, 0, DAY(20) + HOUR(3), "renews at 2026-01-21T03:00:00Z",
      "renewal window (ARI) 2026-01-21T00:00:00Z to 2026-01-22T00:00:00Z",
      0, 0, DAY(20), DAY(21), DAY(20) + HOUR(3), 0, 0, 0, 1 },
    { "ARI window later than ours: ours wins", NAMES, CA1, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(10), DAY(80), 0, 0, 0, 0,
      ACME_PLAN_NOTHING, 0, DAY(80) - (DAY(90) / 100) * 33, "renews from", NULL,
      0, 0, DAY(70), DAY(71), DAY(70), 0, 0, 0, 0 },
    { "inside the ARI window, time chosen passed", NAMES, CA1, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(10), DAY(80), 0, 0, 0, 0,
      ACME_PLAN_RENEW, 0, 0, "renewal due: inside the CA's renewal window (ARI)", NULL,
      0, 0, -HOUR(2), HOUR(2), -HOUR(1), 0, 0, 0, 1 },
    { "inside the ARI window, time chosen ahead", NAMES, CA1, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(10), DAY(80), 0, 0, 0, 0,
      ACME_PLAN_NOTHING, 0, HOUR(1), "renews at", "(ARI)",
      0, 0, -HOUR(2), HOUR(2), HOUR(1), 0, 0, 0, 1 },
    { "ARI window past", NAMES, CA1, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(10), DAY(80), 0, 0, 0, 0,
      ACME_PLAN_RENEW, 0, 0, "inside the CA's renewal window (ARI) 2025-12-31T22:00:00Z", NULL,
      0, 0, -HOUR(2), -HOUR(1), 0, HALF, 0, 0, 1 },
    { "ARI time from jitter: half the window", NAMES, CA1, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(10), DAY(80), 0, 0, 0, 0,
      ACME_PLAN_NOTHING, 0, DAY(20) + HOUR(12), "(ARI)", NULL,
      0, 0, DAY(20), DAY(21), 0, HALF, 0, 0, 1 },
    { "ARI window past, after a failure: backoff", NAMES, CA1, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(10), DAY(80), 0, 1, 0, 0,
      ACME_PLAN_RENEW, 0, MIN(1), "(ARI)", "retry after failure 1",
      0, 0, -HOUR(2), -HOUR(1), -HOUR(1), 0, 0, 0, 1 },
    { "ARI window and Retry-After", NAMES, CA1, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(10), DAY(80), 0, 0, 0, HOUR(5),
      ACME_PLAN_RENEW, 0, HOUR(5), "(ARI)", "CA asked to retry after",
      0, 0, -HOUR(2), -HOUR(1), -HOUR(1), 0, 0, 0, 1 },
    { "end before start: ignored", NAMES, CA1, "p256", 0, 0, 0,
      1, NAMES, CA1, "p256", -DAY(10), DAY(80), 0, 0, 0, 0,
      ACME_PLAN_NOTHING, 0, DAY(80) - (DAY(90) / 100) * 33, "renews from", NULL,
      0, 0, -HOUR(1), -HOUR(2), 0, 0, 0, 0, 0 },

    /* jitter */
    { "jitter moves the renewal inside the window", NAMES, CA1, "p256", 0, DAY(30), 0,
      1, NAMES, CA1, "p256", -DAY(10), DAY(80), 0, 0, 0, 0,
      ACME_PLAN_NOTHING, 0, DAY(50) + DAY(3) / 2, "renews from 2026-02-21T12:00:00Z", NULL,
      0, 0, 0, 0, 0, HALF, 0, 0, 0 },
    { "jitter spreads the retry (up to 10%)", NAMES, CA1, "p256", 0, 0, 0,
      0, NULL, NULL, NULL, 0, 0, 0, 2, 0, 0,
      ACME_PLAN_OBTAIN, 0, MIN(10) + SEC(30), "retry after failure 2", NULL,
      0, 0, 0, 0, 0, HALF, 0, 0, 0 },
};

static apr_array_header_t *split(apr_pool_t *p, const char *list)
{
    apr_array_header_t *a = apr_array_make(p, 4, sizeof(const char *));
    char *last, *s = apr_pstrdup(p, list);
    for (char *t = apr_strtok(s, ",", &last); t; t = apr_strtok(NULL, ",", &last)) {
        APR_ARRAY_PUSH(a, const char *) = t;
    }
    return a;
}

START_TEST(test_plan_table)
{
    const plan_case_t *c = &cases[_i];
    apr_pool_t *p;
    acme_plan_spec_t spec;
    acme_plan_input_t in;
    acme_plan_t plan;

    apr_pool_create(&p, NULL);
    memset(&spec, 0, sizeof(spec));
    memset(&in, 0, sizeof(in));
    spec.names = split(p, c->names);
    spec.ca_url = c->ca;
    spec.key = c->key;
    spec.renew_percent = c->renew_percent;
    spec.renew_before = c->renew_before;
    spec.retry_delay = c->retry_delay;
    in.have_live = c->have_live;
    in.live_names = c->live_names ? split(p, c->live_names) : NULL;
    in.live_ca = c->live_ca;
    in.live_key = c->live_key;
    if (c->have_live) {
        in.live_not_before = NOW + c->nb;
        in.live_not_after = NOW + c->na;
    }
    in.have_staged = c->have_staged;
    in.failures = c->failures;
    in.last_failure = c->failures ? NOW + c->last_failure : 0;
    in.retry_after = c->retry_after ? NOW + c->retry_after : 0;
    in.renew_requested = c->requested ? NOW + c->requested : 0;
    in.live_obtained = c->obtained ? NOW + c->obtained : 0;
    in.ari_start = c->ari_start ? NOW + c->ari_start : 0;
    in.ari_end = c->ari_end ? NOW + c->ari_end : 0;
    in.ari_chosen = c->ari_chosen ? NOW + c->ari_chosen : 0;
    in.jitter = c->jitter;

    acme_plan_compute(&plan, p, &spec, &in, NOW);

    ck_assert_msg(plan.action == c->action, "%s: action %d, expected %d (%s)", c->label,
                  (int)plan.action, (int)c->action, plan.reason);
    if (c->when_zero) {
        ck_assert_msg(plan.when == 0, "%s: when %" APR_TIME_T_FMT, c->label, plan.when);
    }
    else {
        ck_assert_msg(plan.when == NOW + c->when, "%s: when now%+" APR_TIME_T_FMT
                      "s, expected now%+" APR_TIME_T_FMT "s (%s)", c->label,
                      apr_time_sec(plan.when - NOW), apr_time_sec(c->when), plan.reason);
    }
    ck_assert_ptr_nonnull(plan.reason);
    ck_assert_msg(strstr(plan.reason, c->reason1) != NULL, "%s: reason '%s' lacks '%s'",
                  c->label, plan.reason, c->reason1);
    if (c->reason2) {
        ck_assert_msg(strstr(plan.reason, c->reason2) != NULL, "%s: reason '%s' lacks '%s'",
                      c->label, plan.reason, c->reason2);
    }
    ck_assert_msg(plan.request_pending == c->request_pending, "%s: request_pending %d",
                  c->label, plan.request_pending);
    ck_assert_msg(plan.request_done == c->request_done, "%s: request_done %d", c->label,
                  plan.request_done);
    ck_assert_msg(plan.ari_used == c->ari_used, "%s: ari_used %d", c->label, plan.ari_used);
    apr_pool_destroy(p);
}
END_TEST

/* Jitter stays inside its bounds for any seed: renewals in the first tenth of the window,
 * retries at most 10% late, ARI times inside the CA's window. */
START_TEST(test_jitter_bounds)
{
    apr_pool_t *p;
    acme_plan_spec_t spec;
    acme_plan_input_t in;
    acme_plan_t plan;
    apr_interval_time_t window = (DAY(90) / 100) * 33;
    apr_time_t renew_at = NOW + DAY(80) - window, lo = 0, hi = 0;
    apr_uint32_t seeds[] = { 1, 2, 0x7fffffffu, HALF, 0xfffffffeu, 0xffffffffu };
    int i;

    apr_pool_create(&p, NULL);
    memset(&spec, 0, sizeof(spec));
    spec.names = split(p, NAMES);
    spec.ca_url = CA1;
    spec.key = "p256";
    for (i = 0; i < 2000 + (int)(sizeof(seeds) / sizeof(seeds[0])); i++) {
        apr_uint32_t seed = i < 2000 ? acme_plan_seed(apr_itoa(p, i), "01ab")
                                     : seeds[i - 2000];
        apr_time_t t;
        memset(&in, 0, sizeof(in));
        in.have_live = 1;
        in.live_names = spec.names;
        in.live_ca = CA1;
        in.live_key = "p256";
        in.live_not_before = NOW - DAY(10);
        in.live_not_after = NOW + DAY(80);
        in.jitter = seed;
        acme_plan_compute(&plan, p, &spec, &in, NOW);
        ck_assert_int_eq(plan.action, ACME_PLAN_NOTHING);
        ck_assert(plan.when >= renew_at && plan.when < renew_at + window / 10);
        lo = (i == 0 || plan.when < lo) ? plan.when : lo;
        hi = (i == 0 || plan.when > hi) ? plan.when : hi;

        in.ari_start = NOW + DAY(2);
        in.ari_end = NOW + DAY(3);
        acme_plan_compute(&plan, p, &spec, &in, NOW);
        ck_assert(plan.ari_used && plan.when >= in.ari_start && plan.when <= in.ari_end);

        t = acme_plan_retry_at(MIN(1), 3, NOW, seed);
        ck_assert(t >= NOW + MIN(100) && t < NOW + MIN(110));
        t = acme_plan_retry_at(MIN(1), 9, NOW, seed);
        ck_assert(t >= NOW + HOUR(24) && t < NOW + HOUR(24) + HOUR(24) / 10);
    }
    /* spread: 2000 certificates do not renew at one moment */
    ck_assert(hi - lo > (window / 10) * 9 / 10);
    /* no jitter, no spread */
    ck_assert(acme_plan_retry_at(MIN(1), 2, NOW, 0) == NOW + MIN(10));
    ck_assert(acme_plan_retry_at(0, 1, NOW, 0) == NOW + MIN(1));
    apr_pool_destroy(p);
}
END_TEST

START_TEST(test_seed)
{
    apr_uint32_t a = acme_plan_seed("example.org", "01"), b = acme_plan_seed("example.org", "02");
    ck_assert(a != 0 && b != 0 && a != b);
    ck_assert(a == acme_plan_seed("example.org", "01"));
    ck_assert(acme_plan_seed("example.org", NULL) == acme_plan_seed("example.org", ""));
    ck_assert(acme_plan_seed("ab", "c") != acme_plan_seed("a", "bc"));
    ck_assert(acme_plan_seed("", NULL) != 0 && acme_plan_seed(NULL, NULL) != 0);
    ck_assert_str_eq(acme_plan_action_name(ACME_PLAN_OBTAIN), "obtain");
    ck_assert_str_eq(acme_plan_action_name(ACME_PLAN_RENEW), "renew");
    ck_assert_str_eq(acme_plan_action_name(ACME_PLAN_NOTHING), "none");
}
END_TEST

START_TEST(test_request_time)
{
    static const char ok[] = "requested by acmectl at 2026-01-01T00:00:00Z\n";
    ck_assert(acme_plan_request_time(ok, strlen(ok)) == NOW);
    ck_assert(acme_plan_request_time("at 2026-01-01T00:00:00Z", 23) == 0);
    ck_assert(acme_plan_request_time("requested by acmectl at yesterday\n", 33) == 0);
    ck_assert(acme_plan_request_time("", 0) == 0);
    ck_assert(acme_plan_request_time(NULL, 5) == 0);
}
END_TEST

START_TEST(test_spec_json)
{
    apr_pool_t *p;
    acme_plan_spec_t a, b;
    json_t *j;

    apr_pool_create(&p, NULL);
    memset(&a, 0, sizeof(a));
    a.names = split(p, NAMES);
    a.ca_url = CA1;
    a.key = "rsa2048";
    a.renew_percent = 40;
    a.renew_before = DAY(20);
    a.retry_delay = MIN(5);
    j = acme_json_pool(p, acme_plan_spec_json(&a));
    ck_assert_int_eq(acme_plan_spec_from_json(&b, p, j), APR_SUCCESS);
    ck_assert_int_eq(b.names->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(b.names, 1, const char *), "www.example.org");
    ck_assert_str_eq(b.ca_url, CA1);
    ck_assert_str_eq(b.key, "rsa2048");
    ck_assert_int_eq(b.renew_percent, 40);
    ck_assert(b.renew_before == DAY(20) && b.retry_delay == MIN(5));
    ck_assert_ptr_null(b.profile);
    a.profile = "shortlived";
    j = acme_json_pool(p, acme_plan_spec_json(&a));
    ck_assert_int_eq(acme_plan_spec_from_json(&b, p, j), APR_SUCCESS);
    ck_assert_str_eq(b.profile, "shortlived");
    ck_assert_int_eq(acme_plan_spec_from_json(&b, p, acme_json_pool(p, json_array())),
                     APR_EINVAL);
    ck_assert_int_eq(acme_plan_spec_from_json(&b, p, acme_json_pool(p, json_object())),
                     APR_EINVAL);
    apr_pool_destroy(p);
}
END_TEST

/* "replaces" (ARI) only names a certificate of the configured CA */
START_TEST(test_other_ca)
{
    static const struct { const char *live_ca, *ca; int have_live, other_ca; } c[] = {
        { CA1, CA1, 1, 0 },
        { CA1, CA2, 1, 1 },
        { NULL, CA2, 1, 0 },       /* unknown: no difference (rule 3) */
        { CA1, CA2, 0, 0 },        /* nothing live */
    };
    apr_pool_t *p;

    apr_pool_create(&p, NULL);
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        acme_plan_spec_t spec;
        acme_plan_input_t in;
        acme_plan_t plan;
        memset(&spec, 0, sizeof(spec));
        memset(&in, 0, sizeof(in));
        spec.names = split(p, NAMES);
        spec.ca_url = c[i].ca;
        spec.key = "p256";
        in.have_live = c[i].have_live;
        if (in.have_live) {
            in.live_names = split(p, NAMES);
            in.live_ca = c[i].live_ca;
            in.live_key = "p256";
            in.live_not_before = NOW - DAY(10);
            in.live_not_after = NOW + DAY(80);
        }
        acme_plan_compute(&plan, p, &spec, &in, NOW);
        ck_assert_msg(plan.other_ca == c[i].other_ca, "case %zu: other_ca %d (%s)", i,
                      plan.other_ca, plan.reason);
    }
    apr_pool_destroy(p);
}
END_TEST

START_TEST(test_backoff)
{
    ck_assert_int_eq(acme_plan_backoff(MIN(1), 0), 0);
    ck_assert_int_eq(acme_plan_backoff(MIN(1), -3), 0);
    ck_assert_int_eq(acme_plan_backoff(0, 3), 0);
    ck_assert_int_eq(acme_plan_backoff(MIN(1), 1), MIN(1));
    ck_assert_int_eq(acme_plan_backoff(MIN(1), 2), MIN(10));
    ck_assert_int_eq(acme_plan_backoff(MIN(1), 3), MIN(100));
    ck_assert_int_eq(acme_plan_backoff(MIN(1), 4), MIN(1000));
    ck_assert_int_eq(acme_plan_backoff(MIN(1), 5), HOUR(24));
    ck_assert_int_eq(acme_plan_backoff(MIN(1), 1000000), HOUR(24));
    ck_assert_int_eq(acme_plan_backoff(SEC(30), 2), SEC(300));
    ck_assert_int_eq(acme_plan_backoff(DAY(2), 1), HOUR(24));
}
END_TEST

START_TEST(test_plan_pure)
{
    /* same input, same output; the input is not modified */
    apr_pool_t *p;
    acme_plan_spec_t spec;
    acme_plan_input_t in, copy;
    acme_plan_t a, b;

    apr_pool_create(&p, NULL);
    memset(&spec, 0, sizeof(spec));
    memset(&in, 0, sizeof(in));
    spec.names = split(p, NAMES);
    spec.ca_url = CA1;
    spec.key = "p256";
    in.have_live = 1;
    in.live_names = split(p, NAMES);
    in.live_ca = CA1;
    in.live_key = "p256";
    in.live_not_before = NOW - DAY(10);
    in.live_not_after = NOW + DAY(80);
    copy = in;
    acme_plan_compute(&a, p, &spec, &in, NOW);
    acme_plan_compute(&b, p, &spec, &in, NOW);
    ck_assert_int_eq(memcmp(&in, &copy, sizeof(in)), 0);
    ck_assert_int_eq(a.action, b.action);
    ck_assert(a.when == b.when);
    ck_assert_str_eq(a.reason, b.reason);
    apr_pool_destroy(p);
}
END_TEST

/* A changed profile orders a new certificate like a changed key type; none and "" are the
 * same, and a certificate of before profiles (no profile recorded) differs from one asked
 * for now. */
START_TEST(test_plan_profile)
{
    static const struct {
        const char *want, *live;
        acme_plan_action_t action;
        const char *reason;
    } t[] = {
        { NULL, NULL, ACME_PLAN_NOTHING, "valid until" },
        { "", NULL, ACME_PLAN_NOTHING, "valid until" },
        { NULL, "", ACME_PLAN_NOTHING, "valid until" },
        { "shortlived", "shortlived", ACME_PLAN_NOTHING, "valid until" },
        { "shortlived", NULL, ACME_PLAN_OBTAIN,
          "profile changed (certificate: none; configured: shortlived)" },
        { NULL, "tlsserver", ACME_PLAN_OBTAIN,
          "profile changed (certificate: tlsserver; configured: none)" },
        { "shortlived", "tlsserver", ACME_PLAN_OBTAIN,
          "profile changed (certificate: tlsserver; configured: shortlived)" },
        { "Shortlived", "shortlived", ACME_PLAN_OBTAIN, "profile changed" },
    };
    apr_pool_t *p;
    acme_plan_spec_t spec;
    acme_plan_input_t in;
    acme_plan_t plan;
    size_t i;

    apr_pool_create(&p, NULL);
    for (i = 0; i < sizeof(t) / sizeof(t[0]); ++i) {
        memset(&spec, 0, sizeof(spec));
        memset(&in, 0, sizeof(in));
        spec.names = split(p, NAMES);
        spec.ca_url = CA1;
        spec.key = "p256";
        spec.profile = t[i].want;
        in.have_live = 1;
        in.live_names = split(p, NAMES);
        in.live_ca = CA1;
        in.live_key = "p256";
        in.live_not_before = NOW - DAY(1);
        in.live_not_after = NOW + DAY(5);
        in.live_profile = t[i].live;
        acme_plan_compute(&plan, p, &spec, &in, NOW);
        ck_assert_msg(plan.action == t[i].action, "case %d: action %s (%s)", (int)i,
                      acme_plan_action_name(plan.action), plan.reason);
        ck_assert_msg(strstr(plan.reason, t[i].reason) != NULL, "case %d: reason '%s'",
                      (int)i, plan.reason);
        if (plan.action == ACME_PLAN_OBTAIN) {
            ck_assert(plan.when == NOW);
        }
    }
    /* with another difference, both are named */
    spec.key = "rsa2048";
    acme_plan_compute(&plan, p, &spec, &in, NOW);
    ck_assert_ptr_nonnull(strstr(plan.reason, "key type changed"));
    ck_assert_ptr_nonnull(strstr(plan.reason, ", profile changed"));
    apr_pool_destroy(p);
}
END_TEST

/* ACMEServer with several CAs: a certificate from any of them is kept (a failover CA's
 * until its renewal); one from a CA no longer listed is replaced at once. */
START_TEST(test_plan_ca_list)
{
    apr_pool_t *p;
    acme_plan_spec_t spec, back;
    acme_plan_input_t in;
    acme_plan_t plan;
    apr_array_header_t *cas;

    apr_pool_create(&p, NULL);
    cas = split(p, CA1 "," CA2);
    memset(&spec, 0, sizeof(spec));
    spec.names = split(p, NAMES);
    spec.ca_url = CA1;
    spec.ca_urls = cas;
    spec.key = "p256";
    memset(&in, 0, sizeof(in));
    in.have_live = 1;
    in.live_names = split(p, NAMES);
    in.live_ca = CA2;
    in.live_key = "p256";
    in.live_not_before = NOW - DAY(10);
    in.live_not_after = NOW + DAY(80);
    acme_plan_compute(&plan, p, &spec, &in, NOW);
    ck_assert_int_eq(plan.action, ACME_PLAN_NOTHING);
    ck_assert_msg(!strstr(plan.reason, "CA changed"), "%s", plan.reason);
    in.live_ca = "https://gone.test/dir";
    acme_plan_compute(&plan, p, &spec, &in, NOW);
    ck_assert_int_eq(plan.action, ACME_PLAN_OBTAIN);
    ck_assert(plan.when == NOW);
    ck_assert_msg(strstr(plan.reason, "CA changed (certificate from https://gone.test/dir; "
                                      "configured: " CA1 ", " CA2 ")"), "%s", plan.reason);
    /* without the list, the second CA is a change */
    in.live_ca = CA2;
    spec.ca_urls = NULL;
    acme_plan_compute(&plan, p, &spec, &in, NOW);
    ck_assert_int_eq(plan.action, ACME_PLAN_OBTAIN);
    /* plan.json carries the list when there are several */
    spec.ca_urls = cas;
    ck_assert_int_eq(acme_plan_spec_from_json(&back, p, acme_json_pool(p,
                                              acme_plan_spec_json(&spec))), APR_SUCCESS);
    ck_assert_int_eq(back.ca_urls->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(back.ca_urls, 1, const char *), CA2);
    spec.ca_urls = split(p, CA1);
    ck_assert_int_eq(acme_plan_spec_from_json(&back, p, acme_json_pool(p,
                                              acme_plan_spec_json(&spec))), APR_SUCCESS);
    ck_assert_ptr_null(back.ca_urls);
    apr_pool_destroy(p);
}
END_TEST

Suite *plan_suite(void)
{
    Suite *s = suite_create("plan");
    TCase *tc = tcase_create("compute");
    tcase_add_loop_test(tc, test_plan_table, 0, (int)(sizeof(cases) / sizeof(cases[0])));
    tcase_add_test(tc, test_backoff);
    tcase_add_test(tc, test_other_ca);
    tcase_add_test(tc, test_plan_pure);
    tcase_add_test(tc, test_jitter_bounds);
    tcase_add_test(tc, test_seed);
    tcase_add_test(tc, test_request_time);
    tcase_add_test(tc, test_spec_json);
    tcase_add_test(tc, test_plan_profile);
    tcase_add_test(tc, test_plan_ca_list);
    suite_add_tcase(s, tc);
    return s;
}
