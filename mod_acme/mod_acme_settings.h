/* mod_acme_settings.c: which vhost's settings a certificate takes; configtest checks. */
#ifndef MOD_ACME_SETTINGS_H
#define MOD_ACME_SETTINGS_H

#include <httpd.h>

#include "mod_acme_generation.h"

/* The one spec pass: each certificate's settings (mc->settings: the main server's, each
 * replaced by the value the certificate's vhosts wrote, an https vhost's winning over a
 * plain-http twin's; logged with where they came from) and what httpd knows (listeners,
 * ports), gathered into an acme_spec_input_t; acme_spec_build makes mc->spec from it. */
void mod_acme_cert_specs(mod_acme_gen_t *m, apr_pool_t *ptemp);
/* "VirtualHost at FILE:LINE" or "main server", for messages. */
const char *mod_acme_where(server_rec *s, apr_pool_t *p);
/* check_config: conflicting settings of vhosts sharing a certificate, files and programs
 * the server's User cannot read or run. */
int mod_acme_check_settings(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                            server_rec *s);

#endif
