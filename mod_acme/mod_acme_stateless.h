/* mod_acme_stateless.c: ACMEStatelessHTTP01, the glue to acme_stateless.c. */
#ifndef MOD_ACME_STATELESS_H
#define MOD_ACME_STATELESS_H

#include <httpd.h>

#include "mod_acme_config.h"
#include "mod_acme_generation.h"
#include "acme_challenge.h"

/* post_config (root parent, the serving generation): the managed names and the thumbprints
 * of the accounts the store holds, for the children to inherit. Nothing when off. */
void mod_acme_stateless_init(mod_acme_gen_t *m, apr_pool_t *ptemp);
/* The http-01 responder, for a token the store has no response for: APR_SUCCESS and *pans
 * (token.thumbprint) when ACMEStatelessHTTP01 is on, the token well-formed and r's Host a
 * managed name; APR_ENOENT otherwise. */
apr_status_t mod_acme_stateless_lookup(acme_challenge_answer_t **pans, request_rec *r,
                                       const char *token);

#endif
