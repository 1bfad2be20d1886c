/* Name groups (ACMEDomain) and the automatic split of a group with more names than one
 * certificate may carry: vhost name sets in, certificates and which vhost uses which out. */
#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>

#include "acme_groups.h"
#include "acme_profile.h"
#include "acme_util.h"

typedef struct group_t {
    int domain;                      /* ACMEDomain line, -1: a vhost name set */
    const char *first;
    apr_array_header_t *own;         /* the ACMEDomain's names (lower case, line order) */
    apr_array_header_t *members;     /* int: vhost indexes */
    int limit;
} group_t;

int acme_groups_limit(const char *profile)
{
    if (!profile || !*profile || !strcmp(profile, "classic")) {
        return ACME_GROUPS_MAX_NAMES;
    }
    return ACME_PROFILE_NAMES_LIMIT;
}

static group_t *group_new(apr_pool_t *p, int domain, const char *first, int limit)
{
    group_t *gr = apr_pcalloc(p, sizeof(*gr));
    gr->domain = domain;
    gr->first = first;
    gr->own = apr_array_make(p, 4, sizeof(const char *));
    gr->members = apr_array_make(p, 4, sizeof(int));
    gr->limit = limit;
    return gr;
}

static acme_groups_cert_t *cert_new(acme_groups_t *g, apr_pool_t *p, const group_t *gr)
{
    acme_groups_cert_t *c = apr_pcalloc(p, sizeof(*c));
    c->names = apr_array_make(p, 8, sizeof(const char *));
    c->vhosts = apr_array_make(p, 2, sizeof(int));
    c->domain = gr->domain;
    APR_ARRAY_PUSH(g->certs, acme_groups_cert_t *) = c;
    return c;
}

static const acme_groups_vhost_t *vhost_at(const apr_array_header_t *vhosts, int i)
{
    return &APR_ARRAY_IDX(vhosts, i, acme_groups_vhost_t);
}

/* How many of names are not in c yet. */
static int missing(const acme_groups_cert_t *c, const apr_array_header_t *names)
{
    int i, n = 0;
    for (i = 0; i < names->nelts; ++i) {
        n += !acme_names_contain(c->names, APR_ARRAY_IDX(names, i, const char *));
    }
    return n;
}

static void cert_add(acme_groups_cert_t *c, const apr_array_header_t *names)
{
    int i;
    for (i = 0; i < names->nelts; ++i) {
        const char *n = APR_ARRAY_IDX(names, i, const char *);
        if (!acme_names_contain(c->names, n)) {
            APR_ARRAY_PUSH(c->names, const char *) = n;
        }
    }
}

static void cert_use(acme_groups_t *g, acme_groups_cert_t *c, int v, int idx)
{
    APR_ARRAY_PUSH(c->vhosts, int) = v;
    g->vhost_cert[v] = idx;
}

/* The part of a split group that takes these names: one holding them all already, else the
 * first with room, else a new one. from: index of the group's first certificate. */
static int pick_part(acme_groups_t *g, apr_pool_t *p, const group_t *gr, int from,
                     const apr_array_header_t *names)
{
    int i;
    for (i = from; i < g->certs->nelts; ++i) {
        const acme_groups_cert_t *c = APR_ARRAY_IDX(g->certs, i, acme_groups_cert_t *);
        if (!c->sni && missing(c, names) == 0) {
            return i;
        }
    }
    for (i = from; i < g->certs->nelts; ++i) {
        const acme_groups_cert_t *c = APR_ARRAY_IDX(g->certs, i, acme_groups_cert_t *);
        if (!c->sni && c->names->nelts + missing(c, names) <= gr->limit) {
            return i;
        }
    }
    cert_new(g, p, gr);
    return g->certs->nelts - 1;
}

/* The name a part's id is made of: the group's first name when the part holds it, else the
 * first ACMEDomain name it holds, else its first vhost's, else its first name. */
static const char *part_first(const group_t *gr, const acme_groups_cert_t *c,
                              const apr_array_header_t *vhosts)
{
    int i;
    if (acme_names_contain(c->names, gr->first)) {
        return gr->first;
    }
    for (i = 0; i < gr->own->nelts; ++i) {
        if (acme_names_contain(c->names, APR_ARRAY_IDX(gr->own, i, const char *))) {
            return APR_ARRAY_IDX(gr->own, i, const char *);
        }
    }
    if (c->vhosts->nelts) {
        return vhost_at(vhosts, APR_ARRAY_IDX(c->vhosts, 0, int))->first;
    }
    return APR_ARRAY_IDX(c->names, 0, const char *);
}

static const char *group_what(apr_pool_t *p, const group_t *gr)
{
    return gr->domain >= 0 ? apr_psprintf(p, "ACMEDomain %s", gr->first)
                           : apr_psprintf(p, "the names of VirtualHost %s", gr->first);
}

/* Does a certificate from index `from` on hold name? */
static int held(const acme_groups_t *g, int from, const char *name)
{
    int i;
    for (i = from; i < g->certs->nelts; ++i) {
        if (acme_names_contain(APR_ARRAY_IDX(g->certs, i, acme_groups_cert_t *)->names, name)) {
            return 1;
        }
    }
    return 0;
}

/* One vhost with more names than limit: parts of its own, cut every limit names from its
 * first name then the others in sorted order, each named after its first name. */
static void vhost_split(acme_groups_t *g, apr_pool_t *p, const group_t *gr, int v,
                        const apr_array_header_t *vhosts, int limit)
{
    const acme_groups_vhost_t *vh = vhost_at(vhosts, v);
    apr_array_header_t *order = apr_array_make(p, vh->names->nelts, sizeof(const char *));
    apr_array_header_t *parts = apr_array_make(p, 4, sizeof(int));
    acme_groups_cert_t *c = NULL;
    int i, w;

    for (i = 0; i < gr->members->nelts; ++i) {
        /* a twin already split (same names, e.g. the plain-http vhost): the same parts */
        w = APR_ARRAY_IDX(gr->members, i, int);
        if (w != v && g->vhost_parts[w]
            && acme_names_equal(vhost_at(vhosts, w)->names, vh->names)) {
            for (i = 0; i < g->vhost_parts[w]->nelts; ++i) {
                c = APR_ARRAY_IDX(g->certs, APR_ARRAY_IDX(g->vhost_parts[w], i, int),
                                  acme_groups_cert_t *);
                APR_ARRAY_PUSH(c->vhosts, int) = v;
            }
            g->vhost_cert[v] = g->vhost_cert[w];
            g->vhost_parts[v] = g->vhost_parts[w];
            return;
        }
    }
    APR_ARRAY_PUSH(order, const char *) = vh->first;
    for (i = 0; i < vh->names->nelts; ++i) {
        const char *n = APR_ARRAY_IDX(vh->names, i, const char *);
        if (strcmp(n, vh->first)) {
            APR_ARRAY_PUSH(order, const char *) = n;
        }
    }
    for (i = 0; i < order->nelts; ++i) {
        if (!c || c->names->nelts >= limit) {
            c = cert_new(g, p, gr);
            c->sni = 1;
            c->part = parts->nelts;
            c->first = APR_ARRAY_IDX(order, i, const char *);
            APR_ARRAY_PUSH(c->vhosts, int) = v;
            APR_ARRAY_PUSH(parts, int) = g->certs->nelts - 1;
        }
        APR_ARRAY_PUSH(c->names, const char *) = APR_ARRAY_IDX(order, i, const char *);
    }
    g->vhost_cert[v] = APR_ARRAY_IDX(parts, 0, int);
    g->vhost_parts[v] = parts;
    APR_ARRAY_PUSH(g->notes, const char *) = apr_psprintf(
        p, "VirtualHost %s has %d names, more than the %d one certificate may carry: split "
        "into %d certificates, each connection served the one holding its SNI name (clients "
        "without SNI get %s)", vh->first, vh->names->nelts, limit, parts->nelts, vh->first);
}

/* More names than the limit: whole vhosts packed into parts (first fit, config order), then
 * the ACMEDomain names no vhost carries. A vhost over the limit by itself is split by SNI. */
static void group_split(acme_groups_t *g, apr_pool_t *p, const group_t *gr,
                        const apr_array_header_t *vhosts, int total)
{
    int from = g->certs->nelts, i, parts = 0;

    for (i = 0; i < gr->members->nelts; ++i) {
        int v = APR_ARRAY_IDX(gr->members, i, int), idx;
        const acme_groups_vhost_t *vh = vhost_at(vhosts, v);
        if (vh->names->nelts > gr->limit) {
            vhost_split(g, p, gr, v, vhosts, gr->limit);
            continue;
        }
        idx = pick_part(g, p, gr, from, vh->names);
        cert_add(APR_ARRAY_IDX(g->certs, idx, acme_groups_cert_t *), vh->names);
        cert_use(g, APR_ARRAY_IDX(g->certs, idx, acme_groups_cert_t *), v, idx);
    }
    for (i = 0; i < gr->own->nelts; ++i) {
        apr_array_header_t *one = apr_array_make(p, 1, sizeof(const char *));
        int idx;
        if (held(g, from, APR_ARRAY_IDX(gr->own, i, const char *))) {
            continue;
        }
        APR_ARRAY_PUSH(one, const char *) = APR_ARRAY_IDX(gr->own, i, const char *);
        idx = pick_part(g, p, gr, from, one);
        cert_add(APR_ARRAY_IDX(g->certs, idx, acme_groups_cert_t *), one);
    }
    for (i = from; i < g->certs->nelts; ++i) {
        acme_groups_cert_t *c = APR_ARRAY_IDX(g->certs, i, acme_groups_cert_t *);
        if (!c->sni) {
            c->part = parts++;
        }
    }
    if (parts > 1) {
        APR_ARRAY_PUSH(g->notes, const char *) = apr_psprintf(
            p, "%s: %d names, more than the %d one certificate may carry: split into %d "
            "certificates, each VirtualHost served the one holding all its names",
            group_what(p, gr), total, gr->limit, parts);
    }
}

static void group_emit(acme_groups_t *g, apr_pool_t *p, const group_t *gr,
                       const apr_array_header_t *vhosts)
{
    acme_groups_cert_t *c;
    apr_array_header_t *all = apr_array_copy(p, gr->own);
    int i, from = g->certs->nelts;

    for (i = 0; i < gr->members->nelts; ++i) {
        apr_array_cat(all, vhost_at(vhosts, APR_ARRAY_IDX(gr->members, i, int))->names);
    }
    all = acme_names_normalize(p, all);
    if (all->nelts > gr->limit) {
        group_split(g, p, gr, vhosts, all->nelts);
    }
    else {
        c = cert_new(g, p, gr);
        c->names = all;
        for (i = 0; i < gr->members->nelts; ++i) {
            cert_use(g, c, APR_ARRAY_IDX(gr->members, i, int), from);
        }
    }
    for (i = from; i < g->certs->nelts; ++i) {
        c = APR_ARRAY_IDX(g->certs, i, acme_groups_cert_t *);
        c->names = acme_names_normalize(p, c->names);
        c->first = c->sni ? c->first : part_first(gr, c, vhosts);
    }
}

/* The ACMEDomain lines as groups; a name already in an earlier line is an error. */
static void domains_read(acme_groups_t *g, apr_pool_t *p, apr_array_header_t *groups,
                         apr_hash_t *owner, const apr_array_header_t *domains, int limit)
{
    int d, i;
    for (d = 0; domains && d < domains->nelts; ++d) {
        const apr_array_header_t *names = APR_ARRAY_IDX(domains, d, apr_array_header_t *);
        group_t *gr = group_new(p, d, acme_name_lower(p, APR_ARRAY_IDX(names, 0, const char *)),
                                limit);
        for (i = 0; i < names->nelts; ++i) {
            const char *n = acme_name_lower(p, APR_ARRAY_IDX(names, i, const char *));
            const group_t *o = apr_hash_get(owner, n, APR_HASH_KEY_STRING);
            if (o && o != gr) {
                APR_ARRAY_PUSH(g->errors, const char *) = apr_psprintf(
                    p, "%s is in ACMEDomain %s and ACMEDomain %s: a name may be in one only "
                    "(left out of the second)", n, o->first, gr->first);
                continue;
            }
            if (!o) {
                apr_hash_set(owner, n, APR_HASH_KEY_STRING, gr);
                APR_ARRAY_PUSH(gr->own, const char *) = n;
            }
        }
        APR_ARRAY_PUSH(groups, group_t *) = gr;
    }
}

/* The group vhost v joins (NULL: an error, recorded). */
static group_t *group_of(acme_groups_t *g, apr_pool_t *p, apr_array_header_t *groups,
                         apr_hash_t *owner, apr_hash_t *by_set, const acme_groups_vhost_t *vh)
{
    group_t *gr = NULL;
    const char *key;
    int i;

    for (i = 0; i < vh->names->nelts; ++i) {
        group_t *o = apr_hash_get(owner, APR_ARRAY_IDX(vh->names, i, const char *),
                                  APR_HASH_KEY_STRING);
        if (o && gr && o != gr) {
            APR_ARRAY_PUSH(g->errors, const char *) = apr_psprintf(
                p, "VirtualHost %s has names in ACMEDomain %s and ACMEDomain %s: a "
                "VirtualHost's names must be in one certificate; no certificate is ordered "
                "for it", vh->first, gr->first, o->first);
            return NULL;
        }
        gr = o ? o : gr;
    }
    if (gr) {
        return gr;
    }
    key = acme_names_join(p, vh->names, " ");
    if (!(gr = apr_hash_get(by_set, key, APR_HASH_KEY_STRING))) {
        gr = group_new(p, -1, vh->first, ACME_GROUPS_MAX_NAMES);
        apr_hash_set(by_set, key, APR_HASH_KEY_STRING, gr);
        APR_ARRAY_PUSH(groups, group_t *) = gr;
    }
    return gr;
}

apr_status_t acme_groups_build(acme_groups_t **pg, apr_pool_t *p,
                               const apr_array_header_t *vhosts,
                               const apr_array_header_t *domains, int domain_limit)
{
    acme_groups_t *g = apr_pcalloc(p, sizeof(*g));
    apr_array_header_t *groups = apr_array_make(p, 8, sizeof(group_t *));
    apr_hash_t *owner = apr_hash_make(p), *by_set = apr_hash_make(p);
    int v, i;

    g->certs = apr_array_make(p, 8, sizeof(acme_groups_cert_t *));
    g->errors = apr_array_make(p, 2, sizeof(const char *));
    g->notes = apr_array_make(p, 2, sizeof(const char *));
    g->vhost_cert = apr_palloc(p, sizeof(int) * (apr_size_t)(vhosts->nelts + 1));
    g->vhost_parts = apr_pcalloc(p, sizeof(*g->vhost_parts) * (apr_size_t)(vhosts->nelts + 1));
    domains_read(g, p, groups, owner, domains, domain_limit);
    for (v = 0; v < vhosts->nelts; ++v) {
        const acme_groups_vhost_t *vh = vhost_at(vhosts, v);
        group_t *gr;
        g->vhost_cert[v] = -1;
        if (!vh->names || vh->names->nelts == 0
            || !(gr = group_of(g, p, groups, owner, by_set, vh))) {
            continue;
        }
        /* a group's limit is its strictest vhost's; an ACMEDomain no vhost uses keeps the
         * server's */
        gr->limit = gr->members->nelts == 0 || vh->limit < gr->limit ? vh->limit : gr->limit;
        APR_ARRAY_PUSH(gr->members, int) = v;
    }
    for (i = 0; i < groups->nelts; ++i) {
        group_emit(g, p, APR_ARRAY_IDX(groups, i, group_t *), vhosts);
    }
    *pg = g;
    return g->errors->nelts ? APR_EINVAL : APR_SUCCESS;
}
