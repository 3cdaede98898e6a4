/* mod_chat_admin's own settings (the admin secret, the body limit, the
 * scheduled jobs) and its window on mod_chat's: see admin_config.h. */
#include <httpd.h>
#include <apr_strings.h>
#include <http_config.h>

#include "admin_config.h"
#include "chat_util.h"

void *admin_config_srv_create(apr_pool_t *p, server_rec *s)
{
    chat_admin_conf *conf = apr_pcalloc(p, sizeof(chat_admin_conf));

    (void)s;
    conf->max_body = -1;
    return conf;
}

void *admin_config_srv_merge(apr_pool_t *p, void *basev, void *addv)
{
    chat_admin_conf *base = basev, *add = addv, *conf = apr_pcalloc(p, sizeof(*conf));

    conf->secret = add->secret ? add->secret : base->secret;
    conf->max_body = add->max_body >= 0 ? add->max_body : base->max_body;
    conf->jobs = add->jobs ? add->jobs : base->jobs;
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

const char *admin_config_set_secret(cmd_parms *cmd, void *dummy, const char *arg)
{
    chat_admin_conf *conf = ap_get_module_config(cmd->server->module_config, &chat_admin_module);
    const char *err = check_secret(cmd, arg);

    (void)dummy;
    if (!err) {
        conf->secret = arg;
    }
    return err;
}

const char *admin_config_set_secret_file(cmd_parms *cmd, void *dummy, const char *arg)
{
    chat_admin_conf *conf = ap_get_module_config(cmd->server->module_config, &chat_admin_module);
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

const char *admin_config_set_max_body(cmd_parms *cmd, void *dummy, const char *arg)
{
    chat_admin_conf *conf = ap_get_module_config(cmd->server->module_config, &chat_admin_module);
    const char *err =
        chat_config_parse_bytes(cmd->pool, arg, 1024, 64 * 1024 * 1024, &conf->max_body);

    (void)dummy;
    return err ? apr_pstrcat(cmd->pool, cmd->cmd->name, ": ", err, NULL) : NULL;
}

chat_admin_conf *admin_config_get(server_rec *s)
{
    return ap_get_module_config(s->module_config, &chat_admin_module);
}

/* Looked up at each call: a hash lookup, and right at directive time too,
 * whatever order the modules were loaded in. */
const chat_srv_conf *admin_config_chat(server_rec *s)
{
    APR_OPTIONAL_FN_TYPE(chat_server_conf) *fn = APR_RETRIEVE_OPTIONAL_FN(chat_server_conf);

    return fn ? fn(s) : NULL;
}

const chat_dir_conf *admin_config_chat_dir(server_rec *s)
{
    APR_OPTIONAL_FN_TYPE(chat_server_dir_conf) *fn = APR_RETRIEVE_OPTIONAL_FN(chat_server_dir_conf);

    return fn ? fn(s) : NULL;
}
