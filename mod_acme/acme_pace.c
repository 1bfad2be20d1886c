/* Pacing against a CA's documented rates (acme_pace.h). */
#include <stdlib.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "acme_pace.h"
#include "acme_util.h"

#define RATE_PERIOD_MIN apr_time_from_sec(1)
#define RATE_PERIOD_MAX apr_time_from_sec(86400 * 7)
#define RATE_COUNT_MAX 1000000

static int limited(const acme_pace_rate_t *rate)
{
    return rate->count > 0 && rate->period > 0;
}

/* The emission interval: one request every period/count once the burst is spent. */
static apr_interval_time_t interval_of(const acme_pace_rate_t *rate)
{
    apr_interval_time_t t = rate->period / rate->count;
    return t > 0 ? t : 1;
}

apr_time_t acme_pace_bucket_when(const acme_pace_bucket_t *b, const acme_pace_rate_t *rate,
                                 apr_time_t now)
{
    apr_time_t earliest;

    if (!limited(rate)) {
        return now;
    }
    /* the burst tolerance is what `count` requests at once need: period - interval */
    earliest = b->tat - (rate->period - interval_of(rate));
    return earliest > now ? earliest : now;
}

void acme_pace_bucket_take(acme_pace_bucket_t *b, const acme_pace_rate_t *rate,
                           apr_time_t now)
{
    if (!limited(rate)) {
        return;
    }
    b->tat = (b->tat > now ? b->tat : now) + interval_of(rate);
}

void acme_pace_init(acme_pace_t *pc, const acme_pace_limits_t *lim)
{
    memset(pc, 0, sizeof(*pc));
    pc->lim = *lim;
}

static int counts_against_orders(const acme_pace_t *pc, acme_pace_kind_e kind)
{
    return !(kind == ACME_PACE_ARI_RENEWAL && pc->lim.ari_exempt);
}

apr_time_t acme_pace_budget_when(const acme_pace_t *pc, acme_pace_kind_e kind, apr_time_t now)
{
    apr_time_t when = now, t;

    if (pc->paused_until > when) {
        when = pc->paused_until;
    }
    if (counts_against_orders(pc, kind)) {
        t = acme_pace_bucket_when(&pc->orders, &pc->lim.orders, now);
        when = t > when ? t : when;
    }
    return when;
}

apr_time_t acme_pace_order_when(const acme_pace_t *pc, acme_pace_kind_e kind, apr_time_t now)
{
    apr_time_t when = acme_pace_budget_when(pc, kind, now);
    apr_time_t t = acme_pace_bucket_when(&pc->new_order, &pc->lim.new_order, now);
    return t > when ? t : when;
}

void acme_pace_order_take(acme_pace_t *pc, acme_pace_kind_e kind, apr_time_t now)
{
    if (counts_against_orders(pc, kind)) {
        acme_pace_bucket_take(&pc->orders, &pc->lim.orders, now);
    }
    acme_pace_bucket_take(&pc->new_order, &pc->lim.new_order, now);
}

void acme_pace_pause(acme_pace_t *pc, apr_time_t until)
{
    if (until > pc->paused_until) {
        pc->paused_until = until;
    }
}

const char *acme_pace_reason(const acme_pace_t *pc, acme_pace_kind_e kind, apr_time_t now)
{
    if (pc->paused_until > now) {
        return "paused";
    }
    if (counts_against_orders(pc, kind)
        && acme_pace_bucket_when(&pc->orders, &pc->lim.orders, now) > now) {
        return "orders";
    }
    if (acme_pace_bucket_when(&pc->new_order, &pc->lim.new_order, now) > now) {
        return "newOrder";
    }
    return NULL;
}

acme_pace_endpoint_e acme_pace_endpoint(const char *url,
                                        const char *const urls[ACME_PACE_EP_COUNT])
{
    const char *ri = urls[ACME_PACE_EP_RENEWAL_INFO];
    apr_size_t n;
    int k;

    for (k = ACME_PACE_EP_DIRECTORY; url && k < ACME_PACE_EP_RENEWAL_INFO; ++k) {
        if (urls[k] && !strcmp(url, urls[k])) {
            return (acme_pace_endpoint_e)k;
        }
    }
    if (url && ri && (n = strlen(ri)) > 0 && !strncmp(url, ri, n)
        && (url[n] == '\0' || url[n] == '/' || ri[n - 1] == '/')) {
        return ACME_PACE_EP_RENEWAL_INFO;
    }
    return ACME_PACE_EP_OTHER;
}

apr_time_t acme_pace_request_take(acme_pace_t *pc, acme_pace_endpoint_e ep, apr_time_t now)
{
    apr_time_t when;

    if ((int)ep < 0 || ep >= ACME_PACE_EP_COUNT) {
        ep = ACME_PACE_EP_OTHER;
    }
    when = acme_pace_bucket_when(&pc->requests[ep], &pc->lim.requests[ep], now);
    acme_pace_bucket_take(&pc->requests[ep], &pc->lim.requests[ep], when);
    return when;
}

const char *acme_pace_endpoint_name(acme_pace_endpoint_e ep)
{
    static const char *const names[ACME_PACE_EP_COUNT] = {
        "directory", "new-nonce", "new-account", "new-order", "revoke-cert", "renewal-info",
        "acme/*"
    };
    return (int)ep >= 0 && ep < ACME_PACE_EP_COUNT ? names[ep] : "acme/*";
}

acme_pace_kind_e acme_pace_kind(int have_live, int replaces_ari)
{
    if (!have_live) {
        return ACME_PACE_NEW;
    }
    return replaces_ari ? ACME_PACE_ARI_RENEWAL : ACME_PACE_RENEWAL;
}

void acme_pace_sort(int *order, const acme_pace_kind_e *kinds, int n)
{
    int k, i, at = 0;

    /* three kinds: a counting pass per kind keeps it stable and O(n) */
    for (k = ACME_PACE_ARI_RENEWAL; k <= ACME_PACE_NEW; ++k) {
        for (i = 0; i < n; ++i) {
            if ((int)kinds[i] == k) {
                order[at++] = i;
            }
        }
    }
}

apr_status_t acme_pace_rate_parse(acme_pace_rate_t *rate, const char **perr, apr_pool_t *p,
                                  const char *arg)
{
    const char *slash = arg ? strchr(arg, '/') : NULL;
    const char *count_s, *period_s;
    char *end = NULL;
    long count;
    apr_interval_time_t period;

    *perr = NULL;
    if (!slash) {
        goto bad;
    }
    count_s = apr_pstrmemdup(p, arg, (apr_size_t)(slash - arg));
    period_s = slash + 1;
    if (!*count_s || !apr_isdigit(*count_s)) {
        goto bad;
    }
    count = strtol(count_s, &end, 10);
    if (*end || count < 1 || count > RATE_COUNT_MAX) {
        *perr = apr_psprintf(p, "the count in '%s' must be a whole number from 1 to %d", arg,
                             RATE_COUNT_MAX);
        return APR_EINVAL;
    }
    if (acme_duration_parse(&period, period_s) != APR_SUCCESS) {
        goto bad;
    }
    if (period < RATE_PERIOD_MIN || period > RATE_PERIOD_MAX) {
        *perr = apr_psprintf(p, "the period in '%s' must be from 1s to 7d", arg);
        return APR_EINVAL;
    }
    rate->count = (int)count;
    rate->period = period;
    return APR_SUCCESS;
bad:
    *perr = apr_psprintf(p, "'%s' is not N/PERIOD (orders per period, e.g. 300/3h or 20/1s)",
                         arg ? arg : "");
    return APR_EINVAL;
}

const char *acme_pace_rate_str(apr_pool_t *p, const acme_pace_rate_t *rate)
{
    if (!limited(rate)) {
        return "no limit";
    }
    return apr_psprintf(p, "%d per %s", rate->count, acme_duration_print(p, rate->period));
}
