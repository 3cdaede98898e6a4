/* Outgoing HTTP over libcurl: see chat_fetch.h. */
#include <apr_atomic.h>
#include <apr_strings.h>
#include <curl/curl.h>

#include "chat_fetch.h"

static volatile apr_uint32_t aborting;

void chat_fetch_global_init(void)
{
    static int done;
    if (!done) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        done = 1;
    }
}

void chat_fetch_abort_all(void)
{
    apr_atomic_set32(&aborting, 1);
}

typedef struct sink {
    apr_pool_t *p;
    char *buf;
    apr_size_t len, cap, max;
    int too_large;
    CURL *h;
    chat_fetch_data_fn fn; /* a 200's body goes here as it comes, not to buf */
    void *ctx;
    apr_size_t streamed;
    int stopped;
} sink;

static size_t on_data(char *ptr, size_t size, size_t n, void *data)
{
    sink *s = data;
    apr_size_t add = size * n;
    long status = 0;

    if (s->max && s->len + s->streamed + add > s->max) {
        s->too_large = 1;
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    }
    if (s->fn && curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
        status == 200) {
        s->streamed += add;
        if (s->fn(s->ctx, ptr, add)) {
            s->stopped = 1;
            return 0;
        }
        return add;
    }
    if (s->len + add + 1 > s->cap) {
        apr_size_t cap = s->cap ? s->cap : 4096;
        char *nb;
        while (cap < s->len + add + 1) {
            cap *= 2;
        }
        nb = apr_palloc(s->p, cap);
        if (s->len) {
            memcpy(nb, s->buf, s->len);
        }
        s->buf = nb;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, ptr, add);
    s->len += add;
    return add;
}

static int on_progress(void *data, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)data, (void)dt, (void)dn, (void)ut, (void)un;
    return apr_atomic_read32(&aborting) ? 1 : 0;
}

static void fetch(apr_pool_t *p, const char *url, const apr_array_header_t *headers,
                  const char *body, apr_interval_time_t timeout, apr_size_t max_bytes,
                  chat_fetch_data_fn fn, void *ctx, chat_fetch_reply *out)
{
    CURL *h;
    struct curl_slist *hl = NULL;
    sink s = {p, NULL, 0, 0, max_bytes, 0, NULL, fn, ctx, 0, 0};
    CURLcode rc;
    char *ctype = NULL;
    long status = 0;
    int i;

    memset(out, 0, sizeof(*out));
    if (apr_atomic_read32(&aborting)) {
        out->error = "server stopping";
        out->body = "";
        return;
    }
    if (!(h = curl_easy_init())) {
        out->error = "cannot create an HTTP client";
        out->body = "";
        return;
    }
    s.h = h;
    for (i = 0; headers && i < headers->nelts; i++) {
        hl = curl_slist_append(hl, APR_ARRAY_IDX(headers, i, const char *));
    }
    if (body) {
        hl = curl_slist_append(hl, "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    hl = curl_slist_append(hl, "Expect:"); /* no 100-continue round trip */
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS timeouts */
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)apr_time_as_msec(timeout));
    curl_easy_setopt(
        h, CURLOPT_CONNECTTIMEOUT_MS,
        (long)apr_time_as_msec(timeout < apr_time_from_sec(10) ? timeout : apr_time_from_sec(10)));
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L); /* an allow-listed URL stays allow-listed */
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);     /* and the path sent is the path checked */
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "mod_chat");
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    if (max_bytes) {
        curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max_bytes);
    }
    rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ctype);
    out->status = (int)status;
    out->content_type = ctype ? apr_pstrdup(p, ctype) : NULL;
    if (rc == CURLE_FILESIZE_EXCEEDED || s.too_large) {
        out->too_large = 1;
        out->error =
            apr_psprintf(p, "the answer is larger than %" APR_SIZE_T_FMT " bytes", max_bytes);
    }
    else if (rc == CURLE_OPERATION_TIMEDOUT) {
        out->timed_out = 1;
        out->error =
            apr_psprintf(p, "no answer within %" APR_TIME_T_FMT " s", apr_time_sec(timeout));
    }
    else if (s.stopped) {
        out->error = "the answer could not be read";
    }
    else if (rc == CURLE_ABORTED_BY_CALLBACK) {
        out->error = "server stopping";
    }
    else if (rc != CURLE_OK) {
        out->error = apr_pstrdup(p, curl_easy_strerror(rc));
    }
    out->body = s.buf ? (s.buf[s.len] = '\0', s.buf) : "";
    out->len = s.len;
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
}

void chat_fetch_request(apr_pool_t *p, const char *url, const apr_array_header_t *headers,
                        const char *body, apr_interval_time_t timeout, apr_size_t max_bytes,
                        chat_fetch_reply *out)
{
    fetch(p, url, headers, body, timeout, max_bytes, NULL, NULL, out);
}

void chat_fetch_stream(apr_pool_t *p, const char *url, const apr_array_header_t *headers,
                       const char *body, apr_interval_time_t timeout, apr_size_t max_bytes,
                       chat_fetch_data_fn fn, void *ctx, chat_fetch_reply *out)
{
    fetch(p, url, headers, body, timeout, max_bytes, fn, ctx, out);
}
