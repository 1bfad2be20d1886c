/* Certificate files an admin configured for mod_ssl (not ours): can mod_ssl load them,
 * and do certificate and key match? `httpd -t` checks only that the files exist; a pair
 * that does not match passes it and then stops httpd at the next (graceful) restart. */
#ifndef ACME_TLSFILES_H
#define ACME_TLSFILES_H

#include "acme.h"

/* Whether name is a URI mod_ssl hands to an engine or provider ("pkcs11:...",
 * "engine:id"), not a file: a scheme of letters, digits, '+', '-', '.' and a ':'. */
int acme_tls_is_uri(const char *name);

/* Check the certificate in cert_file (the first PEM certificate) against its key in
 * key_file (NULL: the key is in cert_file too). APR_SUCCESS: loads and matches.
 * APR_ENOTIMPL: cannot be checked here (an encrypted key, a URI); ACME_EVERIFY: a file
 * cannot be read, holds no certificate or key, or they do not match. *pwhy says what. */
apr_status_t acme_tls_pair_check(const char **pwhy, apr_pool_t *p, const char *cert_file,
                                 const char *key_file);

#endif
