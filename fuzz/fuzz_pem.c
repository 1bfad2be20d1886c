/* libFuzzer target: certificate chains as a CA delivers them (acme_chain_parse), the facts
 * read from each certificate (serial, CN, issuer, dates, dNSName SANs, ARI certificate id)
 * and the activation check (key match, SANs, validity).
 * Input: PEM text when it starts with '-', else the DER of one certificate (wrapped in PEM
 * here, so mutations reach the ASN.1 of the certificate itself). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_strings.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "fuzz_common.h"
#include "acme_cert.h"
#include "acme_verify.h"
#include "acme_crypto.h"
#include "acme_util.h"

/* Every name acme_cert_info reports is, byte for byte (case aside), a dNSName of x. */
static void check_names(const acme_cert_info_t *info, X509 *x)
{
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    int i, j, found;

    for (i = 0; i < info->names->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(info->names, i, const char *);
        found = 0;
        for (j = 0; gens && j < sk_GENERAL_NAME_num(gens) && !found; ++j) {
            const GENERAL_NAME *gn = sk_GENERAL_NAME_value(gens, j);
            if (gn->type == GEN_DNS) {
                const ASN1_IA5STRING *ia5 = gn->d.dNSName;
                size_t len = (size_t)ASN1_STRING_length(ia5);
                found = len == strlen(name)
                        && !strncasecmp((const char *)ASN1_STRING_get0_data(ia5), name, len);
            }
        }
        if (!found) {
            fprintf(stderr, "acme_cert_info reports the name '%s' the certificate lacks\n",
                    name);
            __builtin_trap();
        }
    }
    GENERAL_NAMES_free(gens);
}

static const char *as_pem(apr_pool_t *p, const uint8_t *data, size_t size, apr_size_t *plen)
{
    const char *pem;
    int b64len;
    unsigned char *b64;

    if (size > 0 && data[0] == '-') {
        *plen = size;
        return (const char *)data;   /* libFuzzer's own exact-size buffer: over-reads show */
    }
    b64 = apr_palloc(p, 4 * ((size + 2) / 3) + 1);
    b64len = EVP_EncodeBlock(b64, data, (int)size);
    pem = apr_pstrcat(p, "-----BEGIN CERTIFICATE-----\n", (const char *)b64,
                      "\n-----END CERTIFICATE-----\n", NULL);
    (void)b64len;
    *plen = strlen(pem);
    return pem;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static acme_key_t *key;
    static apr_pool_t *kp;
    apr_pool_t *p = fuzz_pool();
    apr_array_header_t *chain = NULL, *want;
    const apr_time_t now = apr_time_from_sec(1764460800);
    const char *pem, *why = NULL, *id = NULL;
    apr_size_t len = 0;
    int i;

    if (!key) {
        kp = fuzz_pool();
        if (acme_key_generate(&key, kp, ACME_KEY_EC_P256) != APR_SUCCESS) {
            abort();
        }
    }
    if (size > 256 * 1024) {
        goto leave;
    }
    pem = as_pem(p, data, size, &len);
    if (acme_chain_parse(&chain, p, pem, len) == APR_SUCCESS) {
        acme_cert_info_t *info = NULL;
        for (i = 0; i < chain->nelts; ++i) {
            X509 *x = APR_ARRAY_IDX(chain, i, X509 *);
            if (acme_cert_info(&info, p, x) == APR_SUCCESS) {
                check_names(info, x);
                acme_names_normalize(p, info->names);
                acme_time_rfc3339(p, info->not_after);
            }
            acme_cert_ari_id(&id, p, x);
        }
        /* the activation check, once with names the leaf has (so the later checks run) */
        if (acme_cert_info(&info, p, APR_ARRAY_IDX(chain, 0, X509 *)) == APR_SUCCESS) {
            want = acme_names_normalize(p, info->names);
            if (acme_cert_verify_set(&why, p, pem, len, key, want, now) == APR_SUCCESS) {
                __builtin_trap();   /* a leaf for another key must never pass */
            }
        }
    }
    want = apr_array_make(p, 1, sizeof(const char *));
    APR_ARRAY_PUSH(want, const char *) = "www.example.org";
    if (acme_cert_verify_set(&why, p, pem ? pem : "", len, key, want, now) == APR_SUCCESS) {
        __builtin_trap();
    }
leave:
    apr_pool_destroy(p);
    return 0;
}
