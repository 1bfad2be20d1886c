/* One vhost's names split over several certificates (acme_groups.h): which part a TLS
 * connection gets, by its SNI name, and the parts held in memory for a certificate
 * callback. No httpd. */
#ifndef ACME_SNI_H
#define ACME_SNI_H

#include <openssl/ssl.h>

#include "acme.h"

/* The parts of one split vhost. */
typedef struct acme_sni_t acme_sni_t;

/* Which of nparts name sets (each normalized, lower case) serves a connection for sni: the
 * part holding sni itself, else the first whose wildcard covers it (*.example.org covers
 * a.example.org, not example.org nor a.b.example.org), else 0 (no SNI, unknown name).
 * sni may be NULL, any case, with one trailing dot. */
int acme_sni_pick(const apr_array_header_t *const *parts, int nparts, const char *sni);

/* An empty set of nparts parts, for ctx's certificate callback (acme_sni_install). */
apr_status_t acme_sni_create(acme_sni_t **psni, apr_pool_t *p, int nparts);

/* Part i: its names and, when it is live, its chain (leaf first) and key in PEM. Parsed
 * into memory once (freed with p): a handshake never reads a file. Without chain_pem the
 * part is not live yet and its names get part 0's certificate or whatever the SSL_CTX has.
 * ACME_EPROTO when the PEM does not parse or the key does not match the leaf. */
apr_status_t acme_sni_set_part(acme_sni_t *sni, apr_pool_t *p, int i,
                               const apr_array_header_t *names,
                               const char *chain_pem, apr_size_t chain_len,
                               const char *key_pem, apr_size_t key_len);

/* How many parts have a certificate in memory. */
int acme_sni_live(const acme_sni_t *sni);

/* Puts the part for this connection's SNI name on ssl (certificate, chain, key). 1: done or
 * nothing to do (the SSL_CTX's certificate stays; a tls-alpn-01 handshake keeps mod_ssl's
 * challenge certificate), 0: OpenSSL refused. */
int acme_sni_apply(SSL *ssl, const acme_sni_t *sni);

/* SSL_CTX_set_cert_cb(ctx, acme_sni_apply): it runs after the SNI callback has switched the
 * connection to the vhost's SSL_CTX (the callback is part of what SSL_set_SSL_CTX copies). */
void acme_sni_install(SSL_CTX *ctx, const acme_sni_t *sni);

#endif
