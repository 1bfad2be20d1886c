/* DNS TXT look-ups for the dns-01 propagation check (glibc's resolver, one query). */
#ifndef ACME_DNS_H
#define ACME_DNS_H

#include "acme.h"

/* The TXT values of name (each record's character-strings joined), asking server
 * ("IPv4[:PORT]", default port 53) or, when server is NULL, the system resolver.
 * A name without TXT records gives an empty array and APR_SUCCESS. */
apr_status_t acme_dns_txt(apr_array_header_t **pvalues, apr_pool_t *p, const char *name,
                          const char *server);

/* Parse "HOST[:PORT]" as given to ACMEDNSResolver: an IPv4 address and a port. */
apr_status_t acme_dns_server_parse(const char **paddr, int *pport, apr_pool_t *p,
                                   const char *server);

#endif
