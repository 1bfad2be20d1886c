/* External Account Binding settings (RFC 8555 7.3.4): the key id and HMAC key a CA gives
 * for binding a new ACME account to an account with the CA. The key comes from a file only
 * root may read; it is kept in memory only and never logged, shown or stored. */
#ifndef ACME_EAB_H
#define ACME_EAB_H

#include "acme.h"
#include <apr_file_info.h>

typedef struct acme_eab_t {
    const char *kid;           /* key id as the CA gave it */
    const unsigned char *key;  /* HMAC key (decoded), NULL when the key file was unusable */
    apr_size_t key_len;
    const char *file;          /* the key file's path (for messages) */
    const char *why;           /* key NULL: what was wrong with the file */
} acme_eab_t;

/* The shortest HMAC key accepted (a shorter one is a truncated copy). */
#define ACME_EAB_KEY_MIN 16

/* NULL when kid can be a key id (1 to 256 printable ASCII characters, no space or quote),
 * else why not. */
const char *acme_eab_kid_problem(apr_pool_t *p, const char *kid);

/* NULL when a key file with this owner and mode may hold the key: owned by root (or by
 * me, the user reading it, when that is not root) and no access for group or others. Else
 * what is wrong and the fix. */
const char *acme_eab_file_problem(apr_pool_t *p, const char *path, apr_uid_t owner,
                                  apr_uid_t me, apr_fileperms_t prot);

/* Decode a key file's text: base64url (RFC 4648 5, '=' padding allowed) with surrounding
 * white space, at least ACME_EAB_KEY_MIN bytes once decoded. On failure *pwhy says what is
 * wrong (without quoting the key). */
apr_status_t acme_eab_key_parse(unsigned char **pkey, apr_size_t *plen, const char **pwhy,
                                apr_pool_t *p, const char *text, apr_size_t len);

/* The text of a root-only secret file (the EAB key, the fleet key, a password): a regular
 * file, acme_eab_file_problem for the calling user, at most 4 KiB. On failure *pwhy names
 * the file, what is wrong and the fix (what: "the CA's HMAC key"). The caller wipes the text. */
apr_status_t acme_eab_secret_file_read(char **ptext, apr_size_t *plen, const char **pwhy,
                                       apr_pool_t *p, const char *path, const char *what);

/* Check path (a regular file, acme_eab_file_problem for the calling user), read and decode
 * it. The key lives in p and is overwritten with zeros when p is cleared; the file's text
 * is overwritten at once. On failure *pwhy names the file, says what is wrong and how to
 * fix it. */
apr_status_t acme_eab_key_load(unsigned char **pkey, apr_size_t *plen, const char **pwhy,
                               apr_pool_t *p, const char *path);

#endif
