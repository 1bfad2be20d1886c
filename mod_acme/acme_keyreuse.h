/* ACMEKeyReuse: whether a new order uses the live certificate's key or a new one. The
 * account key is never a certificate key: only the served set's key.pem is reused. */
#ifndef ACME_KEYREUSE_H
#define ACME_KEYREUSE_H

#include "acme.h"
#include "acme_crypto.h"
#include "acme_store.h"

typedef enum { ACME_KEY_NEW, ACME_KEY_REUSE } acme_key_choice_t;

/* Pure. reuse: ACMEKeyReuse on; have_live: a live key that parsed; live_type: its type
 * (when have_live); want: the configured key type. A new key unless reuse is on and the live
 * key is of the type wanted (a changed ACMEKeyType overrides reuse). *pwhy says why. */
acme_key_choice_t acme_key_reuse_decide(const char **pwhy, int reuse, int have_live,
                                        acme_key_type_t live_type, acme_key_type_t want);

/* For the root parent at start: the key of the served set (key_path, root-only) sealed under
 * secret, when acme_key_reuse_decide says reuse; the worker, which cannot read key_path,
 * gets it in memory. *psealed NULL (and *pwhy why) when the next order makes a new key.
 * APR_SUCCESS in both cases; an error only when sealing failed. */
apr_status_t acme_key_reuse_load(const char **psealed, apr_size_t *plen, const char **pwhy,
                                 apr_pool_t *p, const char *key_path, int reuse,
                                 acme_key_type_t want, const unsigned char *secret);

/* At order time: 1 when a pending renewal request (orders/<id>/renew.request) asks for a
 * new key (acmectl revoke: a revoked certificate's key is not reused), else 0. */
int acme_key_reuse_vetoed(acme_store_t *st, const char *id, apr_pool_t *p);

/* The key a driver run uses instead of a new one: sealed (from acme_key_reuse_load)
 * unsealed and parsed, and checked to be of type want. */
apr_status_t acme_key_reuse_open(acme_key_t **pkey, apr_pool_t *p, const char *sealed,
                                 apr_size_t len, acme_key_type_t want,
                                 const unsigned char *secret);

#endif
