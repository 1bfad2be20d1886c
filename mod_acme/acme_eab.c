/* External Account Binding settings: the key id and the HMAC key file (checks, reading,
 * decoding). The EAB JWS itself is acme_jws_eab (acme_jws.c); newAccount sends it
 * (acme_account.c). */
#include <string.h>
#include <unistd.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "acme_eab.h"
#include "acme_util.h"

#define KID_MAX      256
#define KEY_FILE_MAX 4096 /* a key file is one line; anything larger is another file */

const char *acme_eab_kid_problem(apr_pool_t *p, const char *kid)
{
    const char *c;

    if (!kid || !*kid) {
        return "the key id is empty";
    }
    if (strlen(kid) > KID_MAX) {
        return apr_psprintf(p, "the key id is longer than %d characters", KID_MAX);
    }
    for (c = kid; *c; ++c) {
        if ((unsigned char)*c < 0x21 || (unsigned char)*c > 0x7e || *c == '"' || *c == '\\') {
            return "the key id holds a space, a quote, a backslash or a character that is not "
                   "printable ASCII";
        }
    }
    return NULL;
}

const char *acme_eab_file_problem(apr_pool_t *p, const char *path, apr_uid_t owner,
                                  apr_uid_t me, apr_fileperms_t prot)
{
    if (owner != 0 && owner != me) {
        return apr_psprintf(p, "'%s' is not owned by root: other users could change or read "
                            "it (chown root '%s'; chmod 600 '%s')", path, path, path);
    }
    if (prot & (APR_GREAD | APR_GWRITE | APR_GEXECUTE | APR_WREAD | APR_WWRITE
                | APR_WEXECUTE)) {
        return apr_psprintf(p, "'%s' is accessible to group or others: the HMAC key must be "
                            "readable by root only (chmod 600 '%s')", path, path);
    }
    return NULL;
}

static apr_status_t wipe(void *baton)
{
    acme_eab_t *e = baton;
    if (e->key) {
        memset((void *)e->key, 0, e->key_len);
    }
    return APR_SUCCESS;
}

apr_status_t acme_eab_key_parse(unsigned char **pkey, apr_size_t *plen, const char **pwhy,
                                apr_pool_t *p, const char *text, apr_size_t len)
{
    apr_size_t start = 0, end = len, i;
    char *b64;
    apr_status_t rv;

    *pkey = NULL;
    *plen = 0;
    *pwhy = NULL;
    while (start < end && apr_isspace(text[start])) {
        ++start;
    }
    while (end > start && apr_isspace(text[end - 1])) {
        --end;
    }
    if (start == end) {
        *pwhy = "is empty: put the HMAC key the CA gave you in it (base64url, one line)";
        return APR_EINVAL;
    }
    for (i = start; i < end; ++i) {
        char c = text[i];
        if (c == '+' || c == '/') {
            *pwhy = "holds '+' or '/': the key must be base64url ('-' and '_'), as CAs give "
                    "it; copy the key exactly as the CA shows it";
            return APR_EINVAL;
        }
        if (!(apr_isalnum(c) || c == '-' || c == '_' || c == '=')) {
            *pwhy = apr_psprintf(p, "holds a character that is not base64url (at offset %d%s): "
                                 "put only the HMAC key the CA gave you in it, on one line",
                                 (int)i, apr_isspace(c) ? ", white space" : "");
            return APR_EINVAL;
        }
    }
    b64 = apr_pstrmemdup(p, text + start, end - start);
    rv = acme_b64url_decode(pkey, plen, p, b64);
    memset(b64, 0, end - start);
    if (rv != APR_SUCCESS) {
        *pwhy = "is not valid base64url (wrong length or padding): copy the whole key "
                "exactly as the CA shows it";
        return APR_EINVAL;
    }
    if (*plen < ACME_EAB_KEY_MIN) {
        memset(*pkey, 0, *plen);
        *pwhy = apr_psprintf(p, "holds a key of only %d bytes (at least %d expected): copy the "
                             "whole key the CA gave you", (int)*plen, ACME_EAB_KEY_MIN);
        *pkey = NULL;
        *plen = 0;
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

apr_status_t acme_eab_secret_file_read(char **ptext, apr_size_t *plen, const char **pwhy,
                                       apr_pool_t *p, const char *path, const char *what)
{
    apr_finfo_t fi;
    char ebuf[128];
    const char *why;
    apr_status_t rv;

    *ptext = NULL;
    *plen = 0;
    rv = apr_stat(&fi, path, APR_FINFO_TYPE | APR_FINFO_PROT | APR_FINFO_OWNER | APR_FINFO_SIZE,
                  p);
    if (rv != APR_SUCCESS) {
        *pwhy = apr_psprintf(p, "'%s' %s: give the file holding %s", path,
                             APR_STATUS_IS_ENOENT(rv) ? "does not exist"
                             : apr_strerror(rv, ebuf, sizeof(ebuf)), what);
        return rv;
    }
    if (fi.filetype != APR_REG) {
        *pwhy = apr_psprintf(p, "'%s' is not a regular file: give the file holding %s", path,
                             what);
        return APR_EINVAL;
    }
    if ((why = acme_eab_file_problem(p, path, fi.user, (apr_uid_t)geteuid(),
                                     fi.protection)) != NULL) {
        *pwhy = why;
        return APR_EINVAL;
    }
    if (fi.size > KEY_FILE_MAX) {
        *pwhy = apr_psprintf(p, "'%s' is %" APR_OFF_T_FMT " bytes, too large: put only %s in "
                             "it", path, fi.size, what);
        return APR_EINVAL;
    }
    if ((rv = acme_file_read(ptext, plen, path, p)) != APR_SUCCESS) {
        *pwhy = apr_psprintf(p, "'%s' cannot be read (%s): it must be readable by root", path,
                             apr_strerror(rv, ebuf, sizeof(ebuf)));
    }
    return rv;
}

apr_status_t acme_eab_key_load(unsigned char **pkey, apr_size_t *plen, const char **pwhy,
                               apr_pool_t *p, const char *path)
{
    acme_eab_t *w;
    char *text = NULL;
    apr_size_t len = 0;
    const char *why;
    apr_status_t rv;

    *pkey = NULL;
    *plen = 0;
    *pwhy = NULL;
    rv = acme_eab_secret_file_read(&text, &len, pwhy, p, path, "the CA's HMAC key");
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    rv = acme_eab_key_parse(pkey, plen, &why, p, text, len);
    memset(text, 0, len);
    if (rv != APR_SUCCESS) {
        *pwhy = apr_psprintf(p, "'%s' %s", path, why);
        goto leave;
    }
    /* zeros over the key when its pool goes (a restart reads the file again) */
    w = apr_pcalloc(p, sizeof(*w));
    w->key = *pkey;
    w->key_len = *plen;
    apr_pool_cleanup_register(p, w, wipe, apr_pool_cleanup_null);
leave:
    return rv;
}
