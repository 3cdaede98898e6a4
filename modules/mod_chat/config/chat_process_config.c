/* See chat_process_config.h. */
#include <strings.h>

#include <apr_strings.h>

#include "chat_process_config.h"

static chat_srv_conf *srv_conf(cmd_parms *cmd)
{
    return ap_get_module_config(cmd->server->module_config, (module *)cmd->info);
}

/* ChatHandover (main server only). */
const char *chat_process_config_handover(cmd_parms *cmd, void *dummy, int on)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void)dummy;
    if (err) {
        return err;
    }
    srv_conf(cmd)->handover = on;
    return NULL;
}

/* ChatPresenceBatch On | Off | the interval (250ms to 60s; a bare number is seconds). */
const char *chat_process_config_presence(cmd_parms *cmd, void *dummy, const char *arg)
{
    chat_srv_conf *sc = srv_conf(cmd);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE);
    apr_interval_time_t t;

    (void)dummy;
    if (err) {
        return err;
    }
    if (!strcasecmp(arg, "On")) {
        sc->presence_batch = CHAT_DEFAULT_PRESENCE_MS;
    }
    else if (!strcasecmp(arg, "Off")) {
        sc->presence_batch = 0;
    }
    else if (ap_timeout_parameter_parse(arg, &t, "s") != APR_SUCCESS ||
             t < apr_time_from_msec(250) || t > apr_time_from_sec(60)) {
        return apr_psprintf(cmd->pool,
                            "%s: On, Off or an interval from 250ms to 60s (e.g. 500ms, 2s), "
                            "not '%s'",
                            cmd->cmd->name, arg);
    }
    else {
        sc->presence_batch = (int)apr_time_as_msec(t);
    }
    return NULL;
}
