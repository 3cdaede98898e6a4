/* /chat-admin/api/tokens and /stats. */
#include <httpd.h>
#include <apr_strings.h>
#include <http_protocol.h>

#include "admin.h"
#include "chat_identity.h"
#include "chat_store.h"

#define TOKEN_TTL_MAX (366 * 24 * 3600)

int admin_tokens(admin_req *a)
{
    json_object *body, *u, *ttl, *out;
    apr_int64_t seconds = 3600;
    const char *user;
    apr_time_t exp;
    int status;

    if (a->r->method_number != M_POST) {
        return admin_error(a, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", "use POST");
    }
    if (!a->chat->token_secret) {
        return admin_error(a, HTTP_SERVICE_UNAVAILABLE, "not_configured",
                           "set ChatTokenSecret (or ChatTokenSecretFile) to mint tokens");
    }
    if (!(body = admin_read_json(a, &status))) {
        return status;
    }
    if (!json_object_object_get_ex(body, "username", &u) ||
        !json_object_is_type(u, json_type_string) ||
        !chat_username_valid(json_object_get_string(u))) {
        json_object_put(body);
        return admin_error(a, HTTP_BAD_REQUEST, "invalid_username", "invalid or missing username");
    }
    if (json_object_object_get_ex(body, "ttl", &ttl)) {
        if (!json_object_is_type(ttl, json_type_int) || json_object_get_int64(ttl) < 1 ||
            json_object_get_int64(ttl) > TOKEN_TTL_MAX) {
            json_object_put(body);
            return admin_error(a, HTTP_BAD_REQUEST, "invalid_ttl",
                               "ttl: whole seconds from 1 to 31622400");
        }
        seconds = json_object_get_int64(ttl);
    }
    user = apr_pstrdup(a->r->pool, json_object_get_string(u));
    json_object_put(body);
    exp = apr_time_now() + apr_time_from_sec(seconds);
    out = json_object_new_object();
    json_object_object_add(
        out, "token",
        json_object_new_string(chat_token_mint(a->r->pool, user, exp, a->chat->token_secret)));
    json_object_object_add(out, "username", json_object_new_string(user));
    json_object_object_add(out, "expires", json_object_new_int64(apr_time_sec(exp)));
    admin_log_write(
        a, apr_psprintf(a->r->pool, "token for %s, %" APR_INT64_T_FMT " s", user, seconds));
    return admin_reply(a, HTTP_OK, out);
}

/* ai:usage:users / ai:usage:rooms ("NAME:tokens", "NAME:requests") as
 * {"NAME": {"tokens": n, "requests": n}}. */
static json_object *ai_usage(admin_req *a, const char *which)
{
    const char *argv[2];
    json_object *o = json_object_new_object();
    redisReply *rep;
    size_t k;
    int status;

    argv[0] = "HGETALL";
    argv[1] = apr_pstrcat(a->r->pool, a->prefix, "ai:usage:", which, NULL);
    if (!(rep = admin_cmd(a, &status, 2, argv))) {
        return o;
    }
    for (k = 0; k + 1 < rep->elements; k += 2) {
        const char *f = rep->element[k]->str, *colon = strrchr(f, ':');
        json_object *e;
        char *name;
        if (!colon) {
            continue;
        }
        name = apr_pstrndup(a->r->pool, f, colon - f);
        if (!json_object_object_get_ex(o, name, &e)) {
            e = json_object_new_object();
            json_object_object_add(o, name, e);
        }
        json_object_object_add(e, colon + 1,
                               json_object_new_int64(apr_atoi64(rep->element[k + 1]->str)));
    }
    freeReplyObject(rep);
    return o;
}

int admin_stats(admin_req *a)
{
    const char *argv[6];
    redisReply *names, *rep;
    json_object *out, *nodes = json_object_new_array();
    long long connections = 0, rooms = 0;
    double rate = 0;
    size_t i;
    int status;

    if (a->r->method_number != M_GET) {
        json_object_put(nodes);
        return admin_error(a, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", "use GET");
    }
    /* Every mod_chat process with chat sessions keeps a hash "node:NAME" with
     * its figures, expiring with its presence, and NAME in the registry
     * "nodes" scored by that expiry (no KEYS: ACL users may lack it). */
    argv[0] = "ZRANGEBYSCORE";
    argv[1] = chat_store_nodes_key(a->r->pool, a->prefix);
    argv[2] = apr_psprintf(a->r->pool, "%" APR_TIME_T_FMT, apr_time_as_msec(apr_time_now()));
    argv[3] = "+inf";
    if (!(names = admin_cmd(a, &status, 4, argv))) {
        json_object_put(nodes);
        return status;
    }
    for (i = 0; i < names->elements; i++) {
        json_object *n;
        size_t k;
        argv[0] = "HGETALL";
        argv[1] = chat_store_node_key(a->r->pool, a->prefix, names->element[i]->str);
        if (!(rep = admin_cmd(a, &status, 2, argv))) {
            continue;
        }
        if (!rep->elements) { /* expired since the registry was read */
            freeReplyObject(rep);
            continue;
        }
        n = json_object_new_object();
        json_object_object_add(n, "node", json_object_new_string(names->element[i]->str));
        for (k = 0; k + 1 < rep->elements; k += 2) {
            const char *f = rep->element[k]->str, *v = rep->element[k + 1]->str;
            if (!strcmp(f, "messages_per_s")) {
                json_object_object_add(n, f, json_object_new_double(atof(v)));
                rate += atof(v);
            }
            else {
                json_object_object_add(n, f, json_object_new_int64(apr_atoi64(v)));
                if (!strcmp(f, "sessions")) {
                    connections += apr_atoi64(v);
                }
            }
        }
        freeReplyObject(rep);
        json_object_array_add(nodes, n);
    }
    freeReplyObject(names);
    argv[0] = "SCARD";
    argv[1] = apr_pstrcat(a->r->pool, a->prefix, "rooms", NULL);
    if ((rep = admin_cmd(a, &status, 2, argv))) {
        rooms = rep->integer;
        freeReplyObject(rep);
    }
    out = json_object_new_object();
    json_object_object_add(out, "connections", json_object_new_int64(connections));
    json_object_object_add(out, "rooms", json_object_new_int64(rooms));
    json_object_object_add(out, "messagesPerSecond", json_object_new_double(rate));
    json_object_object_add(out, "processes", nodes);
    {
        /* this httpd's sockets that hold a worker thread, and ChatThreadSockets */
        APR_OPTIONAL_FN_TYPE(chat_thread_sockets) *count =
            APR_RETRIEVE_OPTIONAL_FN(chat_thread_sockets);
        apr_uint32_t open = 0, cap = 0;
        json_object *ts = json_object_new_object();
        if (count) {
            count(&open, &cap);
        }
        json_object_object_add(ts, "open", json_object_new_int64(open));
        json_object_object_add(ts, "cap", json_object_new_int64(cap));
        json_object_object_add(out, "threadSockets", ts);
    }
    {
        json_object *ai = json_object_new_object();
        json_object_object_add(ai, "users", ai_usage(a, "users"));
        json_object_object_add(ai, "rooms", ai_usage(a, "rooms"));
        json_object_object_add(out, "ai", ai);
    }
    return admin_reply(a, HTTP_OK, out);
}
