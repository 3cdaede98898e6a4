/* Room uploads and serving them back. */
#ifndef CHAT_UPLOAD_H
#define CHAT_UPLOAD_H

#include <httpd.h>

/* POST /chat/upload?room=R (routed here by the chat handler). */
int chat_upload_handler(request_rec *r);
/* SetHandler chat-files: GET /chat/files/NAME. */
int chat_files_handler(request_rec *r);
/* The canonical name of a MIME type uploads know, or NULL. */
const char *chat_upload_type_known(const char *mime);

#endif
