/* acme_spec: the complete per-certificate spec from what the glue gathered (a table of
 * challenge-type cases, defaults, windows, the dns-01 hook, fields passed through). */
#include <string.h>

#include <apr_strings.h>

#include "tests.h"
#include "acme_spec.h"
#include "acme_crypto.h"
#include "acme_util.h"

static apr_pool_t *pool;

static void setup(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

static apr_array_header_t *list(const char *words)
{
    apr_array_header_t *a = apr_array_make(pool, 3, sizeof(const char *));
    char *copy = apr_pstrdup(pool, words), *last, *w;
    for (w = apr_strtok(copy, " ", &last); w; w = apr_strtok(NULL, " ", &last)) {
        APR_ARRAY_PUSH(a, const char *) = w;
    }
    return a;
}

static void input(acme_spec_input_t *in)
{
    memset(in, 0, sizeof(*in));
    in->cert.id = "a.example";
    in->cert.names = list("a.example www.a.example");
    in->cert.ca_url = "https://ca.test/dir";
    in->key_type = ACME_SPEC_UNSET;
    in->dns_propagation = -1;
    in->port_http = 80;
    in->port_https = 443;
}

typedef struct {
    const char *what;
    const char *challenges;        /* ACMEChallenges, NULL: automatic */
    int hook, http, https;
    const char *types;             /* expected, space-separated */
    const char *why;               /* expected in challenge_why */
    int warning;
} chall_case_t;

static const chall_case_t chall_cases[] = {
    { "automatic, port 80", NULL, 0, 1, 0, "http-01", "automatic: listening on 80" , 0 },
    { "automatic, port 443", NULL, 0, 0, 1, "tls-alpn-01", "listening on 443", 0 },
    { "automatic, both", NULL, 0, 1, 1, "http-01 tls-alpn-01", "public port 443", 0 },
    { "automatic, neither", NULL, 0, 0, 0, "http-01 tls-alpn-01", "neither", 0 },
    { "automatic, hook first", NULL, 1, 1, 0, "dns-01 http-01", "ACMEDNSHook is set", 0 },
    { "automatic, hook only", NULL, 1, 0, 0, "dns-01 http-01 tls-alpn-01", "neither", 0 },
    { "given", "tls-alpn-01 http-01", 0, 1, 1, "tls-alpn-01 http-01", "ACMEChallenges", 0 },
    { "given dns-01 with hook", "dns-01", 1, 1, 1, "dns-01", "ACMEChallenges", 0 },
    { "given dns-01 without hook", "dns-01 http-01", 0, 1, 1, "dns-01 http-01",
      "ACMEChallenges", 1 },
};

START_TEST(challenge_table)
{
    const chall_case_t *c = &chall_cases[_i];
    acme_spec_input_t in;
    acme_spec_t spec;

    input(&in);
    in.challenges = c->challenges ? list(c->challenges) : NULL;
    in.dns_hook = c->hook ? "/usr/local/bin/dns-hook" : NULL;
    in.listen_http = c->http;
    in.listen_https = c->https;
    acme_spec_build(&spec, pool, &in);
    ck_assert_msg(!strcmp(acme_names_join(pool, spec.cert.challenge_types, " "), c->types),
                  "%s: types %s", c->what, acme_names_join(pool, spec.cert.challenge_types, " "));
    ck_assert_msg(strstr(spec.challenge_why, c->why) != NULL, "%s: why %s", c->what,
                  spec.challenge_why);
    ck_assert_msg(!spec.challenge_warning == !c->warning, "%s: warning %s", c->what,
                  spec.challenge_warning ? spec.challenge_warning : "(none)");
    ck_assert_msg(!spec.cert.dns_hook == !c->hook, "%s: hook", c->what);
}
END_TEST

START_TEST(defaults)
{
    acme_spec_input_t in;
    acme_spec_t spec;

    input(&in);
    in.listen_http = 1;
    acme_spec_build(&spec, pool, &in);
    ck_assert_str_eq(spec.cert.id, "a.example");
    ck_assert_int_eq(spec.cert.names->nelts, 2);
    ck_assert_int_eq(spec.cert.key_type, ACME_KEY_EC_P256);
    ck_assert_ptr_null(spec.cert.dns_hook);
    ck_assert_ptr_null(spec.cert.replaces);
    /* the planner sees the same names, CA and key type */
    ck_assert_ptr_eq(spec.plan.names, spec.cert.names);
    ck_assert_str_eq(spec.plan.ca_url, "https://ca.test/dir");
    ck_assert_str_eq(spec.plan.key, "p256");
    ck_assert_int_eq(spec.plan.renew_percent, ACME_SPEC_RENEW_PERCENT);
    ck_assert(spec.plan.renew_before == 0 && spec.plan.retry_delay == 0);
    ck_assert(spec.warn_percent == 0 && spec.warn_before == 0);
}
END_TEST

START_TEST(settings_taken)
{
    acme_spec_input_t in;
    acme_spec_t spec, copy;

    input(&in);
    in.key_type = ACME_KEY_RSA2048;
    in.renew_before = apr_time_from_sec(20 * 86400);
    in.warn_percent = 5;
    in.retry_delay = apr_time_from_sec(30);
    in.dns_hook = "/usr/local/bin/dns-hook";
    in.dns_hook_args = list("--zone example");
    in.dns_resolver = "127.0.0.1:5353";
    in.cert.replaces = "passed.through";          /* any driver field passes unchanged */
    acme_spec_build(&spec, pool, &in);
    ck_assert_int_eq(spec.cert.key_type, ACME_KEY_RSA2048);
    ck_assert_str_eq(spec.plan.key, acme_key_type_name(ACME_KEY_RSA2048));
    ck_assert(spec.plan.renew_before == apr_time_from_sec(20 * 86400));
    ck_assert(spec.plan.retry_delay == apr_time_from_sec(30));
    ck_assert_int_eq(spec.warn_percent, 5);
    ck_assert_str_eq(spec.cert.replaces, "passed.through");
    ck_assert_ptr_eq(spec.cert.dns_hook, &spec.dns_hook);
    ck_assert_str_eq(spec.dns_hook.program, "/usr/local/bin/dns-hook");
    ck_assert_int_eq(spec.dns_hook.args->nelts, 2);
    ck_assert(spec.dns_hook.propagation_timeout == ACME_SPEC_DNS_PROPAGATION);
    ck_assert(spec.dns_hook.timeout == ACME_SPEC_DNS_HOOK_TIMEOUT);
    ck_assert_str_eq(spec.dns_hook.resolver, "127.0.0.1:5353");
    in.dns_propagation = 0;                       /* "don't wait" is a value */
    acme_spec_build(&spec, pool, &in);
    ck_assert(spec.dns_hook.propagation_timeout == 0);
    /* a copy points at its own hook */
    acme_spec_copy(&copy, &spec);
    ck_assert_ptr_eq(copy.cert.dns_hook, &copy.dns_hook);
    ck_assert_str_eq(copy.cert.dns_hook->program, "/usr/local/bin/dns-hook");
    in.dns_hook = NULL;
    acme_spec_build(&spec, pool, &in);
    acme_spec_copy(&copy, &spec);
    ck_assert_ptr_null(copy.cert.dns_hook);
}
END_TEST

Suite *spec_suite(void)
{
    Suite *s = suite_create("spec");
    TCase *tc = tcase_create("spec");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, challenge_table, 0, (int)(sizeof(chall_cases) / sizeof(chall_cases[0])));
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, settings_taken);
    suite_add_tcase(s, tc);
    return s;
}
