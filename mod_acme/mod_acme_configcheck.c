/* mod_acme: what `httpd -t` does not check but a (graceful) restart dies of.
 *
 * Run in check_config only when httpd runs as a configuration test (-t, `apachectl
 * configtest`, and the check the restarter makes before it restarts): the certificate and
 * key files of the TLS vhosts (not only ours) must load and match, and, in the
 * restarter's check, a new Listen must be bindable. A normal start is left to mod_ssl and
 * the listeners: these checks could only duplicate their errors. */
#include <apr_strings.h>
#include <apr_network_io.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>

#include "mod_acme_log.h"
#include "mod_acme_configcheck.h"
#include "acme_activation.h"
#include "acme_tlsfiles.h"

APLOG_USE_MODULE(acme);

/* SSL* directives of one server context (the main server or a VirtualHost section) */
typedef struct tls_ctx_t {
    const ap_directive_t *where;    /* the <VirtualHost> node, NULL for the main server */
    const char *engine;             /* SSLEngine argument, NULL when not set */
    apr_array_header_t *certs;      /* const ap_directive_t*: SSLCertificateFile */
    apr_array_header_t *keys;       /* SSLCertificateKeyFile */
} tls_ctx_t;

static void collect(tls_ctx_t *c, const ap_directive_t *d, apr_pool_t *p)
{
    for (; d; d = d->next) {
        if (!strcasecmp(d->directive, "<VirtualHost")) {
            continue; /* a context of its own */
        }
        if (!strcasecmp(d->directive, "SSLEngine")) {
            c->engine = ap_getword_conf(p, &(const char *){ d->args });
        }
        else if (!strcasecmp(d->directive, "SSLCertificateFile")) {
            APR_ARRAY_PUSH(c->certs, const ap_directive_t *) = d;
        }
        else if (!strcasecmp(d->directive, "SSLCertificateKeyFile")) {
            APR_ARRAY_PUSH(c->keys, const ap_directive_t *) = d;
        }
        if (d->first_child) {
            collect(c, d->first_child, p);
        }
    }
}

static tls_ctx_t *ctx_make(apr_pool_t *p, const ap_directive_t *where)
{
    tls_ctx_t *c = apr_pcalloc(p, sizeof(*c));
    c->where = where;
    c->certs = apr_array_make(p, 2, sizeof(const ap_directive_t *));
    c->keys = apr_array_make(p, 2, sizeof(const ap_directive_t *));
    return c;
}

static const char *file_arg(apr_pool_t *p, const ap_directive_t *d)
{
    const char *args = d->args;
    const char *f = ap_getword_conf(p, &args);
    return acme_tls_is_uri(f) ? f : ap_server_root_relative(p, f);
}

/* Check a context's pairs as mod_ssl forms them: the i-th certificate with the i-th key,
 * the key in the certificate file when there are fewer keys; a vhost without its own
 * files inherits the main server's. Returns the number of pairs that fail. */
static int check_ctx(const tls_ctx_t *c, const tls_ctx_t *main_ctx, server_rec *s,
                     apr_pool_t *p)
{
    const apr_array_header_t *certs = c->certs->nelts ? c->certs : main_ctx->certs;
    const apr_array_header_t *keys = c->keys->nelts ? c->keys : main_ctx->keys;
    const char *engine = c->engine ? c->engine : main_ctx->engine;
    int i, bad = 0;

    if (!engine || !strcasecmp(engine, "off")) {
        return 0; /* mod_ssl loads no files for it */
    }
    for (i = 0; i < certs->nelts; ++i) {
        const ap_directive_t *cd = APR_ARRAY_IDX(certs, i, const ap_directive_t *);
        const ap_directive_t *kd = i < keys->nelts ? APR_ARRAY_IDX(keys, i,
                                                                   const ap_directive_t *)
                                                   : NULL;
        const char *why;
        apr_status_t rv = acme_tls_pair_check(&why, p, file_arg(p, cd),
                                              kd ? file_arg(p, kd) : NULL);
        if (rv == APR_SUCCESS) {
            continue;
        }
        if (rv == APR_ENOTIMPL) {
            ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, ACMELOGNO(00106)
                         "%s line %d: SSLCertificateFile: %s", cd->filename, cd->line_num,
                         why);
            continue;
        }
        bad++;
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, ACMELOGNO(00105)
                     "%s line %d: SSLCertificateFile%s%s%s%s: %s (mod_ssl would stop httpd "
                     "at the next start or graceful restart)",
                     cd->filename, cd->line_num,
                     kd ? " with SSLCertificateKeyFile at " : "",
                     kd ? kd->filename : "", kd ? " line " : "",
                     kd ? apr_itoa(p, kd->line_num) : "", why);
    }
    return bad;
}

static int check_tls_files(server_rec *s, apr_pool_t *p)
{
    tls_ctx_t *main_ctx = ctx_make(p, NULL);
    const ap_directive_t *d;
    int bad;

    collect(main_ctx, ap_conftree, p);
    bad = check_ctx(main_ctx, ctx_make(p, NULL), s, p);
    for (d = ap_conftree; d; d = d->next) {
        if (!strcasecmp(d->directive, "<VirtualHost")) {
            tls_ctx_t *c = ctx_make(p, d);
            collect(c, d->first_child, p);
            bad += check_ctx(c, main_ctx, s, p);
        }
    }
    return bad;
}

/* In the restarter's check only (it names the running server's listeners): every Listen
 * that is new must be bindable, or the graceful restart would stop httpd. */
static int check_listen(server_rec *s, apr_pool_t *p)
{
    const char *running = getenv(ACME_LISTENERS_ENV);
    const ap_directive_t *d;
    int bad = 0;

    if (!running) {
        return 0; /* a plain configtest: the running server (if any) holds the ports */
    }
    for (d = ap_conftree; d; d = d->next) {
        const char *args = d->args, *arg;
        char *host = NULL, *scope = NULL;
        apr_port_t port = 0;
        apr_sockaddr_t *sa;
        apr_socket_t *sock = NULL;
        apr_status_t rv;

        if (strcasecmp(d->directive, "Listen")) {
            continue;
        }
        arg = ap_getword_conf(p, &args);
        if (apr_parse_addr_port(&host, &scope, &port, arg, p) != APR_SUCCESS || !port) {
            continue; /* httpd's own parser reports it */
        }
        if (!host && acme_listeners_has(running, NULL, port)) {
            continue;
        }
        if ((rv = apr_sockaddr_info_get(&sa, host, host ? APR_UNSPEC : APR_INET, port, 0, p))
            != APR_SUCCESS) {
            continue; /* httpd reports unresolvable names */
        }
        if (host) {
            char *ip;
            apr_sockaddr_ip_get(&ip, sa);
            if (acme_listeners_has(running, ip, port)) {
                continue;
            }
        }
        if ((rv = apr_socket_create(&sock, sa->family, SOCK_STREAM, APR_PROTO_TCP, p))
                == APR_SUCCESS
            && (rv = apr_socket_opt_set(sock, APR_SO_REUSEADDR, 1)) == APR_SUCCESS) {
            rv = apr_socket_bind(sock, sa);
        }
        if (sock) {
            apr_socket_close(sock);
        }
        if (rv != APR_SUCCESS) {
            char err[128];
            bad++;
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, ACMELOGNO(00107)
                         "%s line %d: Listen %s: the address cannot be bound: %s (a graceful "
                         "restart would stop httpd)", d->filename, d->line_num, arg,
                         apr_strerror(rv, err, sizeof(err)));
        }
    }
    return bad;
}

int mod_acme_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                          server_rec *s)
{
    int bad;
    if (ap_state_query(AP_SQ_RUN_MODE) != AP_SQ_RM_CONFIG_TEST) {
        return OK;
    }
    bad = check_tls_files(s, ptemp) + check_listen(s, ptemp);
    return bad ? HTTP_INTERNAL_SERVER_ERROR : OK;
}
