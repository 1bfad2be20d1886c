/* ACME profiles: the choice of a newOrder's profile (see acme_profile.h). */
#include <string.h>

#include <apr_strings.h>
#include <apr_lib.h>
#include <jansson.h>

#include "acme_profile.h"
#include "acme_groups.h"
#include "acme_util.h"

int acme_profile_name_ok(const char *name)
{
    apr_size_t n;

    if (!name || !*name) {
        return 0;
    }
    for (n = 0; name[n]; ++n) {
        if (n >= 64 || !(apr_isalnum(name[n]) || strchr("._-", name[n]))) {
            return 0;
        }
    }
    return 1;
}

static const char *offered_text(apr_pool_t *p, const apr_array_header_t *offered)
{
    if (!offered || offered->nelts == 0) {
        return "its directory lists no profiles";
    }
    return apr_pstrcat(p, "it offers: ", acme_names_join(p, offered, ", "), NULL);
}

void acme_profile_choose(acme_profile_choice_t *c, apr_pool_t *p, const char *wanted,
                         int mandatory, const apr_array_header_t *offered, const char *ca_url)
{
    memset(c, 0, sizeof(*c));
    if (!wanted || !*wanted) {
        c->outcome = ACME_PROFILE_NONE;
        return;
    }
    if (offered && acme_names_contain(offered, wanted)) {
        c->outcome = ACME_PROFILE_OFFERED;
        c->send = wanted;
        return;
    }
    if (mandatory) {
        c->outcome = ACME_PROFILE_MISSING;
        c->message = apr_psprintf(p, "ACMEProfile %s mandatory: the CA at %s does not offer "
                                  "the profile '%s' (%s); no certificate is ordered until it "
                                  "does, or until ACMEProfile changes", wanted,
                                  ca_url ? ca_url : "?", wanted, offered_text(p, offered));
        return;
    }
    c->outcome = ACME_PROFILE_FALLBACK;
    c->message = apr_psprintf(p, "ACMEProfile %s: the CA at %s does not offer the profile "
                              "'%s' (%s): ordering with the CA's default profile (add "
                              "'mandatory' to order nothing instead)", wanted,
                              ca_url ? ca_url : "?", wanted, offered_text(p, offered));
}

const char *acme_profile_names_warning(apr_pool_t *p, const char *profile, int nnames)
{
    if (!profile || !*profile || nnames <= acme_groups_limit(profile)) {
        return NULL;
    }
    return apr_psprintf(p, "%d names with ACMEProfile %s: Let's Encrypt's profiles other "
                        "than 'classic' (tlsserver, shortlived) allow at most %d names in a "
                        "certificate, so the CA may refuse the order; split the names over "
                        "several VirtualHosts or use a profile that allows more", nnames,
                        profile, ACME_PROFILE_NAMES_LIMIT);
}

apr_array_header_t *acme_profile_offered(apr_pool_t *p, const void *meta_json)
{
    const json_t *meta = meta_json, *profiles;
    apr_array_header_t *names;
    const char *key;
    json_t *val;
    size_t i;

    if (!meta || !json_is_object(meta)
        || !(profiles = json_object_get(meta, "profiles"))) {
        return NULL;
    }
    names = apr_array_make(p, 4, sizeof(const char *));
    if (json_is_object(profiles)) {
        json_object_foreach((json_t *)profiles, key, val) {
            APR_ARRAY_PUSH(names, const char *) = apr_pstrdup(p, key);
        }
    }
    else if (json_is_array(profiles)) {
        json_array_foreach(profiles, i, val) {
            if (json_is_string(val)) {
                APR_ARRAY_PUSH(names, const char *) = apr_pstrdup(p, json_string_value(val));
            }
        }
    }
    return names->nelts ? names : NULL;
}

const char *acme_profile_describe(apr_pool_t *p, const char *profile, int fallback)
{
    if (!profile || !*profile) {
        return NULL;
    }
    return fallback ? apr_pstrcat(p, profile, " (not offered by the CA: its default profile "
                                  "was used)", NULL)
                    : profile;
}
