/* The `chat` handler at /chat/{room}: room name checks, the client page for
 * plain GETs, identity, and the WebSocket join into chat_room.c. */
#include <httpd.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <apr_file_io.h>
#include <json.h>

#include "chat_room_handler.h"
#include "chat_access.h"
#include "chat_capacity.h"
#include "chat_client_config.h"
#include "chat_ai_settings.h"
#include "chat_reply.h"
#include "chat_room.h"
#include "chat_upload.h"
#include "chat_ws_handshake.h"
#include "chat_ws_upgrade.h"

APLOG_USE_MODULE(chat);

/* GET /chat/{room}?info: what the browser client needs before it connects:
 * how identity works here (a name prompt only in query mode), who the user
 * is when the server already knows, the STUN/TURN servers for calls and the
 * upload and text limits. Never cached: it names the user. */
static int room_info(request_rec *r, const char *room)
{
    chat_srv_conf *sc = ap_get_module_config(r->server->module_config, &chat_module);
    chat_dir_conf *dc = ap_get_module_config(r->per_dir_config, &chat_module);
    static const char *const modes[] = {"remote-user", "remote-user", "token", "query"};
    chat_room_limits lim;
    json_object *o = json_object_new_object(), *ice = json_object_new_array();
    const char *user;
    int status, i;

    chat_settings_room_limits(dc, &lim);
    user = chat_identify(r, &lim, &status);
    json_object_object_add(o, "room", json_object_new_string(room));
    json_object_object_add(o, "identity", json_object_new_string(modes[lim.identity]));
    json_object_object_add(o, "username", user ? json_object_new_string(user) : NULL);
    for (i = 0; sc->ice_servers && i < sc->ice_servers->nelts; i++) {
        const chat_ice_server *is = &APR_ARRAY_IDX(sc->ice_servers, i, chat_ice_server);
        json_object *e = json_object_new_object();
        json_object_object_add(e, "urls", json_object_new_string(is->url));
        if (is->username) {
            json_object_object_add(e, "username", json_object_new_string(is->username));
            json_object_object_add(e, "credential", json_object_new_string(is->credential));
        }
        json_object_array_add(ice, e);
    }
    json_object_object_add(o, "iceServers", ice);
    json_object_object_add(
        o, "maxUpload",
        json_object_new_int64(
            dc->upload_dir ? (dc->upload_max >= 0 ? dc->upload_max : CHAT_DEFAULT_UPLOAD_MAX) : 0));
    json_object_object_add(o, "maxText", json_object_new_int(lim.max_text));
    /* the page resizes larger images itself before uploading them */
    json_object_object_add(o, "imageMaxDimension", json_object_new_int(lim.image_max_dim));
    json_object_object_add(o, "imageQuality", json_object_new_double(lim.image_quality / 1000.0));
    {
        /* which AI features the page should offer */
        const chat_ai_conf *ac = chat_ai_settings_of(sc);
        json_object *ai = json_object_new_object(), *chat = json_object_new_array();
        json_object_object_add(ai, "explain",
                               json_object_new_boolean(chat_ai_provider_for_explain(ac) != NULL));
        json_object_object_add(ai, "describe",
                               json_object_new_boolean(chat_ai_provider_for_describe(ac) != NULL));
        json_object *aliases = json_object_new_object();
        for (i = 0; ac->providers && i < ac->providers->nelts; i++) {
            const chat_ai_provider *pr = APR_ARRAY_IDX(ac->providers, i, chat_ai_provider *);
            apr_array_header_t *al = chat_ai_provider_aliases(r->pool, ac, pr);
            json_object *list = json_object_new_array();
            int k;
            json_object_array_add(chat, json_object_new_string(pr->name));
            for (k = 0; k < al->nelts; k++) {
                json_object_array_add(list,
                                      json_object_new_string(APR_ARRAY_IDX(al, k, const char *)));
            }
            json_object_object_add(aliases, pr->name, list); /* "@d question" asks deepseek */
        }
        json_object_object_add(ai, "chat", chat);
        json_object_object_add(ai, "aliases", aliases);
        if (chat_ai_provider_for_explain(ac)) { /* the providers the page preselects */
            json_object_object_add(ai, "explainProvider",
                                   json_object_new_string(chat_ai_provider_for_explain(ac)->name));
            json_object_object_add(ai, "describeProvider",
                                   json_object_new_string(chat_ai_provider_for_describe(ac)->name));
        }
        json_object_object_add(o, "ai", ai);
    }
    ap_set_content_type(r, "application/json");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_rputs(
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
        r);
    json_object_put(o);
    return OK;
}

/* GET /chat/{room}: index.html of ChatClientDir, whatever the vhost's
 * DocumentRoot holds. Its asset URLs are relative (client/chat.js), served by
 * the Alias of conf/chat.conf. Revalidated on every load: a new version of the
 * client must reach browsers at once. */
static int room_page(request_rec *r)
{
    const chat_dir_conf *dc = ap_get_module_config(r->per_dir_config, &chat_module);
    const char *path = apr_pstrcat(r->pool, chat_client_dir(dc), "/index.html", NULL);
    apr_bucket_brigade *bb;
    apr_file_t *fd;
    apr_finfo_t fi;
    apr_status_t rv;
    int status;

    if ((rv = apr_file_open(&fd, path, APR_READ | APR_BINARY, 0, r->pool)) != APR_SUCCESS ||
        (rv = apr_file_info_get(&fi, APR_FINFO_SIZE | APR_FINFO_MTIME | APR_FINFO_TYPE, fd)) !=
            APR_SUCCESS ||
        (fi.filetype != APR_REG && (rv = APR_EGENERAL))) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      "chat: cannot read the client page %s (ChatClientDir)", path);
        return HTTP_NOT_FOUND;
    }
    r->finfo = fi;
    ap_set_content_type(r, "text/html; charset=utf-8");
    ap_update_mtime(r, fi.mtime);
    ap_set_last_modified(r);
    ap_set_etag(r);
    apr_table_setn(r->headers_out, "Cache-Control", "no-cache");
    if ((status = ap_meets_conditions(r)) != OK) {
        return status;
    }
    ap_set_content_length(r, fi.size);
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    apr_brigade_insert_file(bb, fd, 0, fi.size, r->pool);
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(r->connection->bucket_alloc));
    return ap_pass_brigade(r->output_filters, bb) == APR_SUCCESS ? OK : AP_FILTER_ERROR;
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
        if (r->args && (!strcmp(r->args, "info") || !strncmp(r->args, "info&", 5))) {
            return room_info(r, room);
        }
        if (r->args && !strcmp(r->args, "capacity")) {
            return chat_capacity_probe(r); /* the client asks after a failed connect */
        }
        return room_page(r);
    }
    chat_settings_room_limits(ap_get_module_config(r->per_dir_config, &chat_module), &lim);
    if (!(user = chat_identify(r, &lim, &status))) {
        return status;
    }
    if ((status = chat_capacity_enter(r)) != OK) {
        return status; /* before any upgrade: 503 + Retry-After */
    }
    if (!(m = chat_member_create(r, room, user))) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return chat_ws_upgrade(r, &chat_room_app, m);
}
