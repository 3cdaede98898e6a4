/* Effective values of mod_chat's settings, defaults applied (see
 * chat_settings.h). Pure: both modules and the unit tests link it. */
#include <apr_network_io.h>

#include "chat_settings.h"

void chat_settings_ws_limits(const chat_dir_conf *dc, apr_uint64_t app_max, chat_ws_limits *out)
{
    apr_uint64_t max_frame = app_max ? app_max : CHAT_DEFAULT_MAX_FRAME;
    apr_uint64_t max_message = app_max ? app_max : CHAT_DEFAULT_MAX_MESSAGE;

    out->max_frame = dc->max_frame >= 0 ? (apr_uint64_t)dc->max_frame : max_frame;
    out->max_message = dc->max_message >= 0 ? (apr_uint64_t)dc->max_message : max_message;
    out->ctl_rate = dc->ctl_rate >= 0 ? dc->ctl_rate : CHAT_DEFAULT_CTL_RATE;
    out->ctl_burst = dc->ctl_burst >= 0
                         ? dc->ctl_burst
                         : (dc->ctl_rate > 0 ? 10 * dc->ctl_rate : CHAT_DEFAULT_CTL_BURST);
    out->sendq_limit =
        dc->sendq_limit >= 0 ? (apr_size_t)dc->sendq_limit : CHAT_DEFAULT_SENDQ_LIMIT;
    out->ping_interval =
        apr_time_from_sec(dc->ping_interval >= 0 ? dc->ping_interval : CHAT_DEFAULT_PING_INTERVAL);
    out->idle_timeout =
        apr_time_from_sec(dc->idle_timeout >= 0 ? dc->idle_timeout : CHAT_DEFAULT_IDLE_TIMEOUT);
    out->close_timeout =
        apr_time_from_sec(dc->close_timeout >= 0 ? dc->close_timeout : CHAT_DEFAULT_CLOSE_TIMEOUT);
}

void chat_settings_room_limits(const chat_dir_conf *dc, chat_room_limits *out)
{
    out->identity = dc->identity != CHAT_ID_UNSET ? dc->identity : CHAT_ID_REMOTE_USER;
    out->history_size = dc->history_size >= 0 ? dc->history_size : CHAT_DEFAULT_HISTORY_SIZE;
    out->max_text = dc->max_text >= 0 ? dc->max_text : CHAT_DEFAULT_MAX_TEXT;
    out->max_conns = dc->max_conns >= 0 ? dc->max_conns : CHAT_DEFAULT_MAX_CONNS;
    out->rate = dc->rate >= 0 ? dc->rate : CHAT_DEFAULT_RATE;
    out->burst = dc->burst >= 0 ? dc->burst : (out->rate ? 2 * out->rate : 0);
    if (dc->burst < 0 && dc->rate < 0) {
        out->burst = CHAT_DEFAULT_BURST;
    }
    out->budget_rate = dc->budget_rate >= 0 ? dc->budget_rate : CHAT_DEFAULT_BUDGET_RATE;
    out->budget_burst = dc->budget_burst >= 0 ? dc->budget_burst
                        : dc->budget_rate > 0 ? 3 * dc->budget_rate
                                              : CHAT_DEFAULT_BUDGET_BURST;
    out->max_signal =
        dc->max_signal >= 0 ? (apr_size_t)dc->max_signal : (apr_size_t)CHAT_DEFAULT_MAX_SIGNAL;
    out->upload_url = dc->upload_url ? dc->upload_url : "/chat/files";
    out->media_allow = dc->media_allow;
    out->search_rate = dc->search_rate >= 0 ? dc->search_rate : CHAT_DEFAULT_SEARCH_RATE;
    out->search_scan = dc->search_scan > 0 ? dc->search_scan : CHAT_DEFAULT_SEARCH_SCAN;
    out->image_max_dim = dc->image_max_dim >= 0 ? dc->image_max_dim : CHAT_DEFAULT_IMAGE_MAX;
    out->image_quality = dc->image_quality > 0 ? dc->image_quality : CHAT_DEFAULT_IMAGE_QUALITY;
}

apr_interval_time_t chat_settings_presence_ttl(const chat_srv_conf *sc)
{
    return apr_time_from_sec(sc->presence_ttl >= 0 ? sc->presence_ttl : CHAT_DEFAULT_PRESENCE_TTL);
}

chat_conn_mode chat_settings_conn_mode(const chat_srv_conf *sc)
{
    return sc->conn_mode == CHAT_MODE_UNSET ? CHAT_MODE_AUTO : sc->conn_mode;
}

int chat_settings_handover(const chat_srv_conf *sc)
{
    return sc->handover != 0;
}

apr_interval_time_t chat_settings_handover_wait(const chat_srv_conf *sc)
{
    return apr_time_from_sec(sc->handover_wait > 0 ? sc->handover_wait
                                                   : CHAT_DEFAULT_HANDOVER_WAIT);
}

int chat_settings_proxy_trusted(const chat_srv_conf *sc, apr_sockaddr_t *peer)
{
    int i;

    for (i = 0; sc->trusted_proxies && peer && i < sc->trusted_proxies->nelts; i++) {
        if (apr_ipsubnet_test(APR_ARRAY_IDX(sc->trusted_proxies, i, apr_ipsubnet_t *), peer)) {
            return 1;
        }
    }
    return 0;
}
