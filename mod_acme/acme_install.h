/* Activation of a staged certificate set: verify it (acme_verify_set_rules, every rule),
 * then make it the live set in one atomic step and archive the previous one. The policy
 * of activation lives here, httpd-free; post_config (mod_acme_ssl.c) and acmectl call it. */
#ifndef ACME_INSTALL_H
#define ACME_INSTALL_H

#include "acme.h"
#include "acme_cert.h"
#include "acme_crypto.h"
#include "acme_store.h"

typedef enum {
    ACME_INSTALL_NOTHING,     /* no complete staged set (its meta.json, written last, is
                               * missing): nothing to do, not an error */
    ACME_INSTALL_PASSES,      /* check only: the staged set would be activated */
    ACME_INSTALL_ACTIVATED,   /* live now; the previous live set is in archive/<id>/ */
    ACME_INSTALL_REFUSED,     /* the staged set failed verification (why); activation
                               * moved it to the archive, the live set is untouched */
    ACME_INSTALL_FAILED       /* verified, but the store could not install it (status);
                               * the staged set stays for the next try */
} acme_install_outcome_t;

typedef struct acme_install_t {
    acme_install_outcome_t outcome;
    apr_status_t status;          /* APR_SUCCESS for NOTHING, PASSES and ACTIVATED */
    const char *why;              /* REFUSED, FAILED: what is wrong, naming the staged
                                   * file when one is at fault; never key material */
    const char *bad_file;         /* REFUSED: "chain.pem", "key.sealed" or "meta.json" */
    const acme_cert_info_t *leaf; /* the staged certificate's facts, when its chain parses */
    int archived;                 /* REFUSED by acme_install_staged: moved to the archive */
    const char *ari_id;           /* the staged leaf's RFC 9773 certID, when it has one */
} acme_install_t;

/* What would happen to staging/<id>: NOTHING, PASSES or REFUSED; the store is not
 * changed. The staged set must have chain.pem, key.sealed (unsealed with secret) and
 * meta.json; the chain and key must pass every rule of acme_verify_set_rules: chain parses,
 * each certificate signed by the next (a lone leaf is refused), key belongs to the leaf,
 * the leaf's names equal names (normalized), now within its validity. *pres is always set;
 * returns its status (ACME_EVERIFY or APR_INCOMPLETE when refused). */
apr_status_t acme_install_check(acme_install_t **pres, apr_pool_t *p, acme_store_t *st,
                                const char *id, const apr_array_header_t *names,
                                const unsigned char secret[ACME_SECRET_LEN], apr_time_t now);

/* acme_install_check, then act on it: a set that passes is written to live/<id>/
 * (chain.pem, key.pem unsealed, meta.json; files 0600 owned by the caller, swapped in
 * atomically; the previous live set moves to archive/<id>/<time>/) and staging/<id> is
 * removed: ACTIVATED. A refused set moves to archive/<id>/<time>/ (kept for the admin,
 * never retried): REFUSED. The caller holds whatever lock keeps the worker from
 * writing staging/<id> meanwhile (post_config runs before any worker). */
apr_status_t acme_install_staged(acme_install_t **pres, apr_pool_t *p, acme_store_t *st,
                                 const char *id, const apr_array_header_t *names,
                                 const unsigned char secret[ACME_SECRET_LEN], apr_time_t now);

#endif
