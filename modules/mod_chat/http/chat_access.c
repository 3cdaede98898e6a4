/* Who an HTTP request's user is (ChatIdentity) and whether that user is a
 * member of a room: the checks every chat endpoint makes before it acts. */
#include <httpd.h>
#include <hiredis/hiredis.h>
#include <http_config.h>
#include <http_log.h>
#include <util_cookies.h>
#include <apr_strings.h>
#include <string.h>

#include "chat_access.h"
#include "chat_ai_settings.h"
#include "chat_identity.h"
#include "chat_redis_sync.h"
#include "chat_store.h"

APLOG_USE_MODULE(chat);

/* "system" and the bots' names (any case): nobody may pose as them. */
static int name_reserved(const chat_ai_conf *ac, const char *name)
{
    int i;

    if (!strcasecmp(name, "system")) {
        return 1;
    }
    for (i = 0; ac->providers && i < ac->providers->nelts; i++) {
        if (!strcasecmp(APR_ARRAY_IDX(ac->providers, i, chat_ai_provider *)->name, name)) {
            return 1;
        }
    }
    return 0;
}

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
    else if (name && name_reserved(chat_ai_settings_of(sc), name)) {
        /* the names bots and the system post under: nobody may pose as them */
        why = "user name reserved for a bot or the system";
        *status = HTTP_FORBIDDEN;
        name = NULL;
    }
    if (!name) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "chat: refused %s: %s", r->uri, why);
    }
    return name;
}

int chat_room_is_member(request_rec *r, const char *room, const char *user)
{
    const chat_srv_conf *sc = ap_get_module_config(r->server->module_config, &chat_module);
    const char *err = NULL;
    redisContext *c = chat_redis_sync_open(sc, &err);
    redisReply *rep;
    int rv = -1;

    if (!c) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "chat: membership check: %s", err);
        return -1;
    }
    rep =
        redisCommand(c, "SISMEMBER %s %s",
                     chat_store_key(r->pool, chat_settings_key_prefix(sc), room, "members"), user);
    if (rep && rep->type == REDIS_REPLY_INTEGER) {
        rv = rep->integer == 1;
    }
    if (rep) {
        freeReplyObject(rep);
    }
    redisFree(c);
    return rv;
}

int chat_access_mask_token(request_rec *r)
{
    const char *line = r->the_request, *t;
    apr_size_t at = 0;

    if (!line || !r->args || !ap_strstr_c(r->args, "token=")) {
        return DECLINED;
    }
    while ((t = strstr(line + at, "token=")) != NULL) {
        apr_size_t v = (apr_size_t)(t - line) + 6, end = v + strcspn(line + v, "& ");
        if (t > line && (t[-1] == '?' || t[-1] == '&') && end > v) {
            line = apr_pstrcat(r->pool, apr_pstrndup(r->pool, line, v), "***", line + end, NULL);
            end = v + 3;
        }
        at = end;
    }
    r->the_request = (char *)line; /* the original or a copy in r->pool */
    return DECLINED;
}
