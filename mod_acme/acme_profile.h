/* ACME profiles (draft-ietf-acme-profiles): which profile a newOrder asks for, given what
 * the admin configured (ACMEProfile NAME [mandatory]) and what the CA's directory offers
 * (meta.profiles). Pure: no I/O, no httpd. */
#ifndef ACME_PROFILE_H
#define ACME_PROFILE_H

#include "acme.h"

/* Let's Encrypt's profiles other than "classic" (tlsserver, shortlived) allow at most this
 * many names in one certificate ("classic": 100). */
#define ACME_PROFILE_NAMES_LIMIT 25

typedef enum {
    ACME_PROFILE_NONE,        /* no profile configured: the order names none */
    ACME_PROFILE_OFFERED,     /* the CA offers it: the order asks for it */
    ACME_PROFILE_FALLBACK,    /* not offered, not mandatory: the order names none (the CA's
                                 default), with a warning */
    ACME_PROFILE_MISSING      /* not offered and mandatory: no order */
} acme_profile_outcome_t;

typedef struct acme_profile_choice_t {
    acme_profile_outcome_t outcome;
    const char *send;         /* the "profile" member of newOrder, NULL: none */
    const char *message;      /* FALLBACK: the warning; MISSING: the error; else NULL */
} acme_profile_choice_t;

/* wanted: the configured profile (NULL or "": none); offered: the names the CA's directory
 * lists in meta.profiles (const char *), NULL when it lists none; ca_url for messages. */
void acme_profile_choose(acme_profile_choice_t *c, apr_pool_t *p, const char *wanted,
                         int mandatory, const apr_array_header_t *offered, const char *ca_url);

/* Is name usable as a profile name: 1 to 64 of A-Z a-z 0-9 . _ - */
int acme_profile_name_ok(const char *name);

/* The warning for a certificate of nnames names asking for profile (NULL: none) when that is
 * more than ACME_PROFILE_NAMES_LIMIT; NULL when there is nothing to say. */
const char *acme_profile_names_warning(apr_pool_t *p, const char *profile, int nnames);

/* The profile names of a directory's meta object (meta.profiles: an object whose keys are
 * the names; an array of strings is accepted too); NULL when it has none. */
apr_array_header_t *acme_profile_offered(apr_pool_t *p, const void *meta_json);

/* For status pages and acmectl: "NAME", "NAME (not offered by the CA: its default profile
 * was used)" or NULL when profile is NULL/empty. */
const char *acme_profile_describe(apr_pool_t *p, const char *profile, int fallback);

#endif
