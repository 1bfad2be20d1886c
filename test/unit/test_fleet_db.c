/* The fleet database layer's pure parts: the conninfo shown with passwords masked, the
 * conninfo built for libpq (password quoted, connect_timeout), the migration list, and a
 * database that cannot be reached (no server needed: a closed loopback port). The operations
 * against a real PostgreSQL: test_fleet_pg.c, run by pgsql-test.sh. */
#include <string.h>

#include <apr_strings.h>

#include "tests.h"
#include "acme_fleet_db.h"

static apr_pool_t *pool;

static void setup(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

static void assert_masked(const char *in, const char *want)
{
    const char *got = acme_fleet_db_conninfo_mask(pool, in);

    ck_assert_msg(!strcmp(got, want), "mask(%s) = %s, want %s", in, got, want);
}

START_TEST(mask_keyword_form)
{
    assert_masked("host=db dbname=acme user=acme", "host=db dbname=acme user=acme");
    assert_masked("host=db password=secret user=acme", "host=db password=******** user=acme");
    assert_masked("password = secret", "password = ********");
    assert_masked("password='a b\\' c' host=x", "password=******** host=x");
    assert_masked("host=x password=se\\ cret", "host=x password=********");
    assert_masked("host='my db' passfile=/p", "host='my db' passfile=/p");
    assert_masked("host=x password=", "host=x password=********");
    assert_masked("", "");
}
END_TEST

START_TEST(mask_uri_form)
{
    assert_masked("postgresql://acme:secret@db:5432/acme", "postgresql://acme:********@db:5432/acme");
    assert_masked("postgres://acme@db/acme?password=secret&sslmode=require",
                  "postgres://acme@db/acme?password=********&sslmode=require");
    assert_masked("postgresql://db/acme", "postgresql://db/acme");
    assert_masked("postgresql://a:b@c@db/x", "postgresql://a:********@db/x");
}
END_TEST

/* What conninfo_build adds unless given (after connect_timeout). */
#define KW_REST " keepalives_idle=10 keepalives_interval=5 keepalives_count=3 tcp_user_timeout=15000"
#define URI_REST "&keepalives_idle=10&keepalives_interval=5&keepalives_count=3&tcp_user_timeout=15000"

START_TEST(build_adds_password_and_defaults)
{
    ck_assert_str_eq(acme_fleet_db_conninfo_build(pool, "host=db dbname=acme", NULL),
                     "host=db dbname=acme connect_timeout=5" KW_REST);
    ck_assert_str_eq(acme_fleet_db_conninfo_build(pool, "host=db connect_timeout=2", ""),
                     "host=db connect_timeout=2" KW_REST);
    ck_assert_str_eq(acme_fleet_db_conninfo_build(pool, "host=db keepalives_idle = 60 "
                                                  "keepalives_interval=1 keepalives_count=9 "
                                                  "tcp_user_timeout=0", NULL),
                     "host=db keepalives_idle = 60 keepalives_interval=1 keepalives_count=9 "
                     "tcp_user_timeout=0 connect_timeout=5");
    ck_assert_str_eq(acme_fleet_db_conninfo_build(pool, "host=db", "it's\\x"),
                     "host=db password='it\\'s\\\\x' connect_timeout=5" KW_REST);
    ck_assert_str_eq(acme_fleet_db_conninfo_build(pool, "postgresql://acme@db/acme", "p w/&"),
                     "postgresql://acme@db/acme?password=p%20w%2F%26&connect_timeout=5" URI_REST);
    ck_assert_str_eq(acme_fleet_db_conninfo_build(pool, "postgresql://db/a?sslmode=require"
                                                  "&connect_timeout=3", NULL),
                     "postgresql://db/a?sslmode=require&connect_timeout=3" URI_REST);
    /* what is built is never shown: masked, the password is gone */
    ck_assert(!strstr(acme_fleet_db_conninfo_mask(pool, acme_fleet_db_conninfo_build(
                          pool, "host=db", "Sup3r")), "Sup3r"));
    ck_assert(!strstr(acme_fleet_db_conninfo_mask(pool, acme_fleet_db_conninfo_build(
                          pool, "postgresql://u@db/a", "Sup3r")), "Sup3r"));
}
END_TEST

START_TEST(migrations_ordered)
{
    int n, i;
    const acme_fleet_db_migration_t *m = acme_fleet_db_migrations(&n);

    ck_assert_int_eq(n, ACME_FLEET_DB_SCHEMA);
    for (i = 0; i < n; ++i) {
        ck_assert_int_eq(m[i].version, i + 1);    /* 1, 2, ... in order, no gap */
        ck_assert_ptr_nonnull(m[i].sql);
        ck_assert_ptr_nonnull(m[i].sql[0]);       /* a migration does something */
    }
}
END_TEST

/* Nothing listens on port 1 of 127.0.0.1: refused at once, the handle kept for later, the
 * password in no message, and the next call within the back-off does not even try. */
START_TEST(unreachable_keeps_handle)
{
    acme_fleet_db_t *db = NULL;
    const char *err = NULL;
    apr_array_header_t *rows;
    apr_time_t now, t0;
    apr_int64_t fence;
    apr_status_t rv;

    rv = acme_fleet_db_open(&db, pool, "host=127.0.0.1 port=1 dbname=acme user=acme",
                            "TopSecret", &err);
    ck_assert_int_eq(rv, APR_ECONNREFUSED);
    ck_assert_ptr_nonnull(db);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(strstr(err, "cannot connect to the fleet database"), "%s", err);
    ck_assert(!strstr(err, "TopSecret"));
    ck_assert(!acme_fleet_db_reachable(db));
    ck_assert_int_eq(acme_fleet_db_schema_version(db), 0);
    t0 = apr_time_now();
    ck_assert_int_eq(acme_fleet_db_now(db, &now), APR_ECONNREFUSED);
    ck_assert_int_eq(acme_fleet_db_leases(db, &rows, pool), APR_ECONNREFUSED);
    ck_assert_int_eq(acme_fleet_db_lease_take(db, "x", "n", 1000, &fence, NULL, NULL, pool),
                     APR_ECONNREFUSED);
    ck_assert(apr_time_now() - t0 < apr_time_from_sec(2));
    err = acme_fleet_db_error(db, pool);
    ck_assert(err && !strstr(err, "TopSecret"));
    acme_fleet_db_close(db);

    rv = acme_fleet_db_open(&db, pool, "postgresql://acme:TopSecret@127.0.0.1:1/acme", NULL,
                            &err);
    ck_assert_int_eq(rv, APR_ECONNREFUSED);
    ck_assert(!strstr(err, "TopSecret"));
    ck_assert(!strstr(acme_fleet_db_conninfo_shown(db), "TopSecret"));

    /* libpq quotes what it cannot parse: a password typed without "=" */
    rv = acme_fleet_db_open(&db, pool, "host=127.0.0.1 port=1 password TopSecret", NULL, &err);
    ck_assert_int_eq(rv, APR_ECONNREFUSED);
    ck_assert_msg(strstr(err, "cannot parse the conninfo") && !strstr(err, "TopSecret"), "%s",
                  err);
    rv = acme_fleet_db_open(&db, pool, "postgresql://u@127.0.0.1:1/a?password=Top%zzSecret",
                            NULL, &err);
    ck_assert_int_eq(rv, APR_ECONNREFUSED);
    ck_assert_msg(!strstr(err, "Top"), "%s", err);

    rv = acme_fleet_db_create(&db, pool, "", NULL, &err);
    ck_assert_int_eq(rv, APR_EINVAL);
    ck_assert_ptr_null(db);
}
END_TEST

Suite *fleet_db_suite(void)
{
    Suite *s = suite_create("fleet_db");
    TCase *tc = tcase_create("pure");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, mask_keyword_form);
    tcase_add_test(tc, mask_uri_form);
    tcase_add_test(tc, build_adds_password_and_defaults);
    tcase_add_test(tc, migrations_ordered);
    tcase_add_test(tc, unreachable_keeps_handle);
    suite_add_tcase(s, tc);
    return s;
}
