/* Challenge providers: http-01 and tls-alpn-01 publish in the store (ACME_GROUP_CHALLENGES)
 * for the workers that answer the CA, dns-01 through the admin's hook program. The
 * responder asks the same table for the answer to a request or a handshake, so the store
 * names, the aspects and the token check exist once. */
#include <string.h>

#include <apr_file_info.h>
#include <apr_strings.h>

#include "acme_challenge.h"
#include "acme_cert.h"
#include "acme_crypto.h"
#include "acme_dns.h"
#include "acme_ident.h"
#include "acme_log.h"
#include "acme_proc.h"
#include "acme_util.h"

#define DNS_POLL_INTERVAL apr_time_from_sec(2)
#define DNS_HOOK_TIMEOUT  apr_time_from_sec(60)
#define TLSALPN01_PREFIX  "alpn-"   /* store names of tls-alpn-01 responses */

/* ------------------------------------------------------------------ shared */

int acme_challenge_token_valid(const char *token)
{
    apr_size_t n = 0;
    const char *s;

    if (!token) {
        return 0;
    }
    for (s = token; *s; ++s, ++n) {
        char ch = *s;
        if (n >= ACME_TOKEN_MAX_LEN
            || !((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
                 || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_')) {
            return 0;
        }
    }
    return n > 0;
}

const char *acme_http01_store_name(apr_pool_t *p, const char *token)
{
    unsigned char md[32];
    if (!token || acme_sha256(md, token, strlen(token)) != APR_SUCCESS) {
        return NULL;
    }
    return acme_hex(p, md, sizeof(md));
}

const char *acme_tlsalpn01_store_name(apr_pool_t *p, const char *name)
{
    unsigned char md[32];
    const char *lower = acme_name_lower(p, name);
    acme_sha256(md, lower, strlen(lower));
    return apr_pstrcat(p, TLSALPN01_PREFIX, acme_hex(p, md, sizeof(md)), NULL);
}

const char *acme_dns01_txt(apr_pool_t *p, const char *key_auth)
{
    unsigned char md[32];
    acme_sha256(md, key_auth, strlen(key_auth));
    return acme_b64url_encode(p, md, sizeof(md));
}

/* Tell the responders' count (env->http01_count) about a publication. */
static void count_publication(const acme_challenge_env_t *env, const acme_challenge_t *ch,
                              const char *key, int delta)
{
    if (env->http01_count) {
        env->http01_count(env->http01_count_baton, ch->type, key, delta);
    }
}

static void unpublish_failed(const acme_challenge_env_t *env, apr_status_t rv,
                             const acme_challenge_t *ch)
{
    if (rv != APR_SUCCESS) {
        acme_log(ACME_LOG_WARNING, rv, ACMELOGNO(00300) "certificate %s: removing the %s "
                 "response for %s failed", env->cert_id, ch->type, ch->ident);
    }
}

static apr_status_t publish_result(acme_result_t *res, apr_pool_t *p, apr_status_t rv,
                                   const acme_challenge_t *ch)
{
    if (rv != APR_SUCCESS) {
        acme_result_set(res, p, rv, "publishing the %s response for %s failed", ch->type,
                        ch->ident);
    }
    return rv;
}

/* ------------------------------------------------------------------ http-01 */


static apr_status_t http01_publish(const acme_challenge_env_t *env, const acme_challenge_t *ch,
                                   apr_pool_t *p, acme_result_t *res)
{
    const char *name = acme_http01_store_name(p, ch->token);
    apr_status_t rv;

    /* counted before it exists: the responder then looks, and finds it or not; every
     * publication is unpublished (and uncounted) once, also when saving failed */
    count_publication(env, ch, ch->token, 1);
    /* the host first: the worker answers only when the response is there too */
    rv = acme_store_save(env->store, ACME_GROUP_CHALLENGES, name, ACME_HTTP01_HOST, ch->ident,
                         strlen(ch->ident), p);
    if (rv == APR_SUCCESS) {
        rv = acme_store_save(env->store, ACME_GROUP_CHALLENGES, name, ACME_HTTP01_ASPECT,
                             ch->key_auth, strlen(ch->key_auth), p);
    }
    return publish_result(res, p, rv, ch);
}

static void http01_unpublish(const acme_challenge_env_t *env, const acme_challenge_t *ch,
                             apr_pool_t *p)
{
    apr_status_t rv = acme_store_remove(env->store, ACME_GROUP_CHALLENGES,
                                        acme_http01_store_name(p, ch->token), NULL, p);
    count_publication(env, ch, ch->token, -1);
    unpublish_failed(env, rv, ch);
}

static void http01_forget(const acme_challenge_env_t *env, const char *token,
                          const char *ident, apr_pool_t *p)
{
    if (acme_challenge_token_valid(token)) {
        acme_store_remove(env->store, ACME_GROUP_CHALLENGES, acme_http01_store_name(p, token),
                          NULL, p);
    }
}

/* A request's Host against the identifier a response is for: names case-insensitive,
 * addresses by value ("[::1]" is ::1). */
static int same_host(apr_pool_t *p, const char *asked, const char *ident)
{
    const char *ip;
    if (!asked) {
        return 0;
    }
    ip = acme_ident_ip(p, asked);
    return ip ? !strcmp(ip, ident) : !strcasecmp(asked, ident);
}

static apr_status_t http01_lookup(acme_challenge_answer_t **pans, apr_pool_t *p,
                                  acme_store_t *st, const acme_challenge_query_t *q)
{
    acme_challenge_answer_t *ans;
    const char *name;
    char *data = NULL, *host = NULL;
    apr_size_t len = 0;

    *pans = NULL;
    if (!acme_challenge_token_valid(q->token)) {
        return APR_EINVAL;
    }
    /* a token nobody published a response to needs no look-up at all */
    if (q->pending && !acme_pending_wanted(q->pending, ACME_CHALLENGE_HTTP01, q->token)) {
        return APR_ENOENT;
    }
    name = acme_http01_store_name(p, q->token);
    if (!name || acme_store_load(st, ACME_GROUP_CHALLENGES, name, ACME_HTTP01_ASPECT, &data,
                                 &len, p) != APR_SUCCESS) {
        return APR_ENOENT;
    }
    /* the response is for one identifier: a request naming another host gets none.
     * Entries written before the host was recorded are answered as before. */
    if (acme_store_load(st, ACME_GROUP_CHALLENGES, name, ACME_HTTP01_HOST, &host, NULL, p)
            == APR_SUCCESS
        && !same_host(p, q->host, host)) {
        return APR_EACCES;
    }
    ans = apr_pcalloc(p, sizeof(*ans));
    ans->body = data;
    ans->body_len = len;
    *pans = ans;
    return APR_SUCCESS;
}

apr_status_t acme_challenge_http01_sweep(apr_array_header_t **premoved, int *pleft,
                                         apr_pool_t *p, acme_store_t *st, apr_time_t now,
                                         apr_interval_time_t max_age)
{
    apr_array_header_t *names = NULL;
    apr_status_t rv;
    int i;

    *premoved = apr_array_make(p, 2, sizeof(const char *));
    *pleft = 0;
    rv = st->list(st, ACME_GROUP_CHALLENGES, &names, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < names->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);
        int alpn = !strncmp(name, TLSALPN01_PREFIX, sizeof(TLSALPN01_PREFIX) - 1);
        const char *path = st->path(st, ACME_GROUP_CHALLENGES, name,
                                    alpn ? ACME_TLSALPN01_CERT : ACME_HTTP01_ASPECT, p);
        apr_finfo_t fi;
        /* a response without its file yet (the host, the key are written first) counts as
         * pending */
        if (path && apr_stat(&fi, path, APR_FINFO_MTIME, p) == APR_SUCCESS
            && now - fi.mtime > max_age
            && acme_store_remove(st, ACME_GROUP_CHALLENGES, name, NULL, p) == APR_SUCCESS) {
            APR_ARRAY_PUSH(*premoved, const char *) = name;
            continue;
        }
        ++*pleft;
    }
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------ tls-alpn-01 */

static apr_status_t tlsalpn01_publish(const acme_challenge_env_t *env,
                                      const acme_challenge_t *ch, apr_pool_t *p,
                                      acme_result_t *res)
{
    acme_key_t *key;
    const char *cert, *kpem, *name = acme_tlsalpn01_store_name(p, ch->ident);
    char *sealed;
    apr_size_t klen, slen;
    apr_status_t rv;

    /* counted before it exists, like http-01's (unpublish uncounts it, also on failure) */
    count_publication(env, ch, ch->ident, 1);
    if ((rv = acme_key_generate(&key, p, ACME_KEY_EC_P256)) == APR_SUCCESS
        && (rv = acme_tlsalpn01_cert_create(&cert, p, key, ch->ident, ch->key_auth))
               == APR_SUCCESS
        && (rv = acme_key_to_pem(&kpem, &klen, p, key)) == APR_SUCCESS
        && (rv = acme_seal(&sealed, &slen, p, env->secret, kpem, klen)) == APR_SUCCESS
        && (rv = acme_store_save(env->store, ACME_GROUP_CHALLENGES, name, ACME_TLSALPN01_KEY,
                                 sealed, slen, p)) == APR_SUCCESS) {
        /* the certificate last: the worker answers only when both are there */
        rv = acme_store_save(env->store, ACME_GROUP_CHALLENGES, name, ACME_TLSALPN01_CERT,
                             cert, strlen(cert), p);
    }
    return publish_result(res, p, rv, ch);
}

static void tlsalpn01_unpublish(const acme_challenge_env_t *env, const acme_challenge_t *ch,
                                apr_pool_t *p)
{
    apr_status_t rv = acme_store_remove(env->store, ACME_GROUP_CHALLENGES,
                                        acme_tlsalpn01_store_name(p, ch->ident), NULL, p);
    count_publication(env, ch, ch->ident, -1);
    unpublish_failed(env, rv, ch);
}

static apr_status_t tlsalpn01_lookup(acme_challenge_answer_t **pans, apr_pool_t *p,
                                     acme_store_t *st, const acme_challenge_query_t *q)
{
    acme_challenge_answer_t *ans;
    const char *name, *ip;
    char *cert, *sealed, *key;
    apr_size_t clen, slen, klen;

    *pans = NULL;
    if (!q->host || !*q->host || !q->secret) {
        return APR_EINVAL;
    }
    /* an address is validated with its reverse-DNS name as SNI (RFC 8738 section 6) */
    ip = acme_ident_from_reverse_name(p, q->host);
    /* a name nobody validates right now needs no look-up (and no hash) */
    if (q->pending && !acme_pending_wanted(q->pending, ACME_CHALLENGE_TLSALPN01,
                                           ip ? ip : q->host)) {
        return APR_ENOENT;
    }
    name = acme_tlsalpn01_store_name(p, ip ? ip : q->host);
    if (acme_store_load(st, ACME_GROUP_CHALLENGES, name, ACME_TLSALPN01_CERT, &cert, &clen, p)
            != APR_SUCCESS
        || acme_store_load(st, ACME_GROUP_CHALLENGES, name, ACME_TLSALPN01_KEY, &sealed, &slen,
                           p) != APR_SUCCESS
        || acme_unseal(&key, &klen, p, q->secret, sealed, slen) != APR_SUCCESS) {
        return APR_ENOENT;
    }
    ans = apr_pcalloc(p, sizeof(*ans));
    ans->cert_pem = cert;
    ans->key_pem = key;
    *pans = ans;
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------ dns-01 */

/* Run the admin's dns-01 hook: PROGRAM ARGS setup|teardown DOMAIN TXT-VALUE. */
static apr_status_t dns_hook_run(const acme_challenge_env_t *env, const char *action,
                                 const char *domain, const char *txt, apr_pool_t *p,
                                 acme_result_t *res)
{
    const acme_dns_hook_t *h = env->dns_hook;
    apr_array_header_t *argv = apr_array_make(p, 6, sizeof(const char *));
    const char *out = "";
    int code = 0, i;
    apr_status_t rv;

    if (!h || !h->program) {
        return acme_result_set(res, p, APR_EINVAL, "dns-01 for %s needs an ACMEDNSHook",
                               domain);
    }
    APR_ARRAY_PUSH(argv, const char *) = h->program;
    for (i = 0; h->args && i < h->args->nelts; ++i) {
        APR_ARRAY_PUSH(argv, const char *) = APR_ARRAY_IDX(h->args, i, const char *);
    }
    APR_ARRAY_PUSH(argv, const char *) = action;
    APR_ARRAY_PUSH(argv, const char *) = domain;
    APR_ARRAY_PUSH(argv, const char *) = txt;
    APR_ARRAY_PUSH(argv, const char *) = NULL;
    rv = acme_proc_run(&code, &out, p, (const char *const *)argv->elts, NULL,
                       h->timeout > 0 ? h->timeout : DNS_HOOK_TIMEOUT);
    if (!out) {
        out = "";
    }
    if (rv == APR_SUCCESS && code == 0) {
        acme_log(ACME_LOG_INFO, APR_SUCCESS, ACMELOGNO(00301) "certificate %s: dns-01 hook %s "
                 "%s succeeded%s%s", env->cert_id, action, domain, *out ? "; output: " : "",
                 out);
        return APR_SUCCESS;
    }
    return acme_result_set(res, p, rv == APR_SUCCESS ? ACME_EHOOK : rv,
                           "the dns-01 hook %s %s %s %s%s%s", h->program, action, domain,
                           rv == APR_TIMEUP ? "did not finish in time and was killed"
                           : rv != APR_SUCCESS ? "could not be started"
                           : apr_psprintf(p, "failed with exit status %d", code),
                           *out ? "; output: " : "", out);
}

/* Wait until the TXT record is visible (or the propagation timeout passes). */
static void dns_wait_visible(const acme_challenge_env_t *env, const char *record,
                             const char *txt, apr_pool_t *p)
{
    const acme_dns_hook_t *h = env->dns_hook;
    apr_time_t deadline = apr_time_now() + h->propagation_timeout;
    int tries = 0;

    if (h->propagation_timeout <= 0) {
        return;
    }
    for (;;) {
        apr_array_header_t *values;
        int i;
        ++tries;
        if (acme_dns_txt(&values, p, record, h->resolver) == APR_SUCCESS) {
            for (i = 0; i < values->nelts; ++i) {
                if (!strcmp(APR_ARRAY_IDX(values, i, const char *), txt)) {
                    acme_log(ACME_LOG_DEBUG, APR_SUCCESS, ACMELOGNO(00302) "certificate %s: "
                             "%s visible after %d look-up(s)", env->cert_id, record, tries);
                    return;
                }
            }
        }
        if (apr_time_now() >= deadline) {
            acme_log(ACME_LOG_WARNING, APR_SUCCESS, ACMELOGNO(00303) "certificate %s: the TXT "
                     "record %s is not visible through %s after %s (ACMEDNSPropagationTimeout):"
                     " asking the CA to validate anyway", env->cert_id, record,
                     h->resolver ? h->resolver : "the system resolver",
                     acme_duration_print(p, h->propagation_timeout));
            return;
        }
        if (env->sleep) {
            env->sleep(env->sleep_baton, DNS_POLL_INTERVAL);
        }
        else {
            apr_sleep(DNS_POLL_INTERVAL);
        }
    }
}

static apr_status_t dns01_publish(const acme_challenge_env_t *env, const acme_challenge_t *ch,
                                  apr_pool_t *p, acme_result_t *res)
{
    const char *txt = acme_dns01_txt(p, ch->key_auth);
    apr_status_t rv = dns_hook_run(env, "setup", ch->ident, txt, p, res);
    if (rv == APR_SUCCESS) {
        dns_wait_visible(env, apr_pstrcat(p, "_acme-challenge.", ch->ident, NULL), txt, p);
    }
    return rv;
}

static void dns01_unpublish(const acme_challenge_env_t *env, const acme_challenge_t *ch,
                            apr_pool_t *p)
{
    acme_result_t tres;
    apr_status_t rv;

    /* teardown always runs; its failure is logged, the outcome stays the order's */
    acme_result_reset(&tres);
    rv = dns_hook_run(env, "teardown", ch->ident, acme_dns01_txt(p, ch->key_auth), p, &tres);
    if (rv != APR_SUCCESS) {
        acme_log(ACME_LOG_WARNING, rv, ACMELOGNO(00304) "certificate %s: %s", env->cert_id,
                 tres.detail ? tres.detail : "dns-01 teardown failed");
    }
}

/* ------------------------------------------------------------------ dns-persist-01 */

const char *acme_dnspersist_name(apr_pool_t *p, const acme_challenge_t *ch)
{
    return ch && ch->ident ? apr_pstrcat(p, "_validation-persist.", ch->ident, NULL) : NULL;
}

const char *acme_dnspersist_value(apr_pool_t *p, const acme_challenge_t *ch)
{
    if (!ch || !ch->issuer || !*ch->issuer || !ch->account_url || !*ch->account_url) {
        return NULL;
    }
    return apr_pstrcat(p, ch->issuer, "; accounturi=", ch->account_url,
                       ch->wildcard ? "; policy=wildcard" : "", NULL);
}

const char *acme_dnspersist_record(apr_pool_t *p, const acme_challenge_t *ch)
{
    const char *name = acme_dnspersist_name(p, ch), *value = acme_dnspersist_value(p, ch);
    if (!name || !value) {
        return NULL;
    }
    return apr_psprintf(p, "%s. IN TXT \"%s\"", name, value);
}

/* Nothing to publish: the admin's standing record answers every order. Say which record
 * the CA looks for, so the admin sees it exactly. */
static apr_status_t dnspersist_publish(const acme_challenge_env_t *env,
                                       const acme_challenge_t *ch, apr_pool_t *p,
                                       acme_result_t *res)
{
    const char *record = acme_dnspersist_record(p, ch);
    if (!record) {
        return acme_result_set(res, p, ACME_EPROTO, "the dns-persist-01 challenge for %s "
                               "names no issuer domain (or the account URL is unknown)",
                               ch->ident);
    }
    acme_log(ACME_LOG_NOTICE, APR_SUCCESS, ACMELOGNO(00550) "certificate %s: dns-persist-01 "
             "for %s%s: the CA looks for the standing DNS record %s (published once by the "
             "admin; mod_acme changes nothing in DNS)", env->cert_id,
             ch->wildcard ? "*." : "", ch->ident, record);
    return APR_SUCCESS;
}

static void dnspersist_unpublish(const acme_challenge_env_t *env, const acme_challenge_t *ch,
                                 apr_pool_t *p)
{
    /* the record stays: it is the admin's */
}

/* ------------------------------------------------------------------ the table */

static const acme_challenge_provider_t providers[] = {
    { ACME_CHALLENGE_HTTP01, 0, 0, http01_publish, http01_unpublish, http01_forget,
      http01_lookup },
    { ACME_CHALLENGE_TLSALPN01, 0, 0, tlsalpn01_publish, tlsalpn01_unpublish, NULL,
      tlsalpn01_lookup },
    { ACME_CHALLENGE_DNS01, 1, 1, dns01_publish, dns01_unpublish, NULL, NULL },
    /* draft-ietf-acme-dns-persist: a standing TXT record, nothing to publish per order */
    { ACME_CHALLENGE_DNSPERSIST01, 1, 0, dnspersist_publish, dnspersist_unpublish, NULL,
      NULL },
};

const acme_challenge_provider_t *acme_challenge_provider(const char *type)
{
    size_t i;
    for (i = 0; type && i < sizeof(providers) / sizeof(providers[0]); ++i) {
        if (!strcmp(providers[i].type, type)) {
            return providers[i].publish ? &providers[i] : NULL;
        }
    }
    return NULL;
}

int acme_challenge_ip_ok(const char *type)
{
    return type && (!strcmp(type, ACME_CHALLENGE_HTTP01)
                    || !strcmp(type, ACME_CHALLENGE_TLSALPN01));
}

static const char *const default_type_names[] = { ACME_CHALLENGE_HTTP01 };
/* const: the driver's order threads all read it */
static const apr_array_header_t default_types = {
    .pool = NULL,
    .elt_size = sizeof(const char *),
    .nelts = 1,
    .nalloc = 1,
    .elts = (char *)default_type_names,
};

const apr_array_header_t *acme_challenge_default_types(void)
{
    return &default_types;
}

const char *acme_challenge_choose(const apr_array_header_t *allowed,
                                  const apr_array_header_t *offered, int wildcard,
                                  int have_dns_hook)
{
    int i, j;

    for (i = 0; allowed && i < allowed->nelts; ++i) {
        const char *type = APR_ARRAY_IDX(allowed, i, const char *);
        const acme_challenge_provider_t *prov = acme_challenge_provider(type);
        if (!prov || (wildcard && !prov->wildcard_ok)
            || (prov->needs_dns_hook && !have_dns_hook)) {
            continue;
        }
        for (j = 0; offered && j < offered->nelts; ++j) {
            const char *o = APR_ARRAY_IDX(offered, j, const char *);
            if (o && !strcmp(o, type)) {
                return prov->type;
            }
        }
    }
    return NULL;
}

apr_status_t acme_challenge_lookup(acme_challenge_answer_t **pans, apr_pool_t *p,
                                   acme_store_t *st, const char *type,
                                   const acme_challenge_query_t *q)
{
    const acme_challenge_provider_t *prov = acme_challenge_provider(type);

    *pans = NULL;
    if (!prov || !prov->lookup) {
        return APR_ENOTIMPL;
    }
    if (!st || !q) {
        return APR_EINVAL;
    }
    return prov->lookup(pans, p, st, q);
}
