#ifndef CHAT_ROOM_HANDLER_H
#define CHAT_ROOM_HANDLER_H

#include <httpd.h>

#include "chat_util.h"

int chat_room_handler(request_rec *r);

#endif
