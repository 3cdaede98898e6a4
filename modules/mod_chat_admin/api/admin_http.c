/* JSON replies, request bodies and the per-request Redis connection. */
#include <httpd.h>
#include <apr_strings.h>
#include <http_log.h>
#include <http_protocol.h>

#include "admin.h"
#include "chat_redis_sync.h"

APLOG_USE_MODULE(chat_admin);

int admin_reply(admin_req *a, int status, json_object *body)
{
    const char *text =
        apr_pstrcat(a->r->pool,
                    json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
                                                             JSON_C_TO_STRING_NOSLASHESCAPE),
                    "\n", NULL);

    json_object_put(body);
    a->r->status = status;
    ap_set_content_type(a->r, "application/json");
    apr_table_setn(a->r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(a->r->headers_out, "X-Content-Type-Options", "nosniff");
    ap_rputs(text, a->r);
    return OK;
}

int admin_error(admin_req *a, int status, const char *code, const char *message)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "error", json_object_new_string(message));
    json_object_object_add(o, "code", json_object_new_string(code));
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, a->r, "chat-admin: %s %s -> %d %s: %s", a->r->method,
                  a->r->uri, status, code, message);
    return admin_reply(a, status, o);
}

json_object *admin_read_json(admin_req *a, int *status)
{
    request_rec *r = a->r;
    const char *ctype = apr_table_get(r->headers_in, "Content-Type");
    apr_size_t got = 0;
    char *buf;
    long n;
    json_object *o;
    json_tokener *tok;

    *status = OK;
    if (!ctype || strncasecmp(ctype, "application/json", 16)) {
        admin_error(a, HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                    "send Content-Type: application/json");
        return NULL;
    }
    if (ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK) != OK) {
        admin_error(a, HTTP_BAD_REQUEST, "bad_request", "unreadable request body");
        return NULL;
    }
    buf = apr_palloc(r->pool, a->max_body + 1);
    while ((n = ap_get_client_block(r, buf + got, a->max_body + 1 - got)) > 0) {
        got += (apr_size_t)n;
        if (got > a->max_body) {
            admin_error(
                a, HTTP_REQUEST_ENTITY_TOO_LARGE, "too_large",
                apr_psprintf(r->pool, "body larger than %" APR_SIZE_T_FMT " bytes", a->max_body));
            return NULL;
        }
    }
    if (n < 0) {
        admin_error(a, HTTP_BAD_REQUEST, "bad_request", "unreadable request body");
        return NULL;
    }
    tok = json_tokener_new();
    o = json_tokener_parse_ex(tok, buf, (int)got);
    if (!o || json_tokener_get_error(tok) != json_tokener_success ||
        !json_object_is_type(o, json_type_object)) {
        json_tokener_free(tok);
        json_object_put(o);
        admin_error(a, HTTP_BAD_REQUEST, "malformed", "the body must be a JSON object");
        return NULL;
    }
    json_tokener_free(tok);
    return o;
}

static apr_status_t close_redis(void *data)
{
    redisFree(data);
    return APR_SUCCESS;
}

redisContext *admin_redis(admin_req *a, int *status)
{
    const char *err = NULL;
    redisContext *c;

    *status = OK;
    if (a->redis) {
        return a->redis;
    }
    if (!(c = chat_redis_sync_open(a->chat, &err))) {
        admin_error(a, HTTP_SERVICE_UNAVAILABLE, "unavailable",
                    apr_psprintf(a->r->pool, "chat storage unavailable: %s", err));
        return NULL;
    }
    apr_pool_cleanup_register(a->r->pool, c, close_redis, apr_pool_cleanup_null);
    a->redis = c;
    return c;
}

redisReply *admin_cmd(admin_req *a, int *status, int argc, const char **argv)
{
    redisContext *c = admin_redis(a, status);
    redisReply *rep;

    if (!c) {
        return NULL;
    }
    rep = chat_redis_sync_command(c, argc, argv, NULL);
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        admin_error(a, HTTP_SERVICE_UNAVAILABLE, "unavailable",
                    apr_psprintf(a->r->pool, "chat storage error: %s", rep ? rep->str : c->errstr));
        if (rep) {
            freeReplyObject(rep);
        }
        *status = OK;
        return NULL;
    }
    return rep;
}

void admin_log_write(admin_req *a, const char *what)
{
    ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, a->r, "chat-admin: %s %s by %s: %s", a->r->method,
                  a->r->uri, a->r->useragent_ip, what);
}
