/* mod_acme: ACMERequireHttps. When: in post_read_request, after the http-01 responder
 * (which runs REALLY_FIRST and so answers challenge paths before this), with a hash look-up
 * and no file access. What: acme_https_decide (acme_https.c). */
#include <apr_strings.h>
#include <apr_hash.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_ssl.h>

#include "mod_acme_log.h"
#include "mod_acme_config.h"
#include "mod_acme_generation.h"
#include "mod_acme_https.h"

APLOG_USE_MODULE(acme);
#include "acme_https.h"

void mod_acme_https_init(mod_acme_gen_t *m)
{
    int i, j;

    m->https_names = apr_hash_make(m->pool);
    for (i = 0; i < m->certs->nelts; ++i) {
        mod_acme_managed_t *mc = APR_ARRAY_IDX(m->certs, i, mod_acme_managed_t *);
        if (!mc->used_by_tls || !mc->have_live || mc->settings->require_https <= 0) {
            continue;   /* off, or only the fallback serves its names */
        }
        for (j = 0; j < mc->names->nelts; ++j) {
            apr_hash_set(m->https_names, APR_ARRAY_IDX(mc->names, j, const char *),
                         APR_HASH_KEY_STRING, mc);
        }
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, m->s, ACMELOGNO(00561)
                     "certificate %s: ACMERequireHttps %s: http requests for its names are "
                     "redirected to https%s", mc->id,
                     acme_https_mode_name((acme_https_mode_t)mc->settings->require_https),
                     mc->settings->require_https == ACME_HTTPS_PERMANENT
                     ? ", https responses carry HSTS" : "");
    }
}

/* The certificate that asks for https for host: its exact name, else "*.rest". */
static mod_acme_managed_t *https_cert(const char *host, apr_pool_t *p)
{
    apr_hash_t *h = mod_acme_gen->https_names;
    mod_acme_managed_t *mc = apr_hash_get(h, host, APR_HASH_KEY_STRING);
    const char *dot;

    if (!mc && (dot = strchr(host, '.')) != NULL) {
        mc = apr_hash_get(h, apr_pstrcat(p, "*", dot, NULL), APR_HASH_KEY_STRING);
    }
    return mc;
}

int mod_acme_https_post_read_request(request_rec *r)
{
    mod_acme_gen_t *m = mod_acme_gen;
    mod_acme_managed_t *mc;
    acme_https_request_t req;
    acme_https_answer_t *ans;

    if (!m || !m->https_names || !apr_hash_count(m->https_names) || !r->hostname
        || !(mc = https_cert(r->hostname, r->pool))) {
        return DECLINED;
    }
    memset(&req, 0, sizeof(req));
    req.mode = (acme_https_mode_t)mc->settings->require_https;
    req.cert_live = 1;              /* https_names holds live certificates only */
    req.is_tls = ap_ssl_conn_is_ssl(r->connection);
    req.host = r->hostname;
    req.host_header = apr_table_get(r->headers_in, "Host");
    req.path = r->parsed_uri.path;
    req.query = r->parsed_uri.query;
    req.port_http = m->port_http;
    req.port_https = m->port_https;
    acme_https_decide(&ans, r->pool, &req);
    if (ans->hsts) {
        apr_table_setn(r->err_headers_out, "Strict-Transport-Security", ans->hsts);
    }
    if (ans->status) {
        ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r, ACMELOGNO(00562)
                      "ACMERequireHttps: %d to %s", ans->status, ans->location);
        apr_table_setn(r->headers_out, "Location", ans->location);
        return ans->status;
    }
    return DECLINED;
}
