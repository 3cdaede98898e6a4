/* mod_chat's section of mod_status's /server-status: cluster-wide figures
 * from the per-process hashes each hub refreshes in Redis (chat_room.c). */
#include <httpd.h>
#include <apr_strings.h>
#include <hiredis/hiredis.h>
#include <http_log.h>
#include <http_protocol.h>
#include <mod_status.h>

#include "chat_config.h"
#include "chat_redis_sync.h"
#include "chat_status.h"

APLOG_USE_MODULE(chat);

static int chat_status_hook(request_rec *r, int flags)
{
    const chat_srv_conf *sc = ap_get_module_config(r->server->module_config, &chat_module);
    const char *prefix = chat_settings_key_prefix(sc), *err = NULL;
    redisContext *c = chat_redis_sync_open(sc, &err);
    redisReply *keys = NULL, *rep;
    apr_int64_t connections = 0, processes = 0;
    double rate = 0;
    size_t i;
    int short_report = flags & AP_STATUS_SHORT;

    if (c) {
        keys = redisCommand(c, "KEYS %snode:*", prefix);
    }
    if (!keys || keys->type != REDIS_REPLY_ARRAY) {
        if (short_report) {
            ap_rputs("ChatStorage: unavailable\n", r);
        }
        else {
            ap_rputs("<hr><h2>mod_chat</h2><p>chat storage (Redis) unavailable</p>\n", r);
        }
        goto out;
    }
    if (!short_report) {
        ap_rputs("<hr><h2>mod_chat</h2>\n<table border=\"0\"><tr><th>process</th>"
                 "<th>pid</th><th>sessions</th><th>rooms</th><th>messages/s</th></tr>\n",
                 r);
    }
    for (i = 0; i < keys->elements; i++) {
        rep = redisCommand(c, "HMGET %s pid sessions rooms messages_per_s", keys->element[i]->str);
        if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 4) {
            const char *v[4];
            int k;
            for (k = 0; k < 4; k++) {
                v[k] = rep->element[k]->str ? rep->element[k]->str : "0";
            }
            processes++;
            connections += apr_atoi64(v[1]);
            rate += atof(v[3]);
            if (!short_report) {
                ap_rprintf(r, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
                           ap_escape_html(r->pool, keys->element[i]->str + strlen(prefix) + 5),
                           ap_escape_html(r->pool, v[0]), ap_escape_html(r->pool, v[1]),
                           ap_escape_html(r->pool, v[2]), ap_escape_html(r->pool, v[3]));
            }
        }
        if (rep) {
            freeReplyObject(rep);
        }
    }
    if (short_report) {
        ap_rprintf(r,
                   "ChatConnections: %" APR_INT64_T_FMT "\nChatProcesses: %" APR_INT64_T_FMT
                   "\nChatMessagesPerSecond: %.2f\n",
                   connections, processes, rate);
    }
    else {
        ap_rprintf(r,
                   "</table><p>%" APR_INT64_T_FMT " chat connections in %" APR_INT64_T_FMT
                   " processes, %.2f messages/s</p>\n",
                   connections, processes, rate);
    }
out:
    if (keys) {
        freeReplyObject(keys);
    }
    if (c) {
        redisFree(c);
    }
    return OK;
}

void chat_status_register(void)
{
    APR_OPTIONAL_HOOK(ap, status_hook, chat_status_hook, NULL, NULL, APR_HOOK_MIDDLE);
}
