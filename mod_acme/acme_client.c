/* RFC 8555 client: directory (fetched once), nonce pool, signed POST with one badNonce
 * retry, problem documents (RFC 7807) and Link headers (RFC 8288).
 *
 * Thread-safety: the directory is fetched under dir_lock (the first caller fetches, the
 * others wait and then use the cached copy); nonces and the account live under lock. The
 * account key is never used outside the lock without holding its own reference. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_atomic.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <openssl/evp.h>

#include "acme_client.h"
#include "acme_json.h"
#include "acme_jws.h"
#include "acme_log.h"
#include "acme_util.h"
#include "acme_profile.h"

#define NONCE_POOL_MAX 16
#define CT_JOSE "application/jose+json"

struct acme_client_t {
    apr_pool_t *pool;
    acme_http_t *http;
    const char *directory_url;

    apr_thread_mutex_t *dir_lock;      /* held while fetching the directory */
    volatile apr_uint32_t have_dir;    /* set once, under dir_lock (atomic reads) */
    const char *ep_new_nonce, *ep_new_account, *ep_new_order, *ep_revoke, *ep_key_change,
        *ep_renewal_info, *tos;
    int eab_required;                  /* meta.externalAccountRequired */
    apr_array_header_t *profiles;      /* meta.profiles names, NULL: none (acme_profile.h) */

    apr_thread_mutex_t *lock;          /* nonces and account */
    apr_thread_mutex_t *order_lock;    /* newOrder and finalize one at a time (post_serial) */
    apr_interval_time_t serial_busy;   /* under order_lock: time spent in those requests */
    apr_uint32_t serial_count;         /* under order_lock: how many */
    char *nonces[NONCE_POOL_MAX];      /* malloc'ed, freed at pool cleanup */
    int nnonces;
    apr_pool_t *acct_pool;             /* holds the current account key; replaced on change */
    acme_key_t *key;
    const char *kid;

    volatile apr_uint32_t requests;
    acme_client_pace_fn *pace;         /* before each request, NULL: none */
    void *pace_baton;
};

/* ------------------------------------------------------------------ helpers */

static apr_status_t client_cleanup(void *data)
{
    acme_client_t *c = data;
    int i;
    for (i = 0; i < c->nnonces; ++i) {
        free(c->nonces[i]);
        c->nonces[i] = NULL;
    }
    c->nnonces = 0;
    return APR_SUCCESS;
}

static acme_result_t *res_or_dummy(acme_result_t *res, acme_result_t *dummy)
{
    if (res) {
        return res;
    }
    acme_result_reset(dummy);
    return dummy;
}

/* Media type without parameters, compared case-insensitively. */
static int media_type_is(const char *ct, const char *want)
{
    apr_size_t n = strlen(want);
    if (!ct) {
        return 0;
    }
    while (*ct == ' ' || *ct == '\t') {
        ++ct;
    }
    if (strncasecmp(ct, want, n)) {
        return 0;
    }
    ct += n;
    while (*ct == ' ' || *ct == '\t') {
        ++ct;
    }
    return *ct == '\0' || *ct == ';';
}

static void nonce_put(acme_client_t *c, const char *nonce)
{
    char *copy;
    if (!nonce || !*nonce) {
        return;
    }
    apr_thread_mutex_lock(c->lock);
    if (c->nnonces < NONCE_POOL_MAX) {
        copy = strdup(nonce);
        if (copy) {
            c->nonces[c->nnonces++] = copy;
        }
    }
    else {
        /* pool full: replace the oldest, a fresh nonce is the more useful one */
        copy = strdup(nonce);
        if (copy) {
            free(c->nonces[0]);
            memmove(c->nonces, c->nonces + 1, sizeof(c->nonces[0]) * (NONCE_POOL_MAX - 1));
            c->nonces[NONCE_POOL_MAX - 1] = copy;
        }
    }
    apr_thread_mutex_unlock(c->lock);
}

/* Newest nonce from the pool copied into p, or NULL when empty. */
static const char *nonce_take(acme_client_t *c, apr_pool_t *p)
{
    const char *nonce = NULL;
    apr_thread_mutex_lock(c->lock);
    if (c->nnonces > 0) {
        char *n = c->nonces[--c->nnonces];
        c->nonces[c->nnonces] = NULL;
        nonce = apr_pstrdup(p, n);
        free(n);
    }
    apr_thread_mutex_unlock(c->lock);
    return nonce;
}

static void fill_response(acme_response_t **presp, apr_pool_t *p, const acme_http_response_t *hr)
{
    acme_response_t *r = apr_pcalloc(p, sizeof(*r));
    const char *ct;

    r->status = hr->status;
    r->headers = hr->headers ? hr->headers : apr_table_make(p, 1);
    r->body = hr->body ? hr->body : "";
    r->body_len = hr->body ? hr->body_len : 0;
    r->location = apr_table_get(r->headers, "Location");
    ct = apr_table_get(r->headers, "Content-Type");
    if (r->body_len > 0
        && (media_type_is(ct, "application/json")
            || media_type_is(ct, "application/problem+json"))) {
        r->json = acme_json_parse(p, r->body, r->body_len, NULL);
    }
    *presp = r;
}

/* A transport failure in words: the transport's own words when it gave some. */
static const char *transport_error_str(apr_pool_t *p, apr_status_t rv,
                                       const acme_http_response_t *hr)
{
    char ebuf[256];
    if (hr && hr->error) {
        return hr->error;
    }
    if (APR_STATUS_IS_ECONNREFUSED(rv)) {
        return "the CA refused the connection";
    }
    if (APR_STATUS_IS_ECONNRESET(rv)) {
        return "the connection was reset";
    }
    if (APR_STATUS_IS_TIMEUP(rv)) {
        return "the CA did not answer in time";
    }
    if (APR_STATUS_IS_EHOSTUNREACH(rv)) {
        return "the CA's host name does not resolve or the host is unreachable";
    }
    switch (rv) {
    case ACME_ETRUST:
        return "the CA's TLS trust anchors (ACMEServerCAFile) cannot be loaded: the file is "
               "missing, unreadable or not PEM (ACME00123 in the error log names it)";
    case ACME_ETLS:
        return "TLS with the CA failed";
    case ACME_ETOOLARGE:
        return "the answer is larger than the limit";
    case ACME_ETRUNCATED:
        return "truncated answer";
    case ACME_EHTTP:
        return "the answer is not valid HTTP";
    default:
        return apr_psprintf(p, "the CA could not be reached (%s)",
                            apr_strerror(rv, ebuf, sizeof(ebuf)));
    }
}

/* The endpoint of url (the directory's URLs once it was read). */
static acme_pace_endpoint_e endpoint_of(acme_client_t *c, const char *url)
{
    const char *urls[ACME_PACE_EP_COUNT] = { c->directory_url };

    if (apr_atomic_read32(&c->have_dir)) {
        urls[ACME_PACE_EP_NEW_NONCE] = c->ep_new_nonce;
        urls[ACME_PACE_EP_NEW_ACCOUNT] = c->ep_new_account;
        urls[ACME_PACE_EP_NEW_ORDER] = c->ep_new_order;
        urls[ACME_PACE_EP_REVOKE] = c->ep_revoke;
        urls[ACME_PACE_EP_RENEWAL_INFO] = c->ep_renewal_info;
    }
    return acme_pace_endpoint(url, urls);
}

/* One HTTP exchange: paced (acme_client_set_pace), counted; collects the Replay-Nonce. */
static apr_status_t exchange(acme_http_response_t **phr, acme_client_t *c, apr_pool_t *p,
                             const acme_http_request_t *req, acme_result_t *res)
{
    apr_status_t rv;

    if (c->pace) {
        c->pace(c->pace_baton, endpoint_of(c, req->url));
    }
    apr_atomic_inc32(&c->requests);
    *phr = NULL;
    rv = c->http->perform(c->http->baton, phr, p, req);
    if (rv != APR_SUCCESS || !*phr) {
        if (rv == APR_SUCCESS) {
            rv = APR_EGENERAL;
        }
        acme_result_set(res, p, rv, "%s %s failed: %s", req->method, req->url,
                        transport_error_str(p, rv, *phr));
        res->subject = req->url;
        res->http_status = 0;
        *phr = NULL;
        return rv;
    }
    res->http_status = (*phr)->status;
    return APR_SUCCESS;
}

static int status_ok(int status)
{
    return status >= 200 && status < 300;
}

static void set_problem(acme_result_t *res, apr_pool_t *p, const char *url,
                        const acme_http_response_t *hr)
{
    if (!res->subject) {
        res->subject = url;
    }
    acme_problem_parse(res, p, hr->status, hr->headers, hr->body,
                       hr->body ? hr->body_len : 0, apr_time_now());
    acme_log(ACME_LOG_DEBUG, res->status, ACMELOGNO(00200) "%s -> HTTP %d %s: %s", url,
             hr->status, res->problem_type ? res->problem_type : "",
             res->detail ? res->detail : "");
}

/* ------------------------------------------------------------------ creation, directory */

apr_status_t acme_client_create(acme_client_t **pc, apr_pool_t *p, acme_http_t *http,
                                const char *directory_url)
{
    acme_client_t *c;
    apr_status_t rv;

    *pc = NULL;
    if (!http || !http->perform || !directory_url) {
        return APR_EINVAL;
    }
    c = apr_pcalloc(p, sizeof(*c));
    c->pool = p;
    c->http = http;
    c->directory_url = apr_pstrdup(p, directory_url);
    rv = apr_thread_mutex_create(&c->dir_lock, APR_THREAD_MUTEX_DEFAULT, p);
    if (rv == APR_SUCCESS) {
        rv = apr_thread_mutex_create(&c->lock, APR_THREAD_MUTEX_DEFAULT, p);
    }
    if (rv == APR_SUCCESS) {
        rv = apr_thread_mutex_create(&c->order_lock, APR_THREAD_MUTEX_DEFAULT, p);
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_pool_cleanup_register(p, c, client_cleanup, apr_pool_cleanup_null);
    *pc = c;
    return APR_SUCCESS;
}

const char *acme_client_directory_url(const acme_client_t *c)
{
    return c->directory_url;
}

void acme_client_set_pace(acme_client_t *c, acme_client_pace_fn *fn, void *baton)
{
    c->pace = fn;
    c->pace_baton = baton;
}

static const char *dir_str(acme_client_t *c, const json_t *dir, const char *key)
{
    const char *s = acme_json_str(dir, key);
    return s ? apr_pstrdup(c->pool, s) : NULL;
}

apr_status_t acme_client_directory(acme_client_t *c, acme_result_t *res)
{
    acme_result_t dummy;
    acme_response_t *resp = NULL;
    apr_pool_t *p = NULL;
    apr_status_t rv = APR_SUCCESS;
    const json_t *dir;

    res = res_or_dummy(res, &dummy);
    if (apr_atomic_read32(&c->have_dir)) {
        return APR_SUCCESS;
    }
    apr_thread_mutex_lock(c->dir_lock);
    if (apr_atomic_read32(&c->have_dir)) {
        goto leave;
    }
    apr_pool_create(&p, c->pool);
    rv = acme_client_get(&resp, c, p, c->directory_url, res);
    if (rv != APR_SUCCESS) {
        acme_log(ACME_LOG_DEBUG, rv, ACMELOGNO(00201) "directory %s: %s", c->directory_url,
                 res->detail ? res->detail : "failed");
        goto leave;
    }
    dir = resp->json;
    if (!dir || !json_is_object(dir) || !acme_json_str(dir, "newNonce")
        || !acme_json_str(dir, "newAccount") || !acme_json_str(dir, "newOrder")) {
        rv = acme_result_set(res, c->pool, ACME_EPROTO,
                             "the directory at %s is not an ACME directory (needs newNonce, "
                             "newAccount and newOrder; got %s)", c->directory_url,
                             acme_response_body_str(p, resp));
        res->subject = c->directory_url;
        goto leave;
    }
    c->ep_new_nonce = dir_str(c, dir, "newNonce");
    c->ep_new_account = dir_str(c, dir, "newAccount");
    c->ep_new_order = dir_str(c, dir, "newOrder");
    c->ep_revoke = dir_str(c, dir, "revokeCert");
    c->ep_key_change = dir_str(c, dir, "keyChange");
    c->ep_renewal_info = dir_str(c, dir, "renewalInfo");
    {
        const json_t *meta = acme_json_obj(dir, "meta");
        c->tos = meta ? dir_str(c, meta, "termsOfService") : NULL;
        c->eab_required = meta && json_is_true(json_object_get(meta, "externalAccountRequired"));
        c->profiles = acme_profile_offered(c->pool, meta);
    }
    apr_atomic_set32(&c->have_dir, 1);
    acme_log(ACME_LOG_DEBUG, APR_SUCCESS, ACMELOGNO(00202) "directory %s loaded",
             c->directory_url);
leave:
    apr_thread_mutex_unlock(c->dir_lock);
    if (rv != APR_SUCCESS && res->detail) {
        /* the detail must outlive the temporary pool */
        res->detail = apr_pstrdup(c->pool, res->detail);
        res->problem_type = res->problem_type ? apr_pstrdup(c->pool, res->problem_type) : NULL;
        res->subject = c->directory_url;
    }
    if (p) {
        apr_pool_destroy(p);
    }
    return rv;
}

const apr_array_header_t *acme_client_profiles(acme_client_t *c)
{
    return apr_atomic_read32(&c->have_dir) ? c->profiles : NULL;
}

const char *acme_client_endpoint(acme_client_t *c, const char *name)
{
    if (!apr_atomic_read32(&c->have_dir) || !name) {
        return NULL;
    }
    if (!strcmp(name, "newNonce")) {
        return c->ep_new_nonce;
    }
    if (!strcmp(name, "newAccount")) {
        return c->ep_new_account;
    }
    if (!strcmp(name, "newOrder")) {
        return c->ep_new_order;
    }
    if (!strcmp(name, "revokeCert")) {
        return c->ep_revoke;
    }
    if (!strcmp(name, "keyChange")) {
        return c->ep_key_change;
    }
    if (!strcmp(name, "renewalInfo")) {
        return c->ep_renewal_info;
    }
    return NULL;
}

const char *acme_client_tos(acme_client_t *c)
{
    return apr_atomic_read32(&c->have_dir) ? c->tos : NULL;
}

int acme_client_eab_required(acme_client_t *c)
{
    return apr_atomic_read32(&c->have_dir) ? c->eab_required : 0;
}

/* ------------------------------------------------------------------ account */

void acme_client_set_account(acme_client_t *c, const acme_key_t *key, const char *kid)
{
    apr_pool_t *np = NULL, *old = NULL;

    apr_thread_mutex_lock(c->lock);
    if (key && (!c->key || acme_key_evp(c->key) != acme_key_evp(key))) {
        EVP_PKEY *evp = acme_key_evp(key);
        apr_pool_create(&np, c->pool);
        if (evp && EVP_PKEY_up_ref(evp) == 1) {
            old = c->acct_pool;
            c->acct_pool = np;
            c->key = acme_key_wrap(np, evp);
            np = NULL;
        }
    }
    else if (!key && c->key) {
        old = c->acct_pool;
        c->acct_pool = NULL;
        c->key = NULL;
    }
    if (!kid) {
        c->kid = NULL;
    }
    else if (!c->kid || strcmp(c->kid, kid)) {
        /* account URLs change rarely: a copy in the client pool per change is fine, and
         * pointers handed out by acme_client_account_url stay valid */
        c->kid = apr_pstrdup(c->pool, kid);
    }
    apr_thread_mutex_unlock(c->lock);
    /* signers hold their own reference to the old key: safe to drop ours now */
    if (old) {
        apr_pool_destroy(old);
    }
    if (np) {
        apr_pool_destroy(np);
    }
}

const char *acme_client_account_url(const acme_client_t *c)
{
    const char *kid;
    apr_thread_mutex_lock(c->lock);
    kid = c->kid;
    apr_thread_mutex_unlock(c->lock);
    return kid;
}

acme_key_t *acme_client_account_key(acme_client_t *c, apr_pool_t *p)
{
    acme_key_t *key = NULL;
    apr_thread_mutex_lock(c->lock);
    if (c->key) {
        EVP_PKEY *evp = acme_key_evp(c->key);
        if (evp && EVP_PKEY_up_ref(evp) == 1) {
            key = acme_key_wrap(p, evp);
        }
    }
    apr_thread_mutex_unlock(c->lock);
    return key;
}

/* ------------------------------------------------------------------ requests */

void acme_client_serial_stats(acme_client_t *c, apr_interval_time_t *pbusy,
                              apr_uint32_t *pcount)
{
    apr_thread_mutex_lock(c->order_lock);
    *pbusy = c->serial_busy;
    *pcount = c->serial_count;
    apr_thread_mutex_unlock(c->order_lock);
}

apr_uint32_t acme_client_request_count(acme_client_t *c)
{
    return apr_atomic_read32(&c->requests);
}

apr_status_t acme_client_get(acme_response_t **presp, acme_client_t *c, apr_pool_t *p,
                             const char *url, acme_result_t *res)
{
    acme_result_t dummy;
    acme_http_request_t req;
    acme_http_response_t *hr = NULL;
    apr_status_t rv;

    res = res_or_dummy(res, &dummy);
    *presp = NULL;
    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = url;
    rv = exchange(&hr, c, p, &req, res);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    nonce_put(c, apr_table_get(hr->headers, "Replay-Nonce"));
    fill_response(presp, p, hr);
    if (!status_ok(hr->status)) {
        set_problem(res, p, url, hr);
        rv = ACME_EPROBLEM;
        goto leave;
    }
    res->status = APR_SUCCESS;
    res->problem_type = NULL;
    res->detail = NULL;
    res->retry_after = 0;
leave:
    return rv;
}

/* A nonce from the pool, or from a HEAD newNonce when the pool is empty. */
static apr_status_t nonce_get(const char **pnonce, acme_client_t *c, apr_pool_t *p,
                              acme_result_t *res)
{
    acme_http_request_t req;
    acme_http_response_t *hr = NULL;
    const char *nonce;
    apr_status_t rv;

    *pnonce = nonce_take(c, p);
    if (*pnonce) {
        return APR_SUCCESS;
    }
    memset(&req, 0, sizeof(req));
    req.method = "HEAD";
    req.url = c->ep_new_nonce;
    rv = exchange(&hr, c, p, &req, res);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    nonce = apr_table_get(hr->headers, "Replay-Nonce");
    if (!status_ok(hr->status) || !nonce || !*nonce) {
        return acme_result_set(res, p, ACME_EPROTO, "HEAD %s gave HTTP %d %s", req.url,
                               hr->status, nonce ? "" : "without a Replay-Nonce");
    }
    *pnonce = apr_pstrdup(p, nonce);
    return APR_SUCCESS;
}

apr_status_t acme_client_post_accept(acme_response_t **presp, acme_client_t *c, apr_pool_t *p,
                                     const char *url, const char *payload, int force_jwk,
                                     const char *accept, acme_result_t *res)
{
    acme_result_t dummy;
    acme_http_request_t req;
    acme_http_response_t *hr = NULL;
    const char *nonce = NULL, *jws, *kid, *subject0;
    acme_key_t *key;
    apr_pool_t *sp = NULL;
    apr_status_t rv;
    int attempt;

    res = res_or_dummy(res, &dummy);
    subject0 = res->subject;
    *presp = NULL;
    rv = acme_client_directory(c, res);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    if (!url) {
        rv = acme_result_set(res, p, APR_EINVAL, "POST: no URL (endpoint not in the directory)");
        goto leave;
    }
    key = acme_client_account_key(c, p);
    if (!key) {
        rv = acme_result_set(res, p, APR_EINVAL, "POST %s: no account key set", url);
        goto leave;
    }
    kid = force_jwk ? NULL : acme_client_account_url(c);

    for (attempt = 0; attempt <= ACME_BADNONCE_RETRIES; ++attempt) {
        if (sp) {
            apr_pool_clear(sp);
        }
        else {
            apr_pool_create(&sp, p);
        }
        if (!nonce) {
            rv = nonce_get(&nonce, c, p, res);
            if (rv != APR_SUCCESS) {
                goto leave;
            }
        }
        rv = acme_jws_sign(&jws, sp, key, kid, nonce, url, payload);
        if (rv != APR_SUCCESS) {
            rv = acme_result_set(res, p, rv, "signing the request to %s failed", url);
            goto leave;
        }
        memset(&req, 0, sizeof(req));
        req.method = "POST";
        req.url = url;
        req.content_type = CT_JOSE;
        req.accept = accept;
        req.body = jws;
        req.body_len = strlen(jws);
        rv = exchange(&hr, c, p, &req, res);
        if (rv != APR_SUCCESS) {
            goto leave;
        }
        fill_response(presp, p, hr);
        nonce = apr_table_get(hr->headers, "Replay-Nonce");
        if (status_ok(hr->status)) {
            nonce_put(c, nonce);
            res->status = APR_SUCCESS;
            res->problem_type = NULL;
            res->detail = NULL;
            res->retry_after = 0;
            /* a badNonce answer before set the subject to url, which may belong to a pool
             * the caller destroys after this success (the driver's authorization pool) */
            res->subject = subject0;
            rv = APR_SUCCESS;
            goto leave;
        }
        set_problem(res, p, url, hr);
        rv = ACME_EPROBLEM;
        if (acme_problem_handling(res) != ACME_PH_RETRY_NOW || attempt >= ACME_BADNONCE_RETRIES) {
            nonce_put(c, nonce);
            goto leave;
        }
        /* badNonce: again, with the fresh nonce of this very answer if it has one */
        acme_log(ACME_LOG_DEBUG, rv, ACMELOGNO(00203) "POST %s: badNonce, retrying with the "
                 "fresh nonce", url);
        if (nonce) {
            nonce = apr_pstrdup(p, nonce);
        }
    }
leave:
    if (sp) {
        apr_pool_destroy(sp);
    }
    return rv;
}

apr_status_t acme_client_post(acme_response_t **presp, acme_client_t *c, apr_pool_t *p,
                              const char *url, const char *payload, int force_jwk,
                              acme_result_t *res)
{
    return acme_client_post_accept(presp, c, p, url, payload, force_jwk, NULL, res);
}

apr_status_t acme_client_post_serial(acme_response_t **presp, acme_client_t *c, apr_pool_t *p,
                                     const char *url, const char *payload, acme_result_t *res)
{
    apr_status_t rv;

    apr_time_t t0;

    apr_thread_mutex_lock(c->order_lock);
    t0 = apr_time_now();
    rv = acme_client_post_accept(presp, c, p, url, payload, 0, NULL, res);
    c->serial_busy += apr_time_now() - t0;
    c->serial_count++;
    apr_thread_mutex_unlock(c->order_lock);
    return rv;
}

/* ------------------------------------------------------------------ problem documents */

static const char *sanitize(apr_pool_t *p, const char *s, apr_size_t len, apr_size_t max)
{
    apr_size_t i, n = len < max ? len : max;
    char *out = apr_palloc(p, n + 1);
    for (i = 0; i < n; ++i) {
        unsigned char ch = (unsigned char)s[i];
        out[i] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : ' ';
    }
    out[n] = '\0';
    /* trim */
    while (n > 0 && out[n - 1] == ' ') {
        out[--n] = '\0';
    }
    return out;
}

const char *acme_response_body_str(apr_pool_t *p, const acme_response_t *r)
{
    const char *ct = r ? apr_table_get(r->headers, "Content-Type") : NULL;
    const char *text;

    if (!r || r->body_len == 0) {
        return "an empty answer";
    }
    if (r->json) {
        return apr_psprintf(p, "JSON (%lu bytes) without the expected members",
                            (unsigned long)r->body_len);
    }
    text = sanitize(p, r->body, r->body_len, 60);
    return apr_psprintf(p, "not JSON: Content-Type %s, %lu bytes%s%s%s", ct ? ct : "(none)",
                        (unsigned long)r->body_len, *text ? " starting '" : "", text,
                        *text ? "'" : "");
}

static const char *subproblem_str(apr_pool_t *p, const json_t *sub)
{
    const json_t *ident = acme_json_obj(sub, "identifier");
    const char *value = ident ? acme_json_str(ident, "value") : NULL;
    const char *detail = acme_json_str(sub, "detail");
    const char *type = acme_json_str(sub, "type");

    if (!detail) {
        detail = type ? type : "(no detail)";
    }
    return apr_psprintf(p, "%s: %s", value ? value : "(no identifier)", detail);
}

void acme_problem_parse(acme_result_t *res, apr_pool_t *p, int http_status,
                        apr_table_t *headers, const char *body, apr_size_t len, apr_time_t now)
{
    const char *subject = res->subject ? res->subject : "the CA";
    json_t *j = NULL;

    res->status = ACME_EPROBLEM;
    res->http_status = http_status;
    res->problem_type = NULL;
    res->detail = NULL;
    res->retry_after = headers ? acme_retry_after_parse(apr_table_get(headers, "Retry-After"),
                                                        now)
                               : 0;
    if (body && len > 0) {
        j = acme_json_parse(p, body, len, NULL);
    }
    if (j && json_is_object(j)
        && (acme_json_str(j, "type") || acme_json_str(j, "detail"))) {
        const json_t *subs = acme_json_arr(j, "subproblems");
        const char *type = acme_json_str(j, "type");
        const char *detail = acme_json_str(j, "detail");
        size_t i;

        res->problem_type = type ? apr_pstrdup(p, type) : NULL;
        res->detail = detail ? apr_pstrdup(p, detail)
                             : apr_psprintf(p, "HTTP %d from %s", http_status, subject);
        if (acme_json_str(j, "instance")) {
            /* userActionRequired: the page the admin must visit (RFC 8555 7.3.3) */
            res->detail = apr_pstrcat(p, res->detail, " (see ", acme_json_str(j, "instance"),
                                      ")", NULL);
        }
        if (subs) {
            for (i = 0; i < json_array_size(subs); ++i) {
                const json_t *sub = json_array_get(subs, i);
                if (json_is_object(sub)) {
                    res->detail = apr_pstrcat(p, res->detail, "; ", subproblem_str(p, sub),
                                              NULL);
                }
            }
        }
        return;
    }
    if (body && len > 0) {
        const char *text = sanitize(p, body, len, 200);
        res->detail = *text ? apr_psprintf(p, "HTTP %d from %s: %s", http_status, subject, text)
                            : apr_psprintf(p, "HTTP %d from %s", http_status, subject);
    }
    else {
        res->detail = apr_psprintf(p, "HTTP %d from %s", http_status, subject);
    }
}

/* ------------------------------------------------------------------ problem handling */

typedef struct problem_entry_t {
    const char *name;                  /* after ACME_PROBLEM_NS */
    acme_problem_handling_t handling;
    const char *hint;
} problem_entry_t;

/* Every type of the IANA "ACME Error Types" registry (RFC 8555 6.7, RFC 9773 7.4). The types
 * of a failed validation are final for the order: the next attempt, after the backoff, makes
 * a new order, as the admin may have fixed the cause meanwhile. */
static const problem_entry_t problem_table[] = {
    { "accountDoesNotExist", ACME_PH_NEW_ACCOUNT,
      "the CA does not know the stored account (deactivated at the CA?): move "
      "<store>/accounts/<ca>/ away and restart, a new account is then created" },
    { "alreadyReplaced", ACME_PH_WITHOUT_REPLACES, NULL },
    { "alreadyRevoked", ACME_PH_FINAL, NULL },
    { "badCSR", ACME_PH_FINAL,
      "the CA refused the certificate request: check that it accepts the ACMEKeyType in use" },
    { "badNonce", ACME_PH_RETRY_NOW, NULL },
    { "badPublicKey", ACME_PH_ADMIN,
      "the CA does not accept the account key (ES256): this CA cannot be used" },
    { "badRevocationReason", ACME_PH_FINAL, NULL },
    { "badSignatureAlgorithm", ACME_PH_ADMIN,
      "the CA does not accept the account key's signature algorithm (ES256): this CA cannot "
      "be used" },
    { "caa", ACME_PH_FINAL,
      "a CAA DNS record of the name forbids this CA: add the CA to the record or remove it" },
    { "compound", ACME_PH_FINAL, NULL },
    { "connection", ACME_PH_FINAL,
      "the CA could not connect to this server to validate: the name must resolve to it and "
      "port 80 (http-01) or 443 (tls-alpn-01) must be reachable from the internet" },
    { "dns", ACME_PH_FINAL,
      "the CA's DNS look-up of the name failed: check the name's DNS records" },
    { "externalAccountRequired", ACME_PH_ADMIN,
      "the CA creates accounts only with an External Account Binding (EAB): add "
      "'ACMEExternalAccountBinding KID KEY-FILE' with the key id and HMAC key the CA gave you" },
    { "incorrectResponse", ACME_PH_FINAL,
      "the CA got another answer than the one published: check that no other server, proxy "
      "or rewrite answers /.well-known/acme-challenge/ for the name" },
    { "invalidContact", ACME_PH_ADMIN,
      "the CA refused a contact address: correct ACMEContact" },
    { "invalidProfile", ACME_PH_ADMIN,
      "the CA does not know the profile the order asked for: correct ACMEProfile (the CA's "
      "directory lists its profiles in meta.profiles)" },
    { "malformed", ACME_PH_FINAL, NULL },
    { "orderNotReady", ACME_PH_RESYNC, NULL },
    { "rateLimited", ACME_PH_RATE_LIMITED, NULL },
    { "rejectedIdentifier", ACME_PH_ADMIN,
      "the CA will not issue for a name of the set: remove it (ServerName, ServerAlias) or "
      "use another CA" },
    { "serverInternal", ACME_PH_RETRY_LATER, NULL },
    { "tls", ACME_PH_FINAL,
      "the CA's TLS connection to this server failed during validation" },
    { "unauthorized", ACME_PH_FINAL,
      "the CA refused; after a validation it means the CA did not get the expected answer: "
      "requests for the name must reach this server" },
    { "unsupportedContact", ACME_PH_ADMIN,
      "the CA does not support a contact address's scheme: use mailto: addresses in "
      "ACMEContact" },
    { "unsupportedIdentifier", ACME_PH_ADMIN,
      "the CA does not issue for this kind of name (an IP address or a wildcard?): remove it "
      "or use another CA" },
    { "userActionRequired", ACME_PH_ADMIN,
      "the CA wants the admin to act, often to agree to new terms: read the page it names "
      "(instance), then set ACMEAgreeTerms on if it is about terms" },
};

static const problem_entry_t *problem_lookup(const char *type)
{
    apr_size_t nslen = sizeof(ACME_PROBLEM_NS) - 1, i;

    if (!type) {
        return NULL;
    }
    if (!strncmp(type, ACME_PROBLEM_NS, nslen)) {
        type += nslen;
    }
    for (i = 0; i < sizeof(problem_table) / sizeof(problem_table[0]); ++i) {
        if (!strcmp(problem_table[i].name, type)) {
            return &problem_table[i];
        }
    }
    return NULL;
}

void acme_problem_classify(acme_problem_info_t *info, const acme_result_t *res, apr_time_t now)
{
    const problem_entry_t *e;

    memset(info, 0, sizeof(*info));
    if (!res || (res->status != ACME_EPROBLEM && res->status != ACME_EINVALID)) {
        return;
    }
    e = problem_lookup(res->problem_type);
    if (e) {
        info->name = e->name;
        info->handling = e->handling;
        info->hint = e->hint;
    }
    else if (res->http_status == 429) {
        info->handling = ACME_PH_RATE_LIMITED;
    }
    else if (res->http_status >= 400 && res->http_status < 500) {
        info->handling = ACME_PH_FINAL;
    }
    else {
        info->handling = ACME_PH_RETRY_LATER;     /* 5xx, or a status that makes no sense */
    }
    if (res->status == ACME_EINVALID && info->handling != ACME_PH_ADMIN) {
        info->handling = ACME_PH_FINAL;           /* the object is invalid: nothing to retry */
    }
    switch (info->handling) {
    case ACME_PH_RETRY_NOW:
    case ACME_PH_RESYNC:
    case ACME_PH_WITHOUT_REPLACES:
        info->retry_at = now;
        break;
    case ACME_PH_RETRY_LATER:
    case ACME_PH_RATE_LIMITED:
        info->retry_at = res->retry_after;
        break;
    default:
        break;
    }
}

acme_problem_handling_t acme_problem_handling(const acme_result_t *res)
{
    acme_problem_info_t info;
    acme_problem_classify(&info, res, 0);
    return info.handling;
}

int acme_problem_ends_order(const acme_result_t *res)
{
    switch (acme_problem_handling(res)) {
    case ACME_PH_FINAL:
    case ACME_PH_NEW_ACCOUNT:
    case ACME_PH_ADMIN:
        return 1;
    default:
        return 0;
    }
}

const char *acme_problem_hint(const char *type)
{
    const problem_entry_t *e = problem_lookup(type);
    return e ? e->hint : NULL;
}

const char *acme_problem_handling_str(acme_problem_handling_t h)
{
    switch (h) {
    case ACME_PH_NONE:             return "no problem";
    case ACME_PH_RETRY_NOW:        return "retry now";
    case ACME_PH_RETRY_LATER:      return "retry later";
    case ACME_PH_RATE_LIMITED:     return "rate limited";
    case ACME_PH_FINAL:            return "final";
    case ACME_PH_RESYNC:           return "look at the order again";
    case ACME_PH_WITHOUT_REPLACES: return "order again without replaces";
    case ACME_PH_NEW_ACCOUNT:      return "needs a new account";
    case ACME_PH_ADMIN:            return "needs the admin";
    }
    return "unknown";
}

/* ------------------------------------------------------------------ Link headers */

typedef struct link_ctx_t {
    apr_pool_t *p;
    const char *rel;
    apr_array_header_t *urls;
} link_ctx_t;

static const char *skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t') {
        ++s;
    }
    return s;
}

/* Does the space-separated rel list contain rel? */
static int rel_matches(const char *list, apr_size_t len, const char *rel)
{
    apr_size_t rlen = strlen(rel), i = 0;
    while (i < len) {
        apr_size_t start;
        while (i < len && (list[i] == ' ' || list[i] == '\t')) {
            ++i;
        }
        start = i;
        while (i < len && list[i] != ' ' && list[i] != '\t') {
            ++i;
        }
        if (i - start == rlen && rlen && !strncasecmp(list + start, rel, rlen)) {
            return 1;
        }
    }
    return 0;
}

/* Parse one Link header value: link-value *( "," link-value ). */
static void links_parse(link_ctx_t *ctx, const char *s)
{
    while (*s) {
        const char *uri, *uri_end;
        int match = 0;

        s = skip_ws(s);
        if (*s == ',') {
            ++s;
            continue;
        }
        if (*s != '<') {
            /* garbage: skip to the next link-value */
            while (*s && *s != ',') {
                ++s;
            }
            continue;
        }
        uri = ++s;
        uri_end = strchr(s, '>');
        if (!uri_end) {
            return;
        }
        s = uri_end + 1;
        /* parameters */
        for (;;) {
            const char *name, *name_end, *val = NULL;
            apr_size_t vlen = 0;
            char *unq = NULL;

            s = skip_ws(s);
            if (*s != ';') {
                break;
            }
            s = skip_ws(s + 1);
            name = s;
            while (*s && *s != '=' && *s != ';' && *s != ',' && *s != ' ' && *s != '\t') {
                ++s;
            }
            name_end = s;
            s = skip_ws(s);
            if (*s == '=') {
                s = skip_ws(s + 1);
                if (*s == '"') {
                    apr_size_t cap = 0;
                    const char *q = ++s;
                    while (*q && *q != '"') {
                        q += (*q == '\\' && q[1]) ? 2 : 1;
                        ++cap;
                    }
                    unq = apr_palloc(ctx->p, cap + 1);
                    while (*s && *s != '"') {
                        if (*s == '\\' && s[1]) {
                            ++s;
                        }
                        unq[vlen++] = *s++;
                    }
                    unq[vlen] = '\0';
                    if (*s == '"') {
                        ++s;
                    }
                    val = unq;
                }
                else {
                    val = s;
                    while (*s && *s != ';' && *s != ',' && *s != ' ' && *s != '\t') {
                        ++s;
                    }
                    vlen = (apr_size_t)(s - val);
                }
            }
            if (val && name_end - name == 3 && !strncasecmp(name, "rel", 3)
                && rel_matches(val, vlen, ctx->rel)) {
                match = 1;
            }
        }
        if (match) {
            APR_ARRAY_PUSH(ctx->urls, const char *) =
                apr_pstrmemdup(ctx->p, uri, (apr_size_t)(uri_end - uri));
        }
        /* skip whatever is left of this link-value */
        while (*s && *s != ',') {
            ++s;
        }
    }
}

static int link_cb(void *baton, const char *key, const char *value)
{
    if (value) {
        links_parse(baton, value);
    }
    return 1;
}

apr_array_header_t *acme_links(apr_pool_t *p, apr_table_t *headers, const char *rel)
{
    link_ctx_t ctx;
    ctx.p = p;
    ctx.rel = rel ? rel : "";
    ctx.urls = apr_array_make(p, 4, sizeof(const char *));
    if (headers) {
        apr_table_do(link_cb, &ctx, headers, "Link", NULL);
    }
    return ctx.urls;
}
