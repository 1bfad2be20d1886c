/* The plan's inputs as the store holds them, read the same way by the watchdog, the status
 * pages and acmectl, so that all three show the same next action. */
#ifndef ACME_PLAN_STORE_H
#define ACME_PLAN_STORE_H

#include "acme.h"
#include "acme_store.h"
#include "acme_plan.h"
#include "acme_json.h"

#include "acme_state.h"

/* The records are acme_state.h's; these names stay for the callers. */
#define ACME_PLAN_REQUEST   ACME_STATE_REQUEST  /* orders/<id>/: acmectl renew */
#define ACME_PLAN_ARI_FILE  ACME_STATE_ARI      /* orders/<id>/: the CA's renewal window */
#define ACME_PLAN_STATUS    ACME_STATE_STATUS   /* orders/<id>/: failures */
#define ACME_PLAN_SPECS     "plan.json"         /* system/config/: the server's plan specs */

/* Fill what changes while the server runs: have_staged (staging/<id>/meta.json), failures,
 * last_failure, retry_after (orders/<id>/status.json), renew_requested (orders/<id>/
 * renew.request) and the ARI window (orders/<id>/ari.json, only when its cert_id is
 * ari_cert_id; NULL: ignored). Fields of in not named here are left alone. Missing or
 * unreadable files leave their fields 0. */
void acme_plan_load_runtime(acme_plan_input_t *in, apr_pool_t *p, acme_store_t *st,
                            const char *id, const char *ari_cert_id);
/* The time of a renewal request from its text (either format of acme_request_parse); 0 when
 * there is none (the caller then uses the file's modification time). */
apr_time_t acme_plan_request_time(const char *text, apr_size_t len);
/* {"start", "end", "next_fetch"} (RFC 3339) of the ARI window in `in`, or JSON null when
 * there is none: the same object on the status page and in acmectl --json. */
json_t *acme_plan_ari_json(const acme_plan_input_t *in, apr_pool_t *p);

/* system/config/plan.json: per certificate id what the plan needs of the configuration,
 * written by the server at start, read by acmectl. */
json_t *acme_plan_spec_json(const acme_plan_spec_t *spec);
/* Fill spec from that object (names, ca_url, the CA list "cas" when there are several, key,
 * windows, retry delay); APR_EINVAL when j is not such an object. Strings live as long as j. */
apr_status_t acme_plan_spec_from_json(acme_plan_spec_t *spec, apr_pool_t *p, const json_t *j);

#endif
