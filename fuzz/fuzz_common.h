/* Shared set-up of the libFuzzer targets: APR once, logs silenced, one pool per input. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "acme.h"
#include "acme_http.h"

/* libFuzzer's entry points (each target defines LLVMFuzzerTestOneInput). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A fresh pool for one input (a child of a process-wide root); destroy it at the end. */
apr_pool_t *fuzz_pool(void);
/* NUL-terminated copy of the input. */
char *fuzz_str(apr_pool_t *p, const uint8_t *data, size_t size);
/* Split s at every occurrence of sep (in place); the parts as an array of char*. */
apr_array_header_t *fuzz_split(apr_pool_t *p, char *s, const char *sep);

/* Strings no log line may contain (secrets: key authorizations, JWS signatures, keys): a
 * log line with one of them stops the run as a crash. Copied; cleared by fuzz_pool(). */
void fuzz_log_forbid(const char *s);

/* One HTTP answer written as text (the format of the corpus files of fuzz_acme and
 * fuzz_problem):
 *     STATUS\n            (a decimal number; anything else means 200)
 *     Name: value\n       (any number of header lines, repeated names are added)
 *     \n
 *     body                 (the rest)
 * text is modified in place. */
acme_http_response_t *fuzz_response(apr_pool_t *p, char *text);

#endif
