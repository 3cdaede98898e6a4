#ifndef CHAT_ROOM_HANDLER_H
#define CHAT_ROOM_HANDLER_H

#include <httpd.h>

#include "chat_config.h"
#include "chat_util.h"

int chat_room_handler(request_rec *r);

/* Who is asking, per ChatIdentity: the user name, or NULL with *status set
 * (400 bad name, 401 no user or bad token) and the reason logged. */
const char *chat_identify(request_rec *r, const chat_room_limits *lim, int *status);

#endif
