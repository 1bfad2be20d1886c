/* ACME identifiers: "dns" or "ip" (RFC 8738), canonical address text, reverse-DNS names. */
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "acme_ident.h"

#define V4_REVERSE "in-addr.arpa"
#define V6_REVERSE "ip6.arpa"

apr_status_t acme_ident_ip_bytes(unsigned char out[16], apr_size_t *plen, const char *name)
{
    char buf[INET6_ADDRSTRLEN + 2];
    apr_size_t n;

    *plen = 0;
    if (!name || !*name) {
        return APR_EINVAL;
    }
    n = strlen(name);
    if (name[0] == '[') {
        if (n < 3 || n - 2 >= sizeof(buf) || name[n - 1] != ']') {
            return APR_EINVAL;
        }
        memcpy(buf, name + 1, n - 2);
        buf[n - 2] = '\0';
        if (inet_pton(AF_INET6, buf, out) == 1) {
            *plen = 16;
            return APR_SUCCESS;
        }
        return APR_EINVAL;
    }
    if (inet_pton(AF_INET, name, out) == 1) {
        *plen = 4;
        return APR_SUCCESS;
    }
    if (inet_pton(AF_INET6, name, out) == 1) {
        *plen = 16;
        return APR_SUCCESS;
    }
    return APR_EINVAL;
}

const char *acme_ident_ip(apr_pool_t *p, const char *name)
{
    unsigned char a[16];
    char buf[INET6_ADDRSTRLEN];
    apr_size_t len;

    if (acme_ident_ip_bytes(a, &len, name) != APR_SUCCESS
        || !inet_ntop(len == 4 ? AF_INET : AF_INET6, a, buf, sizeof(buf))) {
        return NULL;
    }
    return apr_pstrdup(p, buf);
}

const char *acme_ident_type(const char *name)
{
    unsigned char a[16];
    apr_size_t len;
    return acme_ident_ip_bytes(a, &len, name) == APR_SUCCESS ? ACME_IDENT_IP : ACME_IDENT_DNS;
}

json_t *acme_ident_json(const apr_array_header_t *names)
{
    json_t *ids = json_array();
    apr_pool_t *p = NULL;
    int i;

    apr_pool_create(&p, NULL);
    for (i = 0; names && i < names->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);
        const char *ip = acme_ident_ip(p, name);
        json_t *id = json_object();
        json_object_set_new(id, "type", json_string(ip ? ACME_IDENT_IP : ACME_IDENT_DNS));
        json_object_set_new(id, "value", json_string(ip ? ip : name));
        json_array_append_new(ids, id);
    }
    apr_pool_destroy(p);
    return ids;
}

const char *acme_ident_reverse_name(apr_pool_t *p, const char *ip)
{
    unsigned char a[16];
    apr_size_t len, i;
    char *s, *c;
    static const char hex[] = "0123456789abcdef";

    if (acme_ident_ip_bytes(a, &len, ip) != APR_SUCCESS) {
        return NULL;
    }
    if (len == 4) {
        return apr_psprintf(p, "%u.%u.%u.%u." V4_REVERSE, a[3], a[2], a[1], a[0]);
    }
    s = c = apr_palloc(p, 16 * 4 + sizeof(V6_REVERSE));
    for (i = 16; i-- > 0;) {
        *c++ = hex[a[i] & 0x0f];
        *c++ = '.';
        *c++ = hex[a[i] >> 4];
        *c++ = '.';
    }
    memcpy(c, V6_REVERSE, sizeof(V6_REVERSE));
    return s;
}

static int hex_value(char ch)
{
    ch = (char)apr_tolower(ch);
    if (ch >= '0' && ch <= '9') {
        return ch - '0';
    }
    if (ch >= 'a' && ch <= 'f') {
        return ch - 'a' + 10;
    }
    return -1;
}

/* "d.c.b.a" (4 decimal labels 0..255, no leading zeros) into a[3..0] */
static int v4_labels(unsigned char a[4], const char *s, apr_size_t n)
{
    int part = 0, val = -1, digits = 0;
    apr_size_t i;

    for (i = 0; i <= n; ++i) {
        if (i == n || s[i] == '.') {
            if (val < 0 || part > 3) {
                return 0;
            }
            a[3 - part++] = (unsigned char)val;
            val = -1;
            digits = 0;
        }
        else if (s[i] >= '0' && s[i] <= '9') {
            if ((digits > 0 && val == 0) || ++digits > 3) {
                return 0;
            }
            val = (val < 0 ? 0 : val * 10) + (s[i] - '0');
            if (val > 255) {
                return 0;
            }
        }
        else {
            return 0;
        }
    }
    return part == 4;
}

/* 32 single-nibble labels, least significant first, into a[0..15] */
static int v6_labels(unsigned char a[16], const char *s, apr_size_t n)
{
    apr_size_t i;

    if (n != 63) {
        return 0;
    }
    for (i = 0; i < 32; ++i) {
        int v = hex_value(s[2 * i]);
        if (v < 0 || (i < 31 && s[2 * i + 1] != '.')) {
            return 0;
        }
        if (i % 2 == 0) {
            a[15 - i / 2] = (unsigned char)v;
        }
        else {
            a[15 - i / 2] |= (unsigned char)(v << 4);
        }
    }
    return 1;
}

static int has_suffix(const char *s, apr_size_t n, const char *suffix, apr_size_t *pstem)
{
    apr_size_t k = strlen(suffix);
    /* "<labels>." then the suffix */
    if (n < k + 2 || strncasecmp(s + n - k, suffix, k) || s[n - k - 1] != '.') {
        return 0;
    }
    *pstem = n - k - 1;
    return 1;
}

const char *acme_ident_from_reverse_name(apr_pool_t *p, const char *name)
{
    unsigned char a[16];
    char buf[INET6_ADDRSTRLEN];
    apr_size_t n, stem;

    if (!name || !*name) {
        return NULL;
    }
    n = strlen(name);
    if (name[n - 1] == '.') {
        --n;
    }
    if (has_suffix(name, n, V4_REVERSE, &stem) && v4_labels(a, name, stem)) {
        return inet_ntop(AF_INET, a, buf, sizeof(buf)) ? apr_pstrdup(p, buf) : NULL;
    }
    if (has_suffix(name, n, V6_REVERSE, &stem) && v6_labels(a, name, stem)) {
        return inet_ntop(AF_INET6, a, buf, sizeof(buf)) ? apr_pstrdup(p, buf) : NULL;
    }
    return NULL;
}

const char *acme_ident_ip_refused(const char *profile)
{
    if (profile && *profile) {
        return NULL;
    }
    return "an IP address is certified only with a profile that allows it: set ACMEProfile "
           "(e.g. shortlived)";
}
