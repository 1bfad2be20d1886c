/* Shared set-up of the libFuzzer targets (see fuzz_common.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "fuzz_common.h"
#include "acme_log.h"

static apr_pool_t *root;

static int verbose;
static char *forbidden[64];
static int nforbidden;

static void log_drop(void *baton, acme_log_level_t level, apr_status_t rv, const char *msg)
{
    int i;

    (void)baton; (void)rv;
    if (verbose) {   /* FUZZ_VERBOSE=1: see what the core made of an input */
        fprintf(stderr, "[%d] %s\n", (int)level, msg);
    }
    for (i = 0; msg[i]; ++i) {
        if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f) {
            fprintf(stderr, "a control character (0x%02x) in a log line: %s\n",
                    (unsigned char)msg[i], msg);
            __builtin_trap();   /* CA text must not forge or garble log lines */
        }
    }
    if (strstr(msg, "PRIVATE KEY")) {
        fprintf(stderr, "a private key in a log line: %s\n", msg);
        __builtin_trap();
    }
    for (i = 0; i < nforbidden; ++i) {
        if (strstr(msg, forbidden[i])) {
            fprintf(stderr, "a secret (%s) in a log line: %s\n", forbidden[i], msg);
            __builtin_trap();
        }
    }
}

void fuzz_log_forbid(const char *s)
{
    if (s && *s && nforbidden < (int)(sizeof(forbidden) / sizeof(forbidden[0]))) {
        forbidden[nforbidden] = strdup(s);
        if (!forbidden[nforbidden]) {
            abort();
        }
        nforbidden++;
    }
}

static void forbid_reset(void)
{
    while (nforbidden > 0) {
        free(forbidden[--nforbidden]);
    }
}

static int log_all(void *baton, acme_log_level_t level)
{
    (void)baton; (void)level;
    return 1;   /* format every message: the formatting is code under test too */
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc; (void)argv;
    if (apr_initialize() != APR_SUCCESS || apr_pool_create(&root, NULL) != APR_SUCCESS) {
        abort();
    }
    /* APR's allocator may use mmap, which LeakSanitizer does not scan: what a target keeps
     * for the whole run (pools, keys) must be freed before the leak check at exit. */
    atexit(forbid_reset);
    atexit(apr_terminate);
    verbose = getenv("FUZZ_VERBOSE") != NULL;
    acme_log_set(log_drop, log_all, NULL);
    return 0;
}

apr_pool_t *fuzz_pool(void)
{
    apr_pool_t *p = NULL;
    forbid_reset();
    if (apr_pool_create(&p, root) != APR_SUCCESS) {
        abort();
    }
    return p;
}

char *fuzz_str(apr_pool_t *p, const uint8_t *data, size_t size)
{
    return apr_pstrmemdup(p, (const char *)data, size);
}

apr_array_header_t *fuzz_split(apr_pool_t *p, char *s, const char *sep)
{
    apr_array_header_t *parts = apr_array_make(p, 8, sizeof(char *));
    size_t n = strlen(sep);
    char *hit;

    for (;;) {
        APR_ARRAY_PUSH(parts, char *) = s;
        hit = strstr(s, sep);
        if (!hit) {
            break;
        }
        *hit = '\0';
        s = hit + n;
    }
    return parts;
}

acme_http_response_t *fuzz_response(apr_pool_t *p, char *text)
{
    acme_http_response_t *r = apr_pcalloc(p, sizeof(*r));
    char *line = text, *nl, *end;
    long status;

    r->headers = apr_table_make(p, 5);
    nl = strchr(line, '\n');
    if (nl) {
        *nl = '\0';
    }
    status = strtol(line, &end, 10);
    r->status = (end != line && status >= 0 && status < 1000) ? (int)status : 200;
    line = nl ? nl + 1 : line + strlen(line);
    while (*line && *line != '\n') {
        char *colon, *value;
        nl = strchr(line, '\n');
        if (nl) {
            *nl = '\0';
        }
        colon = strchr(line, ':');
        if (colon) {
            *colon = '\0';
            value = colon + 1;
            while (*value == ' ') {
                ++value;
            }
            apr_table_add(r->headers, line, value);
        }
        line = nl ? nl + 1 : line + strlen(line);
    }
    if (*line == '\n') {
        ++line;
    }
    r->body = line;
    r->body_len = strlen(line);
    return r;
}
