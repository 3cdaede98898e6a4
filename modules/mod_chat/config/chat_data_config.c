/* ChatData*, ChatAITool*: see chat_data_config.h. */
#include <httpd.h>
#include <stdlib.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <http_config.h>

#include "chat_data_config.h"
#include "chat_util.h"

/* KEY, env:VARIABLE or file:/path, resolved now so a missing one fails configtest. */
const char *chat_data_config_secret(cmd_parms *cmd, const char *spec, const char **key)
{
    if (!strncmp(spec, "env:", 4)) {
        if (!(*key = getenv(spec + 4)) || !**key) {
            return apr_psprintf(cmd->pool, "%s: environment variable %s is not set", cmd->cmd->name,
                                spec + 4);
        }
        *key = apr_pstrdup(cmd->pool, *key);
    }
    else if (!strncmp(spec, "file:", 5)) {
        const char *err =
            chat_read_secret_file(cmd->pool, ap_server_root_relative(cmd->pool, spec + 5), key);
        if (err) {
            return apr_pstrcat(cmd->pool, cmd->cmd->name, ": ", err, NULL);
        }
    }
    else {
        *key = spec;
    }
    if (strpbrk(*key, "\r\n")) {
        return apr_psprintf(cmd->pool, "%s: the key has a line break", cmd->cmd->name);
    }
    return NULL;
}

static const char *const tool_kinds[] = {"quote", "history", "intraday", "board", "news", NULL};

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

static chat_source *source_named(cmd_parms *cmd, chat_ai_conf *ac, const char *name,
                                 const char **err)
{
    chat_source *src = (chat_source *)chat_ai_source_find(ac, name);

    if (!src) {
        *err = apr_psprintf(cmd->pool, "%s: no ChatDataSource named '%s' (declare it first)",
                            cmd->cmd->name, name);
    }
    return src;
}

static const char *add_field(cmd_parms *cmd, chat_source *src, const char *spec)
{
    chat_source_field f;
    const char *err = chat_source_parse_field(cmd->pool, spec, &f);
    int i;

    if (err) {
        return apr_psprintf(cmd->pool, "%s %s: %s", cmd->cmd->name, src->name, err);
    }
    for (i = 0; i < src->fields->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(src->fields, i, chat_source_field).name, f.name)) {
            return apr_psprintf(cmd->pool, "%s %s: field '%s' is mapped already", cmd->cmd->name,
                                src->name, f.name);
        }
    }
    *(chat_source_field *)apr_array_push(src->fields) = f;
    return NULL;
}

static const char *add_filter(cmd_parms *cmd, chat_source *src, const char *field, const char *op,
                              const char *value)
{
    chat_source_filter flt;
    const char *err;
    int i, known = !src->fields->nelts;

    if (!*field || !*op || !*value) {
        return apr_psprintf(cmd->pool, "%s: takes NAME FIELD OP VALUE", cmd->cmd->name);
    }
    for (i = 0; i < src->fields->nelts && !known; i++) {
        known = !strcmp(APR_ARRAY_IDX(src->fields, i, chat_source_field).name, field);
    }
    if (!known) {
        return apr_psprintf(cmd->pool, "%s %s: '%s' is not a mapped field (ChatDataField first)",
                            cmd->cmd->name, src->name, field);
    }
    if ((err = chat_source_parse_filter(cmd->pool, field, op, value, &flt))) {
        return apr_psprintf(cmd->pool, "%s %s: %s", cmd->cmd->name, src->name, err);
    }
    *(chat_source_filter *)apr_array_push(src->filters) = flt;
    return NULL;
}

static const char *new_source(cmd_parms *cmd, chat_ai_conf *ac, const char *name, const char *url,
                              chat_source **out)
{
    const char *err;

    if (!chat_room_name_valid(name) || chat_ai_source_find(ac, name)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a new name of [A-Za-z0-9_-]",
                            cmd->cmd->name, name);
    }
    if ((err = chat_source_check_template(cmd->pool, url))) {
        return apr_psprintf(cmd->pool, "%s %s: %s", cmd->cmd->name, name, err);
    }
    *out = chat_source_make(cmd->pool, name, url);
    APR_ARRAY_PUSH(ac->sources, chat_source *) = *out;
    return NULL;
}

const char *chat_data_market(cmd_parms *cmd, chat_ai_conf *ac)
{
    chat_source *q, *h;
    const char *err;

    if ((err =
             new_source(cmd, ac, "market_quote",
                        apr_pstrcat(cmd->pool, ac->market_url, "/quote?code={code}", NULL), &q)) ||
        (err = new_source(
             cmd, ac, "market_history",
             apr_pstrcat(cmd->pool, ac->market_url, "/history?code={code}&days={days}", NULL),
             &h))) {
        return err;
    }
    h->rows_spec = "bars";
    APR_ARRAY_PUSH(h->rows, const char *) = "bars";
    if (!ac->tool_src[CHAT_AI_TOOL_QUOTE]) {
        ac->tool_src[CHAT_AI_TOOL_QUOTE] = q;
    }
    if (!ac->tool_src[CHAT_AI_TOOL_HISTORY]) {
        ac->tool_src[CHAT_AI_TOOL_HISTORY] = h;
    }
    return NULL;
}

/* ChatDataHeader NAME "Header: value": the value may be env:VAR or file:/path. */
static const char *add_header(cmd_parms *cmd, chat_source *src, const char *line)
{
    const char *colon = strchr(line, ':'), *c, *value;
    const char *err;

    for (c = line; colon && c < colon; c++) {
        if (!apr_isalnum(*c) && *c != '-' && *c != '_') {
            colon = NULL;
        }
    }
    if (!colon || colon == line) {
        return apr_psprintf(cmd->pool, "%s %s: '%s' is not \"Header-Name: value\"", cmd->cmd->name,
                            src->name, line);
    }
    for (value = colon + 1; apr_isspace(*value); value++) {
    }
    if ((err = chat_data_config_secret(cmd, value, &value))) {
        return err;
    }
    APR_ARRAY_PUSH(src->headers, const char *) = apr_pstrcat(
        cmd->pool, apr_pstrndup(cmd->pool, line, (apr_size_t)(colon - line)), ": ", value, NULL);
    return NULL;
}

const char *chat_data_directive(cmd_parms *cmd, chat_ai_conf *ac, const char *args)
{
    int what = (int)(long)cmd->info, i, v = -1;
    const char *name = ap_getword_conf(cmd->pool, &args), *a, *err = NULL;
    chat_source *src = NULL;

    if (what >= 28) { /* one number: rounds, rows, bytes */
        if (*args) {
            return apr_psprintf(cmd->pool, "%s: takes one value", cmd->cmd->name);
        }
        if (what == 28) {
            return number(cmd, name, 1, 16, &ac->tool_rounds);
        }
        if (what == 29) {
            return number(cmd, name, 1, CHAT_SOURCE_MAX_ROWS, &ac->tool_rows);
        }
        err = chat_config_parse_bytes(cmd->pool, name, 1024, 1024 * 1024, &ac->tool_bytes);
        return err ? apr_pstrcat(cmd->pool, cmd->cmd->name, ": ", err, NULL) : NULL;
    }
    a = ap_getword_conf(cmd->pool, &args);
    if (!*name || !*a) {
        return apr_psprintf(cmd->pool, "%s: takes NAME and a value (docs/directives.md)",
                            cmd->cmd->name);
    }
    if (what == 20) {
        return *args ? apr_psprintf(cmd->pool, "%s: takes NAME URL-TEMPLATE", cmd->cmd->name)
                     : new_source(cmd, ac, name, a, &src);
    }
    if (what == 27) { /* ChatAITool KIND SOURCE */
        for (i = 0; tool_kinds[i] && strcmp(tool_kinds[i], name); i++) {
        }
        if (!tool_kinds[i] || *args) {
            return apr_psprintf(cmd->pool,
                                "%s: takes quote|history|intraday|board|news SOURCE, not '%s'",
                                cmd->cmd->name, name);
        }
        if (!(src = source_named(cmd, ac, a, &err))) {
            return err;
        }
        ac->tool_src[i] = src;
        return NULL;
    }
    if (!(src = source_named(cmd, ac, name, &err))) {
        return err;
    }
    switch (what) {
    case 21:
        return *args ? apr_psprintf(cmd->pool, "%s: quote the header line", cmd->cmd->name)
                     : add_header(cmd, src, a);
    case 22:
        if (*args) {
            return apr_psprintf(cmd->pool, "%s: takes NAME PATH", cmd->cmd->name);
        }
        if ((err = chat_source_parse_path(cmd->pool, a, &src->rows)) ||
            (src->rows->nelts == 1 && !strcmp(a, "$key"))) {
            return apr_psprintf(cmd->pool, "%s %s: %s", cmd->cmd->name, name,
                                err ? err : "'$key' names a row's key, not where rows are");
        }
        src->rows_spec = a;
        return NULL;
    case 23:
        for (err = add_field(cmd, src, a); !err && *(a = ap_getword_conf(cmd->pool, &args));) {
            err = add_field(cmd, src, a);
        }
        return err;
    case 24: {
        const char *op = ap_getword_conf(cmd->pool, &args);
        const char *value = ap_getword_conf(cmd->pool, &args);
        return *args ? apr_psprintf(cmd->pool, "%s: takes NAME FIELD OP VALUE", cmd->cmd->name)
                     : add_filter(cmd, src, a, op, value);
    }
    case 25:
        err = number(cmd, a, 0, 86400, &v);
        src->cache = v;
        return err;
    default:
        err = number(cmd, a, 1, 600, &v);
        src->timeout = v;
        return err;
    }
}
