/* The watchdog's timetable. */
#include "acme.h"
#include "acme_client.h"
#include "acme_sched.h"

apr_status_t acme_sched_create(acme_sched_t **ps, apr_pool_t *p, int n)
{
    acme_sched_t *s = apr_pcalloc(p, sizeof(*s));
    s->n = n;
    s->slot = apr_pcalloc(p, sizeof(acme_sched_slot_t) * (apr_size_t)(n ? n : 1));
    *ps = s;
    return APR_SUCCESS;
}

apr_time_t acme_sched_next_attempt(int used, const acme_plan_t *plan, apr_time_t now)
{
    if (!used) {
        return 0;
    }
    if (plan->action != ACME_PLAN_NOTHING) {
        return plan->when > now ? plan->when : now;
    }
    /* nothing to do now: look again when the plan says (e.g. renewal time) */
    return plan->when > now ? plan->when : 0;
}

void acme_sched_plan(acme_sched_t *s, int i, int used, const acme_plan_t *plan,
                     apr_time_t now)
{
    s->slot[i].next = acme_sched_next_attempt(used, plan, now);
}

void acme_sched_hurry(acme_sched_t *s, int i)
{
    if (s->slot[i].next && s->slot[i].next < s->next_run) {
        s->next_run = s->slot[i].next;
    }
}

apr_array_header_t *acme_sched_due(acme_sched_t *s, apr_time_t now, apr_pool_t *p)
{
    apr_array_header_t *due = apr_array_make(p, 8, sizeof(int));
    int i;
    for (i = 0; i < s->n; ++i) {
        if (s->slot[i].next && s->slot[i].next <= now) {
            APR_ARRAY_PUSH(due, int) = i;
        }
    }
    return due;
}

int acme_sched_ari_due(const acme_sched_t *s, int i, apr_time_t now)
{
    return s->slot[i].ari_next && now >= s->slot[i].ari_next && !s->ari_unavailable;
}

void acme_sched_after_run(acme_sched_t *s, apr_time_t now, int notify_pending)
{
    apr_time_t next = 0;
    int i;
    for (i = 0; i < s->n; ++i) {
        const acme_sched_slot_t *sl = &s->slot[i];
        if (sl->next && (!next || sl->next < next)) {
            next = sl->next;
        }
        if (sl->ari_next && !s->ari_unavailable && (!next || sl->ari_next < next)) {
            next = sl->ari_next;
        }
    }
    if (notify_pending && (!next || next > now + ACME_SCHED_NOTIFY_POLL)) {
        next = now + ACME_SCHED_NOTIFY_POLL; /* reap and time-limit running notify programs */
    }
    /* with nothing planned, look again in an hour (renewals are planned at start-up) */
    s->next_run = next ? next : now + ACME_SCHED_IDLE;
}

int acme_sched_every(apr_time_t *pnext, apr_interval_time_t interval, apr_time_t now)
{
    if (now < *pnext) {
        return 0;
    }
    *pnext = now + interval;
    return 1;
}

int acme_sched_record(acme_sched_t *s, int i, acme_plan_input_t *in, apr_status_t rv,
                      const acme_result_t *res, apr_time_t now)
{
    if (rv == APR_SUCCESS) {
        in->have_staged = 1;
        in->failures = 0;
        in->last_failure = in->retry_after = 0;
        s->slot[i].ari_next = 0;
        return 0;
    }
    in->failures++;
    in->last_failure = now;
    in->retry_after = res->retry_after;
    return acme_problem_handling(res) == ACME_PH_NEW_ACCOUNT;
}
