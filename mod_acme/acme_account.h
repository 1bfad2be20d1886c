/* ACME accounts: created once per CA, stored (key sealed), re-used; found again with
 * onlyReturnExisting when the store lost the account URL. */
#ifndef ACME_ACCOUNT_H
#define ACME_ACCOUNT_H

#include "acme.h"
#include "acme_client.h"
#include "acme_store.h"
#include "acme_eab.h"

typedef struct acme_account_spec_t {
    apr_array_header_t *contacts;   /* "mailto:..." URIs (const char*), may be empty */
    int agree_tos;                  /* the admin said ACMEAgreeTerms on */
    const acme_eab_t *eab;          /* ACMEExternalAccountBinding, or NULL */
    int eab_if_required;            /* send eab only to a CA whose directory requires EAB
                                     * (ACMEServer with several CAs) */
} acme_account_spec_t;

/* Store entry name (ACME_GROUP_ACCOUNTS) for a CA directory URL: host, port and path made
 * file-safe, e.g. "127.0.0.1_14000_dir" or "acme-v02.api.letsencrypt.org_directory". */
const char *acme_account_store_name(apr_pool_t *p, const char *directory_url);
/* The account's entry for a CA and an EAB key id: acme_account_store_name without a kid
 * (NULL), else that name, "+eab-" and the kid (file-safe; "sha-" and 16 hex digits of its
 * SHA-256 when it holds other characters or is long), so another kid makes another account
 * and an account without EAB is kept. */
const char *acme_account_entry_name(apr_pool_t *p, const char *directory_url,
                                    const char *eab_kid);

/* Make sure the client has an account: load accounts/<name>/{account.json,key.sealed}
 * (key unsealed with secret); if the key exists but the URL is lost, look it up with
 * onlyReturnExisting; otherwise create an ES256 key and a new account (contacts,
 * termsOfServiceAgreed). When the directory has meta.termsOfService and agree_tos is off,
 * fails with ACME_ETOS and a detail naming the terms URL and "ACMEAgreeTerms on".
 * With spec->eab, the entry is acme_account_entry_name(ca, kid) and a new account carries
 * the External Account Binding (acme_jws_eab); when the directory says
 * meta.externalAccountRequired and there is no binding, fails before generating a key
 * with a detail naming ACMEExternalAccountBinding.
 * On success the client is set to sign with the account key and kid. Thread-safe
 * callers serialize this themselves (the driver calls it once per run). */
apr_status_t acme_account_ensure(acme_client_t *c, acme_store_t *st,
                                 const unsigned char *secret, const acme_account_spec_t *spec,
                                 apr_pool_t *p, acme_result_t *res);

/* The stored key of account entry name (accounts/<name>/key.sealed), unsealed with secret,
 * without a client or the network (ACMEStatelessHTTP01 needs its thumbprint). APR_ENOENT
 * when there is none; another error, with *pwhy saying what is wrong, when it is unusable. */
apr_status_t acme_account_key_load(acme_key_t **pkey, const char **pwhy, acme_store_t *st,
                                   const char *name, const unsigned char *secret, apr_pool_t *p);

/* Has the stored account of ca work for acme_account_ensure that needs no certificate to
 * be due: a contact that differs from spec's (to be sent to the CA), or a deactivation mark
 * (a new account to create)? Reads the store only. */
int acme_account_update_due(acme_store_t *st, const char *ca, const acme_account_spec_t *spec,
                            apr_pool_t *p);

/* The account is marked deactivated in the store (acme_account_open). */
#define ACME_EACCOUNT_DEACTIVATED (ACME_STATUS_BASE + 190)

/* For acmectl: set the client to sign with the stored account of its CA and EAB key id kid
 * (NULL: none; acme_account_entry_name), as acme_account_ensure would, but create or look up
 * nothing. *pname: its store entry. rollover and deactivate below find it the same way.
 * APR_ENOENT when the store has no account for the CA, ACME_EACCOUNT_DEACTIVATED when it is
 * marked deactivated; res says which in words. */
apr_status_t acme_account_open(const char **pname, acme_client_t *c, acme_store_t *st,
                               const char *kid, const unsigned char *secret, apr_pool_t *p,
                               acme_result_t *res);
/* The CA's view of the open account (POST-as-GET to its URL): status, contact, ... */
apr_status_t acme_account_fetch(json_t **pacct, acme_client_t *c, apr_pool_t *p,
                                acme_result_t *res);
/* The inner JWS of a key change (RFC 8555 7.3.5): protected {alg, jwk of new_key, url},
 * payload {"account": account_url, "oldKey": jwk of old_key}, signed by new_key. */
apr_status_t acme_account_key_change_jws(const char **pjws, apr_pool_t *p,
                                         const acme_key_t *new_key, const acme_key_t *old_key,
                                         const char *account_url, const char *url);
/* Replace the open account's key: a new P-256 key, kept sealed as key.sealed.next, the
 * key change POSTed to keyChange (outer JWS by the old key with the kid); once the CA
 * accepted, the new key replaces key.sealed (atomic, 0600, sealed) and the client signs
 * with it. Refused: the old key stays, key.sealed.next goes. */
apr_status_t acme_account_rollover(acme_client_t *c, acme_store_t *st, const char *kid,
                                   const unsigned char *secret, apr_pool_t *p,
                                   acme_result_t *res);
/* Deactivate the open account at the CA (status "deactivated", RFC 8555 7.3.6) and mark
 * account.json so; acme_account_ensure then sets the account aside (logged) and creates
 * a new one. */
apr_status_t acme_account_deactivate(acme_client_t *c, acme_store_t *st, const char *kid,
                                     apr_pool_t *p, acme_result_t *res);
/* revokeCert (RFC 8555 7.6) for the certificate der (reason > 0: the CRLReason code).
 * cert_key NULL: signed by the open account (kid); else by the certificate's own key with
 * its jwk (a lost account), and the client signs with that key from then on. */
apr_status_t acme_account_revoke(acme_client_t *c, const unsigned char *der, apr_size_t der_len,
                                 int reason, const acme_key_t *cert_key, apr_pool_t *p,
                                 acme_result_t *res);

#endif
