/* mod_acme glue: ACMEStatelessHTTP01. The root parent (which holds the store secret) builds
 * the table of managed names and reads the account thumbprints at start; the children
 * inherit it, and the http-01 responder asks it for tokens the store has no response for.
 * Which hosts, which account, which tokens: acme_stateless.c. */
#include <apr_hash.h>
#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

#include "mod_acme_log.h"
#include "mod_acme_stateless.h"
#include "acme_account.h"
#include "acme_stateless.h"

APLOG_USE_MODULE(acme);

void mod_acme_stateless_init(mod_acme_gen_t *m, apr_pool_t *ptemp)
{
    acme_stateless_t *sl = NULL;
    const char *kid = m->eab ? m->eab->kid : NULL;
    int i, j, known = 0, unknown = 0;

    m->stateless = NULL;
    if (!m->stateless_http01
        || acme_stateless_create(&sl, m->pool, m->store, m->secret) != APR_SUCCESS) {
        return;
    }
    for (i = 0; i < m->certs->nelts; ++i) {
        mod_acme_managed_t *mc = APR_ARRAY_IDX(m->certs, i, mod_acme_managed_t *);
        const char *ca = mc->spec.cert.ca_url ? mc->spec.cert.ca_url : m->ca_url;
        /* with EAB: the account with the binding, else one without (acme_account.h) */
        const char *entry = acme_account_entry_name(m->pool, ca, kid);
        const char *alt = kid ? acme_account_entry_name(m->pool, ca, NULL) : NULL;
        for (j = 0; j < mc->names->nelts; ++j) {
            acme_stateless_add(sl, APR_ARRAY_IDX(mc->names, j, const char *), entry, alt);
        }
    }
    acme_stateless_prime(sl, ptemp, &known, &unknown);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, m->s, ACMELOGNO(00670)
                 "ACMEStatelessHTTP01 on: http-01 is answered for any well-formed token on "
                 "%d managed name(s) with the account key's thumbprint (%d account(s) read, "
                 "%d not created yet: read from the store when asked)",
                 acme_stateless_count(sl), known, unknown);
    m->stateless = sl;
}

apr_status_t mod_acme_stateless_lookup(acme_challenge_answer_t **pans, request_rec *r,
                                       const char *token)
{
    const char *body = NULL;
    apr_status_t rv;

    *pans = NULL;
    if (!mod_acme_gen || !mod_acme_gen->stateless) {
        return APR_ENOENT;
    }
    rv = acme_stateless_answer(&body, r->pool, mod_acme_gen->stateless, token, r->hostname);
    if (rv == APR_SUCCESS) {
        *pans = apr_pcalloc(r->pool, sizeof(**pans));
        (*pans)->body = body;
        (*pans)->body_len = strlen(body);
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, ACMELOGNO(00671)
                      "http-01: no stored response for this token: answered statelessly "
                      "(ACMEStatelessHTTP01) for host %s", r->hostname);
        return APR_SUCCESS;
    }
    if (rv == APR_EACCES) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, ACMELOGNO(00672)
                      "http-01: ACMEStatelessHTTP01 answers only managed names, not host %s",
                      r->hostname ? r->hostname : "(none)");
    }
    else if (APR_STATUS_IS_ENOENT(rv)) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, ACMELOGNO(00673)
                      "http-01: ACMEStatelessHTTP01: no account for host %s in the store yet",
                      r->hostname);
    }
    return APR_ENOENT;
}
