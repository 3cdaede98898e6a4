/* Incremental UTF-8 validation (RFC 3629): a message may arrive split at any
 * byte, across frames and reads, and must be refused at the first bad byte. */
#ifndef CHAT_UTF8_H
#define CHAT_UTF8_H

#include <apr.h>

typedef struct chat_utf8_state {
    unsigned int need; /* continuation bytes still expected */
    unsigned char lo;  /* allowed range of the next continuation byte */
    unsigned char hi;
} chat_utf8_state;

void chat_utf8_reset(chat_utf8_state *s);

/* Returns 1 while everything fed so far can still be valid UTF-8, 0 at the
 * first byte that cannot. */
int chat_utf8_feed(chat_utf8_state *s, const unsigned char *p, apr_size_t len);

/* 1 when the text fed so far ends on a character boundary. */
int chat_utf8_complete(const chat_utf8_state *s);

/* Validate a whole buffer. */
int chat_utf8_valid(const char *p, apr_size_t len);

#endif
