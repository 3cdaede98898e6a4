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
#include "chat_access.h"
#include "chat_mime.h"
#include "chat_reply.h"
#include "chat_store.h"
#include "chat_upload.h"
#include "chat_utf8.h"

APLOG_USE_MODULE(chat);

static const chat_mime_type *type_by_mime(const chat_dir_conf *dc, const char *ctype)
{
    const chat_mime_type *t;
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
    if (!(t = chat_mime_lookup(mime)) || !dc->upload_types) {
        return t; /* default: every known type */
    }
    for (i = 0; i < dc->upload_types->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(dc->upload_types, i, const char *), mime)) {
            return t;
        }
    }
    return NULL;
}

int chat_upload_handler(request_rec *r)
{
    chat_dir_conf *dc = ap_get_module_config(r->per_dir_config, &chat_module);
    chat_room_limits lim;
    const char *user, *room, *ctype, *clen, *fname;
    const chat_mime_type *type;
    apr_int64_t max = dc->upload_max >= 0 ? dc->upload_max : CHAT_DEFAULT_UPLOAD_MAX;
    apr_off_t total = 0;
    apr_file_t *f;
    char *tmp, *final, name[40], buf[16384];
    unsigned char head[CHAT_MIME_MAGIC_BYTES];
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
    chat_settings_room_limits(dc, &lim);
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
        if (head_len < CHAT_MIME_MAGIC_BYTES) {
            apr_size_t take = CHAT_MIME_MAGIC_BYTES - head_len < (apr_size_t)n
                                  ? CHAT_MIME_MAGIC_BYTES - head_len
                                  : (apr_size_t)n;
            memcpy(head + head_len, buf, take);
            head_len += take;
        }
        if (type->text && (memchr(buf, 0, (apr_size_t)n) ||
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
    if (total == 0 || !type->magic(head, head_len) || (type->text && !chat_utf8_complete(&utf8))) {
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
    const chat_mime_type *type;
    apr_size_t i;

    if (!dc->upload_dir || !dot || dot - name != 16 || !(type = chat_mime_by_ext(dot + 1))) {
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
