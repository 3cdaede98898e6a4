/* mod_chat_admin: the JSON management API of mod_chat (SetHandler chat-admin).
 * Every call needs `Authorization: Bearer <secret>`; the secret comes from
 * ChatAdminSecret or ChatAdminSecretFile and is compared in constant time.
 * This file: configuration, authentication and routing; the endpoints live
 * in admin_rooms.c and admin_misc.c. */
#include <httpd.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <json-c/json.h>

#include "admin.h"
#include "chat_util.h"

#define ADMIN_SECRET_MIN       16
#define ADMIN_MAX_BODY_DEFAULT 65536

module AP_MODULE_DECLARE_DATA chat_admin_module;

typedef struct {
    const char *secret;
    apr_int64_t max_body; /* -1 = unset */
} admin_srv_conf;

static APR_OPTIONAL_FN_TYPE(chat_server_conf) * chat_server_conf_fn;

static void *admin_srv_create(apr_pool_t *p, server_rec *s)
{
    admin_srv_conf *conf = apr_pcalloc(p, sizeof(admin_srv_conf));

    (void)s;
    conf->max_body = -1;
    return conf;
}

static void *admin_srv_merge(apr_pool_t *p, void *basev, void *addv)
{
    admin_srv_conf *base = basev, *add = addv, *conf = apr_pcalloc(p, sizeof(*conf));

    conf->secret = add->secret ? add->secret : base->secret;
    conf->max_body = add->max_body >= 0 ? add->max_body : base->max_body;
    return conf;
}

static const char *check_secret(cmd_parms *cmd, const char *secret)
{
    if (strlen(secret) < ADMIN_SECRET_MIN) {
        return apr_psprintf(cmd->pool, "%s: the secret must be at least %d characters",
                            cmd->cmd->name, ADMIN_SECRET_MIN);
    }
    return NULL;
}

static const char *set_secret(cmd_parms *cmd, void *dummy, const char *arg)
{
    admin_srv_conf *conf = ap_get_module_config(cmd->server->module_config, &chat_admin_module);
    const char *err = check_secret(cmd, arg);

    (void)dummy;
    if (!err) {
        conf->secret = arg;
    }
    return err;
}

static const char *set_secret_file(cmd_parms *cmd, void *dummy, const char *arg)
{
    admin_srv_conf *conf = ap_get_module_config(cmd->server->module_config, &chat_admin_module);
    const char *secret = NULL;
    const char *err =
        chat_read_secret_file(cmd->pool, ap_server_root_relative(cmd->pool, arg), &secret);

    (void)dummy;
    if (err) {
        return apr_pstrcat(cmd->pool, cmd->cmd->name, ": ", err, NULL);
    }
    if ((err = check_secret(cmd, secret)) != NULL) {
        return apr_psprintf(cmd->pool, "%s (in '%s')", err, arg);
    }
    conf->secret = secret;
    return NULL;
}

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
    admin_srv_conf *conf;
    const char *auth, *path;
    admin_req a;

    if (!r->handler || strcmp(r->handler, "chat-admin")) {
        return DECLINED;
    }
    conf = ap_get_module_config(r->server->module_config, &chat_admin_module);
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
    if (!chat_server_conf_fn) {
        return send_json_error(r, HTTP_INTERNAL_SERVER_ERROR, "not_configured",
                               "mod_chat is not loaded");
    }
    memset(&a, 0, sizeof(a));
    a.r = r;
    a.chat = chat_server_conf_fn(r->server);
    a.prefix = chat_config_key_prefix(a.chat);
    a.max_body = (apr_size_t)(conf->max_body >= 0 ? conf->max_body : ADMIN_MAX_BODY_DEFAULT);
    path = ap_strstr_c(r->uri, "/api/");
    return route(&a, path ? path + 5 : "");
}

static const char *set_max_body(cmd_parms *cmd, void *dummy, const char *arg)
{
    admin_srv_conf *conf = ap_get_module_config(cmd->server->module_config, &chat_admin_module);
    const char *err =
        chat_config_parse_bytes(cmd->pool, arg, 1024, 64 * 1024 * 1024, &conf->max_body);

    (void)dummy;
    return err ? apr_pstrcat(cmd->pool, cmd->cmd->name, ": ", err, NULL) : NULL;
}

static void admin_optional_fns(void)
{
    chat_server_conf_fn = APR_RETRIEVE_OPTIONAL_FN(chat_server_conf);
}

static const command_rec admin_cmds[] = {
    AP_INIT_TAKE1("ChatAdminSecret", set_secret, NULL, RSRC_CONF,
                  "Bearer secret of the admin API (at least 16 characters)"),
    AP_INIT_TAKE1("ChatAdminSecretFile", set_secret_file, NULL, RSRC_CONF,
                  "File holding the bearer secret of the admin API"),
    AP_INIT_TAKE1("ChatAdminMaxBody", set_max_body, NULL, RSRC_CONF,
                  "Largest request body of the admin API (default 64K)"),
    {NULL}};

static void admin_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_handler(admin_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_optional_fn_retrieve(admin_optional_fns, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(chat_admin) = {
    STANDARD20_MODULE_STUFF, NULL, NULL, admin_srv_create, admin_srv_merge, admin_cmds,
    admin_register_hooks,
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    AP_MODULE_FLAG_NONE
#endif
};
