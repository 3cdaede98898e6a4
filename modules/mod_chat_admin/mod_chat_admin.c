/* mod_chat_admin: the JSON management API of mod_chat (SetHandler chat-admin).
 * Every call needs `Authorization: Bearer <secret>`; the secret comes from
 * ChatAdminSecret or ChatAdminSecretFile and is compared in constant time.
 * It also runs the scheduled jobs (scheduler/): one scheduler thread per
 * child. This file: hooks, authentication and routing; the settings live in
 * config/, the endpoints in api/. */
#include <httpd.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <json-c/json.h>

#include "admin.h"
#include "chat_fetch.h"
#include "chat_jobs.h"
#include "chat_util.h"

/* Compare without an early exit, so timing does not reveal the secret. */
static int secret_equal(const char *given, const char *secret)
{
    apr_size_t glen = strlen(given), slen = strlen(secret), i;
    unsigned char diff = (unsigned char)(glen != slen);

    for (i = 0; i < slen; i++) {
        diff |= (unsigned char)(secret[i] ^ (i < glen ? given[i] : 0));
    }
    return diff == 0;
}

static int send_json_error(request_rec *r, int status, const char *code, const char *message)
{
    json_object *o = json_object_new_object();
    const char *text;

    json_object_object_add(o, "error", json_object_new_string(message));
    json_object_object_add(o, "code", json_object_new_string(code));
    text =
        apr_pstrcat(r->pool, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), "\n", NULL);
    json_object_put(o);
    r->status = status;
    ap_set_content_type(r, "application/json");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_rputs(text, r);
    return OK;
}

/* Route /.../api/<path> to an endpoint. */
static int route(admin_req *a, const char *path)
{
    char *copy = apr_pstrdup(a->r->pool, path), *state = NULL;
    const char *seg[6] = {NULL};
    int n = 0;
    char *tok;

    for (tok = apr_strtok(copy, "/", &state); tok && n < 6; tok = apr_strtok(NULL, "/", &state)) {
        seg[n++] = tok;
    }
    if (tok) {
        return admin_error(a, HTTP_NOT_FOUND, "not_found", "no such admin endpoint");
    }
    if (n >= 1 && !strcmp(seg[0], "rooms")) {
        if (n == 1) {
            return admin_rooms_list(a);
        }
        if (!chat_room_name_valid(seg[1])) {
            return admin_error(a, HTTP_BAD_REQUEST, "invalid_room",
                               "room names are 1-64 characters of A-Z a-z 0-9 _ -");
        }
        if (n == 3 && !strcmp(seg[2], "members")) {
            return admin_room_members(a, seg[1]);
        }
        if ((n == 3 || n == 4) && !strcmp(seg[2], "messages")) {
            return admin_room_messages(a, seg[1], n == 4 ? seg[3] : NULL);
        }
        if (n == 3 && !strcmp(seg[2], "reset")) {
            return admin_room_reset(a, seg[1]);
        }
        if (n == 3 && !strcmp(seg[2], "log")) {
            return admin_room_log(a, seg[1]);
        }
        if (n == 3 && !strcmp(seg[2], "sessions")) {
            return admin_room_sessions(a, seg[1]);
        }
        if (n == 3 && !strcmp(seg[2], "hours")) {
            return admin_room_hours(a, seg[1]);
        }
    }
    if (n == 1 && !strcmp(seg[0], "tokens")) {
        return admin_tokens(a);
    }
    if (n == 1 && !strcmp(seg[0], "stats")) {
        return admin_stats(a);
    }
    if (n >= 1 && n <= 3 && !strcmp(seg[0], "jobs")) {
        return admin_jobs(a, seg[1], seg[2]);
    }
    return admin_error(a, HTTP_NOT_FOUND, "not_found", "no such admin endpoint");
}

static int admin_handler(request_rec *r)
{
    chat_admin_conf *conf;
    const char *auth, *path;
    admin_req a;

    if (!r->handler || strcmp(r->handler, "chat-admin")) {
        return DECLINED;
    }
    conf = admin_config_get(r->server);
    if (!conf->secret) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      "chat-admin: no ChatAdminSecret or ChatAdminSecretFile configured");
        return send_json_error(r, HTTP_SERVICE_UNAVAILABLE, "not_configured",
                               "the admin API has no secret configured");
    }
    auth = apr_table_get(r->headers_in, "Authorization");
    if (!auth || strncasecmp(auth, "Bearer ", 7) || !secret_equal(auth + 7, conf->secret)) {
        apr_table_setn(r->err_headers_out, "WWW-Authenticate", "Bearer realm=\"chat-admin\"");
        apr_table_setn(r->headers_out, "WWW-Authenticate", "Bearer realm=\"chat-admin\"");
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "chat-admin: refused %s %s: %s", r->method,
                      r->uri, auth ? "wrong secret" : "no Authorization header");
        return send_json_error(r, HTTP_UNAUTHORIZED, "unauthorized",
                               "missing or wrong Authorization: Bearer secret");
    }
    memset(&a, 0, sizeof(a));
    a.r = r;
    if (!(a.chat = admin_config_chat(r->server))) {
        return send_json_error(r, HTTP_INTERNAL_SERVER_ERROR, "not_configured",
                               "mod_chat is not loaded");
    }
    a.prefix = chat_settings_key_prefix(a.chat);
    a.max_body = (apr_size_t)(conf->max_body >= 0 ? conf->max_body : ADMIN_MAX_BODY_DEFAULT);
    path = ap_strstr_c(r->uri, "/api/");
    return route(&a, path ? path + 5 : "");
}

static const command_rec admin_cmds[] = {ADMIN_CONFIG_COMMANDS, CHAT_JOB_COMMANDS, {NULL}};

/* Jobs post into mod_chat's rooms with its Redis settings. */
static int admin_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    chat_jobs_conf *jc = admin_config_get(s)->jobs;
    const char *err;

    (void)plog;
    (void)ptemp;
    if (jc && jc->jobs->nelts && !admin_config_chat(s)) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, s,
                     "ChatJob: scheduled jobs need mod_chat (LoadModule chat_module)");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if ((err = chat_jobs_check(pconf, jc))) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, s, "%s", err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

static int admin_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    server_rec *v;

    (void)plog;
    (void)ptemp;
    chat_jobs_post_config(pconf, s);
    /* said once, not on the first of httpd's two config passes; a virtual
     * host that inherits the main server's (missing) secret is not repeated */
    for (v = s; ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG && v; v = v->next) {
        if (!admin_config_get(v)->secret && (v == s || admin_config_get(s)->secret)) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, v,
                         "chat-admin: no ChatAdminSecret (or ChatAdminSecretFile) for %s: the "
                         "admin API answers 503 until one is set",
                         v == s ? "the main server" : v->server_hostname);
        }
    }
    return OK;
}

static void admin_child_init(apr_pool_t *pchild, server_rec *s)
{
    chat_fetch_global_init(); /* before any thread of this child uses libcurl */
    chat_scheduler_child_init(pchild, s);
}

static void admin_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_handler(admin_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(admin_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(admin_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(admin_child_init, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(chat_admin) = {STANDARD20_MODULE_STUFF,
                                 NULL,
                                 NULL,
                                 admin_config_srv_create,
                                 admin_config_srv_merge,
                                 admin_cmds,
                                 admin_register_hooks,
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
                                 AP_MODULE_FLAG_NONE
#endif
};
