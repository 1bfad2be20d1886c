/* The configured CAs: known names and the failover choice (acme_ca.h). */
#include <string.h>

#include <apr_strings.h>
#include <apr_uri.h>
#include <apr_cstr.h>

#include "acme_ca.h"

typedef struct {
    const char *name, *url;
} known_ca_t;

static const known_ca_t known[] = {
    { "letsencrypt", "https://acme-v02.api.letsencrypt.org/directory" },
    { "letsencrypt-staging", "https://acme-staging-v02.api.letsencrypt.org/directory" },
    { "zerossl", "https://acme.zerossl.com/v2/DV90" },
    { "google", "https://dv.acme-v02.api.pki.goog/directory" },
    { "google-staging", "https://dv.acme-v02.test-api.pki.goog/directory" },
    { NULL, NULL }
};

/* Names an admin may still have in a configuration, and why they are not offered. */
static const known_ca_t closed[] = {
    { "buypass", "Buypass closed its ACME service in October 2025" },
    { "buypass-test", "Buypass closed its ACME service in October 2025" },
    { NULL, NULL }
};

static const char *known_names(apr_pool_t *p)
{
    const char *s = NULL;
    int i;
    for (i = 0; known[i].name; ++i) {
        s = s ? apr_pstrcat(p, s, ", ", known[i].name, NULL) : known[i].name;
    }
    return s;
}

const char *acme_ca_known_url(const char *name)
{
    int i;
    for (i = 0; name && known[i].name; ++i) {
        if (!apr_cstr_casecmp(name, known[i].name)) {
            return known[i].url;
        }
    }
    return NULL;
}

const char *acme_ca_known_name(const char *url)
{
    int i;
    for (i = 0; url && known[i].name; ++i) {
        if (!strcmp(url, known[i].url)) {
            return known[i].name;
        }
    }
    return NULL;
}

apr_status_t acme_ca_resolve(const char **purl, const char **perr, apr_pool_t *p,
                             const char *arg)
{
    apr_uri_t uri;
    int i;

    *purl = NULL;
    *perr = NULL;
    if ((*purl = acme_ca_known_url(arg)) != NULL) {
        return APR_SUCCESS;
    }
    for (i = 0; arg && closed[i].name; ++i) {
        if (!apr_cstr_casecmp(arg, closed[i].name)) {
            *perr = apr_psprintf(p, "'%s' is not a known CA name: %s. Known names: %s, or "
                                 "give the directory URL of another CA", arg, closed[i].url,
                                 known_names(p));
            return APR_EINVAL;
        }
    }
    if (!arg || apr_uri_parse(p, arg, &uri) != APR_SUCCESS || !uri.scheme
        || apr_cstr_casecmp(uri.scheme, "https") || !uri.hostname || !*uri.hostname) {
        *perr = apr_psprintf(p, "'%s' is not a CA directory URL: give an https:// URL (e.g. "
                             "https://acme.example.org/directory) or one of %s",
                             arg ? arg : "", known_names(p));
        return APR_EINVAL;
    }
    *purl = arg;
    return APR_SUCCESS;
}

const char *acme_ca_label(apr_pool_t *p, const char *url)
{
    const char *name = acme_ca_known_name(url);
    if (!url) {
        return "-";
    }
    return name ? apr_psprintf(p, "%s (%s)", url, name) : url;
}

int acme_ca_pick(int n, int failures, int threshold)
{
    if (n <= 1 || failures <= 0 || threshold <= 0) {
        return 0;
    }
    return (failures / threshold) % n;
}

int acme_ca_issuer_index(const apr_array_header_t *urls, const char *live_ca)
{
    int k = acme_ca_index(urls, live_ca);
    return k >= 0 ? k : 0;
}

int acme_ca_index(const apr_array_header_t *urls, const char *url)
{
    int i;
    for (i = 0; urls && url && i < urls->nelts; ++i) {
        if (!strcmp(APR_ARRAY_IDX(urls, i, const char *), url)) {
            return i;
        }
    }
    return -1;
}

static int is_letsencrypt(const char *url)
{
    const char *name = acme_ca_known_name(url);

    return name && (!strcmp(name, "letsencrypt") || !strcmp(name, "letsencrypt-staging"));
}

/* A rate of `per_sec` requests a second with a burst of `burst`: `burst` at once, then one
 * every 1/per_sec s (acme_pace.h's count per period). */
static acme_pace_rate_t rate_burst(int per_sec, int burst)
{
    acme_pace_rate_t r;

    r.count = burst;
    r.period = (apr_interval_time_t)burst * APR_USEC_PER_SEC / per_sec;
    return r;
}

void acme_ca_request_limits(acme_pace_limits_t *lim, const char *url,
                            acme_request_rates_e mode)
{
    memset(lim->requests, 0, sizeof(lim->requests));
    if (mode == ACME_REQUEST_RATES_OFF
        || (mode == ACME_REQUEST_RATES_AUTO && !is_letsencrypt(url))) {
        return;
    }
    lim->requests[ACME_PACE_EP_DIRECTORY] = rate_burst(40, 40);
    lim->requests[ACME_PACE_EP_NEW_NONCE] = rate_burst(20, 10);
    lim->requests[ACME_PACE_EP_NEW_ACCOUNT] = rate_burst(5, 15);
    lim->requests[ACME_PACE_EP_REVOKE] = rate_burst(10, 100);
    lim->requests[ACME_PACE_EP_RENEWAL_INFO] = rate_burst(1000, 100);
    lim->requests[ACME_PACE_EP_OTHER] = rate_burst(250, 125);
}

apr_status_t acme_ca_request_rates_parse(acme_request_rates_e *mode, const char *arg)
{
    if (arg && !apr_cstr_casecmp(arg, "auto")) {
        *mode = ACME_REQUEST_RATES_AUTO;
    }
    else if (arg && !apr_cstr_casecmp(arg, "letsencrypt")) {
        *mode = ACME_REQUEST_RATES_LETSENCRYPT;
    }
    else if (arg && !apr_cstr_casecmp(arg, "off")) {
        *mode = ACME_REQUEST_RATES_OFF;
    }
    else {
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

void acme_ca_limits(acme_pace_limits_t *lim, const char *url)
{
    memset(lim, 0, sizeof(*lim));
    if (is_letsencrypt(url)) {
        /* staging's limits are higher: production's are safe there too */
        lim->orders.count = 300;
        lim->orders.period = apr_time_from_sec(3 * 3600);
        lim->new_order.count = 200;
        lim->new_order.period = apr_time_from_sec(1);
        lim->ari_exempt = 1;
        return;
    }
    lim->new_order.count = ACME_PACE_UNKNOWN_NEW_ORDER;
    lim->new_order.period = apr_time_from_sec(1);
}
