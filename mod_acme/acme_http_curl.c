/* The libcurl implementation of acme_http_t: the only file of the core that includes curl.
 *
 * One CURLSH per acme_http_t shares connections, DNS answers and TLS sessions between all
 * requests, whatever thread sends them (lock callbacks on apr mutexes, one per data kind).
 * Each request uses an easy handle of its own attached to the share, so requests of several
 * threads run at once and still reuse the connections kept in the shared cache. Handles are
 * kept for the next request (reset, not freed): making and freeing one per request cost
 * ~0.15 ms of CPU a certificate (measured during a 1,000-certificate issuance). */
#include <stdlib.h>
#include <string.h>

#define CURL_DISABLE_TYPECHECK 1   /* calls go through the table below */
#include <curl/curl.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <apr_allocator.h>
#include <apr_dso.h>

#include "acme_http.h"
#include "acme_log.h"
#include "acme_util.h"

#define ACME_HTTP_CONNECT_MAX apr_time_from_sec(30)        /* connect timeout cap */
#define ACME_HTTP_IDLE_MAX    64      /* easy handles kept between requests (one a thread) */

typedef struct curl_http_t {
    CURLSH *share;
    apr_thread_mutex_t *locks[CURL_LOCK_DATA_LAST];
    apr_thread_mutex_t *idle_lock;
    CURL *idle[ACME_HTTP_IDLE_MAX];     /* reset handles, attached to share */
    int nidle;
    const char *ca_file;
    const char *user_agent;
    apr_interval_time_t timeout;
} curl_http_t;

typedef struct curl_xfer_t {
    apr_pool_t *p;
    apr_table_t *headers;
    char *buf;                  /* malloc'ed while receiving, copied to the pool at the end */
    apr_size_t len, cap;
    int too_large;
} curl_xfer_t;

/* libcurl is loaded when the first HTTP layer is set up, not linked: the root parent of
 * httpd and the children that serve requests never talk to a CA, and libcurl with its
 * dependencies (GnuTLS, Kerberos, LDAP, ssh, ...) cost each of them about 4 MB of
 * resident mapped pages and 0.7 MB of relocated data. */
#ifndef ACME_LIBCURL
#define ACME_LIBCURL "libcurl.so.4"
#endif

static struct {
    CURLcode (*global_init)(long flags);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *curl, CURLoption option, ...);
    CURLcode (*easy_perform)(CURL *curl);
    CURLcode (*easy_getinfo)(CURL *curl, CURLINFO info, ...);
    void (*easy_cleanup)(CURL *curl);
    void (*easy_reset)(CURL *curl);
    const char *(*easy_strerror)(CURLcode rc);
    struct curl_slist *(*slist_append)(struct curl_slist *list, const char *s);
    void (*slist_free_all)(struct curl_slist *list);
    CURLSH *(*share_init)(void);
    CURLSHcode (*share_setopt)(CURLSH *share, CURLSHoption option, ...);
    CURLSHcode (*share_cleanup)(CURLSH *share);
} cf;

static int curl_initialized;
static apr_allocator_t *curl_allocator;   /* of the pool that holds the library */

static apr_status_t curl_load(void)
{
    static const char *const names[] = {
        "curl_global_init", "curl_easy_init", "curl_easy_setopt", "curl_easy_perform",
        "curl_easy_getinfo", "curl_easy_cleanup", "curl_easy_reset", "curl_easy_strerror",
        "curl_slist_append",
        "curl_slist_free_all", "curl_share_init", "curl_share_setopt", "curl_share_cleanup",
    };
    apr_dso_handle_sym_t *slot = (apr_dso_handle_sym_t *)&cf;
    apr_dso_handle_t *dso;
    apr_pool_t *p;
    apr_status_t rv;
    char err[256];
    size_t i;

    /* a pool of its own, never destroyed: the library stays loaded for the process (no
     * cleanup at exit can then unload it under OpenSSL's or libcurl's own exit handlers).
     * Its allocator is made here and kept in a static: APR's own for an unmanaged pool is
     * reachable only from pool memory, which Debian's APR maps with mmap, where
     * LeakSanitizer does not look, so every process reported it as a leak. */
    if ((rv = apr_allocator_create(&curl_allocator)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = apr_pool_create_unmanaged_ex(&p, NULL, curl_allocator)) != APR_SUCCESS) {
        apr_allocator_destroy(curl_allocator);
        curl_allocator = NULL;
        return rv;
    }
    apr_allocator_owner_set(curl_allocator, p);
    if ((rv = apr_dso_load(&dso, ACME_LIBCURL, p)) != APR_SUCCESS) {
        acme_log(ACME_LOG_ERR, rv, ACMELOGNO(00701) "cannot load %s: %s", ACME_LIBCURL,
                 apr_dso_error(dso, err, sizeof(err)));
        goto leave;
    }
    for (i = 0; i < sizeof(names) / sizeof(names[0]); ++i) {
        if ((rv = apr_dso_sym(&slot[i], dso, names[i])) != APR_SUCCESS) {
            acme_log(ACME_LOG_ERR, rv, ACMELOGNO(00702) "%s has no %s", ACME_LIBCURL,
                     names[i]);
            goto leave;
        }
    }
leave:
    if (rv != APR_SUCCESS) {
        memset(&cf, 0, sizeof(cf));
        apr_pool_destroy(p);      /* and its allocator (owner) */
        curl_allocator = NULL;
    }
    return rv;
}

apr_status_t acme_http_curl_global_init(void)
{
    apr_status_t rv;

    if (!curl_initialized) {
        if ((rv = curl_load()) != APR_SUCCESS) {
            return rv;
        }
        if (cf.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            return APR_EGENERAL;
        }
        curl_initialized = 1;
    }
    return APR_SUCCESS;
}

static void share_lock(CURL *handle, curl_lock_data data, curl_lock_access access, void *userptr)
{
    curl_http_t *h = userptr;
    if (data >= 0 && data < CURL_LOCK_DATA_LAST && h->locks[data]) {
        apr_thread_mutex_lock(h->locks[data]);
    }
}

static void share_unlock(CURL *handle, curl_lock_data data, void *userptr)
{
    curl_http_t *h = userptr;
    if (data >= 0 && data < CURL_LOCK_DATA_LAST && h->locks[data]) {
        apr_thread_mutex_unlock(h->locks[data]);
    }
}

/* A handle for one request: a kept one, or a new one. */
static CURL *handle_take(curl_http_t *h)
{
    CURL *curl = NULL;

    apr_thread_mutex_lock(h->idle_lock);
    if (h->nidle > 0) {
        curl = h->idle[--h->nidle];
    }
    apr_thread_mutex_unlock(h->idle_lock);
    return curl ? curl : cf.easy_init();
}

/* After the request: reset (its options and state go; the share's connections stay) and
 * kept for the next one, or freed when enough are kept. */
static void handle_give(curl_http_t *h, CURL *curl)
{
    cf.easy_reset(curl);
    apr_thread_mutex_lock(h->idle_lock);
    if (h->share && h->nidle < ACME_HTTP_IDLE_MAX) {
        h->idle[h->nidle++] = curl;
        curl = NULL;
    }
    apr_thread_mutex_unlock(h->idle_lock);
    if (curl) {
        cf.easy_cleanup(curl);
    }
}

static apr_status_t share_cleanup(void *data)
{
    curl_http_t *h = data;
    while (h->nidle > 0) {      /* the share is in use while a handle is attached */
        cf.easy_cleanup(h->idle[--h->nidle]);
    }
    if (h->share) {
        cf.share_cleanup(h->share);
        h->share = NULL;
    }
    return APR_SUCCESS;
}

static size_t on_header(char *data, size_t size, size_t nitems, void *userdata)
{
    curl_xfer_t *x = userdata;
    apr_size_t n = size * nitems, len = n;
    const char *colon;
    char *name, *value;

    while (len > 0 && (data[len - 1] == '\r' || data[len - 1] == '\n')) {
        --len;
    }
    if (len == 0) {
        return n;
    }
    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        /* a new response starts (after 1xx, proxy CONNECT, ...): forget earlier headers */
        apr_table_clear(x->headers);
        return n;
    }
    colon = memchr(data, ':', len);
    if (!colon || colon == data) {
        return n;
    }
    name = apr_pstrmemdup(x->p, data, (apr_size_t)(colon - data));
    ++colon;
    while (colon < data + len && (*colon == ' ' || *colon == '\t')) {
        ++colon;
    }
    value = apr_pstrmemdup(x->p, colon, (apr_size_t)(data + len - colon));
    apr_table_add(x->headers, name, value);
    return n;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    curl_xfer_t *x = userdata;
    apr_size_t n = size * nmemb;

    if (x->len + n > ACME_HTTP_MAX_BODY) {
        x->too_large = 1;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (x->len + n > x->cap) {
        apr_size_t cap = x->cap ? x->cap : 8192;
        char *nbuf;
        while (cap < x->len + n) {
            cap *= 2;
        }
        nbuf = realloc(x->buf, cap);
        if (!nbuf) {
            return 0;
        }
        x->buf = nbuf;
        x->cap = cap;
    }
    memcpy(x->buf + x->len, data, n);
    x->len += n;
    return n;
}

/* What went wrong, as a status and in words (curl's own text in parentheses). */
static apr_status_t curl_failure(const char **pwhy, apr_pool_t *p, const curl_http_t *h,
                                 CURLcode rc, const char *errbuf, const curl_xfer_t *x,
                                 int connected)
{
    const char *detail = errbuf[0] ? errbuf : cf.easy_strerror(rc);
    const char *trust = h->ca_file ? apr_psprintf(p, "the CA file %s (ACMEServerCAFile)",
                                                  h->ca_file)
                                   : "the system's trust store (no ACMEServerCAFile)";

    if (x->too_large) {
        *pwhy = apr_psprintf(p, "the answer is larger than the limit of %d bytes: cut off "
                             "after %lu bytes", ACME_HTTP_MAX_BODY, (unsigned long)x->len);
        return ACME_ETOOLARGE;
    }
    if (rc == CURLE_UNSUPPORTED_PROTOCOL && connected) {
        rc = CURLE_WEIRD_SERVER_REPLY;   /* e.g. "Received HTTP/0.9": the server's answer */
    }
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
        *pwhy = apr_psprintf(p, "connection refused or unreachable (%s)", detail);
        return APR_ECONNREFUSED;
    case CURLE_OPERATION_TIMEDOUT:
        *pwhy = apr_psprintf(p, "timeout: no complete answer within %s (ACMETimeout; %s)",
                             acme_duration_print(p, h->timeout), detail);
        return APR_TIMEUP;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        *pwhy = apr_psprintf(p, "the host name does not resolve (%s)", detail);
        return APR_EHOSTUNREACH;
    case CURLE_PEER_FAILED_VERIFICATION:
        *pwhy = apr_psprintf(p, "TLS verification of the CA's server failed against %s (%s)",
                             trust, detail);
        return ACME_ETLS;
    case CURLE_SSL_CACERT_BADFILE:
        *pwhy = apr_psprintf(p, "%s cannot be read as PEM trust anchors (%s)", trust, detail);
        return h->ca_file ? ACME_ETRUST : ACME_ETLS;
    case CURLE_SSL_CONNECT_ERROR:
        *pwhy = apr_psprintf(p, "the TLS handshake failed (%s)", detail);
        return ACME_ETLS;
    case CURLE_GOT_NOTHING:
        *pwhy = apr_psprintf(p, "the connection closed without an answer (%s)", detail);
        return APR_ECONNRESET;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
        *pwhy = apr_psprintf(p, "connection reset or broken after %lu bytes of the answer (%s)",
                             (unsigned long)x->len, detail);
        return APR_ECONNRESET;
    case CURLE_PARTIAL_FILE:
        *pwhy = apr_psprintf(p, "truncated answer: the connection closed after %lu bytes, "
                             "before the announced end (%s)", (unsigned long)x->len, detail);
        return ACME_ETRUNCATED;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_BAD_CONTENT_ENCODING:
        *pwhy = apr_psprintf(p, "the answer is not valid HTTP (%s)", detail);
        return ACME_EHTTP;
    case CURLE_OUT_OF_MEMORY:
        *pwhy = "out of memory";
        return APR_ENOMEM;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        *pwhy = apr_psprintf(p, "the URL is not usable (%s)", detail);
        return APR_EINVAL;
    default:
        *pwhy = apr_psprintf(p, "curl error %d (%s)", (int)rc, detail);
        return APR_EGENERAL;
    }
}

static long ms_of(apr_interval_time_t t)
{
    return (long)(t / 1000);
}

static apr_status_t curl_perform(void *baton, acme_http_response_t **presp, apr_pool_t *p,
                                 const acme_http_request_t *req)
{
    curl_http_t *h = baton;
    curl_xfer_t x;
    CURL *curl = NULL;
    struct curl_slist *hdrs = NULL;
    char errbuf[CURL_ERROR_SIZE];
    acme_http_response_t *resp;
    apr_status_t rv = APR_SUCCESS;
    CURLcode rc;
    long code = 0, nconn = 0;

    *presp = NULL;
    memset(&x, 0, sizeof(x));
    x.p = p;
    x.headers = apr_table_make(p, 10);
    errbuf[0] = '\0';

    if (!req->method || !req->url) {
        rv = APR_EINVAL;
        goto leave;
    }
    curl = handle_take(h);
    if (!curl) {
        rv = APR_ENOMEM;
        goto leave;
    }
    cf.easy_setopt(curl, CURLOPT_SHARE, h->share);
    /* the shared cache keeps a connection per order in flight (ACMEMaxParallel, at most
     * 256): with libcurl's default of 5, every request of 32 threads closed another's idle
     * connection and the next one paid a new TLS handshake */
    cf.easy_setopt(curl, CURLOPT_MAXCONNECTS, 300L);
    cf.easy_setopt(curl, CURLOPT_URL, req->url);
    cf.easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    cf.easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    cf.easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    cf.easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    cf.easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    cf.easy_setopt(curl, CURLOPT_HEADERDATA, &x);
    cf.easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    cf.easy_setopt(curl, CURLOPT_WRITEDATA, &x);
    if (h->user_agent) {
        cf.easy_setopt(curl, CURLOPT_USERAGENT, h->user_agent);
    }
    if (h->ca_file) {
        cf.easy_setopt(curl, CURLOPT_CAINFO, h->ca_file);
    }
    if (h->timeout > 0) {
        apr_interval_time_t ct = h->timeout < ACME_HTTP_CONNECT_MAX ? h->timeout
                                                                     : ACME_HTTP_CONNECT_MAX;
        cf.easy_setopt(curl, CURLOPT_TIMEOUT_MS, ms_of(h->timeout));
        cf.easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, ms_of(ct));
    }

    hdrs = cf.slist_append(hdrs, "Expect:");
    if (req->accept) {
        hdrs = cf.slist_append(hdrs, apr_pstrcat(p, "Accept: ", req->accept, NULL));
    }
    if (!strcmp(req->method, "HEAD")) {
        cf.easy_setopt(curl, CURLOPT_NOBODY, 1L);
    }
    else if (!strcmp(req->method, "POST")) {
        cf.easy_setopt(curl, CURLOPT_POST, 1L);
        cf.easy_setopt(curl, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        cf.easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(req->body ? req->body_len : 0));
        if (req->content_type) {
            hdrs = cf.slist_append(hdrs, apr_pstrcat(p, "Content-Type: ", req->content_type,
                                                       NULL));
        }
    }
    else if (strcmp(req->method, "GET")) {
        rv = APR_ENOTIMPL;
        goto leave;
    }
    cf.easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);

    rc = cf.easy_perform(curl);
    if (rc != CURLE_OK) {
        char *ip = NULL;
        cf.easy_getinfo(curl, CURLINFO_PRIMARY_IP, &ip);
        resp = apr_pcalloc(p, sizeof(*resp));
        resp->headers = x.headers;
        resp->body = "";
        rv = curl_failure(&resp->error, p, h, rc, errbuf, &x, ip && *ip);
        *presp = resp;
        acme_log(ACME_LOG_DEBUG, rv, ACMELOGNO(00207) "%s %s: curl error %d: %s", req->method,
                 req->url, (int)rc, resp->error);
        if (rv == ACME_ETRUST) {
            acme_log(ACME_LOG_ERR, 0, ACMELOGNO(00123) "cannot load the CA file %s "
                     "(ACMEServerCAFile) for TLS to %s: %s: check that it exists, that the "
                     "server's User can read it and that it holds PEM certificates", h->ca_file, req->url,
                     resp->error);
        }
        goto leave;
    }
    cf.easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    cf.easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &nconn);

    resp = apr_pcalloc(p, sizeof(*resp));
    resp->status = (int)code;
    resp->headers = x.headers;
    resp->body_len = x.len;
    {
        char *body = apr_palloc(p, x.len + 1);
        if (x.len) {
            memcpy(body, x.buf, x.len);
        }
        body[x.len] = '\0';
        resp->body = body;
    }
    *presp = resp;
    acme_log(ACME_LOG_TRACE1, APR_SUCCESS, ACMELOGNO(00208) "%s %s -> %d (%lu bytes, %s "
             "connection)", req->method, req->url, resp->status, (unsigned long)resp->body_len,
             nconn > 0 ? "new" : "reused");

leave:
    if (curl) {
        handle_give(h, curl);
    }
    if (hdrs) {
        cf.slist_free_all(hdrs);
    }
    free(x.buf);
    return rv;
}

apr_status_t acme_http_curl_create(acme_http_t **phttp, apr_pool_t *p, const char *ca_file,
                                   const char *user_agent, apr_interval_time_t timeout)
{
    curl_http_t *h;
    acme_http_t *http;
    apr_status_t rv = APR_SUCCESS;
    int i;

    *phttp = NULL;
    rv = acme_http_curl_global_init();
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    h = apr_pcalloc(p, sizeof(*h));
    h->ca_file = ca_file ? apr_pstrdup(p, ca_file) : NULL;
    h->user_agent = apr_pstrdup(p, user_agent ? user_agent : ACME_USER_AGENT);
    h->timeout = timeout;
    for (i = 0; i < CURL_LOCK_DATA_LAST; ++i) {
        rv = apr_thread_mutex_create(&h->locks[i], APR_THREAD_MUTEX_DEFAULT, p);
        if (rv != APR_SUCCESS) {
            goto leave;
        }
    }
    if ((rv = apr_thread_mutex_create(&h->idle_lock, APR_THREAD_MUTEX_DEFAULT, p))
        != APR_SUCCESS) {
        goto leave;
    }
    h->share = cf.share_init();
    if (!h->share) {
        rv = APR_ENOMEM;
        goto leave;
    }
    apr_pool_cleanup_register(p, h, share_cleanup, apr_pool_cleanup_null);
    if (cf.share_setopt(h->share, CURLSHOPT_LOCKFUNC, share_lock) != CURLSHE_OK
        || cf.share_setopt(h->share, CURLSHOPT_UNLOCKFUNC, share_unlock) != CURLSHE_OK
        || cf.share_setopt(h->share, CURLSHOPT_USERDATA, h) != CURLSHE_OK
        || cf.share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK
        || cf.share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK
        || cf.share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION)
               != CURLSHE_OK) {
        rv = APR_EGENERAL;
        acme_log(ACME_LOG_ERR, rv, ACMELOGNO(00209) "setting up the shared curl handle failed");
        goto leave;
    }
    http = apr_pcalloc(p, sizeof(*http));
    http->perform = curl_perform;
    http->baton = h;
    *phttp = http;
leave:
    return rv;
}
