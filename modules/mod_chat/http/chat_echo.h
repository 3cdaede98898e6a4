#ifndef CHAT_ECHO_H
#define CHAT_ECHO_H

#include <httpd.h>

#include "chat_ws_session.h"

/* The echo app (no state of its own: its sessions can move between processes). */
extern const chat_ws_app chat_echo_app;

int chat_echo_handler(request_rec *r);

#endif
