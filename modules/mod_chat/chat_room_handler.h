#ifndef CHAT_ROOM_HANDLER_H
#define CHAT_ROOM_HANDLER_H

#include <httpd.h>

/* 1-64 characters of [A-Za-z0-9_-], not a reserved name. */
int chat_room_name_valid(const char *name);
int chat_room_handler(request_rec *r);

#endif
