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

#endif
