/* See chat_redis_config.h. */
#include <string.h>

#include <apr_strings.h>

#include "chat_redis_config.h"

/* cmd->info is mod_chat's module (see CHAT_REDIS_HA_COMMANDS). */
static chat_srv_conf *srv_conf(cmd_parms *cmd)
{
    return ap_get_module_config(cmd->server->module_config, (module *)cmd->info);
}

const char *chat_redis_config_plain_ok(cmd_parms *cmd, const chat_srv_conf *sc)
{
    return sc->sentinels ? apr_psprintf(cmd->pool,
                                        "%s: ChatRedisSentinel is set for this server too; "
                                        "use one of them",
                                        cmd->cmd->name)
                         : NULL;
}

const char *chat_redis_config_sentinel(cmd_parms *cmd, void *dummy, const char *args)
{
    chat_srv_conf *sc = srv_conf(cmd);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE);
    const char *master, *word;
    apr_array_header_t *list;

    (void)dummy;
    if (err) {
        return err;
    }
    if (sc->redis_host || sc->redis_socket) {
        return apr_psprintf(cmd->pool, "%s: ChatRedis is set for this server too; use one of them",
                            cmd->cmd->name);
    }
    master = ap_getword_white(cmd->pool, &args);
    /* a master name never looks like an address: catch a forgotten name */
    if (!*master || strchr(master, ':') || strchr(master, '/')) {
        return apr_psprintf(cmd->pool,
                            "%s: the master name comes first (as in sentinel.conf's 'sentinel "
                            "monitor NAME'), then host:port of each sentinel",
                            cmd->cmd->name);
    }
    list = apr_array_make(cmd->pool, 3, sizeof(chat_redis_addr));
    while (*(word = ap_getword_white(cmd->pool, &args))) {
        char *host = NULL, *scope = NULL;
        apr_port_t port = 0;
        chat_redis_addr *a;

        if (apr_parse_addr_port(&host, &scope, &port, word, cmd->pool) != APR_SUCCESS || !host ||
            scope) {
            return apr_psprintf(cmd->pool, "%s: '%s' is not host:port", cmd->cmd->name, word);
        }
        if (list->nelts >= 16) {
            return apr_psprintf(cmd->pool, "%s: at most 16 sentinels", cmd->cmd->name);
        }
        a = apr_array_push(list);
        a->host = host;
        a->port = port ? port : 26379;
    }
    if (!list->nelts) {
        return apr_psprintf(cmd->pool, "%s %s: no sentinel host:port given", cmd->cmd->name,
                            master);
    }
    sc->sentinel_master = master;
    sc->sentinels = list;
    return NULL;
}

/* "password" or "user password" into *user, *password; a later line
 * replaces an earlier one, user included. */
static const char *auth_pair(cmd_parms *cmd, const char *a1, const char *a2, const char **user,
                             const char **password)
{
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE);

    if (err) {
        return err;
    }
    if (!*a1 || (a2 && !*a2)) {
        return apr_psprintf(cmd->pool, "%s: empty user or password", cmd->cmd->name);
    }
    *user = a2 ? a1 : NULL;
    *password = a2 ? a2 : a1;
    return NULL;
}

const char *chat_redis_config_auth(cmd_parms *cmd, void *dummy, const char *a1, const char *a2)
{
    chat_srv_conf *sc = srv_conf(cmd);

    (void)dummy;
    return auth_pair(cmd, a1, a2, &sc->redis_user, &sc->redis_password);
}

const char *chat_redis_config_sentinel_auth(cmd_parms *cmd, void *dummy, const char *a1,
                                            const char *a2)
{
    chat_srv_conf *sc = srv_conf(cmd);

    (void)dummy;
    return auth_pair(cmd, a1, a2, &sc->sentinel_user, &sc->sentinel_password);
}

static const char *number(cmd_parms *cmd, const char *arg, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(arg, &end, 10);

    if (!*arg || *end || v < lo || v > hi) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a number from %d to %d", cmd->cmd->name,
                            arg, lo, hi);
    }
    *out = (int)v;
    return NULL;
}

const char *chat_redis_config_wait(cmd_parms *cmd, void *dummy, const char *a1, const char *a2)
{
    chat_srv_conf *sc = srv_conf(cmd);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE);

    (void)dummy;
    if (err || (err = number(cmd, a1, 0, 16, &sc->wait_replicas))) {
        return err;
    }
    return a2 ? number(cmd, a2, 1, 60000, &sc->wait_timeout) : NULL;
}

void chat_redis_config_merge(chat_srv_conf *sc, const chat_srv_conf *base, const chat_srv_conf *add)
{
    if (add->sentinels) {
        sc->sentinels = add->sentinels;
        sc->sentinel_master = add->sentinel_master;
    }
    else if (!add->redis_host && !add->redis_socket) {
        sc->sentinels = base->sentinels;
        sc->sentinel_master = base->sentinel_master;
    }
    sc->sentinel_user = add->sentinel_password ? add->sentinel_user : base->sentinel_user;
    sc->sentinel_password =
        add->sentinel_password ? add->sentinel_password : base->sentinel_password;
    sc->wait_replicas = add->wait_replicas >= 0 ? add->wait_replicas : base->wait_replicas;
    sc->wait_timeout = add->wait_timeout >= 0 ? add->wait_timeout : base->wait_timeout;
}
