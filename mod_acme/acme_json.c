/* jansson helpers: pool-owned values and typed getters. */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "acme.h"
#include "acme_json.h"

static apr_status_t json_cleanup(void *data)
{
    json_decref((json_t *)data);
    return APR_SUCCESS;
}

json_t *acme_json_pool(apr_pool_t *p, json_t *j)
{
    if (j) {
        apr_pool_cleanup_register(p, j, json_cleanup, apr_pool_cleanup_null);
    }
    return j;
}

json_t *acme_json_parse(apr_pool_t *p, const char *text, apr_size_t len, const char **perr)
{
    json_error_t err;
    json_t *j;

    if (perr) {
        *perr = NULL;
    }
    if (!text) {
        if (perr) {
            *perr = "no JSON text";
        }
        return NULL;
    }
    j = json_loadb(text, len, 0, &err);
    if (!j) {
        if (perr) {
            *perr = apr_psprintf(p, "JSON parse error at line %d, column %d: %s", err.line,
                                 err.column, err.text);
        }
        return NULL;
    }
    return acme_json_pool(p, j);
}

const char *acme_json_dump(apr_pool_t *p, const json_t *j)
{
    char *s;
    const char *out;

    if (!j) {
        return NULL;
    }
    s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (!s) {
        return NULL;
    }
    out = apr_pstrdup(p, s);
    free(s);
    return out;
}

const char *acme_json_str(const json_t *obj, const char *key)
{
    json_t *v;

    if (!obj || !json_is_object(obj)) {
        return NULL;
    }
    v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

json_t *acme_json_obj(const json_t *obj, const char *key)
{
    json_t *v;

    if (!obj || !json_is_object(obj)) {
        return NULL;
    }
    v = json_object_get(obj, key);
    return json_is_object(v) ? v : NULL;
}

json_t *acme_json_arr(const json_t *obj, const char *key)
{
    json_t *v;

    if (!obj || !json_is_object(obj)) {
        return NULL;
    }
    v = json_object_get(obj, key);
    return json_is_array(v) ? v : NULL;
}
