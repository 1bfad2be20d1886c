/* The one verification of a certificate set (chain + key), wherever a set is judged: a
 * download before it is staged, a staged set before it goes live, the live, archived and
 * fallback sets at start-up. Each rule exists once (acme_verify_set_rules); the callers
 * differ only in which rules they switch on. Also: which archived set replaces a damaged
 * live one, and what of meta.json can be rebuilt from the certificate. Pure: callers read
 * the files. */
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
    const acme_key_t *key_obj;     /* a key already loaded (staging, activation): used
                                    * instead of key/key_len, which are then ignored */
    const apr_array_header_t *chain_obj; /* the chain already parsed (X509 *, leaf first;
                                    * acme_chain_parse): used instead of chain/chain_len */
} acme_set_files_t;

/* Which rule a set failed (ACME_SET_OK: none). */
typedef enum {
    ACME_SET_OK = 0,
    ACME_SET_CHAIN_UNREADABLE,     /* chain.pem missing, empty or unreadable */
    ACME_SET_CHAIN_UNPARSABLE,     /* not PEM certificates (truncated, damaged) */
    ACME_SET_CHAIN_LINK,           /* a certificate not signed by the next one */
    ACME_SET_CHAIN_INCOMPLETE,     /* a lone leaf without its issuer */
    ACME_SET_KEY_UNREADABLE,       /* key.pem missing, empty or unreadable */
    ACME_SET_KEY_UNPARSABLE,       /* not a PEM private key */
    ACME_SET_KEY_MISMATCH,         /* the key does not belong to the leaf */
    ACME_SET_NAMES,                /* the leaf's names are not the expected ones */
    ACME_SET_DATES,                /* validity dates unreadable, expired or not yet valid */
    ACME_SET_FACTS                 /* the leaf's facts cannot be read */
} acme_set_reason_t;

/* Which rules apply. Always: chain.pem holds parseable certificates, key.pem a parseable
 * private key that belongs to the leaf, the leaf's validity dates can be read. */
typedef struct acme_set_rules_t {
    const apr_array_header_t *names; /* the leaf's dNSNames must equal these (as sets,
                                      * normalized); NULL: any names */
    int current;                     /* now must lie within the leaf's validity */
    int links;                       /* acme_chain_check: each certificate signed by the
                                      * next; a lone leaf must be self-signed */
} acme_set_rules_t;

/* What acme_verify_set found. */
typedef struct acme_set_check_t {
    acme_set_reason_t reason;      /* the rule that failed (ACME_SET_OK: none) */
    const char *bad_file;          /* "chain.pem" or "key.pem" when the set is unusable */
    const char *why;               /* what is wrong with bad_file, to follow its name
                                    * ("is empty (0 bytes)"); no secret in it */
    const char *sentence;          /* the same as a sentence of its own, for a set that is
                                    * not (yet) in files ("chain does not parse") */
    acme_cert_info_t *leaf;        /* the leaf's facts, when chain.pem parses */
    const char *key_type;          /* "p256", "rsa2048", ... when key.pem parses; NULL if
                                    * it is no type mod_acme makes */
    const char *ari_id;            /* the leaf's RFC 9773 certID when chain.pem parses and
                                    * the leaf has an authority key identifier, else NULL
                                    * (taken from the parse the verification made: start-up
                                    * reads no chain twice) */
} acme_set_check_t;

/* The verification. Rules are checked in this order, the first failure is reported:
 * chain readable, parses; leaf facts; links (rules->links); key readable, parses, belongs
 * to the leaf; names (rules->names); dates readable; current (rules->current).
 * APR_SUCCESS; APR_INCOMPLETE for a lone leaf without its issuer (rules->links); else
 * ACME_EVERIFY. *pcheck is always set (leaf and key_type as far as they could be read). */
apr_status_t acme_verify_set_rules(acme_set_check_t **pcheck, apr_pool_t *p,
                                   const acme_set_files_t *files,
                                   const acme_set_rules_t *rules, apr_time_t now);

/* Can this set be served (start-up: live, archived and fallback sets)? The rules without
 * names, with links: a set with a broken chain is treated as damaged. With
 * require_current, now must also lie within the leaf's validity (archived sets: an expired
 * one is no better than the fallback). A live set that merely expired still serves (the
 * renewal replaces it). APR_SUCCESS, APR_INCOMPLETE or ACME_EVERIFY; *pcheck is always
 * set. */
apr_status_t acme_verify_set(acme_set_check_t **pcheck, apr_pool_t *p,
                             const acme_set_files_t *files, int require_current,
                             apr_time_t now);

/* The check of a new set before it is staged or activated: all rules (links, names, now
 * within validity), the key given as loaded. On failure returns ACME_EVERIFY (or
 * APR_INCOMPLETE for a leaf without its issuer) and *pwhy is the check's sentence. */
apr_status_t acme_cert_verify_set(const char **pwhy, apr_pool_t *p, const char *chain_pem,
                                  apr_size_t len, const acme_key_t *key,
                                  const apr_array_header_t *names, apr_time_t now);
/* The same check of a chain already parsed (acme_chain_parse): a caller that needs the
 * parsed chain afterwards parses it once (with OpenSSL 3.0 each parse of a certificate
 * costs ~0.1 ms of CPU, in its public key decoder). */
apr_status_t acme_cert_verify_chain(const char **pwhy, apr_pool_t *p,
                                    const apr_array_header_t *chain, const acme_key_t *key,
                                    const apr_array_header_t *names, apr_time_t now);

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
