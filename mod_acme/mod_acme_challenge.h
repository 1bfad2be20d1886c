/* mod_acme_challenge.c: http-01 and tls-alpn-01 answers, the http-01 pending count,
 * the choice of challenge types. */
#ifndef MOD_ACME_CHALLENGE_H
#define MOD_ACME_CHALLENGE_H

#include <httpd.h>
#include <ap_mpm.h>

#include "mod_acme_generation.h"

int mod_acme_hook_post_read_request(request_rec *r);
/* The shared count of pending http-01 responses (m->http01_pending): made once per httpd
 * run in the process pool, so every generation's children share it. */
apr_status_t mod_acme_http01_counter_init(mod_acme_gen_t *m);
/* acme_http01_count_fn for the driver (http-01 and tls-alpn-01 publications); baton:
 * m->http01_pending. */
void mod_acme_http01_count(void *baton, const char *type, const char *key, int delta);
/* child_status hook (parent): the count of a child that ended moves to "ended". */
void mod_acme_child_status(server_rec *s, pid_t pid, ap_generation_t gen, int slot,
                           mpm_child_status state);
/* monitor hook (parent): "ended" is cleared once the store has no http-01 response (stale
 * ones, ACME_HTTP01_STALE, are removed). */
int mod_acme_http01_monitor(apr_pool_t *p, server_rec *s);
/* After mod_ssl's post_config: "acme-tls/1" among the protocols of the vhosts that may use
 * tls-alpn-01, and m->any_fallback for the request hook. */
void mod_acme_enable_tlsalpn(mod_acme_gen_t *m, apr_pool_t *p);
int mod_acme_hook_protocol_propose(conn_rec *c, request_rec *r, server_rec *s,
                                   const apr_array_header_t *offers,
                                   apr_array_header_t *proposals);
int mod_acme_hook_protocol_switch(conn_rec *c, request_rec *r, server_rec *s,
                                  const char *protocol);
const char *mod_acme_hook_protocol_get(const conn_rec *c);
int mod_acme_hook_answer_challenge(conn_rec *c, const char *server_name, const char **pcert_pem,
                                   const char **pkey_pem);
int mod_acme_hook_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                               server_rec *s);

#endif
