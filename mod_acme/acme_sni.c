/* A split vhost's parts by SNI name: the pure choice, and the parts in memory for the
 * certificate callback. */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "acme_sni.h"
#include "acme_cert.h"
#include "acme_crypto.h"
#include "acme_util.h"

typedef struct sni_part_t {
    const apr_array_header_t *names;
    X509 *leaf;                     /* NULL: not live */
    STACK_OF(X509) *chain;          /* the certificates after the leaf */
    EVP_PKEY *key;
} sni_part_t;

#define ACME_SNI_ALPN_CHALLENGE "acme-tls/1"

struct acme_sni_t {
    int nparts;
    sni_part_t *parts;
    const apr_array_header_t **names;
};

/* Does wildcard "*.rest" cover name (one label more, that label not empty)? */
static int covers(const char *wild, const char *name)
{
    const char *dot = strchr(name, '.');
    return wild[0] == '*' && wild[1] == '.' && dot && dot != name && !strcmp(wild + 1, dot);
}

int acme_sni_pick(const apr_array_header_t *const *parts, int nparts, const char *sni)
{
    char name[256];
    apr_size_t len;
    int i, j;

    if (!sni || !*sni || (len = strlen(sni)) >= sizeof(name)) {
        return 0;
    }
    for (i = 0; i < (int)len; ++i) {
        name[i] = (char)apr_tolower(sni[i]);
    }
    name[len] = '\0';
    if (name[len - 1] == '.') {
        name[len - 1] = '\0';
    }
    for (i = 0; i < nparts; ++i) {
        if (acme_names_contain(parts[i], name)) {
            return i;
        }
    }
    for (i = 0; i < nparts; ++i) {
        for (j = 0; parts[i] && j < parts[i]->nelts; ++j) {
            if (covers(APR_ARRAY_IDX(parts[i], j, const char *), name)) {
                return i;
            }
        }
    }
    return 0;
}

static apr_status_t part_cleanup(void *data)
{
    sni_part_t *pt = data;
    sk_X509_pop_free(pt->chain, X509_free);
    X509_free(pt->leaf);
    EVP_PKEY_free(pt->key);
    pt->chain = NULL;
    pt->leaf = NULL;
    pt->key = NULL;
    return APR_SUCCESS;
}

apr_status_t acme_sni_create(acme_sni_t **psni, apr_pool_t *p, int nparts)
{
    acme_sni_t *sni = apr_pcalloc(p, sizeof(*sni));
    sni->nparts = nparts;
    sni->parts = apr_pcalloc(p, sizeof(*sni->parts) * (apr_size_t)(nparts + 1));
    sni->names = apr_pcalloc(p, sizeof(*sni->names) * (apr_size_t)(nparts + 1));
    *psni = sni;
    return APR_SUCCESS;
}

apr_status_t acme_sni_set_part(acme_sni_t *sni, apr_pool_t *p, int i,
                               const apr_array_header_t *names,
                               const char *chain_pem, apr_size_t chain_len,
                               const char *key_pem, apr_size_t key_len)
{
    sni_part_t *pt;
    apr_array_header_t *chain;
    acme_key_t *key;
    apr_status_t rv = APR_SUCCESS;
    int k;

    if (i < 0 || i >= sni->nparts) {
        rv = APR_EINVAL;
        goto out;
    }
    pt = &sni->parts[i];
    pt->names = sni->names[i] = names;
    if (!chain_pem) {
        goto out;
    }
    if ((rv = acme_chain_parse(&chain, p, chain_pem, chain_len)) != APR_SUCCESS
        || (rv = acme_key_from_pem(&key, p, key_pem, key_len)) != APR_SUCCESS) {
        goto out;
    }
    if (X509_check_private_key(APR_ARRAY_IDX(chain, 0, X509 *), acme_key_evp(key)) != 1) {
        rv = ACME_EPROTO;
        goto out;
    }
    /* own references: the pool's cleanups of the parsed copies run in any order */
    pt->leaf = APR_ARRAY_IDX(chain, 0, X509 *);
    X509_up_ref(pt->leaf);
    pt->key = acme_key_evp(key);
    EVP_PKEY_up_ref(pt->key);
    pt->chain = sk_X509_new_null();
    for (k = 1; k < chain->nelts; ++k) {
        X509 *x = APR_ARRAY_IDX(chain, k, X509 *);
        X509_up_ref(x);
        sk_X509_push(pt->chain, x);
    }
    apr_pool_cleanup_register(p, pt, part_cleanup, apr_pool_cleanup_null);
out:
    return rv;
}

int acme_sni_live(const acme_sni_t *sni)
{
    int i, n = 0;
    for (i = 0; i < sni->nparts; ++i) {
        n += sni->parts[i].leaf != NULL;
    }
    return n;
}

int acme_sni_apply(SSL *ssl, const acme_sni_t *sni)
{
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    const sni_part_t *pt = &sni->parts[acme_sni_pick(sni->names, sni->nparts, name)];
    const unsigned char *alpn = NULL;
    unsigned int alpn_len = 0;

    /* tls-alpn-01: in TLS 1.3 mod_ssl has already put the challenge certificate on the
     * connection when it selected acme-tls/1 (ALPN comes before this callback): keep it */
    SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
    if (alpn_len == sizeof(ACME_SNI_ALPN_CHALLENGE) - 1
        && !memcmp(alpn, ACME_SNI_ALPN_CHALLENGE, alpn_len)) {
        return 1;
    }
    if (!pt->leaf) {
        pt = &sni->parts[0];
    }
    if (!pt->leaf) {
        return 1;                       /* nothing live: the SSL_CTX's certificate */
    }
    return SSL_use_certificate(ssl, pt->leaf) == 1 && SSL_use_PrivateKey(ssl, pt->key) == 1
           && SSL_set1_chain(ssl, pt->chain) == 1;
}

static int cert_cb(SSL *ssl, void *arg)
{
    return acme_sni_apply(ssl, arg);
}

void acme_sni_install(SSL_CTX *ctx, const acme_sni_t *sni)
{
    SSL_CTX_set_cert_cb(ctx, cert_cb, (void *)sni);
}
