/* Activation of a staged certificate set: verify, install atomically, archive the old. */
#include <string.h>

#include <apr_strings.h>

#include "acme_install.h"
#include "acme_verify.h"

/* The staged set as read and checked; kpem is the unsealed key (for live/key.pem). */
typedef struct staged_t {
    char *chain, *sealed, *meta, *kpem;
    apr_size_t chain_len, sealed_len, meta_len, klen;
} staged_t;

static apr_status_t refused(acme_install_t *res, apr_status_t status, const char *file,
                            const char *why)
{
    res->outcome = ACME_INSTALL_REFUSED;
    res->status = status;
    res->bad_file = file;
    res->why = why;
    return status;
}

/* Read staging/<id> and run the verification; res->outcome NOTHING, PASSES or REFUSED. */
static apr_status_t staged_check(acme_install_t *res, staged_t *s, apr_pool_t *p,
                                 acme_store_t *st, const char *id,
                                 const apr_array_header_t *names,
                                 const unsigned char *secret, apr_time_t now)
{
    acme_set_files_t f;
    acme_set_rules_t rules;
    acme_set_check_t *c;
    acme_key_t *key;
    apr_status_t rv;

    memset(s, 0, sizeof(*s));
    if (acme_store_load(st, ACME_GROUP_STAGING, id, "meta.json", &s->meta, &s->meta_len, p)
        != APR_SUCCESS) {
        res->outcome = ACME_INSTALL_NOTHING; /* meta.json is written last: not complete */
        return APR_SUCCESS;
    }
    if (acme_store_load(st, ACME_GROUP_STAGING, id, "chain.pem", &s->chain, &s->chain_len, p)
        != APR_SUCCESS) {
        return refused(res, ACME_EVERIFY, "chain.pem", "chain.pem is missing or cannot be "
                       "read");
    }
    if (acme_store_load(st, ACME_GROUP_STAGING, id, "key.sealed", &s->sealed, &s->sealed_len,
                        p) != APR_SUCCESS) {
        return refused(res, ACME_EVERIFY, "key.sealed", "key.sealed is missing or cannot be "
                       "read");
    }
    if (!secret || acme_unseal(&s->kpem, &s->klen, p, secret, s->sealed, s->sealed_len)
                   != APR_SUCCESS) {
        return refused(res, ACME_EVERIFY, "key.sealed",
                       apr_pstrcat(p, "key.sealed ", acme_unseal_problem(s->sealed,
                                                                         s->sealed_len),
                                   NULL));
    }
    if (acme_key_from_pem(&key, p, s->kpem, s->klen) != APR_SUCCESS) {
        return refused(res, ACME_EVERIFY, "key.sealed", "key.sealed holds no private key "
                       "once unsealed");
    }
    memset(&f, 0, sizeof(f));
    f.chain = s->chain;
    f.chain_len = s->chain_len;
    f.key_obj = key;
    rules.names = names;
    rules.current = 1;
    rules.links = 1;
    rv = acme_verify_set_rules(&c, p, &f, &rules, now);
    res->leaf = c->leaf;
    res->ari_id = c->ari_id;
    if (rv != APR_SUCCESS) {
        return refused(res, rv, c->bad_file, c->sentence);
    }
    res->outcome = ACME_INSTALL_PASSES;
    return APR_SUCCESS;
}

apr_status_t acme_install_check(acme_install_t **pres, apr_pool_t *p, acme_store_t *st,
                                const char *id, const apr_array_header_t *names,
                                const unsigned char secret[ACME_SECRET_LEN], apr_time_t now)
{
    staged_t s;
    apr_status_t rv;

    *pres = apr_pcalloc(p, sizeof(**pres));
    rv = staged_check(*pres, &s, p, st, id, names, secret, now);
    if (s.kpem) {
        memset(s.kpem, 0, s.klen);
    }
    return rv;
}

apr_status_t acme_install_staged(acme_install_t **pres, apr_pool_t *p, acme_store_t *st,
                                 const char *id, const apr_array_header_t *names,
                                 const unsigned char secret[ACME_SECRET_LEN], apr_time_t now)
{
    acme_install_t *res = apr_pcalloc(p, sizeof(*res));
    acme_store_blob_t blobs[3];
    staged_t s;
    apr_status_t rv;

    *pres = res;
    rv = staged_check(res, &s, p, st, id, names, secret, now);
    if (res->outcome == ACME_INSTALL_REFUSED) {
        res->archived = st->archive(st, ACME_GROUP_STAGING, id, p) == APR_SUCCESS;
        goto leave;
    }
    if (res->outcome != ACME_INSTALL_PASSES) {
        goto leave;
    }
    blobs[0].aspect = "chain.pem";
    blobs[0].data = s.chain;
    blobs[0].len = s.chain_len;
    blobs[1].aspect = "key.pem";
    blobs[1].data = s.kpem;
    blobs[1].len = s.klen;
    blobs[2].aspect = "meta.json";
    blobs[2].data = s.meta;
    blobs[2].len = s.meta_len;
    rv = st->install_live(st, id, blobs, 3, p);
    if (rv != APR_SUCCESS) {
        res->outcome = ACME_INSTALL_FAILED;
        res->status = rv;
        res->why = "the live set cannot be written";
        goto leave;
    }
    /* a staged set left behind would be activated again: the live one is complete now */
    acme_store_remove(st, ACME_GROUP_STAGING, id, NULL, p);
    res->outcome = ACME_INSTALL_ACTIVATED;
leave:
    if (s.kpem) {
        memset(s.kpem, 0, s.klen);
    }
    return rv;
}
