/* Room uploads and serving them back. */
#ifndef CHAT_UPLOAD_H
#define CHAT_UPLOAD_H

#include <httpd.h>

#include "chat_config.h"

/* POST /chat/upload?room=R (routed here by the chat handler). */
int chat_upload_handler(request_rec *r);
/* SetHandler chat-files: GET /chat/files/NAME. */
int chat_files_handler(request_rec *r);

/* The file behind an upload name (16 hex digits + known extension) and its
 * MIME type; NULL for any other name or when uploads are off. */
const char *chat_upload_file_path(apr_pool_t *p, const chat_dir_conf *dc, const char *name,
                                  const char **mime);

#endif
