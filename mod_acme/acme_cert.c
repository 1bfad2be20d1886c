/* Certificates: PEM chains, facts, chain links, CSRs, self-signed fallbacks. */
#include <limits.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <apr_strings.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "acme.h"
#include "acme_cert.h"
#include "acme_crypto.h"
#include "acme_ident.h"
#include "acme_util.h"

static apr_status_t x509_cleanup(void *data)
{
    X509_free((X509 *)data);
    return APR_SUCCESS;
}

apr_status_t acme_chain_parse(apr_array_header_t **pchain, apr_pool_t *p,
                              const char *pem, apr_size_t len)
{
    apr_array_header_t *chain;
    BIO *bio;
    char *name = NULL, *header = NULL;
    unsigned char *data = NULL;
    long dlen = 0;
    apr_status_t rv = APR_SUCCESS;

    *pchain = NULL;
    if (!pem || len == 0 || len > INT_MAX) {
        return ACME_EPROTO;
    }
    bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio) {
        return APR_ENOMEM;
    }
    chain = apr_array_make(p, 3, sizeof(X509 *));
    ERR_clear_error();
    while (PEM_read_bio(bio, &name, &header, &data, &dlen) == 1) {
        if (!strcmp(name, PEM_STRING_X509) || !strcmp(name, PEM_STRING_X509_OLD)) {
            const unsigned char *d = data;
            X509 *x = d2i_X509(NULL, &d, dlen);
            if (!x || d != data + dlen) {
                X509_free(x);
                rv = ACME_EPROTO;
            }
            else {
                apr_pool_cleanup_register(p, x, x509_cleanup, apr_pool_cleanup_null);
                APR_ARRAY_PUSH(chain, X509 *) = x;
            }
        }
        /* other PEM blocks (e.g. parameters) are not part of the chain: skip them */
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(data);
        name = header = NULL;
        data = NULL;
        if (rv != APR_SUCCESS) {
            break;
        }
    }
    if (rv == APR_SUCCESS) {
        /* the loop ends at the end of the text (no start line) or on a broken block */
        unsigned long err = ERR_peek_last_error();
        if (err && !(ERR_GET_LIB(err) == ERR_LIB_PEM
                     && ERR_GET_REASON(err) == PEM_R_NO_START_LINE)) {
            rv = ACME_EPROTO;
        }
        else if (chain->nelts == 0) {
            rv = ACME_EPROTO;
        }
    }
    ERR_clear_error();
    BIO_free(bio);
    if (rv == APR_SUCCESS) {
        *pchain = chain;
    }
    return rv;
}

static apr_time_t asn1_time_to_apr(const ASN1_TIME *at)
{
    struct tm tm;
    apr_time_exp_t xt;
    apr_time_t t;

    if (!at || ASN1_TIME_to_tm(at, &tm) != 1) {
        return 0;
    }
    memset(&xt, 0, sizeof(xt));
    xt.tm_year = tm.tm_year;
    xt.tm_mon = tm.tm_mon;
    xt.tm_mday = tm.tm_mday;
    xt.tm_hour = tm.tm_hour;
    xt.tm_min = tm.tm_min;
    xt.tm_sec = tm.tm_sec;
    if (apr_time_exp_gmt_get(&t, &xt) != APR_SUCCESS) {
        return 0;
    }
    return t;
}

static const char *asn1_string_utf8(apr_pool_t *p, const ASN1_STRING *as)
{
    unsigned char *u = NULL;
    const char *s;
    int n = ASN1_STRING_to_UTF8(&u, as);

    if (n < 0) {
        return NULL;
    }
    s = apr_pstrmemdup(p, (const char *)u, (apr_size_t)n);
    OPENSSL_free(u);
    return s;
}

/* An iPAddress SAN (4 or 16 bytes) as canonical text, NULL for anything else. */
static const char *ip_san_text(apr_pool_t *p, const ASN1_OCTET_STRING *os)
{
    char buf[64];
    const unsigned char *d = ASN1_STRING_get0_data(os);
    int n = ASN1_STRING_length(os);

    if (n == 4) {
        return apr_psprintf(p, "%u.%u.%u.%u", d[0], d[1], d[2], d[3]);
    }
    if (n == 16) {
        int i;
        char *c = buf;
        for (i = 0; i < 16; i += 2) {
            c += apr_snprintf(c, sizeof(buf) - (apr_size_t)(c - buf), i ? ":%x" : "%x",
                              (d[i] << 8) | d[i + 1]);
        }
        return acme_ident_ip(p, buf);
    }
    return NULL;
}

/* dNSName SANs lower-cased and iPAddress SANs as canonical text, in certificate order. */
static apr_array_header_t *x509_dns_names(apr_pool_t *p, X509 *x)
{
    apr_array_header_t *names = apr_array_make(p, 5, sizeof(const char *));
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    int i;

    if (gens) {
        for (i = 0; i < sk_GENERAL_NAME_num(gens); ++i) {
            const GENERAL_NAME *gn = sk_GENERAL_NAME_value(gens, i);
            if (gn->type == GEN_DNS) {
                const ASN1_IA5STRING *ia5 = gn->d.dNSName;
                const unsigned char *d = ASN1_STRING_get0_data(ia5);
                apr_size_t n = (apr_size_t)ASN1_STRING_length(ia5);
                const char *s;
                if (memchr(d, '\0', n)) {
                    continue;   /* as a C string it would pass for the name before the NUL */
                }
                s = apr_pstrmemdup(p, (const char *)d, n);
                APR_ARRAY_PUSH(names, const char *) = acme_name_lower(p, s);
            }
            else if (gn->type == GEN_IPADD) {
                const char *s = ip_san_text(p, gn->d.iPAddress);
                if (s) {
                    APR_ARRAY_PUSH(names, const char *) = s;
                }
            }
        }
        GENERAL_NAMES_free(gens);
    }
    return names;
}

/* A distinguished name in one line ("" when empty), NULL when it cannot be printed. */
static const char *name_oneline(apr_pool_t *p, const X509_NAME *name)
{
    BIO *bio = BIO_new(BIO_s_mem());
    const char *s = NULL;
    char *bdata;
    long blen;

    if (bio && X509_NAME_print_ex(bio, name, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
        blen = BIO_get_mem_data(bio, &bdata);
        s = blen > 0 ? apr_pstrmemdup(p, bdata, (apr_size_t)blen) : "";
    }
    BIO_free(bio);
    return s;
}

apr_status_t acme_cert_info(acme_cert_info_t **pinfo, apr_pool_t *p, X509 *x)
{
    acme_cert_info_t *info;
    const X509_NAME *subj;
    BIGNUM *bn;
    char *hex;
    int idx;

    *pinfo = NULL;
    if (!x) {
        return APR_EINVAL;
    }
    info = apr_pcalloc(p, sizeof(*info));

    bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    if (!bn) {
        return ACME_ECRYPTO;
    }
    hex = BN_bn2hex(bn);
    BN_free(bn);
    if (!hex) {
        return APR_ENOMEM;
    }
    info->serial = apr_pstrdup(p, hex);
    OPENSSL_free(hex);

    subj = X509_get_subject_name(x);
    idx = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
    if (idx >= 0) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(subj, idx);
        info->subject_cn = asn1_string_utf8(p, X509_NAME_ENTRY_get_data(e));
    }

    info->issuer = name_oneline(p, X509_get_issuer_name(x));
    idx = X509_NAME_get_index_by_NID(X509_get_issuer_name(x), NID_commonName, -1);
    if (idx >= 0) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(X509_get_issuer_name(x), idx);
        info->issuer_cn = asn1_string_utf8(p, X509_NAME_ENTRY_get_data(e));
    }

    info->not_before = asn1_time_to_apr(X509_get0_notBefore(x));
    info->not_after = asn1_time_to_apr(X509_get0_notAfter(x));
    info->names = x509_dns_names(p, x);
    *pinfo = info;
    return APR_SUCCESS;
}

/* The subject in one line; an empty one (Let's Encrypt's tlsserver and shortlived profiles,
 * pebble 2.10) by the certificate's DNS names instead. */
static const char *subject_str(apr_pool_t *p, X509 *x)
{
    const char *s = name_oneline(p, X509_get_subject_name(x));
    apr_array_header_t *names;

    if (s && !*s) {
        names = x509_dns_names(p, x);
        return names->nelts ? apr_pstrcat(p, "no subject; DNS ",
                                          acme_names_join(p, names, ", "), NULL)
                            : "no subject";
    }
    return s ? s : "(unreadable subject)";
}

/* 1 when issuer certified x: names/key ids chain and the signature verifies. */
static int certified_by(X509 *x, X509 *issuer)
{
    EVP_PKEY *pub = X509_get0_pubkey(issuer);
    int ok = pub && X509_check_issued(issuer, x) == X509_V_OK && X509_verify(x, pub) == 1;
    ERR_clear_error();
    return ok;
}

apr_status_t acme_chain_check(const char **pwhy, apr_pool_t *p, const apr_array_header_t *chain)
{
    X509 *x, *up;
    int i, j;

    *pwhy = NULL;
    if (!chain || chain->nelts == 0) {
        *pwhy = "the chain holds no certificate";
        return ACME_EVERIFY;
    }
    x = APR_ARRAY_IDX(chain, 0, X509 *);
    if (chain->nelts == 1) {
        if (certified_by(x, x)) {
            return APR_SUCCESS;   /* self-signed: complete by itself */
        }
        *pwhy = apr_psprintf(p, "the chain holds only the leaf (%s), without the certificate "
                             "of its issuer (%s)", subject_str(p, x),
                             name_oneline(p, X509_get_issuer_name(x)));
        return APR_INCOMPLETE;
    }
    for (i = 0; i + 1 < chain->nelts; ++i) {
        x = APR_ARRAY_IDX(chain, i, X509 *);
        up = APR_ARRAY_IDX(chain, i + 1, X509 *);
        if (certified_by(x, up)) {
            continue;
        }
        for (j = 0; j < chain->nelts; ++j) {
            if (j != i && j != i + 1 && certified_by(x, APR_ARRAY_IDX(chain, j, X509 *))) {
                *pwhy = apr_psprintf(p, "the chain is out of order: certificate %d (%s) is "
                                     "signed by certificate %d, not by the next one", i + 1,
                                     subject_str(p, x), j + 1);
                return ACME_EVERIFY;
            }
        }
        *pwhy = apr_psprintf(p, "certificate %d of the chain (%s) is not signed by certificate "
                             "%d (%s)", i + 1, subject_str(p, x), i + 2, subject_str(p, up));
        return ACME_EVERIFY;
    }
    return APR_SUCCESS;
}

/* PEM of n certificates, in order. */
static apr_status_t certs_pem(const char **ppem, apr_size_t *plen, apr_pool_t *p,
                              X509 *const *xs, int n)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *bdata;
    long blen;
    int i;
    apr_status_t rv = ACME_ECRYPTO;

    *ppem = NULL;
    *plen = 0;
    if (!bio) {
        return APR_ENOMEM;
    }
    for (i = 0; i < n; ++i) {
        if (PEM_write_bio_X509(bio, xs[i]) != 1) {
            goto leave;
        }
    }
    blen = BIO_get_mem_data(bio, &bdata);
    if (blen <= 0) {
        goto leave;
    }
    *ppem = apr_pstrmemdup(p, bdata, (apr_size_t)blen);
    *plen = (apr_size_t)blen;
    rv = APR_SUCCESS;
leave:
    BIO_free(bio);
    return rv;
}

apr_status_t acme_chain_pem(const char **ppem, apr_size_t *plen, apr_pool_t *p,
                            const apr_array_header_t *chain)
{
    return certs_pem(ppem, plen, p, (X509 *const *)chain->elts, chain->nelts);
}

apr_status_t acme_certs_parse_any(apr_array_header_t **pcerts, apr_pool_t *p,
                                  const char *data, apr_size_t len)
{
    const unsigned char *d = (const unsigned char *)data;
    X509 *x;

    *pcerts = NULL;
    if (!data || len == 0 || len > INT_MAX) {
        return ACME_EPROTO;
    }
    if (acme_chain_parse(pcerts, p, data, len) == APR_SUCCESS) {
        return APR_SUCCESS;
    }
    x = d2i_X509(NULL, &d, (long)len);
    ERR_clear_error();
    if (!x || d != (const unsigned char *)data + len) {
        X509_free(x);
        return ACME_EPROTO;
    }
    apr_pool_cleanup_register(p, x, x509_cleanup, apr_pool_cleanup_null);
    *pcerts = apr_array_make(p, 1, sizeof(X509 *));
    APR_ARRAY_PUSH(*pcerts, X509 *) = x;
    return APR_SUCCESS;
}

apr_status_t acme_cert_ca_issuers(const char **purl, apr_pool_t *p, X509 *x)
{
    AUTHORITY_INFO_ACCESS *aia = X509_get_ext_d2i(x, NID_info_access, NULL, NULL);
    apr_status_t rv = APR_ENOENT;
    int i;

    *purl = NULL;
    for (i = 0; aia && i < sk_ACCESS_DESCRIPTION_num(aia); ++i) {
        const ACCESS_DESCRIPTION *ad = sk_ACCESS_DESCRIPTION_value(aia, i);
        if (OBJ_obj2nid(ad->method) == NID_ad_ca_issuers
            && ad->location->type == GEN_URI) {
            const ASN1_IA5STRING *u = ad->location->d.uniformResourceIdentifier;
            const char *url = apr_pstrmemdup(p, (const char *)ASN1_STRING_get0_data(u),
                                             (apr_size_t)ASN1_STRING_length(u));
            if (!strncasecmp(url, "http://", 7) || !strncasecmp(url, "https://", 8)) {
                *purl = url;
                rv = APR_SUCCESS;
                break;
            }
        }
    }
    AUTHORITY_INFO_ACCESS_free(aia);
    ERR_clear_error();
    return rv;
}

/* A GENERAL_NAMES stack with every name as dNSName, an IP address as iPAddress
 * (RFC 8738 section 3). */
static GENERAL_NAMES *dns_general_names(const apr_array_header_t *names)
{
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    int i;

    if (!gens) {
        return NULL;
    }
    for (i = 0; i < names->nelts; ++i) {
        const char *n = APR_ARRAY_IDX(names, i, const char *);
        GENERAL_NAME *gn = GENERAL_NAME_new();
        unsigned char ip[16];
        apr_size_t iplen = 0;
        int is_ip = acme_ident_ip_bytes(ip, &iplen, n) == APR_SUCCESS;
        ASN1_STRING *v = is_ip ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();

        if (!gn || !v
            || ASN1_STRING_set(v, is_ip ? (const void *)ip : (const void *)n,
                               is_ip ? (int)iplen : (int)strlen(n)) != 1) {
            GENERAL_NAME_free(gn);
            ASN1_STRING_free(v);
            goto fail;
        }
        GENERAL_NAME_set0_value(gn, is_ip ? GEN_IPADD : GEN_DNS, v);
        if (!sk_GENERAL_NAME_push(gens, gn)) {
            GENERAL_NAME_free(gn);
            goto fail;
        }
    }
    return gens;
fail:
    GENERAL_NAMES_free(gens);
    return NULL;
}

static int valid_names(const apr_array_header_t *names)
{
    int i;

    if (!names || names->nelts == 0) {
        return 0;
    }
    for (i = 0; i < names->nelts; ++i) {
        const char *n = APR_ARRAY_IDX(names, i, const char *);
        if (!n || !*n || strlen(n) > 253) {
            return 0;
        }
    }
    return 1;
}

/* An EC key's SubjectPublicKeyInfo written into the request directly (id-ecPublicKey, the
 * named curve, the encoded point): the same bytes X509_REQ_set_pubkey makes, which goes
 * through an OpenSSL 3.0 encoder and a decoder made for the occasion (~0.25 ms of CPU a
 * CSR, measured). 0: not an EC key on a named curve (the caller takes the general path). */
static int csr_set_ec_pubkey(X509_REQ *req, EVP_PKEY *pkey)
{
    X509_PUBKEY *pub = X509_REQ_get_X509_PUBKEY(req);
    unsigned char *pt = NULL;
    char group[80];
    size_t len = 0;
    int nid, ok = 0;

    if (!pub || !EVP_PKEY_is_a(pkey, "EC")
        || EVP_PKEY_get_group_name(pkey, group, sizeof(group), NULL) != 1
        || (nid = OBJ_txt2nid(group)) == NID_undef
        || EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, NULL, 0, &len) != 1
        || len == 0 || len > INT_MAX || !(pt = OPENSSL_malloc(len))) {
        goto leave;
    }
    if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, pt, len, &len) == 1
        && X509_PUBKEY_set0_param(pub, OBJ_nid2obj(NID_X9_62_id_ecPublicKey), V_ASN1_OBJECT,
                                  OBJ_nid2obj(nid), pt, (int)len) == 1) {
        pt = NULL;              /* the request owns it now */
        ok = 1;
    }
leave:
    OPENSSL_free(pt);
    ERR_clear_error();
    return ok;
}

apr_status_t acme_csr_create(const char **pder_b64url, apr_pool_t *p, const acme_key_t *key,
                             const apr_array_header_t *names)
{
    X509_REQ *req = NULL;
    X509_NAME *subj = NULL;
    GENERAL_NAMES *gens = NULL;
    STACK_OF(X509_EXTENSION) *exts = NULL;
    EVP_PKEY *pkey = acme_key_evp(key);
    unsigned char *der = NULL;
    const char *first;
    int der_len;
    apr_status_t rv = ACME_ECRYPTO;

    *pder_b64url = NULL;
    if (!pkey || !valid_names(names)) {
        return APR_EINVAL;
    }
    first = APR_ARRAY_IDX(names, 0, const char *);

    req = X509_REQ_new();
    subj = X509_NAME_new();
    if (!req || !subj) {
        rv = APR_ENOMEM;
        goto leave;
    }
    if (X509_REQ_set_version(req, 0) != 1) {
        goto leave;
    }
    /* an address is no common name: a certificate for addresses only goes without one */
    if (strlen(first) <= 64 && !acme_ident_ip(p, first)
        && X509_NAME_add_entry_by_NID(subj, NID_commonName, MBSTRING_UTF8,
                                      (const unsigned char *)first, -1, -1, 0) != 1) {
        goto leave;
    }
    if (X509_REQ_set_subject_name(req, subj) != 1) {
        goto leave;
    }
    gens = dns_general_names(names);
    if (!gens
        || X509V3_add1_i2d(&exts, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) != 1
        || X509_REQ_add_extensions(req, exts) != 1) {
        goto leave;
    }
    if ((!csr_set_ec_pubkey(req, pkey) && X509_REQ_set_pubkey(req, pkey) != 1)
        || X509_REQ_sign(req, pkey, EVP_sha256()) <= 0) {
        goto leave;
    }
    der_len = i2d_X509_REQ(req, &der);
    if (der_len <= 0) {
        goto leave;
    }
    *pder_b64url = acme_b64url_encode(p, der, (apr_size_t)der_len);
    rv = APR_SUCCESS;
leave:
    OPENSSL_free(der);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    GENERAL_NAMES_free(gens);
    X509_NAME_free(subj);
    X509_REQ_free(req);
    return rv;
}

/* RFC 8737 section 3: id-pe-acmeIdentifier, critical, an OCTET STRING of the SHA-256 of the
 * key authorization. */
static int add_acme_identifier(X509 *x, const unsigned char digest[32])
{
    ASN1_OCTET_STRING *inner = ASN1_OCTET_STRING_new(), *value = ASN1_OCTET_STRING_new();
    ASN1_OBJECT *obj = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
    X509_EXTENSION *ext = NULL;
    unsigned char *der = NULL;
    int len, ok = 0;

    if (inner && value && obj && ASN1_OCTET_STRING_set(inner, digest, 32) == 1
        && (len = i2d_ASN1_OCTET_STRING(inner, &der)) > 0
        && ASN1_OCTET_STRING_set(value, der, len) == 1
        && (ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 1, value)) != NULL
        && X509_add_ext(x, ext, -1) == 1) {
        ok = 1;
    }
    OPENSSL_free(der);
    X509_EXTENSION_free(ext);
    ASN1_OBJECT_free(obj);
    ASN1_OCTET_STRING_free(value);
    ASN1_OCTET_STRING_free(inner);
    return ok;
}

static apr_status_t selfsigned_build(const char **ppem, apr_pool_t *p, const acme_key_t *key,
                                     const char *cn, const apr_array_header_t *names,
                                     apr_interval_time_t valid_for,
                                     const unsigned char *acme_id);

apr_status_t acme_selfsigned_create(const char **ppem, apr_pool_t *p, const acme_key_t *key,
                                    const char *cn, const apr_array_header_t *names,
                                    apr_interval_time_t valid_for)
{
    return selfsigned_build(ppem, p, key, cn, names, valid_for, NULL);
}

apr_status_t acme_tlsalpn01_cert_create(const char **ppem, apr_pool_t *p, const acme_key_t *key,
                                        const char *name, const char *key_authorization)
{
    unsigned char digest[32];
    apr_array_header_t *names = apr_array_make(p, 1, sizeof(const char *));
    apr_status_t rv;

    if (!name || !key_authorization) {
        return APR_EINVAL;
    }
    if ((rv = acme_sha256(digest, key_authorization, strlen(key_authorization)))) {
        return rv;
    }
    APR_ARRAY_PUSH(names, const char *) = name;
    return selfsigned_build(ppem, p, key, name, names, apr_time_from_sec(7 * 86400), digest);
}

static apr_status_t selfsigned_build(const char **ppem, apr_pool_t *p, const acme_key_t *key,
                                     const char *cn, const apr_array_header_t *names,
                                     apr_interval_time_t valid_for,
                                     const unsigned char *acme_id)
{
    X509 *x = NULL;
    X509_NAME *subj = NULL;
    GENERAL_NAMES *gens = NULL;
    BASIC_CONSTRAINTS *bc = NULL;
    EXTENDED_KEY_USAGE *eku = NULL;
    BIGNUM *bn = NULL;
    EVP_PKEY *pkey = acme_key_evp(key);
    unsigned char serial[16];
    apr_size_t plen;
    time_t start;
    apr_status_t rv = ACME_ECRYPTO;

    *ppem = NULL;
    if (!pkey || !valid_names(names) || valid_for <= 0) {
        return APR_EINVAL;
    }
    if (!cn || !*cn) {
        cn = APR_ARRAY_IDX(names, 0, const char *);
    }
    x = X509_new();
    subj = X509_NAME_new();
    if (!x || !subj) {
        rv = APR_ENOMEM;
        goto leave;
    }
    if (X509_set_version(x, 2) != 1) {
        goto leave;
    }
    /* 16 random bytes, positive and without a leading zero byte */
    if (acme_random_bytes(serial, sizeof(serial)) != APR_SUCCESS) {
        goto leave;
    }
    serial[0] = (unsigned char)((serial[0] & 0x7f) | 0x40);
    bn = BN_bin2bn(serial, sizeof(serial), NULL);
    if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x))) {
        goto leave;
    }
    /* valid from now-1h (clock skew), for valid_for from then */
    start = (time_t)apr_time_sec(apr_time_now()) - 3600;
    if (!ASN1_TIME_adj(X509_getm_notBefore(x), start, 0, 0)
        || !ASN1_TIME_adj(X509_getm_notAfter(x), start, 0, (long)apr_time_sec(valid_for))) {
        goto leave;
    }
    if (strlen(cn) <= 64
        && X509_NAME_add_entry_by_NID(subj, NID_commonName, MBSTRING_UTF8,
                                      (const unsigned char *)cn, -1, -1, 0) != 1) {
        goto leave;
    }
    if (X509_set_subject_name(x, subj) != 1 || X509_set_issuer_name(x, subj) != 1
        || X509_set_pubkey(x, pkey) != 1) {
        goto leave;
    }
    bc = BASIC_CONSTRAINTS_new();
    if (!bc) {
        goto leave;
    }
    bc->ca = 0;
    if (X509_add1_ext_i2d(x, NID_basic_constraints, bc, 1, X509V3_ADD_DEFAULT) != 1) {
        goto leave;
    }
    eku = sk_ASN1_OBJECT_new_null();
    if (!eku || !sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_server_auth))
        || X509_add1_ext_i2d(x, NID_ext_key_usage, eku, 0, X509V3_ADD_DEFAULT) != 1) {
        goto leave;
    }
    gens = dns_general_names(names);
    if (!gens || X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) != 1) {
        goto leave;
    }
    if (acme_id && !add_acme_identifier(x, acme_id)) {
        goto leave;
    }
    if (X509_sign(x, pkey, EVP_sha256()) <= 0) {
        goto leave;
    }
    rv = certs_pem(ppem, &plen, p, &x, 1);
leave:
    /* OBJ_nid2obj returns a static object: free only the stack */
    sk_ASN1_OBJECT_free(eku);
    GENERAL_NAMES_free(gens);
    BASIC_CONSTRAINTS_free(bc);
    BN_free(bn);
    X509_NAME_free(subj);
    X509_free(x);
    return rv;
}

apr_status_t acme_cert_ari_id(const char **pid, apr_pool_t *p, X509 *x)
{
    AUTHORITY_KEYID *akid = X509_get_ext_d2i(x, NID_authority_key_identifier, NULL, NULL);
    const ASN1_INTEGER *serial = X509_get0_serialNumber(x);
    unsigned char *der = NULL;
    int len;
    const char *a = NULL, *b;

    *pid = NULL;
    if (akid && akid->keyid && ASN1_STRING_length(akid->keyid) > 0) {
        a = acme_b64url_encode(p, ASN1_STRING_get0_data(akid->keyid),
                               (apr_size_t)ASN1_STRING_length(akid->keyid));
    }
    AUTHORITY_KEYID_free(akid);
    if (!a || !serial) {
        return APR_ENOENT;
    }
    len = i2d_ASN1_INTEGER(serial, &der);
    /* DER INTEGER: tag, one length byte (serials are at most 20 bytes), content octets */
    if (len < 3 || der[1] >= 0x80 || der[1] != len - 2) {
        OPENSSL_free(der);
        return ACME_EPROTO;
    }
    b = acme_b64url_encode(p, der + 2, (apr_size_t)(len - 2));
    OPENSSL_free(der);
    *pid = apr_pstrcat(p, a, ".", b, NULL);
    return APR_SUCCESS;
}
