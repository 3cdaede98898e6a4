/* Directives of the conversation features (ChatSearchRate, ChatSearchScan,
 * ChatImageMaxDimension, ChatImageQuality): parsed here and spliced into
 * mod_chat's command table, so chat_config.c only calls the init and merge. */
#ifndef CHAT_CONV_CONFIG_H
#define CHAT_CONV_CONFIG_H

#include <httpd.h>
#include <http_config.h>

#include "chat_settings.h"

/* Marks this file's fields of a new per-directory config unset. */
void chat_conv_config_dir_init(chat_dir_conf *dc);
/* Merges this file's fields of base and add into dc. */
void chat_conv_config_dir_merge(chat_dir_conf *dc, const chat_dir_conf *base,
                                const chat_dir_conf *add);
const char *chat_conv_config_set(cmd_parms *cmd, void *dcv, const char *arg);

#define CHAT_CONV_COMMANDS                                                                         \
    AP_INIT_TAKE1("ChatSearchRate", chat_conv_config_set, (void *)0, RSRC_CONF | ACCESS_CONF,      \
                  "History searches one user may make per minute, on any room and server "         \
                  "(default 10; 0 = no limit)"),                                                   \
        AP_INIT_TAKE1("ChatSearchScan", chat_conv_config_set, (void *)3, RSRC_CONF | ACCESS_CONF,  \
                      "Newest messages one history search reads at most, 100 to 1000000 "          \
                      "(default 10000)"),                                                          \
        AP_INIT_TAKE1("ChatImageMaxDimension", chat_conv_config_set, (void *)1,                    \
                      RSRC_CONF | ACCESS_CONF,                                                     \
                      "Pixels the page scales an image's longer side down to before upload "       \
                      "(default 2048; 0 = never resize)"),                                         \
        AP_INIT_TAKE1("ChatImageQuality", chat_conv_config_set, (void *)2,                         \
                      RSRC_CONF | ACCESS_CONF,                                                     \
                      "JPEG/WebP quality of an image the page resized, 0.1 to 1 (default 0.85)")

#endif
