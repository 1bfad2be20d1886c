/* mod_acme: answering challenges: the http-01 responder (post_read_request, before
 * authentication, redirects, rewrites and proxying), tls-alpn-01 in the handshake, the
 * choice of challenge types, and the 503 answer of vhosts still on the fallback. */
/* stddef.h first: with offsetof defined, APR's ring macros (APR_BRIGADE_INSERT_TAIL) use it
 * instead of a member access through a null pointer (undefined behaviour UBSan reports). */
#include <stddef.h>

#include <apr_strings.h>
#include <apr_buckets.h>
#include <apr_lib.h>
#include <apr_shm.h>
#include <unistd.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_ssl.h>
#include <ap_listen.h>

#include "mod_acme_log.h"
#include "mod_acme_config.h"
#include "mod_acme_generation.h"
#include "mod_acme_challenge.h"
#include "mod_acme_stateless.h"

APLOG_USE_MODULE(acme);
#include "acme_challenge.h"
#include "acme_state.h"
#include "acme_ident.h"
#include "acme_util.h"

#define CHALLENGE_PREFIX "/.well-known/acme-challenge/"
#define PROTO_ACME_TLS_1 "acme-tls/1"

/* ---- which http-01 and tls-alpn-01 responses are pending, in every process ---------- */

#define PENDING_KEY "mod_acme_http01_pending"

/* The count (acme_pending.h) in anonymous shared memory, made by the parent before any
 * child exists and kept in the process pool: the children of every generation share it,
 * also old ones that still finish an order after a graceful restart. The parent moves the
 * count of each child that ends to "ended" (mod_acme_child_status). */
apr_status_t mod_acme_http01_counter_init(mod_acme_gen_t *m)
{
    apr_pool_t *pp = m->s->process->pool;
    void *data = NULL;
    apr_shm_t *shm;
    apr_status_t rv = APR_SUCCESS;

    apr_pool_userdata_get(&data, PENDING_KEY, pp);
    if (!data) {
        rv = apr_shm_create(&shm, acme_pending_size(), NULL, pp);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, rv, m->s, ACMELOGNO(00191)
                         "http-01: no shared memory for the count of pending challenges: "
                         "every well-formed token is looked up in the store");
            goto leave;
        }
        data = acme_pending_init(apr_shm_baseaddr_get(shm));
        apr_pool_userdata_set(data, PENDING_KEY, apr_pool_cleanup_null, pp);
    }
    m->http01_pending = data;
leave:
    return rv;
}

void mod_acme_http01_count(void *baton, const char *type, const char *key, int delta)
{
    acme_pending_publish(baton, (long)getpid(), type, key, delta);
}

void mod_acme_child_status(server_rec *s, pid_t pid, ap_generation_t gen, int slot,
                           mpm_child_status state)
{
    apr_uint32_t n;

    if (state == MPM_CHILD_EXITED && mod_acme_gen && mod_acme_gen->http01_pending
        && (n = acme_pending_release(mod_acme_gen->http01_pending, (long)pid)) != 0) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, ACMELOGNO(00193)
                     "http-01: child %ld ended with %u response(s) published: they count "
                     "until the store has none", (long)pid, (unsigned)n);
    }
}

/* Responses of ended children count until the store holds no http-01 response any more;
 * stale ones are removed meanwhile (acme_challenge_http01_sweep). Runs in the
 * parent, like the release, every ~10 s while ended children count. */
int mod_acme_http01_monitor(apr_pool_t *pool, server_rec *s)
{
    mod_acme_gen_t *m = mod_acme_gen;
    apr_array_header_t *removed;
    apr_pool_t *p;
    int i, left = 0;

    if (!m || !m->store_ok || !m->http01_pending || !acme_pending_ended(m->http01_pending)) {
        return DECLINED;
    }
    apr_pool_create(&p, pool);
    if (acme_challenge_http01_sweep(&removed, &left, p, m->store, apr_time_now(),
                                    ACME_HTTP01_STALE) == APR_SUCCESS) {
        for (i = 0; i < removed->nelts; ++i) {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, ACMELOGNO(00194)
                         "http-01: removed a response left in the store by a process "
                         "that ended (challenges/%s)", APR_ARRAY_IDX(removed, i, const char *));
        }
        if (!left) {
            acme_pending_clear_ended(m->http01_pending);
            ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, ACMELOGNO(00192)
                         "http-01: no response left in the store: unknown tokens are "
                         "answered without a look-up again");
        }
    }
    apr_pool_destroy(p);
    return DECLINED;
}

/* ---- the http-01 responder --------------------------------------------------------- */

static int answer_http01(request_rec *r, const char *token)
{
    acme_challenge_query_t q;
    acme_challenge_answer_t *ans = NULL;
    apr_bucket_brigade *bb;
    apr_status_t rv;

    if (r->method_number != M_GET) {
        return HTTP_NOT_FOUND;
    }
    memset(&q, 0, sizeof(q));
    q.token = token;
    q.host = r->hostname;
    q.pending = mod_acme_gen->http01_pending;
    rv = acme_challenge_lookup(&ans, r->pool, mod_acme_gen->store, ACME_CHALLENGE_HTTP01, &q);
    if (APR_STATUS_IS_ENOENT(rv)) {
        rv = mod_acme_stateless_lookup(&ans, r, token); /* ACMEStatelessHTTP01 */
    }
    if (rv == APR_EACCES) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, ACMELOGNO(00190)
                      "http-01: a challenge token for another host was asked for with Host %s",
                      r->hostname ? r->hostname : "(none)");
        return HTTP_NOT_FOUND;
    }
    if (rv != APR_SUCCESS) {
        if (rv != APR_EINVAL) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, ACMELOGNO(00020)
                          "http-01: no challenge in progress for this token");
        }
        return HTTP_NOT_FOUND;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ACMELOGNO(00021)
                  "http-01: answering a challenge for host %s",
                  r->hostname ? r->hostname : "?");
    r->status = HTTP_OK;
    ap_set_content_type(r, "text/plain");
    ap_set_content_length(r, (apr_off_t)ans->body_len);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    apr_brigade_write(bb, NULL, NULL, ans->body, ans->body_len);
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

/* Every request of every vhost passes here (REALLY_FIRST): a request that is neither a
 * challenge nor for a vhost on the fallback costs a few comparisons, no call, no look-up,
 * no allocation and no file access. */
int mod_acme_hook_post_read_request(request_rec *r)
{
    mod_acme_vhost_t *sc;
    const char *path;

    if (!mod_acme_gen || !mod_acme_gen->any_enabled || !mod_acme_gen->store_ok) {
        return DECLINED;
    }
    path = r->parsed_uri.path;
    /* "/." first: most paths differ there, without a call */
    if (path && path[0] == '/' && path[1] == '.'
        && !strncmp(path, CHALLENGE_PREFIX, sizeof(CHALLENGE_PREFIX) - 1)) {
        return answer_http01(r, path + sizeof(CHALLENGE_PREFIX) - 1);
    }
    if (!mod_acme_gen->any_fallback) {
        return DECLINED;
    }
    sc = mod_acme_vhost_get(r->server);
    if (sc && sc->on_fallback && ap_ssl_conn_is_ssl(r->connection)) {
        apr_table_setn(r->err_headers_out, "Retry-After", "30");
        ap_custom_response(r, HTTP_SERVICE_UNAVAILABLE, pending_page);
        return HTTP_SERVICE_UNAVAILABLE;
    }
    return DECLINED;
}

/* Whether a vhost serves the fallback: while none does, the request hook skips the
 * per-vhost look-up. mod_ssl's post_config (ssl_add_fallback_cert_files) has run. */
static void note_fallback(mod_acme_gen_t *m, apr_pool_t *p)
{
    apr_hash_index_t *hi;

    m->any_fallback = 0;
    for (hi = apr_hash_first(p, m->vhosts); hi && !m->any_fallback; hi = apr_hash_next(hi)) {
        mod_acme_vhost_t *v = apr_hash_this_val(hi);
        m->any_fallback = v && v->on_fallback;
    }
}

/* tls-alpn-01 needs "acme-tls/1" among the vhost's protocols, or mod_ssl never asks us. */
void mod_acme_enable_tlsalpn(mod_acme_gen_t *m, apr_pool_t *p)
{
    int i, j;

    note_fallback(m, p);

    for (i = 0; i < m->certs->nelts; ++i) {
        mod_acme_managed_t *mc = APR_ARRAY_IDX(m->certs, i, mod_acme_managed_t *);
        if (!mc->used_by_tls || !acme_names_contain(mc->spec.cert.challenge_types, ACME_CHALLENGE_TLSALPN01)) {
            continue;
        }
        for (j = 0; j < mc->vhosts->nelts; ++j) {
            server_rec *s = APR_ARRAY_IDX(mc->vhosts, j, server_rec *);
            mod_acme_vhost_t *v = mod_acme_vhost_get(s);
            core_server_config *csc = ap_get_core_module_config(s->module_config);
            apr_array_header_t *protos;
            if (!v || !v->is_tls || acme_names_contain(csc->protocols, PROTO_ACME_TLS_1)) {
                continue;
            }
            /* vhosts may share the array: copy before adding */
            protos = apr_array_make(p, 3, sizeof(const char *));
            if (csc->protocols && csc->protocols->nelts) {
                apr_array_cat(protos, csc->protocols);
            }
            else {
                APR_ARRAY_PUSH(protos, const char *) = "http/1.1";
            }
            APR_ARRAY_PUSH(protos, const char *) = PROTO_ACME_TLS_1;
            csc->protocols = protos;
        }
    }
}

/* ---- tls-alpn-01 in the handshake ------------------------------------------------- */

int mod_acme_hook_protocol_propose(conn_rec *c, request_rec *r, server_rec *s,
                                   const apr_array_header_t *offers,
                                   apr_array_header_t *proposals)
{
    if (!r && offers && mod_acme_gen && mod_acme_gen->any_tlsalpn && ap_ssl_conn_is_ssl(c)
        && acme_names_contain(offers, PROTO_ACME_TLS_1)) {
        APR_ARRAY_PUSH(proposals, const char *) = PROTO_ACME_TLS_1;
        return OK;
    }
    return DECLINED;
}

int mod_acme_hook_protocol_switch(conn_rec *c, request_rec *r, server_rec *s,
                                  const char *protocol)
{
    if (!r && mod_acme_gen && mod_acme_gen->any_tlsalpn && !strcmp(protocol, PROTO_ACME_TLS_1)
        && ap_ssl_conn_is_ssl(c)) {
        ap_set_module_config(c->conn_config, &acme_module, (void *)PROTO_ACME_TLS_1);
        c->keepalive = AP_CONN_CLOSE;
        return OK;
    }
    return DECLINED;
}

const char *mod_acme_hook_protocol_get(const conn_rec *c)
{
    return ap_get_module_config(c->conn_config, &acme_module);
}

/* RFC 8737: on an acme-tls/1 handshake for a name with a pending challenge, answer with
 * the challenge certificate. Normal clients never negotiate acme-tls/1. */
int mod_acme_hook_answer_challenge(conn_rec *c, const char *server_name, const char **pcert_pem,
                                   const char **pkey_pem)
{
    acme_challenge_query_t q;
    acme_challenge_answer_t *ans = NULL;

    if (!mod_acme_gen || !mod_acme_gen->store_ok || !server_name
        || !mod_acme_hook_protocol_get(c)) {
        return DECLINED;
    }
    memset(&q, 0, sizeof(q));
    q.host = server_name;
    q.secret = mod_acme_gen->secret;
    q.pending = mod_acme_gen->http01_pending;
    if (acme_challenge_lookup(&ans, c->pool, mod_acme_gen->store, ACME_CHALLENGE_TLSALPN01, &q)
        != APR_SUCCESS) {
        ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, c, ACMELOGNO(00062)
                      "tls-alpn-01: no challenge in progress for %s", server_name);
        return DECLINED;
    }
    ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, c, ACMELOGNO(00063)
                  "tls-alpn-01: answering a challenge for %s", server_name);
    *pcert_pem = ans->cert_pem;
    *pkey_pem = ans->key_pem;
    return OK;
}

/* The record the store already knows for name n (an earlier order, an account the store
 * still holds), exactly; else the template and what fills it. */
static void persist_hint(server_rec *vs, const char *n, const char *store_dir, apr_pool_t *p)
{
    const char *ident = n[0] == '*' ? n + 2 : n, *wild = n[0] == '*' ? "; policy=wildcard" : "";
    const char *where = vs->defn_name ? vs->defn_name : "?";
    const acme_persist_record_t *rec = NULL;
    acme_store_t *st = NULL;
    apr_size_t vlen, wlen = strlen(wild);

    if (acme_store_fs_create(&st, p, store_dir) == APR_SUCCESS
        && acme_persist_lookup(&rec, p, st, ident) == APR_SUCCESS
        && (vlen = strlen(rec->value)) >= wlen && !strcmp(rec->value + vlen - wlen, wild)) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, vs, ACMELOGNO(00584)
                     "%s:%d: %s uses dns-persist-01: publish (and keep) the TXT record %s",
                     where, vs->defn_line_number, n, acme_persist_zone_line(p, rec));
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, vs, ACMELOGNO(00552)
                 "%s:%d: %s uses dns-persist-01: publish the TXT record "
                 "_validation-persist.%s with the value \"ISSUER; accounturi=ACCOUNT-URL%s\" "
                 "(ISSUER: the CA's issuer domain, ACCOUNT-URL: this server's account at the CA; "
                 "both are known at the first order, which logs the exact record (ACME00550); "
                 "the status page, acmectl show and this check then give it)",
                 where, vs->defn_line_number, n, ident, wild);
}

/* configtest hints for dns-persist-01 (the record the CA will look for) and for IP
 * addresses without a profile (left out). */
static void check_persist_and_ip(server_rec *vs, mod_acme_srv_conf_t *sc, const char *store_dir,
                                 apr_pool_t *p)
{
    apr_array_header_t *names = apr_array_make(p, 4, sizeof(const char *));
    int i;

    APR_ARRAY_PUSH(names, const char *) = vs->server_hostname;
    for (i = 0; vs->names && i < vs->names->nelts; ++i) {
        APR_ARRAY_PUSH(names, const char *) = APR_ARRAY_IDX(vs->names, i, const char *);
    }
    for (i = 0; vs->wild_names && i < vs->wild_names->nelts; ++i) {
        APR_ARRAY_PUSH(names, const char *) = APR_ARRAY_IDX(vs->wild_names, i, const char *);
    }
    for (i = 0; i < names->nelts; ++i) {
        const char *n = APR_ARRAY_IDX(names, i, const char *), *why;
        if (!n) {
            continue;
        }
        if (acme_ident_ip(p, n)) {
            if ((why = acme_ident_ip_refused(sc->profile)) != NULL) {
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, vs, ACMELOGNO(00551)
                             "%s:%d: %s is left out of the certificate: %s",
                             vs->defn_name ? vs->defn_name : "?", vs->defn_line_number, n,
                             why);
            }
        }
        else if (acme_names_contain(sc->challenges, ACME_CHALLENGE_DNSPERSIST01)) {
            persist_hint(vs, n, store_dir, p);
        }
    }
}

/* apache2 -t runs no post_config: warn here about wildcards nobody can validate. */
int mod_acme_hook_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                               server_rec *s)
{
    const char *store_dir = mod_acme_srv_conf(s)->store_dir;
    server_rec *vs;
    int i;

    if (!store_dir) {
        store_dir = ap_server_root_relative(ptemp, "acme"); /* as mod_acme_gen_create */
    }
    for (vs = s; vs; vs = vs->next) {
        mod_acme_srv_conf_t *sc = mod_acme_srv_conf(vs);
        if (sc->enabled == 1 && vs != s) {
            check_persist_and_ip(vs, sc, store_dir, ptemp);
        }
        if (sc->enabled != 1 || sc->dns_hook
            || acme_names_contain(sc->challenges, ACME_CHALLENGE_DNSPERSIST01)) {
            continue;
        }
        for (i = 0; vs->wild_names && i < vs->wild_names->nelts; ++i) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, vs, ACMELOGNO(00064)
                         "%s:%d: ServerAlias %s is left out of the certificate: a wildcard "
                         "needs a DNS challenge, set ACMEDNSHook or ACMEChallenges dns-persist-01 "
                         "(see docs/challenges.md)",
                         vs->defn_name ? vs->defn_name : "?", vs->defn_line_number,
                         APR_ARRAY_IDX(vs->wild_names, i, const char *));
        }
    }
    return OK;
}
