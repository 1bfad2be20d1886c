/* mod_acme: what the admin sees. A section "ACME certificates" in mod_status' server-status
 * (HTML and ?auto), "SetHandler acme-status" (JSON) and "SetHandler acme-metrics"
 * (Prometheus text exposition 0.0.4). Schemas: docs/status.md.
 *
 * Status reads; it never recomputes protocol state (design.md). The next action is the
 * scheduler's own: acme_plan over the same store files the watchdog reads (acme_plan_store). The workers run as the
 * httpd User and cannot read live/ (root 0700): what only live/<id>/meta.json knows (serial,
 * when the certificate was obtained) is read once per generation in post_config, as root.
 * What changes while the server runs (orders/<id>/status.json after a failure, a staged set,
 * the driver's counters) is read per request from the groups the User owns.
 *
 * Nothing secret is ever written out: no key, no token, no account URL (CA problem details
 * that quote it have it replaced). The one exception is the dns-persist-01 record: it is
 * public DNS data the admin must publish as it is, account URL included, so it is shown
 * exactly (docs/status.md). */
#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_optional.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <mod_status.h>

#include "mod_acme_generation.h"
#include "mod_acme_status.h"
#include "mod_acme_ssl.h"

APLOG_USE_MODULE(acme);
#include "acme_chains.h"
#include "acme_util.h"
#include "acme_fleet.h"
#include "acme_profile.h"
#include "acme_json.h"
#include "acme_account.h"
#include "acme_activation.h"
#include "acme_plan_store.h"
#include "acme_ca.h"

#define STATUS_HANDLER "acme-status"
#define METRICS_HANDLER "acme-metrics"
#define STATUS_SEGMENT "acme-status"
#define STATUS_JSON_VERSION 1

typedef enum { ST_OBTAINING, ST_VALID, ST_RENEWING, ST_ERROR, ST_COUNT } cert_state_t;
static const char *const state_names[ST_COUNT] = { "obtaining", "valid", "renewing", "error" };

/* One certificate as the outputs show it. */
typedef struct cert_view_t {
    const mod_acme_managed_t *mc;
    const char *key, *ca;
    const char *profile;         /* the live certificate's, else the configured one; NULL none */
    int profile_fallback;        /* the live one has the CA's default instead */
    cert_state_t state;
    int have_live;
    apr_time_t valid_from, valid_until, last_success;
    const char *serial;          /* NULL when none live */
    const char *action;          /* "obtain", "renew", "activate", "retry", "none" */
    apr_time_t when;             /* 0: none */
    const char *reason;
    int failures;
    const char *err_type, *err_detail, *err_hint;
    apr_time_t err_at;
    int staged;
    const acme_blocked_t *blocked; /* staged, but the configuration does not pass */
    apr_time_t renew_requested;  /* pending `acmectl renew`, 0 none */
    acme_plan_input_t ari;       /* ari_start/end/next_fetch: the CA's window, 0 none */
    const char *chain_top;       /* the live chain's top issuer, NULL unknown */
    const char *chain_warning;   /* ACMEPreferredChain not met, NULL none */
    const char *next_ca;         /* several CAs: the one the next attempt uses, else NULL */
    acme_persist_t *persist;     /* dns-persist-01 records to publish, NULL none */
} cert_view_t;

typedef struct driver_view_t {
    int present;
    apr_int64_t attempts, staged, failed, requests;
    apr_time_t last_run;
} driver_view_t;

/* ---- gathering ----------------------------------------------------------------------- */

static int has_certs(const mod_acme_gen_t *m)
{
    int i;
    if (!m || !m->store_ok) {
        return 0;
    }
    for (i = 0; i < m->certs->nelts; ++i) {
        if (APR_ARRAY_IDX(m->certs, i, mod_acme_managed_t *)->used_by_tls) {
            return 1;
        }
    }
    return 0;
}

static json_t *load_json(mod_acme_gen_t *m, acme_group_t g, const char *name, const char *aspect,
                         apr_pool_t *p)
{
    char *data;
    apr_size_t len;
    if (acme_store_load(m->store, g, name, aspect, &data, &len, p) != APR_SUCCESS) {
        return NULL;
    }
    return acme_json_parse(p, data, len, NULL);
}

/* An account URL identifies the account: never shown, also not inside a CA's detail
 * (account_urls: one per configured CA that has an account). */
static const char *scrub(apr_pool_t *p, const char *text,
                         const apr_array_header_t *account_urls)
{
    const char *hit, *account_url;
    apr_size_t n;
    int i;
    for (i = 0; text && i < account_urls->nelts; ++i) {
        account_url = APR_ARRAY_IDX(account_urls, i, const char *);
        if (!(n = strlen(account_url))) {
            continue;
        }
        while ((hit = strstr(text, account_url)) != NULL) {
            text = apr_pstrcat(p, apr_pstrmemdup(p, text, (apr_size_t)(hit - text)),
                               "(account)", hit + n, NULL);
        }
    }
    return text;
}

/* What the certificate is: key, CA, profile, and the live set's facts. */
static void view_facts(cert_view_t *v, const mod_acme_gen_t *m, const mod_acme_managed_t *mc,
                       apr_pool_t *p)
{
    memset(v, 0, sizeof(*v));
    v->mc = mc;
    v->have_live = mc->have_live;
    v->key = mc->have_live && mc->input.live_key && *mc->input.live_key
             ? mc->input.live_key : acme_key_type_name(mc->spec.cert.key_type);
    v->ca = mc->have_live && mc->input.live_ca && *mc->input.live_ca ? mc->input.live_ca
                                                                     : m->ca_url;
    v->profile = mc->have_live ? mc->input.live_profile : mc->spec.cert.profile;
    v->profile_fallback = mc->have_live && mc->live_profile_fallback;
    if (v->profile && !*v->profile) {
        v->profile = NULL;
    }
    if (mc->have_live) {
        v->valid_from = mc->input.live_not_before;
        v->valid_until = mc->input.live_not_after;
        v->serial = mc->live_serial;
        v->chain_top = mc->live_chain_top;
        v->chain_warning = acme_chain_pref_warning(p, mc->spec.cert.preferred_chain,
                                                   mc->live_chain_top);
        v->last_success = mc->live_obtained ? mc->live_obtained : mc->input.live_not_before;
    }
}

/* The state column: error, obtaining, renewing or valid. */
static void view_state(cert_view_t *v, const mod_acme_managed_t *mc, const acme_plan_t *plan)
{
    if (v->failures > 0) {
        v->state = ST_ERROR;
    }
    else if (!mc->have_live) {
        v->state = ST_OBTAINING;
    }
    else if (v->staged || plan->action != ACME_PLAN_NOTHING) {
        v->state = ST_RENEWING;
    }
    else {
        v->state = ST_VALID;
    }
}

/* The dns-persist-01 records the driver learnt, while the certificate still uses it for
 * those names (the driver removes the others at its next run). */
static void view_persist(cert_view_t *v, mod_acme_gen_t *m, const mod_acme_managed_t *mc,
                         apr_pool_t *p)
{
    acme_persist_t *ps = NULL;
    if (acme_names_contain(mc->spec.cert.challenge_types, ACME_CHALLENGE_DNSPERSIST01)
        && acme_persist_load(&ps, p, m->store, mc->id) == APR_SUCCESS) {
        acme_persist_keep_names(ps, mc->names);
        v->persist = ps->records->nelts > 0 ? ps : NULL;
    }
}

static void view_cert(cert_view_t *v, mod_acme_gen_t *m, const mod_acme_managed_t *mc,
                      const apr_array_header_t *account_urls, const acme_blocked_t *blocked,
                      apr_pool_t *p)
{
    apr_time_t now = apr_time_now();
    acme_plan_input_t in = mc->input;
    acme_plan_t plan;
    acme_cert_status_t *st;

    view_facts(v, m, mc, p);
    /* what the scheduler sees now: the same inputs, the same plan */
    acme_plan_load_runtime(&in, p, m->store, mc->id, m->renewal_info ? mc->ari_cert_id : NULL);
    acme_plan_compute(&plan, p, &mc->spec.plan, &in, now);
    v->staged = in.have_staged;
    v->renew_requested = plan.request_pending ? in.renew_requested : 0;
    v->ari = in;
    v->action = acme_plan_action_name(plan.action);
    v->when = plan.when;
    v->reason = plan.reason;
    if (v->staged) {
        v->action = "activate";
        v->when = 0;
        v->reason = "new certificate staged, waiting for activation by a graceful restart";
        if (acme_blocked_has(blocked, mc->id)) {
            v->blocked = blocked;
            v->reason = apr_pstrcat(p, ACME_BLOCKED_TEXT ": ", blocked->reason, NULL);
        }
    }
    else if (plan.action == ACME_PLAN_NOTHING && !plan.when) {
        v->when = 0;
    }
    else if (plan.action != ACME_PLAN_NOTHING && v->when < now) {
        v->when = now;
    }

    if (!v->staged && in.failures > 0 && acme_status_load(&st, p, m->store, mc->id)
                                            == APR_SUCCESS) {
        v->failures = in.failures;
        v->err_at = in.last_failure;
        v->err_type = scrub(p, st->err_type, account_urls);
        v->err_detail = scrub(p, st->err_detail, account_urls);
        v->err_hint = st->err_hint;
        if (plan.action != ACME_PLAN_NOTHING) {
            v->action = "retry";  /* the plan's time and reason: backoff, Retry-After */
        }
    }

    if (m->ca_urls && m->ca_urls->nelts > 1 && !v->staged && plan.action != ACME_PLAN_NOTHING) {
        v->next_ca = APR_ARRAY_IDX(m->ca_urls, acme_ca_pick(m->ca_urls->nelts, in.failures,
                                                            ACME_CA_FAILOVER_THRESHOLD),
                                   const char *);
    }
    view_persist(v, m, mc, p);
    view_state(v, mc, &plan);
    if (!v->reason) {
        v->reason = "";
    }
}

/* All certificates of https vhosts, in config order. */
static apr_array_header_t *view_all(mod_acme_gen_t *m, apr_pool_t *p)
{
    apr_array_header_t *views = apr_array_make(p, 8, sizeof(cert_view_t));
    apr_array_header_t *account_urls = apr_array_make(p, 2, sizeof(const char *));
    acme_blocked_t *blocked = NULL;
    json_t *acct;
    int i;

    if (!has_certs(m)) {
        return views;
    }
    for (i = 0; i < m->ca_urls->nelts; ++i) {
        const char *ca = APR_ARRAY_IDX(m->ca_urls, i, const char *);
        int e;
        for (e = 0; e < (m->eab ? 2 : 1); ++e) { /* with EAB: accounts with and without it */
            acct = load_json(m, ACME_GROUP_ACCOUNTS,
                             acme_account_entry_name(p, ca, e ? m->eab->kid : NULL),
                             "account.json", p);
            if (acct && acme_json_str(acct, "url")) {
                APR_ARRAY_PUSH(account_urls, const char *) = acme_json_str(acct, "url");
            }
        }
    }
    acme_blocked_load(&blocked, p, m->store);
    for (i = 0; i < m->certs->nelts; ++i) {
        mod_acme_managed_t *mc = APR_ARRAY_IDX(m->certs, i, mod_acme_managed_t *);
        if (mc->used_by_tls) {
            view_cert(apr_array_push(views), m, mc, account_urls, blocked, p);
        }
    }
    return views;
}

static void view_driver(driver_view_t *d, mod_acme_gen_t *m, apr_pool_t *p)
{
    acme_counters_t *c;
    memset(d, 0, sizeof(*d));
    if (!m || !m->store_ok || acme_counters_load(&c, p, m->store) != APR_SUCCESS) {
        return;
    }
    d->present = 1;
    d->attempts = c->attempts;
    d->staged = c->staged;
    d->failed = c->failed;
    d->requests = c->acme_requests;
    d->last_run = c->last_run;
}

static const char *rfc3339_or(apr_pool_t *p, apr_time_t t, const char *none)
{
    return t ? acme_time_rfc3339(p, t) : none;
}

static apr_int64_t epoch(apr_time_t t)
{
    return (apr_int64_t)apr_time_sec(t);
}

/* ---- server-status ------------------------------------------------------------------- */

static void status_auto(request_rec *r, apr_array_header_t *views, const driver_view_t *d)
{
    int i, k;
    for (i = 0; i < views->nelts; ++i) {
        const cert_view_t *v = &APR_ARRAY_IDX(views, i, cert_view_t);
        const char *id = v->mc->id;
        ap_rprintf(r, "ACMECertificate.%s.names: %s\n", id,
                   acme_names_join(r->pool, v->mc->names, ","));
        ap_rprintf(r, "ACMECertificate.%s.key: %s\n", id, v->key);
        ap_rprintf(r, "ACMECertificate.%s.ca: %s\n", id, v->ca);
        if (v->profile) {
            ap_rprintf(r, "ACMECertificate.%s.profile: %s\n", id, v->profile);
            ap_rprintf(r, "ACMECertificate.%s.profile_fallback: %d\n", id, v->profile_fallback);
        }
        if (v->next_ca) {
            ap_rprintf(r, "ACMECertificate.%s.next_ca: %s\n", id, v->next_ca);
        }
        ap_rprintf(r, "ACMECertificate.%s.state: %s\n", id, state_names[v->state]);
        if (v->have_live) {
            ap_rprintf(r, "ACMECertificate.%s.not_before: %" APR_INT64_T_FMT "\n", id,
                       epoch(v->valid_from));
            ap_rprintf(r, "ACMECertificate.%s.not_after: %" APR_INT64_T_FMT "\n", id,
                       epoch(v->valid_until));
            if (v->serial) {
                ap_rprintf(r, "ACMECertificate.%s.serial: %s\n", id, v->serial);
            }
        }
        if (v->chain_top) {
            ap_rprintf(r, "ACMECertificate.%s.chain: %s\n", id, v->chain_top);
        }
        if (v->chain_warning) {
            ap_rprintf(r, "ACMECertificate.%s.chain_warning: %s\n", id, v->chain_warning);
        }
        ap_rprintf(r, "ACMECertificate.%s.next_action: %s\n", id, v->action);
        if (v->when) {
            ap_rprintf(r, "ACMECertificate.%s.next_action_at: %" APR_INT64_T_FMT "\n", id,
                       epoch(v->when));
        }
        ap_rprintf(r, "ACMECertificate.%s.next_action_reason: %s\n", id, v->reason);
        ap_rprintf(r, "ACMECertificate.%s.failures: %d\n", id, v->failures);
        ap_rprintf(r, "ACMECertificate.%s.renewal_requested: %d\n", id, v->renew_requested != 0);
        if (v->ari.ari_end) {
            ap_rprintf(r, "ACMECertificate.%s.ari_window_start: %" APR_INT64_T_FMT "\n", id,
                       epoch(v->ari.ari_start));
            ap_rprintf(r, "ACMECertificate.%s.ari_window_end: %" APR_INT64_T_FMT "\n", id,
                       epoch(v->ari.ari_end));
        }
        if (v->failures > 0) {
            if (v->err_type) {
                ap_rprintf(r, "ACMECertificate.%s.last_error_type: %s\n", id, v->err_type);
            }
            ap_rprintf(r, "ACMECertificate.%s.last_error_detail: %s\n", id,
                       v->err_detail ? v->err_detail : "");
            if (v->err_hint) {
                ap_rprintf(r, "ACMECertificate.%s.last_error_hint: %s\n", id, v->err_hint);
            }
            ap_rprintf(r, "ACMECertificate.%s.last_error_at: %" APR_INT64_T_FMT "\n", id,
                       epoch(v->err_at));
        }
        for (k = 0; v->persist && k < v->persist->records->nelts; ++k) {
            const acme_persist_record_t *rec = &APR_ARRAY_IDX(v->persist->records, k,
                                                              acme_persist_record_t);
            ap_rprintf(r, "ACMECertificate.%s.dns_persist.%s: %s\n", id, rec->name, rec->value);
        }
        ap_rprintf(r, "ACMECertificate.%s.staged: %d\n", id, v->staged);
        ap_rprintf(r, "ACMECertificate.%s.activation_blocked: %d\n", id, v->blocked != NULL);
    }
    if (d->present) {
        ap_rprintf(r, "ACMEOrders: %" APR_INT64_T_FMT "\n", d->attempts);
        ap_rprintf(r, "ACMEOrderFailures: %" APR_INT64_T_FMT "\n", d->failed);
        ap_rprintf(r, "ACMERequests: %" APR_INT64_T_FMT "\n", d->requests);
    }
}

/* The HTML CA cell: the CA (by name when known), the root its chain leads to, a preferred
 * chain not met, and with several CAs the one the next attempt uses. */
static const char *ca_cell(apr_pool_t *p, const cert_view_t *v)
{
    return apr_pstrcat(p, acme_ca_label(p, v->ca),
                       v->chain_top ? ", chain to " : "", v->chain_top ? v->chain_top : "",
                       v->chain_warning ? ". Warning: " : "",
                       v->chain_warning ? v->chain_warning : "",
                       v->next_ca ? "; next attempt: " : "",
                       v->next_ca ? acme_ca_label(p, v->next_ca) : "", NULL);
}

static const char *esc(request_rec *r, const char *s)
{
    return ap_escape_html(r->pool, s ? s : "");
}

/* The dns-persist-01 records to publish, exactly (zone-file form). */
static void status_html_persist(request_rec *r, apr_array_header_t *views)
{
    int i, k, head = 0;
    for (i = 0; i < views->nelts; ++i) {
        const cert_view_t *v = &APR_ARRAY_IDX(views, i, cert_view_t);
        for (k = 0; v->persist && k < v->persist->records->nelts; ++k) {
            const acme_persist_record_t *rec = &APR_ARRAY_IDX(v->persist->records, k,
                                                              acme_persist_record_t);
            if (!head++) {
                ap_rputs("<h3>dns-persist-01 records to publish</h3>\n"
                         "<table border=\"1\" class=\"acme-dns-persist\">\n<tr>"
                         "<th>Certificate</th><th>Record</th></tr>\n", r);
            }
            ap_rprintf(r, "<tr><td>%s</td><td><code>%s</code></td></tr>\n", esc(r, v->mc->id),
                       esc(r, acme_persist_zone_line(r->pool, rec)));
        }
    }
    if (head) {
        ap_rputs("</table>\n", r);
    }
}

static void status_html(request_rec *r, apr_array_header_t *views, const driver_view_t *d)
{
    apr_pool_t *p = r->pool;
    int i;

    ap_rputs("<hr>\n<h2>ACME certificates</h2>\n"
             "<table border=\"1\" class=\"acme-certificates\">\n<tr><th>Certificate</th>"
             "<th>Names</th><th>Key</th><th>Profile</th><th>CA</th><th>State</th><th>Valid from</th>"
             "<th>Valid until</th><th>Serial</th><th>Next action</th><th>Last error</th></tr>\n",
             r);
    for (i = 0; i < views->nelts; ++i) {
        const cert_view_t *v = &APR_ARRAY_IDX(views, i, cert_view_t);
        ap_rprintf(r, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
                   "<td>%s</td><td>%s</td><td>%s</td>",
                   esc(r, v->mc->id), esc(r, acme_names_join(p, v->mc->names, " ")),
                   esc(r, v->key),
                   v->profile ? esc(r, acme_profile_describe(p, v->profile,
                                                             v->profile_fallback)) : "-",
                   esc(r, ca_cell(p, v)), state_names[v->state],
                   esc(r, rfc3339_or(p, v->valid_from, "-")),
                   esc(r, rfc3339_or(p, v->valid_until, "-")), esc(r, v->serial ? v->serial : "-"));
        ap_rprintf(r, "<td>%s %s<br>%s%s%s%s%s</td>", esc(r, v->action),
                   esc(r, rfc3339_or(p, v->when, "")), esc(r, v->reason),
                   v->renew_requested ? "<br>renewal requested at " : "",
                   v->renew_requested ? esc(r, rfc3339_or(p, v->renew_requested, "")) : "",
                   v->ari.ari_end ? "<br>CA's renewal window (ARI): " : "",
                   v->ari.ari_end ? esc(r, apr_pstrcat(p, rfc3339_or(p, v->ari.ari_start, "?"),
                                                       " to ", rfc3339_or(p, v->ari.ari_end, "?"),
                                                       NULL))
                              : "");
        if (v->failures > 0) {
            ap_rprintf(r, "<td>%s: %s%s%s<br>at %s (failure %d)</td></tr>\n",
                       esc(r, v->err_type ? v->err_type : "error"), esc(r, v->err_detail),
                       v->err_hint ? "<br>" : "", v->err_hint ? esc(r, v->err_hint) : "",
                       esc(r, rfc3339_or(p, v->err_at, "?")), v->failures);
        }
        else {
            ap_rputs("<td>-</td></tr>\n", r);
        }
    }
    ap_rputs("</table>\n", r);
    status_html_persist(r, views);
    if (d->present) {
        ap_rprintf(r, "<p>ACME orders: %" APR_INT64_T_FMT ", failed: %" APR_INT64_T_FMT
                   ", ACME requests: %" APR_INT64_T_FMT ", last run: %s</p>\n",
                   d->attempts, d->failed, d->requests,
                   esc(r, rfc3339_or(p, d->last_run, "-")));
    }
}

/* Fleet mode: the snapshot the watchdog writes each second (orders/_fleet/fleet.json);
 * a status request never asks the database. NULL outside fleet mode or before the first. */
static json_t *fleet_snapshot(mod_acme_gen_t *m, apr_pool_t *p)
{
    return m->fleet_conninfo ? load_json(m, ACME_GROUP_ORDERS, ACME_FLEET_SNAPSHOT_ENTRY,
                                         ACME_FLEET_SNAPSHOT, p)
                             : NULL;
}

static const char *json_text(const json_t *o, const char *key)
{
    const char *v = acme_json_str(o, key);
    return v ? v : "-";
}

static void status_fleet(request_rec *r, mod_acme_gen_t *m, int flags)
{
    json_t *f = fleet_snapshot(m, r->pool), *db, *a;
    size_t i;
    int reachable, live = 0;

    if (!m->fleet_conninfo) {
        return;
    }
    db = f ? acme_json_obj(f, "database") : NULL;
    reachable = db && json_is_true(json_object_get(db, "reachable"));
    for (i = 0; f && (a = acme_json_arr(f, "nodes")) && i < json_array_size(a); ++i) {
        live += json_is_true(json_object_get(json_array_get(a, i), "live"));
    }
    if (flags & AP_STATUS_SHORT) {
        ap_rprintf(r, "ACMEFleetNode: %s\nACMEFleetDatabase: %s\nACMEFleetNodesLive: %d\n",
                   m->fleet_node ? m->fleet_node : "-",
                   !f ? "unknown" : reachable ? "reachable" : "unreachable", live);
        return;
    }
    ap_rprintf(r, "<h3>ACME fleet</h3>\n<p>This node: %s. Database: %s%s%s%s%s (as of %s)</p>\n",
               esc(r, m->fleet_node ? m->fleet_node : "-"),
               !f ? "no snapshot yet" : reachable ? "reachable" : "UNREACHABLE since ",
               f && !reachable ? esc(r, json_text(db, "since")) : "",
               f && !reachable ? " (" : "", f && !reachable ? esc(r, json_text(db, "error")) : "",
               f && !reachable ? "); serving the local copy" : "",
               f ? esc(r, json_text(f, "updated")) : "-");
    if (!f) {
        return;
    }
    ap_rputs("<table border=\"1\" class=\"acme-fleet-nodes\">\n<tr><th>Node</th><th>Live</th>"
             "<th>Last heartbeat</th><th>Started</th><th>Activated at its start</th></tr>\n", r);
    for (i = 0; (a = acme_json_arr(f, "nodes")) && i < json_array_size(a); ++i) {
        json_t *n = json_array_get(a, i), *info = acme_json_obj(n, "info");
        json_t *act = info ? acme_json_arr(info, "activated") : NULL;
        const char *ids = "";
        size_t k;
        for (k = 0; act && k < json_array_size(act); ++k) {
            ids = apr_pstrcat(r->pool, ids, k ? " " : "",
                              json_string_value(json_array_get(act, k)), NULL);
        }
        ap_rprintf(r, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
                   esc(r, json_text(n, "node")),
                   json_is_true(json_object_get(n, "live")) ? "yes" : "no",
                   esc(r, json_text(n, "last_beat")), esc(r, info ? json_text(info, "started")
                                                          : "-"),
                   *ids ? esc(r, ids) : "-");
    }
    ap_rputs("</table>\n<table border=\"1\" class=\"acme-fleet-leases\">\n<tr><th>Lease</th>"
             "<th>Held by</th><th>Until</th></tr>\n", r);
    for (i = 0; (a = acme_json_arr(f, "leases")) && i < json_array_size(a); ++i) {
        json_t *l = json_array_get(a, i);
        ap_rprintf(r, "<tr><td>%s</td><td>%s</td><td>%s</td></tr>\n",
                   esc(r, json_text(l, "name")), esc(r, json_text(l, "owner")),
                   esc(r, json_text(l, "expires")));
    }
    ap_rputs("</table>\n", r);
}

int mod_acme_status_hook(request_rec *r, int flags)
{
    mod_acme_gen_t *m = mod_acme_gen;
    apr_array_header_t *views;
    driver_view_t d;

    if (!has_certs(m)) {
        return OK;
    }
    views = view_all(m, r->pool);
    view_driver(&d, m, r->pool);
    if (flags & AP_STATUS_SHORT) {
        status_auto(r, views, &d);
    }
    else {
        status_html(r, views, &d);
    }
    status_fleet(r, m, flags);
    return OK;
}

/* ---- acme-status: JSON --------------------------------------------------------------- */

static json_t *json_time(apr_pool_t *p, apr_time_t t)
{
    return t ? json_string(acme_time_rfc3339(p, t)) : json_null();
}

/* {"top_issuer", "preferred", "warning"}: which root the live chain leads to. */
static json_t *chain_json(const cert_view_t *v)
{
    json_t *c = json_object();
    const char *pref = v->mc->spec.cert.preferred_chain;
    json_object_set_new(c, "top_issuer", v->chain_top ? json_string(v->chain_top) : json_null());
    json_object_set_new(c, "preferred", pref ? json_string(pref) : json_null());
    json_object_set_new(c, "warning", v->chain_warning ? json_string(v->chain_warning)
                                                       : json_null());
    return c;
}

static json_t *cert_json(const cert_view_t *v, apr_pool_t *p)
{
    json_t *c = json_object(), *names = json_array(), *next = json_object();
    int i;

    for (i = 0; i < v->mc->names->nelts; ++i) {
        json_array_append_new(names, json_string(APR_ARRAY_IDX(v->mc->names, i, const char *)));
    }
    json_object_set_new(c, "id", json_string(v->mc->id));
    json_object_set_new(c, "names", names);
    json_object_set_new(c, "key", json_string(v->key));
    json_object_set_new(c, "ca", json_string(v->ca));
    json_object_set_new(c, "profile", v->profile ? json_string(v->profile) : json_null());
    json_object_set_new(c, "profile_fallback", json_boolean(v->profile_fallback));
    json_object_set_new(c, "state", json_string(state_names[v->state]));
    json_object_set_new(c, "valid_from", json_time(p, v->valid_from));
    json_object_set_new(c, "valid_until", json_time(p, v->valid_until));
    json_object_set_new(c, "serial", v->serial ? json_string(v->serial) : json_null());
    json_object_set_new(next, "action", json_string(v->action));
    json_object_set_new(next, "when", json_time(p, v->when));
    json_object_set_new(next, "reason", json_string(v->reason));
    if (v->next_ca) {
        json_object_set_new(next, "ca", json_string(v->next_ca));
    }
    json_object_set_new(c, "next_action", next);
    json_object_set_new(c, "renewal_requested", json_time(p, v->renew_requested));
    json_object_set_new(c, "ari_window", acme_plan_ari_json(&v->ari, p));
    if (v->failures > 0) {
        json_t *e = json_object();
        json_object_set_new(e, "type", v->err_type ? json_string(v->err_type) : json_null());
        json_object_set_new(e, "detail", json_string(v->err_detail ? v->err_detail : ""));
        json_object_set_new(e, "hint", v->err_hint ? json_string(v->err_hint) : json_null());
        json_object_set_new(e, "at", json_time(p, v->err_at));
        json_object_set_new(c, "last_error", e);
    }
    else {
        json_object_set_new(c, "last_error", json_null());
    }
    json_object_set_new(c, "failures", json_integer(v->failures));
    json_object_set_new(c, "staged", json_boolean(v->staged));
    json_object_set_new(c, "activation_blocked", acme_blocked_json(v->blocked, p));
    json_object_set_new(c, "chain", chain_json(v));
    json_object_set_new(c, "dns_persist_records", acme_persist_json(p, v->persist));
    return c;
}

static int send_json(request_rec *r, int status, json_t *j)
{
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (!text) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    r->status = status;
    ap_set_content_type(r, "application/json");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (!r->header_only) {
        ap_rputs(text, r);
        ap_rputs("\n", r);
    }
    free(text);
    return OK;
}

static int send_json_error(request_rec *r, int status, const char *msg)
{
    json_t *j = json_object();
    json_object_set_new(j, "version", json_integer(STATUS_JSON_VERSION));
    json_object_set_new(j, "error", json_string(msg));
    return send_json(r, status, j);
}

static int name_matches(const mod_acme_managed_t *mc, const char *name)
{
    int i;
    if (!strcasecmp(mc->id, name)) {
        return 1;
    }
    for (i = 0; i < mc->names->nelts; ++i) {
        if (!strcasecmp(APR_ARRAY_IDX(mc->names, i, const char *), name)) {
            return 1;
        }
    }
    return 0;
}

/* ".../acme-status" or ".../acme-status/": all (*pname NULL); ".../acme-status/NAME": one.
 * Anything else: 0. */
static int parse_status_path(const char **pname, apr_pool_t *p, const char *uri)
{
    apr_size_t n = strlen(uri), seg = strlen(STATUS_SEGMENT);
    const char *slash;

    *pname = NULL;
    while (n > 1 && uri[n - 1] == '/') {
        --n;
    }
    uri = apr_pstrmemdup(p, uri, n);
    if (n >= seg + 1 && !strcmp(uri + n - seg, STATUS_SEGMENT) && uri[n - seg - 1] == '/') {
        return 1;
    }
    slash = strrchr(uri, '/');
    if (!slash || slash == uri || !slash[1]) {
        return 0;
    }
    if ((apr_size_t)(slash - uri) >= seg + 1 && !strncmp(slash - seg, STATUS_SEGMENT, seg)
        && slash[-(long)seg - 1] == '/') {
        *pname = slash + 1;
        return 1;
    }
    return 0;
}

static int status_json_handler(request_rec *r)
{
    mod_acme_gen_t *m = mod_acme_gen;
    apr_array_header_t *views;
    driver_view_t d;
    const char *name;
    json_t *j, *certs;
    int i, found = 0;

    if (!parse_status_path(&name, r->pool, r->uri)) {
        return send_json_error(r, HTTP_NOT_FOUND,
                               "not a status path: use .../acme-status or .../acme-status/NAME");
    }
    views = view_all(m, r->pool);
    view_driver(&d, m, r->pool);
    j = json_object();
    certs = json_array();
    json_object_set_new(j, "version", json_integer(STATUS_JSON_VERSION));
    for (i = 0; i < views->nelts; ++i) {
        const cert_view_t *v = &APR_ARRAY_IDX(views, i, cert_view_t);
        if (!name || name_matches(v->mc, name)) {
            json_array_append_new(certs, cert_json(v, r->pool));
            found++;
        }
    }
    if (name && !found) {
        json_decref(certs);
        json_decref(j);
        return send_json_error(r, HTTP_NOT_FOUND,
                               apr_psprintf(r->pool, "no managed certificate is named %s",
                                            name));
    }
    json_object_set_new(j, "certificates", certs);
    {
        json_t *dj = json_object();
        json_object_set_new(dj, "attempts", json_integer(d.attempts));
        json_object_set_new(dj, "staged", json_integer(d.staged));
        json_object_set_new(dj, "failed", json_integer(d.failed));
        json_object_set_new(dj, "acme_requests", json_integer(d.requests));
        json_object_set_new(dj, "last_run", json_time(r->pool, d.last_run));
        json_object_set_new(j, "driver", dj);
    }
    if (m && m->fleet_conninfo) { /* the fleet snapshot, null before the first */
        json_t *f = fleet_snapshot(m, r->pool);
        json_object_set(j, "fleet", f ? f : json_null());
    }
    return send_json(r, HTTP_OK, j);
}

/* ---- acme-metrics: Prometheus text format 0.0.4 ------------------------------------- */

/* Label values: backslash, double quote and line feed escaped. */
static const char *prom_label(apr_pool_t *p, const char *s)
{
    apr_size_t n = 0;
    const char *c;
    char *out, *o;
    for (c = s; *c; ++c) {
        n += (*c == '\\' || *c == '"' || *c == '\n') ? 2 : 1;
    }
    o = out = apr_palloc(p, n + 1);
    for (c = s; *c; ++c) {
        if (*c == '\\' || *c == '"') {
            *o++ = '\\';
            *o++ = *c;
        }
        else if (*c == '\n') {
            *o++ = '\\';
            *o++ = 'n';
        }
        else {
            *o++ = *c;
        }
    }
    *o = '\0';
    return out;
}

static void prom_head(request_rec *r, const char *name, const char *type, const char *help)
{
    ap_rprintf(r, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

typedef enum {
    PM_NOT_AFTER, PM_NOT_BEFORE, PM_NEXT, PM_LAST_SUCCESS, PM_FAILURES
} prom_metric_t;

static void prom_cert_gauge(request_rec *r, apr_array_header_t *views, prom_metric_t which,
                            const char *name, const char *help)
{
    int i;
    prom_head(r, name, "gauge", help);
    for (i = 0; i < views->nelts; ++i) {
        const cert_view_t *v = &APR_ARRAY_IDX(views, i, cert_view_t);
        apr_int64_t value;
        switch (which) {
        case PM_NOT_AFTER:
            if (!v->have_live) continue;
            value = epoch(v->valid_until);
            break;
        case PM_NOT_BEFORE:
            if (!v->have_live) continue;
            value = epoch(v->valid_from);
            break;
        case PM_NEXT:
            if (!v->when) continue;
            value = epoch(v->when);
            break;
        case PM_LAST_SUCCESS:
            if (!v->last_success) continue;
            value = epoch(v->last_success);
            break;
        default:
            value = v->failures;
            break;
        }
        ap_rprintf(r, "%s{name=\"%s\",key=\"%s\"} %" APR_INT64_T_FMT "\n", name,
                   prom_label(r->pool, v->mc->id), prom_label(r->pool, v->key), value);
    }
}

static int metrics_handler(request_rec *r)
{
    mod_acme_gen_t *m = mod_acme_gen;
    apr_array_header_t *views = view_all(m, r->pool);
    driver_view_t d;
    int i, k;

    view_driver(&d, m, r->pool);
    ap_set_content_type(r, "text/plain; version=0.0.4; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (r->header_only) {
        return OK;
    }
    prom_cert_gauge(r, views, PM_NOT_AFTER, "acme_certificate_not_after_seconds",
                    "Expiry (notAfter) of the certificate being served, Unix time.");
    prom_cert_gauge(r, views, PM_NOT_BEFORE, "acme_certificate_not_before_seconds",
                    "Start of validity (notBefore) of the certificate being served, Unix time.");
    prom_cert_gauge(r, views, PM_NEXT, "acme_certificate_next_renewal_seconds",
                    "When mod_acme next obtains, renews or retries the certificate, Unix time.");
    prom_cert_gauge(r, views, PM_LAST_SUCCESS, "acme_certificate_last_success_seconds",
                    "When the certificate being served was obtained, Unix time.");
    prom_cert_gauge(r, views, PM_FAILURES, "acme_certificate_consecutive_failures",
                    "Failed attempts to obtain the certificate since the last success.");
    prom_head(r, "acme_certificate_state", "gauge",
              "1 for the state the certificate is in (obtaining, valid, renewing, error).");
    for (i = 0; i < views->nelts; ++i) {
        const cert_view_t *v = &APR_ARRAY_IDX(views, i, cert_view_t);
        for (k = 0; k < ST_COUNT; ++k) {
            ap_rprintf(r, "acme_certificate_state{name=\"%s\",state=\"%s\"} %d\n",
                       prom_label(r->pool, v->mc->id), state_names[k], (int)v->state == k);
        }
    }
    prom_head(r, "acme_certificate_activation_blocked", "gauge",
              "1 while a staged certificate waits because the configuration does not pass "
              "the configtest.");
    for (i = 0; i < views->nelts; ++i) {
        const cert_view_t *v = &APR_ARRAY_IDX(views, i, cert_view_t);
        ap_rprintf(r, "acme_certificate_activation_blocked{name=\"%s\"} %d\n",
                   prom_label(r->pool, v->mc->id), v->blocked != NULL);
    }
    prom_head(r, "acme_orders_total", "counter", "Attempts to obtain a certificate.");
    ap_rprintf(r, "acme_orders_total %" APR_INT64_T_FMT "\n", d.attempts);
    prom_head(r, "acme_order_failures_total", "counter",
              "Attempts to obtain a certificate that failed.");
    ap_rprintf(r, "acme_order_failures_total %" APR_INT64_T_FMT "\n", d.failed);
    prom_head(r, "acme_requests_total", "counter", "HTTP requests sent to the ACME CA.");
    ap_rprintf(r, "acme_requests_total %" APR_INT64_T_FMT "\n", d.requests);
    return OK;
}

/* ---- the handler hook ---------------------------------------------------------------- */

int mod_acme_status_handler(request_rec *r)
{
    int is_status;

    /* every request passes here: most handlers (a content type) differ at the first byte
     * from both of ours ("acme-") */
    if (!r->handler || r->handler[0] != STATUS_HANDLER[0]) {
        return DECLINED;
    }
    is_status = !strcmp(r->handler, STATUS_HANDLER);
    if (!is_status && strcmp(r->handler, METRICS_HANDLER)) {
        return DECLINED;
    }
    r->allowed = (AP_METHOD_BIT << M_GET);
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    return is_status ? status_json_handler(r) : metrics_handler(r);
}
