/* ACMEKeyTypes: the list, the ids of the certificates of one name set, their specs. */
#include <apr_strings.h>

#include "acme_keytypes.h"
#include "acme_util.h"

/* ECDSA or RSA: TLS (OpenSSL) holds one certificate per algorithm. */
static int is_ec(acme_key_type_t t)
{
    return t == ACME_KEY_EC_P256 || t == ACME_KEY_EC_P384;
}

apr_status_t acme_key_types_parse(apr_array_header_t **ptypes, const char **perr,
                                  apr_pool_t *p, int argc, const char *const *argv)
{
    apr_array_header_t *types = apr_array_make(p, argc > 0 ? argc : 1, sizeof(int));
    apr_status_t rv = APR_EINVAL;
    int i, j;

    *ptypes = NULL;
    *perr = NULL;
    if (argc < 1) {
        *perr = "needs at least one key type: p256, p384, rsa2048, rsa3072 or rsa4096";
        goto leave;
    }
    for (i = 0; i < argc; ++i) {
        acme_key_type_t t;
        if (acme_key_type_parse(&t, argv[i]) != APR_SUCCESS) {
            *perr = apr_psprintf(p, "'%s' is not a key type: use p256, p384, rsa2048, "
                                 "rsa3072 or rsa4096", argv[i]);
            goto leave;
        }
        for (j = 0; j < types->nelts; ++j) {
            acme_key_type_t u = (acme_key_type_t)APR_ARRAY_IDX(types, j, int);
            if (u == t) {
                *perr = apr_psprintf(p, "%s is listed twice", acme_key_type_name(t));
                goto leave;
            }
            if (is_ec(u) == is_ec(t)) {
                *perr = apr_psprintf(p, "%s and %s are both %s keys: a client is served one "
                                     "certificate per algorithm, so list at most one ECDSA "
                                     "type (p256, p384) and one RSA type (rsa2048, rsa3072, "
                                     "rsa4096)", acme_key_type_name(u), acme_key_type_name(t),
                                     is_ec(t) ? "ECDSA" : "RSA");
                goto leave;
            }
        }
        APR_ARRAY_PUSH(types, int) = (int)t;
    }
    *ptypes = types;
    rv = APR_SUCCESS;
leave:
    return rv;
}

const char *acme_key_types_text(apr_pool_t *p, const apr_array_header_t *types)
{
    const char *text = NULL;
    int i;

    for (i = 0; types && i < types->nelts; ++i) {
        const char *name = acme_key_type_name((acme_key_type_t)APR_ARRAY_IDX(types, i, int));
        text = text ? apr_pstrcat(p, text, " ", name, NULL) : name;
    }
    return text;
}

const char *acme_key_type_cert_id(apr_pool_t *p, const char *base_id,
                                  const apr_array_header_t *types, int i)
{
    if (i <= 0 || !types || i >= types->nelts) {
        return base_id;
    }
    return apr_pstrcat(p, base_id, ACME_KEY_TYPE_ID_SEP,
                       acme_key_type_name((acme_key_type_t)APR_ARRAY_IDX(types, i, int)), NULL);
}

void acme_key_type_spec(acme_spec_t *to, apr_pool_t *p, const acme_spec_t *from,
                        const apr_array_header_t *types, int i)
{
    acme_spec_copy(to, from);
    to->cert.id = acme_key_type_cert_id(p, from->cert.id, types, i);
    to->cert.key_type = (acme_key_type_t)APR_ARRAY_IDX(types, i, int);
    to->plan.key = acme_key_type_name(to->cert.key_type);
    to->cert.reuse_key = NULL;          /* the live key of the first type is not this one's */
    to->cert.reuse_key_len = 0;
}

int *acme_key_types_wait(apr_pool_t *p, const apr_array_header_t *const *names, int n)
{
    int *wait = apr_pcalloc(p, sizeof(int) * (apr_size_t)(n + 1));
    const char **joined = apr_pcalloc(p, sizeof(const char *) * (apr_size_t)(n + 1));
    int k, j;

    for (k = 0; k < n; ++k) {
        joined[k] = names[k] ? acme_names_join(p, names[k], " ") : "";
        for (j = 0; j < k && !wait[k]; ++j) {
            wait[k] = !wait[j] && !strcmp(joined[j], joined[k]);
        }
    }
    return wait;
}
