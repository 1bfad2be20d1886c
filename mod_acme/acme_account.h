/* ACME accounts: created once per CA, stored (key sealed), re-used; found again with
 * onlyReturnExisting when the store lost the account URL. */
#ifndef ACME_ACCOUNT_H
#define ACME_ACCOUNT_H

#include "acme.h"
#include "acme_client.h"
#include "acme_store.h"

typedef struct acme_account_spec_t {
    apr_array_header_t *contacts;   /* "mailto:..." URIs (const char*), may be empty */
    int agree_tos;                  /* the admin said ACMEAgreeTerms on */
} acme_account_spec_t;

/* Store entry name (ACME_GROUP_ACCOUNTS) for a CA directory URL: host, port and path made
 * file-safe, e.g. "127.0.0.1_14000_dir" or "acme-v02.api.letsencrypt.org_directory". */
const char *acme_account_store_name(apr_pool_t *p, const char *directory_url);

/* Make sure the client has an account: load accounts/<name>/{account.json,key.sealed}
 * (key unsealed with secret); if the key exists but the URL is lost, look it up with
 * onlyReturnExisting; otherwise create an ES256 key and a new account (contacts,
 * termsOfServiceAgreed). When the directory has meta.termsOfService and agree_tos is off,
 * fails with ACME_ETOS and a detail naming the terms URL and "ACMEAgreeTerms on".
 * On success the client is set to sign with the account key and kid. Thread-safe
 * callers serialize this themselves (the driver calls it once per run). */
apr_status_t acme_account_ensure(acme_client_t *c, acme_store_t *st,
                                 const unsigned char *secret, const acme_account_spec_t *spec,
                                 apr_pool_t *p, acme_result_t *res);

#endif
