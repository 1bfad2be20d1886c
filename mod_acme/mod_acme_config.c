/* mod_acme: directives, per-server create/merge, and the generation's settings. */
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_uri.h>
#include <apr_file_info.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>

#include "mod_acme.h"

APLOG_USE_MODULE(acme);
#include "acme_util.h"
#include "acme_dns.h"

#define LE_PROD    "https://acme-v02.api.letsencrypt.org/directory"
#define LE_STAGING "https://acme-staging-v02.api.letsencrypt.org/directory"

acme_srv_conf_t *acme_srv_conf(server_rec *s)
{
    return ap_get_module_config(s->module_config, &acme_module);
}

void *acme_create_srv_conf(apr_pool_t *p, server_rec *s)
{
    acme_srv_conf_t *sc = apr_pcalloc(p, sizeof(*sc));
    sc->enabled = ACME_UNSET;
    sc->agree_tos = ACME_UNSET;
    sc->auto_restart = ACME_UNSET;
    sc->renewal_info = ACME_UNSET;
    sc->retry_delay = -1;
    sc->dns_propagation = -1;
    sc->key_type = ACME_UNSET;
    return sc;
}

#define MERGE_INT(f) (add->f != ACME_UNSET ? add->f : base->f)
#define MERGE_PTR(f) (add->f ? add->f : base->f)

void *acme_merge_srv_conf(apr_pool_t *p, void *basev, void *addv)
{
    const acme_srv_conf_t *base = basev, *add = addv;
    acme_srv_conf_t *sc = apr_pcalloc(p, sizeof(*sc));
    sc->enabled = MERGE_INT(enabled);
    sc->agree_tos = MERGE_INT(agree_tos);
    sc->auto_restart = MERGE_INT(auto_restart);
    sc->ca_url = MERGE_PTR(ca_url);
    sc->ca_file = MERGE_PTR(ca_file);
    sc->contacts = MERGE_PTR(contacts);
    sc->store_dir = MERGE_PTR(store_dir);
    sc->renewal_info = MERGE_INT(renewal_info);
    sc->retry_delay = add->retry_delay >= 0 ? add->retry_delay : base->retry_delay;
    sc->notify_cmd = MERGE_PTR(notify_cmd);
    sc->notify_args = MERGE_PTR(notify_args);
    sc->challenges = MERGE_PTR(challenges);
    sc->key_type = MERGE_INT(key_type);
    sc->dns_hook = MERGE_PTR(dns_hook);
    sc->dns_hook_args = add->dns_hook ? add->dns_hook_args : base->dns_hook_args;
    sc->dns_propagation = add->dns_propagation >= 0 ? add->dns_propagation
                                                    : base->dns_propagation;
    sc->dns_resolver = MERGE_PTR(dns_resolver);
    sc->port_http = add->port_http ? add->port_http : base->port_http;
    sc->port_https = add->port_https ? add->port_https : base->port_https;
    sc->renew_window = (add->renew_window.percent || add->renew_window.dur)
                       ? add->renew_window : base->renew_window;
    sc->warn_window = (add->warn_window.percent || add->warn_window.dur)
                      ? add->warn_window : base->warn_window;
    return sc;
}

int acme_srv_enabled(server_rec *s)
{
    return acme_srv_conf(s)->enabled == 1;
}

acme_vhost_t *acme_vhost_get(server_rec *s)
{
    return acme_mod ? apr_hash_get(acme_mod->vhosts, &s, sizeof(s)) : NULL;
}

/* "on"/"off" with an error that names the directive and the right values. */
static const char *parse_onoff(cmd_parms *cmd, const char *arg, int *pflag)
{
    if (!ap_cstr_casecmp(arg, "on")) {
        *pflag = 1;
        return NULL;
    }
    if (!ap_cstr_casecmp(arg, "off")) {
        *pflag = 0;
        return NULL;
    }
    return apr_psprintf(cmd->pool, "%s: '%s' is not a valid value: use 'on' or 'off'",
                        cmd->cmd->name, arg);
}

static const char *global_only(cmd_parms *cmd)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    if (err) {
        return apr_pstrcat(cmd->pool, err, ": set it once in the server config, "
                           "outside <VirtualHost>", NULL);
    }
    return NULL;
}

static acme_srv_conf_t *cmd_conf(cmd_parms *cmd)
{
    return ap_get_module_config(cmd->server->module_config, &acme_module);
}

static const char *set_enabled(cmd_parms *cmd, void *dc, const char *arg)
{
    return parse_onoff(cmd, arg, &cmd_conf(cmd)->enabled);
}

static const char *set_server(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = global_only(cmd);
    apr_uri_t uri;
    if (err) {
        return err;
    }
    if (!ap_cstr_casecmp(arg, "letsencrypt")) {
        cmd_conf(cmd)->ca_url = LE_PROD;
        return NULL;
    }
    if (!ap_cstr_casecmp(arg, "letsencrypt-staging")) {
        cmd_conf(cmd)->ca_url = LE_STAGING;
        return NULL;
    }
    if (apr_uri_parse(cmd->pool, arg, &uri) != APR_SUCCESS || !uri.scheme
        || ap_cstr_casecmp(uri.scheme, "https") || !uri.hostname || !*uri.hostname) {
        return apr_psprintf(cmd->pool, "ACMEServer: '%s' is not a CA directory URL: give an "
                            "https:// URL (e.g. https://acme.example.org/directory) or one of "
                            "'letsencrypt', 'letsencrypt-staging'", arg);
    }
    cmd_conf(cmd)->ca_url = arg;
    return NULL;
}

static const char *set_ca_file(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = global_only(cmd);
    const char *path;
    apr_finfo_t fi;
    if (err) {
        return err;
    }
    path = ap_server_root_relative(cmd->pool, arg);
    if (!path || apr_stat(&fi, path, APR_FINFO_TYPE, cmd->pool) != APR_SUCCESS
        || fi.filetype != APR_REG) {
        return apr_psprintf(cmd->pool, "ACMEServerCAFile: '%s' is not a readable file: give "
                            "the path of a PEM file with the CA's TLS trust anchors", arg);
    }
    cmd_conf(cmd)->ca_file = path;
    return NULL;
}

/* local@domain.tld: enough to catch typos; the CA validates the rest. */
static int looks_like_email(const char *s)
{
    const char *at = strchr(s, '@');
    const char *p;
    if (!at || at == s || strchr(at + 1, '@') || !strchr(at + 1, '.')) {
        return 0;
    }
    if (at[1] == '.' || s[strlen(s) - 1] == '.') {
        return 0;
    }
    for (p = s; *p; ++p) {
        if (apr_iscntrl(*p) || apr_isspace(*p) || *p == ',' || *p == '<' || *p == '>') {
            return 0;
        }
    }
    return 1;
}

const char *acme_contact_uri(apr_pool_t *p, const char *arg)
{
    const char *addr = arg;
    if (!ap_cstr_casecmpn(addr, "mailto:", 7)) {
        addr += 7;
    }
    if (!looks_like_email(addr)) {
        return NULL;
    }
    return apr_pstrcat(p, "mailto:", addr, NULL);
}

static const char *add_contact(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = global_only(cmd);
    const char *uri;
    acme_srv_conf_t *sc = cmd_conf(cmd);
    if (err) {
        return err;
    }
    uri = acme_contact_uri(cmd->pool, arg);
    if (!uri) {
        return apr_psprintf(cmd->pool, "ACMEContact: '%s' is not an e-mail address: give "
                            "one or more addresses like admin@example.org", arg);
    }
    if (!sc->contacts) {
        sc->contacts = apr_array_make(cmd->pool, 2, sizeof(const char *));
    }
    APR_ARRAY_PUSH(sc->contacts, const char *) = uri;
    return NULL;
}

static const char *set_agree(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = global_only(cmd);
    return err ? err : parse_onoff(cmd, arg, &cmd_conf(cmd)->agree_tos);
}

static const char *set_auto_restart(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = global_only(cmd);
    return err ? err : parse_onoff(cmd, arg, &cmd_conf(cmd)->auto_restart);
}

static const char *set_store(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = global_only(cmd);
    const char *path;
    apr_finfo_t fi;
    if (err) {
        return err;
    }
    if (!*arg) {
        return "ACMEStore: needs a directory (absolute, or relative to ServerRoot), "
               "e.g. ACMEStore /var/lib/apache2/acme";
    }
    path = ap_server_root_relative(cmd->pool, arg);
    if (!path) {
        return apr_psprintf(cmd->pool, "ACMEStore: '%s' is not a valid path", arg);
    }
    if (apr_stat(&fi, path, APR_FINFO_TYPE, cmd->pool) == APR_SUCCESS
        && fi.filetype != APR_DIR) {
        return apr_psprintf(cmd->pool, "ACMEStore: '%s' exists and is not a directory: give "
                            "a directory the server may create and own", path);
    }
    cmd_conf(cmd)->store_dir = path;
    return NULL;
}

/* "33%" or a duration ("30d", "12h", "90s"). */
static const char *parse_window(cmd_parms *cmd, const char *arg, acme_window_t *w)
{
    apr_size_t len = strlen(arg);
    if (len > 1 && arg[len - 1] == '%') {
        if (acme_percent_parse(&w->percent, arg) == APR_SUCCESS) {
            w->dur = 0;
            return NULL;
        }
    }
    else if (acme_duration_parse(&w->dur, arg) == APR_SUCCESS && w->dur > 0) {
        w->percent = 0;
        return NULL;
    }
    return apr_psprintf(cmd->pool, "%s: '%s' is not a window: give a share of the lifetime "
                        "from 1%% to 99%% (e.g. 33%%) or a duration (e.g. 30d, 12h)",
                        cmd->cmd->name, arg);
}

static const char *set_renew_window(cmd_parms *cmd, void *dc, const char *arg)
{
    return parse_window(cmd, arg, &cmd_conf(cmd)->renew_window);
}

static const char *set_warn_window(cmd_parms *cmd, void *dc, const char *arg)
{
    return parse_window(cmd, arg, &cmd_conf(cmd)->warn_window);
}

static const char *set_renewal_info(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = global_only(cmd);
    return err ? err : parse_onoff(cmd, arg, &cmd_conf(cmd)->renewal_info);
}

static const char *set_retry_delay(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = global_only(cmd);
    apr_interval_time_t d;
    if (err) {
        return err;
    }
    if (acme_duration_parse(&d, arg) != APR_SUCCESS || d <= 0) {
        return apr_psprintf(cmd->pool, "ACMERetryDelay: '%s' is not a duration: give e.g. "
                            "1m, 30s or 500ms", arg);
    }
    cmd_conf(cmd)->retry_delay = d;
    return NULL;
}

/* PROGRAM [ARGS...] of ACMENotifyCmd and ACMEDNSHook: an absolute path, then arguments. */
static const char *set_program(cmd_parms *cmd, int argc, char *const argv[],
                               const char **pprog, apr_array_header_t **pargs)
{
    int i;
    if (argc < 1 || !*argv[0] || argv[0][0] != '/') {
        return apr_psprintf(cmd->pool, "%s: '%s' is not an absolute path: give the program's "
                            "full path (and optional arguments), e.g. %s /usr/local/bin/%s",
                            cmd->cmd->name, argc ? argv[0] : "", cmd->cmd->name,
                            cmd->cmd->name[4] == 'N' ? "acme-notify --mail root"
                                                     : "acme-dns-hook");
    }
    *pprog = argv[0];
    *pargs = apr_array_make(cmd->pool, argc, sizeof(const char *));
    for (i = 1; i < argc; ++i) {
        APR_ARRAY_PUSH(*pargs, const char *) = argv[i];
    }
    return NULL;
}

static const char *set_notify_cmd(cmd_parms *cmd, void *dc, int argc, char *const argv[])
{
    const char *err = global_only(cmd);
    acme_srv_conf_t *sc = cmd_conf(cmd);
    return err ? err : set_program(cmd, argc, argv, &sc->notify_cmd, &sc->notify_args);
}

static const char *set_key_type(cmd_parms *cmd, void *dc, const char *arg)
{
    acme_key_type_t type;
    if (acme_key_type_parse(&type, arg) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "ACMEKeyType: '%s' is not a key type: use p256, p384, "
                            "rsa2048, rsa3072 or rsa4096", arg);
    }
    cmd_conf(cmd)->key_type = (int)type;
    return NULL;
}

static const char *add_challenge(cmd_parms *cmd, void *dc, const char *arg)
{
    acme_srv_conf_t *sc = cmd_conf(cmd);
    const char *type;
    if (!strcmp(arg, ACME_CHALLENGE_HTTP01) || !strcmp(arg, ACME_CHALLENGE_TLSALPN01)
        || !strcmp(arg, ACME_CHALLENGE_DNS01)) {
        type = arg;
    }
    else {
        return apr_psprintf(cmd->pool, "ACMEChallenges: '%s' is not a challenge type: use "
                            "http-01, tls-alpn-01 and/or dns-01, in order of preference", arg);
    }
    if (!sc->challenges) {
        sc->challenges = apr_array_make(cmd->pool, 3, sizeof(const char *));
    }
    if (acme_names_contain(sc->challenges, type)) {
        return apr_psprintf(cmd->pool, "ACMEChallenges: '%s' is listed twice", type);
    }
    APR_ARRAY_PUSH(sc->challenges, const char *) = type;
    return NULL;
}

static const char *set_dns_hook(cmd_parms *cmd, void *dc, int argc, char *const argv[])
{
    acme_srv_conf_t *sc = cmd_conf(cmd);
    return set_program(cmd, argc, argv, &sc->dns_hook, &sc->dns_hook_args);
}

static const char *set_dns_propagation(cmd_parms *cmd, void *dc, const char *arg)
{
    apr_interval_time_t d;
    if (acme_duration_parse(&d, arg) != APR_SUCCESS || d < 0) {
        return apr_psprintf(cmd->pool, "ACMEDNSPropagationTimeout: '%s' is not a duration: "
                            "give e.g. 2m, 90s, or 0 not to wait", arg);
    }
    cmd_conf(cmd)->dns_propagation = d;
    return NULL;
}

static const char *set_dns_resolver(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *addr;
    int port;
    if (acme_dns_server_parse(&addr, &port, cmd->pool, arg) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "ACMEDNSResolver: '%s' is not an IPv4 address with "
                            "an optional port: give e.g. 192.0.2.53 or 127.0.0.1:5353", arg);
    }
    cmd_conf(cmd)->dns_resolver = arg;
    return NULL;
}

static const char *set_port_map(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = global_only(cmd);
    acme_srv_conf_t *sc = cmd_conf(cmd);
    char *end;
    long pub, local;
    if (err) {
        return err;
    }
    pub = strtol(arg, &end, 10);
    if (*end == ':') {
        local = strtol(end + 1, &end, 10);
        if (!*end && local > 0 && local < 65536 && (pub == 80 || pub == 443)) {
            if (pub == 80) {
                sc->port_http = (int)local;
            }
            else {
                sc->port_https = (int)local;
            }
            return NULL;
        }
    }
    return apr_psprintf(cmd->pool, "ACMEPortMap: '%s' is not a port mapping: give "
                        "80:LOCALPORT and/or 443:LOCALPORT (the local ports the public ports "
                        "80 and 443 are forwarded to)", arg);
}

const command_rec acme_cmds[] = {
    AP_INIT_TAKE1("ACME", set_enabled, NULL, RSRC_CONF,
                  "on|off: obtain and renew this server's certificate from the ACME CA "
                  "(in the main server: for every VirtualHost that does not say off)"),
    AP_INIT_TAKE1("ACMEServer", set_server, NULL, RSRC_CONF,
                  "URL|letsencrypt|letsencrypt-staging: the ACME CA's directory "
                  "(default letsencrypt)"),
    AP_INIT_TAKE1("ACMEServerCAFile", set_ca_file, NULL, RSRC_CONF,
                  "PATH: PEM trust anchors for TLS connections to the CA (default: system trust)"),
    AP_INIT_ITERATE("ACMEContact", add_contact, NULL, RSRC_CONF,
                    "EMAIL...: the ACME account's contact (default: ServerAdmin when it is an "
                    "e-mail address)"),
    AP_INIT_TAKE1("ACMEAgreeTerms", set_agree, NULL, RSRC_CONF,
                  "on|off: accept the CA's terms of service (default off)"),
    AP_INIT_TAKE1("ACMEStore", set_store, NULL, RSRC_CONF,
                  "DIR: where accounts, keys, certificates and state live, relative to "
                  "ServerRoot (default acme)"),
    AP_INIT_TAKE1("ACMEAutoRestart", set_auto_restart, NULL, RSRC_CONF,
                  "on|off: restart gracefully by itself to activate new certificates "
                  "(default on)"),
    AP_INIT_TAKE1("ACMEKeyType", set_key_type, NULL, RSRC_CONF,
                  "p256|p384|rsa2048|rsa3072|rsa4096: the certificate's key type (default "
                  "p256)"),
    AP_INIT_TAKE1("ACMERenewWindow", set_renew_window, NULL, RSRC_CONF,
                  "N%|DURATION: renew when this much of the lifetime is left, or this long "
                  "before expiry (default 33%)"),
    AP_INIT_TAKE1("ACMEWarnWindow", set_warn_window, NULL, RSRC_CONF,
                  "N%|DURATION: from here on log and notify 'expiring' daily (default 10%)"),
    AP_INIT_TAKE1("ACMERenewalInfo", set_renewal_info, NULL, RSRC_CONF,
                  "on|off: follow the CA's renewal information (RFC 9773) when it offers "
                  "it (default on)"),
    AP_INIT_TAKE1("ACMERetryDelay", set_retry_delay, NULL, RSRC_CONF,
                  "DURATION: first retry delay after a failure, x10 each time up to a day "
                  "(default 1m)"),
    AP_INIT_ITERATE("ACMEChallenges", add_challenge, NULL, RSRC_CONF,
                    "TYPE...: allowed challenge types in order of preference: http-01, "
                    "tls-alpn-01, dns-01 (default: chosen from the ports the server listens on)"),
    AP_INIT_TAKE_ARGV("ACMEDNSHook", set_dns_hook, NULL, RSRC_CONF,
                      "PROGRAM [ARGS]: run as PROGRAM ARGS setup|teardown DOMAIN TXT-VALUE to "
                      "publish and remove dns-01 records"),
    AP_INIT_TAKE1("ACMEDNSPropagationTimeout", set_dns_propagation, NULL, RSRC_CONF,
                  "DURATION: how long to wait for the TXT record to be visible (default 2m, "
                  "0: do not wait)"),
    AP_INIT_TAKE1("ACMEDNSResolver", set_dns_resolver, NULL, RSRC_CONF,
                  "IPv4[:PORT]: the DNS server asked in the propagation check (default: the "
                  "system resolver)"),
    AP_INIT_ITERATE("ACMEPortMap", set_port_map, NULL, RSRC_CONF,
                    "80:PORT 443:PORT: the local ports the public ports 80 and 443 reach "
                    "(for the automatic choice of challenge types)"),
    AP_INIT_TAKE_ARGV("ACMENotifyCmd", set_notify_cmd, NULL, RSRC_CONF,
                      "PROGRAM [ARGS]: run as PROGRAM ARGS EVENT CERT on renewing, renewed, "
                      "activated, expiring and failed"),
    { NULL }
};

acme_mod_t *acme_mod_create(apr_pool_t *p, server_rec *s)
{
    acme_srv_conf_t *sc = acme_srv_conf(s);
    acme_mod_t *m = apr_pcalloc(p, sizeof(*m));
    server_rec *vs;

    m->pool = p;
    m->s = s;
    m->ca_url = sc->ca_url ? sc->ca_url : LE_PROD;
    m->ca_file = sc->ca_file;
    m->store_dir = sc->store_dir ? sc->store_dir : ap_server_root_relative(p, "acme");
    m->agree_tos = sc->agree_tos == 1;
    m->auto_restart = sc->auto_restart != 0;
    m->contacts = sc->contacts;
    m->renewal_info = sc->renewal_info != 0;
    m->retry_delay = sc->retry_delay > 0 ? sc->retry_delay : apr_time_from_sec(60);
    m->notify_cmd = sc->notify_cmd;
    m->notify_args = sc->notify_args;
    m->port_http = sc->port_http ? sc->port_http : 80;
    m->port_https = sc->port_https ? sc->port_https : 443;
    if (!m->contacts) {
        const char *uri = s->server_admin ? acme_contact_uri(p, s->server_admin) : NULL;
        m->contacts = apr_array_make(p, 1, sizeof(const char *));
        if (uri) {
            APR_ARRAY_PUSH(m->contacts, const char *) = uri;
        }
    }
    m->certs = apr_array_make(p, 16, sizeof(acme_managed_t *));
    m->by_names = apr_hash_make(p);
    m->by_id = apr_hash_make(p);
    m->vhosts = apr_hash_make(p);
    for (vs = s; vs; vs = vs->next) {
        if (acme_srv_enabled(vs)) {
            m->any_enabled = 1;
        }
    }
    return m;
}
