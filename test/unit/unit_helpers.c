/* Helpers several unit test files share. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <ftw.h>

#include <apr_strings.h>
#include <openssl/x509v3.h>

#include "tests.h"
#include "unit_helpers.h"
#include "acme_cert.h"
#include "acme_crypto.h"
#include "acme_log.h"
#include "acme_util.h"

const char *unit_hook_write(apr_pool_t *p, const char *dir, const char *body)
{
    const char *path = apr_pstrcat(p, dir, "/hook.sh", NULL);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "#!/bin/sh\necho \"$@\" >> %s/hook.log\n%s\n", dir, body);
    fclose(f);
    chmod(path, 0700);
    return path;
}

const char *unit_hook_log(apr_pool_t *p, const char *dir)
{
    char *data = NULL;
    apr_size_t len;
    if (acme_file_read(&data, &len, apr_pstrcat(p, dir, "/hook.log", NULL), p)) {
        return "";
    }
    return data;
}

void unit_assert_tlsalpn01_cert(apr_pool_t *p, X509 *x, const char *name,
                                const char *key_auth)
{
    unsigned char expect[34] = { 0x04, 0x20 };
    const ASN1_OCTET_STRING *val;
    acme_cert_info_t *info = NULL;
    X509_EXTENSION *ext;
    ASN1_OBJECT *obj;
    int loc;

    ck_assert_int_eq(acme_cert_info(&info, p, x), APR_SUCCESS);
    ck_assert_int_eq(info->names->nelts, 1);
    ck_assert_str_eq(APR_ARRAY_IDX(info->names, 0, const char *), name);
    obj = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
    loc = X509_get_ext_by_OBJ(x, obj, -1);
    ASN1_OBJECT_free(obj);
    ck_assert_int_ge(loc, 0);
    ext = X509_get_ext(x, loc);
    ck_assert_int_eq(X509_EXTENSION_get_critical(ext), 1);
    val = X509_EXTENSION_get_data(ext);
    /* extnValue = DER OCTET STRING (04 20) of SHA-256(key authorization) */
    ck_assert_int_eq(acme_sha256(expect + 2, key_auth, strlen(key_auth)), APR_SUCCESS);
    ck_assert_int_eq(ASN1_STRING_length(val), 34);
    ck_assert(memcmp(ASN1_STRING_get0_data(val), expect, 34) == 0);
}

X509 *unit_cert_make(apr_pool_t *pool, const char *cn, EVP_PKEY *pub, X509 *issuer,
                     EVP_PKEY *issuer_key, int ca, const char *const *names, long from_s,
                     long to_s, const char *aia)
{
    X509 *x = X509_new();
    X509V3_CTX ctx;
    X509_EXTENSION *ext;
    static long serial = 100;

    ck_assert_ptr_nonnull(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), ++serial);
    X509_gmtime_adj(X509_getm_notBefore(x), from_s);
    X509_gmtime_adj(X509_getm_notAfter(x), to_s);
    if (cn) {   /* NULL: an empty subject, as in Let's Encrypt's tlsserver profile */
        X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                                   (const unsigned char *)cn, -1, -1, 0);
    }
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : X509_get_subject_name(x));
    X509_set_pubkey(x, pub);
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints,
                              ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    if (names && *names) {
        const char *san = "";
        for (; *names; ++names) {
            san = apr_pstrcat(pool, san, *san ? "," : "", "DNS:", *names, NULL);
        }
        ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
    }
    if (aia) {
        ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_info_access, aia);
        ck_assert_ptr_nonnull(ext);
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
    }
    ck_assert_int_gt(X509_sign(x, issuer_key, EVP_sha256()), 0);
    return x;
}

static void capture_sink(void *baton, acme_log_level_t level, apr_status_t rv, const char *msg)
{
    apr_array_header_t *logs = baton;
    APR_ARRAY_PUSH(logs, const char *) = apr_psprintf(logs->pool, "%d %s", (int)level, msg);
}

static int capture_enabled(void *baton, acme_log_level_t level)
{
    return level <= ACME_LOG_DEBUG;
}

apr_array_header_t *unit_log_capture(apr_pool_t *p)
{
    apr_array_header_t *logs = apr_array_make(p, 8, sizeof(const char *));
    acme_log_set(capture_sink, capture_enabled, logs);
    return logs;
}

int unit_logged(const apr_array_header_t *logs, int level, const char *s1, const char *s2)
{
    int i;
    for (i = 0; i < logs->nelts; ++i) {
        const char *m = APR_ARRAY_IDX(logs, i, const char *);
        if (atoi(m) == level && strstr(m, s1) && (!s2 || strstr(m, s2))) {
            return 1;
        }
    }
    return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

void unit_rmtree(const char *dir)
{
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

apr_array_header_t *unit_names(apr_pool_t *p, const char *const *list)
{
    apr_array_header_t *a = apr_array_make(p, 4, sizeof(const char *));
    for (; *list; ++list) {
        APR_ARRAY_PUSH(a, const char *) = *list;
    }
    return a;
}
