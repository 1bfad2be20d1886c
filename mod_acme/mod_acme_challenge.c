/* mod_acme: the http-01 responder and the 503 answer of vhosts still on the fallback.
 * Runs in post_read_request, before authentication, redirects, rewrites and proxying. */
#include <apr_strings.h>
#include <apr_buckets.h>
#include <apr_lib.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_ssl.h>

#include "mod_acme.h"

APLOG_USE_MODULE(acme);
#include "acme_driver.h"

#define CHALLENGE_PREFIX "/.well-known/acme-challenge/"
#define MAX_TOKEN_LEN 256

/* RFC 8555 8.3: a token is base64url: anything else is not ours to look up. */
static int token_valid(const char *t)
{
    apr_size_t n = 0;
    for (; *t; ++t, ++n) {
        if (!(apr_isalnum(*t) || *t == '-' || *t == '_') || n >= MAX_TOKEN_LEN) {
            return 0;
        }
    }
    return n > 0;
}

static int answer_http01(request_rec *r, const char *token)
{
    acme_store_t *st = acme_mod->store;
    char *data;
    apr_size_t len;
    apr_bucket_brigade *bb;

    if (r->method_number != M_GET) {
        return HTTP_NOT_FOUND;
    }
    if (!token_valid(token)
        || acme_store_load(st, ACME_GROUP_CHALLENGES, acme_http01_store_name(r->pool, token),
                           "http-01", &data, &len, r->pool) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, ACMELOGNO(00020)
                      "http-01: no challenge in progress for this token");
        return HTTP_NOT_FOUND;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ACMELOGNO(00021)
                  "http-01: answering a challenge for host %s",
                  r->hostname ? r->hostname : "?");
    r->status = HTTP_OK;
    ap_set_content_type(r, "text/plain");
    ap_set_content_length(r, (apr_off_t)len);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    apr_brigade_write(bb, NULL, NULL, data, len);
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(r->connection->bucket_alloc));
    ap_pass_brigade(r->output_filters, bb);
    return DONE;
}

static const char *pending_page =
    "<!DOCTYPE html>\n<html><head><title>503 Certificate being obtained</title></head>\n"
    "<body><h1>Certificate being obtained</h1>\n"
    "<p>This site's TLS certificate is being obtained from the certificate authority. "
    "The site will be available in a moment: please try again shortly.</p>\n"
    "<hr><address>mod_acme</address></body></html>\n";

int acme_hook_post_read_request(request_rec *r)
{
    acme_vhost_t *sc;
    const char *path;

    if (!acme_mod || !acme_mod->any_enabled || !acme_mod->store_ok) {
        return DECLINED;
    }
    path = r->parsed_uri.path;
    if (path && !strncmp(path, CHALLENGE_PREFIX, sizeof(CHALLENGE_PREFIX) - 1)) {
        return answer_http01(r, path + sizeof(CHALLENGE_PREFIX) - 1);
    }
    sc = acme_vhost_get(r->server);
    if (sc && sc->on_fallback && ap_ssl_conn_is_ssl(r->connection)) {
        apr_table_setn(r->err_headers_out, "Retry-After", "30");
        ap_custom_response(r, HTTP_SERVICE_UNAVAILABLE, pending_page);
        return HTTP_SERVICE_UNAVAILABLE;
    }
    return DECLINED;
}
