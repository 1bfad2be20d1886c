/* mod_acme: per-vhost settings and the configtest checks that need the whole config.
 * Which vhosts are https is read from the parsed config (SSLEngine in the <VirtualHost>
 * section of ap_conftree): `apache2 -t` runs no post_config and no mod_ssl hook, and
 * configtest and start-up must agree. The rule (whose value a shared certificate takes,
 * what is a conflict) is acme_settings.c; this file only turns vhosts into its records. */
#include <errno.h>
#include <grp.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_strings.h>
#include <apr_hash.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <ap_listen.h>
#include <unixd.h>

#include "mod_acme_log.h"
#include "mod_acme_config.h"
#include "mod_acme_generation.h"
#include "mod_acme_settings.h"
#include "mod_acme_ssl.h"

APLOG_USE_MODULE(acme);
#include "acme_settings.h"
#include "acme_util.h"
#include "acme_dns.h"
#include "acme_crypto.h"
#include "acme_spec.h"
#include "acme_https.h"
#include "acme_keytypes.h"

static const char *const directives[ACME_SET_COUNT] = {
    "ACMEKeyTypes", "ACMERenewWindow", "ACMEWarnWindow", "ACMEChallenges", "ACMEDNSHook",
    "ACMEDNSPropagationTimeout", "ACMEDNSResolver",
    "ACMEProfile", "ACMEPreferredChain", "ACMEKeyReuse",
    "ACMERequireHttps",
};

/* What the config tree says about a <VirtualHost> section (or the server config). */
#define TLS_ON   1  /* SSLEngine on, optional or addresses */
#define TLS_OFF  2  /* SSLEngine off */
#define OWN_CERT 4  /* SSLCertificateFile: mod_ssl never asks us for its certificate */

typedef struct {
    apr_hash_t *sections;   /* "FILE:LINE" of a <VirtualHost> -> int flags */
    int global;             /* flags of the server config outside <VirtualHost> */
} tls_map_t;

/* Directives of one section, in order, including those in <IfModule> and the like. */
static void scan_section(const ap_directive_t *d, int *pflags, apr_pool_t *p)
{
    for (; d; d = d->next) {
        if (!ap_cstr_casecmp(d->directive, "SSLEngine")) {
            const char *args = d->args;
            const char *v = ap_getword_conf(p, &args);
            *pflags &= ~(TLS_ON | TLS_OFF);
            *pflags |= ap_cstr_casecmp(v, "off") ? TLS_ON : TLS_OFF;
        }
        else if (!ap_cstr_casecmp(d->directive, "SSLCertificateFile")) {
            *pflags |= OWN_CERT;
        }
        else if (d->first_child && ap_cstr_casecmp(d->directive, "<VirtualHost")) {
            scan_section(d->first_child, pflags, p);
        }
    }
}

static void find_vhosts(const ap_directive_t *d, tls_map_t *map, apr_pool_t *p)
{
    for (; d; d = d->next) {
        if (!ap_cstr_casecmp(d->directive, "<VirtualHost")) {
            int *flags = apr_pcalloc(p, sizeof(*flags));
            scan_section(d->first_child, flags, p);
            apr_hash_set(map->sections, apr_psprintf(p, "%s:%d", d->filename, d->line_num),
                         APR_HASH_KEY_STRING, flags);
        }
        else if (d->first_child) {
            find_vhosts(d->first_child, map, p);
        }
    }
}

static void tls_map_read(tls_map_t *map, apr_pool_t *p)
{
    const ap_directive_t *d;

    map->sections = apr_hash_make(p);
    map->global = 0;
    find_vhosts(ap_conftree, map, p);
    for (d = ap_conftree; d; d = d->next) { /* the server config's own SSLEngine */
        if (!d->first_child) {
            const ap_directive_t *one = d;
            ap_directive_t copy = *one;
            copy.next = NULL;
            scan_section(&copy, &map->global, p);
        }
    }
}

static int tls_flags(const tls_map_t *map, server_rec *s, apr_pool_t *p)
{
    int *f = NULL, flags;

    if (!s->is_virtual || !s->defn_name) {
        return map->global;
    }
    f = apr_hash_get(map->sections, apr_psprintf(p, "%s:%d", s->defn_name,
                                                 s->defn_line_number), APR_HASH_KEY_STRING);
    flags = f ? *f : 0;
    if (!(flags & (TLS_ON | TLS_OFF))) {
        flags |= map->global & (TLS_ON | TLS_OFF);
    }
    return flags;
}

const char *mod_acme_where(server_rec *s, apr_pool_t *p)
{
    if (!s->is_virtual || !s->defn_name) {
        return "main server";
    }
    return apr_psprintf(p, "VirtualHost at %s:%d", s->defn_name, s->defn_line_number);
}

static const char *window_text(apr_pool_t *p, const mod_acme_window_t *w)
{
    return w->percent ? apr_psprintf(p, "%d%%", w->percent) : acme_duration_print(p, w->dur);
}

/* The canonical text of setting i in sc (equal texts: equal settings). */
static const char *setting_text(apr_pool_t *p, const mod_acme_srv_conf_t *sc, mod_acme_setting_t i)
{
    const char *addr;
    int port;

    switch (i) {
    case ACME_SET_KEY_TYPE:
        return sc->key_types ? acme_key_types_text(p, sc->key_types)
                             : acme_key_type_name((acme_key_type_t)sc->key_type);
    case ACME_SET_RENEW_WINDOW:
        return window_text(p, &sc->renew_window);
    case ACME_SET_WARN_WINDOW:
        return window_text(p, &sc->warn_window);
    case ACME_SET_CHALLENGES:
        return acme_names_join(p, sc->challenges, " ");
    case ACME_SET_DNS_HOOK:
        return sc->dns_hook_args && sc->dns_hook_args->nelts
               ? apr_pstrcat(p, sc->dns_hook, " ", acme_names_join(p, sc->dns_hook_args, " "),
                             NULL)
               : sc->dns_hook;
    case ACME_SET_DNS_PROPAGATION:
        return acme_duration_print(p, sc->dns_propagation);
    case ACME_SET_DNS_RESOLVER:
        if (acme_dns_server_parse(&addr, &port, p, sc->dns_resolver) == APR_SUCCESS) {
            return apr_psprintf(p, "%s:%d", addr, port);
        }
        return sc->dns_resolver;
    case ACME_SET_PROFILE:
        return sc->profile_mandatory ? apr_pstrcat(p, sc->profile, " mandatory", NULL)
                                     : sc->profile;
    case ACME_SET_PREFERRED_CHAIN: {
        char *lower = apr_pstrdup(p, sc->preferred_chain); /* matched case-insensitively */
        ap_str_tolower(lower);
        return lower;
    }
    case ACME_SET_KEY_REUSE:
        return sc->key_reuse == 1 ? "on" : "off";
    case ACME_SET_REQUIRE_HTTPS:
        return acme_https_mode_name((acme_https_mode_t)sc->require_https);
    default:
        return NULL;
    }
}

static void setting_copy(mod_acme_srv_conf_t *to, const mod_acme_srv_conf_t *from,
                         mod_acme_setting_t i)
{
    switch (i) {
    case ACME_SET_KEY_TYPE:
        to->key_type = from->key_type;
        to->key_types = from->key_types;
        break;
    case ACME_SET_RENEW_WINDOW:
        to->renew_window = from->renew_window;
        break;
    case ACME_SET_WARN_WINDOW:
        to->warn_window = from->warn_window;
        break;
    case ACME_SET_CHALLENGES:
        to->challenges = from->challenges;
        break;
    case ACME_SET_DNS_HOOK:
        to->dns_hook = from->dns_hook;
        to->dns_hook_args = from->dns_hook_args;
        to->dns_hook_at = from->dns_hook_at;
        break;
    case ACME_SET_DNS_PROPAGATION:
        to->dns_propagation = from->dns_propagation;
        break;
    case ACME_SET_DNS_RESOLVER:
        to->dns_resolver = from->dns_resolver;
        break;
    case ACME_SET_PROFILE:
        to->profile = from->profile;
        to->profile_mandatory = from->profile_mandatory;
        break;
    case ACME_SET_PREFERRED_CHAIN:
        to->preferred_chain = from->preferred_chain;
        break;
    case ACME_SET_KEY_REUSE:
        to->key_reuse = from->key_reuse;
        break;
    case ACME_SET_REQUIRE_HTTPS:
        to->require_https = from->require_https;
        break;
    default:
        break;
    }
}

/* s as the rule sees it. Only a vhost's own section writes settings: a vhost without any
 * directive of ours shares the main server's config struct, and the main server's values
 * are the server-wide defaults, not written for one certificate. */
static acme_settings_rec_t *make_rec(server_rec *s, server_rec *main_s, const char *names,
                                     int flags, apr_pool_t *p)
{
    acme_settings_rec_t *r = apr_pcalloc(p, sizeof(*r));
    const mod_acme_srv_conf_t *sc = mod_acme_srv_conf(s);
    int i;

    r->where = mod_acme_where(s, p);
    r->ctx = s;
    r->names = names;
    r->https = (flags & TLS_ON) != 0;
    if (s->is_virtual && sc != mod_acme_srv_conf(main_s)) {
        for (i = 0; i < ACME_SET_COUNT; ++i) {
            if (sc->written & (1u << i)) {
                r->values[i] = setting_text(p, sc, (mod_acme_setting_t)i);
            }
        }
    }
    return r;
}

/* mc->settings: the main server's, each replaced by the value mc's vhosts wrote (an https
 * vhost's wins over a plain-http twin's); logs where they came from. */
static void cert_settings(mod_acme_gen_t *m, mod_acme_managed_t *mc, const tls_map_t *map,
                          apr_pool_t *ptemp)
{
    apr_array_header_t *recs = apr_array_make(ptemp, mc->vhosts->nelts,
                                              sizeof(acme_settings_rec_t *));
    apr_array_header_t *from = apr_array_make(ptemp, 4, sizeof(const char *));
    server_rec **order = apr_palloc(ptemp, sizeof(server_rec *) * mc->vhosts->nelts);
    int winner[ACME_SET_COUNT];
    int i, j;

    /* the main server's settings, shared (never written through mc->settings) until a
     * vhost of mc wrote one of its own */
    mc->settings = mod_acme_srv_conf(m->s);
    /* httpd lists vhosts in reverse config order: the rule wants config order */
    for (j = 0; j < mc->vhosts->nelts; ++j) {
        server_rec *s = APR_ARRAY_IDX(mc->vhosts, mc->vhosts->nelts - 1 - j, server_rec *);
        order[j] = s;
        APR_ARRAY_PUSH(recs, acme_settings_rec_t *) = make_rec(s, m->s, mc->spec.cert.id,
                                                               tls_flags(map, s, ptemp), ptemp);
    }
    acme_settings_pick(winner, recs, ACME_SET_COUNT);
    for (i = 0; i < ACME_SET_COUNT; ++i) {
        const acme_settings_rec_t *r;
        if (winner[i] < 0) {
            continue;
        }
        r = APR_ARRAY_IDX(recs, winner[i], acme_settings_rec_t *);
        if (mc->settings == mod_acme_srv_conf(m->s)) {
            mc->settings = apr_pmemdup(m->pool, mc->settings, sizeof(*mc->settings));
        }
        setting_copy(mc->settings, mod_acme_srv_conf(order[winner[i]]), (mod_acme_setting_t)i);
        APR_ARRAY_PUSH(from, const char *) = apr_psprintf(ptemp, "%s %s (%s)", directives[i],
                                                          r->values[i], r->where);
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, m->s, ACMELOGNO(00121)
                 "certificate %s: settings %s", mc->spec.cert.id,
                 from->nelts ? apr_pstrcat(ptemp, "written for it: ",
                                           acme_names_join(ptemp, from, ", "), NULL)
                             : "server-wide only");
}

static int listens_on(int port)
{
    ap_listen_rec *lr;
    for (lr = ap_listeners; lr; lr = lr->next) {
        if (lr->bind_addr && lr->bind_addr->port == port) {
            return 1;
        }
    }
    return 0;
}

/* What httpd knows of mc, for acme_spec_build. A setting the driver takes as it is goes
 * into in->cert (one line here, one field in acme_cert_spec_t). */
static void spec_gather(acme_spec_input_t *in, const mod_acme_gen_t *m,
                        const mod_acme_managed_t *mc)
{
    const mod_acme_srv_conf_t *sc = mc->settings;

    memset(in, 0, sizeof(*in));
    in->cert.id = mc->id;
    in->cert.names = mc->names;
    in->cert.ca_url = m->ca_url;
    in->ca_urls = m->ca_urls;
    in->cert.profile = sc->profile;
    in->cert.profile_mandatory = sc->profile_mandatory;
    in->cert.preferred_chain = sc->preferred_chain;
    in->key_type = sc->key_type != ACME_UNSET ? sc->key_type : ACME_SPEC_UNSET;
    in->renew_percent = sc->renew_window.percent;
    in->renew_before = sc->renew_window.dur;
    in->warn_percent = sc->warn_window.percent;
    in->warn_before = sc->warn_window.dur;
    in->retry_delay = m->retry_delay;
    in->challenges = sc->challenges;
    in->dns_hook = sc->dns_hook;
    in->dns_hook_args = sc->dns_hook_args;
    in->dns_propagation = sc->dns_propagation;
    in->dns_resolver = sc->dns_resolver;
    in->port_http = m->port_http;
    in->port_https = m->port_https;
    in->listen_http = listens_on(m->port_http);
    in->listen_https = listens_on(m->port_https);
}

/* mc's challenge choice, which acme_spec_build made in ptemp, kept in the generation: the
 * previous certificate's copy when it is the same (the automatic choice is the same for
 * most certificates), else a copy of its own. */
static void spec_keep(mod_acme_gen_t *m, mod_acme_managed_t *mc, const mod_acme_managed_t *prev)
{
    const apr_array_header_t *t = mc->spec.cert.challenge_types;
    const apr_array_header_t *pt = prev ? prev->spec.cert.challenge_types : NULL;
    int i, same = t && pt && t->nelts == pt->nelts && mc->spec.challenge_why
                  && prev->spec.challenge_why
                  && !strcmp(mc->spec.challenge_why, prev->spec.challenge_why);

    for (i = 0; same && i < t->nelts; ++i) {
        same = !strcmp(APR_ARRAY_IDX(t, i, const char *), APR_ARRAY_IDX(pt, i, const char *));
    }
    if (same) {
        mc->spec.cert.challenge_types = pt;
        mc->spec.challenge_why = prev->spec.challenge_why;
    }
    else {
        mc->spec.cert.challenge_types = t ? apr_array_copy(m->pool, t) : NULL;
        mc->spec.challenge_why = mc->spec.challenge_why
                                 ? apr_pstrdup(m->pool, mc->spec.challenge_why) : NULL;
    }
}

void mod_acme_cert_specs(mod_acme_gen_t *m, apr_pool_t *ptemp)
{
    tls_map_t map;
    int c;

    tls_map_read(&map, ptemp);
    for (c = 0; c < m->certs->nelts; ++c) {
        mod_acme_managed_t *mc = APR_ARRAY_IDX(m->certs, c, mod_acme_managed_t *);
        acme_spec_input_t in;

        cert_settings(m, mc, &map, ptemp);
        spec_gather(&in, m, mc);
        acme_spec_build(&mc->spec, ptemp, &in);
        spec_keep(m, mc, c > 0 ? APR_ARRAY_IDX(m->certs, c - 1, mod_acme_managed_t *) : NULL);
        if (mc->spec.challenge_warning) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, APR_ARRAY_IDX(mc->vhosts, 0, server_rec *),
                         ACMELOGNO(00061) "certificate %s: %s", mc->id,
                         mc->spec.challenge_warning);
        }
        if (acme_names_contain(mc->spec.cert.challenge_types, ACME_CHALLENGE_TLSALPN01)) {
            m->any_tlsalpn = 1;
        }
    }
}

/* ---- configtest ---------------------------------------------------------------------- */

/* 0 when the server's User may access path with mode (R_OK, X_OK), else an errno. The
 * background worker reads the CA file and runs the programs as that User; root's view
 * says nothing about it. */
static int user_access(const char *path, int mode)
{
    pid_t pid;
    int st = 0;

    if (geteuid() != 0 || ap_unixd_config.user_id == 0) {
        return access(path, mode) == 0 ? 0 : errno;
    }
    pid = fork();
    if (pid < 0) {
        return 0; /* cannot tell: not a reason to refuse the config */
    }
    if (pid == 0) {
        gid_t gid = ap_unixd_config.group_id;
        if ((initgroups(ap_unixd_config.user_name, gid) != 0 && setgroups(1, &gid) != 0)
            || setgid(gid) != 0 || setuid(ap_unixd_config.user_id) != 0) {
            _exit(0);
        }
        _exit(access(path, mode) == 0 ? 0 : (errno & 0xff));
    }
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 0;
}

/* The User's access to a file a directive names; logs and returns 0 when it has none. */
static int check_user_access(server_rec *s, apr_pool_t *p, const char *directive,
                             const char *at, const char *path, int mode)
{
    int err = user_access(path, mode);
    char ebuf[128];

    if (!err) {
        return 1;
    }
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, ACMELOGNO(00122)
                 "%s on %s: the server's User (%s) cannot %s '%s' (%s): the background "
                 "worker %s it as that user; give it %s permission on the file and search "
                 "(x) permission on the directories above it", directive, at ? at : "?",
                 ap_unixd_config.user_name, mode == X_OK ? "run" : "read", path,
                 apr_strerror(APR_FROM_OS_ERROR(err), ebuf, sizeof(ebuf)),
                 mode == X_OK ? "runs" : "reads", mode == X_OK ? "execute" : "read");
    /* in a restart of a running server, refusing the config would stop it (see
     * file_problem in mod_acme_config.c): logged only */
    return ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG;
}

/* Each certificate's challenge types, as its vhosts decide them, must be usable. */
static int check_challenges(server_rec *s, const apr_array_header_t *recs, apr_pool_t *p)
{
    apr_array_header_t *groups = acme_settings_groups(p, recs);
    int ok = 1, g;

    for (g = 0; g < groups->nelts; ++g) {
        const apr_array_header_t *group = APR_ARRAY_IDX(groups, g, apr_array_header_t *);
        const mod_acme_srv_conf_t *chall = mod_acme_srv_conf(s), *hook = chall;
        int winner[ACME_SET_COUNT];
        const char *why;

        if (!acme_settings_group_https(group)) {
            continue;
        }
        acme_settings_pick(winner, group, ACME_SET_COUNT);
        if (winner[ACME_SET_CHALLENGES] >= 0) {
            chall = mod_acme_srv_conf(APR_ARRAY_IDX(group, winner[ACME_SET_CHALLENGES],
                                                acme_settings_rec_t *)->ctx);
        }
        if (winner[ACME_SET_DNS_HOOK] >= 0) {
            hook = mod_acme_srv_conf(APR_ARRAY_IDX(group, winner[ACME_SET_DNS_HOOK],
                                               acme_settings_rec_t *)->ctx);
        }
        why = acme_settings_challenges_problem(chall->challenges, hook->dns_hook != NULL);
        if (why) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, ACMELOGNO(00125)
                         "ACMEChallenges on %s, for the certificate of %s: %s",
                         chall->challenges_at ? chall->challenges_at : "?",
                         APR_ARRAY_IDX(group, 0, acme_settings_rec_t *)->names, why);
            ok = 0;
        }
    }
    return ok;
}

static int check_settings(server_rec *s, apr_pool_t *ptemp)
{
    mod_acme_srv_conf_t *msc = mod_acme_srv_conf(s);
    apr_array_header_t *recs = apr_array_make(ptemp, 16, sizeof(acme_settings_rec_t *));
    apr_array_header_t *errs, *checked = apr_array_make(ptemp, 4, sizeof(const char *));
    tls_map_t map;
    server_rec *vs;
    int ok = 1, i;

    tls_map_read(&map, ptemp);
    for (vs = s; vs; vs = vs->next) {
        mod_acme_srv_conf_t *sc = mod_acme_srv_conf(vs);
        int flags = tls_flags(&map, vs, ptemp);
        apr_array_header_t *names;
        if (sc->dns_hook && !acme_names_contain(checked, sc->dns_hook)) {
            APR_ARRAY_PUSH(checked, const char *) = sc->dns_hook;
            ok &= check_user_access(vs, ptemp, "ACMEDNSHook", sc->dns_hook_at, sc->dns_hook,
                                    X_OK);
        }
        if (!mod_acme_srv_enabled(vs) || ((flags & OWN_CERT) && !sc->enabled_here)) {
            continue;
        }
        names = mod_acme_vhost_names(vs, NULL, ptemp);
        APR_ARRAY_PUSH(recs, acme_settings_rec_t *) = make_rec(
            vs, s, names->nelts ? acme_names_join(ptemp, acme_names_normalize(ptemp, names), " ")
                             : NULL, flags, ptemp);
    }
    if (msc->ca_file) {
        ok &= check_user_access(s, ptemp, "ACMEServerCAFile", msc->ca_file_at, msc->ca_file,
                                R_OK);
    }
    if (msc->notify_cmd) {
        ok &= check_user_access(s, ptemp, "ACMENotifyCmd", msc->notify_at, msc->notify_cmd,
                                X_OK);
    }
    /* httpd lists vhosts in reverse config order: the messages read better in config order */
    for (i = 0; i < recs->nelts / 2; ++i) {
        acme_settings_rec_t **a = &APR_ARRAY_IDX(recs, i, acme_settings_rec_t *);
        acme_settings_rec_t **b = &APR_ARRAY_IDX(recs, recs->nelts - 1 - i,
                                                 acme_settings_rec_t *);
        acme_settings_rec_t *t = *a;
        *a = *b;
        *b = t;
    }
    errs = acme_settings_conflicts(ptemp, recs, directives, ACME_SET_COUNT);
    for (i = 0; i < errs->nelts; ++i) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, ACMELOGNO(00120) "%s",
                     APR_ARRAY_IDX(errs, i, const char *));
        ok = 0;
    }
    if (errs->nelts == 0) {
        ok &= check_challenges(s, recs, ptemp);
        ok &= mod_acme_check_groups(s, ptemp);
    }
    return ok ? OK : HTTP_INTERNAL_SERVER_ERROR;
}

/* Runs at every start (a conflict stops it as it stops configtest), in a pool of its own
 * allocator: its records and the grouping of every vhost are given back to the system
 * when it ends instead of staying in ptemp's blocks through post_config, where they added
 * to the parent's peak (1.8 MB at 1,000 vhosts), which every child inherits. */
int mod_acme_check_settings(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                            server_rec *s)
{
    apr_pool_t *p = mod_acme_scratch_pool(ptemp);
    int rc = check_settings(s, p);

    apr_pool_destroy(p);
    return rc;
}
