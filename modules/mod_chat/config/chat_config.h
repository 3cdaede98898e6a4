/* mod_chat's directives (the AI's in chat_ai_config.c beside this file), each
 * validated when the config is read so that `apachectl configtest` names a
 * bad one. The structs they fill are in lib/chat_settings.h. */
#ifndef CHAT_CONFIG_H
#define CHAT_CONFIG_H

#include <httpd.h>
#include <http_config.h>

#include "chat_settings.h"
#include "chat_util.h"

extern module AP_MODULE_DECLARE_DATA chat_module;

/* mod_chat's command table, the AI's directives included. */
extern const command_rec chat_cmds[];

void *chat_config_dir_create(apr_pool_t *p, char *dir);
void *chat_config_dir_merge(apr_pool_t *p, void *base, void *add);
void *chat_config_srv_create(apr_pool_t *p, server_rec *s);
void *chat_config_srv_merge(apr_pool_t *p, void *base, void *add);

#endif
