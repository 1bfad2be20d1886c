/* libFuzzer target: the parsers of directive arguments and stored values: durations,
 * percentages, RFC 3339 times, host names, key types, "IPv4[:PORT]" resolvers, base64url,
 * the account store name made from an ACMEServer URL.
 * Input: values, one a line; each goes to every parser, with round-trip checks. */
#include <string.h>

#include <apr_strings.h>

#include "fuzz_common.h"
#include "acme_account.h"
#include "acme_crypto.h"
#include "acme_dns.h"
#include "acme_util.h"

static void one(apr_pool_t *p, const char *v)
{
    apr_interval_time_t d = 0, d2 = 0;
    int pct = 0, port = 0;
    acme_key_type_t kt;
    const char *addr = NULL, *why = NULL, *store_name;
    apr_time_t t;
    unsigned char *bin = NULL;
    apr_size_t blen = 0;

    if (acme_duration_parse(&d, v) == APR_SUCCESS) {
        if (d < 0 || acme_duration_parse(&d2, acme_duration_print(p, d)) != APR_SUCCESS
            || d2 != d) {
            __builtin_trap();
        }
    }
    if (acme_window_parse(&pct, &d, v, apr_time_from_sec(3650 * 86400)) == APR_SUCCESS
        && (pct < 0 || pct > 99 || d < 0 || (pct > 0) == (d > 0))) {
        __builtin_trap();   /* exactly one of a share (1-99%) and a duration */
    }
    if (acme_duration_parse_range(&d2, v, apr_time_from_sec(1), apr_time_from_sec(86400))
        == APR_SUCCESS && (d2 < apr_time_from_sec(1) || d2 > apr_time_from_sec(86400))) {
        __builtin_trap();
    }
    t = acme_time_parse_rfc3339(v);
    if (t != 0 && acme_time_parse_rfc3339(acme_time_rfc3339(p, t)) != apr_time_from_sec(apr_time_sec(t))) {
        __builtin_trap();
    }
    if (acme_name_is_certifiable(v, &why) && strchr(v, '/')) {
        __builtin_trap();   /* a certifiable name becomes a store path: never a '/' */
    }
    acme_name_lower(p, v);
    if (acme_key_type_parse(&kt, v) == APR_SUCCESS) {
        acme_key_type_name(kt);
    }
    if (acme_dns_server_parse(&addr, &port, p, v) == APR_SUCCESS && (port < 1 || port > 65535)) {
        __builtin_trap();
    }
    store_name = acme_account_store_name(p, v);
    if (!store_name || !*store_name || store_name[0] == '.' || strchr(store_name, '/')) {
        __builtin_trap();   /* an ACMEServer URL must give one plain store directory name */
    }
    if (acme_b64url_decode(&bin, &blen, p, v) == APR_SUCCESS) {
        const char *again = acme_b64url_encode(p, bin, blen);
        unsigned char *bin2 = NULL;
        apr_size_t blen2 = 0;
        if (acme_b64url_decode(&bin2, &blen2, p, again) != APR_SUCCESS || blen2 != blen
            || (blen && memcmp(bin, bin2, blen))) {
            __builtin_trap();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    apr_array_header_t *lines = fuzz_split(p, fuzz_str(p, data, size), "\n");
    int i;

    for (i = 0; i < lines->nelts; ++i) {
        one(p, APR_ARRAY_IDX(lines, i, const char *));
    }
    apr_pool_destroy(p);
    return 0;
}
