/* Which certificates the vhosts get: name groups (ACMEDomain) and the split of a group with
 * more names than one certificate may carry. Pure: no I/O, no httpd. */
#ifndef ACME_GROUPS_H
#define ACME_GROUPS_H

#include "acme.h"

/* At most this many names in one certificate (Let's Encrypt's "classic" profile). */
#define ACME_GROUPS_MAX_NAMES 100

/* One vhost as the grouping sees it. */
typedef struct acme_groups_vhost_t {
    const char *first;               /* its first certifiable name (the id of its certificate) */
    const apr_array_header_t *names; /* normalized (acme_names_normalize), may be empty */
    int limit;                       /* names one of its certificates may carry */
} acme_groups_vhost_t;

/* One certificate to order. */
typedef struct acme_groups_cert_t {
    const char *first;               /* the name its id is made of */
    apr_array_header_t *names;       /* normalized */
    apr_array_header_t *vhosts;      /* int: indexes of the vhosts it serves */
    int domain;                      /* the ACMEDomain line it comes from, -1: none */
    int part;                        /* 0, or 1.. for the further parts of a split group or
                                      * of a split vhost */
    int sni;                         /* a part of ONE vhost's names (more than its limit):
                                      * served to that vhost's connections by SNI name */
} acme_groups_cert_t;

typedef struct acme_groups_t {
    apr_array_header_t *certs;       /* acme_groups_cert_t* */
    int *vhost_cert;                 /* per vhost: index in certs, -1: none (a split vhost:
                                      * its first part) */
    apr_array_header_t **vhost_parts; /* per vhost: NULL, or (a vhost with more names than
                                      * its limit) the int indexes in certs of the parts its
                                      * names were split into, first part first */
    apr_array_header_t *errors;      /* const char*: config errors (a vhost spanning two
                                      * ACMEDomain lines, a name in two of them) */
    apr_array_header_t *notes;       /* const char*: splits */
} acme_groups_t;

/* The names a certificate with this ACMEProfile may carry: ACME_GROUPS_MAX_NAMES without a
 * profile or with "classic", else ACME_PROFILE_NAMES_LIMIT (tlsserver, shortlived). */
int acme_groups_limit(const char *profile);

/* vhosts: acme_groups_vhost_t, in config order; domains: apr_array_header_t* of names (each
 * an ACMEDomain line, first name first), may be NULL; domain_limit: the limit of a domain no
 * vhost uses. A vhost joins the ACMEDomain that holds one of its names (its other names are
 * added); vhosts in no ACMEDomain with equal name sets share a certificate. A group with
 * more names than its limit (the smallest of its vhosts') is split at vhost boundaries: each
 * vhost is served by one certificate holding all its names. A vhost with more names than
 * its limit itself gets parts of its own: its first name, then the others in sorted order,
 * cut every `limit` names; each part is named after its first name (stable across
 * restarts) and served by SNI (acme_sni.h). Errors (APR_EINVAL): a vhost
 * whose names are in two ACMEDomain lines (it gets none), a name in two ACMEDomain lines
 * (left out of the later one). Certificates are in a fixed order and named after fixed
 * names, so the same config always gives the same certificates. */
apr_status_t acme_groups_build(acme_groups_t **pg, apr_pool_t *p,
                               const apr_array_header_t *vhosts,
                               const apr_array_header_t *domains, int domain_limit);

#endif
