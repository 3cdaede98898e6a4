#ifndef CHAT_ECHO_H
#define CHAT_ECHO_H

#include <httpd.h>

int chat_echo_handler(request_rec *r);

#endif
