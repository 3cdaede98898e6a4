/* ChatClientDir: where the browser client (the chat page, its scripts, the
 * admin page) lives on disk; `make install` and the Debian package put it in
 * CHAT_DATADIR/client. Parsed here and spliced into mod_chat's command table. */
#ifndef CHAT_CLIENT_CONFIG_H
#define CHAT_CLIENT_CONFIG_H

#include <httpd.h>
#include <http_config.h>

#include "chat_settings.h"

#ifndef CHAT_DATADIR
#define CHAT_DATADIR "/usr/local/share/mod_chat"
#endif
#define CHAT_CLIENT_DIR_DEFAULT CHAT_DATADIR "/client"

void chat_client_config_dir_init(chat_dir_conf *dc);
void chat_client_config_dir_merge(chat_dir_conf *dc, const chat_dir_conf *base,
                                  const chat_dir_conf *add);
/* The client directory of a location, the default when unset. */
const char *chat_client_dir(const chat_dir_conf *dc);
const char *chat_client_config_set(cmd_parms *cmd, void *dcv, const char *arg);

#define CHAT_CLIENT_COMMANDS                                                                       \
    AP_INIT_TAKE1("ChatClientDir", chat_client_config_set, NULL, RSRC_CONF | ACCESS_CONF,          \
                  "Directory of the browser client: GET /chat/{room} serves its index.html "       \
                  "(default " CHAT_CLIENT_DIR_DEFAULT ")")

#endif
