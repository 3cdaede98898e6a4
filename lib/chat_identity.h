/* Who a request is: the user name of a WebSocket join or an HTTP call, from
 * r->user (any Apache auth module), a signed token, or ?username= (demo). */
#ifndef CHAT_IDENTITY_H
#define CHAT_IDENTITY_H

#include <httpd.h>

/* 1-64 characters of valid UTF-8, no control characters, no leading or
 * trailing space. */
int chat_username_valid(const char *name);

/* Token: base64url(JSON {"u":user,"exp":unix-seconds}) "." base64url(HMAC-
 * SHA256(secret, first part)). Returns the user name, or NULL with *why set. */
const char *chat_token_verify(apr_pool_t *p, const char *token, const char *secret, apr_time_t now,
                              const char **why);
const char *chat_token_mint(apr_pool_t *p, const char *user, apr_time_t expires,
                            const char *secret);

/* The value of ?name= in a query string, URL-decoded, or NULL. */
const char *chat_query_param(apr_pool_t *p, const char *args, const char *name);

#endif
