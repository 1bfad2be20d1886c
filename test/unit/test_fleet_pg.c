/* The fleet database layer against a real PostgreSQL, started by test/unit/pgsql-test.sh
 * (which sets ACME_PGTEST_*): schema creation and migration (idempotent, concurrent opens,
 * a newer schema refused), leases (take, renew, expiry, takeover, fence growth), fenced
 * put/remove, generations and sequence numbers, changes() in commit order under concurrent
 * writers, binary blobs, node beats, the database clock, one handle shared by threads, no
 * password in any message, and reconnecting after PostgreSQL restarts. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <check.h>

#include "acme_fleet_db.h"

static apr_pool_t *pool;

static const char *env(const char *name)
{
    const char *v = getenv(name);

    ck_assert_msg(v && *v, "%s not set: run test/unit/pgsql-test.sh", name);
    return v;
}

/* The conninfo of database dbname. */
static const char *conninfo(const char *dbname)
{
    return apr_psprintf(pool, "host=127.0.0.1 port=%s user=acme dbname=%s",
                        env("ACME_PGTEST_PORT"), dbname);
}

/* acme_fleet_db_open; under valgrind (pgsql-test.sh's ACME_PGTEST_VALGRIND) with a call
 * limit of 120 s instead of 10 s: everything runs many times slower there, and processes
 * waiting for another's migration under the advisory lock would be cut as if the server
 * had frozen. */
static apr_status_t test_open(acme_fleet_db_t **pdb, apr_pool_t *p, const char *ci,
                              const char *password, const char **perr)
{
    apr_time_t t;
    apr_status_t rv;

    if (!getenv("ACME_PGTEST_VALGRIND")) {
        return acme_fleet_db_open(pdb, p, ci, password, perr);
    }
    if ((rv = acme_fleet_db_create(pdb, p, ci, password, perr)) != APR_SUCCESS) {
        return rv;
    }
    acme_fleet_db_set_call_max(*pdb, apr_time_from_sec(120));
    if ((rv = acme_fleet_db_now(*pdb, &t)) != APR_SUCCESS && perr) {
        *perr = acme_fleet_db_error(*pdb, p);
    }
    return rv;
}

static acme_fleet_db_t *open_db(const char *dbname)
{
    acme_fleet_db_t *db = NULL;
    const char *err = NULL;
    apr_status_t rv;

    rv = test_open(&db, pool, conninfo(dbname), env("ACME_PGTEST_PASSWORD"), &err);
    ck_assert_msg(rv == APR_SUCCESS, "open %s: %d %s", dbname, rv, err ? err : "");
    ck_assert_ptr_nonnull(db);
    return db;
}

/* In a forked child: a pool of its own and a handle on dbname (NULL when open fails). */
static acme_fleet_db_t *child_open(const char *dbname, apr_pool_t **pcp)
{
    acme_fleet_db_t *db = NULL;
    const char *err;

    apr_pool_create(pcp, NULL);
    if (test_open(&db, *pcp, conninfo(dbname), getenv("ACME_PGTEST_PASSWORD"), &err)
        != APR_SUCCESS) {
        fprintf(stderr, "child open of %s failed: %s\n", dbname, err ? err : "?");
        return NULL;
    }
    return db;
}

/* What a forked child does with its handle; returns its result (0 to 255). */
typedef int child_fn(acme_fleet_db_t *db, apr_pool_t *p, int i);

/* A forked child and the read end of the pipe it reports its result through. The result
 * travels through the pipe, not the exit status: under valgrind (which follows the child)
 * the exit status is valgrind's error exit code for whatever the child left at _exit. */
typedef struct {
    pid_t pid;
    int fd;
} child_t;

/* Fork child i: it opens dbname before (open_first) or after waiting until go, runs fn and
 * writes fn's result (1 when open failed) as one byte to its pipe. */
static child_t spawn(const char *dbname, apr_time_t go, int open_first, child_fn *fn, int i)
{
    child_t c;
    int fds[2];

    ck_assert_int_eq(pipe(fds), 0);
    c.pid = fork();
    ck_assert_int_ge(c.pid, 0);
    if (c.pid == 0) {
        acme_fleet_db_t *db = NULL;
        apr_pool_t *cp = NULL;
        unsigned char rc = 1;

        close(fds[0]);
        if (open_first) {
            db = child_open(dbname, &cp);
        }
        while (apr_time_now() < go) {
            apr_sleep(500);
        }
        if (!open_first) {
            db = child_open(dbname, &cp);
        }
        if (db) {
            rc = (unsigned char)fn(db, cp, i);
        }
        /* close the handle (its watcher thread ends with the pool) */
        apr_pool_destroy(cp);
        if (write(fds[1], &rc, 1) != 1) {
            _exit(1);
        }
        _exit(0);
    }
    close(fds[1]);
    c.fd = fds[0];
    return c;
}

/* The result child c wrote to its pipe (-1 when it ended without writing one); waits for
 * it to end. Its exit status is not looked at. */
static int reap(child_t *c)
{
    unsigned char rc;
    ssize_t n;
    int status;

    do {
        n = read(c->fd, &rc, 1);
    } while (n < 0 && errno == EINTR);
    close(c->fd);
    ck_assert_int_eq(waitpid(c->pid, &status, 0), c->pid);
    c->pid = 0;
    return n == 1 ? rc : -1;
}

/* Whether child c has written its result or ended (reap then returns at once). */
static int child_done(const child_t *c)
{
    struct pollfd pfd = { c->fd, POLLIN, 0 };

    return poll(&pfd, 1, 0) > 0;
}

static void sh(const char *what, const char *cmd)
{
    int rc = system(cmd);

    ck_assert_msg(rc == 0, "%s failed (%d): %s", what, rc, cmd);
}

static void psql(const char *dbname, const char *sql)
{
    sh("psql", apr_psprintf(pool, "%s -d %s -c \"%s\"", env("ACME_PGTEST_PSQL"), dbname, sql));
}

/* A call to a frozen server (its backend stopped with SIGSTOP: the kernel still answers TCP,
 * the query never) returns after the call limit with APR_ECONNREFUSED, the connection cut;
 * the next call, the backend gone on, reconnects. */
START_TEST(frozen_server_call_bounded)
{
    acme_fleet_db_t *db = NULL;
    const char *err = NULL;
    apr_time_t t0, elapsed, dbnow;
    apr_status_t rv;
    char buf[32] = "";
    FILE *f;
    long pid;

    rv = acme_fleet_db_open(&db, pool, apr_pstrcat(pool, conninfo("acme"),
                                                   " application_name=acme_frozen", NULL),
                            env("ACME_PGTEST_PASSWORD"), &err);
    ck_assert_msg(rv == APR_SUCCESS, "open: %d %s", rv, err ? err : "");
    acme_fleet_db_set_call_max(db, apr_time_from_sec(2));
    f = popen(apr_psprintf(pool, "%s -d acme -tA -c \"SELECT pid FROM pg_stat_activity WHERE "
                           "application_name = 'acme_frozen'\"", env("ACME_PGTEST_PSQL")), "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
    pclose(f);
    pid = atol(buf);
    ck_assert_int_gt(pid, 0);
    ck_assert_int_eq(kill((pid_t)pid, SIGSTOP), 0);
    t0 = apr_time_now();
    rv = acme_fleet_db_now(db, &dbnow);
    elapsed = apr_time_now() - t0;
    (void)kill((pid_t)pid, SIGCONT);
    ck_assert_int_eq(rv, APR_ECONNREFUSED);
    ck_assert_msg(elapsed >= apr_time_from_msec(1900) && elapsed < apr_time_from_sec(8),
                  "the call took %" APR_TIME_T_FMT " us", elapsed);
    ck_assert_ptr_nonnull(strstr(acme_fleet_db_error(db, pool), "did not answer within 2 s"));
    ck_assert_int_eq(acme_fleet_db_reachable(db), 0);
    rv = acme_fleet_db_now(db, &dbnow);
    ck_assert_int_eq(rv, APR_SUCCESS);
    ck_assert_int_eq(acme_fleet_db_reachable(db), 1);
}
END_TEST

static void setup(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

/* ---- schema ------------------------------------------------------------------------------ */

START_TEST(migration_idempotent)
{
    acme_fleet_db_t *a = open_db("acme"), *b = open_db("acme");

    ck_assert_int_eq(acme_fleet_db_schema_version(a), ACME_FLEET_DB_SCHEMA);
    ck_assert_int_eq(acme_fleet_db_schema_version(b), ACME_FLEET_DB_SCHEMA);
    /* exactly one version row, whatever the number of opens */
    psql("acme", "DO \\$\\$ BEGIN IF (SELECT count(*) FROM acme_schema) <> 1 THEN"
                 " RAISE EXCEPTION 'acme_schema rows'; END IF; END \\$\\$");
    acme_fleet_db_close(a);
    acme_fleet_db_close(b);
}
END_TEST

static int schema_is_current(acme_fleet_db_t *db, apr_pool_t *p, int i)
{
    return acme_fleet_db_schema_version(db) == ACME_FLEET_DB_SCHEMA ? 0 : 2;
}

/* 6 processes open the same empty database at once: all succeed, one schema. */
START_TEST(concurrent_open)
{
    child_t kids[6];
    int i, rc;
    apr_time_t go = apr_time_now() + apr_time_from_msec(500);

    for (i = 0; i < 6; ++i) {
        kids[i] = spawn("acme_conc", go, 0, schema_is_current, i);
    }
    for (i = 0; i < 6; ++i) {
        rc = reap(&kids[i]);
        ck_assert_msg(rc == 0, "child %d: %d", i, rc);
    }
    psql("acme_conc", "DO \\$\\$ BEGIN IF (SELECT count(*) FROM acme_schema) <> 1 THEN"
                      " RAISE EXCEPTION 'acme_schema rows'; END IF; END \\$\\$");
}
END_TEST

START_TEST(newer_schema_refused)
{
    acme_fleet_db_t *db = open_db("acme_new");
    const char *err = NULL;
    apr_status_t rv;

    acme_fleet_db_close(db);
    psql("acme_new", "UPDATE acme_schema SET version = 99");
    db = NULL;
    rv = acme_fleet_db_open(&db, pool, conninfo("acme_new"), env("ACME_PGTEST_PASSWORD"), &err);
    ck_assert_int_eq(rv, ACME_ESCHEMA);
    ck_assert_ptr_null(db);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(strstr(err, "schema version 99") && strstr(err, "upgrade mod_acme"), "%s", err);
    psql("acme_new", "UPDATE acme_schema SET version = 1");
}
END_TEST

/* A user without the right to create the tables: unusable, said so, retried later. */
START_TEST(no_right_to_create)
{
    acme_fleet_db_t *db = NULL;
    const char *err = NULL;
    apr_status_t rv;

    rv = acme_fleet_db_open(&db, pool, conninfo("acme_ro"), env("ACME_PGTEST_PASSWORD"), &err);
    ck_assert_int_eq(rv, APR_ECONNREFUSED);
    ck_assert_ptr_nonnull(db);
    ck_assert_msg(err && strstr(err, "creating or checking the schema failed")
                  && strstr(err, "permission denied"), "%s", err ? err : "");
    ck_assert(!acme_fleet_db_reachable(db));
}
END_TEST

/* ---- leases ------------------------------------------------------------------------------ */

START_TEST(lease_lifecycle)
{
    acme_fleet_db_t *db = open_db("acme");
    apr_int64_t f1, f1b, f2, f3, f4, fx;
    const char *holder = NULL;
    apr_time_t exp1, exp1b, exp2, now;
    apr_array_header_t *rows;
    const char *name = "lease-life";

    ck_assert_int_eq(acme_fleet_db_lease_take(db, name, "a", apr_time_from_sec(60), &f1,
                                              &holder, &exp1, pool), APR_SUCCESS);
    ck_assert_str_eq(holder, "a");
    ck_assert_int_eq(acme_fleet_db_now(db, &now), APR_SUCCESS);
    ck_assert(exp1 > now + apr_time_from_sec(50) && exp1 <= now + apr_time_from_sec(61));
    /* renewal by the holder: same fence, later expiry */
    apr_sleep(apr_time_from_msec(20));
    ck_assert_int_eq(acme_fleet_db_lease_take(db, name, "a", apr_time_from_sec(60), &f1b,
                                              NULL, &exp1b, pool), APR_SUCCESS);
    ck_assert_int_eq(f1b, f1);
    ck_assert(exp1b > exp1);
    /* another node: held */
    holder = NULL;
    ck_assert_int_eq(acme_fleet_db_lease_take(db, name, "b", apr_time_from_sec(60), &fx,
                                              &holder, &exp2, pool), APR_EAGAIN);
    ck_assert_str_eq(holder, "a");
    ck_assert_int_eq(fx, f1);
    ck_assert(exp2 == exp1b);
    /* listed */
    ck_assert_int_eq(acme_fleet_db_leases(db, &rows, pool), APR_SUCCESS);
    ck_assert_int_ge(rows->nelts, 1);

    /* a short lease expires: b takes it over with a larger fence */
    ck_assert_int_eq(acme_fleet_db_lease_take(db, name, "a", apr_time_from_msec(200), &f1b,
                                              NULL, NULL, pool), APR_SUCCESS);
    ck_assert_int_eq(f1b, f1);
    apr_sleep(apr_time_from_msec(400));
    ck_assert_int_eq(acme_fleet_db_lease_take(db, name, "b", apr_time_from_sec(60), &f2,
                                              &holder, NULL, pool), APR_SUCCESS);
    ck_assert_str_eq(holder, "b");
    ck_assert(f2 > f1);
    /* a is out: its renewal is refused, its fenced writes too */
    ck_assert_int_eq(acme_fleet_db_lease_take(db, name, "a", apr_time_from_sec(60), &fx,
                                              &holder, NULL, pool), APR_EAGAIN);
    ck_assert_str_eq(holder, "b");
    {
        acme_store_blob_t blob = { "chain.pem", "x", 1 };
        apr_int64_t gen = 0;
        ck_assert_int_eq(acme_fleet_db_put(db, "staging", name, &blob, 1, name, f1, &gen, pool),
                         APR_EBUSY);
        ck_assert_int_eq(acme_fleet_db_get(db, "staging", name, &gen, &rows, pool), APR_ENOENT);
        ck_assert_int_eq(acme_fleet_db_put(db, "staging", name, &blob, 1, name, f2, &gen, pool),
                         APR_SUCCESS);
        ck_assert_int_eq(gen, 1);
        ck_assert_int_eq(acme_fleet_db_remove(db, "staging", name, name, f1, pool), APR_EBUSY);
        ck_assert_int_eq(acme_fleet_db_get(db, "staging", name, &gen, &rows, pool), APR_SUCCESS);
    }
    /* release by a non-holder changes nothing; by the holder frees it */
    ck_assert_int_eq(acme_fleet_db_lease_release(db, name, "a", f1, pool), APR_SUCCESS);
    ck_assert_int_eq(acme_fleet_db_lease_take(db, name, "a", apr_time_from_sec(60), &fx,
                                              &holder, NULL, pool), APR_EAGAIN);
    ck_assert_int_eq(acme_fleet_db_lease_release(db, name, "b", f2, pool), APR_SUCCESS);
    ck_assert_int_eq(acme_fleet_db_lease_take(db, name, "a", apr_time_from_sec(60), &f3,
                                              &holder, NULL, pool), APR_SUCCESS);
    ck_assert(f3 > f2);
    {
        acme_store_blob_t blob = { "chain.pem", "y", 1 };
        ck_assert_int_eq(acme_fleet_db_put(db, "staging", name, &blob, 1, name, f2, NULL, pool),
                         APR_EBUSY);
    }
    /* the holder's own lease after its expiry: a new fence */
    ck_assert_int_eq(acme_fleet_db_lease_take(db, name, "a", apr_time_from_msec(100), &fx,
                                              NULL, NULL, pool), APR_SUCCESS);
    ck_assert_int_eq(fx, f3);
    apr_sleep(apr_time_from_msec(300));
    ck_assert_int_eq(acme_fleet_db_lease_take(db, name, "a", apr_time_from_sec(60), &f4,
                                              NULL, NULL, pool), APR_SUCCESS);
    ck_assert(f4 > f3);
    ck_assert_int_eq(acme_fleet_db_lease_take(db, "", "a", 1, &fx, NULL, NULL, pool),
                     APR_EINVAL);
    ck_assert_int_eq(acme_fleet_db_lease_take(db, name, "a", 0, &fx, NULL, NULL, pool),
                     APR_EINVAL);
}
END_TEST

static int take_race(acme_fleet_db_t *db, apr_pool_t *p, int i)
{
    apr_int64_t fence;
    apr_status_t rv = acme_fleet_db_lease_take(db, "race", apr_psprintf(p, "node%d", i),
                                               apr_time_from_sec(60), &fence, NULL, NULL, p);

    return rv == APR_SUCCESS ? 0 : rv == APR_EAGAIN ? 3 : 1;
}

/* 6 processes take the same free lease at the same instant: exactly one gets it. */
START_TEST(lease_race_one_winner)
{
    child_t kids[6];
    int i, rc, won = 0, lost = 0;
    apr_time_t go = apr_time_now() + apr_time_from_msec(800);

    for (i = 0; i < 6; ++i) {
        kids[i] = spawn("acme", go, 1, take_race, i);
    }
    for (i = 0; i < 6; ++i) {
        rc = reap(&kids[i]);
        won += (rc == 0);
        lost += (rc == 3);
    }
    ck_assert_int_eq(won, 1);
    ck_assert_int_eq(lost, 5);
}
END_TEST

/* ---- entries ----------------------------------------------------------------------------- */

static const acme_store_blob_t *find_blob(apr_array_header_t *blobs, const char *aspect)
{
    int i;

    for (i = 0; i < blobs->nelts; ++i) {
        const acme_store_blob_t *b = &APR_ARRAY_IDX(blobs, i, acme_store_blob_t);
        if (!strcmp(b->aspect, aspect)) {
            return b;
        }
    }
    return NULL;
}

START_TEST(entries_generations_changes)
{
    acme_fleet_db_t *db = open_db("acme");
    unsigned char bin[256], *big;
    apr_size_t big_len = 100 * 1024, i;
    apr_int64_t gen = 0, since = 0, max = 0, max2;
    apr_array_header_t *blobs, *rows;
    const acme_store_blob_t *b;
    acme_fleet_change_t *c;

    for (i = 0; i < sizeof(bin); ++i) {
        bin[i] = (unsigned char)i;          /* NUL bytes and every other byte */
    }
    big = apr_palloc(pool, big_len);
    for (i = 0; i < big_len; ++i) {
        big[i] = (unsigned char)((i * 7919u) >> 3);
    }
    ck_assert_int_eq(acme_fleet_db_changes(db, "staging-t", 0, &rows, &since, pool), APR_SUCCESS);
    ck_assert_int_eq(rows->nelts, 0);
    ck_assert_int_eq(since, 0);
    {
        acme_store_blob_t set[] = { { "key.sealed", bin, sizeof(bin) },
                                    { "chain.pem", big, big_len },
                                    { "empty", "", 0 } };
        ck_assert_int_eq(acme_fleet_db_put(db, "staging-t", "www.example.org", set, 3, NULL, 0,
                                           &gen, pool), APR_SUCCESS);
        ck_assert_int_eq(gen, 1);
    }
    ck_assert_int_eq(acme_fleet_db_get(db, "staging-t", "www.example.org", &gen, &blobs, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(gen, 1);
    ck_assert_int_eq(blobs->nelts, 3);
    b = find_blob(blobs, "key.sealed");
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(b->len, sizeof(bin));
    ck_assert(!memcmp(b->data, bin, sizeof(bin)));
    b = find_blob(blobs, "chain.pem");
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(b->len, big_len);
    ck_assert(!memcmp(b->data, big, big_len));
    b = find_blob(blobs, "empty");
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(b->len, 0);

    ck_assert_int_eq(acme_fleet_db_changes(db, "staging-t", since, &rows, &max, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(rows->nelts, 1);
    c = &APR_ARRAY_IDX(rows, 0, acme_fleet_change_t);
    ck_assert_str_eq(c->name, "www.example.org");
    ck_assert_int_eq(c->generation, 1);
    ck_assert(!c->removed);
    ck_assert_int_eq(max, c->seq);
    ck_assert(max > 0);
    /* nothing new: same mark */
    ck_assert_int_eq(acme_fleet_db_changes(db, "staging-t", max, &rows, &max2, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(rows->nelts, 0);
    ck_assert_int_eq(max2, max);

    /* a second put replaces all blobs; generation 2, a larger seq */
    {
        acme_store_blob_t set[] = { { "meta.json", "{\"a\":1}", 7 } };
        ck_assert_int_eq(acme_fleet_db_put(db, "staging-t", "www.example.org", set, 1, NULL, 0,
                                           &gen, pool), APR_SUCCESS);
        ck_assert_int_eq(gen, 2);
    }
    ck_assert_int_eq(acme_fleet_db_get(db, "staging-t", "www.example.org", &gen, &blobs, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(blobs->nelts, 1);
    ck_assert_str_eq(APR_ARRAY_IDX(blobs, 0, acme_store_blob_t).data, "{\"a\":1}");
    /* another group's change is not this group's */
    ck_assert_int_eq(acme_fleet_db_put(db, "accounts-t", "ca", NULL, 0, NULL, 0, &gen, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_fleet_db_changes(db, "staging-t", max, &rows, &max2, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(rows->nelts, 1);
    ck_assert_int_eq(APR_ARRAY_IDX(rows, 0, acme_fleet_change_t).generation, 2);
    ck_assert(max2 > max);

    /* remove: gone for get, a flagged change; removing again changes nothing */
    ck_assert_int_eq(acme_fleet_db_remove(db, "staging-t", "www.example.org", NULL, 0, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_fleet_db_get(db, "staging-t", "www.example.org", &gen, &blobs, pool),
                     APR_ENOENT);
    ck_assert_int_eq(acme_fleet_db_changes(db, "staging-t", max2, &rows, &max, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(rows->nelts, 1);
    ck_assert(APR_ARRAY_IDX(rows, 0, acme_fleet_change_t).removed);
    ck_assert_int_eq(acme_fleet_db_remove(db, "staging-t", "www.example.org", NULL, 0, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_fleet_db_remove(db, "staging-t", "nosuch", NULL, 0, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_fleet_db_changes(db, "staging-t", max, &rows, &max2, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(rows->nelts, 0);
    /* a put after the remove: generation goes on */
    ck_assert_int_eq(acme_fleet_db_put(db, "staging-t", "www.example.org", NULL, 0, NULL, 0,
                                       &gen, pool), APR_SUCCESS);
    ck_assert_int_eq(gen, 3);
    ck_assert_int_eq(acme_fleet_db_get(db, "staging-t", "www.example.org", &gen, &blobs, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(blobs->nelts, 0);
    ck_assert_int_eq(acme_fleet_db_get(db, "staging-t", "nosuch", &gen, &blobs, pool),
                     APR_ENOENT);
    /* tombstones: kept while young, purged when older than the age given */
    {
        int count = -1;
        ck_assert_int_eq(acme_fleet_db_put(db, "staging-t", "gone", NULL, 0, NULL, 0, NULL, pool),
                         APR_SUCCESS);
        ck_assert_int_eq(acme_fleet_db_remove(db, "staging-t", "gone", NULL, 0, pool),
                         APR_SUCCESS);
        ck_assert_int_eq(acme_fleet_db_purge_removed(db, "staging-t", apr_time_from_sec(3600),
                                                     &count, pool), APR_SUCCESS);
        ck_assert_int_eq(count, 0);
        apr_sleep(apr_time_from_msec(50));
        ck_assert_int_eq(acme_fleet_db_purge_removed(db, "staging-t", apr_time_from_msec(10),
                                                     &count, pool), APR_SUCCESS);
        ck_assert_int_eq(count, 1);               /* "gone"; www.example.org lives again */
        ck_assert_int_eq(acme_fleet_db_get(db, "staging-t", "www.example.org", &gen, &blobs,
                                           pool), APR_SUCCESS);
    }
    {
        acme_store_blob_t bad = { "", "x", 1 };
        ck_assert_int_eq(acme_fleet_db_put(db, "staging-t", "x", &bad, 1, NULL, 0, NULL, pool),
                         APR_EINVAL);
        ck_assert_int_eq(acme_fleet_db_put(db, "staging-t", "x", NULL, 0, NULL, 5, NULL, pool),
                         APR_EINVAL);
    }
}
END_TEST

static int write_60(acme_fleet_db_t *db, apr_pool_t *p, int k)
{
    acme_store_blob_t b = { "v", "1", 1 };
    int i;

    for (i = 0; i < 60; ++i) {
        if (acme_fleet_db_put(db, "challenges", apr_psprintf(p, "w%d-%d", k, i), &b, 1, NULL, 0,
                              NULL, p) != APR_SUCCESS) {
            return 2;
        }
    }
    return 0;
}

/* Four processes write 60 entries each while this one follows changes(): sequence numbers
 * only grow, and following "since the last mark" misses none of the 240 names. (Without
 * the sequence lock this fails most runs: numbers taken by one writer commit after a
 * later number of another.) */
START_TEST(changes_in_commit_order)
{
    acme_fleet_db_t *db = open_db("acme_seq");
    apr_hash_t *seen = apr_hash_make(pool);
    apr_int64_t since = 0, last = 0;
    apr_array_header_t *rows;
    child_t kids[4];
    int i, k, rc, rounds = 0, running = 4;
    apr_time_t deadline = apr_time_now() + apr_time_from_sec(60);

    for (k = 0; k < 4; ++k) {
        kids[k] = spawn("acme_seq", 0, 1, write_60, k);
    }
    /* follow until all four writers ended, then one round more */
    while (apr_time_now() < deadline) {
        for (k = 0; k < 4; ++k) {
            if (kids[k].pid && child_done(&kids[k])) {
                rc = reap(&kids[k]);
                ck_assert_msg(rc == 0, "writer %d: %d", k, rc);
                --running;
            }
        }
        ck_assert_int_eq(acme_fleet_db_changes(db, "challenges", since, &rows, &since, pool),
                         APR_SUCCESS);
        for (i = 0; i < rows->nelts; ++i) {
            acme_fleet_change_t *c = &APR_ARRAY_IDX(rows, i, acme_fleet_change_t);
            ck_assert(c->seq > last);
            last = c->seq;
            apr_hash_set(seen, c->name, APR_HASH_KEY_STRING, "");
        }
        ++rounds;
        if (!running) {
            break;
        }
        apr_sleep(apr_time_from_msec(1));
    }
    ck_assert_msg(!running, "%d writers still running after 60 s", running);
    ck_assert_msg(apr_hash_count(seen) == 240, "followed %u of 240 names in %d rounds",
                  apr_hash_count(seen), rounds);
}
END_TEST

/* ---- nodes, clock ------------------------------------------------------------------------ */

START_TEST(node_beats)
{
    acme_fleet_db_t *db = open_db("acme");
    apr_array_header_t *rows;
    acme_fleet_node_t *n;
    apr_time_t now, local = apr_time_now();

    ck_assert_int_eq(acme_fleet_db_now(db, &now), APR_SUCCESS);
    ck_assert(now > local - apr_time_from_sec(5) && now < local + apr_time_from_sec(5));
    ck_assert_int_eq(acme_fleet_db_node_beat(db, "node-b", 7, "{\"served\":{}}", pool),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_fleet_db_node_beat(db, "node-a", 3, NULL, pool), APR_SUCCESS);
    ck_assert_int_eq(acme_fleet_db_node_beat(db, "node-a", 5, "{\"x\":1}", pool), APR_SUCCESS);
    ck_assert_int_eq(acme_fleet_db_nodes(db, &rows, pool), APR_SUCCESS);
    ck_assert_int_eq(rows->nelts, 2);
    n = &APR_ARRAY_IDX(rows, 0, acme_fleet_node_t);
    ck_assert_str_eq(n->node, "node-a");
    ck_assert_int_eq(n->challenge_seq, 5);
    ck_assert_str_eq(n->info_json, "{\"x\":1}");
    ck_assert(n->last_beat >= now - apr_time_from_sec(1));
    ck_assert(n->last_beat <= now + apr_time_from_sec(5));
    n = &APR_ARRAY_IDX(rows, 1, acme_fleet_node_t);
    ck_assert_str_eq(n->node, "node-b");
    ck_assert_int_eq(n->challenge_seq, 7);
    ck_assert_str_eq(n->info_json, "{\"served\":{}}");
}
END_TEST

/* ---- threads ----------------------------------------------------------------------------- */

static acme_fleet_db_t *shared_db;

static void *APR_THREAD_FUNC writer(apr_thread_t *t, void *data)
{
    apr_pool_t *tp;
    long k = (long)data, fails = 0;
    int i;

    apr_pool_create_unmanaged_ex(&tp, NULL, NULL);
    for (i = 0; i < 25; ++i) {
        const char *name = apr_psprintf(tp, "t%ld-%d", k, i);
        acme_store_blob_t b = { "v", name, strlen(name) };
        apr_array_header_t *blobs;
        if (acme_fleet_db_put(shared_db, "threads", name, &b, 1, NULL, 0, NULL, tp)
            != APR_SUCCESS
            || acme_fleet_db_get(shared_db, "threads", name, NULL, &blobs, tp) != APR_SUCCESS
            || blobs->nelts != 1
            || strcmp(APR_ARRAY_IDX(blobs, 0, acme_store_blob_t).data, name)) {
            ++fails;
        }
    }
    apr_pool_destroy(tp);
    apr_thread_exit(t, fails ? APR_EGENERAL : APR_SUCCESS);
    return NULL;
}

START_TEST(one_handle_many_threads)
{
    apr_thread_t *th[4];
    apr_status_t trv;
    long k;

    shared_db = open_db("acme");
    for (k = 0; k < 4; ++k) {
        ck_assert_int_eq(apr_thread_create(&th[k], NULL, writer, (void *)k, pool), APR_SUCCESS);
    }
    for (k = 0; k < 4; ++k) {
        ck_assert_int_eq(apr_thread_join(&trv, th[k]), APR_SUCCESS);
        ck_assert_int_eq(trv, APR_SUCCESS);
    }
}
END_TEST

/* ---- secrets and reachability ------------------------------------------------------------ */

START_TEST(password_never_shown)
{
    acme_fleet_db_t *db = NULL;
    const char *err = NULL, *pw = env("ACME_PGTEST_PASSWORD");
    const char *wrong = "wrong-Pa55word";
    apr_status_t rv;

    /* wrong password from the file: refused, the password in no message */
    rv = acme_fleet_db_open(&db, pool, conninfo("acme"), wrong, &err);
    ck_assert_int_eq(rv, APR_ECONNREFUSED);
    ck_assert_ptr_nonnull(db);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(strstr(err, "password authentication failed"), "%s", err);
    ck_assert(!strstr(err, wrong));
    ck_assert(!acme_fleet_db_reachable(db));
    /* the password in the conninfo (quoted as libpq wants): works, shown masked */
    db = NULL;
    rv = acme_fleet_db_open(&db, pool,
                            apr_psprintf(pool, "%s password='%s'", conninfo("acme"),
                                         "s3cret-\\'pw\\\\x"), NULL, &err);
    ck_assert_msg(rv == APR_SUCCESS, "%s", err ? err : "");
    ck_assert(!strstr(acme_fleet_db_conninfo_shown(db), "s3cret"));
    ck_assert(strstr(acme_fleet_db_conninfo_shown(db), "password='********'")
              || strstr(acme_fleet_db_conninfo_shown(db), "password=********"));
    /* the URI form with the password file */
    db = NULL;
    rv = acme_fleet_db_open(&db, pool,
                            apr_psprintf(pool, "postgresql://acme@127.0.0.1:%s/acme",
                                         env("ACME_PGTEST_PORT")), pw, &err);
    ck_assert_msg(rv == APR_SUCCESS, "%s", err ? err : "");
}
END_TEST

/* PostgreSQL stops and starts again: calls fail with APR_ECONNREFUSED (no crash), the
 * handle reconnects by itself, the data is still there. Then a handle opened while the
 * server is down connects (and migrates) once it is up. */
START_TEST(reconnect_after_restart)
{
    acme_fleet_db_t *db = open_db("acme"), *late = NULL;
    acme_store_blob_t b = { "v", "kept", 4 };
    apr_array_header_t *blobs;
    apr_time_t now, deadline;
    const char *err;
    apr_status_t rv;
    int i, refused = 0;

    ck_assert_int_eq(acme_fleet_db_put(db, "restart", "e", &b, 1, NULL, 0, NULL, pool),
                     APR_SUCCESS);
    sh("stop postgres", env("ACME_PGTEST_STOP"));
    for (i = 0; i < 20; ++i) {
        rv = acme_fleet_db_now(db, &now);
        ck_assert_int_eq(rv, APR_ECONNREFUSED);
        refused++;
    }
    ck_assert(!acme_fleet_db_reachable(db));
    err = acme_fleet_db_error(db, pool);
    ck_assert_ptr_nonnull(err);
    ck_assert(!strstr(err, env("ACME_PGTEST_PASSWORD")));
    rv = acme_fleet_db_open(&late, pool, conninfo("acme"), env("ACME_PGTEST_PASSWORD"), &err);
    ck_assert_int_eq(rv, APR_ECONNREFUSED);
    ck_assert_ptr_nonnull(late);
    ck_assert_int_eq(acme_fleet_db_schema_version(late), 0);

    sh("start postgres", env("ACME_PGTEST_START"));
    deadline = apr_time_now() + apr_time_from_sec(30);
    do {
        rv = acme_fleet_db_get(db, "restart", "e", NULL, &blobs, pool);
        if (rv != APR_SUCCESS) {
            ck_assert_int_eq(rv, APR_ECONNREFUSED);
            apr_sleep(apr_time_from_msec(200));
        }
    } while (rv != APR_SUCCESS && apr_time_now() < deadline);
    ck_assert_int_eq(rv, APR_SUCCESS);
    ck_assert(acme_fleet_db_reachable(db));
    ck_assert_str_eq(APR_ARRAY_IDX(blobs, 0, acme_store_blob_t).data, "kept");
    deadline = apr_time_now() + apr_time_from_sec(30);
    do {
        rv = acme_fleet_db_now(late, &now);
        if (rv != APR_SUCCESS) {
            apr_sleep(apr_time_from_msec(200));
        }
    } while (rv != APR_SUCCESS && apr_time_now() < deadline);
    ck_assert_int_eq(rv, APR_SUCCESS);
    ck_assert_int_eq(acme_fleet_db_schema_version(late), ACME_FLEET_DB_SCHEMA);
    ck_assert_int_eq(refused, 20);
}
END_TEST

static Suite *fleet_pg_suite(void)
{
    Suite *s = suite_create("fleet_db_pgsql");
    TCase *tc = tcase_create("pgsql");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, migration_idempotent);
    tcase_add_test(tc, concurrent_open);
    tcase_add_test(tc, newer_schema_refused);
    tcase_add_test(tc, no_right_to_create);
    tcase_add_test(tc, lease_lifecycle);
    tcase_add_test(tc, lease_race_one_winner);
    tcase_add_test(tc, entries_generations_changes);
    tcase_add_test(tc, changes_in_commit_order);
    tcase_add_test(tc, node_beats);
    tcase_add_test(tc, one_handle_many_threads);
    tcase_add_test(tc, password_never_shown);
    tcase_add_test(tc, frozen_server_call_bounded);
    tcase_add_test(tc, reconnect_after_restart);   /* last: it restarts the server */
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    apr_initialize();
    sr = srunner_create(fleet_pg_suite());
    srunner_run_all(sr, CK_VERBOSE);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    apr_terminate();
    return failed ? 1 : 0;
}
