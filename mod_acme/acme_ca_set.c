/* One ACME client per configured CA (acme_ca_set.h). */
#include <apr_strings.h>

#include "acme_ca_set.h"

typedef struct {
    const char *url;
    acme_driver_env_t env;          /* env.client is this CA's client */
} ca_entry_t;

struct acme_ca_set_t {
    int n;
    ca_entry_t *ca;
};

apr_status_t acme_ca_set_create(acme_ca_set_t **ps, apr_pool_t *p, acme_http_t *http,
                                const apr_array_header_t *urls, const acme_driver_env_t *tmpl)
{
    acme_ca_set_t *s;
    apr_status_t rv = APR_SUCCESS;
    int k;

    *ps = NULL;
    if (!urls || urls->nelts < 1 || !tmpl) {
        return APR_EINVAL;
    }
    s = apr_pcalloc(p, sizeof(*s));
    s->n = urls->nelts;
    s->ca = apr_pcalloc(p, sizeof(ca_entry_t) * (apr_size_t)s->n);
    for (k = 0; k < s->n; ++k) {
        s->ca[k].url = apr_pstrdup(p, APR_ARRAY_IDX(urls, k, const char *));
        s->ca[k].env = *tmpl;
        rv = acme_client_create(&s->ca[k].env.client, p, http, s->ca[k].url);
        if (rv != APR_SUCCESS) {
            goto leave;
        }
    }
    *ps = s;
leave:
    return rv;
}

int acme_ca_set_count(const acme_ca_set_t *s)
{
    return s ? s->n : 0;
}

const char *acme_ca_set_url(const acme_ca_set_t *s, int k)
{
    return s && k >= 0 && k < s->n ? s->ca[k].url : NULL;
}

acme_client_t *acme_ca_set_client(acme_ca_set_t *s, int k)
{
    return s && k >= 0 && k < s->n ? s->ca[k].env.client : NULL;
}

const acme_driver_env_t *acme_ca_set_env(acme_ca_set_t *s, int k)
{
    return s && k >= 0 && k < s->n ? &s->ca[k].env : NULL;
}

apr_status_t acme_ca_set_account(acme_ca_set_t *s, int k, const acme_account_spec_t *as,
                                 apr_pool_t *p, acme_result_t *res)
{
    if (!s || k < 0 || k >= s->n) {
        return APR_EINVAL;
    }
    return acme_account_ensure(s->ca[k].env.client, s->ca[k].env.store, s->ca[k].env.secret, as,
                               p, res);
}

apr_uint32_t acme_ca_set_request_count(acme_ca_set_t *s)
{
    apr_uint32_t n = 0;
    int k;
    for (k = 0; s && k < s->n; ++k) {
        n += acme_client_request_count(s->ca[k].env.client);
    }
    return n;
}
