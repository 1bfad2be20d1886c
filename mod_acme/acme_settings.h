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
} acme_settings_rec_t;

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
apr_array_header_t *acme_settings_conflicts(apr_pool_t *p, const apr_array_header_t *recs,
                                            const char *const *directives, int nsettings);

#endif
