/* Who an HTTP request's user is, and room membership (see chat_access.c). */
#ifndef CHAT_ACCESS_H
#define CHAT_ACCESS_H

#include <httpd.h>

#include "chat_config.h"

/* Who is asking, per ChatIdentity: the user name, or NULL with *status set
 * (400 bad name, 401 no user or bad token, 403 a name reserved for the
 * system or a ChatAIProvider's bot) and the reason logged. */
const char *chat_identify(request_rec *r, const chat_room_limits *lim, int *status);

/* Is user a member of room? 1 yes, 0 no, -1 Redis unavailable. */
int chat_room_is_member(request_rec *r, const char *room, const char *user);

/* post_read_request: "token=VALUE" in the request line becomes "token=***"
 * for the access log (%r); the query itself (r->args) is left alone. */
int chat_access_mask_token(request_rec *r);

#endif
