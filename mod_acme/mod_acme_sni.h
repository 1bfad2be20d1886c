/* mod_acme glue: a vhost whose names are split over several certificates gets, in its
 * SSL_CTX, a certificate callback that serves the part holding the SNI name. */
#ifndef MOD_ACME_SNI_H
#define MOD_ACME_SNI_H

#include <httpd.h>
#include <openssl/ssl.h>

/* mod_ssl's optional hook "init_server", run for each https vhost's SSL_CTX once its
 * certificates are loaded. Its declaring header (httpd's modules/ssl/mod_ssl_openssl.h) is
 * not installed by Debian's apache2-dev, so the hook's type is declared here as httpd 2.4
 * declares it: APR_DECLARE_EXTERNAL_HOOK(ssl, SSL, int, init_server, (server_rec *s,
 * apr_pool_t *p, int is_proxy, SSL_CTX *ctx)). Optional hooks are bound by name at run
 * time ("init_server" is in mod_ssl.so), so nothing links against mod_ssl. */
typedef int ssl_HOOK_init_server_t(server_rec *s, apr_pool_t *p, int is_proxy, SSL_CTX *ctx);

int mod_acme_sni_init_server(server_rec *s, apr_pool_t *p, int is_proxy, SSL_CTX *ctx);

#endif
