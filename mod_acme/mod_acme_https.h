/* mod_acme_https.c: ACMERequireHttps, the redirect to https and HSTS. */
#ifndef MOD_ACME_HTTPS_H
#define MOD_ACME_HTTPS_H

#include <httpd.h>

#include "mod_acme_config.h"
#include "mod_acme_generation.h"

/* post_config, after mod_ssl: which names have a live certificate that asks for https. */
void mod_acme_https_init(mod_acme_gen_t *m);
/* post_read_request, after the http-01 responder: redirect or add HSTS (no file access). */
int mod_acme_https_post_read_request(request_rec *r);

#endif
