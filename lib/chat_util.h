/* Small pure helpers shared by both modules and the unit tests (no httpd
 * symbols here, so mod_chat_admin and tests/unit can link them alone). */
#ifndef CHAT_UTIL_H
#define CHAT_UTIL_H

#include <apr_pools.h>

/* Parse a byte count: digits with an optional K, M or G suffix (binary).
 * Returns NULL, or an error message. */
const char *chat_config_parse_bytes(apr_pool_t *p, const char *arg, apr_int64_t min,
                                    apr_int64_t max, apr_int64_t *out);

/* s as a JSON string literal, quotes included. */
const char *chat_json_quote(apr_pool_t *p, const char *s);

/* A room name: 1-64 characters of [A-Za-z0-9_-], not "upload" or "ai". */
int chat_room_name_valid(const char *name);

/* A secret kept in a file (ChatTokenSecretFile, ChatAdminSecretFile): its
 * first line(s), trailing white space removed. NULL, or an error message. */
const char *chat_read_secret_file(apr_pool_t *p, const char *path, const char **secret);

/* A whole small data file (a table of ours) into p, NUL-terminated: NULL,
 * or "PATH: why" (missing, unreadable, over max bytes). */
const char *chat_file_slurp(apr_pool_t *p, const char *path, apr_size_t max, char **buf,
                            apr_size_t *len);

#endif
