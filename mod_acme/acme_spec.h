/* The complete per-certificate spec, built once by one pure function from what the glue
 * gathers of httpd's configuration (acme_spec_input_t): what the driver needs
 * (acme_cert_spec_t), what the planner needs (acme_plan_spec_t), the warn window, and the
 * challenge types with the reason for them. No I/O, no httpd. */
#ifndef ACME_SPEC_H
#define ACME_SPEC_H

#include "acme.h"
#include "acme_driver.h"
#include "acme_plan.h"

#define ACME_SPEC_UNSET (-1)
#define ACME_SPEC_RENEW_PERCENT 33                       /* renew window default */
#define ACME_SPEC_DNS_PROPAGATION apr_time_from_sec(120)  /* ACMEDNSPropagationTimeout */
#define ACME_SPEC_DNS_HOOK_TIMEOUT apr_time_from_sec(60)  /* one run of the dns-01 hook */

/* What the glue gathers for one certificate. A new per-certificate setting that the driver
 * takes as it is (an order option) is a field of acme_cert_spec_t: the glue sets it in
 * `cert` and acme_spec_build passes it on unchanged (one line in the glue). */
typedef struct acme_spec_input_t {
    acme_cert_spec_t cert;             /* id, names (normalized), ca_url and every field the
                                        * driver takes unchanged; key_type, challenge_types
                                        * and dns_hook are set by acme_spec_build */
    const apr_array_header_t *ca_urls; /* ACMEServer A [B ...] (cert.ca_url first), NULL */
    int key_type;                      /* ACMEKeyType (acme_key_type_t), ACME_SPEC_UNSET: P-256 */
    int renew_percent;                 /* ACMERenewWindow as a share of the lifetime, or */
    apr_interval_time_t renew_before;  /* as a duration (wins when > 0); both 0: 33% */
    int warn_percent;                  /* ACMEWarnWindow likewise (0, 0: acme_expiry's */
    apr_interval_time_t warn_before;   /* default) */
    apr_interval_time_t retry_delay;   /* ACMERetryDelay, <= 0: the planner's default */
    const apr_array_header_t *challenges; /* ACMEChallenges, NULL: chosen automatically */
    const char *dns_hook;              /* ACMEDNSHook program, NULL: none */
    const apr_array_header_t *dns_hook_args;
    apr_interval_time_t dns_propagation; /* < 0: ACME_SPEC_DNS_PROPAGATION */
    const char *dns_resolver;          /* ACMEDNSResolver, NULL: the system's */
    int port_http, port_https;         /* local ports the public ports 80 and 443 reach */
    int listen_http, listen_https;     /* the server listens on them */
} acme_spec_input_t;

typedef struct acme_spec_t {
    acme_cert_spec_t cert;             /* for acme_driver_obtain (cert.dns_hook points to
                                        * dns_hook below when a hook is set) */
    acme_plan_spec_t plan;             /* for acme_plan_compute */
    int warn_percent;                  /* for acme_expiry_warn_time */
    apr_interval_time_t warn_before;
    acme_dns_hook_t dns_hook;
    const char *challenge_why;         /* why these challenge types, for the log */
    const char *challenge_warning;     /* a setting that cannot work as written, or NULL */
} acme_spec_t;

/* Challenge types: ACMEChallenges when given (challenge_why "ACMEChallenges"; dns-01 listed
 * without a hook gives challenge_warning); otherwise dns-01 when a hook is set, http-01 when
 * the server listens on the port the public 80 reaches, tls-alpn-01 when on 443's, and both
 * (http-01 first) when on neither. The spec is a copy: spec->cert.dns_hook points into spec
 * itself, so a spec copied elsewhere must have it pointed again (acme_spec_copy). */
void acme_spec_build(acme_spec_t *spec, apr_pool_t *p, const acme_spec_input_t *in);
/* *to = *from, with to->cert.dns_hook pointing into to. */
void acme_spec_copy(acme_spec_t *to, const acme_spec_t *from);

#endif
