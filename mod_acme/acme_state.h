/* Typed per-certificate state records, loaded and saved through the store interface only
 * (acme_store_t: a second backend holds the same records). One record type per kind of
 * state; each file carries a format version "v" (ACME_STATE_VERSION); a file without one
 * is the previous format (as written before the records were versioned) and still loads.
 * Formats: docs/store.md. The blocked-activation record is acme_activation.h's. */
#ifndef ACME_STATE_H
#define ACME_STATE_H

#include <jansson.h>

#include "acme.h"
#include "acme_store.h"

#define ACME_STATE_VERSION 1

#define ACME_STATE_META     "meta.json"      /* live/<id>/, staging/<id>/, archive sets */
#define ACME_STATE_STATUS   "status.json"    /* orders/<id>/: failures */
#define ACME_STATE_ARI      "ari.json"       /* orders/<id>/: the CA's renewal window */
#define ACME_STATE_REQUEST  "renew.request"  /* orders/<id>/: an admin's renewal request */
#define ACME_STATE_COUNTERS "metrics.json"   /* orders/_driver/: the worker's counters */
#define ACME_STATE_EXPIRING "expiring.json"  /* orders/<id>/: the last "expiring" warning */
#define ACME_STATE_PERSIST  "persist.json"   /* orders/<id>/: dns-persist-01 records to publish */
#define ACME_STATE_PACED    "paced.json"     /* orders/<id>/: waits for the CA's rates */
#define ACME_STATE_PACE     "pace.json"      /* orders/_driver/: pacing state per CA */
#define ACME_STATE_COUNTERS_ENTRY "_driver"  /* not a certificate (ids never begin with _) */

/* Common to every load: APR_ENOENT when the record is missing, APR_EINVAL when it is not
 * a JSON object (or for a request: neither JSON nor the previous text), or of a version
 * newer than this code knows (v > ACME_STATE_VERSION). Strings are allocated from p.
 * Absent fields load as NULL / 0. A loaded record has v = the version read (0: the
 * previous format). Every save writes ACME_STATE_VERSION, atomically (store save). */

/* The version rule for any record kept as JSON (here and e.g. acme_activation.c's
 * blocked.json): acme_state_parse gives the object and its version "v" (0 when absent: the
 * previous format), APR_EINVAL when data is not a JSON object or its version is not one
 * this code knows; acme_state_new makes an object (owned by p) holding the current "v". */
apr_status_t acme_state_parse(json_t **pj, int *pv, apr_pool_t *p, const char *data,
                              apr_size_t len);
json_t *acme_state_new(apr_pool_t *p);

/* Facts of an issued certificate set (meta.json). */
typedef struct acme_cert_meta_t {
    int v;
    const apr_array_header_t *names;     /* const char *, as issued (not normalized) */
    const char *ca;                      /* directory URL of the CA it came from */
    const char *key;                     /* key type name, e.g. "p256" */
    const char *serial;                  /* hex */
    const char *order;                   /* order URL */
    const char *chain;                   /* issuer CN of the chain's top certificate */
    apr_time_t not_before, not_after;
    apr_time_t staged;                   /* when it was obtained and staged */
    apr_time_t rebuilt;                  /* when start-up rebuilt it from the certificate */
    const char *profile;                 /* ACMEProfile it was ordered for, NULL none (absent
                                          * in records written before profiles existed) */
    int profile_fallback;                /* the CA did not offer it: its default was used */
} acme_cert_meta_t;

apr_status_t acme_meta_parse(acme_cert_meta_t **pm, apr_pool_t *p, const char *data,
                             apr_size_t len);
/* The text a save writes (compact JSON, sorted keys). NULL fields and 0 times are left out,
 * except names (always an array) and serial (always a string, "" when NULL). */
const char *acme_meta_text(apr_pool_t *p, const acme_cert_meta_t *m);
apr_status_t acme_meta_load(acme_cert_meta_t **pm, apr_pool_t *p, acme_store_t *st,
                            acme_group_t g, const char *id);
apr_status_t acme_meta_save(acme_store_t *st, acme_group_t g, const char *id,
                            const acme_cert_meta_t *m, apr_pool_t *p);

/* The failures since the last success (orders/<id>/status.json; none: no record). */
typedef struct acme_cert_status_t {
    int v;
    int failures;                        /* consecutive failed attempts */
    apr_time_t last_failure;             /* when the last one failed */
    apr_time_t next_attempt;             /* when the worker tries again */
    apr_time_t retry_after;              /* the CA's Retry-After, 0 none */
    const char *err_type;                /* ACME problem type, NULL none */
    const char *err_detail;              /* what went wrong */
    const char *err_hint;                /* what the admin can do, NULL none */
} acme_cert_status_t;

apr_status_t acme_status_load(acme_cert_status_t **ps, apr_pool_t *p, acme_store_t *st,
                              const char *id);
apr_status_t acme_status_save(acme_store_t *st, const char *id, const acme_cert_status_t *s,
                              apr_pool_t *p);
/* Save failed attempt number `failures` (at `at`, the next one at `next`) from its result:
 * the CA's problem type, detail (or "unknown"), Retry-After and the problem table's hint. */
apr_status_t acme_status_record_failure(acme_store_t *st, const char *id, int failures,
                                        apr_time_t at, apr_time_t next,
                                        const acme_result_t *res, apr_pool_t *p);
/* A success: no record. Missing is not an error. */
apr_status_t acme_status_clear(acme_store_t *st, const char *id, apr_pool_t *p);

/* The CA's renewal window for one certificate (orders/<id>/ari.json). */
typedef struct acme_ari_state_t {
    int v;
    const char *cert_id;                 /* the ARI certificate id the window is for */
    apr_time_t start, end;               /* suggestedWindow */
    apr_time_t chosen;                   /* the renewal time picked inside it */
    apr_time_t next_fetch;               /* when to ask again */
    const char *explanation_url;         /* NULL none */
} acme_ari_state_t;

apr_status_t acme_ari_state_load(acme_ari_state_t **pa, apr_pool_t *p, acme_store_t *st,
                                 const char *id);
apr_status_t acme_ari_state_save(acme_store_t *st, const char *id, const acme_ari_state_t *a,
                                 apr_pool_t *p);

/* A pending admin request (orders/<id>/renew.request): renew this certificate. It stays
 * until a certificate obtained after `requested` is live (acme_plan.h). */
typedef struct acme_renew_request_t {
    int v;
    apr_time_t requested;                /* 0: unknown (previous format without a time) */
    const char *by;                      /* who asked, e.g. "acmectl" */
    int new_key;                         /* the certificate's key must not be reused
                                            (acmectl revoke), whatever ACMEKeyReuse says */
} acme_renew_request_t;

/* Version 1 is JSON {"by","requested","v"} (and "new_key": true when set); the previous format is the text line
 * "requested by <by> at <RFC 3339>\n". The value's existence is the request: any other
 * content (empty, other text, damaged JSON, a newer version) is a request of unknown time
 * (requested 0), never an error. */
apr_status_t acme_request_parse(acme_renew_request_t **pr, apr_pool_t *p, const char *data,
                                apr_size_t len);
const char *acme_request_text(apr_pool_t *p, const acme_renew_request_t *r);
/* A request of unknown time gets the value's modification time where the store has files;
 * else requested stays 0. */
apr_status_t acme_request_load(acme_renew_request_t **pr, apr_pool_t *p, acme_store_t *st,
                               const char *id);
apr_status_t acme_request_save(acme_store_t *st, const char *id, const acme_renew_request_t *r,
                               apr_pool_t *p);
apr_status_t acme_request_clear(acme_store_t *st, const char *id, apr_pool_t *p);

/* The worker's counters since the store was created (orders/_driver/metrics.json). */
typedef struct acme_counters_t {
    int v;
    apr_int64_t attempts, staged, failed;
    apr_int64_t acme_requests;           /* HTTP requests to the CA */
    apr_time_t last_run;                 /* end of the last run, 0 never */
} acme_counters_t;

apr_status_t acme_counters_load(acme_counters_t **pc, apr_pool_t *p, acme_store_t *st);
apr_status_t acme_counters_save(acme_store_t *st, const acme_counters_t *c, apr_pool_t *p);
/* Add one run's figures to the saved counters (none saved, or unusable: from 0); attempts
 * are staged + failed; last_run is now. */
apr_status_t acme_counters_add(acme_store_t *st, apr_int64_t staged, apr_int64_t failed,
                               apr_int64_t requests, apr_time_t now, apr_pool_t *p);

/* When the "expiring" warning for a certificate was last given (orders/<id>/expiring.json,
 * {"last","v"}; the previous format had no "v"). *plast is 0 when there is no usable record. */
apr_status_t acme_expiring_load(apr_time_t *plast, apr_pool_t *p, acme_store_t *st,
                                const char *id);
apr_status_t acme_expiring_save(acme_store_t *st, const char *id, apr_time_t last,
                                apr_pool_t *p);

/* The standing dns-persist-01 TXT records a certificate's names need (orders/<id>/persist.json,
 * {"records":[{"name","value"}],"v"}): known from the first order (the CA's issuer domain,
 * this account's URL) and kept across issuance, as the record must stay published for the
 * renewals. The record is public DNS data, so it holds the account URL in clear. */
typedef struct acme_persist_record_t {
    const char *name;                    /* "_validation-persist.example.org", no final dot */
    const char *value;                   /* "ISSUER; accounturi=URL" [+ "; policy=wildcard"] */
} acme_persist_record_t;

typedef struct acme_persist_t {
    int v;
    apr_array_header_t *records;         /* acme_persist_record_t, in the order learnt */
} acme_persist_t;

/* APR_EINVAL also when a record's name is not a _validation-persist DNS name or its value
 * holds a quote, a backslash or a control character (it could not be shown as it is). */
apr_status_t acme_persist_parse(acme_persist_t **pps, apr_pool_t *p, const char *data,
                                apr_size_t len);
const char *acme_persist_text(apr_pool_t *p, const acme_persist_t *ps);
apr_status_t acme_persist_load(acme_persist_t **pps, apr_pool_t *p, acme_store_t *st,
                               const char *id);
/* No records: the record file is removed (missing is not an error). */
apr_status_t acme_persist_save(acme_store_t *st, const char *id, const acme_persist_t *ps,
                               apr_pool_t *p);
/* An empty set (v current) to add to. */
acme_persist_t *acme_persist_make(apr_pool_t *p);
/* Learn the record for name: replaces one of the same name, except that a wildcard's value
 * (the same value with "; policy=wildcard") is kept, as it covers the name too. Returns 1
 * when the set changed; 0 (nothing done) for a name or value parse would refuse. */
int acme_persist_set(acme_persist_t *ps, apr_pool_t *p, const char *name, const char *value);
/* Drop the records of identifiers the certificate no longer has (names: as configured, a
 * wildcard "*.x" keeps x's record). Returns how many were dropped. */
int acme_persist_keep_names(acme_persist_t *ps, const apr_array_header_t *names);
/* The record for identifier ident (without "*."), or NULL. */
const acme_persist_record_t *acme_persist_find(const acme_persist_t *ps, const char *ident);
/* The record for ident (without "*.") the store already knows: from any certificate's
 * persist.json, and only when its accounturi is the URL of an account the store holds
 * (accounts/<name>/account.json), so a record of a replaced account is not given.
 * APR_ENOENT when there is none. */
apr_status_t acme_persist_lookup(const acme_persist_record_t **prec, apr_pool_t *p,
                                 acme_store_t *st, const char *ident);
/* As the admin publishes it (zone-file form): NAME. IN TXT "VALUE". */
const char *acme_persist_zone_line(apr_pool_t *p, const acme_persist_record_t *rec);
/* [{"name","value","record"}] (record: the zone-file line), an empty array for NULL; a new
 * reference the caller owns. */
json_t *acme_persist_json(apr_pool_t *p, const acme_persist_t *ps);

/* A certificate whose order waits for the CA's rates (orders/<id>/paced.json): until when
 * and why ("300 per 3h at URL"). Written by the runner, read by the status page and
 * acmectl; cleared when the order is sent. */
typedef struct acme_paced_t {
    int v;
    apr_time_t until;
    const char *reason;
} acme_paced_t;

apr_status_t acme_paced_load(acme_paced_t **pp, apr_pool_t *p, acme_store_t *st,
                             const char *id);
apr_status_t acme_paced_save(acme_store_t *st, const char *id, apr_time_t until,
                             const char *reason, apr_pool_t *p);
/* Missing is not an error. */
apr_status_t acme_paced_clear(acme_store_t *st, const char *id, apr_pool_t *p);

/* The pacing state of one CA (orders/_driver/pace.json, keyed by directory URL): the two
 * buckets' times and a 429's pause, so that a restart does not start with a full budget.
 * Times are kept to the second, rounded up. */
typedef struct acme_pace_state_t {
    apr_time_t orders_tat, new_order_tat, paused_until;
} acme_pace_state_t;

/* *ps zeroed when the file or the CA's entry is missing. */
apr_status_t acme_pace_state_load(acme_pace_state_t *ps, apr_pool_t *p, acme_store_t *st,
                                  const char *ca_url);
/* Write the states of n CAs (urls[k] -> states[k]) in one file. */
apr_status_t acme_pace_state_save(acme_store_t *st, const char *const *urls,
                                  const acme_pace_state_t *states, int n, apr_pool_t *p);

#endif
