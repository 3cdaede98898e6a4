/* ChatClientDir; see chat_client_config.h. */
#include <httpd.h>
#include <http_config.h>
#include <apr_strings.h>

#include "chat_client_config.h"

void chat_client_config_dir_init(chat_dir_conf *dc)
{
    dc->client_dir = NULL;
}

void chat_client_config_dir_merge(chat_dir_conf *dc, const chat_dir_conf *base,
                                  const chat_dir_conf *add)
{
    dc->client_dir = add->client_dir ? add->client_dir : base->client_dir;
}

const char *chat_client_dir(const chat_dir_conf *dc)
{
    return dc && dc->client_dir ? dc->client_dir : CHAT_CLIENT_DIR_DEFAULT;
}

/* A missing directory is not an error here: the package may be installed
 * after the config is written; startup says so (chat_startup.c). */
const char *chat_client_config_set(cmd_parms *cmd, void *dcv, const char *arg)
{
    chat_dir_conf *dc = dcv;

    if (!(dc->client_dir = ap_server_root_relative(cmd->pool, arg))) {
        return apr_pstrcat(cmd->pool, "ChatClientDir: invalid path '", arg, "'", NULL);
    }
    return NULL;
}
