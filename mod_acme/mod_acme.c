/* mod_acme: module declaration and hook registration. */
#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_ssl.h>
#include <mpm_common.h>
#include <mod_status.h>
#include <apr_optional_hooks.h>

#include "mod_acme_log.h"
#include "mod_acme_config.h"
#include "mod_acme_generation.h"
#include "mod_acme_settings.h"
#include "mod_acme_ssl.h"
#include "mod_acme_challenge.h"
#include "mod_acme_watchdog.h"
#include "mod_acme_fleet.h"
#include "mod_acme_restart.h"
#include "mod_acme_configcheck.h"
#include "mod_acme_status.h"
#include "mod_acme_https.h"
#include "mod_acme_sni.h"
#include "mod_acme_stateless.h"
#include "acme_log.h"

mod_acme_gen_t *mod_acme_gen;

/* The core logs through this sink (acme_log.h): it never calls ap_log_* itself. The line
 * names the core file and line that logged (httpd prints the file's base name), with our
 * module's index so that "LogLevel acme:debug" applies; acme_log checked the level. */
static void log_sink(void *baton, const char *file, int line, acme_log_level_t level,
                     apr_status_t rv, const char *msg)
{
    server_rec *s = baton;
    ap_log_error_(file, line, APLOG_MODULE_INDEX, (int)level, ACME_LOG_RV(rv), s, "%s", msg);
}

static int log_enabled(void *baton, acme_log_level_t level)
{
    server_rec *s = baton;
    return APLOG_IS_LEVEL(s, (int)level);
}

/* Before mod_ssl: set up the store and the fallback, find the name sets, and activate
 * staged certificates, so that mod_ssl's certificate hooks find them live. */
static int post_config_early(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                             server_rec *s)
{
    mod_acme_gen_t *m;

    mod_acme_gen = NULL;
    m = mod_acme_gen_create(pconf, s);
    if (!m->any_enabled) {
        return OK;
    }
    acme_log_set_at(log_sink, log_enabled, s);
    mod_acme_gen = m;
    if (mod_acme_store_init(m, ptemp) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    mod_acme_plan_vhosts(m, ptemp);
    if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG) {
        /* not in the dry-run pass at first start: its state is thrown away, and the
         * generation that serves must know what it activated */
        mod_acme_restart_take_activated(m);
        mod_acme_activate_staged(m, ptemp);
        mod_acme_archive_orphans(m, ptemp);
    }
    mod_acme_load_states(m, ptemp);
    return OK;
}

/* After mod_ssl (which told us which vhosts are TLS), before mod_watchdog: plan each
 * certificate and start the driver. */
static int post_config_late(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                            server_rec *s)
{
    mod_acme_gen_t *m = mod_acme_gen;

    if (!m || !m->store_ok) {
        return OK;
    }
    mod_acme_plan_certs(m, ptemp);
    mod_acme_enable_tlsalpn(m, pconf);
    mod_acme_https_init(m);
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK; /* the dry-run pass at first start: nothing survives it */
    }
    if (!m->secret_ok) {
        return OK; /* serve what is live; no ACME work without the secret (logged) */
    }
    mod_acme_reuse_keys(m, ptemp);
    mod_acme_http01_counter_init(m);
    mod_acme_stateless_init(m, ptemp);
    if (mod_acme_fleet_setup(m, pconf) != APR_SUCCESS) {
        return OK; /* fleet mode without its key (logged): serve what is live, order nothing */
    }
    if (mod_acme_watchdog_setup(m, pconf) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    mod_acme_restarter_start(m, pconf);
    return OK;
}

static void register_hooks(apr_pool_t *p)
{
    static const char *const before_ssl[] = { "mod_ssl.c", NULL };
    static const char *const after_ssl[] = { "mod_ssl.c", NULL };
    static const char *const before_wd[] = { "mod_watchdog.c", NULL };

    /* store, fallback, activation of staged certificates: before mod_ssl reads files */
    ap_hook_post_config(post_config_early, NULL, before_ssl, APR_HOOK_MIDDLE);
    /* planning and the driver: after mod_ssl's certificate hooks, before mod_watchdog */
    ap_hook_post_config(post_config_late, after_ssl, before_wd, APR_HOOK_MIDDLE);
    /* live or fallback certificate files for each managed https vhost */
    ap_hook_ssl_add_cert_files(mod_acme_hook_add_cert_files, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_ssl_add_fallback_cert_files(mod_acme_hook_add_fallback_cert_files, NULL, NULL,
                                        APR_HOOK_MIDDLE);
    /* parent: the http-01 responses a child published count as "ended" when it exits */
    ap_hook_child_status(mod_acme_child_status, NULL, NULL, APR_HOOK_MIDDLE);
    /* the watchdog child ends: its run stops at the orders' next wait */
    ap_hook_child_stopping(mod_acme_watchdog_child_stopping, NULL, NULL, APR_HOOK_MIDDLE);
    /* parent: ...until the store holds none any more */
    ap_hook_monitor(mod_acme_http01_monitor, NULL, NULL, APR_HOOK_MIDDLE);
    /* http-01 answers and the 503 of pending vhosts, before anything else sees the request */
    ap_hook_post_read_request(mod_acme_hook_post_read_request, NULL, NULL, APR_HOOK_REALLY_FIRST);
    /* ACMERequireHttps: redirect to https, HSTS (after the http-01 responder above) */
    ap_hook_post_read_request(mod_acme_https_post_read_request, NULL, NULL, APR_HOOK_FIRST);
    /* tls-alpn-01: offer acme-tls/1, switch to it, answer with the challenge certificate */
    ap_hook_protocol_propose(mod_acme_hook_protocol_propose, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_protocol_switch(mod_acme_hook_protocol_switch, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_protocol_get(mod_acme_hook_protocol_get, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_ssl_answer_challenge(mod_acme_hook_answer_challenge, NULL, NULL, APR_HOOK_MIDDLE);
    /* configtest: warn about wildcards without a dns-01 hook */
    ap_hook_check_config(mod_acme_hook_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* configtest: conflicting per-vhost settings, files the User cannot read or run */
    ap_hook_check_config(mod_acme_check_settings, NULL, NULL, APR_HOOK_MIDDLE);
    /* configtest only: TLS certificate/key pairs and new Listen addresses (what -t misses) */
    ap_hook_check_config(mod_acme_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* fleet mode (ACMEStore pgsql:) needs ACMEFleetKeyFile: configtest and every start */
    ap_hook_check_config(mod_acme_fleet_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* root parent: graceful restart when new certificates wait in staging (fallback for
     * the restarter thread started in post_config) */
    ap_hook_monitor(mod_acme_hook_monitor, NULL, NULL, APR_HOOK_MIDDLE);
    /* a vhost's names split over several certificates: a certificate callback by SNI */
    APR_OPTIONAL_HOOK(ssl, init_server, mod_acme_sni_init_server, NULL, NULL, APR_HOOK_MIDDLE);
    /* status: the "ACME certificates" section of mod_status' server-status */
    APR_OPTIONAL_HOOK(ap, status_hook, mod_acme_status_hook, NULL, NULL, APR_HOOK_MIDDLE);
    /* status: SetHandler acme-status (JSON) and acme-metrics (Prometheus) */
    ap_hook_handler(mod_acme_status_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(acme) = {
    STANDARD20_MODULE_STUFF,
    NULL,                    /* per-directory config */
    NULL,                    /* merge per-directory */
    mod_acme_create_srv_conf,    /* per-server config */
    mod_acme_merge_srv_conf,     /* merge per-server */
    mod_acme_cmds,               /* directives */
    register_hooks,
    AP_MODULE_FLAG_NONE
};
