/* mod_acme: the certificate callback of a vhost whose names are split over several
 * certificates (acme_groups.c): the live parts are read into memory here, in the root
 * parent at start-up, and acme_sni.c picks one per handshake by SNI name. */
#include <apr_hash.h>
#include <apr_strings.h>
#include <openssl/crypto.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

#include "mod_acme_log.h"
#include "mod_acme_config.h"
#include "mod_acme_generation.h"
#include "mod_acme_settings.h"
#include "mod_acme_sni.h"

APLOG_USE_MODULE(acme);
#include "acme_util.h"
#include "acme_sni.h"

/* Part i of sc into sni: names, and the live set when there is one. */
static void load_part(acme_sni_t *sni, server_rec *s, int i, mod_acme_managed_t *mc,
                      apr_pool_t *p)
{
    char *chain = NULL, *key = NULL;
    apr_size_t chain_len = 0, key_len = 0;
    apr_status_t rv = APR_SUCCESS;

    if (mc->have_live
        && ((rv = acme_file_read(&chain, &chain_len, mc->live_chain, p)) != APR_SUCCESS
            || (rv = acme_file_read(&key, &key_len, mc->live_key, p)) != APR_SUCCESS)) {
        chain = NULL;
    }
    if (rv == APR_SUCCESS) {
        rv = acme_sni_set_part(sni, p, i, mc->names, chain, chain_len, key, key_len);
    }
    if (key) {
        OPENSSL_cleanse(key, key_len);
    }
    if (rv != APR_SUCCESS) {
        acme_sni_set_part(sni, p, i, mc->names, NULL, 0, NULL, 0);
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, ACMELOGNO(00571)
                     "%s: certificate %s: %s cannot be loaded for its SNI names: they are "
                     "served the first live part's certificate",
                     mod_acme_where(s, p), mc->id, mc->live_chain);
    }
}

int mod_acme_sni_init_server(server_rec *s, apr_pool_t *p, int is_proxy, SSL_CTX *ctx)
{
    mod_acme_vhost_t *sc;
    acme_sni_t *sni;
    int i;

    if (is_proxy || !mod_acme_gen || !(sc = mod_acme_vhost_get(s)) || !sc->parts
        || sc->on_fallback || !sc->is_tls) {
        return DECLINED;
    }
    acme_sni_create(&sni, p, sc->parts->nelts);
    for (i = 0; i < sc->parts->nelts; ++i) {
        load_part(sni, s, i, APR_ARRAY_IDX(sc->parts, i, mod_acme_managed_t *), p);
    }
    acme_sni_install(ctx, sni);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, ACMELOGNO(00570)
                 "%s: names split over %d certificates (%d live): each handshake gets the one "
                 "holding its SNI name", mod_acme_where(s, p), sc->parts->nelts,
                 acme_sni_live(sni));
    return OK;
}
