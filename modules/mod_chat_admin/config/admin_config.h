/* mod_chat_admin's settings: ChatAdminSecret(File), ChatAdminMaxBody, and
 * the scheduled jobs (filled by scheduler/chat_job_config.c); and mod_chat's
 * settings as mod_chat_admin reads them, through mod_chat's optional
 * functions, so the two modules share no symbols. */
#ifndef ADMIN_CONFIG_H
#define ADMIN_CONFIG_H

#include <httpd.h>
#include <http_config.h>

#include "chat_settings.h"

#define ADMIN_SECRET_MIN       16
#define ADMIN_MAX_BODY_DEFAULT 65536

extern module AP_MODULE_DECLARE_DATA chat_admin_module;

typedef struct chat_admin_conf {
    const char *secret;
    apr_int64_t max_body;        /* -1 = unset */
    struct chat_jobs_conf *jobs; /* ChatJob* and chart directives, NULL = none */
} chat_admin_conf;

chat_admin_conf *admin_config_get(server_rec *s);

/* mod_chat's settings of s, or NULL when mod_chat is not loaded. */
const chat_srv_conf *admin_config_chat(server_rec *s);
/* mod_chat's server-wide location settings (uploads, history size). */
const chat_dir_conf *admin_config_chat_dir(server_rec *s);

void *admin_config_srv_create(apr_pool_t *p, server_rec *s);
void *admin_config_srv_merge(apr_pool_t *p, void *base, void *add);

const char *admin_config_set_secret(cmd_parms *cmd, void *dummy, const char *arg);
const char *admin_config_set_secret_file(cmd_parms *cmd, void *dummy, const char *arg);
const char *admin_config_set_max_body(cmd_parms *cmd, void *dummy, const char *arg);

/* The admin directives, spliced into mod_chat_admin's command table. */
#define ADMIN_CONFIG_COMMANDS                                                                      \
    AP_INIT_TAKE1("ChatAdminSecret", admin_config_set_secret, NULL, RSRC_CONF,                     \
                  "Bearer secret of the admin API (at least 16 characters)"),                      \
        AP_INIT_TAKE1("ChatAdminSecretFile", admin_config_set_secret_file, NULL, RSRC_CONF,        \
                      "File holding the bearer secret of the admin API"),                          \
        AP_INIT_TAKE1("ChatAdminMaxBody", admin_config_set_max_body, NULL, RSRC_CONF,              \
                      "Largest request body of the admin API (default 64K)")

#endif
