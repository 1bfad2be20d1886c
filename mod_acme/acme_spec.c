/* The per-certificate spec from what the glue gathered (see acme_spec.h). */
#include <string.h>

#include <apr_strings.h>

#include "acme_spec.h"
#include "acme_crypto.h"
#include "acme_util.h"

static void push(apr_array_header_t *a, const char *s)
{
    APR_ARRAY_PUSH(a, const char *) = s;
}

static void choose_challenges(acme_spec_t *spec, apr_pool_t *p, const acme_spec_input_t *in)
{
    apr_array_header_t *types, *why;

    if (in->challenges) {
        spec->cert.challenge_types = in->challenges;
        spec->challenge_why = "ACMEChallenges";
        if (acme_names_contain(in->challenges, ACME_CHALLENGE_DNS01) && !in->dns_hook) {
            spec->challenge_warning = "ACMEChallenges lists dns-01 but no ACMEDNSHook is set: "
                                      "dns-01 cannot be used";
        }
        return;
    }
    types = apr_array_make(p, 3, sizeof(const char *));
    why = apr_array_make(p, 3, sizeof(const char *));
    if (in->dns_hook) {
        push(types, ACME_CHALLENGE_DNS01);
        push(why, "ACMEDNSHook is set");
    }
    if (in->listen_http) {
        push(types, ACME_CHALLENGE_HTTP01);
        push(why, apr_psprintf(p, "listening on %d (public port 80)", in->port_http));
    }
    if (in->listen_https) {
        push(types, ACME_CHALLENGE_TLSALPN01);
        push(why, apr_psprintf(p, "listening on %d (public port 443)", in->port_https));
    }
    if (!in->listen_http && !in->listen_https) {
        push(types, ACME_CHALLENGE_HTTP01);
        push(types, ACME_CHALLENGE_TLSALPN01);
        push(why, "listening on neither the public port 80 nor 443 (see ACMEPortMap): "
                  "trying http-01, then tls-alpn-01");
    }
    spec->cert.challenge_types = types;
    spec->challenge_why = apr_pstrcat(p, "automatic: ", acme_names_join(p, why, "; "), NULL);
}

void acme_spec_build(acme_spec_t *spec, apr_pool_t *p, const acme_spec_input_t *in)
{
    memset(spec, 0, sizeof(*spec));
    spec->cert = in->cert;
    spec->cert.key_type = in->key_type != ACME_SPEC_UNSET ? (acme_key_type_t)in->key_type
                                                          : ACME_KEY_EC_P256;
    spec->cert.dns_hook = NULL;
    if (in->dns_hook) {
        spec->dns_hook.program = in->dns_hook;
        spec->dns_hook.args = in->dns_hook_args;
        spec->dns_hook.propagation_timeout = in->dns_propagation >= 0
                                             ? in->dns_propagation : ACME_SPEC_DNS_PROPAGATION;
        spec->dns_hook.resolver = in->dns_resolver;
        spec->dns_hook.timeout = ACME_SPEC_DNS_HOOK_TIMEOUT;
        spec->cert.dns_hook = &spec->dns_hook;
    }
    choose_challenges(spec, p, in);

    spec->plan.names = spec->cert.names;
    spec->plan.ca_url = spec->cert.ca_url;
    spec->plan.ca_urls = in->ca_urls;
    spec->plan.key = acme_key_type_name(spec->cert.key_type);
    spec->plan.profile = spec->cert.profile;
    spec->plan.renew_percent = in->renew_percent ? in->renew_percent : ACME_SPEC_RENEW_PERCENT;
    spec->plan.renew_before = in->renew_before;
    spec->plan.retry_delay = in->retry_delay > 0 ? in->retry_delay : 0;
    spec->warn_percent = in->warn_percent;
    spec->warn_before = in->warn_before;
}

void acme_spec_copy(acme_spec_t *to, const acme_spec_t *from)
{
    *to = *from;
    if (from->cert.dns_hook) {
        to->cert.dns_hook = &to->dns_hook;
    }
}
