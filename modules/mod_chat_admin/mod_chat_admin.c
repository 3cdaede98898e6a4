/* mod_chat_admin: the JSON management API of mod_chat (SetHandler chat-admin).
 * Every call needs `Authorization: Bearer <secret>`; the secret comes from
 * ChatAdminSecret or ChatAdminSecretFile and is compared in constant time.
 * The endpoints themselves arrive with the admin work; until then an
 * authenticated call to an unknown path gets a JSON 404. */
#include <httpd.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <json-c/json.h>

#define ADMIN_SECRET_MIN 16

module AP_MODULE_DECLARE_DATA chat_admin_module;

typedef struct {
    const char *secret;
} admin_srv_conf;

static void *admin_srv_create(apr_pool_t *p, server_rec *s)
{
    (void)s;
    return apr_pcalloc(p, sizeof(admin_srv_conf));
}

static void *admin_srv_merge(apr_pool_t *p, void *basev, void *addv)
{
    admin_srv_conf *base = basev, *add = addv, *conf = apr_pcalloc(p, sizeof(*conf));

    conf->secret = add->secret ? add->secret : base->secret;
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
    const char *path = ap_server_root_relative(cmd->pool, arg);
    apr_file_t *f;
    char buf[512];
    apr_size_t len = sizeof(buf) - 1;
    apr_status_t rv;

    (void)dummy;
    if (!path || (rv = apr_file_open(&f, path, APR_FOPEN_READ, 0, cmd->pool)) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: cannot open '%s'", cmd->cmd->name, arg);
    }
    rv = apr_file_read(f, buf, &len);
    apr_file_close(f);
    if (rv != APR_SUCCESS && !APR_STATUS_IS_EOF(rv)) {
        return apr_psprintf(cmd->pool, "%s: cannot read '%s'", cmd->cmd->name, arg);
    }
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ')) {
        len--;
    }
    buf[len] = '\0';
    {
        const char *err = check_secret(cmd, buf);
        if (err) {
            return apr_psprintf(cmd->pool, "%s (in '%s')", err, arg);
        }
    }
    conf->secret = apr_pstrdup(cmd->pool, buf);
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

static int admin_handler(request_rec *r)
{
    admin_srv_conf *conf;
    const char *auth;

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
    return send_json_error(r, HTTP_NOT_FOUND, "not_found", "no such admin endpoint");
}

static const command_rec admin_cmds[] = {
    AP_INIT_TAKE1("ChatAdminSecret", set_secret, NULL, RSRC_CONF,
                  "Bearer secret of the admin API (at least 16 characters)"),
    AP_INIT_TAKE1("ChatAdminSecretFile", set_secret_file, NULL, RSRC_CONF,
                  "File holding the bearer secret of the admin API"),
    {NULL}};

static void admin_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_handler(admin_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(chat_admin) = {
    STANDARD20_MODULE_STUFF, NULL, NULL, admin_srv_create, admin_srv_merge, admin_cmds,
    admin_register_hooks,
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    AP_MODULE_FLAG_NONE
#endif
};
