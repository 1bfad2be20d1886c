/* mod_acme_fleet.c: fleet mode's wiring (ACMEStore pgsql:"..."): the fleet layer
 * (acme_fleet.c) made in the root parent without I/O, the database opened and the sync
 * thread run in the watchdog child. */
#ifndef MOD_ACME_FLEET_H
#define MOD_ACME_FLEET_H

#include <httpd.h>

#include "mod_acme_generation.h"
#include "acme_runner.h"

typedef struct mod_acme_fleet_t mod_acme_fleet_t;

/* check_config: fleet mode needs a usable ACMEFleetKeyFile. Fatal in configtest and at
 * the first start; in a restart logged (the node then serves and orders nothing). */
int mod_acme_fleet_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                                server_rec *s);
/* post_config of the serving generation, root parent: m->fleet (no database I/O).
 * APR_EINVAL in fleet mode without the fleet key: no ACME work in this generation. */
apr_status_t mod_acme_fleet_setup(mod_acme_gen_t *m, apr_pool_t *p);
/* The runner's store and hooks in fleet mode. */
acme_store_t *mod_acme_fleet_store(mod_acme_fleet_t *mf);
const acme_runner_fleet_t *mod_acme_fleet_hooks(mod_acme_fleet_t *mf);
/* Watchdog child: open the database and start the sync thread (beats, pulls, challenges);
 * stop it when the watchdog stops. */
void mod_acme_fleet_child_start(mod_acme_fleet_t *mf);
void mod_acme_fleet_child_stop(mod_acme_fleet_t *mf);

#endif
