/* One ACME client per configured CA (ACMEServer A [B ...]) for the driver's runs: each with
 * its driver environment and its account (one account per CA, acme_account.h). Which CA an
 * attempt uses is acme_ca_pick() (acme_ca.h). */
#ifndef ACME_CA_SET_H
#define ACME_CA_SET_H

#include "acme.h"
#include "acme_http.h"
#include "acme_client.h"
#include "acme_account.h"
#include "acme_driver.h"

typedef struct acme_ca_set_t acme_ca_set_t;

/* A client for each directory URL in urls (const char *, at least one), sharing http; each
 * CA's driver environment is a copy of tmpl with that client. */
apr_status_t acme_ca_set_create(acme_ca_set_t **ps, apr_pool_t *p, acme_http_t *http,
                                const apr_array_header_t *urls, const acme_driver_env_t *tmpl);
int acme_ca_set_count(const acme_ca_set_t *s);
const char *acme_ca_set_url(const acme_ca_set_t *s, int k);
acme_client_t *acme_ca_set_client(acme_ca_set_t *s, int k);
const acme_driver_env_t *acme_ca_set_env(acme_ca_set_t *s, int k);
/* Make sure CA k's client has an account: acme_account_ensure with the environment's store
 * and secret. Every call reads the account from the store again (cheap: no request when it
 * is known), so that a key change or deactivation by acmectl takes effect at the next run.
 * Not thread-safe: the runner calls it before a run's threads start. */
apr_status_t acme_ca_set_account(acme_ca_set_t *s, int k, const acme_account_spec_t *as,
                                 apr_pool_t *p, acme_result_t *res);
/* HTTP requests sent by all the clients. */
apr_uint32_t acme_ca_set_request_count(acme_ca_set_t *s);

#endif
