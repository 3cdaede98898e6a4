/* A flat binary record: length-prefixed fields in a growable buffer, and a
 * reader that fails (and stays failed) on any field running past the end.
 * Used for the state a WebSocket session carries from one child process to
 * another (handover/), so every reader must treat the bytes as hostile. */
#ifndef CHAT_WIRE_H
#define CHAT_WIRE_H

#include <apr.h>

typedef struct chat_wire {
    char *buf; /* malloc'd */
    apr_size_t len;
    apr_size_t cap;
    int failed; /* out of memory: the record is unusable */
} chat_wire;

typedef struct chat_wire_reader {
    const char *p;
    apr_size_t left;
    int failed; /* a field ran past the end */
} chat_wire_reader;

void chat_wire_init(chat_wire *w);
void chat_wire_free(chat_wire *w);
void chat_wire_put_u32(chat_wire *w, apr_uint32_t v);
void chat_wire_put_u64(chat_wire *w, apr_uint64_t v);
void chat_wire_put_i64(chat_wire *w, apr_int64_t v);
void chat_wire_put_f64(chat_wire *w, double v);
void chat_wire_put_bytes(chat_wire *w, const void *p, apr_size_t len);
void chat_wire_put_str(chat_wire *w, const char *s); /* NULL as "" */
/* Bytes as they are, no length in front (another record's fields). */
void chat_wire_put_raw(chat_wire *w, const void *p, apr_size_t len);

void chat_wire_reader_init(chat_wire_reader *r, const void *p, apr_size_t len);
apr_uint32_t chat_wire_get_u32(chat_wire_reader *r);
apr_uint64_t chat_wire_get_u64(chat_wire_reader *r);
apr_int64_t chat_wire_get_i64(chat_wire_reader *r);
double chat_wire_get_f64(chat_wire_reader *r);
/* The next field's bytes (inside the record, not copied) and their length;
 * NULL (with *len 0) when the record is short, or the field is over max. */
const char *chat_wire_get_bytes(chat_wire_reader *r, apr_size_t max, apr_size_t *len);
/* The next field copied NUL-terminated into out (size bytes): 0, or -1 when
 * it does not fit, holds a NUL or the record is short. */
int chat_wire_get_str(chat_wire_reader *r, char *out, apr_size_t size);

#endif
