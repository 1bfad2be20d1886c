/* acme_keytypes: the ACMEKeyTypes list, the store ids of one name set's certificates, the
 * spec of each, and what the planner decides for them. */
#include <string.h>

#include <apr_strings.h>

#include "tests.h"
#include "acme_keytypes.h"
#include "acme_plan.h"
#include "acme_util.h"

#define NOW apr_time_from_sec(1800000000)
#define DAY apr_time_from_sec(86400)

static apr_pool_t *pool;

static void setup(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

/* acme_key_types_parse of the words of `line`. */
static apr_status_t parse(apr_array_header_t **ptypes, const char **perr, const char *line)
{
    const char *argv[8];
    char *copy = apr_pstrdup(pool, line), *last, *w;
    int argc = 0;

    for (w = apr_strtok(copy, " ", &last); w && argc < 8; w = apr_strtok(NULL, " ", &last)) {
        argv[argc++] = w;
    }
    return acme_key_types_parse(ptypes, perr, pool, argc, argv);
}

static const struct {
    const char *line;
    const char *text;                   /* acme_key_types_text, NULL: refused */
    const char *err;                    /* substring of the error */
} parse_cases[] = {
    { "p256", "p256", NULL },
    { "p256 rsa2048", "p256 rsa2048", NULL },
    { "RSA2048 P256", "rsa2048 p256", NULL },    /* order kept, case-insensitive */
    { "p384 rsa4096", "p384 rsa4096", NULL },
    { "rsa3072", "rsa3072", NULL },
    { "", NULL, "at least one" },
    { "p256 rsa1024", NULL, "'rsa1024' is not a key type" },
    { "ed25519", NULL, "'ed25519' is not a key type" },
    { "p256 p256", NULL, "p256 is listed twice" },
    { "p256 p384", NULL, "both ECDSA" },
    { "rsa2048 rsa4096", NULL, "both RSA" },
    { "p256 rsa2048 p384", NULL, "both ECDSA" },
};

START_TEST(parse_lists)
{
    apr_array_header_t *types;
    const char *err;
    apr_status_t rv = parse(&types, &err, parse_cases[_i].line);

    if (parse_cases[_i].text) {
        ck_assert_int_eq(rv, APR_SUCCESS);
        ck_assert_ptr_null(err);
        ck_assert_str_eq(acme_key_types_text(pool, types), parse_cases[_i].text);
    }
    else {
        ck_assert_int_eq(rv, APR_EINVAL);
        ck_assert_ptr_null(types);
        ck_assert_ptr_nonnull(err);
        ck_assert_msg(strstr(err, parse_cases[_i].err) != NULL, "'%s': error '%s' lacks '%s'",
                      parse_cases[_i].line, err, parse_cases[_i].err);
    }
}
END_TEST

START_TEST(ids)
{
    apr_array_header_t *types;
    const char *err;

    ck_assert_int_eq(parse(&types, &err, "p256 rsa2048"), APR_SUCCESS);
    /* the first type keeps the id a one-type store has; the second gets a suffix */
    ck_assert_str_eq(acme_key_type_cert_id(pool, "www.a.example", types, 0), "www.a.example");
    ck_assert_str_eq(acme_key_type_cert_id(pool, "www.a.example", types, 1),
                     "www.a.example+rsa2048");
    ck_assert_str_eq(acme_key_type_cert_id(pool, "a~0123abcd", types, 1), "a~0123abcd+rsa2048");
    ck_assert_str_eq(acme_key_type_cert_id(pool, "x", types, 2), "x"); /* out of range */
    ck_assert_str_eq(acme_key_type_cert_id(pool, "x", NULL, 1), "x");
    ck_assert_int_eq(parse(&types, &err, "rsa4096 p384"), APR_SUCCESS);
    ck_assert_str_eq(acme_key_type_cert_id(pool, "x", types, 0), "x");
    ck_assert_str_eq(acme_key_type_cert_id(pool, "x", types, 1), "x+p384");
    /* a suffixed id is never a name: no DNS name holds the separator */
    ck_assert_int_eq(acme_name_is_certifiable("x+p384", NULL), 0);
}
END_TEST

/* The first type's spec as acme_spec_build makes it for "p256 rsa2048". */
static void first_spec(acme_spec_t *spec, apr_array_header_t **ptypes, const char *line)
{
    acme_spec_input_t in;
    apr_array_header_t *names = apr_array_make(pool, 2, sizeof(const char *));
    const char *err;

    ck_assert_int_eq(parse(ptypes, &err, line), APR_SUCCESS);
    APR_ARRAY_PUSH(names, const char *) = "a.example";
    APR_ARRAY_PUSH(names, const char *) = "www.a.example";
    memset(&in, 0, sizeof(in));
    in.cert.id = "a.example";
    in.cert.names = names;
    in.cert.ca_url = "https://ca.test/dir";
    in.cert.profile = "shortlived";
    in.key_type = APR_ARRAY_IDX(*ptypes, 0, int);
    in.renew_percent = 20;
    in.dns_hook = "/bin/true";
    in.dns_propagation = -1;
    in.listen_http = 1;
    acme_spec_build(spec, pool, &in);
}

START_TEST(second_spec)
{
    acme_spec_t first, second;
    apr_array_header_t *types;

    first_spec(&first, &types, "p256 rsa2048");
    first.cert.reuse_key = "sealed";
    first.cert.reuse_key_len = 6;
    acme_key_type_spec(&second, pool, &first, types, 1);
    ck_assert_str_eq(second.cert.id, "a.example+rsa2048");
    ck_assert_int_eq(second.cert.key_type, ACME_KEY_RSA2048);
    ck_assert_str_eq(second.plan.key, "rsa2048");
    /* the first is untouched */
    ck_assert_str_eq(first.cert.id, "a.example");
    ck_assert_int_eq(first.cert.key_type, ACME_KEY_EC_P256);
    ck_assert_str_eq(first.plan.key, "p256");
    /* everything else is the same certificate's */
    ck_assert_ptr_eq(second.cert.names, first.cert.names);
    ck_assert_str_eq(second.cert.ca_url, first.cert.ca_url);
    ck_assert_str_eq(second.cert.profile, "shortlived");
    ck_assert_int_eq(second.plan.renew_percent, 20);
    ck_assert_ptr_eq(second.cert.challenge_types, first.cert.challenge_types);
    /* its dns-01 hook is its own copy's, and it never reuses the other type's key */
    ck_assert_ptr_eq(second.cert.dns_hook, &second.dns_hook);
    ck_assert_str_eq(second.cert.dns_hook->program, "/bin/true");
    ck_assert_ptr_null(second.cert.reuse_key);
    ck_assert_int_eq((int)second.cert.reuse_key_len, 0);
}
END_TEST

/* A live certificate of key type `key` for spec's names, CA and profile, 60 days left. */
static void live(acme_plan_input_t *in, const acme_spec_t *spec, const char *key)
{
    memset(in, 0, sizeof(*in));
    in->have_live = 1;
    in->live_names = spec->cert.names;
    in->live_ca = spec->cert.ca_url;
    in->live_key = key;
    in->live_profile = spec->cert.profile;
    in->live_not_before = NOW - DAY;
    in->live_not_after = NOW + 60 * DAY;
}

/* What the planner decides for the certificate of each type, given what its id holds. */
START_TEST(plan_decision)
{
    acme_spec_t first, second;
    apr_array_header_t *types;
    acme_plan_input_t in;
    acme_plan_t plan;

    first_spec(&first, &types, "p256 rsa2048");
    acme_key_type_spec(&second, pool, &first, types, 1);

    /* a store made with one type (p256 at a.example): the p256 certificate is kept, the
     * rsa2048 one (a.example+rsa2048, nothing there yet) is ordered now */
    live(&in, &first, "p256");
    acme_plan_compute(&plan, pool, &first.plan, &in, NOW);
    ck_assert_int_eq(plan.action, ACME_PLAN_NOTHING);
    memset(&in, 0, sizeof(in));
    acme_plan_compute(&plan, pool, &second.plan, &in, NOW);
    ck_assert_int_eq(plan.action, ACME_PLAN_OBTAIN);
    ck_assert(plan.when <= NOW);

    /* the rsa2048 one live: nothing to do */
    live(&in, &first, "rsa2048");
    acme_plan_compute(&plan, pool, &second.plan, &in, NOW);
    ck_assert_int_eq(plan.action, ACME_PLAN_NOTHING);

    /* the list reordered ("rsa2048 p256"): the plain id now wants rsa2048 and holds p256,
     * so it is ordered anew (never kept silently stale) */
    first_spec(&first, &types, "rsa2048 p256");
    in.live_key = "p256";
    acme_plan_compute(&plan, pool, &first.plan, &in, NOW);
    ck_assert_int_eq(plan.action, ACME_PLAN_OBTAIN);
    ck_assert(plan.when <= NOW);
    ck_assert_ptr_nonnull(strstr(plan.reason, "key type changed (certificate: p256; "
                                              "configured: rsa2048)"));
}
END_TEST

static apr_array_header_t *names_of(const char *line)
{
    apr_array_header_t *a = apr_array_make(pool, 2, sizeof(const char *));
    char *copy = apr_pstrdup(pool, line), *last, *w;
    for (w = apr_strtok(copy, " ", &last); w; w = apr_strtok(NULL, " ", &last)) {
        APR_ARRAY_PUSH(a, const char *) = w;
    }
    return a;
}

/* One order per name set in a run: the 2nd+ key type's certificate waits for the next run. */
START_TEST(one_order_per_names)
{
    const apr_array_header_t *names[6];
    int *wait;

    names[0] = names_of("a.example www.a.example");     /* a.example (p256) */
    names[1] = names_of("b.example");
    names[2] = names_of("a.example www.a.example");     /* a.example+rsa2048: waits */
    names[3] = names_of("a.example");                   /* another name set */
    names[4] = names_of("b.example");                   /* b.example+rsa2048: waits */
    names[5] = names_of("a.example www.a.example");     /* a third with the same: waits */
    wait = acme_key_types_wait(pool, names, 6);
    ck_assert_int_eq(wait[0], 0);
    ck_assert_int_eq(wait[1], 0);
    ck_assert_int_eq(wait[2], 1);
    ck_assert_int_eq(wait[3], 0);
    ck_assert_int_eq(wait[4], 1);
    ck_assert_int_eq(wait[5], 1);
    wait = acme_key_types_wait(pool, names, 0);
    ck_assert_ptr_nonnull(wait);
}
END_TEST

Suite *keytypes_suite(void)
{
    Suite *s = suite_create("keytypes");
    TCase *tc = tcase_create("keytypes");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, parse_lists, 0, (int)(sizeof(parse_cases) / sizeof(parse_cases[0])));
    tcase_add_test(tc, ids);
    tcase_add_test(tc, second_spec);
    tcase_add_test(tc, plan_decision);
    tcase_add_test(tc, one_order_per_names);
    suite_add_tcase(s, tc);
    return s;
}
