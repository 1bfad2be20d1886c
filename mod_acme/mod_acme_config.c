/* mod_acme: directives, per-server create/merge, and the generation's settings. */
#include <stdlib.h>

#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_uri.h>
#include <apr_file_info.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>

#include "mod_acme_log.h"
#include "mod_acme_config.h"
#include "mod_acme_generation.h"
#include "mod_acme_ssl.h"

APLOG_USE_MODULE(acme);
#include "acme_util.h"
#include "acme_profile.h"
#include "acme_dns.h"
#include "acme_cert.h"
#include "acme_ca.h"
#include "acme_https.h"
#include "acme_keytypes.h"
#include "acme_fleet.h"
#include "acme_runner.h"

/* Bounds of durations: well-formed but absurd values fail at configtest. */
#define WINDOW_MAX      apr_time_from_sec(3650 * 86400) /* longer than any ACME certificate */
#define RETRY_DELAY_MAX apr_time_from_sec(86400)        /* the backoff's own cap */
#define PROPAGATION_MAX apr_time_from_sec(3600)

#define CA_DEFAULT "letsencrypt"

mod_acme_srv_conf_t *mod_acme_srv_conf(server_rec *s)
{
    return ap_get_module_config(s->module_config, &acme_module);
}

void *mod_acme_create_srv_conf(apr_pool_t *p, server_rec *s)
{
    mod_acme_srv_conf_t *sc = apr_pcalloc(p, sizeof(*sc));
    sc->enabled = ACME_UNSET;
    sc->agree_tos = ACME_UNSET;
    sc->auto_restart = ACME_UNSET;
    sc->renewal_info = ACME_UNSET;
    sc->stateless_http01 = ACME_UNSET;
    sc->retry_delay = -1;
    sc->http_timeout = -1;
    sc->dns_propagation = -1;
    sc->key_type = ACME_UNSET;
    sc->key_reuse = ACME_UNSET;
    sc->require_https = ACME_UNSET;
    return sc;
}

#define MERGE_INT(f) (add->f != ACME_UNSET ? add->f : base->f)
#define MERGE_PTR(f) (add->f ? add->f : base->f)

void *mod_acme_merge_srv_conf(apr_pool_t *p, void *basev, void *addv)
{
    const mod_acme_srv_conf_t *base = basev, *add = addv;
    mod_acme_srv_conf_t *sc = apr_pcalloc(p, sizeof(*sc));
    sc->enabled = MERGE_INT(enabled);
    sc->agree_tos = MERGE_INT(agree_tos);
    sc->auto_restart = MERGE_INT(auto_restart);
    sc->ca_url = MERGE_PTR(ca_url);
    sc->ca_urls = add->ca_url ? add->ca_urls : base->ca_urls;
    sc->ca_file = MERGE_PTR(ca_file);
    sc->contacts = MERGE_PTR(contacts);
    sc->store_dir = MERGE_PTR(store_dir);
    sc->renewal_info = MERGE_INT(renewal_info);
    sc->stateless_http01 = MERGE_INT(stateless_http01);
    sc->retry_delay = add->retry_delay >= 0 ? add->retry_delay : base->retry_delay;
    sc->http_timeout = add->http_timeout >= 0 ? add->http_timeout : base->http_timeout;
    sc->notify_cmd = MERGE_PTR(notify_cmd);
    sc->notify_args = MERGE_PTR(notify_args);
    sc->challenges = MERGE_PTR(challenges);
    sc->key_type = MERGE_INT(key_type);
    sc->key_types = add->key_type != ACME_UNSET ? add->key_types : base->key_types;
    sc->preferred_chain = MERGE_PTR(preferred_chain);
    sc->key_reuse = MERGE_INT(key_reuse);
    sc->require_https = MERGE_INT(require_https);
    sc->enabled_here = add->enabled_here;
    sc->dns_hook = MERGE_PTR(dns_hook);
    sc->max_parallel = add->max_parallel ? add->max_parallel : base->max_parallel;
    sc->order_rate = add->order_rate.count ? add->order_rate : base->order_rate;
    sc->request_rates = add->request_rates ? add->request_rates : base->request_rates;
    sc->dns_hook_args = add->dns_hook ? add->dns_hook_args : base->dns_hook_args;
    sc->dns_propagation = add->dns_propagation >= 0 ? add->dns_propagation
                                                    : base->dns_propagation;
    sc->written = add->written;
    sc->ca_file_at = MERGE_PTR(ca_file_at);
    sc->notify_at = MERGE_PTR(notify_at);
    sc->dns_hook_at = add->dns_hook ? add->dns_hook_at : base->dns_hook_at;
    sc->challenges_at = MERGE_PTR(challenges_at);
    sc->dns_resolver = MERGE_PTR(dns_resolver);
    sc->profile = MERGE_PTR(profile);
    sc->profile_mandatory = add->profile ? add->profile_mandatory : base->profile_mandatory;
    sc->port_http = add->port_http ? add->port_http : base->port_http;
    sc->port_https = add->port_https ? add->port_https : base->port_https;
    sc->eab = MERGE_PTR(eab);
    sc->renew_window = (add->renew_window.percent || add->renew_window.dur)
                       ? add->renew_window : base->renew_window;
    sc->warn_window = (add->warn_window.percent || add->warn_window.dur)
                      ? add->warn_window : base->warn_window;
    return sc;
}

int mod_acme_srv_enabled(server_rec *s)
{
    return mod_acme_srv_conf(s)->enabled == 1;
}

mod_acme_vhost_t *mod_acme_vhost_get(server_rec *s)
{
    return mod_acme_gen ? apr_hash_get(mod_acme_gen->vhosts, &s, sizeof(s)) : NULL;
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

static mod_acme_srv_conf_t *cmd_conf(cmd_parms *cmd)
{
    return ap_get_module_config(cmd->server->module_config, &acme_module);
}

/* The per-certificate setting s is written here (not inherited). */
static mod_acme_srv_conf_t *cmd_conf_written(cmd_parms *cmd, mod_acme_setting_t s)
{
    mod_acme_srv_conf_t *sc = cmd_conf(cmd);
    sc->written |= 1u << s;
    return sc;
}

/* "line N of FILE" of the directive being read, for messages after the config is read. */
static const char *cmd_at(cmd_parms *cmd)
{
    if (!cmd->directive || !cmd->directive->filename) {
        return "the command line";
    }
    return apr_psprintf(cmd->pool, "line %d of %s", cmd->directive->line_num,
                        cmd->directive->filename);
}

/* A file or program a directive names is unusable (err). At start and in configtest that
 * is a configuration error (returned). In a restart of a running server (ours, to activate
 * certificates, or a graceful restart without configtest) the file may have changed since:
 * refusing the configuration would stop the server, so it is logged and the directive
 * keeps its value; what then fails at run time says why. */
static const char *file_problem(cmd_parms *cmd, const char *err)
{
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return err;
    }
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, cmd->server, ACMELOGNO(00124)
                 "%s (on %s); the server keeps running, but the next start fails until this "
                 "is fixed", err, cmd_at(cmd));
    return NULL;
}

/* A duration directive's value in [min, max], or an error saying what to give. */
static const char *parse_duration(cmd_parms *cmd, const char *arg, apr_interval_time_t *pdur,
                                  apr_interval_time_t min, apr_interval_time_t max,
                                  const char *examples)
{
    apr_status_t rv = acme_duration_parse_range(pdur, arg, min, max);
    if (rv == APR_SUCCESS) {
        return NULL;
    }
    return apr_psprintf(cmd->pool, "%s: '%s' is %s: give a duration from %s to %s (units ms, "
                        "s, m, h, d), e.g. %s", cmd->cmd->name, arg,
                        rv == APR_ERANGE ? "out of range" : "not a duration",
                        min ? acme_duration_print(cmd->pool, min) : "0",
                        acme_duration_print(cmd->pool, max), examples);
}

static const char *set_enabled(cmd_parms *cmd, void *dc, const char *arg)
{
    mod_acme_srv_conf_t *sc = cmd_conf(cmd);
    const char *err = parse_onoff(cmd, arg, &sc->enabled);
    if (!err) {
        sc->enabled_here = cmd->server->is_virtual && sc->enabled == 1;
    }
    return err;
}

static const char *set_server(cmd_parms *cmd, void *dc, int argc, char *const argv[])
{
    const char *err = global_only(cmd), *url, *why;
    apr_array_header_t *urls;
    int i;
    if (err) {
        return err;
    }
    if (argc < 1) {
        return "ACMEServer: give a CA directory URL or name, or several for failover";
    }
    if (argc > ACME_CA_MAX) {
        return apr_psprintf(cmd->pool, "ACMEServer: at most %d CAs", ACME_CA_MAX);
    }
    urls = apr_array_make(cmd->pool, argc, sizeof(const char *));
    for (i = 0; i < argc; ++i) {
        if (acme_ca_resolve(&url, &why, cmd->pool, argv[i]) != APR_SUCCESS) {
            return apr_pstrcat(cmd->pool, "ACMEServer: ", why, NULL);
        }
        if (acme_ca_index(urls, url) >= 0) {
            return apr_psprintf(cmd->pool, "ACMEServer: '%s' is given twice (%s)", argv[i],
                                url);
        }
        APR_ARRAY_PUSH(urls, const char *) = url;
    }
    cmd_conf(cmd)->ca_url = APR_ARRAY_IDX(urls, 0, const char *);
    cmd_conf(cmd)->ca_urls = urls;
    return NULL;
}

/* NULL when path is a regular file (*pfi says more), else why not. */
static const char *check_regular_file(apr_pool_t *p, const char *path, apr_finfo_t *pfi)
{
    apr_status_t rv;
    char ebuf[128];

    if ((rv = apr_stat(pfi, path, APR_FINFO_TYPE | APR_FINFO_PROT, p)) != APR_SUCCESS) {
        return apr_psprintf(p, "'%s' %s", path, APR_STATUS_IS_ENOENT(rv) ? "does not exist"
                            : apr_strerror(rv, ebuf, sizeof(ebuf)));
    }
    if (pfi->filetype == APR_DIR) {
        return apr_psprintf(p, "'%s' is a directory", path);
    }
    if (pfi->filetype != APR_REG) {
        return apr_psprintf(p, "'%s' is not a regular file", path);
    }
    return NULL;
}

/* NULL when path is a PEM file with at least one certificate, else why not (in p). Only its
 * first certificate is parsed (libcurl reads the whole file in the watchdog child), and the
 * file goes to a pool of its own, given back at once: parsing Debian's whole bundle (about
 * 140 certificates) left about 900 KB in the parent's malloc heap, in the parent and every
 * child, whatever the heap's layout (freeing the parsed certificates did not give it back). */
#define PEM_END_CERT "-----END CERTIFICATE-----"
static const char *check_ca_file(apr_pool_t *p, const char *path)
{
    apr_finfo_t fi;
    apr_status_t rv;
    apr_array_header_t *certs;
    apr_pool_t *sp;
    char *pem, ebuf[128];
    const char *end;
    apr_size_t len;
    const char *err = check_regular_file(p, path, &fi);

    if (err) {
        return err;
    }
    sp = mod_acme_scratch_pool(p);
    if ((rv = acme_file_read(&pem, &len, path, sp)) != APR_SUCCESS) {
        err = apr_psprintf(p, "'%s' cannot be read (%s)", path,
                           apr_strerror(rv, ebuf, sizeof(ebuf)));
    }
    else if ((end = strstr(pem, PEM_END_CERT)) == NULL
             || acme_chain_parse(&certs, sp, pem, (apr_size_t)(end - pem)
                                                  + sizeof(PEM_END_CERT) - 1) != APR_SUCCESS) {
        err = apr_psprintf(p, "'%s' holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                           path);
    }
    apr_pool_destroy(sp);
    return err;
}

static const char *set_ca_file(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = global_only(cmd);
    const char *path;
    if (err) {
        return err;
    }
    path = ap_server_root_relative(cmd->pool, arg);
    if (!path) {
        return apr_psprintf(cmd->pool, "ACMEServerCAFile: '%s' is not a valid path", arg);
    }
    if ((err = check_ca_file(cmd->pool, path)) != NULL
        && (err = file_problem(cmd, apr_psprintf(cmd->pool, "ACMEServerCAFile: %s: give the "
                                                 "path (absolute, or relative to ServerRoot) "
                                                 "of a PEM file with the CA's TLS trust "
                                                 "anchors", err))) != NULL) {
        return err;
    }
    cmd_conf(cmd)->ca_file = path;
    cmd_conf(cmd)->ca_file_at = cmd_at(cmd);
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

const char *mod_acme_contact_uri(apr_pool_t *p, const char *arg)
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
    mod_acme_srv_conf_t *sc = cmd_conf(cmd);
    if (err) {
        return err;
    }
    uri = mod_acme_contact_uri(cmd->pool, arg);
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

static const char *set_store_dir(cmd_parms *cmd, const char *arg)
{
    const char *path;
    apr_finfo_t fi;
    apr_status_t rv;
    char ebuf[128];
    if (!*arg) {
        return "ACMEStore: needs a directory (absolute, or relative to ServerRoot), "
               "e.g. ACMEStore /var/lib/apache2/acme";
    }
    path = ap_server_root_relative(cmd->pool, arg);
    if (!path) {
        return apr_psprintf(cmd->pool, "ACMEStore: '%s' is not a valid path", arg);
    }
    rv = apr_stat(&fi, path, APR_FINFO_TYPE, cmd->pool);
    if (rv == APR_SUCCESS && fi.filetype != APR_DIR) {
        return apr_psprintf(cmd->pool, "ACMEStore: '%s' exists and is not a directory: give "
                            "a directory the server may create and own", path);
    }
    if (rv != APR_SUCCESS && !APR_STATUS_IS_ENOENT(rv)) {
        return apr_psprintf(cmd->pool, "ACMEStore: '%s' cannot be used (%s): give a "
                            "directory the server may create and own", path,
                            apr_strerror(rv, ebuf, sizeof(ebuf)));
    }
    cmd_conf(cmd)->store_dir = path;
    return NULL;
}

/* ACMEStore DIR, or ACMEStore pgsql:"CONNINFO" [LOCAL-DIR] (fleet mode, acme_fleet.h). */
static const char *set_store(cmd_parms *cmd, void *dc, const char *args)
{
    const char *err = global_only(cmd), *conninfo, *local, *why, *word;
    int pg;
    if (err) {
        return err;
    }
    pg = acme_fleet_store_arg(&conninfo, &local, &why, cmd->pool, args);
    if (pg < 0) {
        return apr_psprintf(cmd->pool, "ACMEStore: %s: give pgsql:\"CONNINFO\" [LOCAL-DIR], "
                            "e.g. ACMEStore pgsql:\"host=db.example.org dbname=acme "
                            "user=acme\" /var/lib/apache2/acme", why);
    }
    if (pg > 0) {
        cmd_conf(cmd)->fleet_conninfo = conninfo;
        cmd_conf(cmd)->fleet_at = cmd_at(cmd);
        return local ? set_store_dir(cmd, local) : NULL;
    }
    word = ap_getword_conf(cmd->pool, &args);
    if (*args) {
        return "ACMEStore: takes one directory (or pgsql:\"CONNINFO\" [LOCAL-DIR])";
    }
    return set_store_dir(cmd, word);
}

/* ACMEStorePasswordFile PATH: read now by the root parent, kept in memory only. */
static const char *set_store_password(cmd_parms *cmd, void *dc, const char *file)
{
    const char *err = global_only(cmd), *path, *pw = NULL, *why = NULL;
    if (err) {
        return err;
    }
    if (!(path = ap_server_root_relative(cmd->pool, file))) {
        return apr_psprintf(cmd->pool, "ACMEStorePasswordFile: '%s' is not a valid path", file);
    }
    if (acme_fleet_password_load(&pw, &why, cmd->pool, path) != APR_SUCCESS) {
        return file_problem(cmd, apr_psprintf(cmd->pool, "ACMEStorePasswordFile: %s (the file "
                                              "holds the database password, readable by root "
                                              "only)", why));
    }
    cmd_conf(cmd)->fleet_password = pw;
    return NULL;
}

/* ACMEFleetKeyFile PATH: the key that encrypts private keys in the database. */
static const char *set_fleet_key(cmd_parms *cmd, void *dc, const char *file)
{
    const char *err = global_only(cmd), *path, *why = NULL;
    unsigned char *key;
    if (err) {
        return err;
    }
    if (!(path = ap_server_root_relative(cmd->pool, file))) {
        return apr_psprintf(cmd->pool, "ACMEFleetKeyFile: '%s' is not a valid path", file);
    }
    cmd_conf(cmd)->fleet_key_file = path;
    key = apr_pcalloc(cmd->pool, ACME_FLEET_KEY_LEN);
    if (acme_fleet_key_load(key, &why, cmd->pool, path) != APR_SUCCESS) {
        return file_problem(cmd, apr_psprintf(cmd->pool, "ACMEFleetKeyFile: %s", why));
    }
    cmd_conf(cmd)->fleet_key = key;
    return NULL;
}

/* ACMEFleetNode NAME: this node's name in the fleet. */
static const char *set_fleet_node(cmd_parms *cmd, void *dc, const char *name)
{
    const char *err = global_only(cmd);
    if (err) {
        return err;
    }
    if (!*name || strlen(name) > 64 || strspn(name, "abcdefghijklmnopqrstuvwxyz"
                                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_")
                                       != strlen(name)) {
        return apr_psprintf(cmd->pool, "ACMEFleetNode: '%s' is not a node name: give 1 to 64 "
                            "letters, digits, '.', '-' or '_', e.g. ACMEFleetNode web1", name);
    }
    cmd_conf(cmd)->fleet_node = name;
    return NULL;
}

/* "33%" or a duration ("30d", "12h", "90s"). */
static const char *parse_window(cmd_parms *cmd, const char *arg, mod_acme_window_t *w)
{
    apr_status_t rv = acme_window_parse(&w->percent, &w->dur, arg, WINDOW_MAX);
    if (rv == APR_SUCCESS) {
        return NULL;
    }
    return apr_psprintf(cmd->pool, "%s: '%s' is %s: give a share of the lifetime from 1%% to "
                        "99%% (e.g. 33%%) or a duration from 1s to %s (e.g. 30d, 12h)",
                        cmd->cmd->name, arg, rv == APR_ERANGE ? "out of range" : "not a window",
                        acme_duration_print(cmd->pool, WINDOW_MAX));
}

static const char *set_renew_window(cmd_parms *cmd, void *dc, const char *arg)
{
    return parse_window(cmd, arg,
                        &cmd_conf_written(cmd, ACME_SET_RENEW_WINDOW)->renew_window);
}

static const char *set_warn_window(cmd_parms *cmd, void *dc, const char *arg)
{
    return parse_window(cmd, arg, &cmd_conf_written(cmd, ACME_SET_WARN_WINDOW)->warn_window);
}

static const char *set_renewal_info(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = global_only(cmd);
    return err ? err : parse_onoff(cmd, arg, &cmd_conf(cmd)->renewal_info);
}

static const char *set_stateless_http01(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = global_only(cmd);
    return err ? err : parse_onoff(cmd, arg, &cmd_conf(cmd)->stateless_http01);
}

static const char *set_retry_delay(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = global_only(cmd);
    apr_interval_time_t d;
    if (err) {
        return err;
    }
    if ((err = parse_duration(cmd, arg, &d, 1000, RETRY_DELAY_MAX, "1m, 30s or 500ms"))) {
        return err;
    }
    cmd_conf(cmd)->retry_delay = d;
    return NULL;
}

/* NULL when path is a regular file someone may execute, else why not (whether the
 * server's User may is checked in check_config, once User is known). */
static const char *check_program(apr_pool_t *p, const char *path)
{
    apr_finfo_t fi;
    const char *err = check_regular_file(p, path, &fi);

    if (err) {
        return err;
    }
    if (!(fi.protection & (APR_UEXECUTE | APR_GEXECUTE | APR_WEXECUTE))) {
        return apr_psprintf(p, "'%s' is not executable (chmod +x)", path);
    }
    return NULL;
}

/* ACMETimeout: one request to the CA, from connect to the last byte of the answer. */
static const char *set_http_timeout(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = global_only(cmd);
    apr_interval_time_t d;
    if (err) {
        return err;
    }
    if ((err = parse_duration(cmd, arg, &d, apr_time_from_sec(1), apr_time_from_sec(600),
                              "30s or 2m"))) {
        return err;
    }
    cmd_conf(cmd)->http_timeout = d;
    return NULL;
}

/* ACMEMaxParallel N: orders in flight at once in the watchdog child. */
static const char *set_max_parallel(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = global_only(cmd);
    char *end = NULL;
    long n;

    if (err) {
        return err;
    }
    n = apr_isdigit(*arg) ? strtol(arg, &end, 10) : 0;
    if (!end || *end || n < 1 || n > ACME_RUNNER_PARALLEL_LIMIT) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a number from 1 to %d: give how many "
                            "orders may be in flight at once, e.g. %s %d (the default)",
                            cmd->cmd->name, arg, ACME_RUNNER_PARALLEL_LIMIT, cmd->cmd->name,
                            ACME_RUNNER_MAX_PARALLEL);
    }
    cmd_conf(cmd)->max_parallel = (int)n;
    return NULL;
}

/* ACMEOrderRate N/PERIOD: new orders per account at each CA (acme_pace.h). */
static const char *set_order_rate(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = global_only(cmd), *why;

    if (err) {
        return err;
    }
    if (acme_pace_rate_parse(&cmd_conf(cmd)->order_rate, &why, cmd->pool, arg)
        != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: %s; give the CA's budget of new orders, e.g. "
                            "%s 300/3h", cmd->cmd->name, why, cmd->cmd->name);
    }
    return NULL;
}

/* ACMERequestRates auto|letsencrypt|off: the CAs' per-endpoint request rates (acme_ca.h). */
static const char *set_request_rates(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = global_only(cmd);
    acme_request_rates_e mode;

    if (err) {
        return err;
    }
    if (acme_ca_request_rates_parse(&mode, arg) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not auto, letsencrypt or off (auto: Let's "
                            "Encrypt's request rates at its own URLs; letsencrypt: at every "
                            "CA; off: none)", cmd->cmd->name, arg);
    }
    cmd_conf(cmd)->request_rates = (int)mode + 1;
    return NULL;
}

/* PROGRAM [ARGS...] of ACMENotifyCmd and ACMEDNSHook: an absolute path, then arguments. */
static const char *set_program(cmd_parms *cmd, int argc, char *const argv[],
                               const char **pprog, apr_array_header_t **pargs,
                               const char **pat)
{
    const char *err;
    int i;
    if (argc < 1 || !*argv[0] || argv[0][0] != '/') {
        return apr_psprintf(cmd->pool, "%s: '%s' is not an absolute path: give the program's "
                            "full path (and optional arguments), e.g. %s /usr/local/bin/%s",
                            cmd->cmd->name, argc ? argv[0] : "", cmd->cmd->name,
                            cmd->cmd->name[4] == 'N' ? "acme-notify --mail root"
                                                     : "acme-dns-hook");
    }
    if ((err = check_program(cmd->pool, argv[0])) != NULL
        && (err = file_problem(cmd, apr_psprintf(cmd->pool, "%s: %s: give the full path of "
                                                 "an executable program", cmd->cmd->name,
                                                 err))) != NULL) {
        return err;
    }
    *pprog = argv[0];
    *pat = cmd_at(cmd);
    *pargs = apr_array_make(cmd->pool, argc, sizeof(const char *));
    for (i = 1; i < argc; ++i) {
        APR_ARRAY_PUSH(*pargs, const char *) = argv[i];
    }
    return NULL;
}

static const char *set_notify_cmd(cmd_parms *cmd, void *dc, int argc, char *const argv[])
{
    const char *err = global_only(cmd);
    mod_acme_srv_conf_t *sc = cmd_conf(cmd);
    return err ? err : set_program(cmd, argc, argv, &sc->notify_cmd, &sc->notify_args,
                                   &sc->notify_at);
}

static const char *set_key_type(cmd_parms *cmd, void *dc, const char *arg)
{
    mod_acme_srv_conf_t *sc;
    acme_key_type_t type;
    if (acme_key_type_parse(&type, arg) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "ACMEKeyType: '%s' is not a key type: use p256, p384, "
                            "rsa2048, rsa3072 or rsa4096", arg);
    }
    sc = cmd_conf_written(cmd, ACME_SET_KEY_TYPE);
    sc->key_type = (int)type;
    sc->key_types = apr_array_make(cmd->pool, 1, sizeof(int));
    APR_ARRAY_PUSH(sc->key_types, int) = (int)type;
    return NULL;
}

/* ACMEKeyTypes TYPE...: one certificate per type (ACMEKeyType is the one-type form). */
static const char *set_key_types(cmd_parms *cmd, void *dc, int argc, char *const argv[])
{
    mod_acme_srv_conf_t *sc;
    apr_array_header_t *types;
    const char *why;

    if (acme_key_types_parse(&types, &why, cmd->pool, argc, (const char *const *)argv)
        != APR_SUCCESS) {
        return apr_pstrcat(cmd->pool, "ACMEKeyTypes: ", why, NULL);
    }
    sc = cmd_conf_written(cmd, ACME_SET_KEY_TYPE);
    sc->key_type = APR_ARRAY_IDX(types, 0, int);
    sc->key_types = types;
    return NULL;
}

static const char *set_profile(cmd_parms *cmd, void *dc, const char *name, const char *flag)
{
    mod_acme_srv_conf_t *sc;
    if (!acme_profile_name_ok(name)) {
        return apr_psprintf(cmd->pool, "ACMEProfile: '%s' is not a profile name (1 to 64 "
                            "letters, digits, '.', '_' or '-', e.g. classic, tlsserver, "
                            "shortlived)", name);
    }
    if (flag && ap_cstr_casecmp(flag, "mandatory")) {
        return apr_psprintf(cmd->pool, "ACMEProfile %s: '%s' is not understood: the only "
                            "word allowed after the name is 'mandatory'", name, flag);
    }
    sc = cmd_conf_written(cmd, ACME_SET_PROFILE);
    sc->profile = name;
    sc->profile_mandatory = flag != NULL;
    return NULL;
}

static const char *set_preferred_chain(cmd_parms *cmd, void *dc, const char *arg)
{
    if (!*arg) {
        return "ACMEPreferredChain: give the issuer name (CN) the chain's top certificate "
               "has, e.g. \"ISRG Root X1\"";
    }
    cmd_conf_written(cmd, ACME_SET_PREFERRED_CHAIN)->preferred_chain = arg;
    return NULL;
}

static const char *set_key_reuse(cmd_parms *cmd, void *dc, const char *arg)
{
    int flag = 0;
    const char *err = parse_onoff(cmd, arg, &flag);
    if (!err) {
        cmd_conf_written(cmd, ACME_SET_KEY_REUSE)->key_reuse = flag;
    }
    return err;
}

static const char *set_require_https(cmd_parms *cmd, void *dc, const char *arg)
{
    acme_https_mode_t mode;
    if (acme_https_mode_parse(&mode, arg) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "ACMERequireHttps: '%s' is not a valid value: use "
                            "'off', 'temporary' or 'permanent'", arg);
    }
    cmd_conf_written(cmd, ACME_SET_REQUIRE_HTTPS)->require_https = (int)mode;
    return NULL;
}

static const char *add_challenge(cmd_parms *cmd, void *dc, const char *arg)
{
    mod_acme_srv_conf_t *sc = cmd_conf_written(cmd, ACME_SET_CHALLENGES);
    const acme_challenge_provider_t *prov = acme_challenge_provider(arg);
    const char *type = prov ? prov->type : NULL;
    if (!type) {
        return apr_psprintf(cmd->pool, "ACMEChallenges: '%s' is not a challenge type: use "
                            "http-01, tls-alpn-01, dns-01 and/or dns-persist-01, in order of "
                            "preference", arg);
    }
    if (!sc->challenges) {
        sc->challenges = apr_array_make(cmd->pool, 3, sizeof(const char *));
    }
    if (acme_names_contain(sc->challenges, type)) {
        return apr_psprintf(cmd->pool, "ACMEChallenges: '%s' is listed twice", type);
    }
    sc->challenges_at = cmd_at(cmd);
    APR_ARRAY_PUSH(sc->challenges, const char *) = type;
    return NULL;
}

static const char *set_dns_hook(cmd_parms *cmd, void *dc, int argc, char *const argv[])
{
    mod_acme_srv_conf_t *sc = cmd_conf_written(cmd, ACME_SET_DNS_HOOK);
    return set_program(cmd, argc, argv, &sc->dns_hook, &sc->dns_hook_args, &sc->dns_hook_at);
}

static const char *set_dns_propagation(cmd_parms *cmd, void *dc, const char *arg)
{
    apr_interval_time_t d;
    const char *err = parse_duration(cmd, arg, &d, 0, PROPAGATION_MAX,
                                     "2m, 90s, or 0 not to wait");
    if (err) {
        return err;
    }
    cmd_conf_written(cmd, ACME_SET_DNS_PROPAGATION)->dns_propagation = d;
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
    cmd_conf_written(cmd, ACME_SET_DNS_RESOLVER)->dns_resolver = arg;
    return NULL;
}

static const char *set_port_map(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = global_only(cmd);
    mod_acme_srv_conf_t *sc = cmd_conf(cmd);
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

/* ACMEExternalAccountBinding KID KEY-FILE: the key is read here, by root, while the
 * configuration is read (also in configtest); it stays in this generation's memory, which
 * the children inherit, so the file itself may be root-only. */
static const char *set_eab(cmd_parms *cmd, void *dc, const char *kid, const char *file)
{
    const char *err = global_only(cmd);
    const char *path, *why = NULL;
    acme_eab_t *eab;
    unsigned char *key = NULL;
    apr_size_t len = 0;
    if (err) {
        return err;
    }
    if ((why = acme_eab_kid_problem(cmd->pool, kid)) != NULL) {
        return apr_psprintf(cmd->pool, "ACMEExternalAccountBinding: %s: give the key id (KID) "
                            "the CA shows with the HMAC key, then the key's file, e.g. "
                            "ACMEExternalAccountBinding kid-1 /etc/apache2/acme-eab.key", why);
    }
    path = ap_server_root_relative(cmd->pool, file);
    if (!path) {
        return apr_psprintf(cmd->pool, "ACMEExternalAccountBinding: '%s' is not a valid path",
                            file);
    }
    eab = apr_pcalloc(cmd->pool, sizeof(*eab));
    eab->kid = kid;
    eab->file = path;
    if (acme_eab_key_load(&key, &len, &why, cmd->pool, path) != APR_SUCCESS) {
        if ((err = file_problem(cmd, apr_psprintf(cmd->pool, "ACMEExternalAccountBinding: %s "
                                                  "(the key file holds the CA's HMAC key, "
                                                  "base64url, readable by root only)",
                                                  why))) != NULL) {
            return err;
        }
        eab->why = why;
    }
    eab->key = key;
    eab->key_len = len;
    cmd_conf(cmd)->eab = eab;
    return NULL;
}

/* ACMEDomain NAME...: one certificate for these names (acme_groups.c groups the vhosts). */
static const char *add_domain(cmd_parms *cmd, void *dc, int argc, char *const argv[])
{
    const char *err = global_only(cmd), *why = NULL;
    mod_acme_srv_conf_t *sc = cmd_conf(cmd);
    apr_array_header_t *names;
    int i, d;

    if (err) {
        return err;
    }
    if (argc < 1) {
        return "ACMEDomain: give the names of the certificate, e.g. "
               "ACMEDomain example.org www.example.org";
    }
    names = apr_array_make(cmd->pool, argc, sizeof(const char *));
    for (i = 0; i < argc; ++i) {
        const char *n = acme_name_lower(cmd->pool, argv[i]);
        if (!acme_name_is_certifiable(n, &why)) {
            return apr_psprintf(cmd->pool, "ACMEDomain: '%s' cannot be in a certificate "
                                "(%s)", argv[i], why ? why : "no public CA can certify it");
        }
        for (d = 0; sc->domains && d < sc->domains->nelts; ++d) {
            const apr_array_header_t *o = APR_ARRAY_IDX(sc->domains, d, apr_array_header_t *);
            if (acme_names_contain(o, n)) {
                return apr_psprintf(cmd->pool, "ACMEDomain: %s is already in ACMEDomain %s: a "
                                    "name may be in one ACMEDomain only", n,
                                    APR_ARRAY_IDX(o, 0, const char *));
            }
        }
        if (!acme_names_contain(names, n)) {
            APR_ARRAY_PUSH(names, const char *) = n;
        }
    }
    if (!sc->domains) {
        sc->domains = apr_array_make(cmd->pool, 2, sizeof(apr_array_header_t *));
    }
    APR_ARRAY_PUSH(sc->domains, apr_array_header_t *) = names;
    return NULL;
}

const command_rec mod_acme_cmds[] = {
    AP_INIT_TAKE1("ACME", set_enabled, NULL, RSRC_CONF,
                  "on|off: obtain and renew this server's certificate from the ACME CA "
                  "(in the main server: for every VirtualHost that does not say off)"),
    AP_INIT_TAKE_ARGV("ACMEServer", set_server, NULL, RSRC_CONF,
                      "CA [CA ...]: the ACME CA's directory URL or letsencrypt, "
                      "letsencrypt-staging, zerossl, google, google-staging (default "
                      "letsencrypt); several: the next after 3 failed attempts in a row"),
    AP_INIT_TAKE1("ACMEServerCAFile", set_ca_file, NULL, RSRC_CONF,
                  "PATH: PEM trust anchors for TLS connections to the CA (default: system trust)"),
    AP_INIT_ITERATE("ACMEContact", add_contact, NULL, RSRC_CONF,
                    "EMAIL...: the ACME account's contact (default: ServerAdmin when it is an "
                    "e-mail address)"),
    AP_INIT_TAKE2("ACMEExternalAccountBinding", set_eab, NULL, RSRC_CONF,
                  "KID KEY-FILE: External Account Binding for new accounts: the CA's key id "
                  "and a root-only file with its HMAC key (base64url) (default none)"),
    AP_INIT_TAKE1("ACMEAgreeTerms", set_agree, NULL, RSRC_CONF,
                  "on|off: accept the CA's terms of service (default off)"),
    AP_INIT_RAW_ARGS("ACMEStore", set_store, NULL, RSRC_CONF,
                     "DIR: where accounts, keys, certificates and state live, relative to "
                     "ServerRoot (default acme); or pgsql:\"CONNINFO\" [LOCAL-DIR]: fleet "
                     "mode, shared in PostgreSQL, LOCAL-DIR the node's local copy"),
    AP_INIT_TAKE1("ACMEStorePasswordFile", set_store_password, NULL, RSRC_CONF,
                  "PATH: root-only file with the database password (ACMEStore pgsql:)"),
    AP_INIT_TAKE1("ACMEFleetKeyFile", set_fleet_key, NULL, RSRC_CONF,
                  "PATH: root-only file with the 32-byte key that encrypts private keys in "
                  "the fleet database (the same file on every node; fleet mode needs it)"),
    AP_INIT_TAKE1("ACMEFleetNode", set_fleet_node, NULL, RSRC_CONF,
                  "NAME: this node's name in the fleet (default: host name and a hash of "
                  "ServerRoot)"),
    AP_INIT_TAKE1("ACMEAutoRestart", set_auto_restart, NULL, RSRC_CONF,
                  "on|off: restart gracefully by itself to activate new certificates "
                  "(default on)"),
    AP_INIT_TAKE1("ACMEKeyType", set_key_type, NULL, RSRC_CONF,
                  "p256|p384|rsa2048|rsa3072|rsa4096: the certificate's key type (default "
                  "p256; the one-type form of ACMEKeyTypes)"),
    AP_INIT_TAKE_ARGV("ACMEKeyTypes", set_key_types, NULL, RSRC_CONF,
                      "TYPE...: one certificate per key type for the same names (p256, p384, "
                      "rsa2048, rsa3072, rsa4096; at most one ECDSA and one RSA type; default "
                      "p256)"),
    AP_INIT_TAKE12("ACMEProfile", set_profile, NULL, RSRC_CONF,
                   "NAME [mandatory]: ask the CA for this certificate profile (e.g. "
                   "shortlived); without 'mandatory' the CA's default is used when it does not "
                   "offer it (default: none)"),
    AP_INIT_TAKE1("ACMEPreferredChain", set_preferred_chain, NULL, RSRC_CONF,
                  "ISSUER-CN: take the CA's alternate chain whose top certificate was issued "
                  "by this name (default: the CA's default chain)"),
    AP_INIT_TAKE1("ACMEKeyReuse", set_key_reuse, NULL, RSRC_CONF,
                  "on|off: keep the certificate's private key across renewals (default off)"),
    AP_INIT_TAKE1("ACMERequireHttps", set_require_https, NULL, RSRC_CONF,
                  "off|temporary|permanent: once a certificate is live, redirect http requests "
                  "for its names to https (302 / 301); permanent also sends HSTS for 60 days "
                  "(default off)"),
    AP_INIT_TAKE1("ACMERenewWindow", set_renew_window, NULL, RSRC_CONF,
                  "N%|DURATION: renew when this much of the lifetime is left, or this long "
                  "before expiry (default 33%)"),
    AP_INIT_TAKE1("ACMEWarnWindow", set_warn_window, NULL, RSRC_CONF,
                  "N%|DURATION: from here on log and notify 'expiring' daily (default 10%)"),
    AP_INIT_TAKE1("ACMERenewalInfo", set_renewal_info, NULL, RSRC_CONF,
                  "on|off: follow the CA's renewal information (RFC 9773) when it offers "
                  "it (default on)"),
    AP_INIT_TAKE1("ACMEStatelessHTTP01", set_stateless_http01, NULL, RSRC_CONF,
                  "on|off: answer http-01 for any well-formed token on a managed name with "
                  "token.thumbprint of the account, without a stored response (default off)"),
    AP_INIT_TAKE1("ACMERetryDelay", set_retry_delay, NULL, RSRC_CONF,
                  "DURATION: first retry delay after a failure, x10 each time up to a day "
                  "(default 1m)"),
    AP_INIT_TAKE1("ACMEMaxParallel", set_max_parallel, NULL, RSRC_CONF,
                  "N: orders in flight at once, 1 to 256 (default 32)"),
    AP_INIT_TAKE1("ACMEOrderRate", set_order_rate, NULL, RSRC_CONF,
                  "N/PERIOD: new orders per account at a CA, e.g. 300/3h (default: what the "
                  "CA documents, no budget for an unknown CA)"),
    AP_INIT_TAKE1("ACMERequestRates", set_request_rates, NULL, RSRC_CONF,
                  "auto|letsencrypt|off: requests per second to each endpoint of a CA as Let's "
                  "Encrypt documents them, at its URLs (auto, the default), at every CA, or "
                  "none"),
    AP_INIT_TAKE1("ACMETimeout", set_http_timeout, NULL, RSRC_CONF,
                  "DURATION: limit of one request to the CA, connect to last byte "
                  "(default 30s)"),
    AP_INIT_ITERATE("ACMEChallenges", add_challenge, NULL, RSRC_CONF,
                    "TYPE...: allowed challenge types in order of preference: http-01, "
                    "tls-alpn-01, dns-01, dns-persist-01 (default: chosen from the ports the "
                    "server listens on)"),
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
    AP_INIT_TAKE_ARGV("ACMEDomain", add_domain, NULL, RSRC_CONF,
                      "NAME...: one certificate for these names, used by every VirtualHost "
                      "whose names it holds (its other names are added); may be repeated"),
    { NULL }
};

mod_acme_gen_t *mod_acme_gen_create(apr_pool_t *p, server_rec *s)
{
    mod_acme_srv_conf_t *sc = mod_acme_srv_conf(s);
    mod_acme_gen_t *m = apr_pcalloc(p, sizeof(*m));
    server_rec *vs;

    m->pool = p;
    m->s = s;
    m->ca_url = sc->ca_url ? sc->ca_url : acme_ca_known_url(CA_DEFAULT);
    m->ca_urls = sc->ca_urls;
    if (!m->ca_urls) {
        m->ca_urls = apr_array_make(p, 1, sizeof(const char *));
        APR_ARRAY_PUSH(m->ca_urls, const char *) = m->ca_url;
    }
    m->ca_file = sc->ca_file;
    m->store_dir = sc->store_dir ? sc->store_dir : ap_server_root_relative(p, "acme");
    m->agree_tos = sc->agree_tos == 1;
    m->auto_restart = sc->auto_restart != 0;
    m->contacts = sc->contacts;
    m->renewal_info = sc->renewal_info != 0;
    m->stateless_http01 = sc->stateless_http01 == 1;
    m->retry_delay = sc->retry_delay > 0 ? sc->retry_delay : apr_time_from_sec(60);
    m->http_timeout = sc->http_timeout > 0 ? sc->http_timeout : apr_time_from_sec(30);
    m->notify_cmd = sc->notify_cmd;
    m->notify_args = sc->notify_args;
    m->port_http = sc->port_http ? sc->port_http : 80;
    m->port_https = sc->port_https ? sc->port_https : 443;
    m->eab = sc->eab;
    m->fleet_conninfo = sc->fleet_conninfo;
    m->fleet_password = sc->fleet_password;
    m->fleet_key = sc->fleet_key;
    m->fleet_key_file = sc->fleet_key_file;
    m->fleet_at = sc->fleet_at;
    m->fleet_node = sc->fleet_node;
    m->max_parallel = sc->max_parallel;
    m->order_rate = sc->order_rate;
    m->request_rates = sc->request_rates ? sc->request_rates - 1 : ACME_REQUEST_RATES_AUTO;
    if (!m->contacts) {
        const char *uri = s->server_admin ? mod_acme_contact_uri(p, s->server_admin) : NULL;
        m->contacts = apr_array_make(p, 1, sizeof(const char *));
        if (uri) {
            APR_ARRAY_PUSH(m->contacts, const char *) = uri;
        }
    }
    m->certs = apr_array_make(p, 16, sizeof(mod_acme_managed_t *));
    m->by_names = apr_hash_make(p);
    m->by_id = apr_hash_make(p);
    m->vhosts = apr_hash_make(p);
    for (vs = s; vs; vs = vs->next) {
        if (mod_acme_srv_enabled(vs)) {
            m->any_enabled = 1;
        }
    }
    return m;
}
