/* Directive parsing and config merging for mod_chat. Every error message
 * starts with the directive's name, so configtest output points at it. */
#include <httpd.h>
#include <apr_strings.h>
#include <apr_file_io.h>
#include <apr_lib.h>
#include <http_core.h>
#include <http_log.h>

#include "chat_config.h"
#include "chat_ai_config.h"
#include "chat_client_config.h"
#include "chat_conv_config.h"
#include "chat_data_config.h"
#include "chat_process_config.h"
#include "chat_redis_config.h"
#include "chat_mime.h"
#include "chat_products.h"

APLOG_USE_MODULE(chat);

void *chat_config_dir_create(apr_pool_t *p, char *dir)
{
    chat_dir_conf *dc = apr_pcalloc(p, sizeof(*dc));

    (void)dir;
    dc->max_frame = -1;
    dc->max_message = -1;
    dc->sendq_limit = -1;
    dc->ctl_rate = -1;
    dc->ctl_burst = -1;
    dc->ping_interval = -1;
    dc->idle_timeout = -1;
    dc->close_timeout = -1;
    dc->history_size = -1;
    dc->max_text = -1;
    dc->budget_rate = -1;
    dc->budget_burst = -1;
    dc->max_signal = -1;
    dc->rate = -1;
    dc->burst = -1;
    dc->max_conns = -1;
    dc->upload_max = -1;
    chat_conv_config_dir_init(dc);
    chat_client_config_dir_init(dc);
    return dc;
}

#define MERGE(field, unset) (add->field != (unset) ? add->field : base->field)

void *chat_config_dir_merge(apr_pool_t *p, void *basev, void *addv)
{
    chat_dir_conf *base = basev, *add = addv;
    chat_dir_conf *dc = apr_pcalloc(p, sizeof(*dc));

    dc->max_frame = MERGE(max_frame, -1);
    dc->max_message = MERGE(max_message, -1);
    dc->sendq_limit = MERGE(sendq_limit, -1);
    dc->ctl_rate = MERGE(ctl_rate, -1);
    dc->ctl_burst = MERGE(ctl_burst, -1);
    dc->ping_interval = MERGE(ping_interval, -1);
    dc->idle_timeout = MERGE(idle_timeout, -1);
    dc->close_timeout = MERGE(close_timeout, -1);
    dc->identity = MERGE(identity, CHAT_ID_UNSET);
    dc->history_size = MERGE(history_size, -1);
    dc->max_text = MERGE(max_text, -1);
    dc->budget_rate = MERGE(budget_rate, -1);
    dc->budget_burst = MERGE(budget_burst, -1);
    dc->max_signal = MERGE(max_signal, -1);
    dc->rate = MERGE(rate, -1);
    dc->burst = MERGE(burst, -1);
    dc->max_conns = MERGE(max_conns, -1);
    dc->upload_max = MERGE(upload_max, -1);
    dc->upload_dir = add->upload_dir ? add->upload_dir : base->upload_dir;
    dc->upload_url = add->upload_url ? add->upload_url : base->upload_url;
    dc->upload_types = add->upload_types ? add->upload_types : base->upload_types;
    dc->media_allow = add->media_allow ? add->media_allow : base->media_allow;
    chat_conv_config_dir_merge(dc, base, add);
    chat_client_config_dir_merge(dc, base, add);
    if (add->origins_set) {
        dc->origins_set = 1;
        dc->origins_any = add->origins_any;
        dc->origins = add->origins;
    }
    else {
        dc->origins_set = base->origins_set;
        dc->origins_any = base->origins_any;
        dc->origins = base->origins;
    }
    return dc;
}

void *chat_config_srv_create(apr_pool_t *p, server_rec *s)
{
    chat_srv_conf *sc = apr_pcalloc(p, sizeof(*sc));

    (void)s;
    sc->conn_mode = CHAT_MODE_UNSET;
    sc->redis_db = -1;
    sc->redis_timeout = -1;
    sc->redis_max_pending = -1;
    sc->wait_replicas = sc->wait_timeout = -1;
    sc->presence_ttl = -1;
    sc->debug_log_size = -1;
    sc->room_linger = -1;
    sc->handover = -1;
    sc->presence_batch = -1;
    sc->handover_wait = -1;
    sc->thread_sockets = -1;
    sc->thread_share = -1;
    sc->thread_retry_after = -1;
    sc->reconnect_spread = -1;
    return sc;
}

void *chat_config_srv_merge(apr_pool_t *p, void *basev, void *addv)
{
    chat_srv_conf *base = basev, *add = addv;
    chat_srv_conf *sc = apr_pcalloc(p, sizeof(*sc));

    sc->conn_mode = MERGE(conn_mode, CHAT_MODE_UNSET);
    if (add->redis_host || add->redis_socket) {
        sc->redis_host = add->redis_host;
        sc->redis_port = add->redis_port;
        sc->redis_socket = add->redis_socket;
    }
    else {
        sc->redis_host = base->redis_host;
        sc->redis_port = base->redis_port;
        sc->redis_socket = base->redis_socket;
    }
    /* user and password go together: a virtual host's password alone means the default user */
    sc->redis_user = add->redis_password ? add->redis_user : base->redis_user;
    sc->redis_password = add->redis_password ? add->redis_password : base->redis_password;
    sc->redis_db = MERGE(redis_db, -1);
    sc->redis_timeout = MERGE(redis_timeout, -1);
    sc->redis_max_pending = MERGE(redis_max_pending, -1);
    chat_redis_config_merge(sc, base, add);
    sc->key_prefix = add->key_prefix ? add->key_prefix : base->key_prefix;
    sc->token_secret = add->token_secret ? add->token_secret : base->token_secret;
    sc->presence_ttl = MERGE(presence_ttl, -1);
    sc->debug_log_size = MERGE(debug_log_size, -1);
    sc->room_linger = MERGE(room_linger, -1);
    sc->handover = MERGE(handover, -1);
    sc->presence_batch = MERGE(presence_batch, -1);
    sc->handover_wait = MERGE(handover_wait, -1);
    sc->thread_sockets = MERGE(thread_sockets, -1);
    sc->thread_share = MERGE(thread_share, -1);
    sc->thread_retry_after = MERGE(thread_retry_after, -1);
    sc->reconnect_spread = MERGE(reconnect_spread, -1);
    sc->ice_servers = add->ice_servers ? add->ice_servers : base->ice_servers;
    sc->trusted_proxies = add->trusted_proxies ? add->trusted_proxies : base->trusted_proxies;
    sc->ai = add->ai ? add->ai : base->ai;
    return sc;
}

static const char *parse_number(cmd_parms *cmd, const char *arg, const char *unit, int min, int max,
                                int *out)
{
    char *end = NULL;
    apr_int64_t v;

    if (!apr_isdigit(*arg)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a whole number%s", cmd->cmd->name, arg,
                            unit);
    }
    v = apr_strtoi64(arg, &end, 10);
    if ((end && *end) || v < min || v > max) {
        return apr_psprintf(cmd->pool, "%s: '%s' must be a whole number%s from %d to %d",
                            cmd->cmd->name, arg, unit, min, max);
    }
    *out = (int)v;
    return NULL;
}

static const char *set_bytes(cmd_parms *cmd, void *dcv, const char *arg)
{
    chat_dir_conf *dc = dcv;
    apr_int64_t *field;
    apr_int64_t min = 125, max = APR_INT64_C(1) << 30;
    const char *err;

    switch ((long)cmd->info) {
    case 0:
        field = &dc->max_frame;
        break;
    case 1:
        field = &dc->max_message;
        break;
    default:
        field = &dc->sendq_limit;
        min = 65536;
        break;
    }
    err = chat_config_parse_bytes(cmd->pool, arg, min, max, field);
    return err ? apr_pstrcat(cmd->pool, cmd->cmd->name, ": ", err, NULL) : NULL;
}

static const char *set_seconds(cmd_parms *cmd, void *dcv, const char *arg)
{
    chat_dir_conf *dc = dcv;

    switch ((long)cmd->info) {
    case 0:
        return parse_number(cmd, arg, " of seconds", 0, 86400, &dc->ping_interval);
    case 1:
        return parse_number(cmd, arg, " of seconds", 0, 86400, &dc->idle_timeout);
    default:
        return parse_number(cmd, arg, " of seconds", 1, 300, &dc->close_timeout);
    }
}

/* RATE [BURST] of a token bucket: a burst needs a rate (0 = off). */
static const char *parse_rate_burst(cmd_parms *cmd, const char *rate, const char *burst,
                                    const char *unit, int max_rate, int *rate_out, int *burst_out)
{
    const char *err =
        parse_number(cmd, rate, apr_pstrcat(cmd->pool, " of ", unit, " per second", NULL), 0,
                     max_rate, rate_out);

    if (err || !burst) {
        return err;
    }
    if (*rate_out == 0) {
        return apr_psprintf(cmd->pool, "%s: a burst makes no sense with rate 0 (off)",
                            cmd->cmd->name);
    }
    return parse_number(cmd, burst, apr_pstrcat(cmd->pool, " of ", unit, " (burst)", NULL), 1,
                        10 * max_rate, burst_out);
}

/* ChatControlFrameRate RATE [BURST]: pings and pongs a client may send. */
static const char *set_ctl_rate(cmd_parms *cmd, void *dcv, const char *rate, const char *burst)
{
    chat_dir_conf *dc = dcv;

    return parse_rate_burst(cmd, rate, burst, "control frames", 100000, &dc->ctl_rate,
                            &dc->ctl_burst);
}

static const char *set_origins(cmd_parms *cmd, void *dcv, const char *arg)
{
    chat_dir_conf *dc = dcv;

    if (!dc->origins_set || !dc->origins) {
        dc->origins = apr_array_make(cmd->pool, 4, sizeof(const char *));
        dc->origins_set = 1;
    }
    if (!strcmp(arg, "*")) {
        dc->origins_any = 1;
        return NULL;
    }
    if (strncasecmp(arg, "http://", 7) && strncasecmp(arg, "https://", 8)) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not an origin (expected * or scheme://host[:port])",
                            cmd->cmd->name, arg);
    }
    {
        char *o = apr_pstrdup(cmd->pool, arg);
        apr_size_t n = strlen(o);
        if (n && o[n - 1] == '/') {
            o[n - 1] = '\0';
        }
        ap_str_tolower(o);
        APR_ARRAY_PUSH(dc->origins, const char *) = o;
    }
    return NULL;
}

/* ChatTrustedProxy ADDR[/BITS]...: the TLS proxies whose X-Forwarded-Proto
 * is believed; names are refused, since the check is against the TCP peer. */
static const char *set_trusted_proxy(cmd_parms *cmd, void *dummy, const char *arg)
{
    chat_srv_conf *sc = ap_get_module_config(cmd->server->module_config, &chat_module);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE);
    char *ip = apr_pstrdup(cmd->pool, arg), *bits = strchr(ip, '/');
    apr_ipsubnet_t *net;
    char msg[120];
    apr_status_t rv;

    (void)dummy;
    if (err) {
        return err;
    }
    if (bits) {
        *bits++ = '\0';
    }
    rv = apr_ipsubnet_create(&net, ip, bits, cmd->pool);
    if (rv != APR_SUCCESS) {
        if (APR_STATUS_IS_EINVAL(rv)) {
            apr_cpystrn(msg, "not an IP address or address/prefix-length", sizeof(msg));
        }
        else {
            apr_strerror(rv, msg, sizeof(msg));
        }
        return apr_psprintf(cmd->pool, "%s: '%s': %s", cmd->cmd->name, arg, msg);
    }
    if (!sc->trusted_proxies) {
        sc->trusted_proxies = apr_array_make(cmd->pool, 2, sizeof(apr_ipsubnet_t *));
    }
    APR_ARRAY_PUSH(sc->trusted_proxies, apr_ipsubnet_t *) = net;
    return NULL;
}

static const char *set_conn_mode(cmd_parms *cmd, void *dummy, const char *arg)
{
    chat_srv_conf *sc = ap_get_module_config(cmd->server->module_config, &chat_module);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE);

    (void)dummy;
    if (err) {
        return err;
    }
    if (!strcasecmp(arg, "auto")) {
        sc->conn_mode = CHAT_MODE_AUTO;
    }
    else if (!strcasecmp(arg, "thread")) {
        sc->conn_mode = CHAT_MODE_THREAD;
    }
    else {
        return apr_psprintf(cmd->pool, "%s: '%s' is not one of auto, thread", cmd->cmd->name, arg);
    }
    return NULL;
}

static const char *set_redis(cmd_parms *cmd, void *dummy, const char *arg)
{
    chat_srv_conf *sc = ap_get_module_config(cmd->server->module_config, &chat_module);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE);
    char *host = NULL, *scope = NULL;
    apr_port_t port = 0;

    (void)dummy;
    if (err || (err = chat_redis_config_plain_ok(cmd, sc))) {
        return err;
    }
    if (!strncmp(arg, "unix:", 5)) {
        if (arg[5] != '/') {
            return apr_psprintf(cmd->pool, "%s: '%s': a unix socket path must be absolute",
                                cmd->cmd->name, arg);
        }
        sc->redis_socket = arg + 5;
        sc->redis_host = NULL;
        return NULL;
    }
    if (apr_parse_addr_port(&host, &scope, &port, arg, cmd->pool) != APR_SUCCESS || !host ||
        scope) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not host:port or unix:/path", cmd->cmd->name,
                            arg);
    }
    sc->redis_host = host;
    sc->redis_port = port ? port : 6379;
    sc->redis_socket = NULL;
    return NULL;
}

static const char *set_redis_number(cmd_parms *cmd, void *dummy, const char *arg)
{
    chat_srv_conf *sc = ap_get_module_config(cmd->server->module_config, &chat_module);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE);

    (void)dummy;
    if (err) {
        return err;
    }
    if ((long)cmd->info == 0) {
        return parse_number(cmd, arg, "", 0, 15, &sc->redis_db);
    }
    if ((long)cmd->info == 2) {
        return parse_number(cmd, arg, " of commands", 1, 1000000, &sc->redis_max_pending);
    }
    return parse_number(cmd, arg, " of seconds", 1, 60, &sc->redis_timeout);
}

static const char *set_key_prefix(cmd_parms *cmd, void *dummy, const char *arg)
{
    chat_srv_conf *sc = ap_get_module_config(cmd->server->module_config, &chat_module);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE);
    const char *p;

    (void)dummy;
    if (err) {
        return err;
    }
    if (strlen(arg) > 64) {
        return apr_psprintf(cmd->pool, "%s: longer than 64 characters", cmd->cmd->name);
    }
    for (p = arg; *p; p++) {
        if (apr_iscntrl(*p) || *p == ' ' || *p == '*' || *p == '?' || *p == '[') {
            return apr_psprintf(cmd->pool, "%s: '%s' has a space, control or glob character",
                                cmd->cmd->name, arg);
        }
    }
    sc->key_prefix = arg;
    return NULL;
}

static const char *set_identity(cmd_parms *cmd, void *dcv, const char *arg)
{
    chat_dir_conf *dc = dcv;

    if (!strcasecmp(arg, "remote-user")) {
        dc->identity = CHAT_ID_REMOTE_USER;
    }
    else if (!strcasecmp(arg, "token")) {
        dc->identity = CHAT_ID_TOKEN;
    }
    else if (!strcasecmp(arg, "query")) {
        dc->identity = CHAT_ID_QUERY;
    }
    else {
        return apr_psprintf(cmd->pool, "%s: '%s' is not one of remote-user, token, query",
                            cmd->cmd->name, arg);
    }
    return NULL;
}

static const char *set_room_number(cmd_parms *cmd, void *dcv, const char *arg)
{
    chat_dir_conf *dc = dcv;

    switch ((long)cmd->info) {
    case 0:
        return parse_number(cmd, arg, " of messages", 1, 1000000, &dc->history_size);
    case 1:
        return parse_number(cmd, arg, " of characters", 1, 1000000, &dc->max_text);
    default:
        return parse_number(cmd, arg, " of connections", 0, 100000, &dc->max_conns);
    }
}

static const char *set_rate(cmd_parms *cmd, void *dcv, const char *rate, const char *burst)
{
    chat_dir_conf *dc = dcv;

    return parse_rate_burst(cmd, rate, burst, "messages", 10000, &dc->rate, &dc->burst);
}

/* ChatMessageBudget RATE [BURST]: cost units a connection may spend. */
static const char *set_budget(cmd_parms *cmd, void *dcv, const char *rate, const char *burst)
{
    chat_dir_conf *dc = dcv;

    return parse_rate_burst(cmd, rate, burst, "cost units", 100000, &dc->budget_rate,
                            &dc->budget_burst);
}

static const char *set_max_signal(cmd_parms *cmd, void *dcv, const char *arg)
{
    chat_dir_conf *dc = dcv;
    const char *err =
        chat_config_parse_bytes(cmd->pool, arg, 1024, APR_INT64_C(1) << 30, &dc->max_signal);

    return err ? apr_pstrcat(cmd->pool, cmd->cmd->name, ": ", err, NULL) : NULL;
}

/* ChatMediaAllow PREFIX...: where image/audio messages may point besides
 * this location's uploads; whole http(s) URLs ending in '/'. */
static const char *set_media_allow(cmd_parms *cmd, void *dcv, const char *arg)
{
    chat_dir_conf *dc = dcv;
    apr_size_t n = strlen(arg);

    if ((strncasecmp(arg, "https://", 8) && strncasecmp(arg, "http://", 7)) || n < 10 ||
        arg[n - 1] != '/' || strstr(arg, "..") || strchr(arg, '"')) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not an http(s) URL prefix ending in / "
                            "(e.g. https://charts.example.com/img/)",
                            cmd->cmd->name, arg);
    }
    if (!dc->media_allow) {
        dc->media_allow = apr_array_make(cmd->pool, 2, sizeof(const char *));
    }
    APR_ARRAY_PUSH(dc->media_allow, const char *) = arg;
    return NULL;
}

static const char *set_token_secret(cmd_parms *cmd, void *dummy, const char *arg)
{
    chat_srv_conf *sc = ap_get_module_config(cmd->server->module_config, &chat_module);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE);
    const char *secret = arg;

    (void)dummy;
    if (err) {
        return err;
    }
    if ((long)cmd->info == 1) {
        const char *err =
            chat_read_secret_file(cmd->pool, ap_server_root_relative(cmd->pool, arg), &secret);
        if (err) {
            return apr_pstrcat(cmd->pool, cmd->cmd->name, ": ", err, NULL);
        }
    }
    if (strlen(secret) < 16) {
        return apr_psprintf(cmd->pool, "%s: the secret must be at least 16 characters",
                            cmd->cmd->name);
    }
    sc->token_secret = secret;
    return NULL;
}

static const char *set_presence_ttl(cmd_parms *cmd, void *dummy, const char *arg)
{
    chat_srv_conf *sc = ap_get_module_config(cmd->server->module_config, &chat_module);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE);

    (void)dummy;
    if (err) {
        return err;
    }
    if ((long)cmd->info == 1) {
        return parse_number(cmd, arg, " of events", 0, 100000, &sc->debug_log_size);
    }
    if ((long)cmd->info == 2) {
        return parse_number(cmd, arg, " of seconds", 0, 3600, &sc->room_linger);
    }
    if ((long)cmd->info == 3) {
        return parse_number(cmd, arg, " of seconds", 1, 300, &sc->handover_wait);
    }
    return parse_number(cmd, arg, " of seconds", 3, 3600, &sc->presence_ttl);
}

static const char *set_upload(cmd_parms *cmd, void *dcv, const char *arg)
{
    chat_dir_conf *dc = dcv;
    apr_finfo_t fi;
    const char *err;

    switch ((long)cmd->info) {
    case 0: {
        const char *dir = ap_server_root_relative(cmd->pool, arg);
        if (!dir || apr_stat(&fi, dir, APR_FINFO_TYPE, cmd->pool) != APR_SUCCESS ||
            fi.filetype != APR_DIR) {
            return apr_psprintf(cmd->pool, "%s: '%s' is not an existing directory", cmd->cmd->name,
                                arg);
        }
        dc->upload_dir = dir;
        return NULL;
    }
    case 1:
        err = chat_config_parse_bytes(cmd->pool, arg, 1, APR_INT64_C(1) << 32, &dc->upload_max);
        return err ? apr_pstrcat(cmd->pool, cmd->cmd->name, ": ", err, NULL) : NULL;
    case 2:
        if (!chat_mime_known(arg)) {
            return apr_psprintf(cmd->pool,
                                "%s: '%s' is not a type uploads know (image/png image/jpeg "
                                "image/gif image/webp audio/webm audio/ogg audio/mpeg audio/mp4 "
                                "audio/wav application/pdf text/plain)",
                                cmd->cmd->name, arg);
        }
        if (!dc->upload_types) {
            dc->upload_types = apr_array_make(cmd->pool, 8, sizeof(const char *));
        }
        APR_ARRAY_PUSH(dc->upload_types, const char *) = chat_mime_known(arg);
        return NULL;
    default:
        if (arg[0] != '/' || strlen(arg) < 2) {
            return apr_psprintf(cmd->pool, "%s: '%s' must be a URL path like /chat/files",
                                cmd->cmd->name, arg);
        }
        dc->upload_url = arg;
        return NULL;
    }
}

/* ChatIceServer URL [username credential]: only stun:, turn: and turns: URLs,
 * and TURN needs its credentials (browsers refuse it without). */
static const char *set_ice_server(cmd_parms *cmd, void *dummy, const char *url, const char *user,
                                  const char *cred)
{
    chat_srv_conf *sc = ap_get_module_config(cmd->server->module_config, &chat_module);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE);
    chat_ice_server *ice;
    int turn = !strncasecmp(url, "turn:", 5) || !strncasecmp(url, "turns:", 6);

    (void)dummy;
    if (err) {
        return err;
    }
    if (!turn && strncasecmp(url, "stun:", 5)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a stun:, turn: or turns: URL",
                            cmd->cmd->name, url);
    }
    if (strchr(url, '"') || strchr(url, '\\') || strlen(url) < 7) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a valid URL", cmd->cmd->name, url);
    }
    if (turn && (!user || !cred)) {
        return apr_psprintf(cmd->pool, "%s: a TURN server needs a username and a credential",
                            cmd->cmd->name);
    }
    if (!sc->ice_servers) {
        sc->ice_servers = apr_array_make(cmd->pool, 2, sizeof(chat_ice_server));
    }
    ice = apr_array_push(sc->ice_servers);
    ice->url = url;
    ice->username = user;
    ice->credential = cred;
    return NULL;
}

/* ChatThreadSockets, ChatThreadSocketsShare, ChatThreadSocketsRetryAfter,
 * ChatReconnectSpread: one figure for the whole httpd instance, so only at
 * server level outside <VirtualHost>. */
static const char *set_capacity(cmd_parms *cmd, void *dummy, const char *arg)
{
    chat_srv_conf *sc = ap_get_module_config(cmd->server->module_config, &chat_module);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void)dummy;
    if (err) {
        return err;
    }
    switch ((long)cmd->info) {
    case 0:
        if (!strcasecmp(arg, "auto")) {
            sc->thread_sockets = -1;
            return NULL;
        }
        return parse_number(cmd, arg, " of sockets (or auto)", 0, 1000000, &sc->thread_sockets);
    case 1:
        return parse_number(cmd, arg, " (percent of MaxRequestWorkers)", 1, 99, &sc->thread_share);
    case 2:
        return parse_number(cmd, arg, " of seconds", 1, 3600, &sc->thread_retry_after);
    default:
        return parse_number(cmd, arg, " of seconds", 0, 3600, &sc->reconnect_spread);
    }
}

/* ChatAI*: the AI's own parser fills this server's AI settings. */
static const char *chat_config_set_ai(cmd_parms *cmd, void *dummy, const char *args)
{
    chat_srv_conf *sc = ap_get_module_config(cmd->server->module_config, &chat_module);

    (void)dummy;
    return chat_ai_directive(cmd, &sc->ai, args);
}

const command_rec chat_cmds[] = {
    CHAT_AI_COMMANDS,
    CHAT_DATA_COMMANDS,
    CHAT_REDIS_HA_COMMANDS,
    CHAT_CONV_COMMANDS,
    CHAT_CLIENT_COMMANDS,
    AP_INIT_TAKE1("ChatMaxFrameSize", set_bytes, (void *)0, RSRC_CONF | ACCESS_CONF,
                  "Largest WebSocket frame payload accepted from a client (bytes, K/M/G)"),
    AP_INIT_TAKE1("ChatMaxMessageSize", set_bytes, (void *)1, RSRC_CONF | ACCESS_CONF,
                  "Largest reassembled WebSocket message accepted from a client"),
    AP_INIT_TAKE1("ChatSendQueueLimit", set_bytes, (void *)2, RSRC_CONF | ACCESS_CONF,
                  "Bytes queued for a client that does not read before it is closed with 1008"),
    AP_INIT_TAKE12("ChatControlFrameRate", set_ctl_rate, NULL, RSRC_CONF | ACCESS_CONF,
                   "Ping/pong frames per second a client may send, and the burst; over it the "
                   "socket is closed with 1008 (default 10 100; 0 = no limit)"),
    AP_INIT_TAKE1("ChatPingInterval", set_seconds, (void *)0, RSRC_CONF | ACCESS_CONF,
                  "Seconds between server pings on a quiet WebSocket (0 = off)"),
    AP_INIT_TAKE1("ChatIdleTimeout", set_seconds, (void *)1, RSRC_CONF | ACCESS_CONF,
                  "Seconds without any frame from the client before closing with 1001 (0 = off)"),
    AP_INIT_TAKE1("ChatCloseTimeout", set_seconds, (void *)2, RSRC_CONF | ACCESS_CONF,
                  "Seconds to wait for the client's close frame after ours"),
    AP_INIT_ITERATE("ChatAllowedOrigins", set_origins, NULL, RSRC_CONF | ACCESS_CONF,
                    "Origins allowed to open WebSockets: * or scheme://host[:port] ... "
                    "(default: same origin as the Host header)"),
    AP_INIT_ITERATE("ChatTrustedProxy", set_trusted_proxy, NULL, RSRC_CONF,
                    "Addresses (ADDR or ADDR/BITS) of TLS proxies whose X-Forwarded-Proto is "
                    "believed for the same-origin check (default none)"),
    AP_INIT_TAKE1("ChatConnectionMode", set_conn_mode, NULL, RSRC_CONF,
                  "auto (event MPM: an I/O thread per child holds idle sockets) or thread"),
    AP_INIT_TAKE1("ChatRedis", set_redis, NULL, RSRC_CONF,
                  "Redis server: host:port or unix:/path (default 127.0.0.1:6379)"),
    AP_INIT_TAKE12("ChatRedisAuth", chat_redis_config_auth, &chat_module, RSRC_CONF,
                   "Redis password, or ACL user and password"),
    AP_INIT_TAKE1("ChatRedisDatabase", set_redis_number, (void *)0, RSRC_CONF,
                  "Redis database number (0-15, default 0)"),
    AP_INIT_TAKE1("ChatRedisTimeout", set_redis_number, (void *)1, RSRC_CONF,
                  "Seconds a Redis command may take before the connection is reset (default 5)"),
    AP_INIT_TAKE1("ChatRedisMaxPending", set_redis_number, (void *)2, RSRC_CONF,
                  "Commands one Redis connection may have awaiting replies before new ones "
                  "are refused (default 10000)"),
    AP_INIT_TAKE1("ChatKeyPrefix", set_key_prefix, NULL, RSRC_CONF,
                  "Prefix of every Redis key and channel (default chat:)"),
    AP_INIT_TAKE13("ChatIceServer", set_ice_server, NULL, RSRC_CONF,
                   "A STUN or TURN server for browser calls: URL [username credential]; "
                   "repeat for several (default none: calls work on a LAN)"),
    AP_INIT_TAKE1("ChatIdentity", set_identity, NULL, RSRC_CONF | ACCESS_CONF,
                  "Who a user is: remote-user (default), token or query (demos only)"),
    AP_INIT_TAKE1("ChatTokenSecret", set_token_secret, (void *)0, RSRC_CONF,
                  "HMAC-SHA256 secret of user tokens (at least 16 characters)"),
    AP_INIT_TAKE1("ChatTokenSecretFile", set_token_secret, (void *)1, RSRC_CONF,
                  "File holding the HMAC-SHA256 secret of user tokens"),
    AP_INIT_TAKE1("ChatHistorySize", set_room_number, (void *)0, RSRC_CONF | ACCESS_CONF,
                  "Messages kept per room (default 1000)"),
    AP_INIT_TAKE1("ChatMaxTextLength", set_room_number, (void *)1, RSRC_CONF | ACCESS_CONF,
                  "Characters allowed in one text message (default 4000)"),
    AP_INIT_TAKE1("ChatMaxConnectionsPerUser", set_room_number, (void *)2, RSRC_CONF | ACCESS_CONF,
                  "Open chat connections one user may have across all servers (default 20; "
                  "0 = no limit)"),
    AP_INIT_TAKE12("ChatRateLimit", set_rate, NULL, RSRC_CONF | ACCESS_CONF,
                   "Messages per second per user and the burst allowed (default 5 10; 0 = off)"),
    AP_INIT_TAKE12("ChatMessageBudget", set_budget, NULL, RSRC_CONF | ACCESS_CONF,
                   "Cost units per second one chat connection may spend on messages of any "
                   "type, and the burst (default 20 60; 0 = off)"),
    AP_INIT_TAKE1("ChatMaxSignalSize", set_max_signal, NULL, RSRC_CONF | ACCESS_CONF,
                  "Largest WebRTC signaling payload a client may send (default 16K)"),
    AP_INIT_ITERATE("ChatMediaAllow", set_media_allow, NULL, RSRC_CONF | ACCESS_CONF,
                    "URL prefixes image and audio messages may point at besides this "
                    "location's uploads (default none)"),
    AP_INIT_TAKE1("ChatUploadDir", set_upload, (void *)0, RSRC_CONF | ACCESS_CONF,
                  "Directory uploads are stored in (off when unset); must be writable by "
                  "the httpd user"),
    AP_INIT_TAKE1("ChatUploadMaxSize", set_upload, (void *)1, RSRC_CONF | ACCESS_CONF,
                  "Largest upload (default 10M)"),
    AP_INIT_ITERATE("ChatUploadTypes", set_upload, (void *)2, RSRC_CONF | ACCESS_CONF,
                    "MIME types uploads may have (default: every known image, audio, PDF "
                    "and text type)"),
    AP_INIT_TAKE1("ChatUploadURL", set_upload, (void *)3, RSRC_CONF | ACCESS_CONF,
                  "URL path uploads are served under by SetHandler chat-files (default "
                  "/chat/files)"),
    AP_INIT_TAKE1("ChatDebugLogSize", set_presence_ttl, (void *)1, RSRC_CONF,
                  "Recent events kept per room for the admin API's debug log (default 200; "
                  "0 = off)"),
    CHAT_PROCESS_COMMANDS,
    AP_INIT_TAKE1("ChatHandoverWait", set_presence_ttl, (void *)3, RSRC_CONF,
                  "Seconds a gracefully restarting child waits for a child of the new "
                  "generation to take its WebSockets (default 10)"),
    AP_INIT_TAKE1("ChatRoomLinger", set_presence_ttl, (void *)2, RSRC_CONF,
                  "Seconds a room without members on a process stays subscribed before it "
                  "unsubscribes (default 10)"),
    AP_INIT_TAKE1("ChatThreadSockets", set_capacity, (void *)0, RSRC_CONF,
                  "WebSockets that hold a worker thread (wss://, prefork, worker, "
                  "ChatConnectionMode thread) the whole server may have open; over it an "
                  "upgrade gets 503 (default auto: ChatThreadSocketsShare of "
                  "MaxRequestWorkers)"),
    AP_INIT_TAKE1("ChatThreadSocketsShare", set_capacity, (void *)1, RSRC_CONF,
                  "Percent of MaxRequestWorkers that ChatThreadSockets auto gives to "
                  "thread-mode WebSockets (default 50)"),
    AP_INIT_TAKE1("ChatThreadSocketsRetryAfter", set_capacity, (void *)2, RSRC_CONF,
                  "Retry-After seconds of the 503 a thread-mode WebSocket over the cap gets "
                  "(default 10)"),
    AP_INIT_TAKE1("ChatReconnectSpread", set_capacity, (void *)3, RSRC_CONF,
                  "Seconds over which clients are told to spread their reconnects when the "
                  "server stops or restarts: the 1001 reason carries retry-after-ms in [0, this] "
                  "(default 10)"),
    AP_INIT_TAKE1("ChatPresenceTTL", set_presence_ttl, (void *)0, RSRC_CONF,
                  "Seconds before the presence of a crashed server expires (default 45)"),
    {NULL}};

/* The AI's product table: here, where the server's settings are known. */
int chat_ai_config_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                               server_rec *s)
{
    const chat_srv_conf *sc = ap_get_module_config(s->module_config, &chat_module);
    const char *err = chat_products_use_file(pconf, chat_ai_settings_of(sc)->products_path);

    (void)plog;
    (void)ptemp;
    if (err) { /* only the default can be missing now: configtest checked the directive */
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "ChatAIProducts: %s; product names are not resolved (codes pass through)",
                     err);
    }
    return OK;
}
