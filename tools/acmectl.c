/* acmectl: the administrator's command line for mod_acme's store (docs/acmectl.md).
 *
 *   acmectl [--store DIR] [--json] list
 *   acmectl [--store DIR] [--json] show NAME
 *   acmectl [--store DIR] renew NAME|--all
 *   acmectl [--store DIR] [--ca-file FILE] revoke NAME [--reason REASON] [--with-cert-key]
 *   acmectl [--store DIR] [--ca-file FILE] [--ca URL] [--json] account show
 *   acmectl [--store DIR] [--ca-file FILE] [--ca URL] account rollover|deactivate
 *
 * It reads the store; it changes it by leaving orders/<id>/renew.request, which the
 * running server's background worker picks up (within 15 s) and removes, and, for account
 * rollover and deactivate, in accounts/<ca>/ (as the owner of accounts/, the server's
 * User). Exit codes: 0 ok, 1 the operation failed, 2 usage. Never prints key material. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_file_info.h>

#include <openssl/x509.h>

#include "acme.h"
#include "acme_log.h"
#include "acme_util.h"
#include "acme_json.h"
#include "acme_crypto.h"
#include "acme_cert.h"
#include "acme_http.h"
#include "acme_client.h"
#include "acme_account.h"
#include "acme_store.h"
#include "acme_activation.h"
#include "acme_install.h"
#include "acme_plan.h"
#include "acme_plan_store.h"
#include "acme_profile.h"
#include "acme_ca.h"
#include "acme_keytypes.h"
#include "acme_fleet.h"

/* The module's default store on Debian (ACMEStore acme below ServerRoot /etc/apache2);
 * the Debian package builds with -DACMECTL_DEFAULT_STORE=\"/var/lib/apache2/acme\", the
 * store its acme.conf sets. */
#ifdef ACMECTL_DEFAULT_STORE
#define DEFAULT_STORE ACMECTL_DEFAULT_STORE
#else
#define DEFAULT_STORE "/etc/apache2/acme"
#endif
#define RENEW_REQUEST ACME_PLAN_REQUEST
#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

typedef struct opts_t {
    const char *store_dir;
    const char *ca_file;
    const char *reason;
    const char *ca;                 /* account: the CA's directory URL (default the server's) */
    int json, all, with_cert_key;
    const char *cmd, *name;
} opts_t;

typedef struct cert_t {
    const char *id;
    apr_array_header_t *names;
    const char *key, *ca, *serial, *issuer;
    const char *profile;            /* ACMEProfile of the certificate (or configured), NULL */
    int profile_fallback;           /* the CA did not offer it: its default was used */
    const char *chain_top;          /* issuer CN of the chain's top (ACMEPreferredChain) */
    apr_time_t not_before, not_after, obtained;
    int have_live, staged, renew_requested, failures;
    const char *staged_serial;
    const char *err_type, *err_detail, *err_hint;
    apr_time_t err_at, next_attempt;
    const char *chain_path, *key_path;
    const char *state;
    const acme_blocked_t *blocked;  /* staged, but the configuration does not pass */
    const char *staged_check;       /* staged: "passes", "refused" or "unknown" */
    const char *staged_why;         /* refused or unknown: why */
    int planned;                    /* the server's configuration has it: plan is set */
    acme_plan_t plan;               /* the scheduler's next action (acme_plan) */
    apr_time_t requested_at;        /* pending renewal request, 0 none */
    acme_plan_input_t ari;          /* ari_start/end/next_fetch: the CA's window, 0 none */
    acme_persist_t *persist;        /* dns-persist-01 records to publish, NULL none */
    acme_paced_t *paced;            /* the new order waits for the CA's rates, NULL none */
} cert_t;

static const char *progname = "acmectl";

static void usage(FILE *out)
{
    fprintf(out,
            "usage: %s [--store DIR] [--json] list\n"
            "       %s [--store DIR] [--json] show NAME\n"
            "       %s [--store DIR] renew NAME|--all\n"
            "       %s [--store DIR] [--ca-file FILE] revoke NAME [--reason REASON]\n"
            "                [--with-cert-key]\n"
            "       %s [--store DIR] [--ca-file FILE] [--ca URL] [--json] account show\n"
            "       %s [--store DIR] [--ca-file FILE] [--ca URL] account rollover|deactivate\n"
            "       %s [--store DIR] [--json] fleet\n"
            "\n"
            "  --store DIR     mod_acme's store (ACMEStore; default " DEFAULT_STORE ")\n"
            "  --json          machine-readable output\n"
            "  --ca-file FILE  trust anchors for the CA's TLS (default: the server's\n"
            "                  ACMEServerCAFile, else the system's)\n"
            "  --reason R      unspecified, keyCompromise, affiliationChanged, superseded,\n"
            "                  cessationOfOperation\n"
            "  --with-cert-key sign the revocation with the certificate's own key (no\n"
            "                  account needed, e.g. when the account is lost)\n"
            "  --ca URL        the account's CA directory URL (default: the server's ACMEServer)\n"
            "account show: the account as the CA has it; rollover: replace the account key\n"
            "(RFC 8555 key change); deactivate: end the account for good (the server creates\n"
            "a new one at its next run).\n"
            "NAME is a certificate name (as in `list`) or any domain of it (renew: every\n"
            "certificate with the domain, e.g. one per ACMEKeyTypes type).\n"
            "renew and revoke ask the running server for a new certificate: it starts within\n"
            "15 seconds and the server restarts gracefully to serve it.\n"
            "fleet (ACMEStore pgsql:): the nodes, the leases and the database's state as this\n"
            "node last saw them (written every second; the database is not asked).\n",
            progname, progname, progname, progname, progname, progname, progname);
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "%s: ", progname);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    usage(stderr);
    return EXIT_USAGE;
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", progname);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    return EXIT_FAIL;
}

/* RFC 5280 CRLReason codes RFC 8555 7.6 accepts. */
static int reason_code(const char *s)
{
    static const struct { const char *name; int code; } reasons[] = {
        { "unspecified", 0 }, { "keyCompromise", 1 }, { "affiliationChanged", 3 },
        { "superseded", 4 }, { "cessationOfOperation", 5 },
    };
    size_t i;
    for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); ++i) {
        if (!strcasecmp(s, reasons[i].name)) {
            return reasons[i].code;
        }
    }
    return -1;
}

/* --NAME VALUE or --NAME=VALUE: where the value goes (*inline_value: the text after '=',
 * else NULL), or NULL when a is no such option. */
static const char **value_option(opts_t *o, const char *a, const char **inline_value)
{
    static const struct {
        const char *name;
        size_t off;
    } opts[] = {
        { "--store", offsetof(opts_t, store_dir) }, { "--ca-file", offsetof(opts_t, ca_file) },
        { "--reason", offsetof(opts_t, reason) }, { "--ca", offsetof(opts_t, ca) },
    };
    size_t i, n;

    *inline_value = NULL;
    for (i = 0; i < sizeof(opts) / sizeof(opts[0]); ++i) {
        n = strlen(opts[i].name);
        if (!strncmp(a, opts[i].name, n) && (a[n] == '\0' || a[n] == '=')) {
            *inline_value = a[n] == '=' ? a + n + 1 : NULL;
            return (const char **)(void *)((char *)o + opts[i].off);
        }
    }
    return NULL;
}

/* --json, --all, --with-cert-key: the flag to set, or NULL. */
static int *flag_option(opts_t *o, const char *a)
{
    return !strcmp(a, "--json") ? &o->json : !strcmp(a, "--all") ? &o->all
           : !strcmp(a, "--with-cert-key") ? &o->with_cert_key : NULL;
}

/* Which command takes which arguments. */
static int check_args(const opts_t *o)
{
    if (!o->cmd) {
        return usage_error("%s", "no command given");
    }
    if (o->with_cert_key && strcmp(o->cmd, "revoke")) {
        return usage_error("%s is for revoke only", "--with-cert-key");
    }
    if (o->ca && strcmp(o->cmd, "account")) {
        return usage_error("%s is for account only", "--ca");
    }
    if (!strcmp(o->cmd, "list")) {
        if (o->name || o->all || o->reason) {
            return usage_error("%s takes no further arguments", "list");
        }
    }
    else if (!strcmp(o->cmd, "show")) {
        if (!o->name || o->all || o->reason) {
            return usage_error("%s needs exactly one NAME", "show");
        }
    }
    else if (!strcmp(o->cmd, "renew")) {
        if ((!o->name) == (!o->all) || o->reason) {
            return usage_error("%s needs a NAME or --all", "renew");
        }
    }
    else if (!strcmp(o->cmd, "revoke")) {
        if (!o->name || o->all) {
            return usage_error("%s needs exactly one NAME", "revoke");
        }
        if (o->reason && reason_code(o->reason) < 0) {
            return usage_error("unknown revocation reason %s", o->reason);
        }
    }
    else if (!strcmp(o->cmd, "fleet")) {
        if (o->name || o->all || o->reason) {
            return usage_error("%s takes no further arguments", "fleet");
        }
    }
    else if (!strcmp(o->cmd, "account")) {
        if (!o->name || (strcmp(o->name, "show") && strcmp(o->name, "rollover")
                         && strcmp(o->name, "deactivate"))) {
            return usage_error("%s needs show, rollover or deactivate", "account");
        }
        if (o->all || o->reason) {
            return usage_error("%s takes no --all or --reason", "account");
        }
    }
    else {
        return usage_error("unknown command %s", o->cmd);
    }
    return EXIT_OK;
}

static int parse_args(opts_t *o, int argc, const char *const *argv)
{
    int i;
    memset(o, 0, sizeof(*o));
    o->store_dir = DEFAULT_STORE;
    for (i = 1; i < argc; ++i) {
        const char *a = argv[i], *inline_value, **target;
        int *flag = flag_option(o, a);
        if (flag) {
            *flag = 1;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(EXIT_OK);
        }
        if (!strcmp(a, "--version")) {
            printf("acmectl (mod_acme) %s\n", ACME_VERSION);
            exit(EXIT_OK);
        }
        if ((target = value_option(o, a, &inline_value)) != NULL) {
            if (!inline_value && (i + 1 >= argc || !*argv[i + 1])) {
                return usage_error("%s needs a value", a);
            }
            *target = inline_value ? inline_value : argv[++i];
        }
        else if (a[0] == '-' && a[1]) {
            return usage_error("unknown option %s", a);
        }
        else if (!o->cmd) {
            o->cmd = a;
        }
        else if (!o->name) {
            o->name = a;
        }
        else {
            return usage_error("unexpected argument %s", a);
        }
    }
    return check_args(o);
}

/* ---- reading the store ----------------------------------------------------------------- */

static json_t *load_json(acme_store_t *st, acme_group_t g, const char *name,
                         const char *aspect, apr_pool_t *p)
{
    char *data;
    apr_size_t len;
    if (acme_store_load(st, g, name, aspect, &data, &len, p) != APR_SUCCESS) {
        return NULL;
    }
    return acme_json_parse(p, data, len, NULL);
}

static apr_array_header_t *meta_names(const acme_cert_meta_t *meta, apr_pool_t *p)
{
    return meta ? apr_array_copy(p, meta->names) : apr_array_make(p, 1, sizeof(const char *));
}

/* The store's secret, read only (acmectl never creates one): NULL when it cannot be read. */
static const unsigned char *read_secret(acme_store_t *st, apr_pool_t *p)
{
    char *data;
    apr_size_t len;
    const char *path = st->path(st, ACME_GROUP_SYSTEM, "secret", "secret.key", p);

    if (!path || acme_file_read(&data, &len, path, p) != APR_SUCCESS
        || len != ACME_SECRET_LEN) {
        return NULL;
    }
    return (const unsigned char *)data;
}

/* Would the server activate the staged set? The same check as at its next restart
 * (acme_install_check), against the names it was ordered for (the server also compares
 * them with its configuration). */
static void check_staged(cert_t *c, acme_store_t *st, const acme_cert_meta_t *staged,
                         const unsigned char *secret, apr_pool_t *p)
{
    acme_install_t *res;

    if (!secret) {
        c->staged_check = "unknown";
        c->staged_why = "the store's secret (system/secret/secret.key) cannot be read: run "
                        "as root";
        return;
    }
    acme_install_check(&res, p, st, c->id, meta_names(staged, p), secret, apr_time_now());
    if (res->outcome == ACME_INSTALL_PASSES) {
        c->staged_check = "passes";
    }
    else if (res->outcome == ACME_INSTALL_REFUSED) {
        c->staged_check = "refused";
        c->staged_why = res->why;
    }
    else {
        c->staged_check = "unknown";
        c->staged_why = "the staged set is still being written";
    }
}

/* The plan the server's watchdog computes: its recorded spec (system/config/plan.json), the
 * live certificate and the store's runtime files. */
static void plan_cert(cert_t *c, acme_store_t *st, const acme_cert_meta_t *live, X509 *leaf,
                      const json_t *specs, apr_pool_t *p)
{
    acme_plan_spec_t spec;
    acme_plan_input_t in;
    const char *ari_id = NULL;
    const json_t *cs = specs ? json_object_get(acme_json_obj(specs, "certificates"), c->id)
                             : NULL;

    if (!cs || acme_plan_spec_from_json(&spec, p, cs) != APR_SUCCESS) {
        return;
    }
    memset(&in, 0, sizeof(in));
    if (c->have_live) {
        in.have_live = 1;
        in.live_names = acme_names_normalize(p, c->names);
        in.live_ca = live->ca;
        in.live_key = live->key;
        in.live_profile = live->profile;
        in.live_not_before = c->not_before;
        in.live_not_after = c->not_after;
        in.live_obtained = c->obtained;
        in.jitter = acme_plan_seed(c->id, live->serial);
        if (leaf && json_is_true(json_object_get(specs, "renewal_info"))) {
            acme_cert_ari_id(&ari_id, p, leaf);
        }
    }
    else {
        in.jitter = acme_plan_seed(c->id, NULL);
    }
    if (!c->have_live && !c->profile) {
        c->profile = spec.profile;  /* what the next order asks for */
    }
    acme_plan_load_runtime(&in, p, st, c->id, ari_id);
    acme_plan_compute(&c->plan, p, &spec, &in, apr_time_now());
    c->planned = 1;
    c->requested_at = c->plan.request_pending ? in.renew_requested : 0;
    c->ari = in;
}

/* The state the status pages show: error, obtaining, renewing or valid. */
static const char *cert_state(const cert_t *c, apr_time_t now)
{
    if (c->failures > 0) {
        return "error";
    }
    if (!c->have_live) {
        return "obtaining";
    }
    if (c->staged || c->renew_requested || (c->planned && c->plan.action != ACME_PLAN_NOTHING)
        || (!c->planned && now >= c->not_after)) {
        return "renewing";
    }
    return "valid";
}

static void load_cert(cert_t *c, acme_store_t *st, const char *id,
                      const unsigned char *secret, const json_t *specs, apr_pool_t *p)
{
    X509 *leaf = NULL;
    acme_cert_meta_t *live, *staged, *meta;
    acme_cert_status_t *status;
    acme_renew_request_t *req;
    char *data;
    apr_size_t len;

    acme_meta_load(&live, p, st, ACME_GROUP_LIVE, id);
    acme_meta_load(&staged, p, st, ACME_GROUP_STAGING, id);
    acme_status_load(&status, p, st, id);
    meta = live ? live : staged;
    memset(c, 0, sizeof(*c));
    c->id = id;
    c->names = meta_names(meta, p);
    c->key = meta ? meta->key : NULL;
    c->ca = meta ? meta->ca : NULL;
    c->profile = meta && meta->profile && *meta->profile ? meta->profile : NULL;
    c->profile_fallback = c->profile && meta->profile_fallback;
    c->chain_top = meta ? meta->chain : NULL;
    c->chain_path = st->path(st, ACME_GROUP_LIVE, id, "chain.pem", p);
    c->key_path = st->path(st, ACME_GROUP_LIVE, id, "key.pem", p);
    if (live && acme_store_load(st, ACME_GROUP_LIVE, id, "chain.pem", &data, &len, p) == 0) {
        apr_array_header_t *chain;
        acme_cert_info_t *info;
        c->have_live = 1;
        c->serial = live->serial;
        c->not_before = live->not_before;
        c->not_after = live->not_after;
        c->obtained = live->staged;
        /* the certificate itself is the truth when it can be read */
        if (acme_chain_parse(&chain, p, data, len) == APR_SUCCESS
            && acme_cert_info(&info, p, APR_ARRAY_IDX(chain, 0, X509 *)) == APR_SUCCESS) {
            leaf = APR_ARRAY_IDX(chain, 0, X509 *);
            c->serial = info->serial;
            c->issuer = info->issuer;
            c->not_before = info->not_before;
            c->not_after = info->not_after;
        }
    }
    if (staged) {
        acme_blocked_t *b;
        c->staged = 1;
        c->staged_serial = staged->serial;
        if (acme_blocked_load(&b, p, st) == APR_SUCCESS && acme_blocked_has(b, id)) {
            c->blocked = b;
        }
        check_staged(c, st, staged, secret, p);
    }
    c->renew_requested = acme_request_load(&req, p, st, id) == APR_SUCCESS;
    if (status && status->failures > 0) {
        c->failures = status->failures;
        c->err_at = status->last_failure;
        c->next_attempt = status->next_attempt;
        c->err_type = status->err_type;
        c->err_detail = status->err_detail;
        c->err_hint = status->err_hint;
    }
    if (acme_paced_load(&c->paced, p, st, id) != APR_SUCCESS || c->staged
        || c->paced->until <= apr_time_now()) {
        c->paced = NULL;
    }
    if (acme_persist_load(&c->persist, p, st, id) != APR_SUCCESS
        || c->persist->records->nelts == 0) {
        c->persist = NULL;
    }
    plan_cert(c, st, live, leaf, specs, p);
    if (c->planned) {
        c->renew_requested = c->plan.request_pending;
    }
    c->state = cert_state(c, apr_time_now());
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every certificate the store knows: live, staged, or with order state. Sorted ids. */
static apr_status_t list_ids(apr_array_header_t **pids, acme_store_t *st, apr_pool_t *p)
{
    static const acme_group_t groups[] = { ACME_GROUP_LIVE, ACME_GROUP_STAGING,
                                           ACME_GROUP_ORDERS };
    apr_hash_t *seen = apr_hash_make(p);
    apr_array_header_t *ids = apr_array_make(p, 8, sizeof(const char *)), *names;
    apr_status_t rv;
    size_t g;
    int i;

    for (g = 0; g < sizeof(groups) / sizeof(groups[0]); ++g) {
        if ((rv = st->list(st, groups[g], &names, p)) != APR_SUCCESS) {
            return rv;
        }
        for (i = 0; i < names->nelts; ++i) {
            const char *n = APR_ARRAY_IDX(names, i, const char *);
            if (n[0] == '_' || apr_hash_get(seen, n, APR_HASH_KEY_STRING)) {
                continue;   /* "_driver": the worker's counters, not a certificate */
            }
            apr_hash_set(seen, n, APR_HASH_KEY_STRING, n);
            APR_ARRAY_PUSH(ids, const char *) = n;
        }
    }
    qsort(ids->elts, (size_t)ids->nelts, sizeof(const char *), cmp_str);
    *pids = ids;
    return APR_SUCCESS;
}

static apr_status_t load_all(apr_array_header_t **pcerts, acme_store_t *st, apr_pool_t *p)
{
    apr_array_header_t *ids, *certs;
    const unsigned char *secret = read_secret(st, p);
    json_t *specs = load_json(st, ACME_GROUP_SYSTEM, "config", ACME_PLAN_SPECS, p);
    apr_status_t rv;
    int i;
    if ((rv = list_ids(&ids, st, p)) != APR_SUCCESS) {
        return rv;
    }
    certs = apr_array_make(p, ids->nelts ? ids->nelts : 1, sizeof(cert_t));
    for (i = 0; i < ids->nelts; ++i) {
        load_cert(apr_array_push(certs), st, APR_ARRAY_IDX(ids, i, const char *), secret,
                  specs, p);
    }
    *pcerts = certs;
    return APR_SUCCESS;
}

static int has_name(const cert_t *c, const char *name)
{
    int k;
    for (k = 0; k < c->names->nelts; ++k) {
        if (!strcasecmp(APR_ARRAY_IDX(c->names, k, const char *), name)) {
            return 1;
        }
    }
    return 0;
}

/* By id first, then by any of its names (the first key type's certificate before that of
 * a second ACMEKeyTypes type, whose id has ACME_KEY_TYPE_ID_SEP). */
static cert_t *find_cert(apr_array_header_t *certs, const char *name)
{
    cert_t *second = NULL;
    int i;
    for (i = 0; i < certs->nelts; ++i) {
        cert_t *c = &APR_ARRAY_IDX(certs, i, cert_t);
        if (!strcasecmp(c->id, name)) {
            return c;
        }
    }
    for (i = 0; i < certs->nelts; ++i) {
        cert_t *c = &APR_ARRAY_IDX(certs, i, cert_t);
        if (has_name(c, name)) {
            if (!strstr(c->id, ACME_KEY_TYPE_ID_SEP)) {
                return c;
            }
            second = second ? second : c;
        }
    }
    return second;
}

/* ---- output ------------------------------------------------------------------------------ */

static long days_left(const cert_t *c)
{
    apr_interval_time_t left = c->not_after - apr_time_now();
    return (long)(left / apr_time_from_sec(86400)) - (left < 0 ? 1 : 0);
}

static json_t *jtime(apr_pool_t *p, apr_time_t t)
{
    return t ? json_string(acme_time_rfc3339(p, t)) : json_null();
}

static json_t *jstr(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *cert_json(const cert_t *c, apr_pool_t *p)
{
    json_t *j = json_object(), *names = json_array();
    int i;
    for (i = 0; i < c->names->nelts; ++i) {
        json_array_append_new(names, json_string(APR_ARRAY_IDX(c->names, i, const char *)));
    }
    json_object_set_new(j, "id", json_string(c->id));
    json_object_set_new(j, "names", names);
    json_object_set_new(j, "key", jstr(c->key));
    json_object_set_new(j, "ca", jstr(c->ca));
    json_object_set_new(j, "profile", jstr(c->profile));
    json_object_set_new(j, "profile_fallback", json_boolean(c->profile_fallback));
    json_object_set_new(j, "state", json_string(c->state));
    json_object_set_new(j, "valid_from", c->have_live ? jtime(p, c->not_before) : json_null());
    json_object_set_new(j, "valid_until", c->have_live ? jtime(p, c->not_after) : json_null());
    json_object_set_new(j, "days_left", c->have_live ? json_integer(days_left(c)) : json_null());
    json_object_set_new(j, "serial", c->have_live ? jstr(c->serial) : json_null());
    json_object_set_new(j, "issuer", c->have_live ? jstr(c->issuer) : json_null());
    json_object_set_new(j, "obtained", jtime(p, c->obtained));
    json_object_set_new(j, "staged", json_boolean(c->staged));
    json_object_set_new(j, "staged_serial", jstr(c->staged_serial));
    json_object_set_new(j, "activation_blocked", acme_blocked_json(c->blocked, p));
    if (c->staged_check) {
        json_t *sc = json_object();
        json_object_set_new(sc, "result", json_string(c->staged_check));
        json_object_set_new(sc, "reason", jstr(c->staged_why));
        json_object_set_new(j, "staged_check", sc);
    }
    else {
        json_object_set_new(j, "staged_check", json_null());
    }
    json_object_set_new(j, "renew_requested", json_boolean(c->renew_requested));
    json_object_set_new(j, "renew_requested_at", jtime(p, c->requested_at));
    if (c->planned) {
        json_t *next = json_object();
        json_object_set_new(next, "action", json_string(c->staged ? "activate"
                                                        : acme_plan_action_name(c->plan.action)));
        json_object_set_new(next, "when", jtime(p, c->plan.when));
        json_object_set_new(next, "reason", jstr(c->plan.reason));
        json_object_set_new(j, "next_action", next);
    }
    else {
        json_object_set_new(j, "next_action", json_null());
    }
    json_object_set_new(j, "ari_window", acme_plan_ari_json(&c->ari, p));
    json_object_set_new(j, "chain_top_issuer", jstr(c->chain_top));
    json_object_set_new(j, "failures", json_integer(c->failures));
    if (c->failures > 0) {
        json_t *e = json_object();
        json_object_set_new(e, "type", jstr(c->err_type));
        json_object_set_new(e, "detail", jstr(c->err_detail));
        json_object_set_new(e, "hint", jstr(c->err_hint));
        json_object_set_new(e, "at", jtime(p, c->err_at));
        json_object_set_new(e, "next_attempt", jtime(p, c->next_attempt));
        json_object_set_new(j, "last_error", e);
    }
    else {
        json_object_set_new(j, "last_error", json_null());
    }
    if (c->paced) {
        json_t *e = json_object();
        json_object_set_new(e, "until", jtime(p, c->paced->until));
        json_object_set_new(e, "reason", jstr(c->paced->reason));
        json_object_set_new(j, "paced", e);
    }
    json_object_set_new(j, "certificate_path", c->have_live ? jstr(c->chain_path) : json_null());
    json_object_set_new(j, "private_key_path", c->have_live ? jstr(c->key_path) : json_null());
    json_object_set_new(j, "dns_persist_records", acme_persist_json(p, c->persist));
    return j;
}

static void print_json(json_t *j)
{
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text) {
        fputs(text, stdout);
        fputc('\n', stdout);
        free(text);
    }
    json_decref(j);
}

/* The certificate served: expiry, and with detail its origin. */
static void print_live(const cert_t *c, int detail, apr_pool_t *p)
{
    if (c->have_live) {
        long d = days_left(c);
        if (d < 0) {
            printf("    Expiry Date: %s (INVALID: EXPIRED)\n", acme_time_rfc3339(p, c->not_after));
        }
        else {
            printf("    Expiry Date: %s (VALID: %ld day%s)\n",
                   acme_time_rfc3339(p, c->not_after), d, d == 1 ? "" : "s");
        }
        if (detail) {
            printf("    Valid From: %s\n", acme_time_rfc3339(p, c->not_before));
            if (c->obtained) {
                printf("    Obtained: %s\n", acme_time_rfc3339(p, c->obtained));
            }
            if (c->issuer) {
                printf("    Issuer: %s\n", c->issuer);
            }
            printf("    CA: %s\n", acme_ca_label(p, c->ca));
            if (c->chain_top) {
                printf("    Chain Ends At: %s\n", c->chain_top);
            }
        }
        printf("    Serial Number: %s\n", c->serial ? c->serial : "-");
    }
    else {
        printf("    Expiry Date: - (no certificate yet)\n");
    }
}

/* What waits: a staged set and its check, a blocked activation, a renewal request. */
static void print_pending(const cert_t *c, apr_pool_t *p)
{
    if (c->staged) {
        printf("    Staged: new certificate %s waits for activation (graceful restart)\n",
               c->staged_serial ? c->staged_serial : "");
    }
    if (c->staged_check && !strcmp(c->staged_check, "passes")) {
        printf("    Staged Check: passes: it goes live at the next graceful restart\n");
    }
    else if (c->staged_check && !strcmp(c->staged_check, "refused")) {
        printf("    Staged Check: REFUSED: %s: the next restart moves it to the archive; the "
               "current certificate keeps serving\n", c->staged_why);
    }
    else if (c->staged_check) {
        printf("    Staged Check: unknown: %s\n", c->staged_why);
    }
    if (c->blocked) {
        printf("    Activation: " ACME_BLOCKED_TEXT " (since %s): %s\n",
               acme_time_rfc3339(p, c->blocked->since), c->blocked->reason);
    }
    if (c->renew_requested && c->requested_at) {
        printf("    Renewal: requested at %s, pending until a newer certificate is live\n",
               acme_time_rfc3339(p, c->requested_at));
    }
    else if (c->renew_requested) {
        printf("    Renewal: requested, the server has not picked it up yet\n");
    }
}

static void print_cert(const cert_t *c, int detail, apr_pool_t *p)
{
    int i;

    printf("  Certificate Name: %s\n", c->id);
    printf("    State: %s\n", c->state);
    printf("    Domains: %s\n", c->names->nelts ? acme_names_join(p, c->names, " ") : "-");
    print_live(c, detail, p);
    printf("    Key Type: %s\n", c->key ? c->key : "-");
    printf("    Profile: %s\n", c->profile ? acme_profile_describe(p, c->profile,
                                                                  c->profile_fallback)
                                           : "- (the CA's default)");
    print_pending(c, p);
    if (c->planned) {
        apr_time_t now = apr_time_now();
        const char *action = c->staged ? "activate" : acme_plan_action_name(c->plan.action);
        printf("    Next Action: %s%s%s (%s)\n", action, c->plan.when ? " at " : "",
               c->plan.when ? acme_time_rfc3339(p, c->plan.when > now
                                                   || c->plan.action == ACME_PLAN_NOTHING
                                                   ? c->plan.when : now) : "",
               c->plan.reason ? c->plan.reason : "");
    }
    else {
        printf("    Next Action: - (not in the server's configuration, or the server has not "
               "started since the upgrade)\n");
    }
    if (c->paced) {
        printf("    Paced: until %s (%s)\n", acme_time_rfc3339(p, c->paced->until),
               c->paced->reason ? c->paced->reason : "the CA's rates");
    }
    if (detail && c->ari.ari_end) {
        printf("    CA Renewal Window (ARI): %s to %s (next look %s)\n",
               acme_time_rfc3339(p, c->ari.ari_start), acme_time_rfc3339(p, c->ari.ari_end),
               c->ari.ari_next_fetch ? acme_time_rfc3339(p, c->ari.ari_next_fetch) : "-");
    }
    if (c->failures > 0) {
        printf("    Last Error: %s%s%s (at %s, %d failed attempt%s; next attempt %s)\n",
               c->err_type ? c->err_type : "", c->err_type ? ": " : "",
               c->err_detail ? c->err_detail : "unknown", acme_time_rfc3339(p, c->err_at),
               c->failures, c->failures == 1 ? "" : "s",
               c->next_attempt ? acme_time_rfc3339(p, c->next_attempt) : "-");
        if (c->err_hint) {
            printf("    Hint: %s\n", c->err_hint);
        }
    }
    for (i = 0; detail && c->persist && i < c->persist->records->nelts; ++i) {
        /* public DNS data, account URL included: shown exactly, to be published as it is */
        printf("    DNS Persist Record: %s\n",
               acme_persist_zone_line(p, &APR_ARRAY_IDX(c->persist->records, i,
                                                        acme_persist_record_t)));
    }
    if (c->have_live) {
        printf("    Certificate Path: %s\n", c->chain_path);
        printf("    Private Key Path: %s\n", c->key_path);
    }
}

static int cmd_list(const opts_t *o, apr_array_header_t *certs, apr_pool_t *p)
{
    int i;
    if (o->json) {
        json_t *j = json_object(), *arr = json_array();
        json_object_set_new(j, "version", json_integer(1));
        json_object_set_new(j, "store", json_string(o->store_dir));
        for (i = 0; i < certs->nelts; ++i) {
            json_array_append_new(arr, cert_json(&APR_ARRAY_IDX(certs, i, cert_t), p));
        }
        json_object_set_new(j, "certificates", arr);
        print_json(j);
        return EXIT_OK;
    }
    if (certs->nelts == 0) {
        printf("No certificates found in %s.\n", o->store_dir);
        return EXIT_OK;
    }
    printf("Found %d certificate%s in %s:\n", certs->nelts, certs->nelts == 1 ? "" : "s",
           o->store_dir);
    for (i = 0; i < certs->nelts; ++i) {
        print_cert(&APR_ARRAY_IDX(certs, i, cert_t), 0, p);
    }
    return EXIT_OK;
}

static int cmd_show(const opts_t *o, cert_t *c, apr_pool_t *p)
{
    if (o->json) {
        print_json(cert_json(c, p));
    }
    else {
        print_cert(c, 1, p);
    }
    return EXIT_OK;
}

/* ---- renewal requests -------------------------------------------------------------------- */

/* orders/<id>/renew.request, owned like orders/ (the worker must remove it), 0600, written
 * to a temporary name and renamed into place. */
/* new_key: the replacement must not reuse the certificate's key (after a revocation). */
static int request_renewal(const opts_t *o, const cert_t *c, int new_key, apr_pool_t *p)
{
    const char *orders = apr_pstrcat(p, o->store_dir, "/orders", NULL);
    const char *dir = apr_pstrcat(p, orders, "/", c->id, NULL);
    const char *path = apr_pstrcat(p, dir, "/" RENEW_REQUEST, NULL);
    const char *tmp = apr_psprintf(p, "%s/.%s.tmp.%ld", dir, RENEW_REQUEST, (long)getpid());
    acme_renew_request_t req = { 0, 0, "acmectl", 0 };
    const char *text;
    struct stat sb;
    int fd;

    req.requested = apr_time_now();
    req.new_key = new_key;
    text = acme_request_text(p, &req);
    if (lstat(orders, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        return fail("%s: not a directory (is %s mod_acme's store?)", orders, o->store_dir);
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return fail("cannot create %s: %s", dir, strerror(errno));
    }
    if (lchown(dir, sb.st_uid, sb.st_gid) != 0) {
        return fail("cannot give %s to the server's user: %s", dir, strerror(errno));
    }
    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        return fail("cannot create %s: %s", tmp, strerror(errno));
    }
    if (fchown(fd, sb.st_uid, sb.st_gid) != 0 || fchmod(fd, 0600) != 0
        || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return fail("cannot write %s: %s", tmp, strerror(e));
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return fail("cannot create %s: %s", path, strerror(e));
    }
    return EXIT_OK;
}

static int cmd_renew(const opts_t *o, apr_array_header_t *certs, cert_t *one, apr_pool_t *p)
{
    int i, rc = EXIT_OK, n = 0;
    for (i = 0; i < certs->nelts; ++i) {
        cert_t *c = &APR_ARRAY_IDX(certs, i, cert_t);
        /* a domain: every certificate holding it (one per ACMEKeyTypes type) */
        if (one && c != one && (!strcasecmp(one->id, o->name) || !has_name(c, o->name))) {
            continue;
        }
        if (request_renewal(o, c, 0, p) != EXIT_OK) {
            rc = EXIT_FAIL;
            continue;
        }
        n++;
        printf("%s: renewal requested\n", c->id);
    }
    if (n > 0) {
        printf("The running server starts the renewal within 15 seconds and restarts gracefully "
               "to serve the new certificate (see `acmectl show NAME` and the error log).\n");
    }
    else if (rc == EXIT_OK) {
        printf("No certificates found in %s.\n", o->store_dir);
    }
    return rc;
}

/* ---- talking to the CA ------------------------------------------------------------------ */

/* settings.json's "cas" (ACMEServer with several CAs) holds ca. */
static int settings_lists_ca(const json_t *settings, const char *ca)
{
    json_t *cas = settings ? acme_json_arr(settings, "cas") : NULL;
    size_t i;
    for (i = 0; cas && ca && i < json_array_size(cas); ++i) {
        const char *u = json_string_value(json_array_get(cas, i));
        if (u && !strcmp(u, ca)) {
            return 1;
        }
    }
    return 0;
}

/* A client for ca (its directory fetched): TLS trust from --ca-file, else the server's
 * ACMEServerCAFile when ca is the server's CA. */
static int ca_client(acme_client_t **pclient, const opts_t *o, const json_t *settings,
                     const char *ca, apr_pool_t *p)
{
    const char *sca = settings ? acme_json_str(settings, "ca") : NULL;
    const char *ca_file = o->ca_file ? o->ca_file
                          : ((sca && !strcmp(sca, ca)) || settings_lists_ca(settings, ca))
                          ? acme_json_str(settings, "ca_file") : NULL;
    acme_http_t *http;
    acme_result_t res;

    acme_result_reset(&res);
    if (acme_http_curl_global_init() != APR_SUCCESS
        || acme_http_curl_create(&http, p, ca_file, ACME_USER_AGENT,
                                 apr_time_from_sec(30)) != APR_SUCCESS
        || acme_client_create(pclient, p, http, ca) != APR_SUCCESS) {
        return fail("cannot set up the ACME client for %s", ca);
    }
    if (acme_client_directory(*pclient, &res) != APR_SUCCESS) {
        return fail("cannot reach the CA %s: %s", ca, acme_result_str(&res, p));
    }
    return EXIT_OK;
}

/* The store's secret (root only): unseals the account key. */
static int store_secret(unsigned char secret[ACME_SECRET_LEN], acme_store_t *st, apr_pool_t *p)
{
    if (acme_store_fs_secret(st, secret, p) != APR_SUCCESS) {
        return fail("cannot read the store's secret (system/secret/secret.key): run as root");
    }
    return EXIT_OK;
}

/* The server's EAB key id belongs to the server's CA (settings.json "ca"); with several
 * CAs ("cas") to those whose directory requires EAB, as in the server. NULL: none. */
static const char *server_kid(const json_t *settings, const char *ca, acme_client_t *client)
{
    const char *sca = settings ? acme_json_str(settings, "ca") : NULL;
    if (settings && acme_json_arr(settings, "cas")) {
        return settings_lists_ca(settings, ca) && acme_client_eab_required(client)
               ? acme_json_str(settings, "eab_kid") : NULL;
    }
    return sca && !strcmp(sca, ca) ? acme_json_str(settings, "eab_kid") : NULL;
}

/* A client signing with the stored account of ca (its key unsealed with secret). */
static int account_client(acme_client_t **pclient, const char **pname, const opts_t *o,
                          acme_store_t *st, const json_t *settings, const char *ca,
                          const unsigned char *secret, apr_pool_t *p)
{
    acme_result_t res;
    apr_status_t rv;
    int rc;

    if ((rc = ca_client(pclient, o, settings, ca, p)) != EXIT_OK) {
        return rc;
    }
    acme_result_reset(&res);
    rv = acme_account_open(pname, *pclient, st, server_kid(settings, ca, *pclient), secret, p,
                           &res);
    if (rv != APR_SUCCESS) {
        return fail("%s", acme_result_str(&res, p));
    }
    return EXIT_OK;
}

/* ---- revocation (RFC 8555 section 7.6) --------------------------------------------------- */

/* live/<id>/key.pem: the certificate's own key (plain PEM, root 0600). */
static int cert_key(acme_key_t **pkey, acme_store_t *st, const cert_t *c, apr_pool_t *p)
{
    char *pem;
    apr_size_t len;
    apr_status_t rv;

    if (acme_store_load(st, ACME_GROUP_LIVE, c->id, "key.pem", &pem, &len, p) != APR_SUCCESS) {
        return fail("cannot read the key of %s (live/%s/key.pem): run as root", c->id, c->id);
    }
    rv = acme_key_from_pem(pkey, p, pem, len);
    memset(pem, 0, len);
    if (rv != APR_SUCCESS) {
        return fail("live/%s/key.pem holds no usable private key", c->id);
    }
    return EXIT_OK;
}

static int cmd_revoke(const opts_t *o, acme_store_t *st, cert_t *c, apr_pool_t *p)
{
    json_t *settings;
    const char *ca, *acct_name;
    char *data;
    apr_size_t len;
    apr_array_header_t *chain;
    acme_key_t *key = NULL;
    acme_client_t *client;
    acme_result_t res;
    unsigned char *der = NULL, secret[ACME_SECRET_LEN];
    int der_len, rc;
    apr_status_t rv;

    if (!c->have_live) {
        return fail("%s has no certificate to revoke", c->id);
    }
    if ((rv = acme_store_load(st, ACME_GROUP_LIVE, c->id, "chain.pem", &data, &len, p))
        || (rv = acme_chain_parse(&chain, p, data, len))) {
        return fail("cannot read the certificate of %s", c->id);
    }
    settings = load_json(st, ACME_GROUP_SYSTEM, "config", "settings.json", p);
    ca = c->ca ? c->ca : settings ? acme_json_str(settings, "ca") : NULL;
    if (!ca) {
        return fail("the CA of %s is unknown (no system/config/settings.json: has the "
                    "server run with this store?)", c->id);
    }
    if (o->with_cert_key) {
        if ((rc = cert_key(&key, st, c, p)) != EXIT_OK
            || (rc = ca_client(&client, o, settings, ca, p)) != EXIT_OK) {
            return rc;
        }
    }
    else {
        if ((rc = store_secret(secret, st, p)) != EXIT_OK) {
            return rc;
        }
        rc = account_client(&client, &acct_name, o, st, settings, ca, secret, p);
        memset(secret, 0, sizeof(secret));
        if (rc != EXIT_OK) {
            fprintf(stderr, "%s: without the account, `%s revoke %s --with-cert-key` signs with "
                    "the certificate's own key\n", progname, progname, c->id);
            return rc;
        }
    }
    der_len = i2d_X509(APR_ARRAY_IDX(chain, 0, X509 *), &der);
    if (der_len <= 0) {
        return fail("cannot encode the certificate of %s", c->id);
    }
    acme_result_reset(&res);
    rv = acme_account_revoke(client, der, (apr_size_t)der_len,
                             o->reason ? reason_code(o->reason) : 0, key, p, &res);
    OPENSSL_free(der);
    if (rv != APR_SUCCESS) {
        return fail("the CA refused to revoke %s (serial %s): %s", c->id,
                    c->serial ? c->serial : "?", acme_result_str(&res, p));
    }
    printf("%s: certificate %s revoked%s%s%s\n", c->id, c->serial ? c->serial : "",
           o->reason ? " (reason " : "", o->reason ? apr_pstrcat(p, o->reason, ")", NULL) : "",
           key ? " (signed with the certificate's key)" : "");
    rc = request_renewal(o, c, 1, p);
    if (rc == EXIT_OK) {
        printf("%s: a replacement was requested: the running server orders it within 15 "
               "seconds and restarts gracefully to serve it.\n", c->id);
    }
    return rc;
}

/* ---- accounts (RFC 8555 sections 7.3.5 and 7.3.6) -------------------------------------------- */

/* The server's User owns accounts/ and rewrites its files: acmectl (root) writes there as
 * that user, so that what it leaves stays readable by the server. */
static int become_accounts_owner(const opts_t *o, apr_pool_t *p)
{
    const char *dir = apr_pstrcat(p, o->store_dir, "/accounts", NULL);
    struct stat sb;

    if (lstat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        return fail("%s: not a directory (is %s mod_acme's store?)", dir, o->store_dir);
    }
    if (geteuid() == 0 && (sb.st_uid != 0 || sb.st_gid != 0)
        && (setegid(sb.st_gid) != 0 || seteuid(sb.st_uid) != 0)) {
        return fail("cannot act as the owner of %s: %s", dir, strerror(errno));
    }
    return EXIT_OK;
}

static void print_account(const opts_t *o, const char *name, const char *ca, json_t *acct,
                          apr_pool_t *p)
{
    json_t *contact = json_object_get(acct, "contact");
    const char *status = acme_json_str(acct, "status");
    size_t i;

    if (o->json) {
        json_t *j = json_object();
        json_object_set_new(j, "store_entry", json_string(apr_pstrcat(p, "accounts/", name,
                                                                      NULL)));
        json_object_set_new(j, "ca", json_string(ca));
        json_object_set_new(j, "status", status ? json_string(status) : json_null());
        json_object_set_new(j, "contact", json_is_array(contact) ? json_incref(contact)
                                                                 : json_array());
        print_json(j);
        return;
    }
    printf("Account: accounts/%s\n", name);
    printf("  CA: %s\n", ca);
    printf("  Status: %s\n", status ? status : "-");
    printf("  Contact:");
    for (i = 0; json_is_array(contact) && i < json_array_size(contact); ++i) {
        const char *s = json_string_value(json_array_get(contact, i));
        printf(" %s", s ? s : "?");
    }
    printf("%s\n", json_array_size(contact) ? "" : " none");
}

/* Fleet mode (the watchdog writes orders/_fleet/fleet.json): the account changed here goes
 * to the database at the node's next tick, under the account lease (docs/DESIGN.md). */
static int fleet_account_request(acme_store_t *st, const char *name, apr_pool_t *p)
{
    char *data;
    apr_size_t len;

    if (acme_store_load(st, ACME_GROUP_ORDERS, ACME_FLEET_SNAPSHOT_ENTRY, ACME_FLEET_SNAPSHOT,
                        &data, &len, p) != APR_SUCCESS) {
        return EXIT_OK;
    }
    if (acme_fleet_account_request(st, name, p) != APR_SUCCESS) {
        return fail("accounts/%s changed at the CA, but the request to publish it to the fleet "
                    "could not be written: the other nodes keep the old account until it is "
                    "(create the file accounts/%s/%s as the owner of accounts/)", name, name,
                    ACME_FLEET_ACCOUNT_REQUEST);
    }
    printf("fleet mode: the server publishes accounts/%s to the fleet database at its next "
           "tick; every node uses it from its next pull.\n", name);
    return EXIT_OK;
}

static int cmd_account(const opts_t *o, acme_store_t *st, apr_pool_t *p)
{
    json_t *settings = load_json(st, ACME_GROUP_SYSTEM, "config", "settings.json", p), *acct;
    const char *ca = o->ca ? o->ca : settings ? acme_json_str(settings, "ca") : NULL, *name;
    acme_client_t *client;
    acme_result_t res;
    unsigned char secret[ACME_SECRET_LEN];
    apr_status_t rv;
    int rc;

    if (!ca) {
        return fail("the CA is unknown (no system/config/settings.json: has the server run "
                    "with this store? else name it with --ca URL)");
    }
    /* the secret first: system/ is root's */
    if ((rc = store_secret(secret, st, p)) != EXIT_OK
        || (strcmp(o->name, "show") && (rc = become_accounts_owner(o, p)) != EXIT_OK)
        || (rc = account_client(&client, &name, o, st, settings, ca, secret, p)) != EXIT_OK) {
        memset(secret, 0, sizeof(secret));
        return rc;
    }
    acme_result_reset(&res);
    if (!strcmp(o->name, "show")) {
        memset(secret, 0, sizeof(secret));
        if (acme_account_fetch(&acct, client, p, &res) != APR_SUCCESS) {
            return fail("the CA did not show the account accounts/%s: %s", name,
                        acme_result_str(&res, p));
        }
        print_account(o, name, ca, acct, p);
        return EXIT_OK;
    }
    if (!strcmp(o->name, "rollover")) {
        rv = acme_account_rollover(client, st, server_kid(settings, ca, client), secret, p, &res);
    }
    else {
        rv = acme_account_deactivate(client, st, server_kid(settings, ca, client), p, &res);
    }
    memset(secret, 0, sizeof(secret));
    if (rv != APR_SUCCESS) {
        return fail("account %s of accounts/%s failed: %s", o->name, name,
                    acme_result_str(&res, p));
    }
    if ((rc = fleet_account_request(st, name, p)) != EXIT_OK) {
        return rc;
    }
    if (!strcmp(o->name, "rollover")) {
        printf("accounts/%s: the account key was replaced; the server signs with the new key "
               "from its next run on.\n", name);
    }
    else {
        printf("accounts/%s: the account is deactivated; the server creates a new account at "
               "its next run.\n", name);
    }
    return EXIT_OK;
}

/* ---- fleet ----------------------------------------------------------------------------------- */

static const char *jtext(const json_t *o, const char *key)
{
    const char *v = o ? acme_json_str(o, key) : NULL;
    return v ? v : "-";
}

/* The snapshot the watchdog writes each second (orders/_fleet/fleet.json). */
static int cmd_fleet(const opts_t *o, acme_store_t *st, apr_pool_t *p)
{
    json_t *j, *db, *a;
    char *data;
    apr_size_t len, i, k;

    if (acme_store_load(st, ACME_GROUP_ORDERS, ACME_FLEET_SNAPSHOT_ENTRY, ACME_FLEET_SNAPSHOT,
                        &data, &len, p) != APR_SUCCESS
        || !(j = acme_json_parse(p, data, len, NULL))) {
        return fail("no fleet snapshot in %s (not in fleet mode: ACMEStore pgsql:, or the "
                    "server has not written one yet)", o->store_dir);
    }
    if (o->json) {
        print_json(json_incref(j));
        return EXIT_OK;
    }
    db = acme_json_obj(j, "database");
    printf("Node %s, as of %s\n", jtext(j, "node"), jtext(j, "updated"));
    if (db && json_is_true(json_object_get(db, "reachable"))) {
        printf("Database: reachable\n");
    }
    else {
        printf("Database: UNREACHABLE since %s (%s): serving the local copy, ordering "
               "nothing\n", jtext(db, "since"), jtext(db, "error"));
    }
    printf("Nodes:\n");
    for (i = 0; (a = acme_json_arr(j, "nodes")) && i < json_array_size(a); ++i) {
        json_t *n = json_array_get(a, i), *info = acme_json_obj(n, "info");
        json_t *act = info ? acme_json_arr(info, "activated") : NULL;
        printf("  %s  %s  last heartbeat %s  started %s  activated:", jtext(n, "node"),
               json_is_true(json_object_get(n, "live")) ? "live" : "GONE",
               jtext(n, "last_beat"), jtext(info, "started"));
        for (k = 0; act && k < json_array_size(act); ++k) {
            printf(" %s", json_string_value(json_array_get(act, k)));
        }
        printf("%s\n", act && json_array_size(act) ? "" : " -");
    }
    printf("Leases:\n");
    for (i = 0; (a = acme_json_arr(j, "leases")) && i < json_array_size(a); ++i) {
        json_t *l = json_array_get(a, i);
        printf("  %s  held by %s until %s\n", jtext(l, "name"), jtext(l, "owner"),
               jtext(l, "expires"));
    }
    if (!a || !json_array_size(a)) {
        printf("  none\n");
    }
    return EXIT_OK;
}

/* ---- main ---------------------------------------------------------------------------------- */

int main(int argc, const char *const *argv)
{
    apr_pool_t *p;
    opts_t o;
    acme_store_t *st;
    apr_array_header_t *certs;
    apr_finfo_t fi;
    cert_t *c = NULL;
    int rc;

    if (argc > 0 && argv[0]) {
        const char *slash = strrchr(argv[0], '/');
        progname = slash ? slash + 1 : argv[0];
    }
    if ((rc = parse_args(&o, argc, argv)) != EXIT_OK) {
        return rc;
    }
    if (apr_app_initialize(&argc, &argv, NULL) != APR_SUCCESS) {
        return fail("cannot initialize APR");
    }
    atexit(apr_terminate);
    apr_pool_create(&p, NULL);

    if (apr_stat(&fi, o.store_dir, APR_FINFO_TYPE, p) != APR_SUCCESS || fi.filetype != APR_DIR) {
        return fail("store %s not found (ACMEStore of the server; --store DIR)", o.store_dir);
    }
    if (acme_store_fs_create(&st, p, o.store_dir) != APR_SUCCESS
        || load_all(&certs, st, p) != APR_SUCCESS) {
        return fail("cannot read the store %s (run as root)", o.store_dir);
    }
    if (!strcmp(o.cmd, "account")) {
        return cmd_account(&o, st, p);
    }
    if (!strcmp(o.cmd, "fleet")) {
        return cmd_fleet(&o, st, p);
    }
    if (o.name) {
        c = find_cert(certs, o.name);
        if (!c) {
            return fail("no certificate named %s in %s (see `%s list`)", o.name, o.store_dir,
                        progname);
        }
    }
    if (!strcmp(o.cmd, "list")) {
        return cmd_list(&o, certs, p);
    }
    if (!strcmp(o.cmd, "show")) {
        return cmd_show(&o, c, p);
    }
    if (!strcmp(o.cmd, "renew")) {
        return cmd_renew(&o, certs, c, p);
    }
    return cmd_revoke(&o, st, c, p);
}
