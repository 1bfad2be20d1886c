/* The plan's inputs as the store holds them (see acme_plan_store.h). */
#include <string.h>

#include <apr_strings.h>

#include "acme_plan_store.h"
#include "acme_json.h"
#include "acme_state.h"
#include "acme_util.h"

apr_time_t acme_plan_request_time(const char *text, apr_size_t len)
{
    acme_renew_request_t *r;
    apr_pool_t *p;
    apr_time_t t = 0;

    if (apr_pool_create(&p, NULL) != APR_SUCCESS) {
        return 0;
    }
    if (acme_request_parse(&r, p, text, len) == APR_SUCCESS) {
        t = r->requested;
    }
    apr_pool_destroy(p);
    return t;
}

static apr_time_t request_time(acme_store_t *st, const char *id, apr_pool_t *p)
{
    acme_renew_request_t *r;

    if (acme_request_load(&r, p, st, id) != APR_SUCCESS) {
        return 0;
    }
    /* of unknown age (no time in it, no file to date it): any live certificate does */
    return r->requested > 0 ? r->requested : 1;
}

void acme_plan_load_runtime(acme_plan_input_t *in, apr_pool_t *p, acme_store_t *st,
                            const char *id, const char *ari_cert_id)
{
    acme_cert_status_t *s;
    acme_ari_state_t *a;
    char *data;

    /* complete once its meta.json (written last) exists, whatever it holds */
    in->have_staged = acme_store_load(st, ACME_GROUP_STAGING, id, ACME_STATE_META, &data, NULL,
                                      p) == APR_SUCCESS;
    in->failures = 0;
    in->last_failure = in->retry_after = 0;
    if (acme_status_load(&s, p, st, id) == APR_SUCCESS) {
        in->failures = s->failures;
        in->last_failure = s->last_failure;
        in->retry_after = s->retry_after;
    }
    in->renew_requested = request_time(st, id, p);
    in->ari_start = in->ari_end = in->ari_chosen = in->ari_next_fetch = 0;
    if (ari_cert_id && acme_ari_state_load(&a, p, st, id) == APR_SUCCESS && a->cert_id
        && !strcmp(a->cert_id, ari_cert_id)) {
        in->ari_start = a->start;
        in->ari_end = a->end;
        in->ari_chosen = a->chosen;
        in->ari_next_fetch = a->next_fetch;
    }
}

static json_t *json_time(apr_pool_t *p, apr_time_t t)
{
    return t ? json_string(acme_time_rfc3339(p, t)) : json_null();
}

json_t *acme_plan_ari_json(const acme_plan_input_t *in, apr_pool_t *p)
{
    json_t *ari;
    if (!in->ari_end) {
        return json_null();
    }
    ari = json_object();
    json_object_set_new(ari, "start", json_time(p, in->ari_start));
    json_object_set_new(ari, "end", json_time(p, in->ari_end));
    json_object_set_new(ari, "next_fetch", json_time(p, in->ari_next_fetch));
    return ari;
}

static json_t *strings_json(const apr_array_header_t *a)
{
    json_t *j = json_array();
    int i;
    for (i = 0; i < a->nelts; ++i) {
        json_array_append_new(j, json_string(APR_ARRAY_IDX(a, i, const char *)));
    }
    return j;
}

/* The strings of a JSON array (other members skipped). */
static apr_array_header_t *strings_from_json(apr_pool_t *p, const json_t *arr)
{
    apr_array_header_t *a = apr_array_make(p, (int)json_array_size(arr) + 1,
                                           sizeof(const char *));
    size_t k;
    for (k = 0; k < json_array_size(arr); ++k) {
        const char *n = json_string_value(json_array_get(arr, k));
        if (n) {
            APR_ARRAY_PUSH(a, const char *) = n;
        }
    }
    return a;
}

json_t *acme_plan_spec_json(const acme_plan_spec_t *spec)
{
    json_t *j = json_object();
    json_object_set_new(j, "names", spec->names ? strings_json(spec->names) : json_array());
    if (spec->ca_url) {
        json_object_set_new(j, "ca", json_string(spec->ca_url));
    }
    if (spec->ca_urls && spec->ca_urls->nelts > 1) {
        json_object_set_new(j, "cas", strings_json(spec->ca_urls));
    }
    if (spec->key) {
        json_object_set_new(j, "key", json_string(spec->key));
    }
    if (spec->profile && *spec->profile) {
        json_object_set_new(j, "profile", json_string(spec->profile));
    }
    json_object_set_new(j, "renew_percent", json_integer(spec->renew_percent));
    json_object_set_new(j, "renew_before_s", json_integer(apr_time_sec(spec->renew_before)));
    json_object_set_new(j, "retry_delay_s", json_integer(apr_time_sec(spec->retry_delay)));
    return j;
}

apr_status_t acme_plan_spec_from_json(acme_plan_spec_t *spec, apr_pool_t *p, const json_t *j)
{
    json_t *arr;

    memset(spec, 0, sizeof(*spec));
    if (!json_is_object(j) || !(arr = acme_json_arr(j, "names"))) {
        return APR_EINVAL;
    }
    spec->names = strings_from_json(p, arr);
    spec->ca_url = acme_json_str(j, "ca");
    if ((arr = acme_json_arr(j, "cas")) != NULL) {
        spec->ca_urls = strings_from_json(p, arr);
    }
    spec->key = acme_json_str(j, "key");
    spec->profile = acme_json_str(j, "profile");
    spec->renew_percent = (int)json_integer_value(json_object_get(j, "renew_percent"));
    spec->renew_before = apr_time_from_sec(json_integer_value(json_object_get(j,
                                                                          "renew_before_s")));
    spec->retry_delay = apr_time_from_sec(json_integer_value(json_object_get(j,
                                                                         "retry_delay_s")));
    return APR_SUCCESS;
}
