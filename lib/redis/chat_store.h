/* Room storage in Redis: the key layout and the Lua scripts that make each
 * room operation one atomic step (sequence, capped stream, publish). */
#ifndef CHAT_STORE_H
#define CHAT_STORE_H

#include <apr_pools.h>

/* Keys of room R under prefix P:
 *   P room:R:members   SET   who may join (empty = inactive room)
 *   P room:R:meta      HASH  seq (last assigned), epoch, last_ts
 *   P room:R:log       STREAM entries "SEQ-0" {u: username, m: message JSON}
 *   P room:R:presence  ZSET  "user\nsession" scored by expiry (ms)
 *   P user:U:sessions  ZSET  the user's sessions on any room and server, by expiry
 *   P user:U:searches  STRING the user's history searches this minute (expires)
 *   P room:R:debug     LIST  recent events (JSON, newest first), capped
 *   P room:R:hours     HASH  messages posted per hour (field: ms / 3600000), last 168 hours
 *   P room:R:sessions  HASH  presence entry -> {"since","seen","node","pid"} (ms), live ones
 *   P rooms            SET   every room that ever had a member
 *   P node:N           HASH  figures of process N (a hub), expiring with its presence
 *   P nodes            ZSET  the names N of those hashes, scored by their expiry (ms): the
 *                            registry readers use instead of KEYS (ACL users may lack it)
 * Channel P ch:R carries events as JSON {"t": kind, ...}. Presence events
 * have one fixed shape, read without a JSON parser by every process:
 * {"t":"join"|"leave"|"users","n":COUNT[,"username":U][,"sid":S],"users":[...]}
 * (S: the session part of the joiner's presence entry, after the newline). */
const char *chat_store_key(apr_pool_t *p, const char *prefix, const char *room, const char *what);
const char *chat_store_node_key(apr_pool_t *p, const char *prefix, const char *node);
const char *chat_store_nodes_key(apr_pool_t *p, const char *prefix);
/* A fresh room epoch: 16 random hex digits (NUL-terminated). */
void chat_store_new_epoch(char out[17]);
const char *chat_store_channel(apr_pool_t *p, const char *prefix, const char *room);

/* KEYS members meta log presence sessions debug; ARGV user entry expiry_ms
 * now_ms since epoch_hint limit new_epoch channel prefix max_sessions_of_user
 * (0 = any) session_record debug_cap (0 = no debug entry) node. One round
 * trip: on "ok" it also writes the admin page's session record and the
 * room's debug-log "join" entry.
 * -> {"inactive"} | {"denied"} | {"toomany"} | {"ok", seq, epoch, history, hasMore(0/1),
 *    users, mode ("welcome"|"replay"|"reset"), replay, user count} (JSON strings) */
extern const char chat_lua_join[];

/* KEYS meta log; ARGV channel maxlen body user new_epoch now_ms [reply_id reply_seq]
 * body is the message JSON without id and seq: '{"username":...}'. With
 * reply_id, the message gets reply: {id, username, excerpt (<= 140 characters
 * of the original's text, or its type)} from the original stored at
 * reply_seq (an AI answer's seq differs from its id).
 * Also counts the post in room:R:hours (derived from the meta key).
 * -> {seq, epoch, message JSON} | "not_found" (no message reply_id there) */
extern const char chat_lua_post[];

/* KEYS log; ARGV before_seq (0 = newest) limit -> {messages JSON, hasMore} */

/* KEYS log members rate-key (P user:U:searches); ARGV user query (lower-cased)
 * limit rate (per minute, 0 = any) scan: the newest `limit` messages whose
 * text (an image's caption) holds query, newest first, reading at most the
 * newest `scan` messages of the log (ChatSearchScan).
 * -> {"denied"} | {"limited", ms_left} | {"ok", messages JSON, hasMore, partial} */
extern const char chat_lua_search[];
extern const char chat_lua_history[];

/* KEYS meta, log; ARGV channel, history size, message id, message JSON
 * (without id/seq), username: a new seq for message id. */
extern const char chat_lua_replace[];

/* The owner stored with bot and system messages (AI answers, jobs, the
 * admin's "system" posts): no valid user name equals it, so no member can
 * delete them as "own" by taking the bot's name. */
#define CHAT_STORE_OWNER_BOT "\001bot"

/* The EVAL arguments of chat_lua_post for one message (body: JSON without
 * id/seq), with a fresh epoch candidate and the current time; user is the
 * owner (who may delete it). */
void chat_store_post_args(apr_pool_t *p, const char *argv[11], const char *prefix, const char *room,
                          int history_size, const char *body, const char *user);

/* KEYS log; ARGV id user ("" = anyone) channel -> "ok" | "notfound" | "forbidden" */
extern const char chat_lua_delete[];

/* KEYS presence sessions; ARGV entry now_ms channel user prefix -> users JSON */
extern const char chat_lua_leave[];

/* KEYS presence members sessions; ARGV now_ms expiry_ms channel prefix
 * (entry record-JSON)...: refresh these entries and their admin records in one
 * step, drop expired ones and their records, announce the list if it changed.
 * -> the users of these entries no longer in members */
extern const char chat_lua_presence[];
/* -> the users among those entries who are no longer members of the room */

/* KEYS meta log; ARGV channel new_epoch: clear the history under a new epoch,
 * seq keeps counting; connected clients get history_reset. -> seq */
extern const char chat_lua_reset[];

/* KEYS debug-list; ARGV entry-JSON cap: push an event, keep the newest cap. */
extern const char chat_lua_debug[];

/* The EVAL arguments of chat_lua_debug for one event of a room's debug log,
 * now: {"ts","event","username","node"?,"detail"?} (node, detail may be NULL);
 * the newest cap events are kept. */
void chat_store_debug_args(apr_pool_t *p, const char *argv[6], const char *prefix, const char *room,
                           int cap, const char *event, const char *username, const char *node,
                           const char *detail);

/* Scripts go as EVALSHA; their text only when Redis answers NOSCRIPT. The
 * SHA1 (40 hex digits) of one of the chat_lua_* scripts above, NULL for
 * anything else. Thread-safe, computed once. */
const char *chat_store_script_sha(const char *script);
/* The i-th chat_lua_* script and its SHA1, NULL past the last (to load them
 * ahead with SCRIPT EXISTS / SCRIPT LOAD). */
const char *chat_store_script(int i, const char **sha);

#endif
