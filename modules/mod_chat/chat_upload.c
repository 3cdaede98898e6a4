/* Uploads (POST /chat/upload?room=R) and serving them back (SetHandler
 * chat-files). The body streams to a temporary file in ChatUploadDir and is
 * renamed to a generated name only when complete and checked, so no partial
 * file is ever visible and no name from the client reaches the file system. */
#include <httpd.h>
#include <apr_file_io.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <hiredis/hiredis.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <json-c/json.h>

#include "chat_identity.h"
#include "chat_redis_sync.h"
#include "chat_room_handler.h"
#include "chat_store.h"
#include "chat_upload.h"
#include "chat_utf8.h"

APLOG_USE_MODULE(chat);

/* What a type's first bytes must look like, and its file extension. */
typedef struct upload_type {
    const char *mime;
    const char *ext;
    int (*magic)(const unsigned char *b, apr_size_t n);
} upload_type;

static int is_png(const unsigned char *b, apr_size_t n)
{
    return n >= 8 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8);
}
static int is_jpeg(const unsigned char *b, apr_size_t n)
{
    return n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF;
}
static int is_gif(const unsigned char *b, apr_size_t n)
{
    return n >= 6 && (!memcmp(b, "GIF87a", 6) || !memcmp(b, "GIF89a", 6));
}
static int is_webp(const unsigned char *b, apr_size_t n)
{
    return n >= 12 && !memcmp(b, "RIFF", 4) && !memcmp(b + 8, "WEBP", 4);
}
static int is_webm(const unsigned char *b, apr_size_t n)
{
    return n >= 4 && !memcmp(b, "\x1a\x45\xdf\xa3", 4);
}
static int is_ogg(const unsigned char *b, apr_size_t n)
{
    return n >= 4 && !memcmp(b, "OggS", 4);
}
static int is_mp3(const unsigned char *b, apr_size_t n)
{
    return n >= 3 && (!memcmp(b, "ID3", 3) || (b[0] == 0xFF && (b[1] & 0xE0) == 0xE0));
}
static int is_mp4(const unsigned char *b, apr_size_t n)
{
    return n >= 8 && !memcmp(b + 4, "ftyp", 4);
}
static int is_wav(const unsigned char *b, apr_size_t n)
{
    return n >= 12 && !memcmp(b, "RIFF", 4) && !memcmp(b + 8, "WAVE", 4);
}
static int is_pdf(const unsigned char *b, apr_size_t n)
{
    return n >= 5 && !memcmp(b, "%PDF-", 5);
}
static int is_text(const unsigned char *b, apr_size_t n)
{
    return !memchr(b, 0, n); /* UTF-8 is checked over the whole body */
}

static const upload_type types[] = {
    {"image/png", "png", is_png},    {"image/jpeg", "jpg", is_jpeg},
    {"image/gif", "gif", is_gif},    {"image/webp", "webp", is_webp},
    {"audio/webm", "webm", is_webm}, {"audio/ogg", "ogg", is_ogg},
    {"audio/mpeg", "mp3", is_mp3},   {"audio/mp4", "m4a", is_mp4},
    {"audio/wav", "wav", is_wav},    {"application/pdf", "pdf", is_pdf},
    {"text/plain", "txt", is_text},  {NULL, NULL, NULL}};

#define MAGIC_BYTES 16

const char *chat_upload_type_known(const char *mime)
{
    int i;

    for (i = 0; types[i].mime; i++) {
        if (!strcasecmp(types[i].mime, mime)) {
            return types[i].mime;
        }
    }
    return NULL;
}

static const upload_type *type_by_mime(const chat_dir_conf *dc, const char *ctype)
{
    char mime[64];
    apr_size_t n = 0;
    int i;

    while (ctype[n] && ctype[n] != ';' && n < sizeof(mime) - 1) {
        mime[n] = (char)apr_tolower(ctype[n]);
        n++;
    }
    while (n > 0 && mime[n - 1] == ' ') {
        n--;
    }
    mime[n] = '\0';
    for (i = 0; types[i].mime; i++) {
        if (!strcmp(types[i].mime, mime)) {
            int j;
            if (!dc->upload_types) {
                return &types[i]; /* default: every known type */
            }
            for (j = 0; j < dc->upload_types->nelts; j++) {
                if (!strcmp(APR_ARRAY_IDX(dc->upload_types, j, const char *), mime)) {
                    return &types[i];
                }
            }
            return NULL;
        }
    }
    return NULL;
}

static const upload_type *type_by_ext(const char *ext)
{
    int i;

    for (i = 0; types[i].mime; i++) {
        if (!strcmp(types[i].ext, ext)) {
            return &types[i];
        }
    }
    return NULL;
}

int chat_json_reply(request_rec *r, int status, json_object *o)
{
    r->status = status;
    ap_set_content_type(r, "application/json");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_rputs(
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
        r);
    ap_rputs("\n", r);
    json_object_put(o);
    return OK;
}

int chat_json_error(request_rec *r, int status, const char *code, const char *message)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "error", json_object_new_string(message));
    json_object_object_add(o, "code", json_object_new_string(code));
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "chat: %s refused (%d %s): %s", r->uri, status,
                  code, message);
    /* the body may still be coming: do not read it, close after the answer */
    r->connection->keepalive = AP_CONN_CLOSE;
    return chat_json_reply(r, status, o);
}

int chat_room_is_member(request_rec *r, const char *room, const char *user)
{
    const chat_srv_conf *sc = ap_get_module_config(r->server->module_config, &chat_module);
    const char *err = NULL;
    redisContext *c = chat_redis_sync_open(sc, &err);
    redisReply *rep;
    int rv = -1;

    if (!c) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "chat: membership check: %s", err);
        return -1;
    }
    rep = redisCommand(c, "SISMEMBER %s %s",
                       chat_store_key(r->pool, chat_config_key_prefix(sc), room, "members"), user);
    if (rep && rep->type == REDIS_REPLY_INTEGER) {
        rv = rep->integer == 1;
    }
    if (rep) {
        freeReplyObject(rep);
    }
    redisFree(c);
    return rv;
}

int chat_upload_handler(request_rec *r)
{
    chat_dir_conf *dc = ap_get_module_config(r->per_dir_config, &chat_module);
    chat_room_limits lim;
    const char *user, *room, *ctype, *clen, *fname;
    const upload_type *type;
    apr_int64_t max = dc->upload_max >= 0 ? dc->upload_max : CHAT_DEFAULT_UPLOAD_MAX;
    apr_off_t total = 0;
    apr_file_t *f;
    char *tmp, *final, name[40], buf[16384];
    unsigned char head[MAGIC_BYTES];
    apr_size_t head_len = 0;
    chat_utf8_state utf8;
    apr_status_t rv;
    long n;
    int status, member;
    json_object *o;

    if (r->method_number != M_POST) {
        ap_allow_methods(r, REPLACE_ALLOW, "POST", NULL);
        return chat_json_error(r, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", "use POST");
    }
    if (!dc->upload_dir) {
        return chat_json_error(r, HTTP_SERVICE_UNAVAILABLE, "not_configured",
                               "uploads are off: set ChatUploadDir");
    }
    chat_config_room_limits(dc, &lim);
    if (!(user = chat_identify(r, &lim, &status))) {
        return chat_json_error(r, status, "unauthorized", "no valid user identity");
    }
    room = chat_query_param(r->pool, r->args, "room");
    if (!room || !chat_room_name_valid(room)) {
        return chat_json_error(r, HTTP_BAD_REQUEST, "invalid_room",
                               "give ?room= (a valid room name)");
    }
    member = chat_room_is_member(r, room, user);
    if (member < 0) {
        return chat_json_error(r, HTTP_SERVICE_UNAVAILABLE, "unavailable",
                               "chat storage unavailable");
    }
    if (!member) {
        return chat_json_error(r, HTTP_FORBIDDEN, "forbidden", "you are not a member of this room");
    }
    ctype = apr_table_get(r->headers_in, "Content-Type");
    if (!ctype || !(type = type_by_mime(dc, ctype))) {
        return chat_json_error(r, HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_type",
                               apr_psprintf(r->pool, "type %s is not allowed (ChatUploadTypes)",
                                            ctype ? ctype : "(none)"));
    }
    clen = apr_table_get(r->headers_in, "Content-Length");
    if (clen && apr_atoi64(clen) > max) {
        return chat_json_error(
            r, HTTP_REQUEST_ENTITY_TOO_LARGE, "too_large",
            apr_psprintf(r->pool, "larger than %" APR_INT64_T_FMT " bytes", max));
    }
    if (ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK) != OK) {
        return chat_json_error(r, HTTP_BAD_REQUEST, "bad_request", "unreadable body");
    }
    /* mkstemp-style temp file: removed with the request pool unless renamed */
    tmp = apr_pstrcat(r->pool, dc->upload_dir, "/.upload-XXXXXX", NULL);
    rv = apr_file_mktemp(&f, tmp,
                         APR_FOPEN_CREATE | APR_FOPEN_WRITE | APR_FOPEN_EXCL |
                             APR_FOPEN_DELONCLOSE | APR_FOPEN_BINARY,
                         r->pool);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, "chat: cannot create a file in %s",
                      dc->upload_dir);
        return chat_json_error(r, HTTP_INTERNAL_SERVER_ERROR, "storage_error",
                               "cannot store the file");
    }
    chat_utf8_reset(&utf8);
    while ((n = ap_get_client_block(r, buf, sizeof(buf))) > 0) {
        total += n;
        if (total > max) {
            apr_file_close(f); /* DELONCLOSE removes it */
            return chat_json_error(
                r, HTTP_REQUEST_ENTITY_TOO_LARGE, "too_large",
                apr_psprintf(r->pool, "larger than %" APR_INT64_T_FMT " bytes", max));
        }
        if (head_len < MAGIC_BYTES) {
            apr_size_t take =
                MAGIC_BYTES - head_len < (apr_size_t)n ? MAGIC_BYTES - head_len : (apr_size_t)n;
            memcpy(head + head_len, buf, take);
            head_len += take;
        }
        if (type->magic == is_text &&
            (memchr(buf, 0, (apr_size_t)n) ||
             !chat_utf8_feed(&utf8, (const unsigned char *)buf, (apr_size_t)n))) {
            apr_file_close(f);
            return chat_json_error(r, HTTP_UNSUPPORTED_MEDIA_TYPE, "content_mismatch",
                                   "text/plain must be UTF-8 text");
        }
        if ((rv = apr_file_write_full(f, buf, (apr_size_t)n, NULL)) != APR_SUCCESS) {
            apr_file_close(f);
            ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, "chat: writing an upload failed");
            return chat_json_error(r, HTTP_INTERNAL_SERVER_ERROR, "storage_error",
                                   "cannot store the file");
        }
    }
    if (n < 0) {
        /* the client went away mid-body: nothing is kept */
        apr_file_close(f);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "chat: upload by %s aborted after %" APR_OFF_T_FMT " bytes", user, total);
        return DONE;
    }
    if (total == 0 || !type->magic(head, head_len) ||
        (type->magic == is_text && !chat_utf8_complete(&utf8))) {
        apr_file_close(f);
        return chat_json_error(r, HTTP_UNSUPPORTED_MEDIA_TYPE, "content_mismatch",
                               apr_psprintf(r->pool, "the content is not %s", type->mime));
    }
    chat_store_new_epoch(name); /* 16 random hex digits */
    apr_cpystrn(name + 16, ".", sizeof(name) - 16);
    apr_cpystrn(name + 17, type->ext, sizeof(name) - 17);
    final = apr_pstrcat(r->pool, dc->upload_dir, "/", name, NULL);
    apr_file_flush(f);
    apr_file_perms_set(tmp, APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_GREAD | APR_FPROT_WREAD);
    if ((rv = apr_file_rename(tmp, final, r->pool)) != APR_SUCCESS) {
        apr_file_close(f);
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, "chat: cannot rename upload to %s", final);
        return chat_json_error(r, HTTP_INTERNAL_SERVER_ERROR, "storage_error",
                               "cannot store the file");
    }
    /* renamed away: closing no longer deletes anything under the new name */
    apr_file_close(f);
    fname = apr_table_get(r->headers_in, "X-Filename");
    fname = fname ? chat_query_param(r->pool, apr_pstrcat(r->pool, "f=", fname, NULL), "f") : NULL;
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  "chat: %s uploaded %s (%" APR_OFF_T_FMT " bytes, %s) to room %s", user, name,
                  total, type->mime, room);
    o = json_object_new_object();
    json_object_object_add(
        o, "url",
        json_object_new_string(apr_pstrcat(r->pool, dc->upload_url ? dc->upload_url : "/chat/files",
                                           "/", name, NULL)));
    json_object_object_add(
        o, "filename",
        json_object_new_string(fname && chat_utf8_valid(fname, strlen(fname)) ? fname : name));
    json_object_object_add(o, "size", json_object_new_int64(total));
    json_object_object_add(o, "type", json_object_new_string(type->mime));
    apr_table_setn(
        r->headers_out, "Location",
        apr_pstrcat(r->pool, dc->upload_url ? dc->upload_url : "/chat/files", "/", name, NULL));
    return chat_json_reply(r, HTTP_CREATED, o);
}

const char *chat_upload_file_path(apr_pool_t *p, const chat_dir_conf *dc, const char *name,
                                  const char **mime)
{
    const char *dot = strchr(name, '.');
    const upload_type *type;
    apr_size_t i;

    if (!dc->upload_dir || !dot || dot - name != 16 || !(type = type_by_ext(dot + 1))) {
        return NULL;
    }
    for (i = 0; i < 16; i++) {
        if (!apr_isxdigit(name[i])) {
            return NULL;
        }
    }
    *mime = type->mime;
    return apr_pstrcat(p, dc->upload_dir, "/", name, NULL);
}

/* GET /chat/files/NAME: only names this module generated, from ChatUploadDir. */
int chat_files_handler(request_rec *r)
{
    chat_dir_conf *dc;
    const char *name, *path, *mime = NULL;
    apr_finfo_t fi;
    apr_file_t *f;
    apr_status_t rv;

    if (!r->handler || strcmp(r->handler, "chat-files")) {
        return DECLINED;
    }
    dc = ap_get_module_config(r->per_dir_config, &chat_module);
    if (r->method_number != M_GET) {
        ap_allow_methods(r, REPLACE_ALLOW, "GET", NULL);
        return HTTP_METHOD_NOT_ALLOWED;
    }
    if (!dc->upload_dir) {
        return HTTP_NOT_FOUND;
    }
    name = strrchr(r->uri, '/');
    name = name ? name + 1 : r->uri;
    if (!(path = chat_upload_file_path(r->pool, dc, name, &mime))) {
        return HTTP_NOT_FOUND;
    }
    if ((rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, 0, r->pool)) !=
            APR_SUCCESS ||
        apr_file_info_get(&fi, APR_FINFO_SIZE | APR_FINFO_MTIME, f) != APR_SUCCESS) {
        return HTTP_NOT_FOUND;
    }
    ap_set_content_type(r, mime);
    ap_set_content_length(r, fi.size);
    r->mtime = fi.mtime;
    ap_set_last_modified(r);
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    apr_table_setn(r->headers_out, "Cache-Control", "private, max-age=86400, immutable");
    if (strncmp(mime, "image/", 6) && strncmp(mime, "audio/", 6)) {
        apr_table_setn(r->headers_out, "Content-Disposition",
                       apr_pstrcat(r->pool, "attachment; filename=\"", name, "\"", NULL));
    }
    if (r->header_only) {
        return OK;
    }
    {
        apr_size_t sent;
        return ap_send_fd(f, r, 0, (apr_size_t)fi.size, &sent) == APR_SUCCESS ? OK : DONE;
    }
}
