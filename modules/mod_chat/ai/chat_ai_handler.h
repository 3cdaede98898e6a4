/* The AI HTTP endpoints: see chat_ai_handler.c. */
#ifndef CHAT_AI_HANDLER_H
#define CHAT_AI_HANDLER_H

#include <httpd.h>

/* SetHandler chat-ai: POST /chat/ai/explain, POST /chat/ai/describe-image. */
int chat_ai_handler(request_rec *r);

#endif
