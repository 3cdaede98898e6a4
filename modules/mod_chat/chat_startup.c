/* See chat_startup.h. */
#include <httpd.h>
#include <apr_fnmatch.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <ap_expr.h>

#include "chat_startup.h"
#include "chat_client_config.h"
#include "chat_config.h"
#include "chat_redis_sync.h"

APLOG_USE_MODULE(chat);

/* A request that is never served: what ap_auth_type() and a SetHandler
 * expression need to read a section's settings. */
static request_rec *startup_request(apr_pool_t *p, server_rec *s, const char *uri,
                                    ap_conf_vector_t *dir)
{
    request_rec *r = apr_pcalloc(p, sizeof(*r));
    conn_rec *c = apr_pcalloc(p, sizeof(*c));

    c->pool = p;
    c->base_server = s;
    c->notes = apr_table_make(p, 1);
    r->pool = p;
    r->server = s;
    r->connection = c;
    r->uri = r->unparsed_uri = apr_pstrdup(p, uri);
    r->method = "GET";
    r->protocol = "HTTP/1.1";
    r->headers_in = apr_table_make(p, 1);
    r->headers_out = apr_table_make(p, 1);
    r->err_headers_out = apr_table_make(p, 1);
    r->subprocess_env = apr_table_make(p, 1);
    r->notes = apr_table_make(p, 1);
    r->per_dir_config = dir;
    return r;
}

/* Does a <Location> or <LocationMatch> section apply to uri (as location_walk decides)? */
static int section_matches(const core_dir_config *cd, const char *uri)
{
    apr_size_t len;

    if (cd->r) {
        return !ap_regexec(cd->r, uri, 0, NULL, 0);
    }
    if (cd->d_is_fnmatch) {
        return apr_fnmatch(cd->d, uri, APR_FNM_PATHNAME) == APR_SUCCESS;
    }
    len = strlen(cd->d);
    return !strncmp(uri, cd->d, len) &&
           (len == 0 || cd->d[len - 1] == '/' || uri[len] == '/' || uri[len] == '\0');
}

/* A URI the section applies to: its path, or for a regex its literal prefix
 * plus a room name ("^/chat/[^/]+$" -> /chat/lobby); NULL when unknown. */
static const char *section_sample(apr_pool_t *p, const core_dir_config *cd)
{
    const char *d = cd->d, *e;
    const char *uri;

    if (!cd->r) {
        return cd->d_is_fnmatch ? NULL : d;
    }
    d += *d == '^';
    for (e = d; *e && !strchr(".[]()*+?{}|\\$^", *e); e++) {
    }
    uri = apr_pstrcat(p, apr_pstrmemdup(p, d, e - d), "lobby", NULL);
    return section_matches(cd, uri) ? uri : NULL;
}

/* Each <Location> section that sets "SetHandler chat", merged as a request
 * for its sample URI would see it: identity without AuthType, client dir. */
static void check_locations(apr_pool_t *p, server_rec *s, apr_hash_t *seen)
{
    core_server_config *cs = ap_get_core_module_config(s->module_config);
    ap_conf_vector_t **secs = (ap_conf_vector_t **)cs->sec_url->elts;
    int i, j;

    for (i = 0; i < cs->sec_url->nelts; i++) {
        core_dir_config *cd = ap_get_core_module_config(secs[i]);
        const char *uri, *handler, *err = NULL, *dir, *kind;
        ap_conf_vector_t *merged = s->lookup_defaults;
        const chat_dir_conf *dc;
        request_rec *r;
        apr_finfo_t fi;

        if (!cd->expr_handler || apr_hash_get(seen, &secs[i], sizeof(secs[i])) ||
            !(uri = section_sample(p, cd))) {
            continue;
        }
        r = startup_request(p, s, uri, secs[i]);
        handler = ap_expr_str_exec(r, cd->expr_handler, &err);
        if (err || !handler || strcmp(handler, "chat")) {
            continue;
        }
        apr_hash_set(seen, apr_pmemdup(p, &secs[i], sizeof(secs[i])), sizeof(secs[i]), "");
        for (j = 0; j < cs->sec_url->nelts; j++) {
            if (section_matches(ap_get_core_module_config(secs[j]), uri)) {
                merged = ap_merge_per_dir_configs(p, merged, secs[j]);
            }
        }
        r->per_dir_config = merged;
        dc = ap_get_module_config(merged, &chat_module);
        kind = cd->r ? "LocationMatch" : "Location";
        if ((dc->identity == CHAT_ID_UNSET || dc->identity == CHAT_ID_REMOTE_USER) &&
            !ap_auth_type(r)) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                         "chat: ChatIdentity remote-user%s at <%s %s>, but no AuthType covers %s: "
                         "every join will be refused until an auth module sets the user "
                         "(README: Who is who)",
                         dc->identity == CHAT_ID_UNSET ? " (the default)" : "", kind, cd->d, uri);
        }
        dir = chat_client_dir(dc);
        if (!apr_hash_get(seen, dir, APR_HASH_KEY_STRING) &&
            (apr_stat(&fi, apr_pstrcat(p, dir, "/index.html", NULL), APR_FINFO_TYPE, p) !=
                 APR_SUCCESS ||
             fi.filetype != APR_REG)) {
            apr_hash_set(seen, dir, APR_HASH_KEY_STRING, "");
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                         "chat: ChatClientDir %s has no index.html: GET %s answers 404 until the "
                         "client is installed there (make install, libapache2-mod-chat) or "
                         "ChatClientDir names where it is",
                         dir, uri);
        }
    }
}

/* One PING per Redis address: a refused connection or a Redis still loading
 * its data means joins answer `unavailable` for now. */
static void check_redis(apr_pool_t *p, server_rec *s, apr_hash_t *seen)
{
    const chat_srv_conf *sc = ap_get_module_config(s->module_config, &chat_module);
    int port;
    const char *host = chat_settings_redis_host(sc, &port), *err = NULL;
    const char *where = port ? apr_psprintf(p, "%s:%d", host, port) : host;
    redisContext *c;
    redisReply *rep;

    if (apr_hash_get(seen, where, APR_HASH_KEY_STRING)) {
        return;
    }
    apr_hash_set(seen, where, APR_HASH_KEY_STRING, "");
    if ((c = chat_redis_sync_open(sc, &err))) {
        rep = redisCommand(c, "PING");
        err = !rep                             ? "no answer to PING"
              : rep->type == REDIS_REPLY_ERROR ? apr_pstrdup(p, rep->str)
                                               : NULL;
        if (rep) {
            freeReplyObject(rep);
        }
        redisFree(c);
    }
    if (err) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "chat: ChatRedis %s: %s; chat answers `unavailable` until Redis is ready",
                     where, err);
    }
}

int chat_startup_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    apr_hash_t *seen_sections = apr_hash_make(ptemp), *seen_redis = apr_hash_make(ptemp);
    server_rec *v;

    (void)pconf;
    (void)plog;
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK; /* the first of the two passes: say it once, on the real one */
    }
    for (v = s; v; v = v->next) {
        check_locations(ptemp, v, seen_sections);
        check_redis(ptemp, v, seen_redis);
    }
    return OK;
}
