/* libFuzzer target: everything that turns a CA's answers into decisions: the directory,
 * nonces, account creation/look-up, newOrder, authorizations, challenges, polling, finalize,
 * the certificate download and staging, problem documents and Retry-After/Link headers on
 * the way. The CA is the input: a list of HTTP answers (text form of fuzz_response())
 * separated by lines "=====", served in order whatever the request; once they run out,
 * requests fail as a refused connection. A fresh filesystem store in a temporary directory
 * per input (an input may start with a stored order state: STATE_MARK); the order runs
 * twice (the second run resumes what the first stored). No log
 * line may contain a JWS signature sent, the account's key authorization suffix or a
 * private key (checked in the log sink: such a line counts as a crash). */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_strings.h>

#include "fuzz_common.h"
#include "acme_account.h"
#include "acme_client.h"
#include "acme_driver.h"
#include "acme_json.h"
#include "acme_jws.h"
#include "acme_store.h"

#define MAX_ANSWERS 64
/* An input whose first part starts with this line: the rest of that part is saved as the
 * stored order state (orders/www.example.org/order.json) before the driver runs. */
#define STATE_MARK "ORDER-STATE\n"

typedef struct script_t {
    apr_array_header_t *answers;   /* char* */
    int next;
} script_t;

static apr_status_t scripted(void *baton, acme_http_response_t **presp, apr_pool_t *p,
                             const acme_http_request_t *req)
{
    script_t *s = baton;
    acme_http_response_t *r;

    *presp = NULL;
    if (req->body && req->body_len) {
        /* the JWS of every signed request: never in a log line */
        json_t *jws = acme_json_parse(p, req->body, req->body_len, NULL);
        fuzz_log_forbid(jws ? acme_json_str(jws, "signature") : NULL);
    }
    if (s->next >= s->answers->nelts || s->next >= MAX_ANSWERS) {
        return APR_ECONNREFUSED;
    }
    r = fuzz_response(p, apr_pstrdup(p, APR_ARRAY_IDX(s->answers, s->next, const char *)));
    s->next++;
    if (!strcmp(req->method, "HEAD")) {
        r->body = "";
        r->body_len = 0;
    }
    *presp = r;
    return APR_SUCCESS;
}

static void no_sleep(void *baton, apr_interval_time_t t)
{
    (void)baton; (void)t;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    remove(path);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned char secret[ACME_SECRET_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    apr_pool_t *p = fuzz_pool();
    /* tmpfs when there is one: the store fsyncs every file it writes */
    char dir[256];
    const char *base;
    script_t script;
    acme_http_t http;
    acme_client_t *c = NULL;
    acme_store_t *st = NULL;
    acme_account_spec_t aspec;
    acme_driver_env_t env;
    acme_cert_spec_t spec;
    acme_result_t res;
    apr_array_header_t *types;
    const char *state = NULL;
    int run;

    base = getenv("FUZZ_TMPDIR");   /* scripts/fuzz.sh: a directory it removes at the end */
    if (!base || !*base) {
        base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    }
    apr_snprintf(dir, sizeof(dir), "%s/acme-fuzz-XXXXXX", base);
    if (size > 64 * 1024 || strlen(base) > sizeof(dir) - 20 || !mkdtemp(dir)) {
        goto leave;
    }
    script.answers = fuzz_split(p, fuzz_str(p, data, size), "\n=====\n");
    script.next = 0;
    if (!strncmp(APR_ARRAY_IDX(script.answers, 0, const char *), STATE_MARK,
                 strlen(STATE_MARK))) {
        /* the first part is the stored order state the driver resumes, not an answer */
        state = APR_ARRAY_IDX(script.answers, 0, const char *) + strlen(STATE_MARK);
        script.next = 1;
    }
    http.perform = scripted;
    http.baton = &script;
    if (acme_store_fs_create(&st, p, dir) != APR_SUCCESS
        || acme_store_fs_setup(st, -1, -1, p) != APR_SUCCESS
        || acme_client_create(&c, p, &http, "https://ca.test/dir") != APR_SUCCESS) {
        abort();
    }
    if (state && acme_store_save(st, ACME_GROUP_ORDERS, "www.example.org", "order.json", state,
                                 strlen(state), p) != APR_SUCCESS) {
        abort();
    }
    acme_result_reset(&res);
    if (acme_client_directory(c, &res) == APR_SUCCESS) {
        acme_client_endpoint(c, "newOrder");
        acme_client_endpoint(c, "renewalInfo");
        acme_client_tos(c);
    }
    memset(&aspec, 0, sizeof(aspec));
    aspec.contacts = apr_array_make(p, 1, sizeof(const char *));
    APR_ARRAY_PUSH(aspec.contacts, const char *) = "mailto:admin@example.org";
    aspec.agree_tos = 1;
    acme_result_reset(&res);
    if (acme_account_ensure(c, st, secret, &aspec, p, &res) != APR_SUCCESS) {
        goto leave;
    }
    {
        /* key authorizations are "<token>.<thumbprint>": no log line may hold one */
        const char *thumb = NULL;
        acme_key_t *akey = acme_client_account_key(c, p);
        if (!akey || acme_jwk_thumbprint(&thumb, p, akey) != APR_SUCCESS) {
            abort();
        }
        fuzz_log_forbid(apr_pstrcat(p, ".", thumb, NULL));
    }

    memset(&env, 0, sizeof(env));
    env.client = c;
    env.store = st;
    env.secret = secret;
    env.sleep = no_sleep;
    env.poll_timeout = apr_time_from_sec(3600);
    memset(&spec, 0, sizeof(spec));
    spec.id = "www.example.org";
    spec.names = apr_array_make(p, 2, sizeof(const char *));
    APR_ARRAY_PUSH(spec.names, const char *) = "example.org";
    APR_ARRAY_PUSH(spec.names, const char *) = "www.example.org";
    spec.ca_url = "https://ca.test/dir";
    spec.key_type = ACME_KEY_EC_P256;
    types = apr_array_make(p, 2, sizeof(const char *));
    APR_ARRAY_PUSH(types, const char *) = ACME_CHALLENGE_HTTP01;
    APR_ARRAY_PUSH(types, const char *) = ACME_CHALLENGE_TLSALPN01;
    spec.challenge_types = types;   /* never dns-01: that would run a hook program */
    for (run = 0; run < 2; ++run) {
        acme_result_reset(&res);
        if (acme_driver_obtain(&env, &spec, p, &res) == APR_SUCCESS) {
            break;
        }
        acme_result_str(&res, p);
    }
leave:
    if (strcmp(dir + strlen(dir) - 6, "XXXXXX")) {
        nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    apr_pool_destroy(p);
    return 0;
}
