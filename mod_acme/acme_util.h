/* Small helpers: base64url, hex, durations, Retry-After, atomic files. */
#ifndef ACME_UTIL_H
#define ACME_UTIL_H

#include "acme.h"
#include <apr_file_info.h>

/* RFC 4648 section 5, no padding. */
const char *acme_b64url_encode(apr_pool_t *p, const unsigned char *data, apr_size_t len);
/* Accepts input with or without padding; rejects characters outside the alphabet. */
apr_status_t acme_b64url_decode(unsigned char **pdata, apr_size_t *plen, apr_pool_t *p,
                                const char *s);
const char *acme_hex(apr_pool_t *p, const unsigned char *data, apr_size_t len);

/* Retry-After (RFC 9110 10.2.3): delay-seconds or HTTP-date. Returns the absolute time,
 * or 0 when value is NULL or unparseable. */
apr_time_t acme_retry_after_parse(const char *value, apr_time_t now);

/* "30s", "5m", "12h", "30d", plain number = seconds. APR_EINVAL on garbage. */
apr_status_t acme_duration_parse(apr_interval_time_t *pdur, const char *s);
const char *acme_duration_print(apr_pool_t *p, apr_interval_time_t dur);
/* acme_duration_parse, then min <= duration <= max: APR_EINVAL on garbage, APR_ERANGE
 * outside the range (for directives, where a value may be well-formed and still absurd). */
apr_status_t acme_duration_parse_range(apr_interval_time_t *pdur, const char *s,
                                       apr_interval_time_t min, apr_interval_time_t max);
/* A window before expiry: "N%" (a share of the lifetime, 1 to 99) or a duration (more than
 * 0, at most max). On success exactly one of *ppercent and *pdur is > 0, the other 0.
 * APR_EINVAL on garbage, APR_ERANGE when well-formed but out of range. */
apr_status_t acme_window_parse(int *ppercent, apr_interval_time_t *pdur, const char *s,
                               apr_interval_time_t max);
/* RFC 3339 UTC, e.g. 2026-11-22T20:11:27Z */
const char *acme_time_rfc3339(apr_pool_t *p, apr_time_t t);
apr_time_t acme_time_parse_rfc3339(const char *s); /* 0 on error */

/* Write data to path atomically: temp file in the same directory created with perms
 * (umask applies no wider), write, fsync, rename over path, fsync directory. */
apr_status_t acme_file_write_atomic(const char *path, const void *data, apr_size_t len,
                                    apr_fileperms_t perms, apr_pool_t *p);
/* The same, without the two fsyncs: readers see the whole file or none, but a power loss
 * may lose it. Only for files nothing needs after a crash (a challenge response: a resumed
 * order publishes it again). */
apr_status_t acme_file_write_visible(const char *path, const void *data, apr_size_t len,
                                     apr_fileperms_t perms, apr_pool_t *p);
/* Give path the file src is now, atomically: a hard link under a temporary name, renamed
 * over path, the directory fsynced (src's data was fsynced when it was written). No new
 * inode, no data written. APR_ENOENT when src is missing; path is untouched on failure. */
apr_status_t acme_file_link_atomic(const char *src, const char *path, apr_pool_t *p);
/* Read a whole file (NUL-terminated in memory; *plen without the NUL). plen may be NULL. */
apr_status_t acme_file_read(char **pdata, apr_size_t *plen, const char *path, apr_pool_t *p);
/* mkdir -p with perms for the directories it creates. */
apr_status_t acme_mkdir_p(const char *path, apr_fileperms_t perms, apr_pool_t *p);

/* Host names: lowercase copy; is it a name a public CA could certify (has a dot, not an IP
 * literal, not "localhost", only LDH labels, wildcard "*." prefix allowed)? On no, *pwhy says why. */
const char *acme_name_lower(apr_pool_t *p, const char *name);
int acme_name_is_certifiable(const char *name, const char **pwhy);

/* Sorted, de-duplicated, lower-cased copy of an array of const char*. */
apr_array_header_t *acme_names_normalize(apr_pool_t *p, const apr_array_header_t *names);
/* Names joined with sep. */
const char *acme_names_join(apr_pool_t *p, const apr_array_header_t *names, const char *sep);
/* Equal as sets (both arrays already normalized). */
int acme_names_equal(const apr_array_header_t *a, const apr_array_header_t *b);
/* Does the array of const char* (may be NULL) hold s exactly? */
int acme_names_contain(const apr_array_header_t *names, const char *s);

#endif
