/* ACMEStatelessHTTP01: answering http-01 without a published response. The key
 * authorization is token "." the account key's thumbprint (RFC 8555 8.1, 8.3), so whoever
 * knows the thumbprint of the account in use can answer any token: nodes of a fleet that
 * share no state, or a request that reaches a server before the response was published.
 * The policy (which hosts, which account, which tokens) is here; the glue only asks. */
#ifndef ACME_STATELESS_H
#define ACME_STATELESS_H

#include "acme.h"
#include "acme_store.h"

typedef struct acme_stateless_t acme_stateless_t;

/* An empty table; thumbprints not known at start are read from st (keys unsealed with
 * secret, ACME_SECRET_LEN bytes, which must outlive the table) when asked. */
apr_status_t acme_stateless_create(acme_stateless_t **psl, apr_pool_t *p, acme_store_t *st,
                                   const unsigned char *secret);

/* Answer http-01 for host (a certificate's name) with the account stored as
 * accounts/<entry>/ (acme_account_entry_name), else accounts/<alt_entry>/ (NULL: none).
 * A wildcard name is skipped (http-01 cannot validate it); the first add of a host wins. */
void acme_stateless_add(acme_stateless_t *sl, const char *host, const char *entry,
                        const char *alt_entry);

/* How many hosts the table answers for. */
int acme_stateless_count(const acme_stateless_t *sl);

/* Read the thumbprints of the accounts the store holds now (the root parent at start,
 * before the children inherit the table), so a request needs no store access. *pknown and
 * *punknown (either may be NULL): accounts found and not (yet) found. */
void acme_stateless_prime(acme_stateless_t *sl, apr_pool_t *ptemp, int *pknown,
                          int *punknown);

/* The RFC 7638 thumbprint of the account key in accounts/<entry>/key.sealed.
 * APR_ENOENT: no account there (yet); another error: the key is unusable. */
apr_status_t acme_stateless_thumbprint(const char **pthumb, apr_pool_t *p, acme_store_t *st,
                                       const unsigned char *secret, const char *entry);

/* The answer to GET /.well-known/acme-challenge/TOKEN with Host host (no port, any case):
 * APR_SUCCESS and *pbody = token "." thumbprint; APR_EINVAL: not a well-formed token
 * (acme_challenge_token_valid); APR_EACCES: host is not a name of the table; APR_ENOENT:
 * its account is not known (none created yet, or its key unusable). A thumbprint not
 * primed is read from the store for this request only (threads may ask at once). */
apr_status_t acme_stateless_answer(const char **pbody, apr_pool_t *p,
                                   const acme_stateless_t *sl, const char *token,
                                   const char *host);

#endif
