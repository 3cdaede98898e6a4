/* The `chat` handler at /chat/{room}: room name checks, the client page for
 * plain GETs, identity, and the WebSocket join into chat_room.c. */
#include <httpd.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_cookies.h>

#include "chat_room_handler.h"
#include "chat_identity.h"
#include "chat_room.h"
#include "chat_upload.h"
#include "chat_ws_handshake.h"
#include "chat_ws_upgrade.h"

APLOG_USE_MODULE(chat);

/* Who is asking, per ChatIdentity. NULL with *status set when refused. */
const char *chat_identify(request_rec *r, const chat_room_limits *lim, int *status)
{
    chat_srv_conf *sc = ap_get_module_config(r->server->module_config, &chat_module);
    const char *name = NULL, *why = NULL;

    *status = HTTP_BAD_REQUEST;
    switch (lim->identity) {
    case CHAT_ID_QUERY:
        name = chat_query_param(r->pool, r->args, "username");
        why = "missing or invalid ?username=";
        break;
    case CHAT_ID_TOKEN: {
        const char *token = chat_query_param(r->pool, r->args, "token");
        if (!token && ap_cookie_read(r, "chat_token", &token, 0) != APR_SUCCESS) {
            token = NULL;
        }
        if (!sc->token_secret) {
            why = "ChatIdentity token needs ChatTokenSecret";
            *status = HTTP_INTERNAL_SERVER_ERROR;
        }
        else if (!token) {
            why = "no token";
            *status = HTTP_UNAUTHORIZED;
        }
        else if (!(name =
                       chat_token_verify(r->pool, token, sc->token_secret, apr_time_now(), &why))) {
            *status = HTTP_UNAUTHORIZED;
        }
        break;
    }
    default:
        name = r->user;
        why = "no authenticated user (r->user): configure an Apache auth module or "
              "ChatIdentity";
        *status = HTTP_UNAUTHORIZED;
        break;
    }
    if (name && !chat_username_valid(name)) {
        why = "invalid user name";
        *status = HTTP_BAD_REQUEST;
        name = NULL;
    }
    if (!name) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "chat: refused %s: %s", r->uri, why);
    }
    return name;
}

int chat_room_handler(request_rec *r)
{
    chat_room_limits lim;
    const char *room, *user;
    chat_member *m;
    int status;

    if (!r->handler || strcmp(r->handler, "chat")) {
        return DECLINED;
    }
    room = strrchr(r->uri, '/');
    room = room ? room + 1 : r->uri;
    if (!strcmp(room, "upload") && !chat_ws_is_upgrade(r)) {
        return chat_upload_handler(r); /* a WebSocket to it is a bad room name: 400 */
    }
    if (!chat_room_name_valid(room)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "chat: invalid room name in %s", r->uri);
        return HTTP_BAD_REQUEST;
    }
    if (!chat_ws_is_upgrade(r)) {
        if (r->method_number != M_GET) {
            ap_allow_methods(r, REPLACE_ALLOW, "GET", NULL);
            return HTTP_METHOD_NOT_ALLOWED;
        }
        ap_internal_redirect_handler("/index.html", r);
        return OK;
    }
    chat_config_room_limits(ap_get_module_config(r->per_dir_config, &chat_module), &lim);
    if (!(user = chat_identify(r, &lim, &status))) {
        return status;
    }
    if (!(m = chat_member_create(r, room, user))) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return chat_ws_upgrade(r, &chat_room_app, m);
}
