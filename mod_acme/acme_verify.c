/* The verification of certificate sets (acme_verify.h): one set of rules for downloads,
 * staged, live, archived and fallback sets; which archived set replaces a damaged live
 * one; does meta.json describe the set (else rebuild it from the certificate). Pure: no
 * I/O, no logging; callers read files and log. */
#include <string.h>
#include <strings.h>

#include <apr_strings.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "acme_verify.h"
#include "acme_state.h"
#include "acme_crypto.h"
#include "acme_json.h"
#include "acme_util.h"

/* The first failed rule: reason, the file and what is wrong with it, and the same as a
 * sentence of its own (NULL: the file's name followed by why). */
static apr_status_t set_bad(acme_set_check_t *c, apr_pool_t *p, acme_set_reason_t reason,
                            const char *file, const char *why, const char *sentence)
{
    c->reason = reason;
    c->bad_file = file;
    c->why = why;
    c->sentence = sentence ? sentence : apr_pstrcat(p, file, " ", why, NULL);
    return reason == ACME_SET_CHAIN_INCOMPLETE ? APR_INCOMPLETE : ACME_EVERIFY;
}

/* Why a file's content is unusable before parsing: unreadable, missing or empty. */
static const char *unread_why(apr_pool_t *p, const char *data, apr_size_t len,
                              const char *read_error)
{
    if (read_error) {
        return apr_pstrcat(p, "cannot be read (", read_error, ")", NULL);
    }
    if (!data) {
        return "is missing";
    }
    if (len == 0) {
        return "is empty (0 bytes)";
    }
    return NULL;
}

/* The key of the set: the one given as loaded, else key.pem parsed. */
static apr_status_t set_key(const acme_key_t **pkey, acme_set_check_t *c, apr_pool_t *p,
                            const acme_set_files_t *f)
{
    acme_key_t *key = NULL;
    const char *why;

    *pkey = f->key_obj;
    if (f->key_obj) {
        return APR_SUCCESS;
    }
    if ((why = unread_why(p, f->key, f->key_len, f->key_read_error)) != NULL) {
        return set_bad(c, p, ACME_SET_KEY_UNREADABLE, "key.pem", why,
                       apr_pstrcat(p, "private key ", why, NULL));
    }
    if (acme_key_from_pem(&key, p, f->key, f->key_len) != APR_SUCCESS) {
        ERR_clear_error();
        return set_bad(c, p, ACME_SET_KEY_UNPARSABLE, "key.pem", "does not parse as a PEM "
                       "private key (truncated or damaged)", "private key does not parse");
    }
    *pkey = key;
    return APR_SUCCESS;
}

/* The leaf's names against the expected ones, as normalized sets. */
static apr_status_t set_names(acme_set_check_t *c, apr_pool_t *p,
                              const apr_array_header_t *names)
{
    apr_array_header_t *have = acme_names_normalize(p, c->leaf->names);
    apr_array_header_t *want = acme_names_normalize(p, names);
    const char *h = acme_names_join(p, have, " "), *w = acme_names_join(p, want, " ");

    if (acme_names_equal(have, want)) {
        return APR_SUCCESS;
    }
    return set_bad(c, p, ACME_SET_NAMES, "chain.pem",
                   apr_psprintf(p, "is for other names: the certificate has %s, expected %s",
                                h, w),
                   apr_psprintf(p, "names differ: certificate has %s, plan wants %s", h, w));
}

static apr_status_t set_dates(acme_set_check_t *c, apr_pool_t *p, int current, apr_time_t now)
{
    const acme_cert_info_t *l = c->leaf;

    if (!l->not_before || !l->not_after) {
        return set_bad(c, p, ACME_SET_DATES, "chain.pem", "the certificate's validity dates "
                       "cannot be read", "certificate validity dates cannot be read");
    }
    if (current && now >= l->not_after) {
        const char *t = acme_time_rfc3339(p, l->not_after);
        return set_bad(c, p, ACME_SET_DATES, "chain.pem",
                       apr_pstrcat(p, "the certificate expired at ", t, NULL),
                       apr_pstrcat(p, "certificate expired at ", t, NULL));
    }
    if (current && now < l->not_before) {
        const char *t = acme_time_rfc3339(p, l->not_before);
        return set_bad(c, p, ACME_SET_DATES, "chain.pem",
                       apr_pstrcat(p, "the certificate is not valid before ", t, NULL),
                       apr_pstrcat(p, "certificate not valid until ", t, NULL));
    }
    return APR_SUCCESS;
}

apr_status_t acme_verify_set_rules(acme_set_check_t **pcheck, apr_pool_t *p,
                                   const acme_set_files_t *f, const acme_set_rules_t *rules,
                                   apr_time_t now)
{
    acme_set_check_t *c = apr_pcalloc(p, sizeof(*c));
    apr_array_header_t *chain = NULL;
    const acme_key_t *key = NULL;
    acme_key_type_t kt;
    const char *why;
    EVP_PKEY *pub;
    apr_status_t rv;

    *pcheck = c;
    if (f->chain_obj && f->chain_obj->nelts > 0) {
        chain = (apr_array_header_t *)f->chain_obj;
    }
    else if ((why = unread_why(p, f->chain, f->chain_len, f->chain_read_error)) != NULL) {
        return set_bad(c, p, ACME_SET_CHAIN_UNREADABLE, "chain.pem", why,
                       apr_pstrcat(p, "chain ", why, NULL));
    }
    if (!chain && acme_chain_parse(&chain, p, f->chain, f->chain_len) != APR_SUCCESS) {
        return set_bad(c, p, ACME_SET_CHAIN_UNPARSABLE, "chain.pem", "does not parse as PEM "
                       "certificates (truncated or damaged)", "chain does not parse");
    }
    if (acme_cert_info(&c->leaf, p, APR_ARRAY_IDX(chain, 0, X509 *)) != APR_SUCCESS) {
        c->leaf = NULL;
        return set_bad(c, p, ACME_SET_FACTS, "chain.pem", "its first certificate's facts "
                       "cannot be read", "certificate facts cannot be read");
    }
    if (acme_cert_ari_id(&c->ari_id, p, APR_ARRAY_IDX(chain, 0, X509 *)) != APR_SUCCESS) {
        c->ari_id = NULL;
        ERR_clear_error();
    }
    if (rules->links && (rv = acme_chain_check(&why, p, chain)) != APR_SUCCESS) {
        return set_bad(c, p, rv == APR_INCOMPLETE ? ACME_SET_CHAIN_INCOMPLETE
                                                  : ACME_SET_CHAIN_LINK, "chain.pem",
                       apr_pstrcat(p, "is not a usable chain: ", why, NULL), why);
    }
    if ((rv = set_key(&key, c, p, f)) != APR_SUCCESS) {
        return rv;
    }
    if (acme_key_type_of(&kt, key) == APR_SUCCESS) {
        c->key_type = acme_key_type_name(kt);
    }
    pub = X509_get0_pubkey(APR_ARRAY_IDX(chain, 0, X509 *));
    if (!pub || !acme_key_evp(key) || EVP_PKEY_eq(pub, acme_key_evp(key)) != 1) {
        ERR_clear_error();
        return set_bad(c, p, ACME_SET_KEY_MISMATCH, "key.pem",
                       apr_psprintf(p, "does not belong to the certificate in chain.pem "
                                    "(serial %s)", c->leaf->serial),
                       "private key does not match the certificate");
    }
    if (rules->names && (rv = set_names(c, p, rules->names)) != APR_SUCCESS) {
        return rv;
    }
    return set_dates(c, p, rules->current, now);
}

apr_status_t acme_verify_set(acme_set_check_t **pcheck, apr_pool_t *p,
                             const acme_set_files_t *f, int require_current, apr_time_t now)
{
    acme_set_rules_t rules;

    memset(&rules, 0, sizeof(rules));
    rules.current = require_current;
    rules.links = 1;
    return acme_verify_set_rules(pcheck, p, f, &rules, now);
}

static apr_status_t verify_new_set(const char **pwhy, apr_pool_t *p, const char *chain_pem,
                                   apr_size_t len, const apr_array_header_t *chain,
                                   const acme_key_t *key, const apr_array_header_t *names,
                                   apr_time_t now)
{
    acme_set_files_t f;
    acme_set_rules_t rules;
    acme_set_check_t *c;
    apr_status_t rv;

    memset(&f, 0, sizeof(f));
    f.chain = chain_pem;
    f.chain_len = len;
    f.chain_obj = chain;
    f.key_obj = key;
    rules.names = names;
    rules.current = 1;
    rules.links = 1;
    *pwhy = NULL;
    if (!key) {
        *pwhy = "private key does not match the certificate";
        return ACME_EVERIFY;
    }
    rv = acme_verify_set_rules(&c, p, &f, &rules, now);
    if (rv != APR_SUCCESS) {
        *pwhy = c->sentence;
    }
    return rv;
}

apr_status_t acme_cert_verify_set(const char **pwhy, apr_pool_t *p, const char *chain_pem,
                                  apr_size_t len, const acme_key_t *key,
                                  const apr_array_header_t *names, apr_time_t now)
{
    return verify_new_set(pwhy, p, chain_pem, len, NULL, key, names, now);
}

apr_status_t acme_cert_verify_chain(const char **pwhy, apr_pool_t *p,
                                    const apr_array_header_t *chain, const acme_key_t *key,
                                    const apr_array_header_t *names, apr_time_t now)
{
    return verify_new_set(pwhy, p, NULL, 0, chain, key, names, now);
}

static int same_time(const char *s, apr_time_t t)
{
    apr_time_t v = acme_time_parse_rfc3339(s);
    return v && apr_time_sec(v) == apr_time_sec(t);
}

apr_status_t acme_verify_meta(const char **pwhy, apr_pool_t *p, const char *text,
                              apr_size_t len, const acme_set_check_t *c)
{
    json_t *j, *names;
    const char *serial, *key, *err = NULL;
    size_t i;

    *pwhy = NULL;
    if (!c || !c->leaf) {
        *pwhy = "the certificate cannot be read";
        return ACME_EVERIFY;
    }
    if (!text) {
        *pwhy = "is missing";
        return ACME_EVERIFY;
    }
    if (len == 0) {
        *pwhy = "is empty (0 bytes)";
        return ACME_EVERIFY;
    }
    j = acme_json_parse(p, text, len, &err);
    if (!j || !json_is_object(j)) {
        *pwhy = j ? "is not a JSON object" : apr_pstrcat(p, "is not valid JSON (truncated or "
                                                        "damaged: ", err ? err : "?", ")",
                                                        NULL);
        return ACME_EVERIFY;
    }
    names = acme_json_arr(j, "names");
    if (!names || json_array_size(names) == 0) {
        *pwhy = "has no names";
        return ACME_EVERIFY;
    }
    for (i = 0; i < json_array_size(names); ++i) {
        if (!json_is_string(json_array_get(names, i))) {
            *pwhy = "has a name that is not a string";
            return ACME_EVERIFY;
        }
    }
    serial = acme_json_str(j, "serial");
    if (!serial || strcmp(serial, c->leaf->serial)) {
        *pwhy = apr_psprintf(p, "names serial %s, but the certificate has %s",
                             serial ? serial : "none", c->leaf->serial);
        return ACME_EVERIFY;
    }
    if (!same_time(acme_json_str(j, "not_before"), c->leaf->not_before)
        || !same_time(acme_json_str(j, "not_after"), c->leaf->not_after)) {
        *pwhy = "has validity dates other than the certificate's";
        return ACME_EVERIFY;
    }
    key = acme_json_str(j, "key");
    if (c->key_type && (!key || strcasecmp(key, c->key_type))) {
        *pwhy = apr_psprintf(p, "names key type %s, but key.pem is %s", key ? key : "none",
                             c->key_type);
        return ACME_EVERIFY;
    }
    return APR_SUCCESS;
}

apr_status_t acme_verify_meta_rebuild(const char **ptext, apr_pool_t *p,
                                      const acme_set_check_t *c, const char *old_text,
                                      apr_size_t old_len, apr_time_t now)
{
    acme_cert_meta_t meta, *old = NULL;

    *ptext = NULL;
    if (!c || !c->leaf || !c->leaf->names || c->leaf->names->nelts == 0) {
        return APR_EINVAL;
    }
    if (old_text && old_len > 0) {
        acme_meta_parse(&old, p, old_text, old_len);
    }
    memset(&meta, 0, sizeof(meta));
    meta.names = c->leaf->names;
    if (old) {   /* what the certificate does not say is carried over */
        meta.ca = old->ca && *old->ca ? old->ca : NULL;
        meta.staged = old->staged;
        meta.profile = old->profile;
        meta.profile_fallback = old->profile_fallback;
    }
    meta.key = c->key_type;
    meta.serial = c->leaf->serial;
    meta.not_before = c->leaf->not_before;
    meta.not_after = c->leaf->not_after;
    meta.rebuilt = now;
    *ptext = acme_meta_text(p, &meta);
    return *ptext ? APR_SUCCESS : APR_ENOMEM;
}

int acme_verify_pick_archived(apr_array_header_t **pwhys, apr_pool_t *p,
                              const acme_set_files_t *sets, int n, apr_time_t now)
{
    apr_array_header_t *whys = apr_array_make(p, n > 0 ? n : 1, sizeof(const char *));
    int i;

    if (pwhys) {
        *pwhys = whys;
    }
    for (i = 0; i < n; ++i) {
        acme_set_check_t *c;
        if (acme_verify_set(&c, p, &sets[i], 1, now) == APR_SUCCESS) {
            return i;
        }
        APR_ARRAY_PUSH(whys, const char *) = apr_pstrcat(p, c->bad_file, ": ", c->why, NULL);
    }
    return -1;
}
