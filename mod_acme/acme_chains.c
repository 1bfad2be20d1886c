/* Preferred chains: choose among the chains a CA offers for one certificate. */
#include <strings.h>

#include <apr_strings.h>

#include "acme_chains.h"
#include "acme_cert.h"
#include "acme_log.h"
#include "acme_verify.h"

#define CT_PEM_CHAIN "application/pem-certificate-chain"

const char *acme_chain_top_issuer(apr_pool_t *p, const apr_array_header_t *chain)
{
    acme_cert_info_t *info = NULL;

    if (!chain || chain->nelts == 0
        || acme_cert_info(&info, p, APR_ARRAY_IDX(chain, chain->nelts - 1, X509 *))
               != APR_SUCCESS) {
        return NULL;
    }
    return info->issuer_cn;
}

static int top_is(apr_pool_t *p, const apr_array_header_t *chain, const char *name)
{
    const char *top = acme_chain_top_issuer(p, chain);
    return top && name && *name && !strcasecmp(top, name);
}

int acme_chain_select(apr_pool_t *p, const apr_array_header_t *chains, const char *name)
{
    int i;

    for (i = 0; chains && i < chains->nelts; ++i) {
        if (top_is(p, APR_ARRAY_IDX(chains, i, const apr_array_header_t *), name)) {
            return i;
        }
    }
    return -1;
}

const char *acme_chain_pref_warning(apr_pool_t *p, const char *preferred, const char *live_top)
{
    if (!preferred || !*preferred || !live_top || !strcasecmp(preferred, live_top)) {
        return NULL;
    }
    return apr_psprintf(p, "ACMEPreferredChain '%s': the CA offered no chain that ends there "
                        "when this certificate was issued; serving the chain that ends at "
                        "'%s'", preferred, live_top);
}

static const char *issuer_text(apr_pool_t *p, const apr_array_header_t *chain)
{
    const char *top = acme_chain_top_issuer(p, chain);
    return top ? apr_psprintf(p, "'%s'", top) : "(no issuer CN)";
}

/* Fetch one alternate: APR_SUCCESS with its parsed chain and text, else *pwhy. */
static apr_status_t fetch_alternate(apr_array_header_t **pchain, const char **ppem,
                                    apr_size_t *plen, const char **pwhy, apr_pool_t *p,
                                    acme_client_t *c, const char *url)
{
    acme_response_t *resp = NULL;
    acme_result_t res;
    apr_status_t rv;

    acme_result_reset(&res);
    rv = acme_client_post_accept(&resp, c, p, url, NULL, 0, CT_PEM_CHAIN, &res);
    if (rv != APR_SUCCESS) {
        *pwhy = acme_result_str(&res, p);
        return rv;
    }
    *ppem = apr_pstrmemdup(p, resp->body, resp->body_len);
    *plen = resp->body_len;
    rv = acme_chain_parse(pchain, p, *ppem, *plen);
    if (rv != APR_SUCCESS) {
        *pwhy = "not a PEM certificate chain";
    }
    return rv;
}

apr_status_t acme_chain_prefer(acme_chain_pick_t **ppick, apr_pool_t *p, acme_client_t *c,
                               const char *id, const char *name, const char *pem,
                               apr_size_t len, const apr_array_header_t *chain,
                               apr_table_t *headers, const acme_key_t *key,
                               const apr_array_header_t *names, apr_time_t now)
{
    acme_chain_pick_t *pick = apr_pcalloc(p, sizeof(*pick));
    apr_array_header_t *parsed = NULL, *links;
    int i;

    pick->pem = pem;
    pick->len = len;
    *ppick = pick;
    if (!chain) {
        if (acme_chain_parse(&parsed, p, pem, len) != APR_SUCCESS) {
            return APR_SUCCESS;         /* the caller verified it: cannot happen */
        }
        chain = parsed;
    }
    pick->chain = chain;
    pick->top_issuer = acme_chain_top_issuer(p, chain);
    pick->offered = apr_pstrcat(p, issuer_text(p, chain), " (default)", NULL);
    if (!name || !*name) {
        return APR_SUCCESS;
    }
    if (top_is(p, chain, name)) {
        pick->matched = 1;
        return APR_SUCCESS;
    }
    links = acme_links(p, headers, "alternate");
    for (i = 0; i < links->nelts && i < ACME_CHAINS_MAX_ALTERNATES; ++i) {
        const char *url = APR_ARRAY_IDX(links, i, const char *), *apem = NULL, *why = NULL;
        apr_array_header_t *alt = NULL;
        apr_size_t alen = 0;

        if (fetch_alternate(&alt, &apem, &alen, &why, p, c, url) == APR_SUCCESS) {
            pick->offered = apr_pstrcat(p, pick->offered, ", ", issuer_text(p, alt), NULL);
            if (!top_is(p, alt, name)) {
                continue;
            }
            if (acme_cert_verify_chain(&why, p, alt, key, names, now) == APR_SUCCESS) {
                pick->pem = apem;
                pick->len = alen;
                pick->chain = alt;
                pick->which = i + 1;
                pick->matched = 1;
                pick->top_issuer = acme_chain_top_issuer(p, alt);
                acme_log(ACME_LOG_INFO, APR_SUCCESS, ACMELOGNO(00481) "certificate %s: "
                         "took the alternate chain %s, whose top certificate was issued by "
                         "'%s' (ACMEPreferredChain)", id, url, pick->top_issuer);
                return APR_SUCCESS;
            }
        }
        pick->skipped = apr_psprintf(p, "%s%s%s: %s", pick->skipped ? pick->skipped : "",
                                     pick->skipped ? "; " : "", url, why ? why : "unusable");
    }
    acme_log(ACME_LOG_WARNING, APR_SUCCESS, ACMELOGNO(00480) "certificate %s: no chain the "
             "CA offers ends at '%s' (ACMEPreferredChain); keeping the default chain. Top "
             "issuers offered: %s%s%s", id, name, pick->offered,
             pick->skipped ? "; not usable: " : "", pick->skipped ? pick->skipped : "");
    return APR_SUCCESS;
}
