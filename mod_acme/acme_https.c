/* ACMERequireHttps: the redirect and HSTS policy (see acme_https.h). */
#include <string.h>
#include <strings.h>

#include <apr_strings.h>
#include <apr_lib.h>

#include "acme_https.h"

#define CHALLENGE_PREFIX "/.well-known/acme-challenge/"

static const char *const mode_names[] = { "off", "temporary", "permanent" };

apr_status_t acme_https_mode_parse(acme_https_mode_t *pmode, const char *arg)
{
    apr_status_t rv = APR_EINVAL;
    int i;

    for (i = 0; arg && i < (int)(sizeof(mode_names) / sizeof(mode_names[0])); ++i) {
        if (!strcasecmp(arg, mode_names[i])) {
            *pmode = (acme_https_mode_t)i;
            rv = APR_SUCCESS;
            goto leave;
        }
    }
leave:
    return rv;
}

const char *acme_https_mode_name(acme_https_mode_t mode)
{
    return (int)mode >= 0 && mode <= ACME_HTTPS_PERMANENT ? mode_names[mode] : "?";
}

int acme_https_host_port(const char *host_header)
{
    const char *colon, *c;
    long port = 0;

    if (!host_header) {
        goto leave;
    }
    if (host_header[0] == '[') {
        const char *end = strchr(host_header, ']');
        colon = end && end[1] == ':' ? end + 1 : NULL;
    }
    else {
        colon = strrchr(host_header, ':');
    }
    if (!colon || !colon[1] || strlen(colon + 1) > 5) {
        goto leave;
    }
    for (c = colon + 1; *c; ++c) {
        if (!apr_isdigit(*c)) {
            port = 0;
            goto leave;
        }
        port = port * 10 + (*c - '0');
    }
    if (port > 65535) {
        port = 0;
    }
leave:
    return (int)port;
}

/* No control character or space: what goes into the Location header stays one header. */
static int printable(const char *s)
{
    for (; s && *s; ++s) {
        if ((unsigned char)*s <= 0x20 || *s == 0x7f) {
            return 0;
        }
    }
    return 1;
}

/* The https URL of req: same host, the mapped port, the path and query as sent. */
static const char *location(apr_pool_t *p, const acme_https_request_t *req)
{
    int sent = acme_https_host_port(req->host_header);
    const char *port = "";

    if (sent && sent != 80 && sent == req->port_http && req->port_https != 443) {
        port = apr_psprintf(p, ":%d", req->port_https);
    }
    return apr_pstrcat(p, "https://", req->host, port, req->path,
                       req->query ? "?" : "", req->query ? req->query : "", NULL);
}

apr_status_t acme_https_decide(acme_https_answer_t **pans, apr_pool_t *p,
                               const acme_https_request_t *req)
{
    acme_https_answer_t *ans = apr_pcalloc(p, sizeof(*ans));

    *pans = ans;
    if (req->mode == ACME_HTTPS_OFF || !req->cert_live || !req->host || !*req->host) {
        goto leave;
    }
    if (req->is_tls) {
        ans->hsts = req->mode == ACME_HTTPS_PERMANENT ? ACME_HSTS_VALUE : NULL;
        goto leave;
    }
    if (!req->path || req->path[0] != '/'
        || !strncmp(req->path, CHALLENGE_PREFIX, sizeof(CHALLENGE_PREFIX) - 1)
        || !printable(req->path) || !printable(req->query) || !printable(req->host)) {
        goto leave;
    }
    ans->status = req->mode == ACME_HTTPS_PERMANENT ? 301 : 302;
    ans->location = location(p, req);
leave:
    return APR_SUCCESS;
}
