/* ACMEKeyReuse: which key a new order uses. */
#include <string.h>

#include <apr_strings.h>

#include "acme_keyreuse.h"
#include "acme_state.h"
#include "acme_util.h"

acme_key_choice_t acme_key_reuse_decide(const char **pwhy, int reuse, int have_live,
                                        acme_key_type_t live_type, acme_key_type_t want)
{
    if (!reuse) {
        *pwhy = "ACMEKeyReuse is off";
        return ACME_KEY_NEW;
    }
    if (!have_live) {
        *pwhy = "there is no usable live key to reuse";
        return ACME_KEY_NEW;
    }
    if (live_type != want) {
        *pwhy = "the key type changed (ACMEKeyType): a new key of the new type";
        return ACME_KEY_NEW;
    }
    *pwhy = "ACMEKeyReuse on: the live certificate's key";
    return ACME_KEY_REUSE;
}

apr_status_t acme_key_reuse_load(const char **psealed, apr_size_t *plen, const char **pwhy,
                                 apr_pool_t *p, const char *key_path, int reuse,
                                 acme_key_type_t want, const unsigned char *secret)
{
    acme_key_type_t live_type = want;
    acme_key_t *key = NULL;
    char *pem = NULL, *sealed = NULL;
    apr_size_t len = 0;
    int have_live = 0;
    apr_status_t rv = APR_SUCCESS;

    *psealed = NULL;
    *plen = 0;
    if (reuse && key_path && acme_file_read(&pem, &len, key_path, p) == APR_SUCCESS) {
        have_live = acme_key_from_pem(&key, p, pem, len) == APR_SUCCESS
                    && acme_key_type_of(&live_type, key) == APR_SUCCESS;
    }
    if (acme_key_reuse_decide(pwhy, reuse, have_live, live_type, want) == ACME_KEY_REUSE) {
        rv = acme_seal(&sealed, plen, p, secret, pem, len);
        if (rv == APR_SUCCESS) {
            *psealed = sealed;
        }
        else {
            *plen = 0;
            *pwhy = "sealing the live key failed";
        }
    }
    if (pem) {
        memset(pem, 0, len);
    }
    return rv;
}

int acme_key_reuse_vetoed(acme_store_t *st, const char *id, apr_pool_t *p)
{
    acme_renew_request_t *req = NULL;
    return acme_request_load(&req, p, st, id) == APR_SUCCESS && req && req->new_key;
}

apr_status_t acme_key_reuse_open(acme_key_t **pkey, apr_pool_t *p, const char *sealed,
                                 apr_size_t len, acme_key_type_t want,
                                 const unsigned char *secret)
{
    acme_key_type_t type;
    char *pem = NULL;
    apr_size_t plen = 0;
    apr_status_t rv;

    *pkey = NULL;
    rv = acme_unseal(&pem, &plen, p, secret, sealed, len);
    if (rv == APR_SUCCESS) {
        rv = acme_key_from_pem(pkey, p, pem, plen);
        memset(pem, 0, plen);
    }
    if (rv == APR_SUCCESS
        && (acme_key_type_of(&type, *pkey) != APR_SUCCESS || type != want)) {
        rv = APR_EINVAL;
    }
    if (rv != APR_SUCCESS) {
        *pkey = NULL;
    }
    return rv;
}
