/* A JSON-over-HTTP data source described by configuration (ChatData*): a URL
 * template with {placeholders}, a path to the rows, a field map with
 * conversions, and row filters. This file is the pure mapping engine: it
 * parses the template and the maps (so configtest can name a bad one),
 * expands a template with URL-encoded values, and turns a JSON document into
 * rows of named fields (a JSON array of flat objects). No I/O: fetching and
 * caching are in chat_source_fetch.c. */
#ifndef CHAT_SOURCE_H
#define CHAT_SOURCE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <json.h>

#define CHAT_SOURCE_DEFAULT_TIMEOUT 10 /* seconds per fetch */
#define CHAT_SOURCE_DEFAULT_CACHE   0  /* seconds a fetched document is reused */
#define CHAT_SOURCE_MAX_BYTES       (4 * 1024 * 1024)
#define CHAT_SOURCE_MAX_ROWS        5000
#define CHAT_SOURCE_ZONE            (8 * 3600) /* times are shown in Beijing time */

typedef enum {
    CHAT_SOURCE_AUTO = 0, /* numbers and numeric strings -> number, else text */
    CHAT_SOURCE_NUMBER,   /* a number or a numeric string ("3,520.5", "-0.85%"), else error */
    CHAT_SOURCE_TEXT,     /* as text */
    CHAT_SOURCE_UNIX_S,   /* seconds since 1970 -> "YYYY-MM-DD[ HH:MM]" */
    CHAT_SOURCE_UNIX_MS,  /* milliseconds since 1970 -> the same */
    CHAT_SOURCE_DATE      /* text in a pattern of YYYY MM DD HH mm ss -> the same */
} chat_source_conv;

typedef struct chat_source_field {
    const char *name;         /* the row's field */
    apr_array_header_t *path; /* const char * segments; "$key" = the row's key */
    chat_source_conv conv;
    const char *pattern; /* CHAT_SOURCE_DATE */
} chat_source_field;

typedef enum {
    CHAT_SOURCE_GT = 1,
    CHAT_SOURCE_LT,
    CHAT_SOURCE_GE,
    CHAT_SOURCE_LE,
    CHAT_SOURCE_EQ,
    CHAT_SOURCE_NE,
    CHAT_SOURCE_IN
} chat_source_op;

typedef struct chat_source_filter {
    const char *field;
    chat_source_op op;
    const char *value;       /* as written */
    apr_array_header_t *set; /* CHAT_SOURCE_IN: const char * */
} chat_source_filter;

typedef struct chat_source {
    const char *name;
    const char *url;             /* the template as written */
    apr_array_header_t *headers; /* "Name: value" */
    apr_array_header_t *rows;    /* path segments; empty = the document itself */
    const char *rows_spec;       /* as written, for messages */
    apr_array_header_t *fields;  /* chat_source_field; empty = every scalar member as is */
    apr_array_header_t *filters; /* chat_source_filter */
    int cache;                   /* seconds, -1 = unset */
    int timeout;                 /* seconds, -1 = unset */
} chat_source;

/* The placeholders a template may use, NULL-terminated. */
extern const char *const chat_source_placeholders[];

/* A new source (fields, filters, headers empty; rows = the document). */
chat_source *chat_source_make(apr_pool_t *p, const char *name, const char *url);

/* Checks a URL template: http(s), every {name} known, braces balanced.
 * NULL, or why not. */
const char *chat_source_check_template(apr_pool_t *p, const char *url);

/* "data.list.0.c" into segments; "" = no segment. NULL, or why not. */
const char *chat_source_parse_path(apr_pool_t *p, const char *spec, apr_array_header_t **out);

/* "close=data.c", "time=t:unix-ms", "time=date:YYYY-MM-DD" into a field.
 * NULL, or why not. */
const char *chat_source_parse_field(apr_pool_t *p, const char *spec, chat_source_field *out);

/* "oi > 1000", "exchange in SHFE,INE", "night = 1": NULL, or why not. */
const char *chat_source_parse_filter(apr_pool_t *p, const char *field, const char *op,
                                     const char *value, chat_source_filter *out);

/* The URL with each {name} replaced by vars[name] URL-encoded ("" when
 * absent). */
const char *chat_source_expand(apr_pool_t *p, const char *url, apr_table_t *vars);

/* The rows of a document (at the rows path; a document that is an array is
 * the rows whatever the path): a new JSON array of flat objects (caller puts)
 * with the filters applied, at most max_rows (0 = CHAT_SOURCE_MAX_ROWS).
 * NULL with *err, a sentence naming the source, on bad JSON, no rows at the
 * path, a missing field or a failed conversion. */
json_object *chat_source_rows(apr_pool_t *p, const chat_source *src, const char *body, int max_rows,
                              const char **err);

/* A value as a number: numbers, and strings like "3,520.5" or "-0.85%". */
int chat_source_number(json_object *v, double *out);

#endif
