/* Helpers several unit test files share. */
#ifndef UNIT_HELPERS_H
#define UNIT_HELPERS_H

#include <apr_pools.h>
#include <openssl/x509.h>

/* Write dir/hook.sh: a shell script that appends its arguments to dir/hook.log, then runs
 * body. Returns its path. */
const char *unit_hook_write(apr_pool_t *p, const char *dir, const char *body);
/* What the script logged so far ("" when it never ran). */
const char *unit_hook_log(apr_pool_t *p, const char *dir);

/* RFC 8737 3: x names only name and has the critical acmeIdentifier extension holding
 * SHA-256 of key_auth (fails the running Check test otherwise). */
void unit_assert_tlsalpn01_cert(apr_pool_t *p, X509 *x, const char *name,
                                const char *key_auth);

#endif
