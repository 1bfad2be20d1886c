/* ACME Renewal Information (RFC 9773): fetch and choice. */
#include <string.h>

#include <apr_strings.h>

#include "acme.h"
#include "acme_ari.h"
#include "acme_crypto.h"
#include "acme_json.h"
#include "acme_log.h"
#include "acme_state.h"
#include "acme_util.h"

apr_time_t acme_ari_next_fetch(const char *retry_after, apr_time_t now)
{
    apr_time_t next = acme_retry_after_parse(retry_after, now);
    if (next <= now) {
        return now + ACME_ARI_DEFAULT_REFETCH;
    }
    if (next - now < ACME_ARI_MIN_REFETCH) {
        return now + ACME_ARI_MIN_REFETCH;
    }
    if (next - now > ACME_ARI_MAX_REFETCH) {
        return now + ACME_ARI_MAX_REFETCH;
    }
    return next;
}

apr_status_t acme_ari_fetch(acme_ari_window_t **pwin, apr_pool_t *p, acme_client_t *c,
                            const char *cert_id, apr_time_t now, acme_result_t *res)
{
    acme_ari_window_t *w = apr_pcalloc(p, sizeof(*w));
    acme_response_t *resp = NULL;
    const char *base;
    json_t *win;
    apr_status_t rv;

    *pwin = w;
    w->next_fetch = now + ACME_ARI_ERROR_REFETCH;
    if ((rv = acme_client_directory(c, res)) != APR_SUCCESS) {
        w->directory_error = 1;
        goto leave;
    }
    if (!(base = acme_client_endpoint(c, "renewalInfo"))) {
        w->next_fetch = 0;
        rv = APR_ENOTIMPL;
        goto leave;
    }
    rv = acme_client_get(&resp, c, p, apr_pstrcat(p, base, base[strlen(base) - 1] == '/'
                                                  ? "" : "/", cert_id, NULL), res);
    if (rv == APR_SUCCESS
        && (!resp->json || !(win = acme_json_obj(resp->json, "suggestedWindow"))
            || !(w->start = acme_time_parse_rfc3339(acme_json_str(win, "start")))
            || !(w->end = acme_time_parse_rfc3339(acme_json_str(win, "end")))
            || w->end < w->start)) {
        rv = APR_EGENERAL;
        if (!res->detail) {
            res->status = rv;
            res->detail = "no suggestedWindow";
        }
    }
    if (rv != APR_SUCCESS) {
        w->start = w->end = 0;
        if (res->retry_after > now) {
            w->next_fetch = res->retry_after;
        }
        goto leave;
    }
    w->explanation_url = acme_json_str(resp->json, "explanationURL");
    w->next_fetch = acme_ari_next_fetch(apr_table_get(resp->headers, "Retry-After"), now);
leave:
    return rv;
}

acme_ari_choice_t acme_ari_choose(const acme_ari_window_t *win, apr_time_t old_start,
                                  apr_time_t old_end, apr_time_t old_chosen, apr_time_t now,
                                  apr_uint32_t fraction)
{
    acme_ari_choice_t c;
    apr_time_t from;

    memset(&c, 0, sizeof(c));
    if (old_start == win->start && old_end == win->end && old_chosen) {
        c.chosen = old_chosen;
        return c;
    }
    c.fresh = 1;
    if (win->end <= now) {
        c.chosen = now;
    }
    else {
        from = win->start > now ? win->start : now;
        c.chosen = from + (apr_time_t)((double)(win->end - from) * fraction / 4294967295.0);
    }
    c.moved_earlier = old_start && win->start < old_start && win->explanation_url;
    return c;
}

apr_uint32_t acme_ari_random_fraction(void)
{
    unsigned char b[4];
    if (acme_random_bytes(b, sizeof(b)) != APR_SUCCESS) {
        return 0;
    }
    return ((apr_uint32_t)b[0] << 24) | ((apr_uint32_t)b[1] << 16)
           | ((apr_uint32_t)b[2] << 8) | b[3];
}

apr_time_t acme_ari_random_in(apr_time_t start, apr_time_t end)
{
    if (end <= start) {
        return start;
    }
    return start + (apr_time_t)((double)(end - start) * acme_ari_random_fraction()
                                / 4294967295.0);
}

apr_status_t acme_ari_refresh(acme_ari_window_t **pwin, acme_ari_choice_t *pchoice,
                              apr_pool_t *p, acme_client_t *c, const char *id,
                              const char *cert_id, apr_time_t old_start, apr_time_t old_end,
                              apr_time_t old_chosen, apr_time_t now)
{
    acme_ari_window_t *w;
    acme_result_t res;
    apr_status_t rv;

    acme_result_reset(&res);
    memset(pchoice, 0, sizeof(*pchoice));
    rv = acme_ari_fetch(pwin, p, c, cert_id, now, &res);
    w = *pwin;
    if (rv == APR_ENOTIMPL) {
        acme_log(ACME_LOG_DEBUG, 0, ACMELOGNO(00057)
                 "the CA at %s offers no renewal information (ARI)",
                 acme_client_directory_url(c));
        goto leave;
    }
    if (rv != APR_SUCCESS) {
        if (!w->directory_error) {
            acme_log(ACME_LOG_INFO, 0, ACMELOGNO(00058)
                     "certificate %s: no usable renewal information from the CA: %s", id,
                     acme_result_str(&res, p));
        }
        goto leave;
    }
    *pchoice = acme_ari_choose(w, old_start, old_end, old_chosen, now,
                               acme_ari_random_fraction());
    if (pchoice->fresh) {
        acme_log(ACME_LOG_INFO, 0, ACMELOGNO(00050)
                 "certificate %s: the CA suggests renewal between %s and %s: renewal at %s",
                 id, acme_time_rfc3339(p, w->start), acme_time_rfc3339(p, w->end),
                 acme_time_rfc3339(p, pchoice->chosen));
    }
    if (pchoice->moved_earlier) {
        acme_log(ACME_LOG_NOTICE, 0, ACMELOGNO(00051)
                 "certificate %s: the CA moved its renewal window earlier, see %s", id,
                 w->explanation_url);
    }
leave:
    return rv;
}

apr_status_t acme_ari_update(acme_ari_window_t **pwin, acme_ari_choice_t *pchoice,
                             apr_pool_t *p, acme_client_t *c, acme_store_t *st, const char *id,
                             const char *cert_id, apr_time_t now)
{
    acme_ari_state_t *old = NULL, saved;
    apr_status_t rv;

    if (acme_ari_state_load(&old, p, st, id) != APR_SUCCESS || !old->cert_id
        || strcmp(old->cert_id, cert_id)) {
        old = NULL; /* nothing, or the window of another certificate */
    }
    rv = acme_ari_refresh(pwin, pchoice, p, c, id, cert_id, old ? old->start : 0,
                          old ? old->end : 0, old ? old->chosen : 0, now);
    if (rv == APR_SUCCESS) {
        memset(&saved, 0, sizeof(saved));
        saved.cert_id = cert_id;
        saved.start = (*pwin)->start;
        saved.end = (*pwin)->end;
        saved.chosen = pchoice->chosen;
        saved.next_fetch = (*pwin)->next_fetch;
        saved.explanation_url = (*pwin)->explanation_url;
        acme_ari_state_save(st, id, &saved, p);
    }
    return rv;
}
