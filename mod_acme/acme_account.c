/* ACME accounts (RFC 8555 7.3): one per CA, kept in the store as
 *   accounts/<name>/account.json  {"url","ca","contact":[..],"created"} and, once they
 *                                 happened, "contact_updated", "key_changed", and
 *                                 "status":"deactivated" with "deactivated"
 *   accounts/<name>/key.sealed    the account key (PKCS#8 PEM) sealed under the secret
 * The key is written (sealed) before the CA hears of it, so an account the CA created just
 * before a crash is found again with onlyReturnExisting. A key change (RFC 8555 7.3.5)
 * keeps the new key as key.sealed.next until the CA accepted it, then makes it key.sealed. */
#include <string.h>

#include <apr_strings.h>
#include <apr_uri.h>

#include "acme_account.h"
#include "acme_json.h"
#include "acme_jws.h"
#include "acme_log.h"
#include "acme_util.h"

#define ASPECT_ACCOUNT "account.json"
#define ASPECT_KEY     "key.sealed"
#define ASPECT_NEXT    "key.sealed.next"

static int safe_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')
           || ch == '.' || ch == '-';
}

const char *acme_account_store_name(apr_pool_t *p, const char *directory_url)
{
    apr_uri_t uri;
    const char *raw;
    char *name;
    apr_size_t i, n;

    memset(&uri, 0, sizeof(uri));
    if (directory_url && apr_uri_parse(p, directory_url, &uri) == APR_SUCCESS && uri.hostname) {
        raw = apr_pstrcat(p, uri.hostname, uri.port_str ? "_" : "",
                          uri.port_str ? uri.port_str : "", uri.path ? uri.path : "", NULL);
    }
    else {
        raw = directory_url ? directory_url : "ca";
    }
    name = apr_pstrdup(p, raw);
    for (i = 0; name[i]; ++i) {
        if (!safe_char(name[i])) {
            name[i] = '_';
        }
    }
    /* no trailing separators, never a name starting with a dot ("..", hidden files) */
    n = strlen(name);
    while (n > 1 && name[n - 1] == '_') {
        name[--n] = '\0';
    }
    if (name[0] == '.' || name[0] == '\0') {
        return apr_pstrcat(p, "_", name, NULL);
    }
    return name;
}

const char *acme_account_entry_name(apr_pool_t *p, const char *directory_url,
                                    const char *eab_kid)
{
    const char *base = acme_account_store_name(p, directory_url), *c;
    unsigned char md[32];

    if (!eab_kid || !*eab_kid) {
        return base;
    }
    for (c = eab_kid; *c && (safe_char(*c) || *c == '_'); ++c) {
    }
    if (!*c && strlen(eab_kid) <= 64) {
        return apr_pstrcat(p, base, "+eab-", eab_kid, NULL);
    }
    acme_sha256(md, eab_kid, strlen(eab_kid));
    return apr_pstrcat(p, base, "+eab-sha-", acme_hex(p, md, 8), NULL);
}

static json_t *contacts_json(const acme_account_spec_t *spec)
{
    json_t *arr = json_array();
    int i;
    if (spec && spec->contacts) {
        for (i = 0; i < spec->contacts->nelts; ++i) {
            const char *s = APR_ARRAY_IDX(spec->contacts, i, const char *);
            if (s && *s) {
                json_array_append_new(arr, json_string(s));
            }
        }
    }
    return arr;
}

static apr_status_t save_record(acme_store_t *st, const char *name, const json_t *j,
                                apr_pool_t *p)
{
    const char *text = acme_json_dump(p, j);
    return acme_store_save(st, ACME_GROUP_ACCOUNTS, name, ASPECT_ACCOUNT, text, strlen(text), p);
}

static apr_status_t save_account(acme_store_t *st, const char *name, const char *url,
                                 const char *ca, const acme_account_spec_t *spec, apr_pool_t *p)
{
    json_t *j = acme_json_pool(p, json_object());

    json_object_set_new(j, "url", json_string(url));
    json_object_set_new(j, "ca", json_string(ca));
    json_object_set_new(j, "contact", contacts_json(spec));
    if (spec && spec->eab) {
        json_object_set_new(j, "eab_kid", json_string(spec->eab->kid));
    }
    json_object_set_new(j, "created", json_string(acme_time_rfc3339(p, apr_time_now())));
    return save_record(st, name, j, p);
}

/* accounts/<name>/account.json parsed (pool-owned); NULL with *prv set when missing
 * (APR_ENOENT), unreadable or not JSON (APR_EGENERAL). */
static json_t *load_record(apr_status_t *prv, acme_store_t *st, const char *name, apr_pool_t *p)
{
    char *text = NULL;
    apr_size_t len = 0;
    json_t *j = NULL;

    *prv = acme_store_load(st, ACME_GROUP_ACCOUNTS, name, ASPECT_ACCOUNT, &text, &len, p);
    if (*prv == APR_SUCCESS) {
        j = acme_json_parse(p, text, len, NULL);
        *prv = j && json_is_object(j) ? APR_SUCCESS : APR_EGENERAL;
    }
    return *prv == APR_SUCCESS ? j : NULL;
}

static int is_deactivated(const json_t *j)
{
    const char *status = j ? acme_json_str(j, "status") : NULL;
    return status && !strcmp(status, "deactivated");
}

/* The stored account key. APR_ENOENT when there is none; another error, with *pwhy saying
 * what is wrong with key.sealed, when it is unusable. */
static apr_status_t load_key(acme_key_t **pkey, const char **pwhy, acme_store_t *st,
                             const char *name, const unsigned char *secret, apr_pool_t *p)
{
    char *sealed = NULL, *pem = NULL, buf[120];
    apr_size_t slen = 0, plen = 0;
    apr_status_t rv;

    *pkey = NULL;
    *pwhy = NULL;
    rv = acme_store_load(st, ACME_GROUP_ACCOUNTS, name, ASPECT_KEY, &sealed, &slen, p);
    if (rv != APR_SUCCESS) {
        if (!APR_STATUS_IS_ENOENT(rv)) {
            *pwhy = apr_pstrcat(p, "cannot be read (", apr_strerror(rv, buf, sizeof(buf)), ")",
                                NULL);
        }
        return rv;
    }
    rv = acme_unseal(&pem, &plen, p, secret, sealed, slen);
    if (rv != APR_SUCCESS) {
        *pwhy = acme_unseal_problem(sealed, slen);
        return rv;
    }
    rv = acme_key_from_pem(pkey, p, pem, plen);
    /* wipe the plain key text from the pool memory */
    memset(pem, 0, plen);
    if (rv != APR_SUCCESS) {
        *pwhy = "holds no private key once unsealed (damaged)";
    }
    return rv;
}

apr_status_t acme_account_key_load(acme_key_t **pkey, const char **pwhy, acme_store_t *st,
                                   const char *name, const unsigned char *secret, apr_pool_t *p)
{
    return load_key(pkey, pwhy, st, name, secret, p);
}

/* An unusable (tag "damaged") or deactivated account key: keep key.sealed and account.json
 * as <aspect>.<tag>-<time> (the old account URL and key stay there, e.g. for a secret
 * restored later) and remove them, so that a new account can be made. */
static apr_status_t set_aside(const char **psuffix, acme_store_t *st, const char *name,
                              const char *tag, apr_pool_t *p)
{
    static const char *const aspects[] = { ASPECT_KEY, ASPECT_ACCOUNT };
    const char *suffix = apr_pstrcat(p, ".", tag, "-", acme_time_rfc3339(p, apr_time_now()),
                                     NULL);
    apr_status_t rv = APR_SUCCESS;
    apr_size_t i;

    for (i = 0; i < sizeof(aspects) / sizeof(aspects[0]) && rv == APR_SUCCESS; ++i) {
        char *data;
        apr_size_t len;
        rv = acme_store_load(st, ACME_GROUP_ACCOUNTS, name, aspects[i], &data, &len, p);
        if (APR_STATUS_IS_ENOENT(rv)) {
            rv = APR_SUCCESS;
            continue;
        }
        if (rv == APR_SUCCESS) {
            rv = acme_store_save(st, ACME_GROUP_ACCOUNTS, name,
                                 apr_pstrcat(p, aspects[i], suffix, NULL), data, len, p);
        }
        if (rv == APR_SUCCESS) {
            /* only what was copied goes: a file that cannot be read stays for the admin */
            rv = acme_store_remove(st, ACME_GROUP_ACCOUNTS, name, aspects[i], p);
        }
    }
    *psuffix = suffix;
    return rv;
}

static apr_status_t save_key(acme_store_t *st, const char *name, const char *aspect,
                             const acme_key_t *key, const unsigned char *secret, apr_pool_t *p,
                             acme_result_t *res)
{
    const char *pem = NULL;
    char *sealed = NULL;
    apr_size_t plen = 0, slen = 0;
    apr_status_t rv;

    rv = acme_key_to_pem(&pem, &plen, p, key);
    if (rv == APR_SUCCESS) {
        rv = acme_seal(&sealed, &slen, p, secret, pem, plen);
        memset((char *)pem, 0, plen);
    }
    if (rv == APR_SUCCESS) {
        rv = acme_store_save(st, ACME_GROUP_ACCOUNTS, name, aspect, sealed, slen, p);
    }
    if (rv != APR_SUCCESS) {
        acme_result_set(res, p, rv, "saving the new account key of %s (%s) failed", name,
                        aspect);
    }
    return rv;
}

/* Ask the CA for the account of key (onlyReturnExisting). *purl NULL when it has none. */
static apr_status_t lookup_account(const char **purl, acme_client_t *c, apr_pool_t *p,
                                   acme_result_t *res)
{
    acme_response_t *resp = NULL;
    apr_status_t rv;

    *purl = NULL;
    rv = acme_client_post(&resp, c, p, acme_client_endpoint(c, "newAccount"),
                          "{\"onlyReturnExisting\":true}", 1, res);
    if (rv == ACME_EPROBLEM && acme_problem_handling(res) == ACME_PH_NEW_ACCOUNT) {
        acme_result_reset(res);
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (!resp->location) {
        return acme_result_set(res, p, ACME_EPROTO, "the CA answered the account lookup "
                               "without a Location header");
    }
    *purl = resp->location;
    return APR_SUCCESS;
}

/* A new account can be made as far as EAB goes: APR_SUCCESS, else res says why not (the
 * CA requires a binding and none is configured, or its key file was unusable). */
static apr_status_t eab_check(acme_client_t *c, const acme_account_spec_t *spec, apr_pool_t *p,
                              acme_result_t *res)
{
    const acme_eab_t *eab = spec ? spec->eab : NULL;
    apr_status_t rv = APR_SUCCESS;

    if (!eab && acme_client_eab_required(c)) {
        rv = acme_result_set(res, p, APR_EINVAL, "the CA at %s requires External Account "
                             "Binding (EAB) for new accounts: add 'ACMEExternalAccountBinding "
                             "KID KEY-FILE' with the key id and the HMAC key the CA gave you",
                             acme_client_directory_url(c));
    }
    else if (eab && !eab->key) {
        rv = acme_result_set(res, p, APR_EINVAL, "the HMAC key of ACMEExternalAccountBinding "
                             "(key id %s) could not be read at the last start: %s; fix it and "
                             "restart", eab->kid, eab->why ? eab->why : "no key");
    }
    if (rv != APR_SUCCESS) {
        res->subject = acme_client_directory_url(c);
    }
    return rv;
}

/* Add "externalAccountBinding" (RFC 8555 7.3.4) for key to a newAccount payload. */
static apr_status_t eab_add(json_t *payload, acme_client_t *c, const acme_key_t *key,
                            const acme_eab_t *eab, apr_pool_t *p, acme_result_t *res)
{
    json_t *jws = NULL;
    apr_status_t rv = acme_jws_eab(&jws, p, key, eab->kid, eab->key, eab->key_len,
                                   acme_client_endpoint(c, "newAccount"));
    if (rv != APR_SUCCESS) {
        return acme_result_set(res, p, rv, "making the External Account Binding for key id "
                               "%s failed", eab->kid);
    }
    json_object_set(payload, "externalAccountBinding", jws);
    return APR_SUCCESS;
}

static apr_status_t new_account(const char **purl, acme_client_t *c, const acme_key_t *key,
                                const acme_account_spec_t *spec, apr_pool_t *p,
                                acme_result_t *res)
{
    acme_response_t *resp = NULL;
    json_t *payload = acme_json_pool(p, json_object());
    const char *tos = acme_client_tos(c);
    apr_status_t rv;

    *purl = NULL;
    if (tos && !(spec && spec->agree_tos)) {
        rv = acme_result_set(res, p, ACME_ETOS, "the CA's terms of service at %s must be "
                             "accepted: add 'ACMEAgreeTerms on'", tos);
        res->subject = acme_client_directory_url(c);
        return rv;
    }
    if ((rv = eab_check(c, spec, p, res)) != APR_SUCCESS) {
        return rv;
    }
    if (json_array_size(acme_json_pool(p, contacts_json(spec))) > 0) {
        /* optional (RFC 8555 7.3): no ACMEContact, no contact member */
        json_object_set_new(payload, "contact", contacts_json(spec));
    }
    if (spec && spec->agree_tos) {
        json_object_set_new(payload, "termsOfServiceAgreed", json_true());
    }
    if (spec && spec->eab) {
        rv = eab_add(payload, c, key, spec->eab, p, res);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    acme_client_set_account(c, key, NULL);
    rv = acme_client_post(&resp, c, p, acme_client_endpoint(c, "newAccount"),
                          acme_json_dump(p, payload), 1, res);
    if (rv == ACME_EPROBLEM && spec && spec->eab) {
        /* say which binding the CA refused; the key itself is never named */
        res->detail = apr_psprintf(p, "the CA refused the new account with External Account "
                                   "Binding key id %s (check the key id and the key in %s "
                                   "of ACMEExternalAccountBinding): %s", spec->eab->kid,
                                   spec->eab->file ? spec->eab->file : "the key file",
                                   res->detail ? res->detail : "no detail");
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (!resp->location || (resp->status != 200 && resp->status != 201)) {
        return acme_result_set(res, p, ACME_EPROTO, "the CA answered newAccount with HTTP %d%s",
                               resp->status, resp->location ? "" : " and no Location header");
    }
    *purl = resp->location;
    return APR_SUCCESS;
}

/* Does the contact the record says was sent differ from want? */
static int contact_differs(const json_t *rec, const json_t *want)
{
    const json_t *had = json_object_get(rec, "contact");
    return !(json_equal(want, had) || (!had && json_array_size(want) == 0));
}

int acme_account_update_due(acme_store_t *st, const char *ca, const acme_account_spec_t *spec,
                            apr_pool_t *p)
{
    const char *name = acme_account_entry_name(p, ca, spec && spec->eab ? spec->eab->kid : NULL);
    const char *jca;
    apr_status_t rv;
    json_t *rec = load_record(&rv, st, name, p);

    jca = rec ? acme_json_str(rec, "ca") : NULL;
    return rec && acme_json_str(rec, "url") && (!jca || !strcmp(jca, ca))
           && (is_deactivated(rec)
               || contact_differs(rec, acme_json_pool(p, contacts_json(spec))));
}

/* A changed ACMEContact reaches the CA (RFC 8555 7.3.2) once: the record keeps what was
 * sent. A refusal is logged and tried again at the next run; it never stops renewals. */
static void update_contact(acme_client_t *c, acme_store_t *st, const char *name, json_t *rec,
                           const acme_account_spec_t *spec, apr_pool_t *p)
{
    json_t *want = acme_json_pool(p, contacts_json(spec)), *payload;
    acme_response_t *resp = NULL;
    acme_result_t res;
    const char *ca = acme_client_directory_url(c), *list;
    apr_status_t rv;

    if (!contact_differs(rec, want)) {
        return;
    }
    acme_result_reset(&res);
    payload = acme_json_pool(p, json_object());
    json_object_set(payload, "contact", want);
    rv = acme_client_post(&resp, c, p, acme_client_account_url(c), acme_json_dump(p, payload),
                          0, &res);
    list = spec && spec->contacts && spec->contacts->nelts
           ? acme_names_join(p, spec->contacts, ", ") : "none";
    if (rv == APR_SUCCESS) {
        json_object_set(rec, "contact", want);
        json_object_set_new(rec, "contact_updated",
                            json_string(acme_time_rfc3339(p, apr_time_now())));
        rv = save_record(st, name, rec, p);
        if (rv != APR_SUCCESS) {
            acme_result_set(&res, p, rv, "the CA took it, but saving accounts/%s/"
                            ASPECT_ACCOUNT " failed (sent again next time)", name);
        }
    }
    if (rv == APR_SUCCESS) {
        acme_log(ACME_LOG_NOTICE, APR_SUCCESS, ACMELOGNO(00490) "ACME account at %s "
                 "(accounts/%s): contact updated at the CA to: %s", ca, name, list);
    }
    else {
        acme_log(ACME_LOG_WARNING, rv, ACMELOGNO(00491) "ACME account at %s (accounts/%s): "
                 "updating the contact to %s failed: %s; tried again at the next run", ca,
                 name, list, acme_result_str(&res, p));
    }
}

apr_status_t acme_account_ensure(acme_client_t *c, acme_store_t *st,
                                 const unsigned char *secret, const acme_account_spec_t *spec,
                                 apr_pool_t *p, acme_result_t *res)
{
    const char *ca = acme_client_directory_url(c), *name, *url = NULL, *why = NULL;
    acme_account_spec_t eff;
    acme_key_t *key = NULL;
    json_t *rec = NULL;
    apr_pool_t *sp = NULL;
    apr_status_t rv;

    apr_pool_create(&sp, p);
    rv = acme_client_directory(c, res);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    if (spec && spec->eab && spec->eab_if_required && !acme_client_eab_required(c)) {
        eff = *spec;            /* this CA needs no binding: its account is made without */
        eff.eab = NULL;
        spec = &eff;
    }
    name = acme_account_entry_name(sp, ca, spec && spec->eab ? spec->eab->kid : NULL);

    rv = load_key(&key, &why, st, name, secret, p);
    if (rv != APR_SUCCESS && !APR_STATUS_IS_ENOENT(rv)) {
        /* renewing with it would fail forever: a new account instead */
        const char *suffix;
        if (set_aside(&suffix, st, name, "damaged", sp) != APR_SUCCESS) {
            rv = acme_result_set(res, p, rv, "the account key accounts/%s/key.sealed %s, and "
                                 "it cannot be moved aside: move it away (a new account is "
                                 "then created)", name, why);
            goto leave;
        }
        acme_log(ACME_LOG_WARNING, APR_SUCCESS, ACMELOGNO(00151) "ACME account at %s: "
                 "accounts/%s/key.sealed %s: kept it as key.sealed%s (account.json likewise) "
                 "and creating a new account", ca, name, why, suffix);
        key = NULL;
    }
    if (key) {
        rec = load_record(&rv, st, name, sp);
        if (rec && is_deactivated(rec)) {
            /* acmectl account deactivate: the CA refuses this account for good */
            const char *suffix;
            if ((rv = set_aside(&suffix, st, name, "deactivated", sp)) != APR_SUCCESS) {
                acme_result_set(res, p, rv, "the account in accounts/%s was deactivated and "
                                "cannot be moved aside: move it away (a new account is then "
                                "created)", name);
                goto leave;
            }
            acme_log(ACME_LOG_NOTICE, APR_SUCCESS, ACMELOGNO(00492) "ACME account at %s: "
                     "the account in accounts/%s was deactivated (%s): kept it as "
                     "account.json%s (key.sealed likewise) and creating a new account", ca,
                     name, acme_json_str(rec, "deactivated") ? acme_json_str(rec, "deactivated")
                                                             : "acmectl account deactivate",
                     suffix);
            key = NULL;
            rec = NULL;
        }
        else if (rec) {
            const char *jca = acme_json_str(rec, "ca");
            if (acme_json_str(rec, "url") && (!jca || !strcmp(jca, ca))) {
                url = apr_pstrdup(p, acme_json_str(rec, "url"));
            }
            else {
                rec = NULL;
            }
        }
        else if (!APR_STATUS_IS_ENOENT(rv) && rv != APR_EGENERAL) {
            acme_result_set(res, p, rv, "reading the account of %s from the store failed",
                            name);
            goto leave;
        }
        if (key && !url) {
            /* the key survived, its URL did not: ask the CA */
            acme_client_set_account(c, key, NULL);
            rv = lookup_account(&url, c, p, res);
            if (rv != APR_SUCCESS) {
                goto leave;
            }
            if (url) {
                /* never log the account URL: it identifies the account */
                acme_log(ACME_LOG_NOTICE, APR_SUCCESS, ACMELOGNO(00204) "ACME account at %s "
                         "found again (stored in accounts/%s)", ca, name);
                rv = save_account(st, name, url, ca, spec, sp);
                if (rv != APR_SUCCESS) {
                    acme_result_set(res, p, rv, "saving the account of %s failed", name);
                    goto leave;
                }
            }
        }
    }
    if (!key) {
        if (acme_client_tos(c) && !(spec && spec->agree_tos)) {
            /* fail before generating anything */
            const char *tos = acme_client_tos(c);
            rv = acme_result_set(res, p, ACME_ETOS, "the CA's terms of service at %s must be "
                                 "accepted: add 'ACMEAgreeTerms on'", tos);
            res->subject = ca;
            goto leave;
        }
        if ((rv = eab_check(c, spec, p, res)) != APR_SUCCESS) {
            goto leave;
        }
        rv = acme_key_generate(&key, p, ACME_KEY_EC_P256);
        if (rv != APR_SUCCESS) {
            acme_result_set(res, p, rv, "generating an account key failed");
            goto leave;
        }
        rv = save_key(st, name, ASPECT_KEY, key, secret, sp, res);
        if (rv != APR_SUCCESS) {
            goto leave;
        }
    }

    if (!url) {
        rv = new_account(&url, c, key, spec, p, res);
        if (rv != APR_SUCCESS) {
            goto leave;
        }
        rv = save_account(st, name, url, ca, spec, sp);
        if (rv != APR_SUCCESS) {
            acme_result_set(res, p, rv, "saving the account of %s failed", name);
            goto leave;
        }
        acme_log(ACME_LOG_NOTICE, APR_SUCCESS, ACMELOGNO(00205) "ACME account created at %s, "
                 "stored in accounts/%s (contact: %s)%s%s", ca, name,
                 (spec && spec->contacts && spec->contacts->nelts)
                     ? acme_names_join(sp, spec->contacts, ", ") : "none",
                 spec && spec->eab ? ", with External Account Binding key id " : "",
                 spec && spec->eab ? spec->eab->kid : "");
    }
    acme_client_set_account(c, key, url);
    if (rec) {
        update_contact(c, st, name, rec, spec, sp);
    }
    res->status = APR_SUCCESS;
    rv = APR_SUCCESS;
leave:
    if (rv != APR_SUCCESS) {
        if (!res->subject) {
            res->subject = ca;
        }
        acme_log(ACME_LOG_DEBUG, rv, ACMELOGNO(00206) "ACME account at %s: %s", ca,
                 acme_result_str(res, p));
    }
    apr_pool_destroy(sp);
    return rv;
}

apr_status_t acme_account_open(const char **pname, acme_client_t *c, acme_store_t *st,
                               const char *kid, const unsigned char *secret, apr_pool_t *p,
                               acme_result_t *res)
{
    const char *ca = acme_client_directory_url(c), *name, *url, *why = NULL, *jca;
    acme_key_t *key = NULL;
    json_t *rec;
    apr_status_t rv;

    *pname = name = acme_account_entry_name(p, ca, kid);
    rec = load_record(&rv, st, name, p);
    url = rec ? acme_json_str(rec, "url") : NULL;
    jca = rec ? acme_json_str(rec, "ca") : NULL;
    if (!url || (jca && strcmp(jca, ca))) {
        rv = acme_result_set(res, p, APR_ENOENT, "no ACME account for %s in the store "
                             "(accounts/%s/" ASPECT_ACCOUNT ")", ca, name);
        goto leave;
    }
    if (is_deactivated(rec)) {
        rv = acme_result_set(res, p, ACME_EACCOUNT_DEACTIVATED, "the account in accounts/%s "
                             "was deactivated at %s; the server creates a new one at its next "
                             "run", name, acme_json_str(rec, "deactivated")
                                           ? acme_json_str(rec, "deactivated") : "?");
        goto leave;
    }
    rv = load_key(&key, &why, st, name, secret, p);
    if (rv != APR_SUCCESS) {
        acme_result_set(res, p, rv, "the account key accounts/%s/" ASPECT_KEY " %s", name,
                        why ? why : "is missing");
        goto leave;
    }
    rv = acme_client_directory(c, res);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    acme_client_set_account(c, key, url);
leave:
    if (rv != APR_SUCCESS && !res->subject) {
        res->subject = ca;
    }
    return rv;
}

apr_status_t acme_account_fetch(json_t **pacct, acme_client_t *c, apr_pool_t *p,
                                acme_result_t *res)
{
    acme_response_t *resp = NULL;
    apr_status_t rv;

    *pacct = NULL;
    rv = acme_client_post(&resp, c, p, acme_client_account_url(c), NULL, 0, res);
    if (rv == APR_SUCCESS && !(resp->json && json_is_object(resp->json))) {
        rv = acme_result_set(res, p, ACME_EPROTO, "expected the account object, got %s",
                             acme_response_body_str(p, resp));
    }
    if (rv == APR_SUCCESS) {
        *pacct = resp->json;
    }
    return rv;
}

apr_status_t acme_account_key_change_jws(const char **pjws, apr_pool_t *p,
                                         const acme_key_t *new_key, const acme_key_t *old_key,
                                         const char *account_url, const char *url)
{
    json_t *old_jwk = NULL, *payload = NULL;
    apr_status_t rv;

    *pjws = NULL;
    if (!account_url || !url) {
        return APR_EINVAL;
    }
    rv = acme_jwk_public(&old_jwk, old_key);
    if (rv == APR_SUCCESS) {
        payload = acme_json_pool(p, json_object());
        json_object_set_new(payload, "account", json_string(account_url));
        json_object_set_new(payload, "oldKey", old_jwk);
        /* RFC 8555 7.3.5: the inner JWS has a jwk (the new key) and no nonce, no kid */
        rv = acme_jws_sign(pjws, p, new_key, NULL, NULL, url, acme_json_dump(p, payload));
    }
    return rv;
}

/* Set in account.json: key (string value at now when value NULL). */
static apr_status_t record_mark(acme_store_t *st, const char *name, const char *key,
                                const char *value, apr_pool_t *p)
{
    apr_status_t rv;
    json_t *rec = load_record(&rv, st, name, p);

    if (rec) {
        json_object_set_new(rec, key, json_string(value ? value
                                                  : acme_time_rfc3339(p, apr_time_now())));
        rv = save_record(st, name, rec, p);
    }
    return rv;
}

apr_status_t acme_account_rollover(acme_client_t *c, acme_store_t *st, const char *kid,
                                   const unsigned char *secret, apr_pool_t *p,
                                   acme_result_t *res)
{
    const char *ca = acme_client_directory_url(c), *name = acme_account_entry_name(p, ca, kid);
    const char *endpoint = acme_client_endpoint(c, "keyChange");
    const char *url = acme_client_account_url(c), *inner = NULL;
    acme_key_t *old_key = acme_client_account_key(c, p), *new_key = NULL;
    acme_response_t *resp = NULL;
    apr_status_t rv;

    if (!endpoint || !url || !old_key) {
        rv = acme_result_set(res, p, APR_EINVAL, !endpoint ? "the CA %s offers no keyChange"
                             : "no account of %s is open", ca);
        goto leave;
    }
    if ((rv = acme_key_generate(&new_key, p, ACME_KEY_EC_P256)) != APR_SUCCESS) {
        acme_result_set(res, p, rv, "generating the new account key failed");
        goto leave;
    }
    /* kept before the CA hears of it: should saving fail after the CA took it, the key the CA
     * now knows the account by is still there */
    if ((rv = save_key(st, name, ASPECT_NEXT, new_key, secret, p, res)) != APR_SUCCESS) {
        goto leave;
    }
    rv = acme_account_key_change_jws(&inner, p, new_key, old_key, url, endpoint);
    if (rv != APR_SUCCESS) {
        acme_result_set(res, p, rv, "signing the key change failed");
        acme_store_remove(st, ACME_GROUP_ACCOUNTS, name, ASPECT_NEXT, p);
        goto leave;
    }
    rv = acme_client_post(&resp, c, p, endpoint, inner, 0, res);
    if (rv != APR_SUCCESS) {
        /* the CA refused: the old key stays the account's */
        acme_store_remove(st, ACME_GROUP_ACCOUNTS, name, ASPECT_NEXT, p);
        goto leave;
    }
    if ((rv = save_key(st, name, ASPECT_KEY, new_key, secret, p, res)) != APR_SUCCESS) {
        acme_result_set(res, p, rv, "the CA accepted the new account key, but saving it as "
                        "accounts/%s/" ASPECT_KEY " failed: rename accounts/%s/" ASPECT_NEXT
                        " to " ASPECT_KEY " (the old key no longer works)", name, name);
        goto leave;
    }
    acme_store_remove(st, ACME_GROUP_ACCOUNTS, name, ASPECT_NEXT, p);
    record_mark(st, name, "key_changed", NULL, p);
    acme_client_set_account(c, new_key, url);
    acme_log(ACME_LOG_NOTICE, APR_SUCCESS, ACMELOGNO(00493) "ACME account at %s: the account "
             "key was replaced (RFC 8555 key change); the new key is in accounts/%s/"
             ASPECT_KEY, ca, name);
leave:
    if (rv != APR_SUCCESS && !res->subject) {
        res->subject = ca;
    }
    return rv;
}

apr_status_t acme_account_deactivate(acme_client_t *c, acme_store_t *st, const char *kid,
                                     apr_pool_t *p, acme_result_t *res)
{
    const char *ca = acme_client_directory_url(c), *name = acme_account_entry_name(p, ca, kid);
    acme_response_t *resp = NULL;
    apr_status_t rv;

    rv = acme_client_post(&resp, c, p, acme_client_account_url(c),
                          "{\"status\":\"deactivated\"}", 0, res);
    if (rv == APR_SUCCESS) {
        const char *status = resp->json ? acme_json_str(resp->json, "status") : NULL;
        if (status && strcmp(status, "deactivated")) {
            rv = acme_result_set(res, p, ACME_EPROTO, "the CA answered the deactivation with "
                                 "account status \"%s\"", status);
        }
    }
    if (rv == APR_SUCCESS) {
        /* the server reads this and makes a new account at its next run */
        rv = record_mark(st, name, "deactivated", NULL, p);
        if (rv == APR_SUCCESS) {
            rv = record_mark(st, name, "status", "deactivated", p);
        }
        if (rv != APR_SUCCESS) {
            acme_result_set(res, p, rv, "the CA deactivated the account, but marking "
                            "accounts/%s/" ASPECT_ACCOUNT " failed: move accounts/%s away (a "
                            "new account is then created)", name, name);
        }
    }
    if (rv == APR_SUCCESS) {
        acme_log(ACME_LOG_NOTICE, APR_SUCCESS, ACMELOGNO(00494) "ACME account at %s "
                 "(accounts/%s) deactivated; the server creates a new account at its next run",
                 ca, name);
    }
    else if (!res->subject) {
        res->subject = ca;
    }
    return rv;
}

apr_status_t acme_account_revoke(acme_client_t *c, const unsigned char *der, apr_size_t der_len,
                                 int reason, const acme_key_t *cert_key, apr_pool_t *p,
                                 acme_result_t *res)
{
    const char *endpoint = acme_client_endpoint(c, "revokeCert");
    acme_response_t *resp = NULL;
    json_t *payload;

    if (!endpoint) {
        return acme_result_set(res, p, APR_ENOTIMPL, "the CA %s offers no revokeCert",
                               acme_client_directory_url(c));
    }
    payload = acme_json_pool(p, json_object());
    json_object_set_new(payload, "certificate", json_string(acme_b64url_encode(p, der,
                                                                                 der_len)));
    if (reason > 0) {
        json_object_set_new(payload, "reason", json_integer(reason));
    }
    if (cert_key) {
        /* RFC 8555 7.6: signed by the certificate's key, with its jwk */
        acme_client_set_account(c, cert_key, NULL);
    }
    return acme_client_post(&resp, c, p, endpoint, acme_json_dump(p, payload), cert_key != NULL,
                            res);
}
