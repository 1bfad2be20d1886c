/* Name groups (ACMEDomain) and the automatic split: table-driven. */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "tests.h"
#include "acme_groups.h"
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

/* "a.test b.test", and "N*x" for x0.test .. x(N-1).test */
static apr_array_header_t *names_of(const char *spec)
{
    apr_array_header_t *a = apr_array_make(pool, 8, sizeof(const char *));
    char *copy = apr_pstrdup(pool, spec), *last, *w;
    for (w = apr_strtok(copy, " ", &last); w; w = apr_strtok(NULL, " ", &last)) {
        char *star = strchr(w, '*');
        if (star) {
            int i, n = atoi(w);
            for (i = 0; i < n; ++i) {
                APR_ARRAY_PUSH(a, const char *) = apr_psprintf(pool, "%s%d.test", star + 1, i);
            }
        }
        else {
            APR_ARRAY_PUSH(a, const char *) = w;
        }
    }
    return a;
}

static apr_array_header_t *vhosts_of(const char *const *specs, int limit)
{
    apr_array_header_t *v = apr_array_make(pool, 4, sizeof(acme_groups_vhost_t));
    for (; *specs; ++specs) {
        acme_groups_vhost_t *vh = &APR_ARRAY_PUSH(v, acme_groups_vhost_t);
        apr_array_header_t *raw = names_of(*specs);
        vh->first = APR_ARRAY_IDX(raw, 0, const char *);
        vh->names = acme_names_normalize(pool, raw);
        vh->limit = limit;
    }
    return v;
}

static apr_array_header_t *domains_of(const char *const *specs)
{
    apr_array_header_t *d = apr_array_make(pool, 2, sizeof(apr_array_header_t *));
    for (; specs && *specs; ++specs) {
        APR_ARRAY_PUSH(d, apr_array_header_t *) = names_of(*specs);
    }
    return d;
}

/* "id:count" of the certificate vhost v uses, "-" for none */
static const char *used(const acme_groups_t *g, int v)
{
    const acme_groups_cert_t *c;
    if (g->vhost_cert[v] < 0) {
        return "-";
    }
    c = APR_ARRAY_IDX(g->certs, g->vhost_cert[v], acme_groups_cert_t *);
    return apr_psprintf(pool, "%s:%d", c->first, c->names->nelts);
}

/* every vhost with a certificate finds all its names in it */
static void check_cover(const acme_groups_t *g, const apr_array_header_t *vhosts)
{
    int v, i;
    for (v = 0; v < vhosts->nelts; ++v) {
        const acme_groups_vhost_t *vh = &APR_ARRAY_IDX(vhosts, v, acme_groups_vhost_t);
        const acme_groups_cert_t *c;
        if (g->vhost_cert[v] < 0) {
            continue;
        }
        for (i = 0; i < vh->names->nelts; ++i) {
            const char *n = APR_ARRAY_IDX(vh->names, i, const char *);
            int k, found = 0;
            /* a split vhost: in exactly one of its parts */
            for (k = 0; k < (g->vhost_parts[v] ? g->vhost_parts[v]->nelts : 1); ++k) {
                c = APR_ARRAY_IDX(g->certs, g->vhost_parts[v]
                                  ? APR_ARRAY_IDX(g->vhost_parts[v], k, int) : g->vhost_cert[v],
                                  acme_groups_cert_t *);
                ck_assert_int_le(c->names->nelts, vh->limit);
                found += acme_names_contain(c->names, n);
            }
            ck_assert_msg(found == 1, "vhost %d: %s in %d of its certificates", v, n, found);
        }
    }
}

START_TEST(test_table)
{
    static const struct {
        const char *vhosts[4];
        const char *domains[3];
        int limit;
        int certs, errors, notes;   /* errors: config errors */
        const char *uses[4];        /* per vhost: "first:names" or "-" */
    } t[] = {
        /* no ACMEDomain: one certificate per distinct name set */
        { { "a.test www.a.test", "b.test", NULL }, { NULL }, 100, 2, 0, 0,
          { "a.test:2", "b.test:1" } },
        { { "a.test www.a.test", "www.a.test a.test", NULL }, { NULL }, 100, 1, 0, 0,
          { "a.test:2", "a.test:2" } },
        /* ACMEDomain across two vhosts: one certificate */
        { { "a.test", "b.test", NULL }, { "a.test b.test", NULL }, 100, 1, 0, 0,
          { "a.test:2", "a.test:2" } },
        /* a name no vhost carries yet; the vhost's other names are added */
        { { "a.test www.a.test", NULL }, { "a.test later.test", NULL }, 100, 1, 0, 0,
          { "a.test:3" } },
        /* the id is the ACMEDomain's first name, whatever the vhost's */
        { { "B.test", NULL }, { "Main.test b.test", NULL }, 100, 1, 0, 0, { "main.test:2" } },
        /* an ACMEDomain no vhost uses is still a certificate */
        { { "a.test", NULL }, { "x.test y.test", NULL }, 100, 2, 0, 0, { "a.test:1" } },
        /* a vhost spanning two ACMEDomain lines: an error, no certificate for it */
        { { "a.test b.test", "c.test", NULL }, { "a.test", "b.test", NULL }, 100, 3, 1, 0,
          { "-", "c.test:1" } },
        /* a name in two ACMEDomain lines: an error, kept in the first */
        { { "a.test", NULL }, { "a.test b.test", "b.test c.test", NULL }, 100, 2, 1, 0,
          { "a.test:2" } },
        /* 130 names over three vhosts in one ACMEDomain, limit 100: two certificates */
        { { "50*a", "50*b", "30*c", NULL }, { "a0.test b0.test c0.test", NULL }, 100, 2, 0, 1,
          { "a0.test:100", "a0.test:100", "c0.test:30" } },
        /* 130 names, no ACMEDomain, three vhosts: three certificates, no split needed */
        { { "50*a", "50*b", "30*c", NULL }, { NULL }, 100, 3, 0, 0,
          { "a0.test:50", "b0.test:50", "c0.test:30" } },
        /* 30 names on two vhosts grouped, a 25-name profile: split */
        { { "15*a", "15*b", NULL }, { "a0.test b0.test", NULL }, 25, 2, 0, 1,
          { "a0.test:15", "b0.test:15" } },
        /* the ACMEDomain's own extra names fill the parts, then a new one */
        { { "20*a", NULL }, { "a0.test 10*x", NULL }, 25, 2, 0, 1, { "a0.test:25" } },
        /* one vhost with more names than its profile allows: split by SNI, a note */
        { { "30*a", NULL }, { NULL }, 25, 2, 0, 1, { "a0.test:25" } },
        /* more than 100 on one vhost: split too */
        { { "101*a", "b.test", NULL }, { NULL }, 100, 3, 0, 1, { "a0.test:100", "b.test:1" } },
        /* a split vhost in an ACMEDomain with another vhost: its own parts */
        { { "30*a", "b.test", NULL }, { "a0.test b.test", NULL }, 25, 3, 0, 1,
          { "a0.test:25", "b.test:1" } },
        /* a twin (same names, e.g. the plain-http vhost) uses the same part */
        { { "15*a", "15*b", "15*a", NULL }, { "a0.test b0.test", NULL }, 25, 2, 0, 1,
          { "a0.test:15", "b0.test:15", "a0.test:15" } },
    };
    size_t i;
    int v;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); ++i) {
        apr_array_header_t *vh = vhosts_of(t[i].vhosts, t[i].limit);
        acme_groups_t *g;
        apr_status_t rv = acme_groups_build(&g, pool, vh, domains_of(t[i].domains), t[i].limit);
        ck_assert_msg(g->certs->nelts == t[i].certs, "row %zu: %d certificates", i,
                      g->certs->nelts);
        ck_assert_msg(g->errors->nelts == t[i].errors,
                      "row %zu: %d errors", i, g->errors->nelts);
        ck_assert_msg(g->notes->nelts == t[i].notes, "row %zu: %d notes", i, g->notes->nelts);
        ck_assert_int_eq(rv == APR_SUCCESS, g->errors->nelts == 0);
        for (v = 0; v < vh->nelts; ++v) {
            ck_assert_msg(!strcmp(used(g, v), t[i].uses[v]), "row %zu vhost %d: %s, not %s",
                          i, v, used(g, v), t[i].uses[v]);
        }
        check_cover(g, vh);
    }
}
END_TEST

/* One vhost over its limit: parts of its own, its first name first, then sorted, each
 * part named after its first name; a twin (the plain-http vhost) uses the same parts. */
START_TEST(test_vhost_split)
{
    static const char *const specs[] = { "zz.test 129*a", "zz.test 129*a", NULL };
    apr_array_header_t *vh = vhosts_of(specs, 100);
    const acme_groups_cert_t *c0, *c1;
    acme_groups_t *g, *g2;

    ck_assert_int_eq(acme_groups_build(&g, pool, vh, NULL, 100), APR_SUCCESS);
    ck_assert_int_eq(g->certs->nelts, 2);
    ck_assert_ptr_nonnull(g->vhost_parts[0]);
    ck_assert_ptr_eq(g->vhost_parts[0], g->vhost_parts[1]);
    c0 = APR_ARRAY_IDX(g->certs, 0, acme_groups_cert_t *);
    c1 = APR_ARRAY_IDX(g->certs, 1, acme_groups_cert_t *);
    ck_assert_str_eq(c0->first, "zz.test");
    ck_assert_int_eq(c0->names->nelts, 100);
    ck_assert_int_eq(c0->sni && c1->sni, 1);
    ck_assert_int_eq(c1->part, 1);
    ck_assert_int_eq(c0->vhosts->nelts, 2);
    /* sorted: a0 a1 a10 a100 ... zz.test took the first place, 99 a-names follow */
    ck_assert_int_eq(c1->names->nelts, 30);
    ck_assert_int_eq(acme_names_contain(c1->names, c1->first), 1);
    ck_assert_int_eq(g->vhost_cert[0], 0);
    check_cover(g, vh);
    /* the same config: the same parts */
    acme_groups_build(&g2, pool, vhosts_of(specs, 100), NULL, 100);
    ck_assert_str_eq(APR_ARRAY_IDX(g2->certs, 1, acme_groups_cert_t *)->first, c1->first);
    ck_assert_int_eq(acme_names_equal(APR_ARRAY_IDX(g2->certs, 1, acme_groups_cert_t *)->names,
                                      c1->names), 1);
}
END_TEST

START_TEST(test_limit)
{
    ck_assert_int_eq(acme_groups_limit(NULL), 100);
    ck_assert_int_eq(acme_groups_limit(""), 100);
    ck_assert_int_eq(acme_groups_limit("classic"), 100);
    ck_assert_int_eq(acme_groups_limit("tlsserver"), 25);
    ck_assert_int_eq(acme_groups_limit("shortlived"), 25);
}
END_TEST

/* The strictest vhost sets a group's limit; every part stays within it. */
START_TEST(test_strictest_limit)
{
    static const char *const specs[] = { "20*a", "20*b", NULL };
    static const char *const doms[] = { "a0.test b0.test", NULL };
    apr_array_header_t *vh = vhosts_of(specs, 100);
    acme_groups_t *g;
    int i;

    APR_ARRAY_IDX(vh, 1, acme_groups_vhost_t).limit = 25;
    acme_groups_build(&g, pool, vh, domains_of(doms), 100);
    ck_assert_int_eq(g->certs->nelts, 2);
    for (i = 0; i < g->certs->nelts; ++i) {
        ck_assert_int_le(APR_ARRAY_IDX(g->certs, i, acme_groups_cert_t *)->names->nelts, 25);
    }
}
END_TEST

/* The same config gives the same certificates, names and ids (a restart re-orders nothing). */
START_TEST(test_stable)
{
    static const char *const specs[] = { "50*a", "40*b", "30*c", NULL };
    static const char *const doms[] = { "a0.test 5*x", NULL };
    acme_groups_t *g1, *g2;
    int i;

    acme_groups_build(&g1, pool, vhosts_of(specs, 100), domains_of(doms), 100);
    acme_groups_build(&g2, pool, vhosts_of(specs, 100), domains_of(doms), 100);
    ck_assert_int_eq(g1->certs->nelts, g2->certs->nelts);
    for (i = 0; i < g1->certs->nelts; ++i) {
        const acme_groups_cert_t *a = APR_ARRAY_IDX(g1->certs, i, acme_groups_cert_t *);
        const acme_groups_cert_t *b = APR_ARRAY_IDX(g2->certs, i, acme_groups_cert_t *);
        ck_assert_str_eq(a->first, b->first);
        ck_assert_int_eq(acme_names_equal(a->names, b->names), 1);
        ck_assert_int_le(a->names->nelts, 100);
    }
}
END_TEST

Suite *groups_suite(void)
{
    Suite *s = suite_create("groups");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_table);
    tcase_add_test(tc, test_limit);
    tcase_add_test(tc, test_vhost_split);
    tcase_add_test(tc, test_strictest_limit);
    tcase_add_test(tc, test_stable);
    suite_add_tcase(s, tc);
    return s;
}
