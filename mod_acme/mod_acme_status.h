/* mod_acme_status.c: the server-status section and the acme-status/acme-metrics handlers. */
#ifndef MOD_ACME_STATUS_H
#define MOD_ACME_STATUS_H

#include <httpd.h>

int mod_acme_status_hook(request_rec *r, int flags);
int mod_acme_status_handler(request_rec *r);

#endif
