/* RFC 6455 framing: an incremental decoder for client frames and the encoder
 * for server frames. Pure C on APR types only, so the Check unit tests drive
 * it byte by byte without an httpd. */
#ifndef CHAT_WS_FRAME_H
#define CHAT_WS_FRAME_H

#include <apr.h>
#include "chat_utf8.h"

#define CHAT_WS_OP_CONT   0x0
#define CHAT_WS_OP_TEXT   0x1
#define CHAT_WS_OP_BINARY 0x2
#define CHAT_WS_OP_CLOSE  0x8
#define CHAT_WS_OP_PING   0x9
#define CHAT_WS_OP_PONG   0xA

/* Close codes we send (RFC 6455 section 7.4.1). */
#define CHAT_WS_CLOSE_NORMAL     1000
#define CHAT_WS_CLOSE_GOING_AWAY 1001
#define CHAT_WS_CLOSE_PROTOCOL   1002
#define CHAT_WS_CLOSE_NO_STATUS  1005 /* never on the wire */
#define CHAT_WS_CLOSE_BAD_DATA   1007
#define CHAT_WS_CLOSE_POLICY     1008
#define CHAT_WS_CLOSE_TOO_BIG    1009
#define CHAT_WS_CLOSE_INTERNAL   1011

/* What the decoder hands to its owner. Every callback may queue output; none
 * may free the decoder. A non-zero return from a callback stops feeding and is
 * returned by chat_ws_decoder_feed (use it for "connection is closing"). */
typedef struct chat_ws_callbacks {
    /* A complete text (UTF-8 validated) or binary message. */
    int (*on_message)(void *ctx, int opcode, const char *data, apr_size_t len);
    int (*on_ping)(void *ctx, const char *data, apr_size_t len);
    int (*on_pong)(void *ctx, const char *data, apr_size_t len);
    /* code is CHAT_WS_CLOSE_NO_STATUS when the close frame had no payload;
     * reason is valid UTF-8 of reason_len bytes (not NUL-terminated). */
    int (*on_close)(void *ctx, int code, const char *reason, apr_size_t reason_len);
} chat_ws_callbacks;

typedef struct chat_ws_decoder {
    /* limits, set before feeding */
    apr_uint64_t max_frame;   /* largest payload of one frame */
    apr_uint64_t max_message; /* largest reassembled message */

    const chat_ws_callbacks *cb;
    void *cb_ctx;

    apr_uint64_t payload_len;
    apr_uint64_t payload_have;

    /* complete frames seen (any opcode): the session's idle timer counts
     * frames, not bytes, so a client trickling bytes is idle */
    apr_uint64_t frames;

    /* message reassembly (text/binary); malloc'd, freed by _cleanup */
    char *msg;
    apr_size_t msg_len;
    apr_size_t msg_cap;

    /* a control frame's payload (<= 125 bytes) that arrives over several
     * reads, malloc'd until the frame is complete; one that comes whole is
     * unmasked on the stack, so an idle socket holds no buffer */
    char *ctl;

    const char *error; /* static text describing the last error */
    chat_utf8_state utf8;
    /* set once a protocol error was found; feeding is refused afterwards */
    int failed;

    /* frame header being read (fields are small: the decoder is part of
     * every idle socket) */
    unsigned char hdr[14];
    unsigned char hdr_have;
    unsigned char hdr_need;
    unsigned char mask[4];
    unsigned char in_payload;
    unsigned char fin;
    unsigned char opcode;
    unsigned char msg_opcode; /* 0 when no message is in progress */
} chat_ws_decoder;

void chat_ws_decoder_init(chat_ws_decoder *d, apr_uint64_t max_frame, apr_uint64_t max_message,
                          const chat_ws_callbacks *cb, void *cb_ctx);
void chat_ws_decoder_cleanup(chat_ws_decoder *d);

/* Feed received bytes. Returns 0 when all bytes were consumed, a close code
 * (1002, 1007, 1009) on a protocol violation (d->error says why), or the
 * non-zero value a callback returned. */
/* What d holds of a message or frame not yet complete, as client bytes
 * (malloc'd, *len of them; NULL with *len 0 when nothing is held or memory
 * is short): fed to a fresh decoder they put it where d is, checked again
 * against that decoder's own limits. A live hand-over carries a half-read
 * message to another process this way. */
char *chat_ws_decoder_unread(const chat_ws_decoder *d, apr_size_t *len);

int chat_ws_decoder_feed(chat_ws_decoder *d, const char *buf, apr_size_t len);

/* Writes a server (unmasked) frame header for a payload of len bytes into
 * out (at least 10 bytes); returns the header length. */
apr_size_t chat_ws_frame_header(unsigned char *out, int fin, int opcode, apr_uint64_t len);

/* Is code acceptable in a close frame received from a peer? */
int chat_ws_close_code_valid(int code);

#endif
