/* jansson helpers: pool-owned values and typed getters. */
#ifndef ACME_JSON_H
#define ACME_JSON_H

#include "acme.h"
#include <jansson.h>

/* Tie a json_t reference to the pool: json_decref runs at pool cleanup. Returns j. */
json_t *acme_json_pool(apr_pool_t *p, json_t *j);
/* Parse text; the result is pool-owned. NULL on error (*perr, if given, says why). */
json_t *acme_json_parse(apr_pool_t *p, const char *text, apr_size_t len, const char **perr);
/* Compact serialization with sorted keys, allocated from p. */
const char *acme_json_dump(apr_pool_t *p, const json_t *j);
/* Typed getters on objects; NULL/0 when missing or of another type. Strings live as long as j. */
const char *acme_json_str(const json_t *obj, const char *key);
json_t *acme_json_obj(const json_t *obj, const char *key);
json_t *acme_json_arr(const json_t *obj, const char *key);

#endif
