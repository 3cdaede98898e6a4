/* RFC 6455 section 4.2: validate the client's opening handshake and answer.
 * Refusals are plain HTTP errors sent before any upgrade. */
#include <httpd.h>
#include <apr_base64.h>
#include <apr_sha1.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>

#include "chat_ws_handshake.h"

APLOG_USE_MODULE(chat);

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

int chat_http_has_token(const char *value, const char *token)
{
    apr_size_t tlen = strlen(token);

    while (value && *value) {
        const char *start, *end;

        while (*value == ',' || *value == ' ' || *value == '\t') {
            value++;
        }
        start = value;
        while (*value && *value != ',') {
            value++;
        }
        end = value;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t')) {
            end--;
        }
        if ((apr_size_t)(end - start) == tlen && !strncasecmp(start, token, tlen)) {
            return 1;
        }
    }
    return 0;
}

int chat_ws_is_upgrade(request_rec *r)
{
    return chat_http_has_token(apr_table_get(r->headers_in, "Upgrade"), "websocket") &&
           chat_http_has_token(apr_table_get(r->headers_in, "Connection"), "upgrade");
}

void chat_ws_accept_key(const char *key, char out[29])
{
    apr_sha1_ctx_t sha;
    unsigned char digest[APR_SHA1_DIGESTSIZE];

    apr_sha1_init(&sha);
    apr_sha1_update(&sha, key, (unsigned int)strlen(key));
    apr_sha1_update(&sha, WS_GUID, (unsigned int)strlen(WS_GUID));
    apr_sha1_final(digest, &sha);
    apr_base64_encode(out, (const char *)digest, APR_SHA1_DIGESTSIZE);
}

static int key_valid(const char *key)
{
    apr_size_t i;
    char buf[32];

    /* 16 random bytes encode to exactly 24 base64 characters ending "==". */
    if (!key || strlen(key) != 24 || key[22] != '=' || key[23] != '=') {
        return 0;
    }
    for (i = 0; i < 22; i++) {
        char c = key[i];
        if (!(apr_isalnum(c) || c == '+' || c == '/')) {
            return 0;
        }
    }
    return apr_base64_decode_len(key) <= (int)sizeof(buf) && apr_base64_decode(buf, key) == 16;
}

/* host[:port] without the scheme's default port. */
static const char *strip_default_port(apr_pool_t *p, const char *scheme, const char *hostport)
{
    const char *def = !strcasecmp(scheme, "https") ? ":443" : ":80";
    apr_size_t n = strlen(hostport), d = strlen(def);

    if (n > d && !strcmp(hostport + n - d, def)) {
        return apr_pstrndup(p, hostport, n - d);
    }
    return hostport;
}

/* The scheme the browser used. Behind a TLS proxy the request arrives as
 * http: a peer listed in ChatTrustedProxy says https in X-Forwarded-Proto.
 * From anyone else the header is ignored, so a client cannot claim https. */
static const char *request_scheme(request_rec *r)
{
    const chat_srv_conf *sc = ap_get_module_config(r->server->module_config, &chat_module);
    const char *fwd = apr_table_get(r->headers_in, "X-Forwarded-Proto");

    if (!fwd || !chat_settings_proxy_trusted(sc, r->connection->client_addr)) {
        return ap_http_scheme(r);
    }
    /* one value, as a proxy that sets (not appends) the header sends */
    if (!strcasecmp(fwd, "https") || !strcasecmp(fwd, "http")) {
        return !strcasecmp(fwd, "https") ? "https" : "http";
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  "chat: X-Forwarded-Proto '%s' from trusted proxy %s is not http or https; "
                  "ignored",
                  fwd, r->connection->client_ip);
    return ap_http_scheme(r);
}

/* Origin "scheme://host[:port]" against the allow-list or, by default, the
 * scheme, host and port the browser addressed (behind a TLS proxy: see
 * request_scheme, or list the origin in ChatAllowedOrigins). */
static int origin_allowed(request_rec *r, const chat_dir_conf *dc, const char *origin)
{
    const char *authority, *scheme;
    const char *host;
    int i;

    if (dc->origins_set) {
        if (dc->origins_any) {
            return 1;
        }
        for (i = 0; dc->origins && i < dc->origins->nelts; i++) {
            if (!strcasecmp(APR_ARRAY_IDX(dc->origins, i, const char *), origin)) {
                return 1;
            }
        }
        return 0;
    }
    authority = ap_strstr_c(origin, "://");
    host = apr_table_get(r->headers_in, "Host");
    if (!authority || !host) {
        return 0;
    }
    /* same origin: scheme, host and port (a default port may be left out) */
    scheme = request_scheme(r);
    if ((apr_size_t)(authority - origin) != strlen(scheme) ||
        strncasecmp(origin, scheme, strlen(scheme))) {
        return 0;
    }
    return !strcasecmp(strip_default_port(r->pool, scheme, authority + 3),
                       strip_default_port(r->pool, scheme, host));
}

int chat_ws_handshake_check(request_rec *r, const chat_dir_conf *dc)
{
    const char *version, *origin;

    if (r->connection->master) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "chat: WebSocket over HTTP/2 is not supported; use HTTP/1.1");
        return HTTP_BAD_REQUEST;
    }
    if (r->method_number != M_GET) {
        ap_allow_methods(r, REPLACE_ALLOW, "GET", NULL); /* httpd builds Allow */
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "chat: WebSocket upgrade with method %s",
                      r->method);
        return HTTP_METHOD_NOT_ALLOWED;
    }
    if (r->proto_num < HTTP_VERSION(1, 1)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "chat: WebSocket upgrade needs HTTP/1.1, got %s", r->protocol);
        return HTTP_BAD_REQUEST;
    }
    if (!chat_ws_is_upgrade(r)) {
        apr_table_setn(r->err_headers_out, "Upgrade", "websocket");
        apr_table_setn(r->err_headers_out, "Connection", "Upgrade");
        return HTTP_UPGRADE_REQUIRED;
    }
    version = apr_table_get(r->headers_in, "Sec-WebSocket-Version");
    if (!version || strcmp(version, "13")) {
        apr_table_setn(r->err_headers_out, "Sec-WebSocket-Version", "13");
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "chat: unsupported Sec-WebSocket-Version '%s'",
                      version ? version : "");
        return HTTP_UPGRADE_REQUIRED;
    }
    if (!key_valid(apr_table_get(r->headers_in, "Sec-WebSocket-Key"))) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "chat: missing or invalid Sec-WebSocket-Key");
        return HTTP_BAD_REQUEST;
    }
    origin = apr_table_get(r->headers_in, "Origin");
    if (origin && !origin_allowed(r, dc, origin)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "chat: Origin '%s' not allowed (see ChatAllowedOrigins)", origin);
        return HTTP_FORBIDDEN;
    }
    return OK;
}

apr_status_t chat_ws_handshake_accept(request_rec *r)
{
    char accept[29];

    chat_ws_accept_key(apr_table_get(r->headers_in, "Sec-WebSocket-Key"), accept);
    apr_table_clear(r->headers_out);
    apr_table_setn(r->headers_out, "Upgrade", "websocket");
    apr_table_setn(r->headers_out, "Connection", "Upgrade");
    apr_table_setn(r->headers_out, "Sec-WebSocket-Accept", apr_pstrdup(r->pool, accept));
    r->status = HTTP_SWITCHING_PROTOCOLS;
    r->status_line = ap_get_status_line(r->status);
    ap_send_interim_response(r, 1);
    return r->connection->aborted ? APR_ECONNABORTED : APR_SUCCESS;
}

const char *chat_ws_handshake_response(request_rec *r, apr_size_t *len)
{
    char accept[29];
    const char *out;

    chat_ws_accept_key(apr_table_get(r->headers_in, "Sec-WebSocket-Key"), accept);
    /* what ap_send_interim_response writes for chat_ws_handshake_accept */
    out = apr_pstrcat(r->pool, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n",
                      "Connection: Upgrade\r\nSec-WebSocket-Accept: ", accept, "\r\n\r\n", NULL);
    r->status = HTTP_SWITCHING_PROTOCOLS; /* for the access log */
    *len = strlen(out);
    return out;
}
