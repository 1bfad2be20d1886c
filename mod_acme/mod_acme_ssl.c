/* mod_acme: the store at start-up, the fallback certificate, activation of staged
 * certificates, planning per vhost, and mod_ssl's certificate hooks.
 * All of this runs in the root parent during post_config: no network, no per-vhost
 * key generation (one fallback key serves every vhost). */
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <apr_strings.h>
#include <apr_hash.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <unixd.h>

#include "mod_acme_log.h"
#include "mod_acme_config.h"
#include "mod_acme_generation.h"
#include "mod_acme_ssl.h"
#include "mod_acme_settings.h"

APLOG_USE_MODULE(acme);
#include "acme_util.h"
#include "acme_json.h"
#include "acme_cert.h"
#include "acme_crypto.h"
#include "acme_ident.h"
#include "acme_challenge.h"
#include "acme_verify.h"
#include "acme_install.h"
#include "acme_plan_store.h"
#include "acme_keyreuse.h"
#include "acme_groups.h"
#include "acme_keytypes.h"
#include "acme_setcache.h"

#define FALLBACK_CN "mod_acme fallback certificate"
#define FALLBACK_NAME "mod-acme-fallback.invalid"

/* ---- store and fallback ---------------------------------------------------------- */

/* The dry-run config pass at first start: it must hand mod_ssl only good files too, but
 * repairs and warnings are left to the pass that serves (else every warning shows twice). */
static int dry_run(void)
{
    return ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG;
}

#define DAMAGE_LEVEL (dry_run() ? APLOG_DEBUG : APLOG_WARNING)

/* The chain and key files of a set directory, as acme_verify_set wants them. */
static void read_set(acme_set_files_t *f, const char *dir, const char *chain_name,
                     apr_pool_t *p)
{
    char *data, buf[120];
    apr_size_t len;
    apr_status_t rv;

    memset(f, 0, sizeof(*f));
    rv = acme_file_read(&data, &len, apr_pstrcat(p, dir, "/", chain_name, NULL), p);
    if (rv == APR_SUCCESS) {
        f->chain = data;
        f->chain_len = len;
    }
    else if (!APR_STATUS_IS_ENOENT(rv)) {
        f->chain_read_error = apr_pstrdup(p, apr_strerror(rv, buf, sizeof(buf)));
    }
    rv = acme_file_read(&data, &len, apr_pstrcat(p, dir, "/key.pem", NULL), p);
    if (rv == APR_SUCCESS) {
        f->key = data;
        f->key_len = len;
    }
    else if (!APR_STATUS_IS_ENOENT(rv)) {
        f->key_read_error = apr_pstrdup(p, apr_strerror(rv, buf, sizeof(buf)));
    }
}

/* NULL when system/fallback/ holds a usable set valid for 7 more days, else why not. */
static const char *fallback_unusable(acme_store_t *st, apr_pool_t *p)
{
    acme_set_files_t f;
    acme_set_check_t *c;
    const char *dir = st->path(st, ACME_GROUP_SYSTEM, "fallback", NULL, p);

    read_set(&f, dir, "cert.pem", p);
    if (!f.chain && !f.key && !f.chain_read_error && !f.key_read_error) {
        return "";                      /* not made yet: no warning */
    }
    if (acme_verify_set(&c, p, &f, 1, apr_time_now()) != APR_SUCCESS) {
        /* the fallback's chain file is called cert.pem */
        return apr_pstrcat(p, strcmp(c->bad_file, "chain.pem") ? c->bad_file : "cert.pem", " ",
                           c->why, NULL);
    }
    if (c->leaf->not_after < apr_time_now() + apr_time_from_sec(7 * 86400)) {
        return "";                      /* due for its routine renewal */
    }
    return NULL;
}

static apr_status_t fallback_ensure(mod_acme_gen_t *m, apr_pool_t *p)
{
    acme_store_t *st = m->store;
    apr_status_t rv = APR_SUCCESS;
    const char *why = fallback_unusable(st, p);

    if (why) {
        acme_key_t *key;
        const char *kpem, *cpem;
        apr_size_t klen;
        apr_array_header_t *names = apr_array_make(p, 1, sizeof(const char *));
        APR_ARRAY_PUSH(names, const char *) = FALLBACK_NAME;
        if (*why) {
            /* nothing of value: the fallback is a throw-away self-signed certificate */
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, m->s, ACMELOGNO(00142)
                         "%s/system/fallback/%s: replacing the fallback certificate",
                         m->store_dir, why);
            acme_store_remove(st, ACME_GROUP_SYSTEM, "fallback", NULL, p);
        }
        if ((rv = acme_key_generate(&key, p, ACME_KEY_EC_P256))
            || (rv = acme_key_to_pem(&kpem, &klen, p, key))
            || (rv = acme_selfsigned_create(&cpem, p, key, FALLBACK_CN, names,
                                            apr_time_from_sec(30 * 86400)))
            || (rv = acme_store_save(st, ACME_GROUP_SYSTEM, "fallback", "key.pem", kpem, klen, p))
            || (rv = acme_store_save(st, ACME_GROUP_SYSTEM, "fallback", "cert.pem", cpem,
                                     strlen(cpem), p))) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, m->s, ACMELOGNO(00001)
                         "cannot create the fallback certificate in %s/system/fallback: "
                         "move that directory away and start again", m->store_dir);
            return rv;
        }
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, m->s, ACMELOGNO(00002)
                     "created the fallback certificate served until real ones arrive");
    }
    m->fallback_chain = st->path(st, ACME_GROUP_SYSTEM, "fallback", "cert.pem", m->pool);
    m->fallback_key = st->path(st, ACME_GROUP_SYSTEM, "fallback", "key.pem", m->pool);
    return APR_SUCCESS;
}

/* Says what is wrong with the secret. Live certificates need no secret (their keys are
 * plain, root-only), so the server still starts and serves; only ACME work stops. */
static void secret_unusable(mod_acme_gen_t *m, apr_status_t rv, apr_pool_t *p)
{
    const char *path = apr_pstrcat(p, m->store_dir, "/system/secret/secret.key", NULL);
    const char *what;
    apr_finfo_t fi;
    char buf[120];

    memset(&fi, 0, sizeof(fi));
    if (apr_stat(&fi, path, APR_FINFO_TYPE | APR_FINFO_SIZE, p) == APR_SUCCESS
        && fi.filetype == APR_DIR) {
        what = "is a directory, not a file";
    }
    else if (rv == APR_EINVAL) {
        what = apr_psprintf(p, "has %" APR_OFF_T_FMT " bytes instead of 32 (damaged, or not "
                            "mod_acme's)", fi.size);
    }
    else {
        what = apr_pstrcat(p, "cannot be read or created (", apr_strerror(rv, buf, sizeof(buf)),
                           ")", NULL);
    }
    ap_log_error(APLOG_MARK, dry_run() ? APLOG_DEBUG : APLOG_ERR, ACME_LOG_RV(rv), m->s,
                 ACMELOGNO(00143)
                 "%s %s. It seals the ACME account key and new certificate keys. Restore "
                 "it from a backup, or move it away: mod_acme then makes a new one, keeps "
                 "what was sealed with the old one aside and creates a new ACME account. "
                 "Until then live certificates keep serving, but none is obtained, renewed "
                 "or activated", path, what);
}

/* The server's ACME settings, for acmectl (which reads the store, not httpd's config). */
static void settings_save(mod_acme_gen_t *m, apr_pool_t *p)
{
    json_t *j = acme_json_pool(p, json_object()), *c = json_array();
    const char *text;
    char *old;
    int i;
    json_object_set_new(j, "ca", json_string(m->ca_url));
    if (m->ca_urls->nelts > 1) {
        json_t *cas = json_array();
        for (i = 0; i < m->ca_urls->nelts; ++i) {
            json_array_append_new(cas, json_string(APR_ARRAY_IDX(m->ca_urls, i, const char *)));
        }
        json_object_set_new(j, "cas", cas);
    }
    if (m->ca_file) {
        json_object_set_new(j, "ca_file", json_string(m->ca_file));
    }
    for (i = 0; i < m->contacts->nelts; ++i) {
        json_array_append_new(c, json_string(APR_ARRAY_IDX(m->contacts, i, const char *)));
    }
    json_object_set_new(j, "contacts", c);
    json_object_set_new(j, "agree_tos", json_boolean(m->agree_tos));
    if (m->eab) {
        json_object_set_new(j, "eab_kid", json_string(m->eab->kid));
    }
    text = acme_json_dump(p, j);
    if (acme_store_load(m->store, ACME_GROUP_SYSTEM, "config", "settings.json", &old, NULL,
                        p) != APR_SUCCESS || strcmp(old, text)) {
        acme_store_save(m->store, ACME_GROUP_SYSTEM, "config", "settings.json", text,
                        strlen(text), p);
    }
}

apr_status_t mod_acme_store_init(mod_acme_gen_t *m, apr_pool_t *ptemp)
{
    apr_status_t rv;
    long uid = -1, gid = -1;

    if (geteuid() == 0) {
        uid = (long)ap_unixd_config.user_id;
        gid = (long)ap_unixd_config.group_id;
    }
    if ((rv = acme_store_fs_create(&m->store, m->pool, m->store_dir)) != APR_SUCCESS
        || (rv = acme_store_fs_setup(m->store, uid, gid, ptemp)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, m->s, ACMELOGNO(00003)
                     "cannot set up the store in %s (ACMEStore): it must be a directory "
                     "owned by root and not writable by others", m->store_dir);
        return rv;
    }
    if ((rv = acme_store_fs_secret(m->store, m->secret, ptemp)) != APR_SUCCESS) {
        secret_unusable(m, rv, ptemp);
    }
    else {
        m->secret_ok = 1;
    }
    if ((rv = fallback_ensure(m, ptemp)) != APR_SUCCESS) {
        return rv;
    }
    settings_save(m, ptemp);
    m->store_ok = 1;
    return APR_SUCCESS;
}

/* ---- which certificates the vhosts need ---------------------------------------- */

/* Names are checked silently here: whether a vhost is https is known only when mod_ssl
 * asks for its files, and only then are left-out names worth a warning. */
static void add_name(apr_array_header_t *names, apr_array_header_t **pleft_out,
                     const char *name, int have_dns_hook, const char *profile,
                     apr_pool_t *p)
{
    const char *why = NULL;
    if (!name || !*name) {
        return;
    }
    if (acme_ident_ip(p, name)) {
        /* an IP address (RFC 8738): only where a profile allows it; canonical text */
        why = acme_ident_ip_refused(profile);
        name = why ? name : acme_ident_ip(p, name);
    }
    else if (!acme_name_is_certifiable(name, &why)) {
        why = why ? why : "no public CA can certify it";
    }
    else if (name[0] == '*' && !have_dns_hook) {
        why = "a wildcard needs a DNS challenge: set ACMEDNSHook (dns-01) or ACMEChallenges "
              "dns-persist-01";
    }
    if (why) {
        if (!pleft_out) {
            return;
        }
        if (!*pleft_out) {
            *pleft_out = apr_array_make(p, 2, sizeof(const char *));
        }
        APR_ARRAY_PUSH(*pleft_out, const char *) = apr_pstrcat(p, name, ": ", why, NULL);
        return;
    }
    APR_ARRAY_PUSH(names, const char *) = name;
}

apr_array_header_t *mod_acme_vhost_names(server_rec *s, apr_array_header_t **pleft_out,
                                         apr_pool_t *p)
{
    apr_array_header_t *raw = apr_array_make(p, 4, sizeof(const char *));
    mod_acme_srv_conf_t *sc = mod_acme_srv_conf(s);
    /* a wildcard is validated through DNS: dns-01 with a hook, or dns-persist-01 */
    int hook = sc->dns_hook != NULL
               || acme_names_contain(sc->challenges, ACME_CHALLENGE_DNSPERSIST01);
    const char *prof = sc->profile;
    int i;

    add_name(raw, pleft_out, s->server_hostname, hook, prof, p);
    for (i = 0; s->names && i < s->names->nelts; ++i) {
        add_name(raw, pleft_out, APR_ARRAY_IDX(s->names, i, const char *), hook, prof, p);
    }
    for (i = 0; s->wild_names && i < s->wild_names->nelts; ++i) {
        add_name(raw, pleft_out, APR_ARRAY_IDX(s->wild_names, i, const char *), hook, prof, p);
    }
    return raw;
}

static const char *where(server_rec *s, apr_pool_t *p)
{
    return mod_acme_where(s, p);
}

/* Ids are the first name; when name sets share it, the largest set (then the first in
 * sort order) keeps the plain id, so that a plain-http vhost for "a" does not take the id
 * of the https vhost for "a" + "www.a", whatever the order of the config. */
static int id_priority_cmp(const void *a, const void *b)
{
    const mod_acme_managed_t *x = *(mod_acme_managed_t *const *)a;
    const mod_acme_managed_t *y = *(mod_acme_managed_t *const *)b;
    const char *xj, *yj;
    if (x->names->nelts != y->names->nelts) {
        return y->names->nelts - x->names->nelts;
    }
    xj = x->spec.cert.id; /* holds the joined names until ids are assigned */
    yj = y->spec.cert.id;
    return strcmp(xj, yj);
}

static void assign_ids(mod_acme_gen_t *m, apr_pool_t *ptemp)
{
    apr_array_header_t *order = apr_array_copy(ptemp, m->certs);
    int i;

    qsort(order->elts, (size_t)order->nelts, sizeof(mod_acme_managed_t *), id_priority_cmp);
    for (i = 0; i < order->nelts; ++i) {
        mod_acme_managed_t *mc = APR_ARRAY_IDX(order, i, mod_acme_managed_t *);
        const char *joined = mc->spec.cert.id;
        if (apr_hash_get(m->by_id, mc->id, APR_HASH_KEY_STRING)) {
            unsigned char md[32];
            acme_sha256(md, joined, strlen(joined));
            mc->id = apr_pstrcat(m->pool, mc->id, "~", acme_hex(m->pool, md, 4), NULL);
        }
        mc->spec.cert.id = mc->id;
        apr_hash_set(m->by_id, mc->id, APR_HASH_KEY_STRING, mc);
    }
}

/* ACMEKeyTypes with two types: the certificate of the second type for the same names and
 * vhosts (id and spec from acme_keytypes.c), chained to the first one's next_type and
 * managed like any other certificate (store, plan, order, activation, status). */
static void add_key_type_certs(mod_acme_gen_t *m)
{
    int n = m->certs->nelts, c, i;

    for (c = 0; c < n; ++c) {
        mod_acme_managed_t *mc = APR_ARRAY_IDX(m->certs, c, mod_acme_managed_t *), *prev = mc;
        const apr_array_header_t *types = mc->settings->key_types;

        for (i = 1; types && i < types->nelts; ++i) {
            mod_acme_managed_t *kc = apr_pmemdup(m->pool, mc, sizeof(*kc));
            acme_key_type_spec(&kc->spec, m->pool, &mc->spec, types, i);
            kc->id = kc->spec.cert.id;
            kc->next_type = NULL;
            prev->next_type = kc;
            prev = kc;
            apr_hash_set(m->by_id, kc->id, APR_HASH_KEY_STRING, kc);
            APR_ARRAY_PUSH(m->certs, mod_acme_managed_t *) = kc;
        }
    }
}

/* The grouping's view of the vhosts with ACME on (in httpd's order, which fixes the ids):
 * their names and the name limit of their ACMEProfile; *pservers the matching server_recs.
 * p is a work pool; what the generation keeps (each vhost's state, names left out) goes to
 * m->pool. */
static apr_array_header_t *groups_input(apr_array_header_t **pservers, server_rec *main_s,
                                        mod_acme_gen_t *m, apr_pool_t *p)
{
    apr_array_header_t *in = apr_array_make(p, 8, sizeof(acme_groups_vhost_t));
    server_rec *s;

    *pservers = apr_array_make(p, 8, sizeof(server_rec *));
    for (s = main_s; s; s = s->next) {
        mod_acme_vhost_t *sc = NULL;
        apr_array_header_t *raw, *left_out = NULL;
        acme_groups_vhost_t *vh;
        int i;

        if (!mod_acme_srv_enabled(s)) {
            continue;
        }
        if (m) {
            server_rec **key = apr_palloc(m->pool, sizeof(*key));
            sc = apr_pcalloc(m->pool, sizeof(*sc));
            *key = s;
            apr_hash_set(m->vhosts, key, sizeof(*key), sc);
        }
        raw = mod_acme_vhost_names(s, sc ? &left_out : NULL, p);
        if (left_out) {
            sc->left_out = apr_array_make(m->pool, left_out->nelts, sizeof(const char *));
            for (i = 0; i < left_out->nelts; ++i) {
                APR_ARRAY_PUSH(sc->left_out, const char *) = apr_pstrdup(
                    m->pool, APR_ARRAY_IDX(left_out, i, const char *));
            }
        }
        if (raw->nelts == 0) {
            continue;
        }
        vh = &APR_ARRAY_PUSH(in, acme_groups_vhost_t);
        vh->first = acme_name_lower(p, APR_ARRAY_IDX(raw, 0, const char *));
        vh->names = acme_names_normalize(p, raw);
        vh->limit = acme_groups_limit(mod_acme_srv_conf(s)->profile);
        APR_ARRAY_PUSH(*pservers, server_rec *) = s;
    }
    return in;
}

/* The certificates the vhosts need (acme_groups_build); logs what it said. */
static acme_groups_t *groups_make(apr_array_header_t **pservers, server_rec *main_s,
                                  mod_acme_gen_t *m, int quiet, apr_pool_t *p)
{
    const mod_acme_srv_conf_t *msc = mod_acme_srv_conf(main_s);
    apr_array_header_t *in = groups_input(pservers, main_s, m, p);
    acme_groups_t *g;
    int i;

    acme_groups_build(&g, p, in, msc->domains, acme_groups_limit(msc->profile));
    for (i = 0; i < g->errors->nelts; ++i) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, main_s, ACMELOGNO(00540) "%s",
                     APR_ARRAY_IDX(g->errors, i, const char *));
    }
    for (i = 0; !quiet && i < g->notes->nelts; ++i) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, main_s, ACMELOGNO(00542) "%s",
                     APR_ARRAY_IDX(g->notes, i, const char *));
    }
    return g;
}

int mod_acme_check_groups(server_rec *s, apr_pool_t *ptemp)
{
    apr_array_header_t *servers;
    return groups_make(&servers, s, NULL, 1, ptemp)->errors->nelts == 0;
}

/* names (and the strings) in p, in the same order */
static apr_array_header_t *names_copy(apr_pool_t *p, const apr_array_header_t *names)
{
    apr_array_header_t *out = apr_array_make(p, names->nelts ? names->nelts : 1,
                                             sizeof(const char *));
    int i;
    for (i = 0; i < names->nelts; ++i) {
        APR_ARRAY_PUSH(out, const char *) = apr_pstrdup(p, APR_ARRAY_IDX(names, i,
                                                                          const char *));
    }
    return out;
}

apr_pool_t *mod_acme_scratch_pool(apr_pool_t *ptemp)
{
    apr_pool_t *p;

    if (apr_pool_create_unmanaged_ex(&p, NULL, NULL) != APR_SUCCESS) {
        apr_pool_create(&p, ptemp);
    }
    return p;
}

void mod_acme_plan_vhosts(mod_acme_gen_t *m, apr_pool_t *pconf_temp)
{
    apr_pool_t *p = m->pool, *ptemp = mod_acme_scratch_pool(pconf_temp);
    apr_array_header_t *servers, *mcs = apr_array_make(ptemp, 8, sizeof(mod_acme_managed_t *));
    /* the grouping works in ptemp: the generation keeps only each certificate's names */
    acme_groups_t *g = groups_make(&servers, m->s, m, dry_run(), ptemp);
    int i;

    for (i = 0; i < g->certs->nelts; ++i) {
        const acme_groups_cert_t *c = APR_ARRAY_IDX(g->certs, i, acme_groups_cert_t *);
        mod_acme_managed_t *mc = apr_pcalloc(p, sizeof(*mc));
        const char *joined = acme_names_join(p, c->names, " ");

        APR_ARRAY_PUSH(mcs, mod_acme_managed_t *) = mc;
        if (c->vhosts->nelts == 0) {
            /* nothing would serve it (mod_ssl asks per vhost) */
            ap_log_error(APLOG_MARK, dry_run() ? APLOG_DEBUG : APLOG_WARNING, 0, m->s,
                         ACMELOGNO(00543) "ACMEDomain names %s (%d): no VirtualHost with "
                         "ACME on has one of them: no certificate is ordered for them",
                         acme_names_join(ptemp, c->names, ", "), c->names->nelts);
            continue;
        }
        /* the id is a file name: no '*' */
        mc->id = c->first[0] == '*' ? apr_pstrcat(p, "_wildcard", c->first + 1, NULL)
                                     : apr_pstrdup(p, c->first);
        mc->names = names_copy(p, c->names);
        mc->vhosts = apr_array_make(p, 2, sizeof(server_rec *));
        mc->spec.cert.id = joined;
        apr_hash_set(m->by_names, joined, APR_HASH_KEY_STRING, mc);
        APR_ARRAY_PUSH(m->certs, mod_acme_managed_t *) = mc;
    }
    for (i = 0; i < servers->nelts; ++i) {
        server_rec *s = APR_ARRAY_IDX(servers, i, server_rec *);
        const apr_array_header_t *parts = g->vhost_parts[i];
        mod_acme_vhost_t *sc = mod_acme_vhost_get(s);
        mod_acme_managed_t *mc;
        int k;
        if (g->vhost_cert[i] < 0) {
            continue;
        }
        sc->managed = APR_ARRAY_IDX(mcs, g->vhost_cert[i], mod_acme_managed_t *);
        sc->parts = parts ? apr_array_make(p, parts->nelts, sizeof(mod_acme_managed_t *)) : NULL;
        for (k = 0; k < (parts ? parts->nelts : 1); ++k) {
            mc = parts ? APR_ARRAY_IDX(mcs, APR_ARRAY_IDX(parts, k, int), mod_acme_managed_t *)
                       : sc->managed;
            APR_ARRAY_PUSH(mc->vhosts, server_rec *) = s;
            if (parts) {
                APR_ARRAY_PUSH(sc->parts, mod_acme_managed_t *) = mc;
            }
        }
    }
    assign_ids(m, ptemp);
    mod_acme_cert_specs(m, ptemp);
    add_key_type_certs(m);
    apr_pool_destroy(ptemp);
}

/* ---- activation: staging -> live, verified, in the root parent ------------------- */

static void setcache_activated(mod_acme_gen_t *m, mod_acme_managed_t *mc,
                               const acme_install_t *res, apr_pool_t *p);

/* Verification and installation are acme_install_staged's; this logs the outcome. */
int mod_acme_activate_one(mod_acme_gen_t *m, mod_acme_managed_t *mc,
                          apr_thread_mutex_t *lock, apr_pool_t *p)
{
    acme_install_t *res;

    acme_install_staged(&res, p, m->store, mc->id, mc->names, m->secret, apr_time_now());
    switch (res->outcome) {
    case ACME_INSTALL_REFUSED:
        ap_log_error(APLOG_MARK, APLOG_ERR, ACME_LOG_RV(res->status), m->s, ACMELOGNO(00007)
                     "staged certificate for %s failed verification (%s): not activated, "
                     "%s; the current certificate keeps serving", mc->id, res->why,
                     res->archived ? "moved to the archive" : "left in staging");
        break;
    case ACME_INSTALL_FAILED:
        ap_log_error(APLOG_MARK, APLOG_ERR, res->status, m->s, ACMELOGNO(00008)
                     "cannot install the new certificate for %s in %s/live", mc->id,
                     m->store_dir);
        break;
    case ACME_INSTALL_ACTIVATED:
        mc->activated = 1;
        if (lock) {
            apr_thread_mutex_lock(lock);
        }
        setcache_activated(m, mc, res, p);
        if (lock) {
            apr_thread_mutex_unlock(lock);
        }
        if (res->leaf) {
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, m->s, ACMELOGNO(00009)
                         "activated new certificate for %s (%s): serial %s, valid until %s",
                         mc->id, acme_names_join(p, mc->names, ", "), res->leaf->serial,
                         acme_time_rfc3339(p, res->leaf->not_after));
        }
        break;
    default:
        break;                          /* nothing complete staged yet */
    }
    return res->outcome == ACME_INSTALL_ACTIVATED;
}

void mod_acme_activate_staged(mod_acme_gen_t *m, apr_pool_t *ptemp)
{
    apr_array_header_t *ids;
    int i;

    if (!m->secret_ok
        || m->store->list(m->store, ACME_GROUP_STAGING, &ids, ptemp) != APR_SUCCESS) {
        return; /* without the secret staged keys cannot be unsealed: they wait */
    }
    for (i = 0; i < ids->nelts; ++i) {
        const char *id = APR_ARRAY_IDX(ids, i, const char *);
        mod_acme_managed_t *mc = apr_hash_get(m->by_id, id, APR_HASH_KEY_STRING);
        apr_pool_t *p;
        if (!mc) {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, m->s, ACMELOGNO(00010)
                         "staged certificate %s belongs to no configured vhost: left in "
                         "staging", id);
            continue;
        }
        apr_pool_create(&p, ptemp);
        mod_acme_activate_one(m, mc, NULL, p);
        apr_pool_destroy(p);
    }
}

/* Live certificates that no configured vhost uses any more go to the archive (not deleted:
 * putting the vhost back orders a new one, and the old files are still there to look at). */
void mod_acme_archive_orphans(mod_acme_gen_t *m, apr_pool_t *ptemp)
{
    apr_array_header_t *ids;
    int i;

    if (m->store->list(m->store, ACME_GROUP_LIVE, &ids, ptemp) != APR_SUCCESS) {
        return;
    }
    for (i = 0; i < ids->nelts; ++i) {
        const char *id = APR_ARRAY_IDX(ids, i, const char *);
        if (apr_hash_get(m->by_id, id, APR_HASH_KEY_STRING)) {
            continue;
        }
        if (m->store->archive(m->store, ACME_GROUP_LIVE, id, ptemp) == APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, m->s, ACMELOGNO(00014)
                         "certificate %s is used by no configured VirtualHost: moved to %s/"
                         "archive/%s", id, m->store_dir, id);
        }
    }
}

/* meta.json of a servable set: checked against the certificate; rebuilt from it when it
 * is missing or damaged (saved when the set is live/<id>, kept in memory otherwise). */
static const char *set_meta(mod_acme_gen_t *m, mod_acme_managed_t *mc, const char *dir, int is_live,
                            const acme_set_check_t *c, apr_pool_t *ptemp)
{
    const char *path = apr_pstrcat(ptemp, dir, "/meta.json", NULL), *why, *text;
    char *data = NULL, buf[120];
    apr_size_t len = 0;
    apr_status_t rv = acme_file_read(&data, &len, path, ptemp);

    if (rv != APR_SUCCESS && !APR_STATUS_IS_ENOENT(rv)) {
        why = apr_pstrcat(ptemp, "cannot be read (", apr_strerror(rv, buf, sizeof(buf)), ")",
                          NULL);
        data = NULL;
    }
    else if (acme_verify_meta(&why, ptemp, data, len, c) == APR_SUCCESS) {
        return data;
    }
    if (acme_verify_meta_rebuild(&text, ptemp, c, data, len, apr_time_now()) != APR_SUCCESS) {
        return NULL;
    }
    if (dry_run()) {
        return text;
    }
    if (is_live) {
        if (rv != APR_SUCCESS && !APR_STATUS_IS_ENOENT(rv)) {
            /* not a file (a directory?): keep it, under another name */
            apr_file_rename(path, apr_pstrcat(ptemp, path, ".damaged", NULL), ptemp);
        }
        rv = acme_store_save(m->store, ACME_GROUP_LIVE, mc->id, ACME_STATE_META, text,
                             strlen(text), ptemp);
    }
    ap_log_error(APLOG_MARK, APLOG_WARNING, ACME_LOG_RV(rv), m->s, ACMELOGNO(00141)
                 "certificate %s: %s %s: %s it from the certificate (names, dates, serial, "
                 "key type)%s", mc->id, path, why,
                 is_live && rv == APR_SUCCESS ? "rebuilt" : "read",
                 is_live && rv != APR_SUCCESS ? ", but could not save it" : "");
    return text;
}

/* Which set mod_ssl gets for mc: live/<id> when its chain and key parse and belong
 * together; else (warned, naming the file) the newest archived set that does and has not
 * expired; else none (the fallback). Either way a damaged live set makes mc order anew.
 * Returns the directory of the set served, NULL for none. */
static const char *serving_set(mod_acme_gen_t *m, mod_acme_managed_t *mc, acme_set_check_t **pcheck,
                               const acme_set_version_t *v, apr_pool_t *ptemp)
{
    acme_store_t *st = m->store;
    const char *live = st->path(st, ACME_GROUP_LIVE, mc->id, NULL, ptemp);
    apr_array_header_t *dirs, *whys;
    acme_set_files_t f, *sets;
    apr_finfo_t fi;
    int i, pick;

    if (!v->chain.exists && !v->key.exists && !v->meta.exists
        && apr_stat(&fi, live, APR_FINFO_TYPE, ptemp) != APR_SUCCESS) {
        return NULL;                    /* no certificate yet */
    }
    read_set(&f, live, "chain.pem", ptemp);
    if (acme_verify_set(pcheck, ptemp, &f, 0, apr_time_now()) == APR_SUCCESS) {
        return live;
    }
    mc->damaged = apr_pstrcat(m->pool, (*pcheck)->bad_file, " ", (*pcheck)->why, NULL);
    ap_log_error(APLOG_MARK, DAMAGE_LEVEL, 0, m->s, ACMELOGNO(00140)
                 "certificate %s: %s/%s %s: the live set is not served and is left in place "
                 "(the next certificate moves it to the archive); a new certificate is "
                 "ordered", mc->id, live, (*pcheck)->bad_file, (*pcheck)->why);
    if (acme_store_fs_archived(&dirs, st, mc->id, ptemp) != APR_SUCCESS) {
        dirs = apr_array_make(ptemp, 1, sizeof(const char *));
    }
    sets = apr_pcalloc(ptemp, sizeof(*sets) * (apr_size_t)(dirs->nelts + 1));
    for (i = 0; i < dirs->nelts; ++i) {
        read_set(&sets[i], APR_ARRAY_IDX(dirs, i, const char *), "chain.pem", ptemp);
    }
    pick = acme_verify_pick_archived(&whys, ptemp, sets, dirs->nelts, apr_time_now());
    for (i = 0; i < whys->nelts; ++i) {
        ap_log_error(APLOG_MARK, dry_run() ? APLOG_DEBUG : APLOG_INFO, 0, m->s,
                     ACMELOGNO(00145)
                     "certificate %s: archived set %s not usable: %s", mc->id,
                     APR_ARRAY_IDX(dirs, i, const char *), APR_ARRAY_IDX(whys, i, const char *));
    }
    if (pick < 0) {
        ap_log_error(APLOG_MARK, DAMAGE_LEVEL, 0, m->s, ACMELOGNO(00144)
                     "certificate %s: no usable archived set: the fallback certificate is "
                     "served until the new one arrives", mc->id);
        return NULL;
    }
    acme_verify_set(pcheck, ptemp, &sets[pick], 1, apr_time_now());
    ap_log_error(APLOG_MARK, DAMAGE_LEVEL, 0, m->s, ACMELOGNO(00147)
                 "certificate %s: serving the archived set %s (serial %s, valid until %s) "
                 "until the new one arrives", mc->id, APR_ARRAY_IDX(dirs, pick, const char *),
                 (*pcheck)->leaf->serial, acme_time_rfc3339(ptemp, (*pcheck)->leaf->not_after));
    return APR_ARRAY_IDX(dirs, pick, const char *);
}

/* The verified-sets cache of this httpd run (acme_setcache.h): in the process pool, so the
 * second config pass at first start and every graceful restart find what was verified. */
static acme_setcache_t *setcache(mod_acme_gen_t *m, apr_pool_t *ptemp)
{
    void *data = NULL;
    acme_setcache_t *c;

    apr_pool_userdata_get(&data, "mod_acme_setcache", m->s->process->pool);
    /* created only in post_config (ptemp given): the restarter thread must not allocate
     * from the process pool */
    if (!data && ptemp && acme_setcache_create(&c) == APR_SUCCESS) {
        acme_setcache_load(c, m->store, ptemp);
        apr_pool_userdata_set(c, "mod_acme_setcache", apr_pool_cleanup_null,
                              m->s->process->pool);
        data = c;
    }
    return data;
}

/* After activation wrote live/<id>: the set just verified is the one live now. */
static void setcache_activated(mod_acme_gen_t *m, mod_acme_managed_t *mc,
                               const acme_install_t *res, apr_pool_t *p)
{
    acme_set_version_t v;
    acme_set_version_read(&v, m->store->path(m->store, ACME_GROUP_LIVE, mc->id, NULL, p), p);
    acme_setcache_put(setcache(m, NULL), mc->id, &v, res->ari_id);
}

/* The live meta's facts that outlive start-up, copied from the per-certificate pool. */
static void keep_meta(mod_acme_gen_t *m, mod_acme_managed_t *mc, const acme_cert_meta_t *cm)
{
    apr_pool_t *p = m->pool;

    mc->input.live_names = acme_names_normalize(p, cm->names);
    mc->input.live_ca = cm->ca ? apr_pstrdup(p, cm->ca) : NULL;
    mc->input.live_key = cm->key ? apr_pstrdup(p, cm->key) : NULL;
    mc->input.live_profile = cm->profile ? apr_pstrdup(p, cm->profile) : NULL;
    mc->live_profile_fallback = cm->profile_fallback;
    mc->input.live_not_before = cm->not_before;
    mc->input.live_not_after = cm->not_after;
    mc->live_serial = cm->serial ? apr_pstrdup(p, cm->serial) : NULL;
    mc->live_obtained = cm->staged;
    mc->live_chain_top = cm->chain ? apr_pstrdup(p, cm->chain) : NULL;
}

/* What the store holds for mc: the set to serve and its meta, staged set, failures.
 * ptemp is mc's own pool (cleared after it): what outlives start-up goes to m->pool. A live
 * set verified before at the same file versions is not parsed again (acme_setcache.h). */
static void load_state(mod_acme_gen_t *m, acme_setcache_t *cache, mod_acme_managed_t *mc,
                       apr_pool_t *ptemp)
{
    acme_store_t *st = m->store;
    acme_set_check_t *check = NULL;
    acme_set_version_t v;
    const char *dir = NULL, *meta = NULL, *live, *ari_id = NULL;
    char *data;
    apr_size_t len;
    acme_cert_meta_t *cm = NULL;

    memset(&mc->input, 0, sizeof(mc->input));
    mc->damaged = NULL;
    live = st->path(st, ACME_GROUP_LIVE, mc->id, NULL, ptemp);
    mc->live_chain = apr_pstrcat(m->pool, live, "/chain.pem", NULL);
    mc->live_key = apr_pstrcat(m->pool, live, "/key.pem", NULL);
    acme_set_version_read(&v, live, ptemp);
    if (v.key.exists && (v.key.prot & (APR_FPROT_GREAD | APR_FPROT_WREAD))) {
        ap_log_error(APLOG_MARK, DAMAGE_LEVEL, 0, m->s, ACMELOGNO(00146)
                     "certificate %s: %s/key.pem is readable by group or others: "
                     "chmod 600 it", mc->id, live);
    }
    if (acme_setcache_get(cache, mc->id, &v, &ari_id)
        && acme_file_read(&data, &len, apr_pstrcat(ptemp, live, "/meta.json", NULL), ptemp)
           == APR_SUCCESS
        && acme_meta_parse(&cm, ptemp, data, len) == APR_SUCCESS) {
        dir = live;                     /* verified at these very files: nothing to parse */
        mc->ari_cert_id = ari_id ? apr_pstrdup(m->pool, ari_id) : NULL;
    }
    else {
        acme_setcache_drop(cache, mc->id);
        cm = NULL;
        dir = serving_set(m, mc, &check, &v, ptemp);
        mc->input.damaged = mc->damaged;
        if (dir && (meta = set_meta(m, mc, dir, !mc->damaged, check, ptemp)) != NULL
            && acme_meta_parse(&cm, ptemp, meta, strlen(meta)) != APR_SUCCESS) {
            cm = NULL;
        }
        if (cm && !mc->damaged) {
            /* the ARI certID from the parse the verification made */
            mc->ari_cert_id = check->ari_id ? apr_pstrdup(m->pool, check->ari_id) : NULL;
            if (!strcmp(dir, live)) {
                /* v was read before the files: a set replaced since has other versions
                 * and is verified again next time. A meta.json set_meta rebuilt from this
                 * very certificate counts as verified with it. */
                acme_set_version_t now;
                acme_set_version_read(&now, live, ptemp);
                if (acme_set_version_same(&(acme_set_version_t){ v.chain, v.key, now.meta },
                                          &now)) {
                    v.meta = now.meta;
                }
                acme_setcache_put(cache, mc->id, &v, check->ari_id);
            }
        }
    }
    if (cm) {
        if (strcmp(dir, live)) {        /* an archived set serves */
            mc->live_chain = apr_pstrcat(m->pool, dir, "/chain.pem", NULL);
            mc->live_key = apr_pstrcat(m->pool, dir, "/key.pem", NULL);
        }
        mc->have_live = 1;
        /* a damaged live set is replaced whatever the archived one says */
        mc->input.have_live = !mc->damaged;
        keep_meta(m, mc, cm);
    }
    mc->input.live_obtained = mc->live_obtained;
    mc->input.jitter = acme_plan_seed(mc->id, mc->live_serial);
    /* staged set, failures, renewal request, ARI window: read as the watchdog, the status
     * pages and acmectl read them */
    acme_plan_load_runtime(&mc->input, ptemp, st, mc->id,
                           m->renewal_info ? mc->ari_cert_id : NULL);
}

void mod_acme_load_states(mod_acme_gen_t *m, apr_pool_t *ptemp)
{
    apr_pool_t *cp;
    int i;

    /* one pool reused per certificate: start-up holds one certificate's files and parsed
     * chain at a time, not all of them until post_config ends */
    acme_setcache_t *cache;
    apr_status_t rv = APR_SUCCESS;

    cp = mod_acme_scratch_pool(ptemp);
    cache = setcache(m, cp);
    for (i = 0; i < m->certs->nelts; ++i) {
        apr_pool_clear(cp);
        load_state(m, cache, APR_ARRAY_IDX(m->certs, i, mod_acme_managed_t *), cp);
    }
    apr_pool_clear(cp);
    if (!dry_run()) {
        rv = acme_setcache_save(cache, m->store, cp);
    }
    apr_pool_destroy(cp);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, m->s, ACMELOGNO(00601)
                     "cannot save %s/system/" ACME_SETCACHE_ENTRY "/" ACME_SETCACHE_ASPECT
                     ": the next start verifies every live set again", m->store_dir);
    }
}

void mod_acme_reuse_keys(mod_acme_gen_t *m, apr_pool_t *ptemp)
{
    int i;
    for (i = 0; i < m->certs->nelts; ++i) {
        mod_acme_managed_t *mc = APR_ARRAY_IDX(m->certs, i, mod_acme_managed_t *);
        const char *why = NULL;
        apr_status_t rv;

        if (mc->settings->key_reuse != 1) {
            continue;
        }
        rv = acme_key_reuse_load(&mc->spec.cert.reuse_key, &mc->spec.cert.reuse_key_len, &why, m->pool,
                                 mc->have_live && !mc->damaged ? mc->live_key : NULL, 1,
                                 mc->spec.cert.key_type, m->secret);
        ap_log_error(APLOG_MARK, rv != APR_SUCCESS ? APLOG_WARNING : APLOG_INFO, rv, m->s,
                     ACMELOGNO(00483) "certificate %s: the next order uses %s (%s)", mc->id,
                     mc->spec.cert.reuse_key ? "the live key" : "a new key", why);
    }
}

/* system/config/plan.json: what acmectl needs to compute the same plan. */
static void plan_specs_save(mod_acme_gen_t *m, apr_pool_t *ptemp)
{
    json_t *j = acme_json_pool(ptemp, json_object()), *certs = json_object();
    const char *text;
    char *old;
    int i;

    for (i = 0; i < m->certs->nelts; ++i) {
        mod_acme_managed_t *mc = APR_ARRAY_IDX(m->certs, i, mod_acme_managed_t *);
        if (mc->used_by_tls) {
            json_object_set_new(certs, mc->id, acme_plan_spec_json(&mc->spec.plan));
        }
    }
    json_object_set_new(j, "version", json_integer(1));
    json_object_set_new(j, "renewal_info", json_boolean(m->renewal_info));
    json_object_set_new(j, "certificates", certs);
    text = acme_json_dump(ptemp, j);
    if (acme_store_load(m->store, ACME_GROUP_SYSTEM, "config", ACME_PLAN_SPECS, &old, NULL,
                        ptemp) != APR_SUCCESS || strcmp(old, text)) {
        acme_store_save(m->store, ACME_GROUP_SYSTEM, "config", ACME_PLAN_SPECS, text,
                        strlen(text), ptemp);
    }
}

void mod_acme_plan_certs(mod_acme_gen_t *m, apr_pool_t *pconf_temp)
{
    apr_time_t now = apr_time_now();
    apr_pool_t *ptemp = mod_acme_scratch_pool(pconf_temp); /* cleared per certificate */
    int i;

    if (!dry_run()) {
        plan_specs_save(m, ptemp);
    }
    for (i = 0; i < m->certs->nelts; ++i) {
        mod_acme_managed_t *mc = APR_ARRAY_IDX(m->certs, i, mod_acme_managed_t *);
        apr_pool_clear(ptemp);
        if (!mc->used_by_tls) {
            continue;
        }
        /* computed in the certificate's scratch pool: only the reason outlives it, not the
         * dates and pieces it was written from (about 200 bytes a certificate) */
        acme_plan_compute(&mc->plan, ptemp, &mc->spec.plan, &mc->input, now);
        mc->plan.reason = mc->plan.reason ? apr_pstrdup(m->pool, mc->plan.reason) : NULL;
        if (mc->plan.request_done && !dry_run()) {
            /* a certificate newer than the admin's request is live: it is satisfied */
            acme_request_clear(m->store, mc->id, ptemp);
            mc->input.renew_requested = 0;
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, m->s, ACMELOGNO(00340)
                         "certificate %s: the renewal requested with acmectl is done",
                         mc->id);
        }
        if (mc->have_live && mc->spec.plan.renew_before > 0 && mc->input.live_not_after
            && mc->spec.plan.renew_before
               > (mc->input.live_not_after - mc->input.live_not_before) / 2) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, m->s, ACMELOGNO(00015)
                         "certificate %s: ACMERenewWindow %s is longer than half its lifetime "
                         "(%s): it renews when half of the lifetime is left", mc->id,
                         acme_duration_print(ptemp, mc->spec.plan.renew_before),
                         acme_duration_print(ptemp, mc->input.live_not_after
                                                    - mc->input.live_not_before));
        }
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, m->s, ACMELOGNO(00060)
                     "certificate %s: challenge types %s (%s)", mc->id,
                     acme_names_join(ptemp, mc->spec.cert.challenge_types, ", "),
                     mc->spec.challenge_why);
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, m->s, ACMELOGNO(00011)
                     "certificate %s (%s): %s; next action %s", mc->id,
                     acme_names_join(ptemp, mc->names, ", "), mc->plan.reason,
                     mc->plan.action == ACME_PLAN_NOTHING && !mc->plan.when ? "none"
                     : acme_time_rfc3339(ptemp, mc->plan.when > now ? mc->plan.when : now));
    }
    apr_pool_destroy(ptemp);
#ifdef __GLIBC__
    /* The parsed JSON of plan.json and of the verified-sets cache (jansson allocates with
     * malloc) is freed by now, but the heap pages stay with the parent, and with every child
     * it forks: give them back (1.4 MB at 1,000 certificates). */
    malloc_trim(0);
#endif
}

/* ---- mod_ssl's hooks -------------------------------------------------------------- */

/* A vhost with its own SSLCertificateFile is managed only when "ACME on" is written in its
 * own section (Debian's default-ssl names the snakeoil placeholder) and it has a name a CA
 * can certify: its files are dropped from mod_ssl's list, so the live or else the fallback
 * certificate serves it. 1: taken. */
static int take_over(server_rec *s, mod_acme_vhost_t *sc, apr_array_header_t *cert_files,
                     apr_array_header_t *key_files, apr_pool_t *p)
{
    if (!mod_acme_srv_conf(s)->enabled_here) {
        return 0;
    }
    if (!sc->managed) {         /* no certificate could replace them: keep serving them */
        if (!sc->took_over) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, ACMELOGNO(00563)
                         "%s: 'ACME on' in this VirtualHost, but no name of it can be "
                         "certified by a public CA (give it a ServerName): it keeps serving "
                         "SSLCertificateFile %s", where(s, p),
                         acme_names_join(p, cert_files, " "));
            sc->took_over = 1;
        }
        return 0;
    }
    if (!sc->took_over) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, ACMELOGNO(00560)
                     "%s: 'ACME on' in this VirtualHost takes it over: mod_acme's certificate "
                     "replaces SSLCertificateFile %s and SSLCertificateKeyFile %s (remove "
                     "them, or write 'ACME off' to keep them)", where(s, p),
                     acme_names_join(p, cert_files, " "),
                     key_files->nelts ? acme_names_join(p, key_files, " ") : "(none)");
        sc->took_over = 1;
    }
    apr_array_clear(cert_files);
    apr_array_clear(key_files);
    return 1;
}

int mod_acme_hook_add_cert_files(server_rec *s, apr_pool_t *p, apr_array_header_t *cert_files,
                                 apr_array_header_t *key_files)
{
    mod_acme_vhost_t *sc;
    mod_acme_managed_t *mc;
    int i;

    if (!mod_acme_gen || !mod_acme_gen->store_ok || !(sc = mod_acme_vhost_get(s))) {
        return DECLINED;
    }
    if (cert_files->nelts > 0 && !take_over(s, sc, cert_files, key_files, p)) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, ACMELOGNO(00012)
                     "%s has its own SSLCertificateFile: not managed", s->server_hostname);
        return DECLINED;
    }
    sc->is_tls = 1;
    for (i = 0; !sc->warned && sc->left_out && i < sc->left_out->nelts; ++i) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, ACMELOGNO(00005)
                     "%s: name %s: left out of the certificate", where(s, p),
                     APR_ARRAY_IDX(sc->left_out, i, const char *));
    }
    sc->warned = 1;
    if (!sc->managed) {
        return DECLINED;
    }
    /* names split over several certificates: mod_ssl gets the first live part, the
     * others are served by SNI (mod_acme_sni.c) */
    for (i = 0; sc->parts && i < sc->parts->nelts; ++i) {
        mc = APR_ARRAY_IDX(sc->parts, i, mod_acme_managed_t *);
        mc->used_by_tls = 1;
        if (mc->have_live && cert_files->nelts == 0) {
            APR_ARRAY_PUSH(cert_files, const char *) = mc->live_chain;
            APR_ARRAY_PUSH(key_files, const char *) = mc->live_key;
        }
    }
    if (sc->parts) {
        return cert_files->nelts > 0 ? OK : DECLINED;
    }
    /* ACMEKeyTypes: every live certificate of the name set (mod_ssl picks per client) */
    for (mc = sc->managed; mc; mc = mc->next_type) {
        mc->used_by_tls = 1;
        if (mc->have_live) {
            APR_ARRAY_PUSH(cert_files, const char *) = mc->live_chain;
            APR_ARRAY_PUSH(key_files, const char *) = mc->live_key;
        }
    }
    return cert_files->nelts > 0 ? OK : DECLINED;
}

int mod_acme_hook_add_fallback_cert_files(server_rec *s, apr_pool_t *p,
                                          apr_array_header_t *cert_files,
                                          apr_array_header_t *key_files)
{
    mod_acme_vhost_t *sc;

    if (!mod_acme_gen || !mod_acme_gen->fallback_chain || !(sc = mod_acme_vhost_get(s))
        || cert_files->nelts > 0) {
        return DECLINED;
    }
    if (!sc->managed) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, ACMELOGNO(00013)
                     "%s: no name of this server can be certified by a public CA: it serves "
                     "the fallback certificate and answers 503", where(s, p));
    }
    APR_ARRAY_PUSH(cert_files, const char *) = mod_acme_gen->fallback_chain;
    APR_ARRAY_PUSH(key_files, const char *) = mod_acme_gen->fallback_key;
    sc->on_fallback = 1;
    return OK;
}
