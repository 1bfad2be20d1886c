/* mod_acme_watchdog.c: the driver in a child singleton watchdog (all network work). */
#ifndef MOD_ACME_WATCHDOG_H
#define MOD_ACME_WATCHDOG_H

#include <httpd.h>

#include "mod_acme_generation.h"

apr_status_t mod_acme_watchdog_setup(mod_acme_gen_t *m, apr_pool_t *p);

#endif
