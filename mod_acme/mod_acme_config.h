/* mod_acme_config.c: the per-server configuration and the directive table. */
#ifndef MOD_ACME_CONFIG_H
#define MOD_ACME_CONFIG_H

#include <httpd.h>
#include <http_config.h>

#include "acme.h"
#include "acme_eab.h"
#include "acme_pace.h"

#define ACME_UNSET (-1)

/* A window before expiry: a share of the lifetime or a duration. */
typedef struct mod_acme_window_t {
    int percent;               /* > 0: this % of the lifetime */
    apr_interval_time_t dur;   /* > 0: this long before expiry */
} mod_acme_window_t;

/* The per-certificate settings a VirtualHost may write itself (bits of
 * mod_acme_srv_conf_t.written; mod_acme_settings.c decides whose value a certificate takes). */
typedef enum {
    ACME_SET_KEY_TYPE, ACME_SET_RENEW_WINDOW, ACME_SET_WARN_WINDOW, ACME_SET_CHALLENGES,
    ACME_SET_DNS_HOOK, ACME_SET_DNS_PROPAGATION, ACME_SET_DNS_RESOLVER,
    ACME_SET_PROFILE,
    ACME_SET_PREFERRED_CHAIN, ACME_SET_KEY_REUSE,
    ACME_SET_REQUIRE_HTTPS,
    ACME_SET_COUNT
} mod_acme_setting_t;

/* Per-server configuration. The global settings are only read from the main server. */
typedef struct mod_acme_srv_conf_t {
    unsigned written;          /* 1 << mod_acme_setting_t: written in this server's own section
                                  (not merged: inherited values are not "written") */
    const char *ca_file_at, *notify_at, *dns_hook_at, *challenges_at; /* "line N of FILE" of
                                  the directive */
    int enabled;               /* ACME on|off, ACME_UNSET when not said */
    int enabled_here;          /* ACME on written in this VirtualHost's own section: takes
                                  it over even with its own SSLCertificateFile */
    mod_acme_window_t renew_window, warn_window; /* both 0: unset */
    apr_array_header_t *challenges;  /* ACMEChallenges, NULL: automatic */
    int key_type;              /* ACMEKeyType (acme_key_type_t), ACME_UNSET when not said;
                                  with ACMEKeyTypes the first type listed */
    apr_array_header_t *key_types; /* ACMEKeyTypes (acme_key_type_t each), NULL: not said */
    const char *dns_hook;      /* ACMEDNSHook program */
    apr_array_header_t *dns_hook_args;
    apr_interval_time_t dns_propagation; /* -1 unset */
    const char *dns_resolver;
    const char *profile;       /* ACMEProfile NAME, NULL: none */
    int profile_mandatory;     /* ACMEProfile NAME mandatory */
    const char *preferred_chain; /* ACMEPreferredChain: issuer CN of the chain's top, NULL unset */
    int key_reuse;             /* ACMEKeyReuse on|off, ACME_UNSET when not said */
    int require_https;         /* ACMERequireHttps (acme_https_mode_t), ACME_UNSET when not said */
    /* server config only */
    const char *ca_url;
    apr_array_header_t *ca_urls; /* ACMEServer A [B ...]: directory URLs, first = ca_url */
    const char *ca_file;
    apr_array_header_t *contacts; /* "mailto:..." */
    int agree_tos;
    const char *store_dir;
    int auto_restart;
    int renewal_info;          /* ACMERenewalInfo */
    int stateless_http01;      /* ACMEStatelessHTTP01 on|off, ACME_UNSET when not said */
    apr_interval_time_t retry_delay; /* ACMERetryDelay, -1 unset */
    apr_interval_time_t http_timeout; /* ACMETimeout, -1 unset */
    const char *notify_cmd;    /* ACMENotifyCmd: program */
    apr_array_header_t *notify_args;
    int port_http, port_https; /* ACMEPortMap: local ports public 80/443 reach, 0 unset */
    const acme_eab_t *eab;     /* ACMEExternalAccountBinding (key read by the root parent) */
    apr_array_header_t *domains; /* ACMEDomain lines: apr_array_header_t* of names each */
    const char *fleet_conninfo; /* ACMEStore pgsql:"CONNINFO": fleet mode, NULL: none */
    const char *fleet_at;      /* "line N of FILE" of that ACMEStore */
    const char *fleet_password; /* ACMEStorePasswordFile's password (in memory only) */
    const unsigned char *fleet_key; /* ACMEFleetKeyFile's 32 bytes, NULL: not usable */
    const char *fleet_key_file;
    const char *fleet_node;    /* ACMEFleetNode */
    int max_parallel;          /* ACMEMaxParallel, 0 unset */
    acme_pace_rate_t order_rate; /* ACMEOrderRate, count 0 unset */
    int request_rates;         /* ACMERequestRates: acme_request_rates_e + 1, 0 unset */
} mod_acme_srv_conf_t;

struct mod_acme_gen_t;
struct mod_acme_vhost_t;

extern const command_rec mod_acme_cmds[];
void *mod_acme_create_srv_conf(apr_pool_t *p, server_rec *s);
void *mod_acme_merge_srv_conf(apr_pool_t *p, void *basev, void *addv);
mod_acme_srv_conf_t *mod_acme_srv_conf(server_rec *s);
int mod_acme_srv_enabled(server_rec *s);
/* This generation's state of s, or NULL when s is not managed (ACME off). */
struct mod_acme_vhost_t *mod_acme_vhost_get(server_rec *s);
/* "mailto:ADDR" for an e-mail address (with or without "mailto:"), NULL if it is none. */
const char *mod_acme_contact_uri(apr_pool_t *p, const char *arg);
/* Build mod_acme_gen from the main server's settings (defaults applied). */
struct mod_acme_gen_t *mod_acme_gen_create(apr_pool_t *p, server_rec *s);

#endif
