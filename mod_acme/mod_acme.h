/* mod_acme: the httpd glue's shared declarations. Only mod_acme*.c include httpd headers. */
#ifndef MOD_ACME_H
#define MOD_ACME_H

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <ap_mpm.h>

#include "acme.h"
#include "acme_crypto.h"
#include "acme_store.h"
#include "acme_plan.h"
#include "acme_driver.h"
#include "acme_pending.h"

/* Our own log message tags (never httpd's AH numbers); the next free number is kept in
 * mod_acme/next-logno. Admins and tests can key on them. */
#define ACMELOGNO(n) "ACME" #n ": "

extern module AP_MODULE_DECLARE_DATA acme_module;

#define ACME_UNSET (-1)

/* Our own status codes mean nothing to httpd's log ("APR does not understand this error
 * code"): log them as 0 and let the message say what happened. */
#define ACME_LOG_RV(rv) ((rv) > ACME_STATUS_BASE && (rv) < ACME_STATUS_BASE + 1000 ? 0 : (rv))

/* A window before expiry: a share of the lifetime or a duration. */
typedef struct mod_acme_window_t {
    int percent;               /* > 0: this % of the lifetime */
    apr_interval_time_t dur;   /* > 0: this long before expiry */
} mod_acme_window_t;

/* The per-certificate settings a VirtualHost may write itself (bits of
 * mod_acme_srv_conf_t.written; mod_acme_settings.c decides whose value a certificate takes). */
typedef enum {
    ACME_SET_KEY_TYPE, ACME_SET_RENEW_WINDOW, ACME_SET_WARN_WINDOW, ACME_SET_CHALLENGES,
    ACME_SET_DNS_HOOK, ACME_SET_DNS_PROPAGATION, ACME_SET_DNS_RESOLVER, ACME_SET_COUNT
} mod_acme_setting_t;

/* Per-server configuration. The global settings are only read from the main server. */
typedef struct mod_acme_srv_conf_t {
    unsigned written;          /* 1 << mod_acme_setting_t: written in this server's own section
                                  (not merged: inherited values are not "written") */
    const char *ca_file_at, *notify_at, *dns_hook_at, *challenges_at; /* "line N of FILE" of
                                  the directive */
    int enabled;               /* ACME on|off, ACME_UNSET when not said */
    mod_acme_window_t renew_window, warn_window; /* both 0: unset */
    apr_array_header_t *challenges;  /* ACMEChallenges, NULL: automatic */
    int key_type;              /* ACMEKeyType (acme_key_type_t), ACME_UNSET when not said */
    const char *dns_hook;      /* ACMEDNSHook program */
    apr_array_header_t *dns_hook_args;
    apr_interval_time_t dns_propagation; /* -1 unset */
    const char *dns_resolver;
    /* server config only */
    const char *ca_url;
    const char *ca_file;
    apr_array_header_t *contacts; /* "mailto:..." */
    int agree_tos;
    const char *store_dir;
    int auto_restart;
    int renewal_info;          /* ACMERenewalInfo */
    apr_interval_time_t retry_delay; /* ACMERetryDelay, -1 unset */
    apr_interval_time_t http_timeout; /* ACMETimeout, -1 unset */
    const char *notify_cmd;    /* ACMENotifyCmd: program */
    apr_array_header_t *notify_args;
    int port_http, port_https; /* ACMEPortMap: local ports public 80/443 reach, 0 unset */
} mod_acme_srv_conf_t;

/* What one generation knows of one server_rec. Not in mod_acme_srv_conf_t: httpd gives vhosts
 * without a directive of ours the main server's config struct itself, not a copy. */
typedef struct mod_acme_vhost_t {
    struct mod_acme_managed_t *managed; /* the certificate this vhost uses, or NULL */
    int is_tls;                /* mod_ssl asked us for its certificate files */
    int on_fallback;           /* serving the fallback certificate: answer 503 */
    apr_array_header_t *left_out; /* "name: why" for names no certificate can have */
    int warned;                /* left_out logged (mod_ssl may ask twice) */
} mod_acme_vhost_t;

/* One managed certificate: a distinct name set of the https vhosts. */
typedef struct mod_acme_managed_t {
    const char *id;                 /* store entry name */
    apr_array_header_t *names;      /* normalized names */
    apr_array_header_t *vhosts;     /* server_rec* using it */
    int used_by_tls;                /* at least one https vhost uses it */
    int have_live;
    const char *live_chain, *live_key;   /* paths for mod_ssl */
    acme_plan_input_t input;        /* what the store says */
    acme_plan_t plan;               /* what to do about it */
    mod_acme_window_t renew_window, warn_window;
    const char *ari_cert_id;        /* RFC 9773 certID of the live certificate */
    const char *live_serial;        /* from live meta.json (root only): for status pages */
    apr_time_t live_obtained;       /* when the live certificate was staged */
    int activated;                  /* went live at this start: notify "activated" */
    acme_cert_spec_t spec;          /* for the driver */
    acme_dns_hook_t dns_hook;       /* spec.dns_hook points here when set */
    const char *challenge_why;      /* why these challenge types (for the log) */
    mod_acme_srv_conf_t *settings;      /* its per-certificate settings (mod_acme_settings.c) */
    const char *damaged;            /* the live set is damaged: what is wrong (a new
                                     * certificate is ordered), NULL when it is fine */
} mod_acme_managed_t;

/* Everything one config generation knows; lives in pconf, inherited by the children. */
typedef struct mod_acme_gen_t {
    apr_pool_t *pool;
    server_rec *s;                  /* main server */
    const char *ca_url, *ca_file, *store_dir;
    apr_array_header_t *contacts;
    int agree_tos, auto_restart, renewal_info;
    apr_interval_time_t retry_delay;
    apr_interval_time_t http_timeout; /* one request to the CA, connect to last byte */
    const char *notify_cmd;
    apr_array_header_t *notify_args;
    int port_http, port_https;      /* local ports the public 80 and 443 reach */
    acme_store_t *store;
    unsigned char secret[ACME_SECRET_LEN];
    int store_ok;                   /* store set up: live and fallback files usable */
    int secret_ok;                  /* the store's secret loaded: ACME work possible */
    const char *fallback_chain, *fallback_key;
    apr_array_header_t *certs;      /* mod_acme_managed_t*, in config order */
    apr_hash_t *by_names;           /* joined names -> mod_acme_managed_t* */
    apr_hash_t *by_id;              /* id -> mod_acme_managed_t* */
    apr_hash_t *vhosts;             /* server_rec* -> mod_acme_vhost_t* (ACME on only) */
    int any_enabled;                /* some vhost said ACME on */
    int any_tlsalpn;                /* some certificate may use tls-alpn-01 */
    apr_time_t staged_seen;         /* monitor: when a staged set was first seen */
    int staged_count;               /* monitor: how many were staged at the last look */
    apr_time_t staged_grew;         /* monitor: when that count last grew */
    apr_time_t *last_restart;       /* our last restart (in the process pool) */
    int restarter_running;          /* the parent's restarter thread runs */
    struct mod_acme_restart_t *restart; /* the restarter's state (mod_acme_restart.c) */
    acme_pending_t *http01_pending; /* http-01 responses in the store (shared memory), or NULL */
} mod_acme_gen_t;

/* The current generation (re-set at every post_config; statics reset with the DSO). */
extern mod_acme_gen_t *mod_acme_gen;

/* mod_acme_config.c */
extern const command_rec mod_acme_cmds[];
void *mod_acme_create_srv_conf(apr_pool_t *p, server_rec *s);
void *mod_acme_merge_srv_conf(apr_pool_t *p, void *basev, void *addv);
mod_acme_srv_conf_t *mod_acme_srv_conf(server_rec *s);
int mod_acme_srv_enabled(server_rec *s);
/* This generation's state of s, or NULL when s is not managed (ACME off). */
mod_acme_vhost_t *mod_acme_vhost_get(server_rec *s);
/* "mailto:ADDR" for an e-mail address (with or without "mailto:"), NULL if it is none. */
const char *mod_acme_contact_uri(apr_pool_t *p, const char *arg);
/* Build mod_acme_gen from the main server's settings (defaults applied). */
mod_acme_gen_t *mod_acme_gen_create(apr_pool_t *p, server_rec *s);

/* mod_acme_settings.c: which vhost's settings a certificate takes; configtest checks */
/* Each certificate's settings (mc->settings): the main server's, each replaced by the value
 * the certificate's vhosts wrote (an https vhost's wins over a plain-http twin's); logs
 * where they came from. */
void mod_acme_cert_settings(mod_acme_gen_t *m, apr_pool_t *ptemp);
/* "VirtualHost at FILE:LINE" or "main server", for messages. */
const char *mod_acme_where(server_rec *s, apr_pool_t *p);
/* check_config: conflicting settings of vhosts sharing a certificate, files and programs
 * the server's User cannot read or run. */
int mod_acme_check_settings(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                            server_rec *s);

/* mod_acme_ssl.c: store, fallback, activation, planning, mod_ssl's certificate hooks */
/* The names s's certificate would hold, in config order, not normalized (may be empty);
 * names left out go to *pleft_out ("name: why", allocated when needed) unless it is NULL. */
apr_array_header_t *mod_acme_vhost_names(server_rec *s, apr_array_header_t **pleft_out,
                                         apr_pool_t *p);
apr_status_t mod_acme_store_init(mod_acme_gen_t *m, apr_pool_t *ptemp);
void mod_acme_plan_vhosts(mod_acme_gen_t *m, apr_pool_t *ptemp);
void mod_acme_activate_staged(mod_acme_gen_t *m, apr_pool_t *ptemp);
void mod_acme_load_states(mod_acme_gen_t *m, apr_pool_t *ptemp);
void mod_acme_archive_orphans(mod_acme_gen_t *m, apr_pool_t *ptemp);
void mod_acme_plan_certs(mod_acme_gen_t *m, apr_pool_t *ptemp);
/* The plan's spec of mc, and its plan from an input: the one way glue asks acme_plan
 * (the watchdog, the status pages and post_config alike). */
void mod_acme_plan_spec(acme_plan_spec_t *spec, const mod_acme_gen_t *m, const mod_acme_managed_t *mc);
void mod_acme_plan_compute(acme_plan_t *plan, apr_pool_t *p, const mod_acme_gen_t *m,
                           const mod_acme_managed_t *mc, const acme_plan_input_t *in,
                           apr_time_t now);
int mod_acme_hook_add_cert_files(server_rec *s, apr_pool_t *p, apr_array_header_t *cert_files,
                             apr_array_header_t *key_files);
int mod_acme_hook_add_fallback_cert_files(server_rec *s, apr_pool_t *p,
                                      apr_array_header_t *cert_files,
                                      apr_array_header_t *key_files);

/* mod_acme_challenge.c */
int mod_acme_hook_post_read_request(request_rec *r);
/* The shared count of pending http-01 responses (m->http01_pending): made once per httpd
 * run in the process pool, so every generation's children share it. */
apr_status_t mod_acme_http01_counter_init(mod_acme_gen_t *m);
/* acme_http01_count_fn for the driver; baton: m->http01_pending. */
void mod_acme_http01_count(void *baton, int delta);
/* child_status hook (parent): the count of a child that ended moves to "ended". */
void mod_acme_child_status(server_rec *s, pid_t pid, ap_generation_t gen, int slot,
                           mpm_child_status state);
/* monitor hook (parent): "ended" is cleared once the store has no http-01 response (stale
 * ones, ACME_HTTP01_STALE, are removed). */
int mod_acme_http01_monitor(apr_pool_t *p, server_rec *s);
void mod_acme_choose_challenges(mod_acme_gen_t *m, apr_pool_t *ptemp);
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

/* mod_acme_watchdog.c */
apr_status_t mod_acme_watchdog_setup(mod_acme_gen_t *m, apr_pool_t *p);
void mod_acme_hook_child_init(apr_pool_t *p, server_rec *s);

/* mod_acme_restart.c: the root parent's restarter (graceful restart when new certificates
 * are staged and the configuration passes `httpd -t`) */
typedef struct mod_acme_restart_t mod_acme_restart_t;
int mod_acme_hook_monitor(apr_pool_t *p, server_rec *s);
apr_status_t mod_acme_restarter_start(mod_acme_gen_t *m, apr_pool_t *pconf);

/* mod_acme_configcheck.c: what `httpd -t` misses (TLS file pairs, new Listen addresses) */
int mod_acme_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                          server_rec *s);

/* mod_acme_status.c */
int mod_acme_status_hook(request_rec *r, int flags);
int mod_acme_status_handler(request_rec *r);

#endif
