/* The rule for vhosts that share a name set (and so one certificate): whose settings the
 * certificate takes, and which differences are conflicts. Pure: no I/O, no httpd. */
#ifndef ACME_SETTINGS_H
#define ACME_SETTINGS_H

#include "acme.h"

#define ACME_SETTINGS_MAX 16

/* One vhost as the rule sees it (the glue fills it from httpd's server_rec). */
typedef struct acme_settings_rec_t {
    const char *where;      /* for messages, e.g. "VirtualHost at /etc/apache2/x.conf:12" */
    const char *names;      /* its name set, joined; equal names share a certificate; NULL:
                               no certificate (no name a CA could certify) */
    int https;              /* served over TLS */
    const char *values[ACME_SETTINGS_MAX]; /* canonical text of each setting the vhost wrote
                               itself; NULL: not written there (the server-wide value) */
    void *ctx;              /* the caller's (e.g. its server_rec) */
} acme_settings_rec_t;

/* The records (acme_settings_rec_t *, config order) grouped by name set: an array of arrays
 * of records, in the order each name set first appears; records without names are left out. */
apr_array_header_t *acme_settings_groups(apr_pool_t *p, const apr_array_header_t *recs);
/* Does the group have an https record (and so a certificate)? */
int acme_settings_group_https(const apr_array_header_t *group);

/* recs: the records (acme_settings_rec_t *) of one name set, in config order.
 * pwinner[i] (i < nsettings) = the index of the record whose value setting i takes, or -1
 * when none wrote it (the server-wide value applies). The rule: an https vhost's value wins;
 * when no https vhost wrote the setting, a plain-http vhost's value applies; among equals
 * the first in config order (acme_settings_conflicts fails on unequal ones). */
void acme_settings_pick(int *pwinner, const apr_array_header_t *recs, int nsettings);

/* Conflicts among all records (any name sets, config order): for a name set with at least
 * one https record, a setting that records of the deciding kind (see acme_settings_pick)
 * wrote with different values. An unset value is no conflict. One message (const char *)
 * per record that disagrees with the winner, naming the names, the directive (directives[i]
 * is the name of setting i), both values and both places. Empty array: no conflict. */
/* NULL when a certificate can be validated with these challenge types (NULL: automatic),
 * else why not: dns-01 as the only type needs a DNS hook. */
const char *acme_settings_challenges_problem(const apr_array_header_t *types, int have_dns_hook);

apr_array_header_t *acme_settings_conflicts(apr_pool_t *p, const apr_array_header_t *recs,
                                            const char *const *directives, int nsettings);

#endif
