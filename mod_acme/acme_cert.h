/* Certificates: PEM chains, facts, chain links, CSRs, self-signed fallbacks. */
#ifndef ACME_CERT_H
#define ACME_CERT_H

#include "acme.h"
#include "acme_crypto.h"
#include <openssl/x509.h>

typedef struct acme_cert_info_t {
    const char *serial;          /* upper-case hex */
    const char *subject_cn;      /* may be NULL */
    const char *issuer;          /* one-line issuer DN */
    const char *issuer_cn;       /* the issuer's CN, may be NULL */
    apr_time_t not_before, not_after;
    apr_array_header_t *names;   /* dNSName SANs, lower-cased, as in the certificate */
} acme_cert_info_t;

/* Parse all certificates in a PEM text. *pchain is an array of X509* freed at pool cleanup.
 * ACME_EPROTO if there is none or a PEM block does not parse. */
apr_status_t acme_chain_parse(apr_array_header_t **pchain, apr_pool_t *p,
                              const char *pem, apr_size_t len);
apr_status_t acme_cert_info(acme_cert_info_t **pinfo, apr_pool_t *p, X509 *x);

/* The check of a whole set (chain, key, names, dates) is acme_cert_verify_set in
 * acme_verify.h. */

/* Chain consistency, in the order RFC 8555 9.1 prescribes (leaf first, each certificate
 * certified by the next): for every neighbour pair the names chain (X509_check_issued:
 * issuer/subject, key identifiers, key usage) and the signature of the lower one verifies
 * with the public key of the upper one. The root need not be trusted by the system.
 * APR_SUCCESS; APR_INCOMPLETE when the chain is a lone leaf that its own key did not sign
 * (the issuer is missing); ACME_EVERIFY when a link is broken. *pwhy says why. */
apr_status_t acme_chain_check(const char **pwhy, apr_pool_t *p, const apr_array_header_t *chain);

/* The certificates of chain as PEM, in order, nothing else (text between blocks dropped). */
apr_status_t acme_chain_pem(const char **ppem, apr_size_t *plen, apr_pool_t *p,
                            const apr_array_header_t *chain);

/* Certificates from an issuer download: PEM (one or more) or a single DER certificate
 * (caIssuers answers are usually application/pkix-cert). ACME_EPROTO if neither. */
apr_status_t acme_certs_parse_any(apr_array_header_t **pcerts, apr_pool_t *p,
                                  const char *data, apr_size_t len);

/* The first http(s) caIssuers URL of the Authority Information Access extension;
 * APR_ENOENT when there is none. */
apr_status_t acme_cert_ca_issuers(const char **purl, apr_pool_t *p, X509 *x);

/* PKCS#10 CSR for names (first name also as CN when <= 64 chars), SAN extension with
 * all names, signed with key. *pder_b64url is the DER, base64url-encoded (RFC 8555 7.4). */
apr_status_t acme_csr_create(const char **pder_b64url, apr_pool_t *p, const acme_key_t *key,
                             const apr_array_header_t *names);

/* A self-signed certificate for key with the given CN and SAN names, valid from now-1h for
 * valid_for. PEM result. */
apr_status_t acme_selfsigned_create(const char **ppem, apr_pool_t *p, const acme_key_t *key,
                                    const char *cn, const apr_array_header_t *names,
                                    apr_interval_time_t valid_for);

/* The tls-alpn-01 challenge certificate (RFC 8737 section 3): self-signed for key, SAN =
 * name only, with the critical acmeIdentifier extension holding SHA-256(key_authorization). */
apr_status_t acme_tlsalpn01_cert_create(const char **ppem, apr_pool_t *p, const acme_key_t *key,
                                        const char *name, const char *key_authorization);

/* RFC 9773 certificate identifier: base64url(AKI keyIdentifier) "." base64url(serial's DER
 * content octets). APR_ENOENT when the certificate has no AKI. */
apr_status_t acme_cert_ari_id(const char **pid, apr_pool_t *p, X509 *x);

#endif
