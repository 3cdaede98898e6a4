/* Pure helpers; see chat_util.h. */
#include <errno.h>

#include <apr_file_io.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "chat_util.h"

const char *chat_config_parse_bytes(apr_pool_t *p, const char *arg, apr_int64_t min,
                                    apr_int64_t max, apr_int64_t *out)
{
    char *end = NULL;
    apr_int64_t v, mult = 1;

    if (!apr_isdigit(*arg)) {
        return apr_psprintf(p, "'%s' is not a size (digits with optional K, M or G)", arg);
    }
    errno = 0;
    v = apr_strtoi64(arg, &end, 10);
    if (errno == ERANGE) {
        return apr_psprintf(p, "'%s' is out of range", arg);
    }
    if (end && *end) {
        switch (apr_toupper(*end)) {
        case 'K':
            mult = 1024;
            break;
        case 'M':
            mult = 1024 * 1024;
            break;
        case 'G':
            mult = 1024 * 1024 * 1024;
            break;
        default:
            return apr_psprintf(p, "'%s' is not a size (digits with optional K, M or G)", arg);
        }
        if (end[1]) {
            return apr_psprintf(p, "'%s' is not a size (digits with optional K, M or G)", arg);
        }
    }
    if (v > max / mult || v * mult < min || v * mult > max) {
        return apr_psprintf(
            p, "'%s' is out of range (%" APR_INT64_T_FMT " to %" APR_INT64_T_FMT " bytes)", arg,
            min, max);
    }
    *out = v * mult;
    return NULL;
}

const char *chat_json_quote(apr_pool_t *p, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    apr_size_t n = 2;
    const unsigned char *c;
    char *out, *o;

    for (c = (const unsigned char *)s; *c; c++) {
        n += (*c < 0x20) ? 6 : (*c == '"' || *c == '\\') ? 2 : 1;
    }
    o = out = apr_palloc(p, n + 1);
    *o++ = '"';
    for (c = (const unsigned char *)s; *c; c++) {
        switch (*c) {
        case '"':
        case '\\':
            *o++ = '\\';
            *o++ = (char)*c;
            break;
        case '\n':
            *o++ = '\\';
            *o++ = 'n';
            break;
        case '\r':
            *o++ = '\\';
            *o++ = 'r';
            break;
        case '\t':
            *o++ = '\\';
            *o++ = 't';
            break;
        default:
            if (*c < 0x20) {
                *o++ = '\\';
                *o++ = 'u';
                *o++ = '0';
                *o++ = '0';
                *o++ = hex[*c >> 4];
                *o++ = hex[*c & 15];
            }
            else {
                *o++ = (char)*c;
            }
        }
    }
    *o++ = '"';
    *o = '\0';
    return out;
}

int chat_room_name_valid(const char *name)
{
    apr_size_t i, n = strlen(name);

    if (n < 1 || n > 64 || !strcmp(name, "upload") || !strcmp(name, "ai")) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        char c = name[i];
        if (!(apr_isalnum(c) || c == '_' || c == '-')) {
            return 0;
        }
    }
    return 1;
}

const char *chat_read_secret_file(apr_pool_t *p, const char *path, const char **secret)
{
    apr_file_t *f;
    char buf[512];
    apr_size_t len = sizeof(buf) - 1;
    apr_status_t rv;

    if (!path || apr_file_open(&f, path, APR_FOPEN_READ, 0, p) != APR_SUCCESS) {
        return apr_psprintf(p, "cannot open '%s'", path ? path : "");
    }
    rv = apr_file_read(f, buf, &len);
    apr_file_close(f);
    if (rv != APR_SUCCESS && !APR_STATUS_IS_EOF(rv)) {
        return apr_psprintf(p, "cannot read '%s'", path);
    }
    if (rv != APR_SUCCESS) {
        len = 0;
    }
    while (len > 0 && apr_isspace(buf[len - 1])) {
        len--;
    }
    buf[len] = '\0';
    *secret = apr_pstrdup(p, buf);
    return NULL;
}

const char *chat_file_slurp(apr_pool_t *p, const char *path, apr_size_t max, char **buf,
                            apr_size_t *len)
{
    apr_file_t *f;
    apr_finfo_t fi;
    apr_status_t rv;
    char ebuf[128];

    if ((rv = apr_file_open(&f, path, APR_FOPEN_READ, APR_OS_DEFAULT, p)) != APR_SUCCESS ||
        (rv = apr_file_info_get(&fi, APR_FINFO_SIZE, f)) != APR_SUCCESS) {
        return apr_psprintf(p, "%s: %s", path, apr_strerror(rv, ebuf, sizeof(ebuf)));
    }
    if (fi.size < 0 || (apr_size_t)fi.size > max) {
        apr_file_close(f);
        return apr_psprintf(p, "%s: larger than %" APR_SIZE_T_FMT " bytes", path, max);
    }
    *buf = apr_palloc(p, (apr_size_t)fi.size + 1);
    rv = fi.size ? apr_file_read_full(f, *buf, (apr_size_t)fi.size, NULL) : APR_SUCCESS;
    apr_file_close(f);
    if (rv != APR_SUCCESS) {
        return apr_psprintf(p, "%s: %s", path, apr_strerror(rv, ebuf, sizeof(ebuf)));
    }
    (*buf)[fi.size] = '\0';
    *len = (apr_size_t)fi.size;
    return NULL;
}
