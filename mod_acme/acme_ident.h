/* ACME identifiers (RFC 8555 9.7.7, RFC 8738): a certificate name is a "dns" identifier or,
 * when it is an IPv4 or IPv6 address, an "ip" one. The one place that tells them apart,
 * writes an address in its canonical text, and maps it to and from the reverse-DNS name
 * the tls-alpn-01 validation sends as SNI (RFC 8738 section 6). */
#ifndef ACME_IDENT_H
#define ACME_IDENT_H

#include "acme.h"
#include <jansson.h>

#define ACME_IDENT_DNS "dns"
#define ACME_IDENT_IP  "ip"

/* The canonical text of name when it is an IP address ("127.0.0.1", "::1"; an IPv6
 * address may come in brackets, "[::1]"), NULL when it is not one. */
const char *acme_ident_ip(apr_pool_t *p, const char *name);

/* ACME_IDENT_IP or ACME_IDENT_DNS for a certificate name. */
const char *acme_ident_type(const char *name);

/* The address of an IP name as bytes: 4 or 16 in *plen; APR_EINVAL when not an address. */
apr_status_t acme_ident_ip_bytes(unsigned char out[16], apr_size_t *plen, const char *name);

/* newOrder's "identifiers" for names: one {"type","value"} object each, an address as
 * "ip" with its canonical text. A new reference. */
json_t *acme_ident_json(const apr_array_header_t *names);

/* The reverse-DNS name of an address (RFC 8738 section 6): "1.0.0.127.in-addr.arpa",
 * 32 nibbles then "ip6.arpa" for IPv6; without the final dot. NULL when not an address. */
const char *acme_ident_reverse_name(apr_pool_t *p, const char *ip);

/* The address (canonical text) a reverse-DNS name stands for, with or without its final
 * dot, case-insensitive; NULL when name is not a complete reverse-DNS name. */
const char *acme_ident_from_reverse_name(apr_pool_t *p, const char *name);

/* Whether a certificate with this ACMEProfile (NULL: none) may carry IP identifiers. NULL
 * when it may, else why not, for the warning that leaves the address out. The rule: IP
 * identifiers are sent only when the admin chose a profile (Let's Encrypt issues for
 * addresses only in "shortlived"); the CA refuses a profile that does not allow them. */
const char *acme_ident_ip_refused(const char *profile);

#endif
