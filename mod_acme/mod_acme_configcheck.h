/* mod_acme_configcheck.c: what `httpd -t` misses (TLS file pairs, new Listen addresses). */
#ifndef MOD_ACME_CONFIGCHECK_H
#define MOD_ACME_CONFIGCHECK_H

#include <httpd.h>

int mod_acme_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                          server_rec *s);

#endif
