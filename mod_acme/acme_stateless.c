/* ACMEStatelessHTTP01 (see acme_stateless.h): host -> account -> thumbprint, and the answer
 * token "." thumbprint for well-formed tokens on those hosts only. */
#include <string.h>

#include <apr_file_info.h>
#include <apr_hash.h>
#include <apr_strings.h>

#include "acme_stateless.h"
#include "acme_account.h"
#include "acme_challenge.h"
#include "acme_jws.h"
#include "acme_util.h"

#define KEY_ASPECT "key.sealed"       /* acme_account.c's name of the sealed key */
#define KEY_FINFO (APR_FINFO_INODE | APR_FINFO_MTIME | APR_FINFO_SIZE)

typedef struct stateless_account_t {
    const char *entry, *alt_entry;
    const char *thumbprint;        /* primed at start, NULL: ask the store */
    const char *key_path;          /* the primed key's file (NULL: a store without files) */
    apr_finfo_t key_info;          /* and its identity then: a rollover replaces the file */
} stateless_account_t;

struct acme_stateless_t {
    apr_pool_t *pool;
    acme_store_t *store;
    const unsigned char *secret;
    apr_hash_t *hosts;             /* lower-case name -> stateless_account_t* */
    apr_hash_t *accounts;          /* "entry\nalt" -> stateless_account_t* (one per account) */
};

apr_status_t acme_stateless_create(acme_stateless_t **psl, apr_pool_t *p, acme_store_t *st,
                                   const unsigned char *secret)
{
    acme_stateless_t *sl = apr_pcalloc(p, sizeof(*sl));

    sl->pool = p;
    sl->store = st;
    sl->secret = secret;
    sl->hosts = apr_hash_make(p);
    sl->accounts = apr_hash_make(p);
    *psl = sl;
    return APR_SUCCESS;
}

void acme_stateless_add(acme_stateless_t *sl, const char *host, const char *entry,
                        const char *alt_entry)
{
    const char *name, *key;
    stateless_account_t *a;

    if (!host || !*host || !strncmp(host, "*.", 2) || !entry) {
        return;
    }
    name = acme_name_lower(sl->pool, host);
    if (apr_hash_get(sl->hosts, name, APR_HASH_KEY_STRING)) {
        return;
    }
    key = apr_pstrcat(sl->pool, entry, "\n", alt_entry ? alt_entry : "", NULL);
    a = apr_hash_get(sl->accounts, key, APR_HASH_KEY_STRING);
    if (!a) {
        a = apr_pcalloc(sl->pool, sizeof(*a));
        a->entry = apr_pstrdup(sl->pool, entry);
        a->alt_entry = alt_entry ? apr_pstrdup(sl->pool, alt_entry) : NULL;
        apr_hash_set(sl->accounts, key, APR_HASH_KEY_STRING, a);
    }
    apr_hash_set(sl->hosts, name, APR_HASH_KEY_STRING, a);
}

int acme_stateless_count(const acme_stateless_t *sl)
{
    return (int)apr_hash_count(sl->hosts);
}

apr_status_t acme_stateless_thumbprint(const char **pthumb, apr_pool_t *p, acme_store_t *st,
                                       const unsigned char *secret, const char *entry)
{
    acme_key_t *key = NULL;
    const char *why = NULL;
    apr_status_t rv;

    *pthumb = NULL;
    rv = acme_account_key_load(&key, &why, st, entry, secret, p);
    if (rv == APR_SUCCESS) {
        rv = acme_jwk_thumbprint(pthumb, p, key);
    }
    return rv;
}

/* The file identity of entry's key now (0: none, or a store without files). */
static int key_identity(const char **ppath, apr_finfo_t *finfo, apr_pool_t *p,
                        acme_store_t *st, const char *entry)
{
    *ppath = st->path ? st->path(st, ACME_GROUP_ACCOUNTS, entry, KEY_ASPECT, p) : NULL;
    return *ppath && apr_stat(finfo, *ppath, KEY_FINFO, p) == APR_SUCCESS;
}

/* Is the primed thumbprint still the key's (the file is the one read at start)? */
static int primed_current(const stateless_account_t *a, apr_pool_t *p)
{
    apr_finfo_t now;

    if (!a->thumbprint) {
        return 0;
    }
    if (!a->key_path) {
        return 1;
    }
    return apr_stat(&now, a->key_path, KEY_FINFO, p) == APR_SUCCESS
           && now.inode == a->key_info.inode && now.mtime == a->key_info.mtime
           && now.size == a->key_info.size;
}

/* The thumbprint of a's account: primed while its key file is unchanged, else from the
 * store (entry, then alt_entry). */
static apr_status_t account_thumbprint(const char **pthumb, apr_pool_t *p,
                                       const acme_stateless_t *sl, const stateless_account_t *a)
{
    apr_status_t rv;

    if (primed_current(a, p)) {
        *pthumb = a->thumbprint;
        return APR_SUCCESS;
    }
    rv = acme_stateless_thumbprint(pthumb, p, sl->store, sl->secret, a->entry);
    if (rv != APR_SUCCESS && a->alt_entry) {
        rv = acme_stateless_thumbprint(pthumb, p, sl->store, sl->secret, a->alt_entry);
    }
    return rv;
}

/* Read a's thumbprint now and keep it with its key file's identity. Only the first entry
 * is primed: an account found under alt_entry is read per request, so the first one is
 * used as soon as it appears. 1 when an account was found. */
static int prime_one(acme_stateless_t *sl, stateless_account_t *a)
{
    const char *thumb = NULL, *path = NULL;
    apr_finfo_t finfo;
    /* the identity first: a key replaced meanwhile then reads as changed */
    int have_id = key_identity(&path, &finfo, sl->pool, sl->store, a->entry);

    a->thumbprint = NULL;
    if ((have_id || !path)
        && acme_stateless_thumbprint(&thumb, sl->pool, sl->store, sl->secret, a->entry)
           == APR_SUCCESS) {
        a->key_path = path;
        a->key_info = finfo;
        a->thumbprint = thumb;
        return 1;
    }
    return account_thumbprint(&thumb, sl->pool, sl, a) == APR_SUCCESS;
}

void acme_stateless_prime(acme_stateless_t *sl, apr_pool_t *ptemp, int *pknown,
                          int *punknown)
{
    apr_hash_index_t *hi;
    int known = 0, unknown = 0;

    for (hi = apr_hash_first(ptemp, sl->accounts); hi; hi = apr_hash_next(hi)) {
        if (prime_one(sl, apr_hash_this_val(hi))) {
            ++known;
        }
        else {
            ++unknown;
        }
    }
    if (pknown) {
        *pknown = known;
    }
    if (punknown) {
        *punknown = unknown;
    }
}

apr_status_t acme_stateless_answer(const char **pbody, apr_pool_t *p,
                                   const acme_stateless_t *sl, const char *token,
                                   const char *host)
{
    const stateless_account_t *a;
    const char *thumb = NULL;
    apr_status_t rv;

    *pbody = NULL;
    if (!acme_challenge_token_valid(token)) {
        return APR_EINVAL;
    }
    a = host ? apr_hash_get(sl->hosts, acme_name_lower(p, host), APR_HASH_KEY_STRING) : NULL;
    if (!a) {
        return APR_EACCES;
    }
    rv = account_thumbprint(&thumb, p, sl, a);
    if (rv != APR_SUCCESS) {
        return APR_STATUS_IS_ENOENT(rv) ? rv : APR_ENOENT;
    }
    *pbody = apr_pstrcat(p, token, ".", thumb, NULL);
    return APR_SUCCESS;
}
