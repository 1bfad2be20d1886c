/* The configured CAs (ACMEServer A [B ...]): the known CA names, and which CA an attempt of
 * a certificate uses (failover after repeated failures, back to the first). Pure: no I/O. */
#ifndef ACME_CA_H
#define ACME_CA_H

#include "acme.h"
#include "acme_pace.h"

/* Consecutive failed attempts of a certificate at one CA before its next attempt goes to
 * the next configured CA. */
#define ACME_CA_FAILOVER_THRESHOLD 3
/* At most this many CAs in one ACMEServer directive. */
#define ACME_CA_MAX 8

/* The directory URL of a known CA name ("letsencrypt", "letsencrypt-staging", "zerossl",
 * "google", "google-staging"; case-insensitive), or NULL. */
const char *acme_ca_known_url(const char *name);
/* The known name of a directory URL (exact), or NULL. */
const char *acme_ca_known_name(const char *url);
/* One ACMEServer argument: a known name or an https:// URL with a host. APR_SUCCESS with
 * *purl; else APR_EINVAL with *perr, a sentence for the admin (a CA that closed its ACME
 * service is named as such). */
apr_status_t acme_ca_resolve(const char **purl, const char **perr, apr_pool_t *p,
                             const char *arg);
/* "URL (name)" for a known CA, else the URL; "-" for NULL. */
const char *acme_ca_label(apr_pool_t *p, const char *url);

/* Which of n configured CAs (index 0 first) the next attempt of a certificate uses after
 * `failures` consecutive failed attempts (the count since its last success): each CA gets
 * `threshold` attempts in a row, then the next one; after the last, the first again.
 * A success sets failures to 0, so the next order (the renewal) starts at the first CA.
 * (failures / threshold) mod n; n <= 1, failures <= 0 or threshold <= 0: 0. */
int acme_ca_pick(int n, int failures, int threshold);
/* The index of url in urls (const char *, exact match), or -1. */
int acme_ca_index(const apr_array_header_t *urls, const char *url);
/* The CA asked for a certificate's renewal window (ARI), and the only one an order may tell
 * which certificate it replaces: the one that issued it (live_ca) when it is listed, else
 * (unknown, or no longer configured) the first. */
int acme_ca_issuer_index(const apr_array_header_t *urls, const char *live_ca);

/* The rates a CA documents (pacing, acme_pace.h), by directory URL. Let's Encrypt
 * (https://letsencrypt.org/docs/rate-limits/, April 2025): 300 new orders per account per
 * 3 hours (one more every 36 s), ARI replacements exempt; newOrder 300 requests per second
 * with a burst of 200 per IP address, kept here at 200 per second. Any other CA:
 * ACME_PACE_UNKNOWN_NEW_ORDER newOrder requests per second and no order budget (set one
 * with ACMEOrderRate): the rate kept for Let's Encrypt, two thirds of what the largest CA
 * documents for its newOrder endpoint. A CA slower than that is never sent more than it
 * answers: newOrder requests go to a CA one at a time (acme_client_post_serial), so a slow
 * answer slows the next request; the cap only keeps a fast CA from bursts. (It was 100: at
 * 1,000 vhosts on pebble it alone made issuance 2.3x a client without pacing.) */
#define ACME_PACE_UNKNOWN_NEW_ORDER 200
void acme_ca_limits(acme_pace_limits_t *lim, const char *url);

/* ACMERequestRates: which per-endpoint request rates (acme_pace_limits_t.requests) apply. */
typedef enum {
    ACME_REQUEST_RATES_AUTO = 0,   /* Let's Encrypt's at its own URLs, none elsewhere */
    ACME_REQUEST_RATES_LETSENCRYPT, /* Let's Encrypt's at every CA, whatever its URL */
    ACME_REQUEST_RATES_OFF         /* none (newOrder's and the order budget stay) */
} acme_request_rates_e;
/* Sets lim->requests for the CA at url (the rest of lim untouched). Let's Encrypt
 * (https://letsencrypt.org/docs/rate-limits/, "Overall Requests", per IP address and
 * endpoint, rate and burst): directory 40/s burst 40, new-nonce 20/s burst 10, new-account
 * 5/s burst 15, revoke-cert 10/s burst 100, renewal-info 1000/s burst 100, any other /acme/
 * URL 250/s burst 125; new-order (300/s burst 200) is lim->new_order's. */
void acme_ca_request_limits(acme_pace_limits_t *lim, const char *url,
                            acme_request_rates_e mode);
/* "auto", "letsencrypt" or "off" (any case): APR_SUCCESS and *mode, else APR_EINVAL. */
apr_status_t acme_ca_request_rates_parse(acme_request_rates_e *mode, const char *arg);

#endif
