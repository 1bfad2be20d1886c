/* Preferred chains (ACMEPreferredChain): which of the chains a CA offers for one certificate
 * (the download's own answer and its Link rel="alternate" ones, RFC 8555 7.4.2) is kept.
 *
 * A name matches a chain when it equals the issuer CN of the chain's top certificate (the
 * last one the CA sends), compared ASCII case-insensitively: the root the chain leads to, as
 * certbot's --preferred-chain means it. A chain that ends in a self-signed root matches that
 * root's own name too (its issuer is itself). */
#ifndef ACME_CHAINS_H
#define ACME_CHAINS_H

#include "acme.h"
#include "acme_client.h"
#include "acme_crypto.h"

#define ACME_CHAINS_MAX_ALTERNATES 8   /* alternates fetched at most per download */

/* The issuer CN of the top (last) certificate of chain (X509 *), NULL when it has none. */
const char *acme_chain_top_issuer(apr_pool_t *p, const apr_array_header_t *chain);

/* Index of the first of chains (each an apr_array_header_t * of X509 *) whose top issuer
 * CN is name (case-insensitive); -1 when none is, or name is NULL or empty. Pure. */
int acme_chain_select(apr_pool_t *p, const apr_array_header_t *chains, const char *name);

/* For status pages: NULL when nothing is to be said (no preference, the live chain ends at
 * it, or its top issuer is not known: a set staged before mod_acme recorded it), else a
 * warning that the live chain does not end at the preferred name. */
const char *acme_chain_pref_warning(apr_pool_t *p, const char *preferred, const char *live_top);

/* What acme_chain_prefer did. */
typedef struct acme_chain_pick_t {
    const char *pem;            /* the chain to stage (the default when nothing matched) */
    apr_size_t len;
    const apr_array_header_t *chain; /* the same, parsed (X509 *, leaf first) */
    int which;                  /* 0: the default chain, n: the n-th alternate */
    int matched;                /* the kept chain's top issuer is the preferred name */
    const char *top_issuer;     /* the kept chain's top issuer CN (NULL: none) */
    const char *offered;        /* every top issuer seen, "A (default), B, C" */
    const char *skipped;        /* alternates not usable and why, "URL: why; ..." or NULL */
} acme_chain_pick_t;

/* The chain to stage for a certificate whose default chain pem (already verified with key
 * and names) came in an answer with these headers. With name NULL/empty, or when the
 * default's top issuer is name, the default is kept without a request; else each Link
 * rel="alternate" (at most ACME_CHAINS_MAX_ALTERNATES) is fetched with POST-as-GET, and the
 * first whose top issuer is name and that passes the same verification as the default
 * (acme_cert_verify_set: links, key, names, dates) is taken. An alternate that cannot be
 * fetched or does not verify is skipped (said in ->skipped). Never fails the download:
 * when nothing matches, the default is kept (->matched 0). id is for log lines. chain is
 * pem already parsed (acme_chain_parse), or NULL to parse it here. */
apr_status_t acme_chain_prefer(acme_chain_pick_t **ppick, apr_pool_t *p, acme_client_t *c,
                               const char *id, const char *name, const char *pem,
                               apr_size_t len, const apr_array_header_t *chain,
                               apr_table_t *headers, const acme_key_t *key,
                               const apr_array_header_t *names, apr_time_t now);

#endif
