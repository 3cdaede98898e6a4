/* mod_chat: real-time multi-room chat over WebSockets inside httpd.
 * This file only wires hooks, directives and the layers together; each
 * concern lives in its own folder (docs/ARCHITECTURE.md has the map). */
#include <httpd.h>
#include <ap_mpm.h>
#include <http_config.h>
#include <http_log.h>
#include <http_protocol.h>
#include <mpm_common.h>

#include "chat_access.h"
#include "chat_ai_handler.h"
#include "chat_ai_room.h"
#include "chat_capacity.h"
#include "chat_ai_config.h"
#include "chat_config.h"
#include "chat_echo.h"
#include "chat_fetch.h"
#include "chat_handover.h"
#include "chat_protocol.h"
#include "chat_reactor.h"
#include "chat_room.h"
#include "chat_room_handler.h"
#include "chat_startup.h"
#include "chat_status.h"
#include "chat_upload.h"
#include "chat_ws_upgrade.h"

static int mpm_is_async(void)
{
    int async = 0;

    return ap_mpm_query(AP_MPMQ_IS_ASYNC, &async) == APR_SUCCESS && async;
}

static int mpm_is_threaded(void)
{
    int threaded = AP_MPMQ_NOT_SUPPORTED;

    return ap_mpm_query(AP_MPMQ_IS_THREADED, &threaded) == APR_SUCCESS &&
           threaded != AP_MPMQ_NOT_SUPPORTED;
}

static apr_status_t child_reactor_stop(void *data)
{
    chat_reactor *r = data;

    chat_handover_child_exit(); /* a hand-over in progress ends first */
    chat_reactor_shutdown(r);
    chat_reactor_join(r);
    chat_child_reactor = NULL;
    return APR_SUCCESS;
}

static void chat_child_init(apr_pool_t *pchild, server_rec *s)
{
    chat_srv_conf *sc = ap_get_module_config(s->module_config, &chat_module);
    chat_reactor *r;
    apr_status_t rv;

    if ((rv = chat_reactor_child_init(pchild)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "chat: cannot initialise this child");
        return;
    }
    chat_capacity_child_init(pchild, s);
    chat_reactor_set_reconnect_spread(sc->reconnect_spread >= 0 ? sc->reconnect_spread
                                                                : CHAT_DEFAULT_RECONNECT_SPREAD);
    chat_fetch_global_init(); /* before any thread of this child uses libcurl */
    chat_ai_room_child_init(pchild, s);
    if (!mpm_is_threaded()) {
        return; /* prefork: each process runs its one WebSocket itself */
    }
    if ((rv = chat_reactor_create(pchild, 0, &r)) != APR_SUCCESS ||
        (rv = chat_reactor_start_thread(r, pchild)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     "chat: cannot start the I/O thread; each WebSocket will run its own loop");
        return;
    }
    chat_child_reactor = r;
    /* detached sockets (event MPM) can move between children */
    if (mpm_is_async() &&
        (rv = chat_handover_child_init(
             pchild, r, ap_get_module_config(s->module_config, &chat_module))) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s,
                     "chat: cannot take WebSockets from other children (ChatHandover)");
    }
    /* A pre-cleanup: the thread must end before pchild's subpools (the
     * reactor's own among them) are destroyed. */
    apr_pool_pre_cleanup_register(pchild, r, child_reactor_stop);
}

/* Graceful restart or stop of this child: its detached sockets go to a live
 * child (handover/); every other WebSocket gets 1001 so its client
 * reconnects to the next generation. prefork calls this from its
 * SIGTERM handler and exits right after, so no lock may be taken there: a
 * graceful prefork child sees the MPM state on its next tick instead, and a
 * stopping one closes its session only if the signal caught the loop idle. */
static void chat_child_stopping(apr_pool_t *pchild, int graceful)
{
    (void)pchild;
    if (mpm_is_threaded()) {
        /* retiring or restarting: the child's detached sockets go to a live
         * child (ChatHandover), the rest get 1001 */
        if (graceful && chat_child_reactor) {
            chat_handover_begin(chat_child_reactor);
        }
        chat_reactor_shutdown_all();
    }
    else if (!graceful) {
        chat_reactor_stop_from_signal();
    }
}

static const chat_srv_conf *chat_server_conf(server_rec *s)
{
    return ap_get_module_config(s->module_config, &chat_module);
}

static const chat_dir_conf *chat_server_dir_conf(server_rec *s)
{
    return ap_get_module_config(s->lookup_defaults, &chat_module);
}

static void chat_register_hooks(apr_pool_t *p)
{
    (void)p;
    APR_REGISTER_OPTIONAL_FN(chat_server_conf);
    APR_REGISTER_OPTIONAL_FN(chat_server_dir_conf);
    APR_REGISTER_OPTIONAL_FN(chat_thread_sockets);
    chat_protocol_set_bot(&chat_ai_room_bot); /* NAME_chat messages go to the AI */
    chat_handover_app(&chat_room_app);        /* the sessions that can move */
    chat_handover_app(&chat_echo_app);
    ap_hook_post_config(chat_capacity_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(chat_ai_config_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(chat_startup_post_config, NULL, NULL, APR_HOOK_LAST);
    ap_hook_child_init(chat_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_read_request(chat_access_mask_token, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_stopping(chat_child_stopping, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(chat_echo_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(chat_room_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(chat_ai_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(chat_files_handler, NULL, NULL, APR_HOOK_MIDDLE);
    chat_status_register();
}

AP_DECLARE_MODULE(chat) = {STANDARD20_MODULE_STUFF, chat_config_dir_create, chat_config_dir_merge,
                           chat_config_srv_create,  chat_config_srv_merge,  chat_cmds,
                           chat_register_hooks,
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
                           AP_MODULE_FLAG_NONE
#endif
};
