/* Whose settings a shared certificate takes, and which differences are conflicts. */
#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>

#include "acme_settings.h"
#include "acme_driver.h"

#define REC(a, i) APR_ARRAY_IDX(a, i, const acme_settings_rec_t *)

/* The first record of the given kind that wrote setting i, or -1. */
static int first_writer(const apr_array_header_t *recs, int i, int https)
{
    int k;
    for (k = 0; k < recs->nelts; ++k) {
        const acme_settings_rec_t *r = REC(recs, k);
        if (!r->https == !https && r->values[i]) {
            return k;
        }
    }
    return -1;
}

void acme_settings_pick(int *pwinner, const apr_array_header_t *recs, int nsettings)
{
    int i;
    for (i = 0; i < nsettings && i < ACME_SETTINGS_MAX; ++i) {
        pwinner[i] = first_writer(recs, i, 1);
        if (pwinner[i] < 0) {
            pwinner[i] = first_writer(recs, i, 0);
        }
    }
}

int acme_settings_group_https(const apr_array_header_t *recs)
{
    int k;
    for (k = 0; k < recs->nelts; ++k) {
        if (REC(recs, k)->https) {
            return 1;
        }
    }
    return 0;
}

static void group_conflicts(apr_array_header_t *out, apr_pool_t *p,
                            const apr_array_header_t *group, const char *const *directives,
                            int nsettings)
{
    int winner[ACME_SETTINGS_MAX];
    int i, k;

    if (!acme_settings_group_https(group)) {
        return; /* no https vhost: no certificate these settings could apply to */
    }
    acme_settings_pick(winner, group, nsettings);
    for (i = 0; i < nsettings && i < ACME_SETTINGS_MAX; ++i) {
        const acme_settings_rec_t *w;
        if (winner[i] < 0) {
            continue;
        }
        w = REC(group, winner[i]);
        for (k = winner[i] + 1; k < group->nelts; ++k) {
            const acme_settings_rec_t *r = REC(group, k);
            if (!r->https != !w->https || !r->values[i] || !strcmp(r->values[i], w->values[i])) {
                continue;
            }
            APR_ARRAY_PUSH(out, const char *) = apr_psprintf(
                p, "%s vhosts for the same names (%s) set %s differently: '%s' in %s, '%s' "
                "in %s; they share one certificate: give both the same value, or set it in "
                "one of them only", w->https ? "https" : "plain-http", w->names,
                directives[i], w->values[i], w->where, r->values[i], r->where);
        }
    }
}

apr_array_header_t *acme_settings_groups(apr_pool_t *p, const apr_array_header_t *recs)
{
    apr_array_header_t *order = apr_array_make(p, 8, sizeof(apr_array_header_t *));
    apr_hash_t *groups = apr_hash_make(p);
    int k;

    for (k = 0; k < recs->nelts; ++k) {
        const acme_settings_rec_t *r = REC(recs, k);
        apr_array_header_t *g;
        if (!r->names) {
            continue;
        }
        g = apr_hash_get(groups, r->names, APR_HASH_KEY_STRING);
        if (!g) {
            g = apr_array_make(p, 2, sizeof(const acme_settings_rec_t *));
            apr_hash_set(groups, r->names, APR_HASH_KEY_STRING, g);
            APR_ARRAY_PUSH(order, apr_array_header_t *) = g;
        }
        APR_ARRAY_PUSH(g, const acme_settings_rec_t *) = r;
    }
    return order;
}

const char *acme_settings_challenges_problem(const apr_array_header_t *types, int have_dns_hook)
{
    if (types && types->nelts == 1 && !have_dns_hook
        && !strcmp(APR_ARRAY_IDX(types, 0, const char *), ACME_CHALLENGE_DNS01)) {
        return "dns-01 is the only challenge type allowed, but no ACMEDNSHook publishes its "
               "TXT records: set ACMEDNSHook, or allow http-01 or tls-alpn-01 too";
    }
    return NULL;
}

apr_array_header_t *acme_settings_conflicts(apr_pool_t *p, const apr_array_header_t *recs,
                                            const char *const *directives, int nsettings)
{
    apr_array_header_t *out = apr_array_make(p, 2, sizeof(const char *));
    apr_array_header_t *groups = acme_settings_groups(p, recs);
    int k;

    for (k = 0; k < groups->nelts; ++k) {
        group_conflicts(out, p, APR_ARRAY_IDX(groups, k, apr_array_header_t *), directives,
                        nsettings);
    }
    return out;
}
