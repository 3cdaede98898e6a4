/* Flat binary records: see chat_wire.h. Integers are little-endian on the
 * wire whatever the host, so a record means the same to every reader. */
#include <stdlib.h>
#include <string.h>

#include "chat_wire.h"

void chat_wire_init(chat_wire *w)
{
    memset(w, 0, sizeof(*w));
}

void chat_wire_free(chat_wire *w)
{
    free(w->buf);
    chat_wire_init(w);
}

static int wire_grow(chat_wire *w, apr_size_t more)
{
    apr_size_t cap = w->cap ? w->cap : 256;
    char *grown;

    if (w->failed) {
        return 0;
    }
    if (w->len + more <= w->cap) {
        return 1;
    }
    while (cap < w->len + more) {
        cap *= 2;
    }
    if (!(grown = realloc(w->buf, cap))) {
        w->failed = 1;
        return 0;
    }
    w->buf = grown;
    w->cap = cap;
    return 1;
}

void chat_wire_put_u64(chat_wire *w, apr_uint64_t v)
{
    int i;

    if (!wire_grow(w, 8)) {
        return;
    }
    for (i = 0; i < 8; i++) {
        w->buf[w->len++] = (char)(v >> (8 * i));
    }
}

void chat_wire_put_u32(chat_wire *w, apr_uint32_t v)
{
    int i;

    if (!wire_grow(w, 4)) {
        return;
    }
    for (i = 0; i < 4; i++) {
        w->buf[w->len++] = (char)(v >> (8 * i));
    }
}

void chat_wire_put_i64(chat_wire *w, apr_int64_t v)
{
    chat_wire_put_u64(w, (apr_uint64_t)v);
}

void chat_wire_put_f64(chat_wire *w, double v)
{
    apr_uint64_t bits;

    memcpy(&bits, &v, sizeof(bits));
    chat_wire_put_u64(w, bits);
}

void chat_wire_put_bytes(chat_wire *w, const void *p, apr_size_t len)
{
    chat_wire_put_u32(w, (apr_uint32_t)len);
    if (len > 0xFFFFFFFFu) {
        w->failed = 1;
        return;
    }
    chat_wire_put_raw(w, p, len);
}

void chat_wire_put_raw(chat_wire *w, const void *p, apr_size_t len)
{
    if (len && wire_grow(w, len)) {
        memcpy(w->buf + w->len, p, len);
        w->len += len;
    }
}

void chat_wire_put_str(chat_wire *w, const char *s)
{
    chat_wire_put_bytes(w, s ? s : "", s ? strlen(s) : 0);
}

void chat_wire_reader_init(chat_wire_reader *r, const void *p, apr_size_t len)
{
    r->p = p;
    r->left = len;
    r->failed = 0;
}

static const unsigned char *reader_take(chat_wire_reader *r, apr_size_t n)
{
    const unsigned char *at;

    if (r->failed || r->left < n) {
        r->failed = 1;
        return NULL;
    }
    at = (const unsigned char *)r->p;
    r->p += n;
    r->left -= n;
    return at;
}

apr_uint64_t chat_wire_get_u64(chat_wire_reader *r)
{
    const unsigned char *b = reader_take(r, 8);
    apr_uint64_t v = 0;
    int i;

    for (i = 7; b && i >= 0; i--) {
        v = (v << 8) | b[i];
    }
    return v;
}

apr_uint32_t chat_wire_get_u32(chat_wire_reader *r)
{
    const unsigned char *b = reader_take(r, 4);

    return b ? (apr_uint32_t)b[0] | (apr_uint32_t)b[1] << 8 | (apr_uint32_t)b[2] << 16 |
                   (apr_uint32_t)b[3] << 24
             : 0;
}

apr_int64_t chat_wire_get_i64(chat_wire_reader *r)
{
    return (apr_int64_t)chat_wire_get_u64(r);
}

double chat_wire_get_f64(chat_wire_reader *r)
{
    apr_uint64_t bits = chat_wire_get_u64(r);
    double v;

    memcpy(&v, &bits, sizeof(v));
    return v;
}

const char *chat_wire_get_bytes(chat_wire_reader *r, apr_size_t max, apr_size_t *len)
{
    apr_size_t n = chat_wire_get_u32(r);
    const unsigned char *b;

    *len = 0;
    if (r->failed || n > max) {
        r->failed = 1;
        return NULL;
    }
    if (!(b = reader_take(r, n))) {
        return NULL;
    }
    *len = n;
    return (const char *)b;
}

int chat_wire_get_str(chat_wire_reader *r, char *out, apr_size_t size)
{
    apr_size_t n;
    const char *b = chat_wire_get_bytes(r, size ? size - 1 : 0, &n);

    if (!b || memchr(b, '\0', n)) {
        r->failed = 1;
        if (size) {
            out[0] = '\0';
        }
        return -1;
    }
    memcpy(out, b, n);
    out[n] = '\0';
    return 0;
}
