/* ACME Renewal Information (RFC 9773): fetching a certificate's suggested renewal window
 * and choosing the renewal time inside it. The plan (acme_plan.c) takes the result as its
 * ari_* inputs. */
#ifndef ACME_ARI_H
#define ACME_ARI_H

#include "acme.h"
#include "acme_client.h"
#include "acme_store.h"

#define ACME_ARI_DEFAULT_REFETCH apr_time_from_sec(6 * 3600) /* no (usable) Retry-After */
#define ACME_ARI_ERROR_REFETCH apr_time_from_sec(3600)       /* after an error */
#define ACME_ARI_MAX_REFETCH apr_time_from_sec(7 * 86400)    /* Retry-After is capped */
#define ACME_ARI_MIN_REFETCH apr_time_from_sec(1)

typedef struct acme_ari_window_t {
    apr_time_t start, end;         /* the suggestedWindow, end >= start > 0 */
    const char *explanation_url;   /* or NULL */
    apr_time_t next_fetch;         /* when to ask again (also set on errors) */
    int directory_error;           /* the directory could not be fetched (an error of the
                                    * CA, not of this certificate's window) */
} acme_ari_window_t;

/* When to fetch again after an answer with this Retry-After header value (NULL: none): the
 * header clamped to [now + 1 s, now + 7 d], without one (or with one in the past) now + 6 h. */
apr_time_t acme_ari_next_fetch(const char *retry_after, apr_time_t now);

/* GET <renewalInfo>/<cert_id> (unauthenticated). *pwin is always set; returns
 *  - APR_SUCCESS: a usable window (start, end, explanation_url, next_fetch);
 *  - APR_ENOTIMPL: the CA's directory has no renewalInfo (next_fetch 0: do not ask again);
 *  - another error, res saying why ("no suggestedWindow" when the answer had no usable
 *    window): next_fetch is the CA's Retry-After when in the future, else now + 1 h (always
 *    now + 1 h when the directory could not be fetched). */
apr_status_t acme_ari_fetch(acme_ari_window_t **pwin, apr_pool_t *p, acme_client_t *c,
                            const char *cert_id, apr_time_t now, acme_result_t *res);

/* The renewal time inside a window, as a pure decision. old is what was saved for the same
 * certID before (NULL, or start/end 0: nothing). */
typedef struct acme_ari_choice_t {
    apr_time_t chosen;
    int fresh;                     /* chosen anew (the window is new or changed): log it */
    int moved_earlier;             /* the new window starts before the old one and the CA
                                    * gave an explanationURL: tell the admin */
} acme_ari_choice_t;
/* The time chosen before is kept while the window stays the same. Otherwise: a window that
 * already ended means now; else start (or now, when the window began already) plus
 * fraction (0..2^32-1, uniformly random) of what is left of the window. */
acme_ari_choice_t acme_ari_choose(const acme_ari_window_t *win, apr_time_t old_start,
                                  apr_time_t old_end, apr_time_t old_chosen, apr_time_t now,
                                  apr_uint32_t fraction);

/* For one certificate (id, for the log): fetch its window and choose the renewal time
 * (old_*: what was saved for the same certID before, 0: nothing), with a random fraction.
 * The same results as acme_ari_fetch; *pchoice is set on APR_SUCCESS. Logs what the admin
 * may want to know: the CA offers no ARI (debug), no usable answer (info), a newly chosen
 * time (info), a window moved earlier with the CA's explanation (notice). */
apr_status_t acme_ari_refresh(acme_ari_window_t **pwin, acme_ari_choice_t *pchoice,
                              apr_pool_t *p, acme_client_t *c, const char *id,
                              const char *cert_id, apr_time_t old_start, apr_time_t old_end,
                              apr_time_t old_chosen, apr_time_t now);

/* acme_ari_refresh with the window saved in the store (orders/<id>/ari.json, acme_state.h):
 * what was saved for the same cert_id is the old window; a usable new one is saved with the
 * time chosen in it. Same results as acme_ari_refresh. */
apr_status_t acme_ari_update(acme_ari_window_t **pwin, acme_ari_choice_t *pchoice,
                             apr_pool_t *p, acme_client_t *c, acme_store_t *st, const char *id,
                             const char *cert_id, apr_time_t now);

/* A uniformly random time in [start, end] (start when end <= start or no randomness). */
apr_time_t acme_ari_random_in(apr_time_t start, apr_time_t end);
apr_uint32_t acme_ari_random_fraction(void);

#endif
