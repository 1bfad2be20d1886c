/* libFuzzer target: the Link (RFC 8288) and Retry-After (RFC 9110) header parsers.
 * Input: header values, one a line; each is given to both parsers, and all lines together
 * as repeated Link headers. */
#include <string.h>

#include <apr_strings.h>

#include "fuzz_common.h"
#include "acme_client.h"
#include "acme_util.h"

static const char *const rels[] = { "alternate", "up", "index", "" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    apr_table_t *headers = apr_table_make(p, 8);
    apr_array_header_t *lines = fuzz_split(p, fuzz_str(p, data, size), "\n");
    const apr_time_t now = apr_time_from_sec(1764460800); /* 2025-11-30 */
    int i;
    size_t r;

    for (i = 0; i < lines->nelts; ++i) {
        const char *v = APR_ARRAY_IDX(lines, i, const char *);
        apr_time_t t = acme_retry_after_parse(v, now);
        if (t != 0 && t < now && v[strspn(v, " \t")] >= '0' && v[strspn(v, " \t")] <= '9') {
            __builtin_trap();   /* delay-seconds never lie in the past (an HTTP-date may) */
        }
        apr_table_add(headers, "Link", v);
    }
    acme_retry_after_parse(NULL, now);
    for (r = 0; r < sizeof(rels) / sizeof(rels[0]); ++r) {
        apr_array_header_t *urls = acme_links(p, headers, rels[r]);
        for (i = 0; i < urls->nelts; ++i) {
            if (strchr(APR_ARRAY_IDX(urls, i, const char *), '>')) {
                __builtin_trap();   /* a URL ends at the first '>' */
            }
        }
    }
    apr_pool_destroy(p);
    return 0;
}
