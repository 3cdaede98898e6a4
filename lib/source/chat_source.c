/* The data-source mapping engine: see chat_source.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "chat_source.h"

const char *const chat_source_placeholders[] = {"code",  "exchange", "contract", "date",
                                                "from",  "to",       "days",     "limit",
                                                "query", "interval", NULL};

chat_source *chat_source_make(apr_pool_t *p, const char *name, const char *url)
{
    chat_source *s = apr_pcalloc(p, sizeof(*s));

    s->name = name;
    s->url = url;
    s->headers = apr_array_make(p, 1, sizeof(const char *));
    s->rows = apr_array_make(p, 2, sizeof(const char *));
    s->rows_spec = "";
    s->fields = apr_array_make(p, 4, sizeof(chat_source_field));
    s->filters = apr_array_make(p, 1, sizeof(chat_source_filter));
    s->cache = -1;
    s->timeout = -1;
    return s;
}

static int placeholder_known(const char *name, apr_size_t len)
{
    int i;

    for (i = 0; chat_source_placeholders[i]; i++) {
        if (strlen(chat_source_placeholders[i]) == len &&
            !strncmp(chat_source_placeholders[i], name, len)) {
            return 1;
        }
    }
    return 0;
}

const char *chat_source_check_template(apr_pool_t *p, const char *url)
{
    const char *c;

    if (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8)) {
        return apr_psprintf(p, "'%s' is not an http(s) URL template", url);
    }
    for (c = url; *c; c++) {
        if ((unsigned char)*c <= ' ') {
            return apr_psprintf(p, "'%s' has a space or control character", url);
        }
        if (*c == '}') {
            return apr_psprintf(p, "'%s' has a '}' without its '{'", url);
        }
        if (*c == '{') {
            const char *end = strchr(c + 1, '}'), *open = strchr(c + 1, '{');
            if (!end || (open && open < end)) {
                return apr_psprintf(p, "'%s' has a '{' without its '}'", url);
            }
            if (!placeholder_known(c + 1, (apr_size_t)(end - c - 1))) {
                return apr_psprintf(p,
                                    "'%s': {%.*s} is not a placeholder (code, exchange, contract, "
                                    "date, from, to, days, limit, query, interval)",
                                    url, (int)(end - c - 1), c + 1);
            }
            c = end;
        }
    }
    return NULL;
}

static const char *url_encode(apr_pool_t *p, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = apr_palloc(p, strlen(s) * 3 + 1), *o = out;

    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (apr_isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
            *o++ = (char)ch;
        }
        else {
            *o++ = '%';
            *o++ = hex[ch >> 4];
            *o++ = hex[ch & 15];
        }
    }
    *o = '\0';
    return out;
}

const char *chat_source_expand(apr_pool_t *p, const char *url, apr_table_t *vars)
{
    const char *out = "", *c = url, *open;

    while ((open = strchr(c, '{')) != NULL) {
        const char *end = strchr(open, '}'), *v;
        if (!end) {
            break; /* checked at configtest: cannot happen */
        }
        v = vars ? apr_table_get(vars, apr_pstrndup(p, open + 1, (apr_size_t)(end - open - 1)))
                 : NULL;
        out = apr_pstrcat(p, out, apr_pstrndup(p, c, (apr_size_t)(open - c)),
                          url_encode(p, v ? v : ""), NULL);
        c = end + 1;
    }
    return apr_pstrcat(p, out, c, NULL);
}

const char *chat_source_parse_path(apr_pool_t *p, const char *spec, apr_array_header_t **out)
{
    const char *c = spec, *start = spec;

    *out = apr_array_make(p, 4, sizeof(const char *));
    if (!*spec) {
        return NULL;
    }
    if (!strcmp(spec, "$key")) {
        APR_ARRAY_PUSH(*out, const char *) = "$key";
        return NULL;
    }
    for (;; c++) {
        if (*c == '.' || !*c) {
            if (c == start) {
                return apr_psprintf(p, "'%s' is not a path like data.list (an empty step)", spec);
            }
            APR_ARRAY_PUSH(*out, const char *) = apr_pstrndup(p, start, (apr_size_t)(c - start));
            if (!*c) {
                return NULL;
            }
            start = c + 1;
        }
        else if ((unsigned char)*c <= ' ' || strchr("{}[]=:\"'$\\", *c)) {
            return apr_psprintf(p, "'%s' is not a path like data.list ('%c' in a step)", spec, *c);
        }
    }
}

/* A date pattern has YYYY, MM and DD, and otherwise HH, mm, ss or separators. */
static int pattern_valid(const char *pat)
{
    int y = 0, m = 0, d = 0;

    while (*pat) {
        if (!strncmp(pat, "YYYY", 4)) {
            y++, pat += 4;
        }
        else if (!strncmp(pat, "MM", 2)) {
            m++, pat += 2;
        }
        else if (!strncmp(pat, "DD", 2)) {
            d++, pat += 2;
        }
        else if (!strncmp(pat, "HH", 2) || !strncmp(pat, "mm", 2) || !strncmp(pat, "ss", 2)) {
            pat += 2;
        }
        else if (apr_isalnum(*pat)) {
            return 0;
        }
        else {
            pat++;
        }
    }
    return y == 1 && m == 1 && d == 1;
}

const char *chat_source_parse_field(apr_pool_t *p, const char *spec, chat_source_field *out)
{
    const char *eq = strchr(spec, '='), *c, *colon, *err;

    memset(out, 0, sizeof(*out));
    if (!eq || eq == spec) {
        return apr_psprintf(p, "'%s' is not field=path[:conversion]", spec);
    }
    for (c = spec; c < eq; c++) {
        if (!apr_isalnum(*c) && *c != '_') {
            return apr_psprintf(p, "'%s': a field name is letters, digits and _", spec);
        }
    }
    out->name = apr_pstrndup(p, spec, (apr_size_t)(eq - spec));
    colon = strchr(eq + 1, ':');
    if ((err = chat_source_parse_path(
             p, colon ? apr_pstrndup(p, eq + 1, (apr_size_t)(colon - eq - 1)) : eq + 1,
             &out->path))) {
        return apr_psprintf(p, "'%s': %s", spec, err);
    }
    if (!out->path->nelts) {
        return apr_psprintf(p, "'%s' has no path after '='", spec);
    }
    if (!colon) {
        out->conv = CHAT_SOURCE_AUTO;
    }
    else if (!strcmp(colon + 1, "number")) {
        out->conv = CHAT_SOURCE_NUMBER;
    }
    else if (!strcmp(colon + 1, "text")) {
        out->conv = CHAT_SOURCE_TEXT;
    }
    else if (!strcmp(colon + 1, "unix-s")) {
        out->conv = CHAT_SOURCE_UNIX_S;
    }
    else if (!strcmp(colon + 1, "unix-ms")) {
        out->conv = CHAT_SOURCE_UNIX_MS;
    }
    else if (pattern_valid(colon + 1)) {
        out->conv = CHAT_SOURCE_DATE;
        out->pattern = colon + 1;
    }
    else {
        return apr_psprintf(p,
                            "'%s': '%s' is not a conversion (number, text, unix-s, unix-ms, or a "
                            "date pattern like YYYY-MM-DD)",
                            spec, colon + 1);
    }
    return NULL;
}

int chat_source_number(json_object *v, double *out)
{
    char buf[64], *end;
    const char *s;
    apr_size_t i, k = 0;

    if (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)) {
        *out = json_object_get_double(v);
        return isfinite(*out);
    }
    if (!json_object_is_type(v, json_type_string)) {
        return 0;
    }
    /* "3,520.5" and "-0.85%" as data APIs send them */
    for (s = json_object_get_string(v), i = 0; s[i] && k < sizeof(buf) - 1; i++) {
        if (s[i] != ',' && s[i] != '%' && s[i] != ' ') {
            buf[k++] = s[i];
        }
    }
    buf[k] = '\0';
    if (!k || s[i]) {
        return 0;
    }
    *out = strtod(buf, &end);
    return !*end && isfinite(*out);
}

const char *chat_source_parse_filter(apr_pool_t *p, const char *field, const char *op,
                                     const char *value, chat_source_filter *out)
{
    static const char *const ops[] = {">", "<", ">=", "<=", "=", "!=", "in", NULL};
    double d;
    int i;

    memset(out, 0, sizeof(*out));
    for (i = 0; ops[i] && strcmp(ops[i], op); i++) {
    }
    if (!ops[i]) {
        return apr_psprintf(p, "'%s' is not one of >, <, >=, <=, =, !=, in", op);
    }
    out->op = (chat_source_op)(i + 1);
    out->field = field;
    out->value = value;
    if (out->op <= CHAT_SOURCE_LE) {
        json_object *v = json_object_new_string(value);
        int ok = chat_source_number(v, &d);
        json_object_put(v);
        if (!ok) {
            return apr_psprintf(p, "'%s %s %s': %s compares numbers", field, op, value, op);
        }
    }
    if (out->op == CHAT_SOURCE_IN) {
        char *copy = apr_pstrdup(p, value), *tok, *last;
        out->set = apr_array_make(p, 4, sizeof(const char *));
        for (tok = apr_strtok(copy, ",", &last); tok; tok = apr_strtok(NULL, ",", &last)) {
            APR_ARRAY_PUSH(out->set, const char *) = tok;
        }
        if (!out->set->nelts) {
            return apr_psprintf(p, "'%s in %s': an empty list", field, value);
        }
    }
    return NULL;
}

static json_object *step(json_object *o, const char *seg)
{
    json_object *next = NULL;
    char *end;

    if (json_object_is_type(o, json_type_object)) {
        return json_object_object_get_ex(o, seg, &next) ? next : NULL;
    }
    if (json_object_is_type(o, json_type_array) && apr_isdigit(*seg)) {
        long i = strtol(seg, &end, 10);
        return !*end && i >= 0 && (size_t)i < json_object_array_length(o)
                   ? json_object_array_get_idx(o, (size_t)i)
                   : NULL;
    }
    return NULL;
}

static json_object *walk(json_object *o, const apr_array_header_t *path)
{
    int i;

    for (i = 0; o && i < path->nelts; i++) {
        o = step(o, APR_ARRAY_IDX(path, i, const char *));
    }
    return o;
}

static const char *path_text(apr_pool_t *p, const apr_array_header_t *path)
{
    const char *s = "";
    int i;

    for (i = 0; i < path->nelts; i++) {
        s = apr_pstrcat(p, s, i ? "." : "", APR_ARRAY_IDX(path, i, const char *), NULL);
    }
    return s;
}

/* Seconds since 1970 as the day, or day and minute, in the source zone. */
static json_object *time_text(double secs)
{
    apr_time_exp_t tm;
    char buf[64];

    apr_time_exp_tz(&tm, apr_time_from_sec((apr_time_t)secs), CHAT_SOURCE_ZONE);
    if (!tm.tm_hour && !tm.tm_min && !tm.tm_sec) {
        snprintf(buf, sizeof(buf), "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    }
    else {
        snprintf(buf, sizeof(buf), "%04d-%02d-%02d %02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min);
    }
    return json_object_new_string(buf);
}

/* Text in the pattern into the same shape as time_text; NULL if it does not fit. */
static json_object *date_text(const char *s, const char *pat)
{
    int v[6] = {0, 0, 0, 0, 0, 0}, slot, width, k;
    static const char *const tok[] = {"YYYY", "MM", "DD", "HH", "mm", "ss"};
    char buf[64];

    while (*pat) {
        for (slot = 0; slot < 6 && strncmp(pat, tok[slot], strlen(tok[slot])); slot++) {
        }
        if (slot == 6) {
            if (*s++ != *pat++) {
                return NULL;
            }
            continue;
        }
        width = (int)strlen(tok[slot]);
        for (k = 0; k < width; k++, s++) {
            if (!apr_isdigit(*s)) {
                return NULL;
            }
            v[slot] = v[slot] * 10 + (*s - '0');
        }
        pat += width;
    }
    if (*s || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 ||
        v[5] > 60) {
        return NULL;
    }
    if (!v[3] && !v[4] && !v[5]) {
        snprintf(buf, sizeof(buf), "%04d-%02d-%02d", v[0], v[1], v[2]);
    }
    else {
        snprintf(buf, sizeof(buf), "%04d-%02d-%02d %02d:%02d", v[0], v[1], v[2], v[3], v[4]);
    }
    return json_object_new_string(buf);
}

/* Whole numbers as integers; others printed short (0.1, not 0.10000000000000001). */
static json_object *number_value(double d)
{
    char buf[32];

    if (d == floor(d) && fabs(d) < 9e15) {
        return json_object_new_int64((int64_t)d);
    }
    snprintf(buf, sizeof(buf), "%.10g", d);
    return json_object_new_double_s(d, buf);
}

/* The field's value converted; NULL if it does not convert. */
static json_object *convert(const chat_source_field *f, json_object *v)
{
    double d;

    switch (f->conv) {
    case CHAT_SOURCE_NUMBER:
        return chat_source_number(v, &d) ? number_value(d) : NULL;
    case CHAT_SOURCE_TEXT:
        return json_object_new_string(json_object_get_string(v));
    case CHAT_SOURCE_UNIX_S:
    case CHAT_SOURCE_UNIX_MS:
        if (!chat_source_number(v, &d)) {
            return NULL;
        }
        return time_text(f->conv == CHAT_SOURCE_UNIX_MS ? d / 1000 : d);
    case CHAT_SOURCE_DATE:
        return date_text(json_object_get_string(v), f->pattern);
    default:
        if (chat_source_number(v, &d)) {
            return number_value(d);
        }
        if (json_object_is_type(v, json_type_object) || json_object_is_type(v, json_type_array)) {
            return NULL;
        }
        return json_object_new_string(json_object_get_string(v));
    }
}

static int value_equals(json_object *v, const char *want)
{
    double a, b;
    json_object *w = json_object_new_string(want);
    int num = chat_source_number(v, &a) && chat_source_number(w, &b);

    json_object_put(w);
    return num ? a == b : !strcmp(json_object_get_string(v), want);
}

static int row_passes(const chat_source *src, json_object *row)
{
    int i, k;

    for (i = 0; i < src->filters->nelts; i++) {
        const chat_source_filter *f = &APR_ARRAY_IDX(src->filters, i, chat_source_filter);
        json_object *v = NULL, *w;
        double a, b;
        int ok = 0;
        if (!json_object_object_get_ex(row, f->field, &v) || !v) {
            return 0;
        }
        switch (f->op) {
        case CHAT_SOURCE_EQ:
        case CHAT_SOURCE_NE:
            ok = value_equals(v, f->value) == (f->op == CHAT_SOURCE_EQ);
            break;
        case CHAT_SOURCE_IN:
            for (k = 0; k < f->set->nelts && !ok; k++) {
                ok = value_equals(v, APR_ARRAY_IDX(f->set, k, const char *));
            }
            break;
        default:
            w = json_object_new_string(f->value);
            ok = chat_source_number(v, &a) && chat_source_number(w, &b) &&
                 (f->op == CHAT_SOURCE_GT   ? a > b
                  : f->op == CHAT_SOURCE_LT ? a < b
                  : f->op == CHAT_SOURCE_GE ? a >= b
                                            : a <= b);
            json_object_put(w);
        }
        if (!ok) {
            return 0;
        }
    }
    return 1;
}

/* One row of the document mapped; NULL with *err. */
static json_object *map_row(apr_pool_t *p, const chat_source *src, const char *key, json_object *in,
                            int n, const char **err)
{
    json_object *row = json_object_new_object(), *v, *out;
    int i;

    if (!src->fields->nelts) {
        json_object_object_foreach(in, k, val)
        {
            json_object_object_add(row, k, json_object_get(val));
        }
        return row;
    }
    for (i = 0; i < src->fields->nelts; i++) {
        const chat_source_field *f = &APR_ARRAY_IDX(src->fields, i, chat_source_field);
        if (!strcmp(APR_ARRAY_IDX(f->path, 0, const char *), "$key")) {
            /* a key is a name ("rb") unless a conversion says otherwise */
            v = json_object_new_string(key);
            out = f->conv == CHAT_SOURCE_AUTO ? json_object_get(v) : convert(f, v);
            json_object_put(v);
        }
        else if (!(v = walk(in, f->path)) || json_object_is_type(v, json_type_null)) {
            *err = apr_psprintf(p, "the data source '%s' sent a row (%d) without '%s' (field %s)",
                                src->name, n + 1, path_text(p, f->path), f->name);
            json_object_put(row);
            return NULL;
        }
        else {
            out = convert(f, v);
        }
        if (!out) {
            *err = apr_psprintf(p, "the data source '%s' sent '%s' in row %d, not a %s (field %s)",
                                src->name, json_object_get_string(walk(in, f->path)), n + 1,
                                f->conv == CHAT_SOURCE_DATE   ? f->pattern
                                : f->conv == CHAT_SOURCE_AUTO ? "number or text"
                                                              : "number",
                                f->name);
            json_object_put(row);
            return NULL;
        }
        json_object_object_add(row, f->name, out);
    }
    return row;
}

/* An object whose members are all objects is a set of rows by key. */
static int object_of_rows(json_object *o)
{
    int any = 0;

    json_object_object_foreach(o, k, v)
    {
        (void)k;
        if (!json_object_is_type(v, json_type_object)) {
            return 0;
        }
        any = 1;
    }
    return any;
}

/* Adds a mapped row unless filtered out; -1 with *err. */
static int add_row(apr_pool_t *p, const chat_source *src, json_object *rows, const char *key,
                   json_object *in, int n, const char **err)
{
    json_object *row;

    /* a row of an array ([time, close]) needs a field map saying which is which */
    if (!json_object_is_type(in, json_type_object) &&
        !(json_object_is_type(in, json_type_array) && src->fields->nelts)) {
        *err = apr_psprintf(p, "the data source '%s' sent a row (%d) that is not an object",
                            src->name, n + 1);
        return -1;
    }
    if (!(row = map_row(p, src, key, in, n, err))) {
        return -1;
    }
    if (row_passes(src, row)) {
        json_object_array_add(rows, row);
    }
    else {
        json_object_put(row);
    }
    return 0;
}

json_object *chat_source_rows(apr_pool_t *p, const chat_source *src, const char *body, int max_rows,
                              const char **err)
{
    json_object *root = body ? json_tokener_parse(body) : NULL, *at, *rows;
    int n = 0, cap = max_rows > 0 ? max_rows : CHAT_SOURCE_MAX_ROWS;
    size_t i;

    if (!root) {
        *err = apr_psprintf(p, "the data source '%s' did not answer JSON", src->name);
        return NULL;
    }
    at = walk(root, src->rows);
    if (!at && json_object_is_type(root, json_type_array)) {
        at = root; /* a bare array is the rows wherever they were said to be */
    }
    if (!at ||
        (!json_object_is_type(at, json_type_array) && !json_object_is_type(at, json_type_object))) {
        *err =
            apr_psprintf(p, "the data source '%s' sent no rows at '%s'", src->name, src->rows_spec);
        json_object_put(root);
        return NULL;
    }
    rows = json_object_new_array();
    if (json_object_is_type(at, json_type_array)) {
        for (i = 0; i < json_object_array_length(at) && (int)json_object_array_length(rows) < cap;
             i++, n++) {
            if (add_row(p, src, rows, apr_itoa(p, n), json_object_array_get_idx(at, i), n, err)) {
                goto fail;
            }
        }
    }
    else if (object_of_rows(at)) {
        json_object_object_foreach(at, k, v)
        {
            if ((int)json_object_array_length(rows) >= cap) {
                break;
            }
            if (add_row(p, src, rows, k, v, n++, err)) {
                goto fail;
            }
        }
    }
    else if (add_row(p, src, rows, "0", at, 0, err)) {
        goto fail;
    }
    json_object_put(root);
    return rows;
fail:
    json_object_put(rows);
    json_object_put(root);
    return NULL;
}
