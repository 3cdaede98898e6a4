/* The settings mod_chat reads from its directives and shares with
 * mod_chat_admin (Redis, key prefix, token secret, uploads, AI): the structs,
 * their effective values with defaults applied, and the optional functions
 * through which mod_chat_admin reads them, so that neither module needs the
 * other's symbols. Parsing the directives is mod_chat's (config/chat_config.c). */
#ifndef CHAT_SETTINGS_H
#define CHAT_SETTINGS_H

#include <httpd.h>
#include <apr_optional.h>

#define CHAT_DEFAULT_MAX_FRAME     1048576
#define CHAT_DEFAULT_MAX_MESSAGE   1048576
#define CHAT_DEFAULT_PING_INTERVAL 30
#define CHAT_DEFAULT_IDLE_TIMEOUT  120
#define CHAT_DEFAULT_CLOSE_TIMEOUT 5
#define CHAT_DEFAULT_SENDQ_LIMIT   4194304
#define CHAT_DEFAULT_CTL_RATE      10 /* ping/pong frames per second from a client */
#define CHAT_DEFAULT_CTL_BURST     100

typedef enum {
    CHAT_MODE_UNSET = 0,
    CHAT_MODE_AUTO,  /* event MPM: idle sockets live on the child's I/O thread */
    CHAT_MODE_THREAD /* the request's worker thread runs the socket */
} chat_conn_mode;

typedef enum {
    CHAT_ID_UNSET = 0,
    CHAT_ID_REMOTE_USER, /* r->user from any auth module (default) */
    CHAT_ID_TOKEN,       /* signed token in ?token= or the chat_token cookie */
    CHAT_ID_QUERY        /* ?username= trusted as is: demos only */
} chat_identity_mode;

/* Conversation features: searches, and images the page resizes. */
#define CHAT_DEFAULT_SEARCH_RATE   10    /* history searches per minute per user */
#define CHAT_DEFAULT_SEARCH_SCAN   10000 /* newest messages one search reads */
#define CHAT_DEFAULT_IMAGE_MAX     2048  /* pixels of an image's longer side */
#define CHAT_DEFAULT_IMAGE_QUALITY 850   /* thousandths: JPEG/WebP quality of a resize */

#define CHAT_DEFAULT_HISTORY_SIZE 1000
#define CHAT_DEFAULT_MAX_TEXT     4000
#define CHAT_DEFAULT_RATE         5
#define CHAT_DEFAULT_BURST        10
#define CHAT_DEFAULT_PRESENCE_TTL 40
#define CHAT_DEFAULT_MAX_CONNS    20
#define CHAT_DEFAULT_DEBUG_LOG    200
#define CHAT_DEFAULT_PRESENCE_MS  1000 /* ChatPresenceBatch On */
#define CHAT_DEFAULT_UPLOAD_MAX   (10 * 1024 * 1024)
#define CHAT_DEFAULT_BUDGET_RATE  20 /* cost units per second per connection */
#define CHAT_DEFAULT_BUDGET_BURST 60
#define CHAT_DEFAULT_MAX_SIGNAL   (16 * 1024)
#define CHAT_DEFAULT_ROOM_LINGER  10
/* Thread-mode sockets (TLS, prefork, worker, ChatConnectionMode thread) may
 * take this percentage of MaxRequestWorkers; the rest stays for requests. */
#define CHAT_DEFAULT_THREAD_SHARE       50
#define CHAT_DEFAULT_THREAD_RETRY_AFTER 10 /* seconds, the 503's Retry-After */
#define CHAT_DEFAULT_RECONNECT_SPREAD   10 /* seconds: 1001's retry-after-ms is in [0, this] */
#define CHAT_DEFAULT_HANDOVER_WAIT      10 /* seconds a restart waits for the new children */

typedef struct chat_dir_conf {
    chat_identity_mode identity;
    int history_size; /* messages kept per room, -1 = unset */
    int max_text;     /* characters of a text message, -1 = unset */
    int rate;         /* messages per second per user, -1 = unset, 0 = off */
    int max_conns;    /* sessions per user across servers, -1 = unset, 0 = any */
    int burst;
    int budget_rate; /* ChatMessageBudget: cost units per second, -1 = unset, 0 = off */
    int budget_burst;
    apr_int64_t max_signal;           /* ChatMaxSignalSize, -1 = unset */
    apr_array_header_t *media_allow;  /* ChatMediaAllow URL prefixes, NULL = none */
    const char *upload_dir;           /* NULL = uploads off */
    const char *upload_url;           /* NULL = /chat/files */
    apr_int64_t upload_max;           /* -1 = unset */
    apr_array_header_t *upload_types; /* NULL = every known type */
    apr_int64_t max_frame;            /* -1 = unset */
    apr_int64_t max_message;
    apr_int64_t sendq_limit;
    int ctl_rate; /* control frames per second, -1 = unset, 0 = off */
    int ctl_burst;
    int ping_interval; /* seconds, -1 = unset, 0 = off */
    int idle_timeout;
    int close_timeout;
    int origins_set;
    int origins_any;
    apr_array_header_t *origins; /* const char *, lower-cased "scheme://host[:port]" */
    int search_rate;             /* ChatSearchRate per minute, -1 = unset, 0 = off */
    int search_scan;             /* ChatSearchScan messages, -1 = unset */
    int image_max_dim;           /* ChatImageMaxDimension pixels, -1 = unset, 0 = off */
    int image_quality;           /* ChatImageQuality in thousandths, -1 = unset */
    const char *client_dir;      /* ChatClientDir, NULL = CHAT_DATADIR/client */
} chat_dir_conf;

typedef struct chat_srv_conf {
    chat_conn_mode conn_mode;
    const char *redis_host; /* NULL = unset */
    int redis_port;
    const char *redis_socket;
    const char *redis_user;          /* Redis 6 ACL user, NULL = default */
    const char *redis_password;      /* NULL = no AUTH */
    int redis_db;                    /* -1 = unset (0) */
    int redis_timeout;               /* seconds, -1 = unset */
    int redis_max_pending;           /* commands awaiting replies per connection, -1 = unset */
    apr_array_header_t *sentinels;   /* chat_redis_addr: ChatRedisSentinel, NULL = ChatRedis */
    const char *sentinel_master;     /* the master name the sentinels monitor */
    const char *sentinel_user;       /* ChatRedisSentinelAuth, NULL = default user */
    const char *sentinel_password;   /* NULL = no AUTH to sentinels */
    int wait_replicas;               /* ChatRedisWaitReplicas, -1 = unset (0: off) */
    int wait_timeout;                /* its timeout in ms, -1 = unset */
    const char *key_prefix;          /* NULL = "chat:" */
    const char *token_secret;        /* NULL = token identity unusable */
    int presence_ttl;                /* seconds, -1 = unset */
    int debug_log_size;              /* events kept per room, -1 = unset, 0 = off */
    int room_linger;                 /* seconds an empty room stays subscribed, -1 = unset */
    int presence_batch;              /* presence held at least this many ms: 0 = off, -1 = unset */
    int handover;                    /* live hand-over of sockets: 1/0, -1 = unset (on) */
    int handover_wait;               /* seconds, -1 = unset */
    int thread_sockets;              /* ChatThreadSockets cap, -1 = auto (from the share) */
    int thread_share;                /* ChatThreadSocketsShare percent, -1 = unset */
    int thread_retry_after;          /* ChatThreadSocketsRetryAfter seconds, -1 = unset */
    int reconnect_spread;            /* ChatReconnectSpread seconds, -1 = unset */
    apr_array_header_t *ice_servers; /* chat_ice_server: STUN/TURN for browser calls */
    apr_array_header_t *trusted_proxies; /* apr_ipsubnet_t *: ChatTrustedProxy, NULL = none */
    struct chat_ai_conf *ai;             /* ChatAI* directives, NULL = none */
} chat_srv_conf;

/* One sentinel of ChatRedisSentinel. */
typedef struct chat_redis_addr {
    const char *host;
    int port;
} chat_redis_addr;

/* A STUN or TURN server handed to browsers for WebRTC calls (ChatIceServer). */
typedef struct chat_ice_server {
    const char *url; /* stun:host:port, turn:host:port?transport=udp, turns:... */
    const char *username;
    const char *credential;
} chat_ice_server;

/* The effective room settings of one location, defaults applied. */
typedef struct chat_room_limits {
    chat_identity_mode identity;
    int history_size;
    int max_text;
    int rate;
    int burst;
    int max_conns;
    int budget_rate; /* 0 = no budget */
    int budget_burst;
    apr_size_t max_signal;
    const char *upload_url;                /* where this location's uploads are served */
    const apr_array_header_t *media_allow; /* other URL prefixes media may point at */
    int search_rate;                       /* history searches per minute per user, 0 = any */
    int search_scan;                       /* newest messages one search reads at most */
    int image_max_dim;                     /* the page resizes larger images, 0 = never */
    int image_quality;                     /* thousandths */
} chat_room_limits;

#define CHAT_DEFAULT_REDIS_TIMEOUT     5
#define CHAT_DEFAULT_REDIS_MAX_PENDING 10000
#define CHAT_DEFAULT_WAIT_TIMEOUT      1000 /* ms */

/* Effective Redis settings. */
static APR_INLINE const char *chat_settings_redis_host(const chat_srv_conf *sc, int *port)
{
    if (sc->redis_socket) {
        *port = 0;
        return sc->redis_socket;
    }
    *port = sc->redis_host ? sc->redis_port : 6379;
    return sc->redis_host ? sc->redis_host : "127.0.0.1";
}

static APR_INLINE const char *chat_settings_key_prefix(const chat_srv_conf *sc)
{
    return sc->key_prefix ? sc->key_prefix : "chat:";
}

/* ChatPresenceBatch: presence held for the tick (1) or sent as it comes (0). */
static APR_INLINE int chat_settings_presence_batch(const chat_srv_conf *sc)
{
    return sc->presence_batch != 0;
}

/* The least time between two presence writes to a room's members. */
static APR_INLINE apr_interval_time_t chat_settings_presence_interval(const chat_srv_conf *sc)
{
    return apr_time_from_msec(sc->presence_batch > 0 ? sc->presence_batch
                                                     : CHAT_DEFAULT_PRESENCE_MS);
}

/* Events kept in a room's debug log: ChatDebugLogSize, 0 = the log is off. */

static APR_INLINE int chat_settings_debug_cap(const chat_srv_conf *sc)
{
    return sc->debug_log_size >= 0 ? sc->debug_log_size : CHAT_DEFAULT_DEBUG_LOG;
}

static APR_INLINE apr_interval_time_t chat_settings_redis_timeout(const chat_srv_conf *sc)
{
    return apr_time_from_sec(sc->redis_timeout >= 0 ? sc->redis_timeout
                                                    : CHAT_DEFAULT_REDIS_TIMEOUT);
}

static APR_INLINE int chat_settings_redis_max_pending(const chat_srv_conf *sc)
{
    return sc->redis_max_pending > 0 ? sc->redis_max_pending : CHAT_DEFAULT_REDIS_MAX_PENDING;
}

/* Replicas a post waits for (WAIT) before it is acknowledged, 0 = none. */
static APR_INLINE int chat_settings_wait_replicas(const chat_srv_conf *sc, int *timeout_ms)
{
    /* a WAIT longer than ChatRedisTimeout would get its connection reset */
    int cap = (sc->redis_timeout >= 0 ? sc->redis_timeout : CHAT_DEFAULT_REDIS_TIMEOUT) * 500;

    *timeout_ms = sc->wait_timeout > 0 ? sc->wait_timeout : CHAT_DEFAULT_WAIT_TIMEOUT;
    *timeout_ms = *timeout_ms < cap ? *timeout_ms : cap;
    return sc->wait_replicas > 0 ? sc->wait_replicas : 0;
}

/* The effective WebSocket settings of one location, defaults applied. */
typedef struct chat_ws_limits {
    apr_uint64_t max_frame;
    apr_uint64_t max_message;
    apr_size_t sendq_limit;
    int ctl_rate; /* ping/pong frames per second a client may send, 0 = no limit */
    int ctl_burst;
    apr_interval_time_t ping_interval; /* 0 = off */
    apr_interval_time_t idle_timeout;  /* 0 = off */
    apr_interval_time_t close_timeout;
} chat_ws_limits;

/* app_max: the frame and message size the app needs when ChatMaxFrameSize /
 * ChatMaxMessageSize are unset (0: the engine's default, 1 MiB). */
void chat_settings_ws_limits(const chat_dir_conf *dc, apr_uint64_t app_max, chat_ws_limits *out);
void chat_settings_room_limits(const chat_dir_conf *dc, chat_room_limits *out);
apr_interval_time_t chat_settings_presence_ttl(const chat_srv_conf *sc);
chat_conn_mode chat_settings_conn_mode(const chat_srv_conf *sc);
int chat_settings_handover(const chat_srv_conf *sc);
apr_interval_time_t chat_settings_handover_wait(const chat_srv_conf *sc);
/* Is peer (the TCP peer, c->client_addr) one of the ChatTrustedProxy
 * addresses, whose X-Forwarded-Proto may be believed? */
int chat_settings_proxy_trusted(const chat_srv_conf *sc, apr_sockaddr_t *peer);

/* mod_chat's settings of a server, for mod_chat_admin: the server config,
 * and the server-wide location settings (uploads, history size) that
 * scheduled jobs post with. */
APR_DECLARE_OPTIONAL_FN(const chat_srv_conf *, chat_server_conf, (server_rec * s));
APR_DECLARE_OPTIONAL_FN(const chat_dir_conf *, chat_server_dir_conf, (server_rec * s));
/* Thread-mode WebSockets open in the whole server (all children) and their
 * cap (ChatThreadSockets); 0 when the count is not kept (no shared memory). */
APR_DECLARE_OPTIONAL_FN(int, chat_thread_sockets, (apr_uint32_t * open, apr_uint32_t *cap));

#endif
