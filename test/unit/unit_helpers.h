/* Helpers several unit test files share. */
#ifndef UNIT_HELPERS_H
#define UNIT_HELPERS_H

#include <apr_pools.h>
#include <apr_tables.h>
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

/* A certificate for pub named cn, signed by issuer_key (issuer NULL: self-issued), valid
 * from now+from_s to now+to_s; CA or leaf; names (NULL-terminated, or NULL) as dNSName SANs;
 * aia (an X509V3 caIssuers spec) or NULL. The caller frees it (X509_free). */
X509 *unit_cert_make(apr_pool_t *pool, const char *cn, EVP_PKEY *pub, X509 *issuer,
                     EVP_PKEY *issuer_key, int ca, const char *const *names, long from_s,
                     long to_s, const char *aia);

/* The NULL-terminated list as an array of const char* in p. */
apr_array_header_t *unit_names(apr_pool_t *p, const char *const *list);

/* Remove dir and everything below it (temporary test directories). */
void unit_rmtree(const char *dir);

/* Capture the core's log lines (acme_log_set, every level up to DEBUG) as "LEVEL message"
 * in an array of p; acme_log_set(NULL, NULL, NULL) ends it. */
apr_array_header_t *unit_log_capture(apr_pool_t *p);
/* Was a line of this level logged that holds s1 (and s2 unless NULL)? */
int unit_logged(const apr_array_header_t *logs, int level, const char *s1, const char *s2);

#endif
