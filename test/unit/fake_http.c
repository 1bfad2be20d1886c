/* Scripted acme_http_t for the unit tests (see fake_http.h). */
#include <string.h>

#include <check.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include "fake_http.h"
#include "acme_json.h"
#include "acme_util.h"

struct fake_answer_t {
    const char *method;
    const char *url;
    int status;
    const char *body;
    apr_table_t *headers;
    fake_hook_fn *hook;
    void *hook_baton;
};

struct fake_http_t {
    apr_pool_t *p;
    acme_http_t http;
    apr_thread_mutex_t *lock;
    apr_array_header_t *answers;     /* fake_answer_t* */
    int next;                        /* index of the next answer */
    apr_array_header_t *requests;    /* fake_request_t* */
    int auto_nonce;
    int nonce_counter;
};

static json_t *decode_json_b64(apr_pool_t *p, const char *b64, const char **ptext)
{
    unsigned char *data = NULL;
    apr_size_t len = 0;

    *ptext = NULL;
    if (!b64 || acme_b64url_decode(&data, &len, p, b64) != APR_SUCCESS) {
        return NULL;
    }
    *ptext = apr_pstrmemdup(p, (const char *)data, len);
    return len ? acme_json_parse(p, *ptext, len, NULL) : NULL;
}

static fake_request_t *record(fake_http_t *f, const acme_http_request_t *req)
{
    fake_request_t *r = apr_pcalloc(f->p, sizeof(*r));

    r->method = apr_pstrdup(f->p, req->method);
    r->url = apr_pstrdup(f->p, req->url);
    r->content_type = req->content_type ? apr_pstrdup(f->p, req->content_type) : NULL;
    r->accept = req->accept ? apr_pstrdup(f->p, req->accept) : NULL;
    r->body = req->body ? apr_pstrmemdup(f->p, req->body, req->body_len) : NULL;
    if (r->body && !strcmp(r->method, "POST")) {
        json_t *jws = acme_json_parse(f->p, r->body, strlen(r->body), NULL);
        const char *text = NULL;
        if (jws) {
            r->protected_hdr = decode_json_b64(f->p, acme_json_str(jws, "protected"), &text);
            r->payload_json = decode_json_b64(f->p, acme_json_str(jws, "payload"), &r->payload);
        }
    }
    APR_ARRAY_PUSH(f->requests, fake_request_t *) = r;
    return r;
}

static apr_status_t fake_perform(void *baton, acme_http_response_t **presp, apr_pool_t *p,
                                 const acme_http_request_t *req)
{
    fake_http_t *f = baton;
    fake_answer_t *a = NULL;
    fake_request_t *r;
    acme_http_response_t *resp;
    int n;

    apr_thread_mutex_lock(f->lock);
    r = record(f, req);
    n = f->requests->nelts;
    if (f->next < f->answers->nelts) {
        a = APR_ARRAY_IDX(f->answers, f->next, fake_answer_t *);
        f->next++;
    }
    apr_thread_mutex_unlock(f->lock);

    ck_assert_msg(a != NULL, "fake_http: unexpected request #%d %s %s (script exhausted)", n,
                  r->method, r->url);
    ck_assert_msg(!strcmp(a->method, r->method) && !strcmp(a->url, r->url),
                  "fake_http: request #%d is %s %s, the script expects %s %s", n, r->method,
                  r->url, a->method, a->url);
    if (!strcmp(r->method, "POST")) {
        ck_assert_msg(r->content_type && !strcmp(r->content_type, "application/jose+json"),
                      "fake_http: POST %s without Content-Type application/jose+json", r->url);
        ck_assert_msg(r->protected_hdr != NULL, "fake_http: POST %s body is not a JWS", r->url);
    }

    resp = apr_pcalloc(p, sizeof(*resp));
    resp->status = a->status;
    resp->headers = apr_table_copy(p, a->headers);
    resp->body = apr_pstrdup(p, a->body ? a->body : "");
    resp->body_len = strlen(resp->body);
    if (a->hook) {
        a->hook(a->hook_baton, r, resp, p);
        if (!resp->body) {
            resp->body = "";
        }
        resp->body_len = strlen(resp->body);
    }
    if (f->auto_nonce && strcmp(r->method, "GET")
        && !apr_table_get(resp->headers, "Replay-Nonce")) {
        apr_thread_mutex_lock(f->lock);
        n = ++f->nonce_counter;
        apr_thread_mutex_unlock(f->lock);
        apr_table_set(resp->headers, "Replay-Nonce", apr_psprintf(p, "fake-nonce-%d", n));
    }
    if (!strcmp(r->method, "HEAD")) {
        resp->body = "";
        resp->body_len = 0;
    }
    *presp = resp;
    return APR_SUCCESS;
}

fake_http_t *fake_http_create(apr_pool_t *p)
{
    fake_http_t *f = apr_pcalloc(p, sizeof(*f));
    f->p = p;
    f->http.perform = fake_perform;
    f->http.baton = f;
    apr_thread_mutex_create(&f->lock, APR_THREAD_MUTEX_DEFAULT, p);
    f->answers = apr_array_make(p, 16, sizeof(fake_answer_t *));
    f->requests = apr_array_make(p, 16, sizeof(fake_request_t *));
    f->auto_nonce = 1;
    return f;
}

acme_http_t *fake_http_get(fake_http_t *f)
{
    return &f->http;
}

void fake_http_auto_nonce(fake_http_t *f, int on)
{
    f->auto_nonce = on;
}

fake_answer_t *fake_http_expect(fake_http_t *f, const char *method, const char *url, int status,
                                const char *body)
{
    fake_answer_t *a = apr_pcalloc(f->p, sizeof(*a));
    a->method = apr_pstrdup(f->p, method);
    a->url = apr_pstrdup(f->p, url);
    a->status = status;
    a->body = body ? apr_pstrdup(f->p, body) : "";
    a->headers = apr_table_make(f->p, 5);
    if (body && (body[0] == '{' || body[0] == '[')) {
        apr_table_set(a->headers, "Content-Type", "application/json");
    }
    APR_ARRAY_PUSH(f->answers, fake_answer_t *) = a;
    return a;
}

fake_answer_t *fake_http_expect_problem(fake_http_t *f, const char *method, const char *url,
                                        int status, const char *type, const char *detail)
{
    json_t *j = acme_json_pool(f->p, json_object());
    fake_answer_t *a;

    json_object_set_new(j, "type", json_string(type));
    json_object_set_new(j, "detail", json_string(detail));
    json_object_set_new(j, "status", json_integer(status));
    a = fake_http_expect(f, method, url, status, acme_json_dump(f->p, j));
    apr_table_set(a->headers, "Content-Type", "application/problem+json");
    return a;
}

void fake_answer_header(fake_answer_t *a, const char *name, const char *value, int add)
{
    if (add) {
        apr_table_add(a->headers, name, value);
    }
    else {
        apr_table_set(a->headers, name, value);
    }
}

void fake_answer_hook(fake_answer_t *a, fake_hook_fn *fn, void *baton)
{
    a->hook = fn;
    a->hook_baton = baton;
}

int fake_http_count(fake_http_t *f)
{
    return f->requests->nelts;
}

const fake_request_t *fake_http_request(fake_http_t *f, int i)
{
    if (i < 0 || i >= f->requests->nelts) {
        return NULL;
    }
    return APR_ARRAY_IDX(f->requests, i, fake_request_t *);
}

int fake_http_remaining(fake_http_t *f)
{
    return f->answers->nelts - f->next;
}

const char *fake_http_trace(fake_http_t *f, apr_pool_t *p)
{
    const char *s = "";
    int i;
    for (i = 0; i < f->requests->nelts; ++i) {
        const fake_request_t *r = APR_ARRAY_IDX(f->requests, i, fake_request_t *);
        s = apr_pstrcat(p, s, r->method, " ", r->url, "\n", NULL);
    }
    return s;
}
