/* The resumable order state machine (RFC 8555 7.4, 7.5):
 *
 *   [orders/<id>/order.json present and matching] -- POST-as-GET order --+
 *   newOrder ------------------------------------------------------------+
 *        |
 *   pending    -> each authorization: http-01 published, challenge POSTed, authz polled
 *   ready      -> certificate key (sealed into orders/<id>/key.sealed first), finalize
 *   processing -> poll the order
 *   valid      -> download, verify, stage (staging/<id>/...), drop orders/<id>
 *   invalid    -> fail, drop orders/<id> (a new order next time)
 *
 * Everything a run needs lives in run_t, allocated from a run pool: several runs may use one
 * client from different threads at once. */
#include <string.h>

#include <apr_strings.h>

#include "acme_driver.h"
#include "acme_cert.h"
#include "acme_chains.h"
#include "acme_keyreuse.h"
#include "acme_verify.h"
#include "acme_ident.h"
#include "acme_json.h"
#include "acme_jws.h"
#include "acme_log.h"
#include "acme_profile.h"
#include "acme_state.h"
#include "acme_util.h"

#define ORDER_STATE      "order.json"
#define ASPECT_KEY       "key.sealed"
#define ASPECT_CHAIN     "chain.pem"
#define CT_PEM_CHAIN     "application/pem-certificate-chain"

#define POLL_TIMEOUT_DEFAULT apr_time_from_sec(300)
/* Without a Retry-After, the first poll comes 50 ms after the challenge POST or finalize
 * and the delay doubles up to 2 s: a CA that validates in milliseconds (pebble, a private
 * CA on the LAN) is seen done within 50-150 ms, one that takes seconds (Let's Encrypt's
 * multi-perspective validation) is asked about 7 times in its first 5 s, then every 2 s.
 * A Retry-After always wins (docs/DESIGN.md). */
#define POLL_DEFAULT         apr_time_from_msec(50)
#define POLL_MAX_DELAY       apr_time_from_sec(2)    /* doubling stops here */
#define RETRY_AFTER_CAP      apr_time_from_sec(60)   /* one wait never longer */
#define MAX_STEPS            12                      /* state transitions per run */

typedef struct run_t {
    const acme_driver_env_t *env;
    const acme_cert_spec_t *spec;
    acme_client_t *c;
    acme_store_t *st;
    apr_pool_t *p;                 /* the run pool */
    acme_result_t *res;
    acme_challenge_env_t chenv;    /* what the challenge providers need */
    acme_key_t *account_key;
    const char *order_url;
    json_t *order;                 /* last order object seen */
    acme_key_t *cert_key;
    const char *cert_key_sealed;   /* as in orders/<id>/key.sealed */
    apr_size_t cert_key_sealed_len;
    apr_time_t retry_after;        /* Retry-After of the last answer (absolute), 0 none */
    apr_time_t retry_base;         /* when that answer arrived */
    int drop_order;                /* the order cannot be resumed: remove its state */
    int profile_fallback;          /* spec->profile not offered: the CA's default is used */
    acme_persist_t *persist;       /* dns-persist-01 records (orders/<id>/persist.json) */
} run_t;

/* ------------------------------------------------------------------ helpers */

/* Copy the strings of res into p (they may live in a pool about to be destroyed). */
static void res_keep(acme_result_t *res, apr_pool_t *p)
{
    if (res->detail) {
        res->detail = apr_pstrdup(p, res->detail);
    }
    if (res->problem_type) {
        res->problem_type = apr_pstrdup(p, res->problem_type);
    }
    if (res->subject) {
        res->subject = apr_pstrdup(p, res->subject);
    }
}

static void note_retry_after(run_t *r, const acme_response_t *resp)
{
    apr_time_t now = apr_time_now();
    r->retry_base = now;
    r->retry_after = resp && resp->headers
                         ? acme_retry_after_parse(apr_table_get(resp->headers, "Retry-After"), now)
                         : 0;
}

static int stopping(const run_t *r)
{
    return r->env->stop && *r->env->stop;
}

/* With env->stop, in slices: a stop (the server's restart) ends the wait at once, and no
 * wait begins once it is set. */
static void do_sleep(run_t *r, apr_interval_time_t t)
{
    const apr_interval_time_t slice = apr_time_from_msec(50);
    apr_time_t until;

    if (t <= 0 || stopping(r)) {
        return;
    }
    if (r->env->sleep) {
        r->env->sleep(r->env->sleep_baton, t);
        return;
    }
    if (!r->env->stop) {
        apr_sleep(t);
        return;
    }
    for (until = apr_time_now() + t; !*r->env->stop && apr_time_now() < until;) {
        apr_interval_time_t left = until - apr_time_now();
        apr_sleep(left < slice ? left : slice);
    }
}

static const char *json_status(const json_t *j)
{
    return j ? acme_json_str(j, "status") : NULL;
}

static int str_is(const char *s, const char *want)
{
    return s && !strcmp(s, want);
}

/* Keep a reference to j in pool p (j may belong to a pool about to be destroyed). */
static json_t *json_keep(apr_pool_t *p, json_t *j)
{
    return j ? acme_json_pool(p, json_incref(j)) : NULL;
}

static json_t *names_json(const apr_array_header_t *names)
{
    json_t *arr = json_array();
    int i;
    for (i = 0; i < names->nelts; ++i) {
        json_array_append_new(arr, json_string(APR_ARRAY_IDX(names, i, const char *)));
    }
    return arr;
}

/* POST-as-GET url into pool p, recording Retry-After. */
static apr_status_t fetch(json_t **pjson, acme_response_t **presp, run_t *r, apr_pool_t *p,
                          const char *url, const char *what)
{
    acme_response_t *resp = NULL;
    apr_status_t rv;

    *pjson = NULL;
    rv = acme_client_post(&resp, r->c, p, url, NULL, 0, r->res);
    if (presp) {
        *presp = resp;
    }
    note_retry_after(r, resp);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (!resp->json || !json_is_object(resp->json)) {
        return acme_result_set(r->res, p, ACME_EPROTO, "the %s at %s is %s", what, url,
                               acme_response_body_str(p, resp));
    }
    *pjson = resp->json;
    return APR_SUCCESS;
}

/* Wait, then POST-as-GET url until its status is neither wait1 nor wait2. The first wait
 * honours the Retry-After of the answer that came before. */
static apr_status_t poll_until(json_t **pjson, run_t *r, const char *url, const char *what,
                               const char *wait1, const char *wait2)
{
    const acme_driver_env_t *env = r->env;
    apr_interval_time_t timeout = env->poll_timeout > 0 ? env->poll_timeout
                                                        : POLL_TIMEOUT_DEFAULT;
    apr_interval_time_t delay = env->poll_default > 0 ? env->poll_default : POLL_DEFAULT;
    apr_interval_time_t waited = 0, w, elapsed;
    apr_time_t start = apr_time_now();
    apr_pool_t *sp = NULL;
    json_t *j = NULL;
    const char *status = NULL;
    apr_status_t rv = APR_SUCCESS;

    *pjson = NULL;
    apr_pool_create(&sp, r->p);
    for (;;) {
        if (r->retry_after > 0) {
            w = r->retry_after - r->retry_base;
            if (w > RETRY_AFTER_CAP) {
                w = RETRY_AFTER_CAP;
            }
            if (w < 0) {
                w = 0;
            }
        }
        else {
            w = delay;
            delay = delay * 2 > POLL_MAX_DELAY ? POLL_MAX_DELAY : delay * 2;
            if (delay < w) {
                delay = w;   /* a poll_default above the cap stays as it is */
            }
        }
        elapsed = apr_time_now() - start;
        if (waited > elapsed) {
            elapsed = waited;
        }
        if (elapsed + w > timeout) {
            rv = acme_result_set(r->res, r->p, ACME_EAGAIN,
                                 "the %s at %s is still %s after %s: the next run resumes it",
                                 what, url, status ? status : wait1,
                                 acme_duration_print(r->p, elapsed));
            r->res->retry_after = r->retry_after;
            goto leave;
        }
        do_sleep(r, w);
        if (stopping(r)) {
            rv = acme_result_set(r->res, r->p, ACME_EINTERRUPTED, "waiting for the %s at %s: "
                                 "the server stops or restarts, the next start resumes the "
                                 "order", what, url);
            goto leave;
        }
        waited += w;
        apr_pool_clear(sp);
        rv = fetch(&j, NULL, r, sp, url, what);
        if (rv != APR_SUCCESS) {
            res_keep(r->res, r->p);
            goto leave;
        }
        status = json_status(j);
        if (!str_is(status, wait1) && !(wait2 && str_is(status, wait2))) {
            *pjson = json_keep(r->p, j);
            goto leave;
        }
        status = apr_pstrdup(r->p, status);
    }
leave:
    apr_pool_destroy(sp);
    return rv;
}

static const char *authz_ident(apr_pool_t *p, const json_t *authz)
{
    const json_t *ident = acme_json_obj(authz, "identifier");
    const char *value = ident ? acme_json_str(ident, "value") : NULL;
    const json_t *wc = json_object_get(authz, "wildcard");
    if (!value) {
        return "(unknown identifier)";
    }
    return json_is_true(wc) ? apr_pstrcat(p, "*.", value, NULL) : apr_pstrdup(p, value);
}

/* An authorization ended invalid (or in another final state): say why, from the error of
 * its challenge (http-01 first) or of fallback (the answer to the challenge POST). */
static apr_status_t authz_failed(run_t *r, const json_t *authz, const json_t *fallback)
{
    const char *ident = authz_ident(r->p, authz);
    const json_t *chs = acme_json_arr(authz, "challenges");
    const json_t *err = NULL;
    size_t i;

    for (i = 0; chs && i < json_array_size(chs); ++i) {
        const json_t *ch = json_array_get(chs, i);
        const json_t *e = acme_json_obj(ch, "error");
        if (e && (!err || str_is(acme_json_str(ch, "type"), "http-01"))) {
            err = e;
        }
    }
    if (!err && fallback) {
        err = acme_json_obj(fallback, "error");
    }
    r->drop_order = 1;
    if (err) {
        const char *type = acme_json_str(err, "type");
        const char *detail = acme_json_str(err, "detail");
        acme_result_set(r->res, r->p, ACME_EINVALID, "authorization of %s is %s: %s%s%s",
                        ident, json_status(authz) ? json_status(authz) : "invalid",
                        type ? type : "", type ? ": " : "", detail ? detail : "(no detail)");
        r->res->problem_type = type ? apr_pstrdup(r->p, type) : NULL;
    }
    else {
        acme_result_set(r->res, r->p, ACME_EINVALID, "authorization of %s is %s (the CA gave "
                        "no reason)", ident,
                        json_status(authz) ? json_status(authz) : "invalid");
    }
    return ACME_EINVALID;
}

static const json_t *find_challenge(const json_t *authz, const char *type)
{
    const json_t *chs = acme_json_arr(authz, "challenges");
    size_t i;
    for (i = 0; chs && i < json_array_size(chs); ++i) {
        const json_t *ch = json_array_get(chs, i);
        if (json_is_object(ch) && str_is(acme_json_str(ch, "type"), type)) {
            return ch;
        }
    }
    return NULL;
}

static const char *offered_types(apr_pool_t *p, const json_t *authz)
{
    const json_t *chs = acme_json_arr(authz, "challenges");
    const char *s = NULL;
    size_t i;
    for (i = 0; chs && i < json_array_size(chs); ++i) {
        const char *t = acme_json_str(json_array_get(chs, i), "type");
        if (t) {
            s = s ? apr_pstrcat(p, s, ", ", t, NULL) : apr_pstrdup(p, t);
        }
    }
    return s ? s : "none";
}

/* ------------------------------------------------------------------ authorizations */

/* The challenge types this spec allows, preferred first. */
static const apr_array_header_t *allowed_types(run_t *r)
{
    if (r->spec->challenge_types && r->spec->challenge_types->nelts > 0) {
        return r->spec->challenge_types;
    }
    return acme_challenge_default_types();
}

/* Pick the first allowed type the CA offers whose provider can answer this identifier. */
static const json_t *choose_challenge(const char **ptype, run_t *r, const json_t *authz,
                                      apr_pool_t *p)
{
    const json_t *chs = acme_json_arr(authz, "challenges");
    apr_array_header_t *offered = apr_array_make(p, 4, sizeof(const char *));
    size_t i;

    const json_t *ident = acme_json_obj(authz, "identifier");
    const char *itype = ident ? acme_json_str(ident, "type") : NULL;
    int ip = itype && !strcmp(itype, ACME_IDENT_IP);

    for (i = 0; chs && i < json_array_size(chs); ++i) {
        const json_t *ch = json_array_get(chs, i);
        const char *t = json_is_object(ch) ? acme_json_str(ch, "type") : NULL;
        /* RFC 8738 section 7: an address is never validated through DNS */
        if (t && (!ip || acme_challenge_ip_ok(t))) {
            APR_ARRAY_PUSH(offered, const char *) = t;
        }
    }
    *ptype = acme_challenge_choose(allowed_types(r), offered,
                                   json_is_true(json_object_get(authz, "wildcard")),
                                   r->spec->dns_hook != NULL);
    return *ptype ? find_challenge(authz, *ptype) : NULL;
}

/* Publish the answer to a challenge through its provider (http-01 and tls-alpn-01 in the
 * store for the workers, dns-01 through the admin's hook); r->res says why it failed. */
static apr_status_t challenge_publish(run_t *r, const acme_challenge_t *ch, apr_pool_t *p)
{
    const acme_challenge_provider_t *prov = acme_challenge_provider(ch->type);
    if (!prov) {
        return acme_result_set(r->res, r->p, ACME_ENOCHALLENGE, "no provider for %s",
                               ch->type);
    }
    return prov->publish(&r->chenv, ch, p, r->res);
}

static void challenge_unpublish(run_t *r, const acme_challenge_t *ch, apr_pool_t *p)
{
    const acme_challenge_provider_t *prov = acme_challenge_provider(ch->type);
    if (prov) {
        prov->unpublish(&r->chenv, ch, p);
    }
}

/* An authorization found no longer pending (a resumed order) may still have a response a
 * process that ended published for it: its provider removes it, uncounted (its count went
 * with that process). */
static void forget_responses(run_t *r, const json_t *authz, apr_pool_t *p)
{
    const json_t *chs = acme_json_arr(authz, "challenges");
    const json_t *ident_obj = acme_json_obj(authz, "identifier");
    const char *ident = ident_obj ? acme_json_str(ident_obj, "value") : NULL;
    size_t i;

    for (i = 0; chs && i < json_array_size(chs); ++i) {
        const json_t *ch = json_array_get(chs, i);
        const acme_challenge_provider_t *prov;
        prov = acme_challenge_provider(acme_json_str(ch, "type"));
        if (prov && prov->forget) {
            prov->forget(&r->chenv, acme_json_str(ch, "token"), ident, p);
        }
    }
}

/* What answering challenge ch (of type, in authorization authz at url) takes: the token
 * and key authorization, or for dns-persist-01 (no token) the issuer domain and this
 * account's URL its standing record names. */
static apr_status_t challenge_answer(acme_challenge_t *answer, run_t *r, const json_t *authz,
                                     const json_t *ch, const char *type, const char *url,
                                     apr_pool_t *p)
{
    const char *token = acme_json_str(ch, "token");
    const json_t *issuers = acme_json_arr(ch, "issuer-domain-names");
    apr_status_t rv = APR_SUCCESS;

    memset(answer, 0, sizeof(*answer));
    answer->type = type;
    answer->wildcard = json_is_true(json_object_get(authz, "wildcard"));
    if (!strcmp(type, ACME_CHALLENGE_DNSPERSIST01) && acme_json_str(ch, "url")) {
        answer->issuer = issuers ? json_string_value(json_array_get(issuers, 0)) : NULL;
        answer->account_url = acme_client_account_url(r->c);
    }
    else if (!acme_challenge_token_valid(token) || !acme_json_str(ch, "url")) {
        rv = acme_result_set(r->res, r->p, ACME_EPROTO, "the %s challenge of %s has no "
                             "valid token or url", type, url);
    }
    else if ((rv = acme_key_authorization(&answer->key_auth, p, token, r->account_key))
             != APR_SUCCESS) {
        acme_result_set(r->res, r->p, rv, "computing the key authorization failed");
    }
    answer->token = token;
    return rv;
}

/* A failed dns-persist-01 validation: the outcome names the record the CA looked for, so
 * the status page and acmectl show it exactly. */
static void persist_hint(run_t *r, const acme_challenge_t *answer, apr_pool_t *p)
{
    const char *record = acme_dnspersist_record(p, answer);
    if (record && !strcmp(answer->type, ACME_CHALLENGE_DNSPERSIST01)) {
        r->res->detail = apr_pstrcat(r->p, r->res->detail ? r->res->detail : "failed",
                                     "; publish the DNS record ", record, NULL);
    }
}

/* A dns-persist-01 answer names the record exactly: keep it for the status page, acmectl
 * and configtest (it stays published for the renewals, so it outlives the order). */
static void persist_learn(run_t *r, const acme_challenge_t *answer, apr_pool_t *p)
{
    apr_status_t rv;
    if (strcmp(answer->type, ACME_CHALLENGE_DNSPERSIST01)
        || !acme_persist_set(r->persist, r->p, acme_dnspersist_name(p, answer),
                             acme_dnspersist_value(p, answer))) {
        return;
    }
    if ((rv = acme_persist_save(r->st, r->spec->id, r->persist, p)) != APR_SUCCESS) {
        acme_log(ACME_LOG_WARNING, rv, ACMELOGNO(00580) "certificate %s: saving the "
                 "dns-persist-01 record of %s failed (the status page will not show it)",
                 r->spec->id, answer->ident);
    }
}

/* The records of the names this certificate still validates with dns-persist-01 (none when
 * it no longer allows it), saved when that changed. */
static void persist_prepare(run_t *r)
{
    acme_persist_t *old = NULL;
    int dropped;
    apr_status_t rv = acme_persist_load(&old, r->p, r->st, r->spec->id);

    if (rv != APR_SUCCESS && !APR_STATUS_IS_ENOENT(rv)) {
        acme_log(ACME_LOG_WARNING, rv, ACMELOGNO(00581) "certificate %s: the saved "
                 "dns-persist-01 records are unreadable; they are learnt again at this order",
                 r->spec->id);
    }
    r->persist = old ? old : acme_persist_make(r->p);
    dropped = acme_names_contain(allowed_types(r), ACME_CHALLENGE_DNSPERSIST01)
              ? acme_persist_keep_names(r->persist, r->spec->names)
              : acme_persist_keep_names(r->persist, NULL);
    if (dropped > 0) {
        acme_log(ACME_LOG_INFO, APR_SUCCESS, ACMELOGNO(00582) "certificate %s: %d "
                 "dns-persist-01 record(s) no longer needed (the names or ACMEChallenges "
                 "changed); the TXT records may be removed from DNS", r->spec->id, dropped);
        if ((rv = acme_persist_save(r->st, r->spec->id, r->persist, r->p)) != APR_SUCCESS) {
            acme_log(ACME_LOG_WARNING, rv, ACMELOGNO(00583) "certificate %s: updating the "
                     "dns-persist-01 records failed", r->spec->id);
        }
    }
}

static apr_status_t authz_run(run_t *r, const char *url)
{
    apr_pool_t *ap = NULL;
    json_t *authz = NULL, *chj = NULL, *polled = NULL;
    acme_response_t *resp = NULL;
    const json_t *ch, *ident_obj;
    const char *status, *ch_url, *ch_status, *type = NULL, *ident;
    acme_challenge_t answer;
    int published = 0;
    apr_status_t rv;

    apr_pool_create(&ap, r->p);
    rv = fetch(&authz, NULL, r, ap, url, "authorization");
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    status = json_status(authz);
    if (!str_is(status, "pending")) {
        forget_responses(r, authz, ap);
    }
    if (str_is(status, "valid")) {
        goto leave;
    }
    if (!str_is(status, "pending")) {
        rv = authz_failed(r, authz, NULL);
        goto leave;
    }
    ident_obj = acme_json_obj(authz, "identifier");
    ident = ident_obj ? acme_json_str(ident_obj, "value") : NULL;
    ch = choose_challenge(&type, r, authz, ap);
    if (!ch || !ident) {
        const apr_array_header_t *allowed = allowed_types(r);
        int wildcard = json_is_true(json_object_get(authz, "wildcard"));
        int dns_unusable = !r->spec->dns_hook
                           && (wildcard || acme_names_contain(allowed, ACME_CHALLENGE_DNS01));
        rv = acme_result_set(r->res, r->p, ACME_ENOCHALLENGE,
                             "no usable challenge for %s: the CA offers %s; allowed: %s%s%s%s",
                             authz_ident(ap, authz), offered_types(ap, authz),
                             acme_names_join(ap, allowed, ", "),
                             wildcard ? " (a wildcard needs dns-01" : "",
                             wildcard && !dns_unusable ? ")" : "",
                             dns_unusable ? (wildcard ? " and an ACMEDNSHook)"
                                                      : " (dns-01 needs an ACMEDNSHook)")
                                          : "");
        goto leave;
    }
    ch_url = acme_json_str(ch, "url");
    ch_status = acme_json_str(ch, "status");
    if ((rv = challenge_answer(&answer, r, authz, ch, type, url, ap)) != APR_SUCCESS) {
        goto leave;
    }
    answer.ident = ident;
    if (!strcmp(type, ACME_CHALLENGE_DNSPERSIST01) && !answer.wildcard
        && acme_names_contain(r->spec->names, apr_pstrcat(ap, "*.", ident, NULL))) {
        /* the certificate also holds *.NAME: one record with policy=wildcard serves both
         * names, so the admin is shown that one whichever authorization comes first */
        answer.wildcard = 1;
    }
    persist_learn(r, &answer, ap);
    published = 1; /* a hook that failed half-way still gets its teardown */
    rv = challenge_publish(r, &answer, ap);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    acme_log(ACME_LOG_DEBUG, APR_SUCCESS, "certificate %s: %s for %s published",
             r->spec->id, type, authz_ident(ap, authz));

    if (!ch_status || str_is(ch_status, "pending")) {
        rv = acme_client_post(&resp, r->c, ap, ch_url, "{}", 0, r->res);
        note_retry_after(r, resp);
        if (rv != APR_SUCCESS) {
            goto leave;
        }
        chj = resp->json;
        ch_status = chj ? json_status(chj) : NULL;
    }
    if (str_is(ch_status, "valid")) {
        /* one valid challenge makes the authorization valid */
        goto leave;
    }
    if (str_is(ch_status, "invalid")) {
        rv = authz_failed(r, authz, chj);
        goto leave;
    }
    rv = poll_until(&polled, r, url, "authorization", "pending", NULL);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    if (!str_is(json_status(polled), "valid")) {
        rv = authz_failed(r, polled, chj);
        goto leave;
    }
leave:
    if (rv != APR_SUCCESS && rv != ACME_EINTERRUPTED && published) {
        persist_hint(r, &answer, ap);
    }
    if (published && rv != ACME_EINTERRUPTED) {
        /* never leave a response behind, whatever happened; but the CA may be validating
         * an interrupted order's: the next start resumes it, and removes the response once
         * the authorization is no longer pending */
        challenge_unpublish(r, &answer, ap);
    }
    if (rv != APR_SUCCESS) {
        res_keep(r->res, r->p);
    }
    apr_pool_destroy(ap);
    return rv;
}

static apr_status_t authorizations(run_t *r)
{
    const json_t *arr = acme_json_arr(r->order, "authorizations");
    size_t i;
    apr_status_t rv;

    if (!arr || json_array_size(arr) == 0) {
        return acme_result_set(r->res, r->p, ACME_EPROTO, "the order %s has no authorizations",
                               r->order_url);
    }
    for (i = 0; i < json_array_size(arr); ++i) {
        const char *url = json_string_value(json_array_get(arr, i));
        if (!url) {
            return acme_result_set(r->res, r->p, ACME_EPROTO, "the order %s lists an "
                                   "authorization that is not a URL", r->order_url);
        }
        rv = authz_run(r, url);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------ order state */

/* Remove the order state (orders/<id>/); the dns-persist-01 records outlive it. */
static apr_status_t order_state_remove(run_t *r, apr_pool_t *p)
{
    apr_status_t rv = acme_store_remove(r->st, ACME_GROUP_ORDERS, r->spec->id, NULL, p);
    apr_status_t rv2 = APR_SUCCESS;
    if (r->persist && r->persist->records->nelts > 0) {
        rv2 = acme_persist_save(r->st, r->spec->id, r->persist, p);
    }
    return rv != APR_SUCCESS ? rv : rv2;
}

static apr_status_t drop_state(run_t *r, const char *why)
{
    acme_log(ACME_LOG_INFO, APR_SUCCESS, "certificate %s: dropping order state (%s)",
             r->spec->id, why);
    return order_state_remove(r, r->p);
}

/* Continue a stored order, when there is one that matches the spec. Leaves r->order NULL
 * when a new order is needed. */
static apr_status_t order_resume(run_t *r)
{
    const acme_cert_spec_t *spec = r->spec;
    apr_pool_t *sp = NULL;
    char *text = NULL;
    apr_size_t len = 0;
    json_t *state, *order = NULL;
    const json_t *jnames;
    const char *url, *ca, *key, *profile, *status, *expires;
    apr_array_header_t *names;
    apr_status_t rv;
    size_t i;

    apr_pool_create(&sp, r->p);
    rv = acme_store_load(r->st, ACME_GROUP_ORDERS, spec->id, ORDER_STATE, &text, &len, sp);
    if (APR_STATUS_IS_ENOENT(rv)) {
        rv = APR_SUCCESS;
        goto leave;
    }
    if (rv != APR_SUCCESS) {
        acme_result_set(r->res, r->p, rv, "reading the order state of %s failed", spec->id);
        goto leave;
    }
    state = acme_json_parse(sp, text, len, NULL);
    url = state ? acme_json_str(state, "url") : NULL;
    ca = state ? acme_json_str(state, "ca") : NULL;
    key = state ? acme_json_str(state, "key") : NULL;
    profile = state ? acme_json_str(state, "profile") : NULL;
    jnames = state ? acme_json_arr(state, "names") : NULL;
    names = apr_array_make(sp, 4, sizeof(const char *));
    for (i = 0; jnames && i < json_array_size(jnames); ++i) {
        const char *n = json_string_value(json_array_get(jnames, i));
        if (n) {
            APR_ARRAY_PUSH(names, const char *) = n;
        }
    }
    if (!url || !ca || strcmp(ca, spec->ca_url)
        || !acme_names_equal(acme_names_normalize(sp, names), spec->names)
        || (key && strcmp(key, acme_key_type_name(spec->key_type)))
        || strcmp(profile ? profile : "", spec->profile ? spec->profile : "")) {
        rv = drop_state(r, "it does not match the configuration");
        goto leave;
    }
    rv = fetch(&order, NULL, r, sp, url, "order");
    if (rv != APR_SUCCESS) {
        /* the order is gone for us (404, unauthorized, malformed, ...), as opposed to "try
         * again later" (5xx, rateLimited, badNonce after its retries): the problem table */
        if (acme_problem_ends_order(r->res)) {
            acme_result_reset(r->res);
            rv = drop_state(r, "the CA no longer knows the order");
        }
        else {
            res_keep(r->res, r->p);
        }
        goto leave;
    }
    status = json_status(order);
    expires = acme_json_str(order, "expires");
    if (!status || str_is(status, "invalid")) {
        rv = drop_state(r, "the order is invalid");
        goto leave;
    }
    if (expires && acme_time_parse_rfc3339(expires) > 0
        && acme_time_parse_rfc3339(expires) <= apr_time_now() && !str_is(status, "valid")) {
        rv = drop_state(r, "the order expired");
        goto leave;
    }
    if (str_is(status, "processing") || str_is(status, "valid")) {
        /* finalized: only useful with the key the CSR was made with */
        char *sealed = NULL;
        if (acme_store_load(r->st, ACME_GROUP_ORDERS, spec->id, ASPECT_KEY, &sealed, NULL, sp)
            != APR_SUCCESS) {
            rv = drop_state(r, "the certificate key of the finalized order is missing");
            goto leave;
        }
    }
    r->order_url = apr_pstrdup(r->p, url);
    r->order = json_keep(r->p, order);
    r->profile_fallback = json_is_true(json_object_get(state, "profile_fallback"));
    acme_log(ACME_LOG_INFO, APR_SUCCESS, "certificate %s: resuming order %s (%s)", spec->id,
             r->order_url, status);
leave:
    apr_pool_destroy(sp);
    return rv;
}

/* The "profile" member of newOrder (acme_profile_choose): asked for when the CA offers it,
 * else the CA's default with a warning, or no order when the profile is mandatory. */
static apr_status_t order_profile(run_t *r, json_t *payload)
{
    const acme_cert_spec_t *spec = r->spec;
    acme_profile_choice_t choice;

    acme_profile_choose(&choice, r->p, spec->profile, spec->profile_mandatory,
                        acme_client_profiles(r->c), spec->ca_url);
    switch (choice.outcome) {
    case ACME_PROFILE_OFFERED:
        json_object_set_new(payload, "profile", json_string(choice.send));
        break;
    case ACME_PROFILE_FALLBACK:
        r->profile_fallback = 1;
        acme_log(ACME_LOG_WARNING, APR_SUCCESS, ACMELOGNO(00470) "certificate %s: %s",
                 spec->id, choice.message);
        break;
    case ACME_PROFILE_MISSING:
        return acme_result_set(r->res, r->p, APR_EINVAL, "%s", choice.message);
    default:
        break;
    }
    return APR_SUCCESS;
}

/* A refused newOrder with a profile and more names than such profiles allow: say so. */
static void profile_names_hint(run_t *r)
{
    const char *w = acme_profile_names_warning(r->p, r->spec->profile, r->spec->names->nelts);
    if (w && r->res->detail) {
        r->res->detail = apr_pstrcat(r->p, r->res->detail, " (", w, ")", NULL);
    }
}

/* May the refused newOrder succeed without "replaces"? alreadyReplaced: someone renewed that
 * certificate already; unauthorized: the certificate was issued to another account (RFC 9773
 * section 5), e.g. the one `acmectl account deactivate` ended or a damaged key replaced;
 * serverInternal or malformed: the CA could not use the "replaces" it got. */
static int without_replaces(const acme_result_t *res, const acme_cert_spec_t *spec)
{
    if (acme_problem_handling(res) == ACME_PH_WITHOUT_REPLACES) {
        acme_log(ACME_LOG_NOTICE, APR_SUCCESS, ACMELOGNO(00450) "certificate %s: the CA says "
                 "the certificate it replaces was already replaced (alreadyReplaced); ordering "
                 "once more without \"replaces\"", spec->id);
        return 1;
    }
    if (res->problem_type
        && !strcmp(res->problem_type, "urn:ietf:params:acme:error:unauthorized")) {
        acme_log(ACME_LOG_INFO, APR_SUCCESS, ACMELOGNO(00495) "certificate %s: the CA refused "
                 "the order that replaces the current certificate (%s): ordering without "
                 "\"replaces\" (the certificate was obtained with another account)", spec->id,
                 res->detail ? res->detail : "unauthorized");
        return 1;
    }
    if (res->problem_type
        && (!strcmp(res->problem_type, "urn:ietf:params:acme:error:serverInternal")
            || !strcmp(res->problem_type, "urn:ietf:params:acme:error:malformed"))) {
        /* e.g. pebble 2.10 cannot find the certificate when its serial's DER has a leading
         * zero byte (the ARI certID must keep it, RFC 9773 section 4.1) */
        acme_log(ACME_LOG_NOTICE, APR_SUCCESS, ACMELOGNO(00585) "certificate %s: the CA "
                 "refused the order that replaces the current certificate (%s): ordering once "
                 "more without \"replaces\"", spec->id, res->detail ? res->detail : "error");
        return 1;
    }
    return 0;
}

static apr_status_t order_new(run_t *r)
{
    const acme_cert_spec_t *spec = r->spec;
    apr_pool_t *sp = NULL;
    acme_response_t *resp = NULL;
    json_t *payload, *state;
    const char *text, *url;
    apr_status_t rv;

    apr_pool_create(&sp, r->p);
    payload = acme_json_pool(sp, json_object());
    /* "dns", or "ip" for an address (RFC 8738) */
    json_object_set_new(payload, "identifiers", acme_ident_json(spec->names));
    if ((rv = order_profile(r, payload)) != APR_SUCCESS) {
        goto leave;
    }
    if (spec->replaces) {
        /* RFC 9773 section 5: the certificate this order replaces */
        json_object_set_new(payload, "replaces", json_string(spec->replaces));
    }
    url = acme_client_endpoint(r->c, "newOrder");
    rv = acme_client_post_serial(&resp, r->c, sp, url, acme_json_dump(sp, payload), r->res);
    if (rv == ACME_EPROBLEM && spec->replaces && without_replaces(r->res, spec)) {
        /* an order without "replaces" is still right */
        json_object_del(payload, "replaces");
        rv = acme_client_post_serial(&resp, r->c, sp, url, acme_json_dump(sp, payload), r->res);
    }
    note_retry_after(r, resp);
    if (rv != APR_SUCCESS) {
        res_keep(r->res, r->p);
        profile_names_hint(r);
        goto leave;
    }
    if (!resp->json || !json_status(resp->json)) {
        rv = acme_result_set(r->res, r->p, ACME_EPROTO, "the CA answered newOrder with %s, "
                             "not an order", acme_response_body_str(sp, resp));
        goto leave;
    }
    if (!resp->location) {
        rv = acme_result_set(r->res, r->p, ACME_EPROTO, "the CA answered newOrder without a "
                             "Location header");
        goto leave;
    }
    r->order_url = apr_pstrdup(r->p, resp->location);
    r->order = json_keep(r->p, resp->json);

    state = acme_json_pool(sp, json_object());
    json_object_set_new(state, "url", json_string(r->order_url));
    json_object_set_new(state, "names", names_json(spec->names));
    json_object_set_new(state, "ca", json_string(spec->ca_url));
    json_object_set_new(state, "key", json_string(acme_key_type_name(spec->key_type)));
    if (spec->profile) {
        json_object_set_new(state, "profile", json_string(spec->profile));
        json_object_set_new(state, "profile_fallback", json_boolean(r->profile_fallback));
    }
    text = acme_json_dump(sp, state);
    rv = acme_store_save(r->st, ACME_GROUP_ORDERS, spec->id, ORDER_STATE, text, strlen(text), sp);
    if (rv != APR_SUCCESS) {
        acme_result_set(r->res, r->p, rv, "saving the order state of %s failed", spec->id);
        goto leave;
    }
    acme_log(ACME_LOG_INFO, APR_SUCCESS, "certificate %s: new order %s for %s%s%s", spec->id,
             r->order_url, acme_names_join(sp, spec->names, ", "),
             json_object_get(payload, "profile") ? ", profile " : "",
             json_object_get(payload, "profile") ? spec->profile : "");
leave:
    apr_pool_destroy(sp);
    return rv;
}

/* ------------------------------------------------------------------ finalize, download */

/* The certificate key: the one sealed in orders/<id>/key.sealed, or a new one, sealed and
 * saved there before the CA sees a CSR for it. */
static apr_status_t cert_key_get(run_t *r)
{
    const acme_cert_spec_t *spec = r->spec;
    const acme_driver_env_t *env = r->env;
    char *sealed = NULL, *pem = NULL;
    const char *cpem = NULL;
    apr_size_t slen = 0, plen = 0;
    apr_status_t rv;

    if (r->cert_key) {
        return APR_SUCCESS;
    }
    rv = acme_store_load(r->st, ACME_GROUP_ORDERS, spec->id, ASPECT_KEY, &sealed, &slen, r->p);
    if (rv == APR_SUCCESS) {
        rv = acme_unseal(&pem, &plen, r->p, env->secret, sealed, slen);
        if (rv == APR_SUCCESS) {
            rv = acme_key_from_pem(&r->cert_key, r->p, pem, plen);
            memset(pem, 0, plen);
        }
        if (rv == APR_SUCCESS) {
            r->cert_key_sealed = sealed;
            r->cert_key_sealed_len = slen;
            return APR_SUCCESS;
        }
        acme_log(ACME_LOG_WARNING, rv, "certificate %s: the stored order key is unusable, "
                 "making a new one", spec->id);
    }
    else if (!APR_STATUS_IS_ENOENT(rv)) {
        return acme_result_set(r->res, r->p, rv, "reading the key of order %s failed",
                               r->order_url);
    }
    r->cert_key = NULL;
    if (spec->reuse_key && acme_key_reuse_vetoed(r->st, spec->id, r->p)) {
        acme_log(ACME_LOG_NOTICE, APR_SUCCESS, ACMELOGNO(00484) "certificate %s: a new key "
                 "despite ACMEKeyReuse on: the renewal was requested after a revocation",
                 spec->id);
    }
    else if (spec->reuse_key
             && acme_key_reuse_open(&r->cert_key, r->p, spec->reuse_key, spec->reuse_key_len,
                                    spec->key_type, env->secret) == APR_SUCCESS) {
        /* ACMEKeyReuse: the live key, sealed as it came */
        sealed = apr_pmemdup(r->p, spec->reuse_key, spec->reuse_key_len);
        slen = spec->reuse_key_len;
        rv = APR_SUCCESS;
        acme_log(ACME_LOG_INFO, APR_SUCCESS, ACMELOGNO(00482) "certificate %s: the new order "
                 "uses the live certificate's key (ACMEKeyReuse on)", spec->id);
    }
    if (!r->cert_key) {
        rv = acme_key_generate(&r->cert_key, r->p, spec->key_type);
        if (rv == APR_SUCCESS) {
            rv = acme_key_to_pem(&cpem, &plen, r->p, r->cert_key);
        }
        if (rv == APR_SUCCESS) {
            rv = acme_seal(&sealed, &slen, r->p, env->secret, cpem, plen);
            memset((char *)cpem, 0, plen);
        }
    }
    if (rv != APR_SUCCESS) {
        r->cert_key = NULL;
        return acme_result_set(r->res, r->p, rv, "creating a %s key failed",
                               acme_key_type_name(spec->key_type));
    }
    rv = acme_store_save(r->st, ACME_GROUP_ORDERS, spec->id, ASPECT_KEY, sealed, slen, r->p);
    if (rv != APR_SUCCESS) {
        r->cert_key = NULL;
        return acme_result_set(r->res, r->p, rv, "saving the key of order %s failed",
                               r->order_url);
    }
    r->cert_key_sealed = sealed;
    r->cert_key_sealed_len = slen;
    return APR_SUCCESS;
}

static apr_status_t finalize(run_t *r)
{
    apr_pool_t *sp = NULL;
    acme_response_t *resp = NULL;
    const char *url = acme_json_str(r->order, "finalize"), *csr = NULL;
    json_t *payload;
    apr_status_t rv;

    if (!url) {
        return acme_result_set(r->res, r->p, ACME_EPROTO, "the order %s has no finalize URL",
                               r->order_url);
    }
    rv = cert_key_get(r);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_pool_create(&sp, r->p);
    rv = acme_csr_create(&csr, sp, r->cert_key, r->spec->names);
    if (rv != APR_SUCCESS) {
        acme_result_set(r->res, r->p, rv, "creating the CSR failed");
        goto leave;
    }
    payload = acme_json_pool(sp, json_object());
    json_object_set_new(payload, "csr", json_string(csr));
    rv = acme_client_post_serial(&resp, r->c, sp, url, acme_json_dump(sp, payload), r->res);
    note_retry_after(r, resp);
    if (rv != APR_SUCCESS) {
        res_keep(r->res, r->p);
        goto leave;
    }
    if (!resp->json || !json_status(resp->json)) {
        rv = acme_result_set(r->res, r->p, ACME_EPROTO, "the CA answered finalize of %s "
                             "with %s, not an order object", r->order_url,
                             acme_response_body_str(sp, resp));
        goto leave;
    }
    r->order = json_keep(r->p, resp->json);
leave:
    apr_pool_destroy(sp);
    return rv;
}

/* chain: pem parsed (the verified chain the download kept) */
static apr_status_t stage(run_t *r, const char *pem, apr_size_t len,
                          const apr_array_header_t *chain)
{
    const acme_cert_spec_t *spec = r->spec;
    acme_cert_info_t *info = NULL;
    acme_cert_meta_t meta;
    apr_status_t rv = APR_SUCCESS;

    if (!chain || chain->nelts < 1) {
        rv = ACME_EVERIFY;
    }
    if (rv == APR_SUCCESS) {
        rv = acme_cert_info(&info, r->p, APR_ARRAY_IDX(chain, 0, X509 *));
    }
    if (rv == APR_SUCCESS) {
        /* the certificates alone, without any text the CA put between them */
        rv = acme_chain_pem(&pem, &len, r->p, chain);
    }
    if (rv != APR_SUCCESS) {
        return acme_result_set(r->res, r->p, ACME_EVERIFY, "the certificate of order %s "
                               "cannot be read", r->order_url);
    }
    memset(&meta, 0, sizeof(meta));
    meta.names = spec->names;
    meta.ca = spec->ca_url;
    meta.key = acme_key_type_name(spec->key_type);
    meta.serial = info->serial;
    meta.not_before = info->not_before;
    meta.not_after = info->not_after;
    meta.staged = apr_time_now();
    meta.order = r->order_url;
    meta.profile = spec->profile;
    meta.profile_fallback = r->profile_fallback;
    meta.chain = acme_chain_top_issuer(r->p, chain);

    /* key and chain first, meta.json last: a staged set is complete once meta.json exists.
     * The key is orders/<id>/key.sealed (cert_key_get saved it before the CSR): copied, which
     * in the fs store is a link, not a new file; written from memory if that fails. */
    rv = acme_store_copy(r->st, ACME_GROUP_ORDERS, ACME_GROUP_STAGING, spec->id, ASPECT_KEY,
                         r->p);
    if (rv != APR_SUCCESS) {
        rv = acme_store_save(r->st, ACME_GROUP_STAGING, spec->id, ASPECT_KEY,
                             r->cert_key_sealed, r->cert_key_sealed_len, r->p);
    }
    if (rv == APR_SUCCESS) {
        rv = acme_store_save(r->st, ACME_GROUP_STAGING, spec->id, ASPECT_CHAIN, pem, len, r->p);
    }
    if (rv == APR_SUCCESS) {
        rv = acme_meta_save(r->st, ACME_GROUP_STAGING, spec->id, &meta, r->p);
    }
    if (rv != APR_SUCCESS) {
        return acme_result_set(r->res, r->p, rv, "staging the new certificate failed");
    }
    rv = order_state_remove(r, r->p);
    if (rv != APR_SUCCESS) {
        acme_log(ACME_LOG_WARNING, rv, "certificate %s: removing the order state failed",
                 spec->id);
    }
    acme_log(ACME_LOG_INFO, APR_SUCCESS, "certificate %s staged: %s, serial %s, valid until "
             "%s", spec->id, acme_names_join(r->p, spec->names, ", "),
             info->serial ? info->serial : "?", acme_time_rfc3339(r->p, info->not_after));
    return APR_SUCCESS;
}

/* The issuer of a lone leaf, from the certificate answer's Link rel="up" (POST-as-GET, RFC
 * 8555 7.4.2) or else the leaf's caIssuers URL (plain GET): at most one request of each
 * kind, through the same transport (its size limit and timeout apply). *ppem is the leaf
 * followed by what was fetched; the caller checks the result again. */
static apr_status_t chain_complete(const char **ppem, apr_size_t *plen, const char **pwhy,
                                   run_t *r, apr_pool_t *sp, const acme_response_t *resp)
{
    apr_array_header_t *chain = NULL, *links, *more = NULL;
    acme_response_t *ir = NULL;
    acme_result_t ires;
    const char *url = NULL, *tried = "";
    apr_status_t rv;
    int i;

    rv = acme_chain_parse(&chain, sp, *ppem, *plen);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    links = resp->headers ? acme_links(sp, resp->headers, "up") : NULL;
    for (i = 0; i < 2 && !more; ++i) {
        acme_result_reset(&ires);
        if (i == 0 && links && links->nelts > 0) {
            url = APR_ARRAY_IDX(links, 0, const char *);
            rv = acme_client_post_accept(&ir, r->c, sp, url, NULL, 0, CT_PEM_CHAIN, &ires);
        }
        else if (i == 1
                 && acme_cert_ca_issuers(&url, sp, APR_ARRAY_IDX(chain, 0, X509 *))
                        == APR_SUCCESS) {
            rv = acme_client_get(&ir, r->c, sp, url, &ires);
        }
        else {
            continue;
        }
        if (rv == APR_SUCCESS) {
            rv = acme_certs_parse_any(&more, sp, ir->body, ir->body_len);
        }
        tried = apr_psprintf(sp, "%s%s%s: %s", tried, *tried ? "; " : "", url,
                             rv == APR_SUCCESS ? "fetched"
                             : ires.detail ? ires.detail : "not a certificate");
    }
    if (!more) {
        *pwhy = apr_psprintf(r->p, "%s; completing it failed (%s)", *pwhy,
                             *tried ? tried : "the answer has no Link rel=\"up\" and the leaf "
                             "no caIssuers URL");
        return ACME_EVERIFY;
    }
    apr_array_cat(chain, more);
    rv = acme_chain_pem(ppem, plen, r->p, chain);
    if (rv == APR_SUCCESS) {
        acme_log(ACME_LOG_INFO, APR_SUCCESS, "certificate %s: the CA sent the leaf alone; its "
                 "issuer came from %s", r->spec->id, url);
    }
    return rv;
}

/* The downloaded chain parsed once (*pchain, for the chain choice and staging) and checked
 * (acme_cert_verify_chain); one that does not parse gets acme_cert_verify_set's verdict. */
static apr_status_t verify_download(apr_array_header_t **pchain, const char **pwhy, run_t *r,
                                    const char *pem, apr_size_t len)
{
    if (acme_chain_parse(pchain, r->p, pem, len) != APR_SUCCESS) {
        *pchain = NULL;
        return acme_cert_verify_set(pwhy, r->p, pem, len, r->cert_key, r->spec->names,
                                    apr_time_now());
    }
    return acme_cert_verify_chain(pwhy, r->p, *pchain, r->cert_key, r->spec->names,
                                  apr_time_now());
}

static apr_status_t download(run_t *r)
{
    apr_pool_t *sp = NULL;
    apr_array_header_t *chain = NULL;
    acme_response_t *resp = NULL;
    const char *url = acme_json_str(r->order, "certificate"), *why = NULL, *pem;
    acme_chain_pick_t *pick = NULL;
    apr_size_t len;
    apr_status_t rv;

    if (!url) {
        return acme_result_set(r->res, r->p, ACME_EPROTO, "the valid order %s has no "
                               "certificate URL", r->order_url);
    }
    rv = cert_key_get(r);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_pool_create(&sp, r->p);
    rv = acme_client_post_accept(&resp, r->c, sp, url, NULL, 0, CT_PEM_CHAIN, r->res);
    note_retry_after(r, resp);
    if (rv != APR_SUCCESS) {
        res_keep(r->res, r->p);
        goto leave;
    }
    pem = apr_pstrmemdup(r->p, resp->body, resp->body_len);
    len = resp->body_len;
    rv = verify_download(&chain, &why, r, pem, len);
    if (rv == APR_INCOMPLETE) {
        rv = chain_complete(&pem, &len, &why, r, sp, resp);
        if (rv == APR_SUCCESS) {
            rv = verify_download(&chain, &why, r, pem, len);
        }
    }
    if (rv != APR_SUCCESS) {
        r->drop_order = 1;
        rv = acme_result_set(r->res, r->p, ACME_EVERIFY, "the certificate from %s fails "
                             "verification, not activated: %s", url,
                             why ? why : "(no reason)");
        goto leave;
    }
    rv = acme_chain_prefer(&pick, sp, r->c, r->spec->id, r->spec->preferred_chain, pem, len,
                           chain, resp->headers, r->cert_key, r->spec->names,
                           apr_time_now());
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    rv = stage(r, pick->pem, pick->len, pick->chain);
leave:
    apr_pool_destroy(sp);
    return rv;
}

static apr_status_t order_failed(run_t *r)
{
    const json_t *err = acme_json_obj(r->order, "error");
    const char *type = err ? acme_json_str(err, "type") : NULL;
    const char *detail = err ? acme_json_str(err, "detail") : NULL;

    r->drop_order = 1;
    acme_result_set(r->res, r->p, ACME_EINVALID, "the order %s is invalid: %s%s%s",
                    r->order_url, type ? type : "", type ? ": " : "",
                    detail ? detail : "(the CA gave no reason)");
    r->res->problem_type = type ? apr_pstrdup(r->p, type) : NULL;
    return ACME_EINVALID;
}

/* Drive the order from its current status to a staged certificate. */
static apr_status_t order_run(run_t *r)
{
    json_t *j = NULL;
    const char *status;
    apr_status_t rv = APR_SUCCESS;
    int step, authorized = 0;

    for (step = 0; step < MAX_STEPS; ++step) {
        status = json_status(r->order);
        if (str_is(status, "pending") && !authorized) {
            rv = authorizations(r);
            if (rv != APR_SUCCESS) {
                return rv;
            }
            /* all authorizations are valid: the order is ready (no extra request to see it) */
            authorized = 1;
            status = "ready";
        }
        if (str_is(status, "ready")) {
            rv = finalize(r);
            if (rv == ACME_EPROBLEM && acme_problem_handling(r->res) == ACME_PH_RESYNC) {
                /* the CA has not caught up: look at the order and go on from there */
                acme_result_reset(r->res);
                rv = poll_until(&j, r, r->order_url, "order", "pending", NULL);
                if (rv != APR_SUCCESS) {
                    return rv;
                }
                r->order = j;
                authorized = 0;
                continue;
            }
            if (rv != APR_SUCCESS) {
                return rv;
            }
            continue;
        }
        if (str_is(status, "pending") || str_is(status, "processing")) {
            rv = poll_until(&j, r, r->order_url, "order", "processing",
                            authorized ? "pending" : NULL);
            if (rv != APR_SUCCESS) {
                return rv;
            }
            r->order = j;
            continue;
        }
        if (str_is(status, "valid")) {
            return download(r);
        }
        if (str_is(status, "invalid")) {
            return order_failed(r);
        }
        r->drop_order = 1;
        return acme_result_set(r->res, r->p, ACME_EPROTO, "the order %s has the unknown "
                               "status '%s'", r->order_url, status ? status : "(none)");
    }
    return acme_result_set(r->res, r->p, ACME_EAGAIN, "the order %s did not finish in %d "
                           "steps: the next run resumes it", r->order_url, MAX_STEPS);
}

/* ------------------------------------------------------------------ entry */

apr_status_t acme_driver_obtain(const acme_driver_env_t *env, const acme_cert_spec_t *spec,
                                apr_pool_t *p, acme_result_t *res)
{
    run_t run;
    run_t *r = &run;
    apr_pool_t *rp = NULL;
    apr_uint32_t count0 = 0;
    apr_status_t rv;

    acme_result_reset(res);
    if (!env || !env->client || !env->store || !env->secret || !spec || !spec->id
        || !spec->names || spec->names->nelts == 0 || !spec->ca_url) {
        rv = acme_result_set(res, p, APR_EINVAL, "incomplete certificate spec or environment");
        res->subject = spec ? spec->id : NULL;
        return rv;
    }
    apr_pool_create(&rp, p);
    memset(r, 0, sizeof(*r));
    r->env = env;
    r->spec = spec;
    r->c = env->client;
    r->st = env->store;
    r->p = rp;
    r->res = res;
    r->chenv.store = env->store;
    r->chenv.secret = env->secret;
    r->chenv.cert_id = spec->id;
    r->chenv.dns_hook = spec->dns_hook;
    r->chenv.http01_count = env->http01_count;
    r->chenv.http01_count_baton = env->http01_count_baton;
    r->chenv.sleep = env->sleep;
    r->chenv.sleep_baton = env->sleep_baton;
    count0 = acme_client_request_count(r->c);

    rv = acme_client_directory(r->c, res);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    r->account_key = acme_client_account_key(r->c, rp);
    if (!r->account_key || !acme_client_account_url(r->c)) {
        rv = acme_result_set(res, rp, APR_EINVAL, "no ACME account set for %s",
                             acme_client_directory_url(r->c));
        goto leave;
    }
    persist_prepare(r);
    rv = order_resume(r);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    if (!r->order && env->order_gate
        && (rv = env->order_gate(env->order_gate_baton, spec, res, rp)) != APR_SUCCESS) {
        goto leave;
    }
    if (!r->order) {
        rv = order_new(r);
        if (rv != APR_SUCCESS) {
            goto leave;
        }
    }
    rv = order_run(r);
leave:
    if (rv != APR_SUCCESS) {
        if (rv == ACME_EPROBLEM && acme_problem_ends_order(res)) {
            /* the CA said this order cannot succeed (a 4xx other than badNonce, rateLimited,
             * orderNotReady): resuming it would only meet the same answer again */
            r->drop_order = 1;
        }
        if (r->drop_order) {
            apr_status_t rv2 = order_state_remove(r, rp);
            if (rv2 != APR_SUCCESS) {
                acme_log(ACME_LOG_WARNING, rv2, "certificate %s: removing the order state "
                         "failed", spec->id);
            }
        }
        res->status = rv;
        res->subject = spec->id;
        acme_log(ACME_LOG_DEBUG, rv, "certificate %s: %s%s%s", spec->id,
                 res->problem_type ? res->problem_type : "",
                 res->problem_type ? ": " : "", res->detail ? res->detail : "failed");
    }
    else {
        res->status = APR_SUCCESS;
        res->subject = spec->id;
        acme_log(ACME_LOG_DEBUG, APR_SUCCESS, "certificate %s: %u ACME requests", spec->id,
                 (unsigned)(acme_client_request_count(r->c) - count0));
    }
    res_keep(res, p);
    apr_pool_destroy(rp);
    return rv;
}
