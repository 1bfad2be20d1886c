/* ACMEKeyTypes: one certificate per listed key type for the same names. Which lists are
 * valid, how the certificates of one name set are told apart in the store, and the spec of
 * each. No I/O, no httpd. */
#ifndef ACME_KEYTYPES_H
#define ACME_KEYTYPES_H

#include "acme.h"
#include "acme_crypto.h"
#include "acme_spec.h"

/* Separates a certificate's id from the key type of its 2nd+ certificate ("www.a+rsa2048").
 * No DNS name contains it, so such ids never meet the id of another name set. */
#define ACME_KEY_TYPE_ID_SEP "+"

/* The types of argv[0..argc-1] (acme_key_type_t each) in *ptypes, in the order given.
 * APR_EINVAL with *perr (for the admin) when there is none, a type is unknown, is listed
 * twice, or two types share an algorithm (two ECDSA or two RSA types: TLS serves one
 * certificate per algorithm, a second would never be chosen). */
apr_status_t acme_key_types_parse(apr_array_header_t **ptypes, const char **perr,
                                  apr_pool_t *p, int argc, const char *const *argv);
/* "p256 rsa2048": the list as the admin writes it (NULL for NULL or empty). */
const char *acme_key_types_text(apr_pool_t *p, const apr_array_header_t *types);
/* The store id of the certificate of the i-th listed type: the first type keeps base_id
 * (so a store made with one key type keeps its ids), each further type is
 * base_id "+" type name. */
const char *acme_key_type_cert_id(apr_pool_t *p, const char *base_id,
                                  const apr_array_header_t *types, int i);
/* *to: the spec of the certificate of the i-th (i >= 1) listed type, derived from the
 * first type's spec `from`: its id (acme_key_type_cert_id of from->cert.id) and key type;
 * everything else (names, CA, challenges, windows, profile, ...) the same. */
void acme_key_type_spec(acme_spec_t *to, apr_pool_t *p, const acme_spec_t *from,
                        const apr_array_header_t *types, int i);
/* Which of n certificates due in one run wait for the next run: each whose names (normalized,
 * names[k]) equal an earlier one's (the certificates of one name set's key types). Two orders
 * for the same names at once would replace each other's tls-alpn-01 answer, which is one per
 * name. Returns n flags (1: waits), allocated from p. */
int *acme_key_types_wait(apr_pool_t *p, const apr_array_header_t *const *names, int n);

#endif
