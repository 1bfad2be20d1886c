/* A split vhost's parts by SNI name: the choice (table) and the parts in memory. */
#include <string.h>

#include <apr_strings.h>

#include "tests.h"
#include "unit_helpers.h"
#include "acme_sni.h"
#include "acme_cert.h"
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

/* one or two names, normalized */
static apr_array_header_t *names_of(const char *a, const char *b)
{
    const char *list[3];
    list[0] = a;
    list[1] = b;
    list[2] = NULL;
    return acme_names_normalize(pool, unit_names(pool, list));
}

START_TEST(test_pick)
{
    static const struct {
        const char *sni;
        int part;
    } t[] = {
        { "a.test", 0 },
        { "c.test", 1 },
        { "C.Test", 1 },            /* any case */
        { "c.test.", 1 },           /* one trailing dot */
        { "x.example.org", 1 },     /* the wildcard of part 1 */
        { "www.example.org", 2 },   /* its own name wins over the wildcard */
        { "example.org", 2 },       /* a wildcard does not cover its base */
        { "a.b.example.org", 0 },   /* nor two labels */
        { ".example.org", 0 },      /* nor an empty label */
        { "unknown.test", 0 },      /* unknown: the first part */
        { "", 0 },
        { NULL, 0 },                /* no SNI: the first part */
    };
    const apr_array_header_t *parts[3];
    size_t i;

    parts[0] = names_of("a.test", "b.test");
    parts[1] = names_of("c.test", "*.example.org");
    parts[2] = names_of("www.example.org", "example.org");
    for (i = 0; i < sizeof(t) / sizeof(t[0]); ++i) {
        ck_assert_msg(acme_sni_pick(parts, 3, t[i].sni) == t[i].part, "%s: part %d, not %d",
                      t[i].sni ? t[i].sni : "(null)", acme_sni_pick(parts, 3, t[i].sni),
                      t[i].part);
    }
    /* a name longer than any DNS name: the first part, no overflow */
    {
        char *big = apr_palloc(pool, 400);
        memset(big, 'c', 399);
        big[399] = '\0';
        ck_assert_int_eq(acme_sni_pick(parts, 3, big), 0);
    }
}
END_TEST

static void make_set(const char **pchain, const char **pkey, const char *name)
{
    acme_key_t *key;
    apr_size_t len;
    apr_array_header_t *names = names_of(name, NULL);
    ck_assert_int_eq(acme_key_generate(&key, pool, ACME_KEY_EC_P256), APR_SUCCESS);
    ck_assert_int_eq(acme_key_to_pem(pkey, &len, pool, key), APR_SUCCESS);
    ck_assert_int_eq(acme_selfsigned_create(pchain, pool, key, name, names,
                                            apr_time_from_sec(86400)), APR_SUCCESS);
}

/* Live parts are held in memory; a key that does not match its leaf is refused; a part
 * without a chain is not live. */
START_TEST(test_parts)
{
    const char *c1, *k1, *c2, *k2;
    acme_sni_t *sni;

    make_set(&c1, &k1, "a.test");
    make_set(&c2, &k2, "c.test");
    ck_assert_int_eq(acme_sni_create(&sni, pool, 3), APR_SUCCESS);
    ck_assert_int_eq(acme_sni_set_part(sni, pool, 0, names_of("a.test", NULL), c1, strlen(c1),
                                       k1, strlen(k1)), APR_SUCCESS);
    ck_assert_int_eq(acme_sni_set_part(sni, pool, 1, names_of("c.test", NULL), c2, strlen(c2),
                                       k1, strlen(k1)), ACME_EPROTO);
    ck_assert_int_eq(acme_sni_live(sni), 1);
    ck_assert_int_eq(acme_sni_set_part(sni, pool, 1, names_of("c.test", NULL), c2, strlen(c2),
                                       k2, strlen(k2)), APR_SUCCESS);
    ck_assert_int_eq(acme_sni_set_part(sni, pool, 2, names_of("d.test", NULL), NULL, 0, NULL, 0),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_sni_set_part(sni, pool, 3, names_of("e.test", NULL), NULL, 0, NULL, 0),
                     APR_EINVAL);
    ck_assert_int_eq(acme_sni_live(sni), 2);
    ck_assert_int_ne(acme_sni_set_part(sni, pool, 2, names_of("d.test", NULL), "junk", 4, k2,
                                       strlen(k2)), APR_SUCCESS);
}
END_TEST

Suite *sni_suite(void)
{
    Suite *s = suite_create("sni");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_pick);
    tcase_add_test(tc, test_parts);
    suite_add_tcase(s, tc);
    return s;
}
