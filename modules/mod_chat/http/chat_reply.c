/* JSON answers of mod_chat's HTTP endpoints (uploads, ?info, the AI). */
#include <httpd.h>
#include <http_log.h>
#include <http_protocol.h>

#include "chat_reply.h"

APLOG_USE_MODULE(chat);

int chat_json_reply(request_rec *r, int status, json_object *o)
{
    r->status = status;
    ap_set_content_type(r, "application/json");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_rputs(
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
        r);
    ap_rputs("\n", r);
    json_object_put(o);
    return OK;
}

int chat_json_error(request_rec *r, int status, const char *code, const char *message)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "error", json_object_new_string(message));
    json_object_object_add(o, "code", json_object_new_string(code));
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "chat: %s refused (%d %s): %s", r->uri, status,
                  code, message);
    /* the body may still be coming: do not read it, close after the answer */
    r->connection->keepalive = AP_CONN_CLOSE;
    return chat_json_reply(r, status, o);
}
