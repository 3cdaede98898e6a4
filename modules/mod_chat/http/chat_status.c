/* mod_chat's section of mod_status's /server-status: cluster-wide figures
 * from the per-process hashes each hub refreshes in Redis (chat_presence.c),
 * found through their registry (no KEYS: ACL users may lack it). */
#include <httpd.h>
#include <apr_strings.h>
#include <hiredis/hiredis.h>
#include <http_log.h>
#include <http_protocol.h>
#include <mod_status.h>

#include "chat_capacity.h"
#include "chat_config.h"
#include "chat_redis_sync.h"
#include "chat_status.h"
#include "chat_store.h"

APLOG_USE_MODULE(chat);

static int chat_status_hook(request_rec *r, int flags)
{
    const chat_srv_conf *sc = ap_get_module_config(r->server->module_config, &chat_module);
    const char *prefix = chat_settings_key_prefix(sc), *err = NULL;
    redisContext *c = chat_redis_sync_open(sc, &err);
    redisReply *nodes = NULL, *rep;
    apr_int64_t connections = 0, processes = 0;
    double rate = 0;
    size_t i;
    int short_report = flags & AP_STATUS_SHORT;
    apr_uint32_t thread_open, thread_cap;

    /* this server's own figure, not the cluster's: it needs no Redis */
    chat_thread_sockets(&thread_open, &thread_cap);
    if (short_report) {
        ap_rprintf(r, "ChatThreadSockets: %u\nChatThreadSocketsCap: %u\n", thread_open, thread_cap);
    }
    else {
        ap_rprintf(r,
                   "<hr><h2>mod_chat</h2>\n<p>%u of %u WebSockets that hold a worker thread "
                   "(ChatThreadSockets) open on this server</p>\n",
                   thread_open, thread_cap);
    }
    if (c) {
        nodes =
            redisCommand(c, "ZRANGEBYSCORE %s %" APR_TIME_T_FMT " +inf",
                         chat_store_nodes_key(r->pool, prefix), apr_time_as_msec(apr_time_now()));
    }
    if (!nodes || nodes->type != REDIS_REPLY_ARRAY) {
        if (short_report) {
            ap_rputs("ChatStorage: unavailable\n", r);
        }
        else {
            ap_rputs("<p>chat storage (Redis) unavailable</p>\n", r);
        }
        goto out;
    }
    if (!short_report) {
        ap_rputs("<table border=\"0\"><tr><th>process</th>"
                 "<th>pid</th><th>sessions</th><th>rooms</th><th>messages/s</th></tr>\n",
                 r);
    }
    for (i = 0; i < nodes->elements; i++) {
        const char *node = nodes->element[i]->str;
        rep = redisCommand(c, "HMGET %s pid sessions rooms messages_per_s",
                           chat_store_node_key(r->pool, prefix, node));
        /* a hash that expired since the registry was read has only nils */
        if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 4 &&
            rep->element[0]->type == REDIS_REPLY_STRING) {
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
                           ap_escape_html(r->pool, node), ap_escape_html(r->pool, v[0]),
                           ap_escape_html(r->pool, v[1]), ap_escape_html(r->pool, v[2]),
                           ap_escape_html(r->pool, v[3]));
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
    if (nodes) {
        freeReplyObject(nodes);
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
