/* mod_acme_ssl.c: store, fallback, activation, planning, mod_ssl's certificate hooks. */
#ifndef MOD_ACME_SSL_H
#define MOD_ACME_SSL_H

#include <apr_thread_mutex.h>
#include <httpd.h>

#include "acme_plan.h"
#include "mod_acme_generation.h"

/* The names s's certificate would hold, in config order, not normalized (may be empty);
 * names left out go to *pleft_out ("name: why", allocated when needed) unless it is NULL. */
apr_array_header_t *mod_acme_vhost_names(server_rec *s, apr_array_header_t **pleft_out,
                                         apr_pool_t *p);
apr_status_t mod_acme_store_init(mod_acme_gen_t *m, apr_pool_t *ptemp);
void mod_acme_plan_vhosts(mod_acme_gen_t *m, apr_pool_t *ptemp);
/* A work pool for one start-up phase, with an allocator of its own so that
 * apr_pool_destroy gives its memory back to the system (ptemp's blocks stay with the
 * parent, and so with every child, until ptemp ends); a pool under ptemp if that fails. */
apr_pool_t *mod_acme_scratch_pool(apr_pool_t *ptemp);
/* configtest: are the name groups (ACMEDomain) consistent with the vhosts? (errors logged) */
int mod_acme_check_groups(server_rec *s, apr_pool_t *ptemp);
void mod_acme_activate_staged(mod_acme_gen_t *m, apr_pool_t *ptemp);
/* One certificate's staged set: verified, installed live (acme_install_staged), outcome
 * logged. 1: activated. Also called by the restarter's threads before it restarts: lock
 * guards what the calls share (the verified-sets cache); NULL when only one thread calls. */
int mod_acme_activate_one(mod_acme_gen_t *m, mod_acme_managed_t *mc,
                          apr_thread_mutex_t *lock, apr_pool_t *p);
void mod_acme_load_states(mod_acme_gen_t *m, apr_pool_t *ptemp);
/* ACMEKeyReuse: each certificate's live key, sealed into its driver spec (root parent;
 * the worker cannot read live/), when the next order is to reuse it. */
void mod_acme_reuse_keys(mod_acme_gen_t *m, apr_pool_t *ptemp);
void mod_acme_archive_orphans(mod_acme_gen_t *m, apr_pool_t *ptemp);
void mod_acme_plan_certs(mod_acme_gen_t *m, apr_pool_t *ptemp);
int mod_acme_hook_add_cert_files(server_rec *s, apr_pool_t *p, apr_array_header_t *cert_files,
                                 apr_array_header_t *key_files);
int mod_acme_hook_add_fallback_cert_files(server_rec *s, apr_pool_t *p,
                                          apr_array_header_t *cert_files,
                                          apr_array_header_t *key_files);

#endif
