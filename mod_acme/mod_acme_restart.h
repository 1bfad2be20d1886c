/* mod_acme_restart.c: the root parent's restarter (graceful restart when new certificates
 * are staged and the configuration passes `httpd -t`). */
#ifndef MOD_ACME_RESTART_H
#define MOD_ACME_RESTART_H

#include <httpd.h>

#include "mod_acme_generation.h"

typedef struct mod_acme_restart_t mod_acme_restart_t;
int mod_acme_hook_monitor(apr_pool_t *p, server_rec *s);
apr_status_t mod_acme_restarter_start(mod_acme_gen_t *m, apr_pool_t *pconf);
/* post_config of the generation a restart made: the certificates the restarter activated
 * just before it count as activated at this start (notify "activated"). */
void mod_acme_restart_take_activated(mod_acme_gen_t *m);

#endif
