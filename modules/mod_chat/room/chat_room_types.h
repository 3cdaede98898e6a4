/* The state of the room layer on one reactor: a hub (two Redis connections
 * and the rooms with members here), its rooms, and their members. Every
 * file of this folder works on these; each owns one part (chat_hub.c the
 * Redis side and joins, chat_fanout.c delivery, chat_presence.c presence,
 * chat_member.c one connection). On the reactor's thread only. */
#ifndef CHAT_ROOM_TYPES_H
#define CHAT_ROOM_TYPES_H

#include <apr_hash.h>

#include "chat_config.h"
#include "chat_redis.h"
#include "chat_ws_session.h"

/* A room's subscription on its hub's subscriber connection. hiredis 0.14
 * forgets the callback of a SUBSCRIBE sent while an UNSUBSCRIBE of the same
 * channel is unanswered (and asserts if that was the last channel), so a
 * room never subscribes again before its UNSUBSCRIBE is confirmed. */
#define CHAT_SUB_NONE    0 /* not subscribed */
#define CHAT_SUB_ASKED   1 /* SUBSCRIBE sent */
#define CHAT_SUB_ON      2 /* confirmed: messages flow */
#define CHAT_SUB_LEAVING 3 /* UNSUBSCRIBE sent, not confirmed */

typedef struct chat_hub chat_hub;
typedef struct chat_room chat_room;
typedef struct chat_member chat_member;

/* Recent chat frames a room keeps for members whose join reply arrives after
 * live messages that followed it. Allocated with the first chat frame the
 * room sees (chat_fanout.c), freed by chat_fanout_forget: an idle room holds
 * none. */
#define RECENT 256

typedef struct chat_recent {
    apr_uint64_t seq[RECENT];
    chat_outbuf *buf[RECENT];
    unsigned int next;
    unsigned int n;
} chat_recent;

struct chat_room {
    chat_hub *hub;
    char *name;
    char *channel;
    chat_member *members; /* joining and joined */
    int count;
    int sub_state;          /* CHAT_SUB_* */
    apr_time_t empty_since; /* no members since then (0 = has members) */
    int needs_catchup;
    chat_recent *recent;             /* NULL until a chat frame came */
    struct chat_presence_held *held; /* presence waiting for the tick (chat_fanout.c) */
    apr_uint64_t presence_seq;       /* presence frames held so far */
    apr_time_t presence_at;          /* the last presence write (ChatPresenceBatch) */
};

struct chat_hub {
    chat_reactor *reactor;
    const chat_srv_conf *sc;
    const char *prefix;
    chat_redis *cmd;
    chat_redis *sub;
    chat_redis *watch;    /* ChatRedisSentinel: +switch-master, else NULL */
    apr_hash_t *rooms;    /* name -> room */
    apr_hash_t *channels; /* channel -> room */
    apr_hash_t *buckets;  /* user -> bucket (chat_hub.c) */
    apr_time_t next_sweep;
    apr_time_t next_room_sweep;
    apr_pool_t *pool;
    char node[96];
    apr_interval_time_t presence_ttl;
    apr_time_t next_presence;
    apr_time_t last_stats;
    apr_uint64_t posts; /* since last_stats */
    int rooms_held;     /* rooms holding presence for the tick */
};

/* Longest hand-over marker id, with its NUL (handover/ makes "pid.count"). */
#define CHAT_MARKER_MAX 48

/* A message that came before the welcome (chat_member_hold_early). */
typedef struct chat_early_msg {
    struct chat_early_msg *next;
    apr_size_t len;
    char data[];
} chat_early_msg;

/* Messages a member sent before its welcome, handled by fn after it. */
typedef struct chat_early {
    chat_early_msg *head, *tail;
    int count;
    apr_size_t bytes;
    void (*fn)(struct chat_member *m, const char *data, apr_size_t len);
} chat_early;

/* One chat connection (the session's app_data). Made by the handler on the
 * request's thread, then only touched on the session's reactor thread.
 * There is one per open socket: what only some need is allocated when
 * needed, and the ints sit together (no padding). */
struct chat_member {
    chat_ws_session *s;
    chat_hub *hub;
    chat_room *room;
    struct chat_member *prev, *next; /* in room->members */
    int refs;                        /* the session's and in-flight commands' */
    int join_sent;                   /* the join script was sent */
    int present;                     /* our presence entry exists in Redis */
    int joined;                      /* welcome sent: live events flow */
    int catching_up; /* reading back an outage: live chat waits in the room's recent frames */
    int has_since;   /* ?since= given */
    /* live hand-over: the marker this member waits for on its room's channel
     * (leaving process: move at it; taking process: receive from it) */
    int parked;                 /* taking process: handed over, live events flow from the marker */
    char *marker;               /* malloc'd while waiting, else NULL */
    apr_time_t opened_at;       /* when the session started */
    apr_uint64_t presence_from; /* held presence up to this room seq is older than its welcome */

    char *username; /* one malloc'd block with room_name and epoch_hint */
    char *room_name;
    char *entry; /* presence entry "user\nnode:session" (malloc'd on entering) */
    const chat_srv_conf *sc;
    const chat_room_limits *lim; /* shared (chat_ws_intern) */

    apr_uint64_t since;
    const char *epoch_hint; /* ?epoch= with ?since=, else "" */
    char epoch[40];
    apr_uint64_t last_seq; /* highest seq this client has */

    /* ChatMessageBudget: what this connection may still spend, and how often
     * it was refused lately (decays at the budget's rate) */
    double budget;
    double strikes;
    apr_time_t budget_at;
    apr_time_t strikes_at; /* the last refusal, from which strikes decay */
    apr_time_t refused_at; /* last rate_limited error sent */
    double debug_tokens;   /* debug-log writes (1 per second, burst 10) */
    apr_time_t debug_at;

    chat_early *early; /* messages before the welcome: malloc'd with the first */
};

#endif
