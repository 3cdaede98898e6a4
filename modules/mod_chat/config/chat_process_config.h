/* How a child's rooms and sockets behave over time, process-wide:
 * ChatHandover (sockets outlive a retiring or restarting child) and
 * ChatPresenceBatch (joins and leaves held per room, at most once per
 * interval). Checked when the config is read, so `apachectl configtest`
 * names a bad one. */
#ifndef CHAT_PROCESS_CONFIG_H
#define CHAT_PROCESS_CONFIG_H

#include <httpd.h>
#include <http_config.h>

#include "chat_settings.h"

/* cmd->info must be mod_chat's module, as for CHAT_REDIS_HA_COMMANDS. */
const char *chat_process_config_handover(cmd_parms *cmd, void *dummy, int on);
const char *chat_process_config_presence(cmd_parms *cmd, void *dummy, const char *arg);

/* Spliced into mod_chat's command table, where chat_module is known. */
#define CHAT_PROCESS_COMMANDS                                                                      \
    AP_INIT_FLAG("ChatHandover", chat_process_config_handover, &chat_module, RSRC_CONF,            \
                 "On: a child that retires or restarts gracefully hands its plain-TCP "            \
                 "WebSockets to a live child instead of closing them (default On)"),               \
        AP_INIT_TAKE1("ChatPresenceBatch", chat_process_config_presence, &chat_module, RSRC_CONF,  \
                      "On (1s), Off or an interval: a room's members get joins and leaves at "     \
                      "most once per interval, merged, one user list per batch (default On)")

#endif
