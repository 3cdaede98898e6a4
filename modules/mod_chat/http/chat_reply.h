/* JSON answers of mod_chat's HTTP endpoints (uploads, ?info, the AI). */
#ifndef CHAT_REPLY_H
#define CHAT_REPLY_H

#include <httpd.h>
#include <json.h>

/* Reply with o (consumed) as the body. Returns OK. */
int chat_json_reply(request_rec *r, int status, json_object *o);
/* {"error": message, "code": code}, logged at info; closes the connection
 * after the answer (the body may still be coming). Returns OK. */
int chat_json_error(request_rec *r, int status, const char *code, const char *message);

#endif
