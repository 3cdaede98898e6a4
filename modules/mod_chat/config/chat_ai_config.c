/* The ChatAI* directives: see chat_ai_config.h. */
#include <httpd.h>
#include <stdlib.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <http_config.h>

#include "chat_ai_config.h"
#include "chat_products.h"
#include "chat_data_config.h"
#include "chat_tz.h"
#include "chat_util.h"

chat_ai_conf *chat_ai_config_of(cmd_parms *cmd, chat_ai_conf **slot)
{
    if (!*slot) {
        chat_ai_conf *ac = apr_pcalloc(cmd->pool, sizeof(chat_ai_conf));
        ac->providers = apr_array_make(cmd->pool, 2, sizeof(chat_ai_provider *));
        ac->timeout = -1;
        ac->max_image = -1;
        ac->rate = -1;
        ac->threads = -1;
        ac->context = -1;
        ac->sources = apr_array_make(cmd->pool, 4, sizeof(chat_source *));
        ac->tool_rounds = -1;
        ac->tool_rows = -1;
        ac->tool_bytes = -1;
        ac->stream_ms = -1;
        *slot = ac;
    }
    return *slot;
}

static const char *http_url(const char *u)
{
    return !strncasecmp(u, "http://", 7) || !strncasecmp(u, "https://", 8) ? u : NULL;
}

static const char *number(cmd_parms *cmd, const char *arg, int min, int max, int *out)
{
    char *end;
    long v = strtol(arg, &end, 10);

    if (!*arg || *end || v < min || v > max) {
        return apr_psprintf(cmd->pool, "%s: '%s' must be a whole number from %d to %d",
                            cmd->cmd->name, arg, min, max);
    }
    *out = (int)v;
    return NULL;
}

/* The provider named by the first word, which must be declared already. */
static const char *provider_arg(cmd_parms *cmd, chat_ai_conf *ac, const char **args,
                                chat_ai_provider **out)
{
    const char *name = ap_getword_conf(cmd->temp_pool, args);

    if (!(*out = (chat_ai_provider *)chat_ai_provider_find(ac, name))) {
        return apr_psprintf(cmd->pool, "%s: no ChatAIProvider named '%s' (declare it first)",
                            cmd->cmd->name, name);
    }
    return NULL;
}

/* ChatAIAlias NAME ALIAS...: replaces NAME's aliases; an alias may belong
 * to one provider only and may not be another provider's name. */
static const char *alias_directive(cmd_parms *cmd, chat_ai_conf *ac, chat_ai_provider *pr,
                                   const char *args)
{
    const char *a;
    int i;

    pr->aliases = apr_array_make(cmd->pool, 2, sizeof(const char *));
    while (*(a = ap_getword_conf(cmd->pool, &args))) {
        if (*a == '@') {
            a++;
        }
        if (!chat_room_name_valid(a) || strlen(a) > 32) {
            return apr_psprintf(cmd->pool, "%s: '%s' is not an alias of 1 to 32 [A-Za-z0-9_-]",
                                cmd->cmd->name, a);
        }
        for (i = 0; i < ac->providers->nelts; i++) {
            const chat_ai_provider *q = APR_ARRAY_IDX(ac->providers, i, chat_ai_provider *);
            int k, taken = q != pr && !strcasecmp(q->name, a);
            for (k = 0; q != pr && q->aliases && !taken && k < q->aliases->nelts; k++) {
                taken = !strcasecmp(APR_ARRAY_IDX(q->aliases, k, const char *), a);
            }
            if (taken) {
                return apr_psprintf(cmd->pool, "%s %s: '%s' is already %s's", cmd->cmd->name,
                                    pr->name, a, q->name);
            }
        }
        APR_ARRAY_PUSH(pr->aliases, const char *) = a;
    }
    if (!pr->aliases->nelts) {
        return apr_psprintf(cmd->pool, "%s: takes NAME ALIAS...", cmd->cmd->name);
    }
    return NULL;
}

const char *chat_ai_directive(cmd_parms *cmd, chat_ai_conf **slot, const char *args)
{
    chat_ai_conf *ac = chat_ai_config_of(cmd, slot);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE);
    chat_ai_provider *pr = NULL;
    const char *a, *b, *c, *d;
    int what = (int)(long)cmd->info;

    if (err) {
        return err;
    }
    if (what >= CHAT_DATA_FIRST) {
        return chat_data_directive(cmd, ac, args);
    }
    if (((what >= 2 && what <= 7) || what == 16 || what == 17) &&
        (err = provider_arg(cmd, ac, &args, &pr))) {
        return err;
    }
    if (what == 17) {
        return alias_directive(cmd, ac, pr, args);
    }
    a = ap_getword_conf(cmd->pool, &args);
    b = ap_getword_conf(cmd->pool, &args);
    c = ap_getword_conf(cmd->pool, &args);
    d = ap_getword_conf(cmd->pool, &args);
    switch (what) {
    case 1: /* NAME KIND BASE_URL */
        if (!*a || !*b || !*c || *d) {
            return apr_psprintf(cmd->pool, "%s: takes NAME gemini|openai BASE_URL", cmd->cmd->name);
        }
        if (!chat_room_name_valid(a) || chat_ai_provider_find(ac, a)) {
            return apr_psprintf(cmd->pool, "%s: '%s' is not a new name of [A-Za-z0-9_-]",
                                cmd->cmd->name, a);
        }
        pr = apr_pcalloc(cmd->pool, sizeof(*pr));
        pr->name = a;
        if (!strcasecmp(b, "gemini")) {
            pr->kind = CHAT_AI_GEMINI;
            pr->model = "gemini-2.5-flash";
        }
        else if (!strcasecmp(b, "openai")) {
            pr->kind = CHAT_AI_OPENAI;
            pr->model = !strcmp(a, "deepseek") ? "deepseek-chat" : NULL;
        }
        else {
            return apr_psprintf(cmd->pool, "%s: '%s' is not one of gemini, openai", cmd->cmd->name,
                                b);
        }
        if (!http_url(c)) {
            return apr_psprintf(cmd->pool, "%s: '%s' is not an http(s) URL", cmd->cmd->name, c);
        }
        pr->base_url = apr_pstrndup(cmd->pool, c, strlen(c) - (c[strlen(c) - 1] == '/'));
        pr->tz_offset = 8 * 3600; /* Asia/Shanghai: the desk's clock */
        APR_ARRAY_PUSH(ac->providers, chat_ai_provider *) = pr;
        return NULL;
    case 2:
        if (!*a || *b) {
            return apr_psprintf(cmd->pool, "%s: takes NAME KEY|env:VAR|file:/path", cmd->cmd->name);
        }
        return chat_data_config_secret(cmd, a, &pr->key);
    case 3:
        if (!*a || *c) {
            return apr_psprintf(cmd->pool, "%s: takes NAME MODEL [FALLBACK]", cmd->cmd->name);
        }
        pr->model = a;
        pr->fallback = *b ? b : NULL;
        return NULL;
    case 4: {
        chat_ai_window *w;
        int off = !strcasecmp(a, "off") && !*b;
        if (!*a || (!*b && !off) || *c) {
            return apr_psprintf(cmd->pool, "%s: takes NAME HH:MM-HH:MM MODEL, or NAME off",
                                cmd->cmd->name);
        }
        /* any line replaces the built-in default (deepseek's off-peak window) */
        if (!pr->windows) {
            pr->windows = apr_array_make(cmd->pool, 2, sizeof(chat_ai_window));
        }
        if (off) {
            return pr->windows->nelts ? apr_psprintf(cmd->pool, "%s: off with windows for %s",
                                                     cmd->cmd->name, pr->name)
                                      : NULL;
        }
        w = apr_array_push(pr->windows);
        w->model = b;
        err = chat_ai_parse_window(cmd->pool, a, &w->from, &w->to);
        return err ? apr_pstrcat(cmd->pool, cmd->cmd->name, ": ", err, NULL) : NULL;
    }
    case 5:
        if (!*a || *b) {
            return apr_psprintf(cmd->pool, "%s: takes NAME ZONE", cmd->cmd->name);
        }
        err = chat_tz_parse(cmd->pool, a, &pr->tz_offset);
        return err ? apr_pstrcat(cmd->pool, cmd->cmd->name, ": ", err, NULL) : NULL;
    case 6:
    case 7:
        if (*a) {
            return apr_psprintf(cmd->pool, "%s: takes one provider name", cmd->cmd->name);
        }
        if (what == 6) {
            ac->explain = pr;
        }
        else {
            ac->describe = pr;
        }
        return NULL;
    case 8:
        return number(cmd, a, 1, 600, &ac->timeout);
    case 9:
        err = chat_config_parse_bytes(cmd->pool, a, 1024, APR_INT64_C(64) << 20, &ac->max_image);
        return err ? apr_pstrcat(cmd->pool, cmd->cmd->name, ": ", err, NULL) : NULL;
    case 10:
        for (args = apr_pstrcat(cmd->temp_pool, a, " ", b, " ", c, " ", d, " ", args, NULL);
             *(a = ap_getword_conf(cmd->pool, &args));) {
            if (!http_url(a) || !strchr(a + 8, '/') || a[strlen(a) - 1] != '/') {
                return apr_psprintf(cmd->pool,
                                    "%s: '%s' must be an http(s) URL prefix with a path ending "
                                    "in /, like https://charts.example.com/img/",
                                    cmd->cmd->name, a);
            }
            if (!ac->image_allow) {
                ac->image_allow = apr_array_make(cmd->pool, 2, sizeof(const char *));
            }
            APR_ARRAY_PUSH(ac->image_allow, const char *) = a;
        }
        return NULL;
    case 11:
        return number(cmd, a, 0, 10000, &ac->rate);
    case 12:
        return number(cmd, a, 1, 256, &ac->threads);
    case 13:
        return number(cmd, a, 0, 200, &ac->context);
    case 15: { /* loaded now so configtest names a bad file; in force at post_config */
        chat_products *t;
        if (!*a || *b) {
            return apr_psprintf(cmd->pool, "%s: takes PATH", cmd->cmd->name);
        }
        if (cmd->server->is_virtual) { /* one table per process */
            return apr_psprintf(cmd->pool, "%s belongs in the main server config", cmd->cmd->name);
        }
        ac->products_path = ap_server_root_relative(cmd->pool, a);
        err = chat_products_load(cmd->temp_pool, ac->products_path, &t);
        return err ? apr_pstrcat(cmd->pool, cmd->cmd->name, ": ", err, NULL) : NULL;
    }
    case 16:
        if ((strcasecmp(a, "on") && strcasecmp(a, "off")) || *b) {
            return apr_psprintf(cmd->pool, "%s: takes NAME on|off", cmd->cmd->name);
        }
        pr->no_stream = !strcasecmp(a, "off");
        return NULL;
    case 18:
        return number(cmd, a, 50, 10000, &ac->stream_ms);
    default:
        if (!http_url(a) || *b) {
            return apr_psprintf(cmd->pool, "%s: '%s' is not an http(s) URL", cmd->cmd->name, a);
        }
        ac->market_url = apr_pstrndup(cmd->pool, a, strlen(a) - (a[strlen(a) - 1] == '/'));
        return chat_data_market(cmd, ac);
    }
}
