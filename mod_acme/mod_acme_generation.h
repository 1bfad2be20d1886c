/* mod_acme glue: what one config generation knows (the managed certificates, the
 * state of each vhost) and the pointer to the current generation. */
#ifndef MOD_ACME_GENERATION_H
#define MOD_ACME_GENERATION_H

#include <httpd.h>

#include "acme.h"
#include "acme_crypto.h"
#include "acme_store.h"
#include "acme_plan.h"
#include "acme_driver.h"
#include "acme_spec.h"
#include "acme_pending.h"
#include "mod_acme_config.h"

/* What one generation knows of one server_rec. Not in mod_acme_srv_conf_t: httpd gives vhosts
 * without a directive of ours the main server's config struct itself, not a copy. */
typedef struct mod_acme_vhost_t {
    struct mod_acme_managed_t *managed; /* the certificate this vhost uses, or NULL */
    int is_tls;                /* mod_ssl asked us for its certificate files */
    int on_fallback;           /* serving the fallback certificate: answer 503 */
    apr_array_header_t *left_out; /* "name: why" for names no certificate can have */
    int warned;                /* left_out logged (mod_ssl may ask twice) */
    int took_over;             /* ACME on here with its own SSLCertificateFile: logged */
    apr_array_header_t *parts; /* mod_acme_managed_t*: its names split over several
                                * certificates (the first is managed), chosen by SNI
                                * (mod_acme_sni.c); NULL: one certificate */
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
    const char *ari_cert_id;        /* RFC 9773 certID of the live certificate */
    const char *live_serial;        /* from live meta.json (root only): for status pages */
    apr_time_t live_obtained;       /* when the live certificate was staged */
    int live_profile_fallback;      /* the live one has the CA's default, not its profile */
    const char *live_chain_top;     /* issuer CN of the live chain's top (meta "chain") */
    int activated;                  /* went live at this start: notify "activated" */
    acme_spec_t spec;               /* the complete spec (acme_spec_build): driver, planner,
                                     * warn window, challenge types; spec.cert.id holds the
                                     * joined names until ids are assigned */
    mod_acme_srv_conf_t *settings;  /* its per-certificate settings (mod_acme_settings.c) */
    const char *damaged;            /* the live set is damaged: what is wrong (a new
                                     * certificate is ordered), NULL when it is fine */
    struct mod_acme_managed_t *next_type; /* ACMEKeyTypes: the certificate of the next
                                     * listed key type for the same names, or NULL */
} mod_acme_managed_t;

/* Everything one config generation knows; lives in pconf, inherited by the children. */
typedef struct mod_acme_gen_t {
    apr_pool_t *pool;
    server_rec *s;                  /* main server */
    const char *ca_url, *ca_file, *store_dir;
    apr_array_header_t *ca_urls;    /* ACMEServer: every CA, ca_url first (acme_ca.h) */
    apr_array_header_t *contacts;
    int agree_tos, auto_restart, renewal_info;
    apr_interval_time_t retry_delay;
    apr_interval_time_t http_timeout; /* one request to the CA, connect to last byte */
    const char *notify_cmd;
    apr_array_header_t *notify_args;
    int port_http, port_https;      /* local ports the public 80 and 443 reach */
    const acme_eab_t *eab;          /* ACMEExternalAccountBinding, or NULL */
    int max_parallel;               /* ACMEMaxParallel (0: the runner's default) */
    acme_pace_rate_t order_rate;    /* ACMEOrderRate (count 0: each CA's documented rate) */
    int request_rates;              /* ACMERequestRates (acme_request_rates_e) */
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
    int any_fallback;               /* some vhost serves the fallback (answers 503); set
                                     * after mod_ssl's post_config (mod_acme_challenge.c) */
    apr_time_t staged_seen;         /* monitor: when a staged set was first seen */
    int staged_count;               /* monitor: how many were staged at the last look */
    apr_time_t staged_grew;         /* monitor: when that count last grew */
    apr_time_t *last_restart;       /* our last restart (in the process pool) */
    int restarter_running;          /* the parent's restarter thread runs */
    struct mod_acme_restart_t *restart; /* the restarter's state (mod_acme_restart.c) */
    acme_pending_t *http01_pending; /* http-01/tls-alpn-01 responses in the store (shared memory), or NULL */
    const char *fleet_conninfo;     /* fleet mode (ACMEStore pgsql:), NULL: none */
    const char *fleet_at, *fleet_password, *fleet_key_file, *fleet_node;
    const unsigned char *fleet_key; /* ACME_FLEET_KEY_LEN bytes, NULL: not usable */
    struct mod_acme_fleet_t *fleet; /* the fleet layer's glue (mod_acme_fleet.c), or NULL */
    apr_hash_t *https_names;        /* ACMERequireHttps: name -> mod_acme_managed_t* of a live
                                     * certificate that asks for it (mod_acme_https.c) */
    int stateless_http01;           /* ACMEStatelessHTTP01 on */
    struct acme_stateless_t *stateless; /* its hosts and thumbprints (mod_acme_stateless.c),
                                     * NULL when off */
} mod_acme_gen_t;

/* The current generation (re-set at every post_config; statics reset with the DSO). */
extern mod_acme_gen_t *mod_acme_gen;

#endif
