/* Room uploads and serving them back. */
#ifndef CHAT_UPLOAD_H
#define CHAT_UPLOAD_H

#include <httpd.h>
#include <json.h>

#include "chat_config.h"

/* POST /chat/upload?room=R (routed here by the chat handler). */
int chat_upload_handler(request_rec *r);
/* SetHandler chat-files: GET /chat/files/NAME. */
int chat_files_handler(request_rec *r);
/* The canonical name of a MIME type uploads know, or NULL. */
const char *chat_upload_type_known(const char *mime);

/* The file behind an upload name (16 hex digits + known extension) and its
 * MIME type; NULL for any other name or when uploads are off. */
const char *chat_upload_file_path(apr_pool_t *p, const chat_dir_conf *dc, const char *name,
                                  const char **mime);

/* Is user a member of room? 1 yes, 0 no, -1 Redis unavailable. */
int chat_room_is_member(request_rec *r, const char *room, const char *user);

/* JSON answers of the HTTP endpoints (uploads, AI): the object is consumed;
 * errors are {"error": message, "code": code} and close the connection. */
int chat_json_reply(request_rec *r, int status, json_object *o);
int chat_json_error(request_rec *r, int status, const char *code, const char *message);

#endif
