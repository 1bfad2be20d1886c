/* Small helpers: base64url, hex, durations, Retry-After, time, atomic files, host names. */
#include <ctype.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <apr_date.h>
#include <apr_file_io.h>
#include <apr_general.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "acme.h"
#include "acme_util.h"

/* ---- base64url (RFC 4648 section 5) and hex ----------------------------------------- */

static const char b64url_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

const char *acme_b64url_encode(apr_pool_t *p, const unsigned char *data, apr_size_t len)
{
    char *out = apr_palloc(p, ((len + 2) / 3) * 4 + 1);
    char *o = out;
    apr_size_t i;

    for (i = 0; i + 2 < len; i += 3) {
        *o++ = b64url_chars[data[i] >> 2];
        *o++ = b64url_chars[((data[i] & 0x03) << 4) | (data[i + 1] >> 4)];
        *o++ = b64url_chars[((data[i + 1] & 0x0f) << 2) | (data[i + 2] >> 6)];
        *o++ = b64url_chars[data[i + 2] & 0x3f];
    }
    if (len - i == 1) {
        *o++ = b64url_chars[data[i] >> 2];
        *o++ = b64url_chars[(data[i] & 0x03) << 4];
    }
    else if (len - i == 2) {
        *o++ = b64url_chars[data[i] >> 2];
        *o++ = b64url_chars[((data[i] & 0x03) << 4) | (data[i + 1] >> 4)];
        *o++ = b64url_chars[(data[i + 1] & 0x0f) << 2];
    }
    *o = '\0';
    return out;
}

static int b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

apr_status_t acme_b64url_decode(unsigned char **pdata, apr_size_t *plen, apr_pool_t *p,
                                const char *s)
{
    apr_size_t n, pad = 0, i, olen = 0;
    unsigned char *out;
    apr_uint32_t acc = 0;
    int bits = 0;

    *pdata = NULL;
    if (plen) {
        *plen = 0;
    }
    if (!s) {
        return APR_EINVAL;
    }
    n = strlen(s);
    /* padding is optional, but only at the end and only so much as makes a quantum */
    while (n > 0 && s[n - 1] == '=') {
        --n;
        ++pad;
    }
    if (pad > 2 || (pad > 0 && (n + pad) % 4 != 0) || n % 4 == 1) {
        return APR_EINVAL;
    }
    out = apr_palloc(p, (n * 3) / 4 + 1);
    for (i = 0; i < n; ++i) {
        int v = b64url_value(s[i]);
        if (v < 0) {
            return APR_EINVAL;
        }
        acc = (acc << 6) | (apr_uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[olen++] = (unsigned char)((acc >> bits) & 0xff);
        }
    }
    out[olen] = '\0';
    *pdata = out;
    if (plen) {
        *plen = olen;
    }
    return APR_SUCCESS;
}

const char *acme_hex(apr_pool_t *p, const unsigned char *data, apr_size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char *out = apr_palloc(p, len * 2 + 1);
    apr_size_t i;

    for (i = 0; i < len; ++i) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 0x0f];
    }
    out[2 * len] = '\0';
    return out;
}

/* ---- durations, Retry-After, RFC 3339 ------------------------------------------------- */

/* Parse a non-negative decimal number; *pend is set after the digits. */
static int parse_uint(apr_int64_t *pval, const char *s, const char **pend)
{
    apr_int64_t v = 0;
    const char *c = s;

    if (!isdigit((unsigned char)*c)) {
        return 0;
    }
    while (isdigit((unsigned char)*c)) {
        if (v > (APR_INT64_MAX - 9) / 10) {
            return 0;
        }
        v = v * 10 + (*c - '0');
        ++c;
    }
    *pval = v;
    *pend = c;
    return 1;
}

apr_time_t acme_retry_after_parse(const char *value, apr_time_t now)
{
    apr_int64_t secs;
    const char *end;
    apr_time_t t;

    if (!value) {
        return 0;
    }
    while (*value == ' ' || *value == '\t') {
        ++value;
    }
    if (isdigit((unsigned char)*value)) {
        if (!parse_uint(&secs, value, &end)) {
            return 0;
        }
        while (*end == ' ' || *end == '\t') {
            ++end;
        }
        if (*end || secs > APR_INT64_MAX / APR_USEC_PER_SEC - apr_time_sec(now) - 1) {
            return 0;
        }
        return now + apr_time_from_sec(secs);
    }
    t = apr_date_parse_http(value);
    return t == APR_DATE_BAD ? 0 : t;
}

apr_status_t acme_duration_parse(apr_interval_time_t *pdur, const char *s)
{
    apr_int64_t v, unit;
    const char *end;

    if (!s || !parse_uint(&v, s, &end)) {
        return APR_EINVAL;
    }
    if (!strcmp(end, "") || !strcmp(end, "s")) {
        unit = APR_USEC_PER_SEC;
    }
    else if (!strcmp(end, "ms")) {
        unit = 1000;
    }
    else if (!strcmp(end, "m")) {
        unit = 60 * APR_USEC_PER_SEC;
    }
    else if (!strcmp(end, "h")) {
        unit = 3600 * APR_USEC_PER_SEC;
    }
    else if (!strcmp(end, "d")) {
        unit = 86400 * APR_USEC_PER_SEC;
    }
    else {
        return APR_EINVAL;
    }
    if (v > APR_INT64_MAX / unit) {
        return APR_EINVAL;
    }
    *pdur = v * unit;
    return APR_SUCCESS;
}

apr_status_t acme_duration_parse_range(apr_interval_time_t *pdur, const char *s,
                                       apr_interval_time_t min, apr_interval_time_t max)
{
    apr_interval_time_t d;

    if (acme_duration_parse(&d, s) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    if (d < min || d > max) {
        return APR_ERANGE;
    }
    *pdur = d;
    return APR_SUCCESS;
}

apr_status_t acme_window_parse(int *ppercent, apr_interval_time_t *pdur, const char *s,
                               apr_interval_time_t max)
{
    apr_int64_t v;
    const char *end;
    apr_interval_time_t d;
    apr_status_t rv;

    if (s && parse_uint(&v, s, &end) && end[0] == '%' && end[1] == '\0') {
        if (v < 1 || v > 99) {
            return APR_ERANGE;
        }
        *ppercent = (int)v;
        *pdur = 0;
        return APR_SUCCESS;
    }
    if ((rv = acme_duration_parse_range(&d, s, 1, max)) != APR_SUCCESS) {
        return rv;
    }
    *ppercent = 0;
    *pdur = d;
    return APR_SUCCESS;
}

const char *acme_duration_print(apr_pool_t *p, apr_interval_time_t dur)
{
    static const struct {
        apr_int64_t usec;
        const char *suffix;
    } units[] = {
        { 86400 * APR_USEC_PER_SEC, "d" },
        { 3600 * APR_USEC_PER_SEC, "h" },
        { 60 * APR_USEC_PER_SEC, "m" },
        { APR_USEC_PER_SEC, "s" },
        { 1000, "ms" },
    };
    const char *sign = "";
    apr_size_t i;

    if (dur < 0) {
        sign = "-";
        dur = -dur;
    }
    if (dur == 0) {
        return "0s";
    }
    for (i = 0; i < sizeof(units) / sizeof(units[0]); ++i) {
        if (dur % units[i].usec == 0) {
            return apr_psprintf(p, "%s%" APR_INT64_T_FMT "%s", sign, dur / units[i].usec,
                                units[i].suffix);
        }
    }
    return apr_psprintf(p, "%s%" APR_INT64_T_FMT "ms", sign, dur / 1000);
}

const char *acme_time_rfc3339(apr_pool_t *p, apr_time_t t)
{
    apr_time_exp_t tm;

    apr_time_exp_gmt(&tm, t);
    return apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Exactly n digits. */
static int parse_digits(int *pval, const char **ps, int n)
{
    int v = 0, i;

    for (i = 0; i < n; ++i) {
        if (!isdigit((unsigned char)(*ps)[i])) {
            return 0;
        }
        v = v * 10 + ((*ps)[i] - '0');
    }
    *ps += n;
    *pval = v;
    return 1;
}

apr_time_t acme_time_parse_rfc3339(const char *s)
{
    apr_time_exp_t tm;
    int year, mon, mday, hour, min, sec, usec = 0, offset = 0;
    apr_time_t t;

    if (!s) {
        return 0;
    }
    if (!parse_digits(&year, &s, 4) || *s++ != '-' || !parse_digits(&mon, &s, 2)
        || *s++ != '-' || !parse_digits(&mday, &s, 2)) {
        return 0;
    }
    if (*s != 'T' && *s != 't' && *s != ' ') {
        return 0;
    }
    ++s;
    if (!parse_digits(&hour, &s, 2) || *s++ != ':' || !parse_digits(&min, &s, 2)
        || *s++ != ':' || !parse_digits(&sec, &s, 2)) {
        return 0;
    }
    if (*s == '.') {
        int scale = 100000;
        ++s;
        if (!isdigit((unsigned char)*s)) {
            return 0;
        }
        while (isdigit((unsigned char)*s)) {
            usec += (*s - '0') * scale;
            scale /= 10;
            ++s;
        }
    }
    if (*s == 'Z' || *s == 'z') {
        ++s;
    }
    else if (*s == '+' || *s == '-') {
        int oh, om, neg = (*s == '-');
        ++s;
        if (!parse_digits(&oh, &s, 2) || *s++ != ':' || !parse_digits(&om, &s, 2)
            || oh > 23 || om > 59) {
            return 0;
        }
        offset = (oh * 3600 + om * 60) * (neg ? -1 : 1);
    }
    else {
        return 0;
    }
    if (*s || mon < 1 || mon > 12 || mday < 1 || mday > 31 || hour > 23 || min > 59
        || sec > 60 || year < 1970) {
        return 0;
    }
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = mday;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec > 59 ? 59 : sec;
    if (apr_time_exp_gmt_get(&t, &tm) != APR_SUCCESS) {
        return 0;
    }
    /* local time = UTC + offset */
    return t - apr_time_from_sec(offset) + usec;
}

/* ---- files ---------------------------------------------------------------------------- */

static atomic_uint tmp_counter;

/* A pool of its own (*ptp, the caller destroys it), path's directory and a temporary name
 * beside path, unique across processes (pid), threads (counter) and pid reuse (random):
 * ".BASE.tmp.*", the pattern the store treats as temporary. APR_EINVAL when path has no
 * base name (then no pool is left to destroy). */
static apr_status_t tmp_beside(apr_pool_t **ptp, const char **pdir, const char **ptmp,
                               const char *path, apr_pool_t *p)
{
    const char *slash = strrchr(path, '/'), *base;
    unsigned char rnd[6];
    apr_status_t rv;

    base = slash ? slash + 1 : path;
    if (!*base) {
        return APR_EINVAL;
    }
    if ((rv = apr_pool_create(ptp, p)) != APR_SUCCESS) {
        return rv;
    }
    *pdir = !slash ? "." : (slash == path) ? "/"
                                           : apr_pstrmemdup(*ptp, path,
                                                            (apr_size_t)(slash - path));
    if (apr_generate_random_bytes(rnd, sizeof(rnd)) != APR_SUCCESS) {
        memset(rnd, 0, sizeof(rnd));
    }
    *ptmp = apr_psprintf(*ptp, "%s/.%s.tmp.%ld.%u.%s", *pdir, base, (long)getpid(),
                         atomic_fetch_add(&tmp_counter, 1), acme_hex(*ptp, rnd, sizeof(rnd)));
    return APR_SUCCESS;
}

/* Make a rename in dir durable (file systems that cannot fsync a directory are no failure). */
static apr_status_t sync_dir(const char *dir, apr_pool_t *p)
{
    apr_file_t *d;
    apr_status_t rv = APR_SUCCESS;

    if (apr_file_open(&d, dir, APR_FOPEN_READ, APR_FPROT_OS_DEFAULT, p) == APR_SUCCESS) {
        apr_status_t srv = apr_file_sync(d);
        apr_file_close(d);
        if (srv != APR_SUCCESS && !APR_STATUS_IS_EINVAL(srv) && srv != APR_ENOTIMPL) {
            rv = srv;
        }
    }
    return rv;
}

static apr_status_t write_atomic(const char *path, const void *data, apr_size_t len,
                                 apr_fileperms_t perms, int durable, apr_pool_t *p)
{
    apr_pool_t *tp;
    apr_file_t *f = NULL;
    const char *dir, *tmp;
    apr_status_t rv;

    if ((rv = tmp_beside(&tp, &dir, &tmp, path, p)) != APR_SUCCESS) {
        return rv;
    }

    rv = apr_file_open(&f, tmp,
                       APR_FOPEN_WRITE | APR_FOPEN_CREATE | APR_FOPEN_EXCL | APR_FOPEN_BINARY,
                       perms, tp);
    if (rv != APR_SUCCESS) {
        f = NULL;
        goto leave;
    }
    if (len > 0) {
        rv = apr_file_write_full(f, data, len, NULL);
        if (rv != APR_SUCCESS) {
            goto fail;
        }
    }
    rv = durable ? apr_file_sync(f) : APR_SUCCESS;
    if (rv != APR_SUCCESS) {
        goto fail;
    }
    rv = apr_file_close(f);
    f = NULL;
    if (rv != APR_SUCCESS) {
        goto fail;
    }
    rv = apr_file_rename(tmp, path, tp);
    if (rv != APR_SUCCESS) {
        goto fail;
    }
    /* make the rename itself durable */
    if (durable) {
        rv = sync_dir(dir, tp);
    }
    goto leave;

fail:
    if (f) {
        apr_file_close(f);
    }
    apr_file_remove(tmp, tp);
leave:
    apr_pool_destroy(tp);
    return rv;
}

apr_status_t acme_file_link_atomic(const char *src, const char *path, apr_pool_t *p)
{
    apr_pool_t *tp;
    const char *dir, *tmp;
    apr_status_t rv;

    if ((rv = tmp_beside(&tp, &dir, &tmp, path, p)) != APR_SUCCESS) {
        return rv;
    }
    if (link(src, tmp) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        rv = APR_STATUS_IS_ENOENT(rv) ? APR_ENOENT : rv;
        goto leave;
    }
    if ((rv = apr_file_rename(tmp, path, tp)) != APR_SUCCESS) {
        apr_file_remove(tmp, tp);
        goto leave;
    }
    rv = sync_dir(dir, tp);
leave:
    apr_pool_destroy(tp);
    return rv;
}

apr_status_t acme_file_write_atomic(const char *path, const void *data, apr_size_t len,
                                    apr_fileperms_t perms, apr_pool_t *p)
{
    return write_atomic(path, data, len, perms, 1, p);
}

apr_status_t acme_file_write_visible(const char *path, const void *data, apr_size_t len,
                                     apr_fileperms_t perms, apr_pool_t *p)
{
    return write_atomic(path, data, len, perms, 0, p);
}

apr_status_t acme_file_read(char **pdata, apr_size_t *plen, const char *path, apr_pool_t *p)
{
    apr_file_t *f;
    apr_finfo_t finfo;
    apr_size_t cap, len = 0, n;
    char *buf;
    apr_status_t rv;

    *pdata = NULL;
    if (plen) {
        *plen = 0;
    }
    rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, APR_FPROT_OS_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = apr_file_info_get(&finfo, APR_FINFO_SIZE, f);
    cap = (rv == APR_SUCCESS && finfo.size > 0) ? (apr_size_t)finfo.size + 1 : 4096;
    buf = apr_palloc(p, cap + 1);
    for (;;) {
        if (len == cap) {
            char *nbuf = apr_palloc(p, cap * 2 + 1);
            memcpy(nbuf, buf, len);
            buf = nbuf;
            cap *= 2;
        }
        n = cap - len;
        rv = apr_file_read(f, buf + len, &n);
        len += n;
        if (APR_STATUS_IS_EOF(rv)) {
            rv = APR_SUCCESS;
            break;
        }
        if (rv != APR_SUCCESS) {
            apr_file_close(f);
            return rv;
        }
    }
    apr_file_close(f);
    buf[len] = '\0';
    *pdata = buf;
    if (plen) {
        *plen = len;
    }
    return APR_SUCCESS;
}

apr_status_t acme_mkdir_p(const char *path, apr_fileperms_t perms, apr_pool_t *p)
{
    return apr_dir_make_recursive(path, perms, p);
}

/* ---- host names ----------------------------------------------------------------------- */

const char *acme_name_lower(apr_pool_t *p, const char *name)
{
    char *s = apr_pstrdup(p, name), *c;

    for (c = s; c && *c; ++c) {
        *c = (char)apr_tolower(*c);
    }
    return s;
}

static int is_ipv4_literal(const char *s)
{
    int parts = 0, digits = 0;

    for (; *s; ++s) {
        if (isdigit((unsigned char)*s)) {
            if (++digits > 3) {
                return 0;
            }
        }
        else if (*s == '.') {
            if (!digits) {
                return 0;
            }
            digits = 0;
            ++parts;
        }
        else {
            return 0;
        }
    }
    return digits > 0 && parts == 3;
}

static int has_suffix_ci(const char *s, const char *suffix)
{
    apr_size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && !strcasecmp(s + ls - lx, suffix);
}

int acme_name_is_certifiable(const char *name, const char **pwhy)
{
    const char *why = NULL, *s, *label;
    apr_size_t len;

    if (!name || !*name) {
        why = "empty name";
        goto out;
    }
    len = strlen(name);
    if (len > 253) {
        why = "longer than 253 characters";
        goto out;
    }
    if (strchr(name, ':') || (name[0] == '[')) {
        why = "is an IPv6 address literal";
        goto out;
    }
    if (is_ipv4_literal(name)) {
        why = "is an IPv4 address literal";
        goto out;
    }
    s = name;
    if (s[0] == '*') {
        if (s[1] != '.') {
            why = "wildcard only allowed as '*.' at the start";
            goto out;
        }
        s += 2;
    }
    if (!strcasecmp(s, "localhost") || has_suffix_ci(s, ".localhost")) {
        why = "is a localhost name";
        goto out;
    }
    if (!strchr(s, '.')) {
        why = "has no dot (not a public domain name)";
        goto out;
    }
    label = s;
    for (;; ++s) {
        if (*s == '.' || *s == '\0') {
            apr_size_t llen = (apr_size_t)(s - label);
            if (llen == 0) {
                why = "has an empty label";
                goto out;
            }
            if (llen > 63) {
                why = "has a label longer than 63 characters";
                goto out;
            }
            if (label[0] == '-' || s[-1] == '-') {
                why = "has a label starting or ending with '-'";
                goto out;
            }
            if (!*s) {
                break;
            }
            label = s + 1;
        }
        else if (*s == '*') {
            why = "wildcard only allowed as '*.' at the start";
            goto out;
        }
        else if (!isalnum((unsigned char)*s) && *s != '-') {
            why = "has characters other than letters, digits and '-'";
            goto out;
        }
    }
out:
    if (pwhy) {
        *pwhy = why;
    }
    return why == NULL;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

apr_array_header_t *acme_names_normalize(apr_pool_t *p, const apr_array_header_t *names)
{
    apr_array_header_t *out;
    int i, j;

    out = apr_array_make(p, names && names->nelts ? names->nelts : 1, sizeof(const char *));
    if (!names) {
        return out;
    }
    for (i = 0; i < names->nelts; ++i) {
        const char *n = APR_ARRAY_IDX(names, i, const char *);
        if (n && *n) {
            APR_ARRAY_PUSH(out, const char *) = acme_name_lower(p, n);
        }
    }
    if (out->nelts > 1) {
        qsort(out->elts, (size_t)out->nelts, sizeof(const char *), cmp_str);
        for (i = 1, j = 0; i < out->nelts; ++i) {
            if (strcmp(APR_ARRAY_IDX(out, j, const char *), APR_ARRAY_IDX(out, i, const char *))) {
                APR_ARRAY_IDX(out, ++j, const char *) = APR_ARRAY_IDX(out, i, const char *);
            }
        }
        out->nelts = j + 1;
    }
    return out;
}

const char *acme_names_join(apr_pool_t *p, const apr_array_header_t *names, const char *sep)
{
    apr_size_t len = 0, slen = sep ? strlen(sep) : 0;
    char *out, *o;
    int i;

    if (!names || names->nelts == 0) {
        return "";
    }
    for (i = 0; i < names->nelts; ++i) {
        const char *n = APR_ARRAY_IDX(names, i, const char *);
        len += (n ? strlen(n) : 0) + slen;
    }
    o = out = apr_palloc(p, len + 1);
    for (i = 0; i < names->nelts; ++i) {
        const char *n = APR_ARRAY_IDX(names, i, const char *);
        apr_size_t nlen = n ? strlen(n) : 0;
        if (i > 0 && slen) {
            memcpy(o, sep, slen);
            o += slen;
        }
        if (nlen) {
            memcpy(o, n, nlen);
            o += nlen;
        }
    }
    *o = '\0';
    return out;
}

static int names_contain(const apr_array_header_t *a, const char *name)
{
    int i;

    for (i = 0; i < a->nelts; ++i) {
        const char *n = APR_ARRAY_IDX(a, i, const char *);
        if (n && !strcmp(n, name)) {
            return 1;
        }
    }
    return 0;
}

int acme_names_contain(const apr_array_header_t *names, const char *s)
{
    int i;
    for (i = 0; names && i < names->nelts; ++i) {
        if (!strcmp(APR_ARRAY_IDX(names, i, const char *), s)) {
            return 1;
        }
    }
    return 0;
}

int acme_names_equal(const apr_array_header_t *a, const apr_array_header_t *b)
{
    int i;

    if (!a || !b) {
        return (!a || a->nelts == 0) && (!b || b->nelts == 0);
    }
    /* as sets: each contained in the other (tolerates arrays that are not normalized) */
    for (i = 0; i < a->nelts; ++i) {
        const char *n = APR_ARRAY_IDX(a, i, const char *);
        if (n && !names_contain(b, n)) {
            return 0;
        }
    }
    for (i = 0; i < b->nelts; ++i) {
        const char *n = APR_ARRAY_IDX(b, i, const char *);
        if (n && !names_contain(a, n)) {
            return 0;
        }
    }
    return 1;
}
