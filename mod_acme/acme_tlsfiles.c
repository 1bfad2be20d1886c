/* Certificate files an admin configured for mod_ssl: do they load and match? */
#include <ctype.h>
#include <string.h>

#include <apr_strings.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "acme.h"
#include "acme_tlsfiles.h"

int acme_tls_is_uri(const char *name)
{
    const char *s = name;
    if (!s || !isalpha((unsigned char)*s)) {
        return 0;
    }
    while (isalnum((unsigned char)*s) || *s == '+' || *s == '-' || *s == '.') {
        ++s;
    }
    return *s == ':';
}

/* PEM password callback: never asks, notes that a password was wanted */
static int no_password(char *buf, int size, int rwflag, void *u)
{
    *(int *)u = 1;
    return -1;
}

apr_status_t acme_tls_pair_check(const char **pwhy, apr_pool_t *p, const char *cert_file,
                                 const char *key_file)
{
    const char *kf = key_file ? key_file : cert_file;
    BIO *bio = NULL;
    X509 *x = NULL;
    EVP_PKEY *key = NULL;
    int wanted_password = 0;
    apr_status_t rv = ACME_EVERIFY;

    *pwhy = NULL;
    if (acme_tls_is_uri(cert_file) || acme_tls_is_uri(kf)) {
        *pwhy = "a URI for an engine or provider: not checked";
        rv = APR_ENOTIMPL;
        goto leave;
    }
    if (!(bio = BIO_new_file(cert_file, "r"))) {
        *pwhy = apr_psprintf(p, "cannot read %s", cert_file);
        goto leave;
    }
    x = PEM_read_bio_X509(bio, NULL, no_password, &wanted_password);
    BIO_free(bio);
    if (!x) {
        *pwhy = apr_psprintf(p, "no PEM certificate in %s", cert_file);
        goto leave;
    }
    if (!(bio = BIO_new_file(kf, "r"))) {
        *pwhy = apr_psprintf(p, "cannot read %s", kf);
        goto leave;
    }
    wanted_password = 0;
    key = PEM_read_bio_PrivateKey(bio, NULL, no_password, &wanted_password);
    BIO_free(bio);
    if (!key && wanted_password) {
        *pwhy = apr_psprintf(p, "the key in %s is encrypted: not checked", kf);
        rv = APR_ENOTIMPL;
        goto leave;
    }
    if (!key) {
        *pwhy = apr_psprintf(p, "no PEM private key in %s", kf);
        goto leave;
    }
    if (EVP_PKEY_eq(X509_get0_pubkey(x), key) != 1) {
        *pwhy = apr_psprintf(p, "the certificate in %s and the private key in %s do not "
                                "match", cert_file, kf);
        goto leave;
    }
    rv = APR_SUCCESS;
leave:
    ERR_clear_error();
    X509_free(x);
    EVP_PKEY_free(key);
    return rv;
}
