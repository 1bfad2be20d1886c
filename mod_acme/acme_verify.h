/* Start-up checks of the certificate sets the store holds (live/, archive/): which set
 * mod_ssl may be given, which archived set replaces a damaged live one, and what of
 * meta.json can be rebuilt from the certificate. Pure: callers read the files. */
#ifndef ACME_VERIFY_H
#define ACME_VERIFY_H

#include "acme.h"
#include "acme_cert.h"

/* The files of one set, as read (data NULL: could not be read; read_error says why). */
typedef struct acme_set_files_t {
    const char *chain;
    apr_size_t chain_len;
    const char *chain_read_error;  /* e.g. "Is a directory", NULL when read or missing */
    const char *key;
    apr_size_t key_len;
    const char *key_read_error;
} acme_set_files_t;

/* What acme_verify_set found. */
typedef struct acme_set_check_t {
    const char *bad_file;          /* "chain.pem" or "key.pem" when the set is unusable */
    const char *why;               /* what is wrong with it (no secret in it) */
    acme_cert_info_t *leaf;        /* the leaf's facts, when chain.pem parses */
    const char *key_type;          /* "p256", "rsa2048", ... when key.pem parses; NULL if
                                    * it is no type mod_acme makes */
} acme_set_check_t;

/* Can this set be served? chain.pem must hold parseable certificates (a truncated or
 * empty file does not), key.pem a parseable private key that belongs to the leaf. With
 * require_current, now must also lie within the leaf's validity (archived sets: an expired
 * one is no better than the fallback). A live set that merely expired still serves (the
 * renewal replaces it). APR_SUCCESS or ACME_EVERIFY; *pcheck is always set. */
apr_status_t acme_verify_set(acme_set_check_t **pcheck, apr_pool_t *p,
                             const acme_set_files_t *files, int require_current,
                             apr_time_t now);

/* Does meta.json (text, len; NULL: missing) describe the checked set? It must be a JSON
 * object with a non-empty "names" array of strings, "not_before", "not_after" and "serial"
 * equal to the leaf's (check->leaf required) and a "key" equal to check->key_type when
 * that is known. APR_SUCCESS or ACME_EVERIFY with *pwhy. */
apr_status_t acme_verify_meta(const char **pwhy, apr_pool_t *p, const char *text,
                              apr_size_t len, const acme_set_check_t *check);

/* meta.json rebuilt from the certificate: names (the leaf's dNSNames), serial, not_before,
 * not_after, key (when known), "rebuilt" (now). "ca" and "staged" are carried over from
 * old_text when it is a JSON object holding them as strings (else left out: unknown, so
 * planning does not order a new certificate because of them). */
apr_status_t acme_verify_meta_rebuild(const char **ptext, apr_pool_t *p,
                                      const acme_set_check_t *check, const char *old_text,
                                      apr_size_t old_len, apr_time_t now);

/* Of n archived sets given newest first, the index of the first one that passes
 * acme_verify_set with require_current (-1: none). *pwhys (may be NULL) gets one line per
 * rejected set ("chain.pem: ..."), in the given order. */
int acme_verify_pick_archived(apr_array_header_t **pwhys, apr_pool_t *p,
                              const acme_set_files_t *sets, int n, apr_time_t now);

#endif
