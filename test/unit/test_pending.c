/* The per-process count of pending http-01 and tls-alpn-01 responses: balanced counts read
 * 0, a process that ended is forgotten, and nothing inconsistent ever reads as "nothing
 * pending"; the questions: only one somebody published a response to is "wanted", unless
 * the table cannot tell. */
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "tests.h"
#include "acme_pending.h"

static void *mem;
static acme_pending_t *pd;
static apr_pool_t *tp;             /* the questions' text */

static void setup(void)
{
    mem = mmap(NULL, acme_pending_size(), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
               -1, 0);
    ck_assert(mem != MAP_FAILED);
    pd = acme_pending_init(mem);
    apr_pool_create(&tp, NULL);
}

static void teardown(void)
{
    munmap(mem, acme_pending_size());
    apr_pool_destroy(tp);
}

START_TEST(balanced_reads_zero)
{
    ck_assert(!acme_pending_any(pd));
    acme_pending_add(pd, 100, 1);
    ck_assert(acme_pending_any(pd));
    acme_pending_add(pd, 100, 1);
    acme_pending_add(pd, 100, -1);
    ck_assert(acme_pending_any(pd));
    acme_pending_add(pd, 100, -1);
    ck_assert(!acme_pending_any(pd));
}
END_TEST

START_TEST(ended_process_forgotten)
{
    acme_pending_add(pd, 100, 1);
    acme_pending_add(pd, 200, 1);
    acme_pending_add(pd, 100, -1);
    ck_assert(acme_pending_any(pd));      /* 200 still publishes */
    acme_pending_release(pd, 300);        /* never counted: nothing changes */
    ck_assert(acme_pending_any(pd));
    ck_assert_uint_eq(acme_pending_release(pd, 200), 1); /* died between +1 and -1: */
    ck_assert(acme_pending_any(pd));      /* its response may still be asked for */
    ck_assert_uint_eq(acme_pending_ended(pd), 1);
    /* its slot is free again and starts from 0 for the next process */
    acme_pending_add(pd, 400, 1);
    acme_pending_add(pd, 400, -1);
    ck_assert(acme_pending_any(pd));
    acme_pending_clear_ended(pd);         /* the store has no response left */
    ck_assert(!acme_pending_any(pd));
    ck_assert_uint_eq(acme_pending_release(pd, 400), 0); /* ended with nothing pending */
    ck_assert_uint_eq(acme_pending_ended(pd), 0);
    ck_assert(!acme_pending_any(pd));
}
END_TEST

START_TEST(inconsistent_never_reads_zero)
{
    /* a -1 without a +1 (e.g. counted before the block existed) */
    acme_pending_add(pd, 100, -1);
    ck_assert(acme_pending_any(pd));
    acme_pending_release(pd, 100);        /* it had no slot: the overflow is never released */
    acme_pending_clear_ended(pd);
    ck_assert(acme_pending_any(pd));
}
END_TEST

START_TEST(all_slots_taken)
{
    long pid;

    for (pid = 1; pid <= ACME_PENDING_SLOTS; ++pid) {
        acme_pending_add(pd, pid, 1);
    }
    acme_pending_add(pd, 1000, 1);        /* no slot left: the overflow */
    for (pid = 1; pid <= ACME_PENDING_SLOTS; ++pid) {
        acme_pending_add(pd, pid, -1);
        acme_pending_release(pd, pid);
    }
    ck_assert(acme_pending_any(pd));
    acme_pending_clear_ended(pd);         /* the overflow is not "ended": still pending */
    ck_assert(acme_pending_any(pd));
    acme_pending_add(pd, 1000, -1);       /* finds no slot of its own either */
    ck_assert(!acme_pending_any(pd));
}
END_TEST

START_TEST(ignored_arguments)
{
    acme_pending_add(NULL, 100, 1);
    acme_pending_add(pd, 0, 1);
    acme_pending_add(pd, -5, 1);
    acme_pending_add(pd, 100, 0);
    acme_pending_release(NULL, 100);
    ck_assert(!acme_pending_any(pd));
}
END_TEST

#define THREADS 4
#define ROUNDS 20000

static void *APR_THREAD_FUNC hammer(apr_thread_t *t, void *baton)
{
    long pid = (long)(apr_uintptr_t)baton;
    int i;
    for (i = 0; i < ROUNDS; ++i) {
        acme_pending_add(pd, pid, 1);
        acme_pending_add(pd, pid, -1);
    }
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

START_TEST(threads_and_processes)
{
    apr_pool_t *p;
    apr_thread_t *t[THREADS];
    apr_status_t rv;
    pid_t child;
    int i, status = 0;

    apr_pool_create(&p, NULL);
    /* threads of two processes' worth of pids, sharing slots by pid */
    for (i = 0; i < THREADS; ++i) {
        ck_assert_int_eq(apr_thread_create(&t[i], NULL, hammer,
                                           (void *)(apr_uintptr_t)(100 + i % 2), p),
                         APR_SUCCESS);
    }
    for (i = 0; i < THREADS; ++i) {
        apr_thread_join(&rv, t[i]);
    }
    ck_assert(!acme_pending_any(pd));
    /* another process publishes and dies before removing: its parent releases it */
    child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        acme_pending_add(pd, (long)getpid(), 1);
        _exit(0);
    }
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert(acme_pending_any(pd));
    acme_pending_release(pd, (long)child);
    ck_assert_uint_eq(acme_pending_ended(pd), 1);
    acme_pending_clear_ended(pd);
    ck_assert(!acme_pending_any(pd));
    apr_pool_destroy(p);
}
END_TEST

#define H "http-01"
#define T "tls-alpn-01"

START_TEST(questions_wanted)
{
    ck_assert(!acme_pending_wanted(pd, H, "tokA"));
    ck_assert(acme_pending_wanted(NULL, H, "tokA"));     /* no table: always look */
    acme_pending_publish(pd, 100, H, "tokA", 1);
    acme_pending_publish(pd, 200, T, "www.example.org", 1);
    ck_assert(acme_pending_wanted(pd, H, "tokA"));
    ck_assert(!acme_pending_wanted(pd, H, "tokB"));
    ck_assert(!acme_pending_wanted(pd, T, "tokA"));      /* the type is part of the question */
    ck_assert(acme_pending_wanted(pd, T, "WWW.Example.ORG"));
    ck_assert(!acme_pending_wanted(pd, T, "example.org"));
    ck_assert(acme_pending_wanted(pd, H, NULL));         /* no question: look */
    /* the same question twice (two threads): one removal leaves the other */
    acme_pending_publish(pd, 100, H, "tokA", 1);
    acme_pending_publish(pd, 100, H, "tokA", -1);
    ck_assert(acme_pending_wanted(pd, H, "tokA"));
    acme_pending_publish(pd, 100, H, "tokA", -1);
    ck_assert(!acme_pending_wanted(pd, H, "tokA"));
    ck_assert(acme_pending_any(pd));
    acme_pending_publish(pd, 200, T, "www.example.org", -1);
    ck_assert(!acme_pending_any(pd));
    ck_assert(!acme_pending_wanted(pd, T, "www.example.org"));
}
END_TEST

/* A process that ended with a question published: every question looks in the store until
 * the store has none left; its table entries are freed at once. A publication without a
 * question: every question looks until it is removed. */
START_TEST(questions_when_unsure)
{
    int i;

    acme_pending_publish(pd, 100, H, "tokA", 1);
    ck_assert_uint_eq(acme_pending_release(pd, 100), 1);
    ck_assert(acme_pending_wanted(pd, H, "tokB"));
    acme_pending_clear_ended(pd);
    ck_assert(!acme_pending_wanted(pd, H, "tokA"));
    /* its entry was freed: the table takes ACME_PENDING_KEYS new ones */
    for (i = 0; i < ACME_PENDING_KEYS; ++i) {
        acme_pending_publish(pd, 300, H, apr_itoa(tp, i), 1);
    }
    ck_assert(!acme_pending_wanted(pd, H, "tokB"));
    acme_pending_publish(pd, 300, H, "one-too-many", 1);  /* full: everything looks */
    ck_assert(acme_pending_wanted(pd, H, "tokB"));
    acme_pending_publish(pd, 300, H, "one-too-many", -1);
    ck_assert(!acme_pending_wanted(pd, H, "tokB"));
    ck_assert(acme_pending_wanted(pd, H, apr_itoa(tp, ACME_PENDING_KEYS - 1)));
    for (i = 0; i < ACME_PENDING_KEYS; ++i) {
        acme_pending_publish(pd, 300, H, apr_itoa(tp, i), -1);
    }
    ck_assert(!acme_pending_any(pd));
    acme_pending_add(pd, 400, 1);                         /* no question */
    ck_assert(acme_pending_wanted(pd, H, "tokB"));
    acme_pending_add(pd, 400, -1);
    ck_assert(!acme_pending_wanted(pd, H, "tokB"));
}
END_TEST

Suite *pending_suite(void)
{
    Suite *s = suite_create("pending");
    TCase *tc = tcase_create("count");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, balanced_reads_zero);
    tcase_add_test(tc, ended_process_forgotten);
    tcase_add_test(tc, inconsistent_never_reads_zero);
    tcase_add_test(tc, all_slots_taken);
    tcase_add_test(tc, ignored_arguments);
    tcase_add_test(tc, threads_and_processes);
    tcase_add_test(tc, questions_wanted);
    tcase_add_test(tc, questions_when_unsure);
    suite_add_tcase(s, tc);
    return s;
}
