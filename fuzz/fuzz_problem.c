/* libFuzzer target: RFC 7807 problem documents (acme_problem_parse) as the client receives
 * them. Input: one HTTP answer in the text form of fuzz_response(). */
#include <string.h>

#include "fuzz_common.h"
#include "acme_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    acme_http_response_t *resp = fuzz_response(p, fuzz_str(p, data, size));
    const apr_time_t now = apr_time_from_sec(1764460800);
    acme_result_t res;
    const char *line;

    acme_result_reset(&res);
    res.subject = "https://ca.test/acme/new-order";
    acme_problem_parse(&res, p, resp->status, resp->headers, resp->body, resp->body_len, now);
    if (res.status != ACME_EPROBLEM || !res.detail) {
        __builtin_trap();
    }
    line = acme_result_str(&res, p);
    if (!line) {
        __builtin_trap();
    }
    acme_result_problem_short(&res);
    apr_pool_destroy(p);
    return 0;
}
