/* mod_acme_watchdog.c: the driver in a child singleton watchdog (all network work). */
#ifndef MOD_ACME_WATCHDOG_H
#define MOD_ACME_WATCHDOG_H

#include <httpd.h>

#include "mod_acme_generation.h"

apr_status_t mod_acme_watchdog_setup(mod_acme_gen_t *m, apr_pool_t *p);
/* child_stopping hook: the run of the ending watchdog child winds down (interrupted orders
 * are no failures; the next generation resumes them). */
void mod_acme_watchdog_child_stopping(apr_pool_t *pchild, int graceful);

#endif
