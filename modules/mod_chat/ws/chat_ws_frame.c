/* RFC 6455 frame decoder (client -> server) and header encoder (server ->
 * client). The decoder is a byte-driven state machine: any split of the input
 * (1-byte writes, frames spanning reads) gives the same result, and every
 * violation is reported at the earliest byte that proves it. */
#include <stdlib.h>
#include <string.h>

#include "chat_ws_frame.h"

/* Reassembly buffers up to this size are kept between messages. */
#define KEEP_BUFFER 16384

#define FAIL(d, code, why)                                                                         \
    do {                                                                                           \
        (d)->failed = (code);                                                                      \
        (d)->error = (why);                                                                        \
        return (code);                                                                             \
    } while (0)

void chat_ws_decoder_init(chat_ws_decoder *d, apr_uint64_t max_frame, apr_uint64_t max_message,
                          const chat_ws_callbacks *cb, void *cb_ctx)
{
    memset(d, 0, sizeof(*d));
    d->max_frame = max_frame;
    d->max_message = max_message;
    d->cb = cb;
    d->cb_ctx = cb_ctx;
    d->hdr_need = 2;
    chat_utf8_reset(&d->utf8);
}

void chat_ws_decoder_cleanup(chat_ws_decoder *d)
{
    free(d->msg);
    d->msg = NULL;
    d->msg_len = d->msg_cap = 0;
    free(d->ctl);
    d->ctl = NULL;
}

int chat_ws_close_code_valid(int code)
{
    if (code >= 1000 && code <= 1003) {
        return 1;
    }
    if (code >= 1007 && code <= 1014) {
        return 1;
    }
    return code >= 3000 && code <= 4999;
}

apr_size_t chat_ws_frame_header(unsigned char *out, int fin, int opcode, apr_uint64_t len)
{
    int i;

    out[0] = (unsigned char)((fin ? 0x80 : 0) | (opcode & 0x0F));
    if (len < 126) {
        out[1] = (unsigned char)len;
        return 2;
    }
    if (len <= 0xFFFF) {
        out[1] = 126;
        out[2] = (unsigned char)(len >> 8);
        out[3] = (unsigned char)len;
        return 4;
    }
    out[1] = 127;
    for (i = 0; i < 8; i++) {
        out[2 + i] = (unsigned char)(len >> (56 - 8 * i));
    }
    return 10;
}

/* Checks that need only the first two header bytes. */
static int check_first_bytes(chat_ws_decoder *d)
{
    unsigned char b0 = d->hdr[0], b1 = d->hdr[1];
    int opcode = b0 & 0x0F;
    int control = (opcode & 0x08) != 0;

    if (b0 & 0x70) {
        FAIL(d, CHAT_WS_CLOSE_PROTOCOL, "reserved bits set without a negotiated extension");
    }
    if (!(b1 & 0x80)) {
        FAIL(d, CHAT_WS_CLOSE_PROTOCOL, "client frame is not masked");
    }
    switch (opcode) {
    case CHAT_WS_OP_CONT:
        if (!d->msg_opcode) {
            FAIL(d, CHAT_WS_CLOSE_PROTOCOL, "continuation frame without a message to continue");
        }
        break;
    case CHAT_WS_OP_TEXT:
    case CHAT_WS_OP_BINARY:
        if (d->msg_opcode) {
            FAIL(d, CHAT_WS_CLOSE_PROTOCOL, "new message started before the last one ended");
        }
        break;
    case CHAT_WS_OP_CLOSE:
    case CHAT_WS_OP_PING:
    case CHAT_WS_OP_PONG:
        break;
    default:
        FAIL(d, CHAT_WS_CLOSE_PROTOCOL, "reserved opcode");
    }
    if (control) {
        if (!(b0 & 0x80)) {
            FAIL(d, CHAT_WS_CLOSE_PROTOCOL, "fragmented control frame");
        }
        if ((b1 & 0x7F) > 125) {
            FAIL(d, CHAT_WS_CLOSE_PROTOCOL, "control frame payload over 125 bytes");
        }
    }
    return 0;
}

/* Called once the whole header is in: decode the length and mask. */
static int take_header(chat_ws_decoder *d)
{
    unsigned char len7 = d->hdr[1] & 0x7F;
    apr_size_t pos = 2;
    apr_uint64_t len = len7;
    int i;

    if (len7 == 126) {
        len = ((apr_uint64_t)d->hdr[2] << 8) | d->hdr[3];
        pos = 4;
    }
    else if (len7 == 127) {
        len = 0;
        for (i = 0; i < 8; i++) {
            len = (len << 8) | d->hdr[2 + i];
        }
        pos = 10;
        if (len >> 63) {
            FAIL(d, CHAT_WS_CLOSE_PROTOCOL, "64-bit payload length has its top bit set");
        }
    }
    memcpy(d->mask, d->hdr + pos, 4);
    d->fin = (d->hdr[0] & 0x80) != 0;
    d->opcode = (unsigned char)(d->hdr[0] & 0x0F);
    d->payload_len = len;
    d->payload_have = 0;

    if (len > d->max_frame) {
        FAIL(d, CHAT_WS_CLOSE_TOO_BIG, "frame larger than ChatMaxFrameSize");
    }
    if (!(d->opcode & 0x08)) {
        if (d->opcode != CHAT_WS_OP_CONT) {
            d->msg_opcode = d->opcode;
            d->msg_len = 0;
            chat_utf8_reset(&d->utf8);
        }
        if ((apr_uint64_t)d->msg_len + len > d->max_message) {
            FAIL(d, CHAT_WS_CLOSE_TOO_BIG, "message larger than ChatMaxMessageSize");
        }
        if (d->msg_len + len > d->msg_cap) {
            apr_size_t cap = d->msg_cap ? d->msg_cap : 256;
            char *grown;
            while (cap < d->msg_len + len) {
                cap *= 2;
            }
            grown = realloc(d->msg, cap);
            if (!grown) {
                FAIL(d, CHAT_WS_CLOSE_INTERNAL, "out of memory");
            }
            d->msg = grown;
            d->msg_cap = cap;
        }
    }
    d->in_payload = 1;
    return 0;
}

static int deliver_close(chat_ws_decoder *d, const char *p, apr_size_t len)
{
    int code;

    if (len == 0) {
        return d->cb->on_close(d->cb_ctx, CHAT_WS_CLOSE_NO_STATUS, "", 0);
    }
    if (len == 1) {
        FAIL(d, CHAT_WS_CLOSE_PROTOCOL, "close frame with a 1-byte payload");
    }
    code = ((unsigned char)p[0] << 8) | (unsigned char)p[1];
    if (!chat_ws_close_code_valid(code)) {
        FAIL(d, CHAT_WS_CLOSE_PROTOCOL, "invalid close code");
    }
    if (!chat_utf8_valid(p + 2, len - 2)) {
        FAIL(d, CHAT_WS_CLOSE_BAD_DATA, "close reason is not valid UTF-8");
    }
    return d->cb->on_close(d->cb_ctx, code, p + 2, len - 2);
}

/* The current frame's payload is complete; a control frame's is at d->ctl
 * when that is set, else at whole. */
static int finish_frame(chat_ws_decoder *d, const char *whole)
{
    int rv = 0;

    d->in_payload = 0;
    d->hdr_have = 0;
    d->hdr_need = 2;
    d->frames++;

    if (d->opcode & 0x08) {
        const char *ctl = d->ctl ? d->ctl : whole;
        apr_size_t len = (apr_size_t)d->payload_len;

        switch (d->opcode) {
        case CHAT_WS_OP_PING:
            rv = d->cb->on_ping(d->cb_ctx, ctl, len);
            break;
        case CHAT_WS_OP_PONG:
            rv = d->cb->on_pong(d->cb_ctx, ctl, len);
            break;
        default:
            rv = deliver_close(d, ctl, len);
            break;
        }
        free(d->ctl);
        d->ctl = NULL;
        return rv;
    }
    if (!d->fin) {
        return 0;
    }
    if (d->msg_opcode == CHAT_WS_OP_TEXT && !chat_utf8_complete(&d->utf8)) {
        FAIL(d, CHAT_WS_CLOSE_BAD_DATA, "text message ends inside a UTF-8 sequence");
    }
    rv = d->cb->on_message(d->cb_ctx, d->msg_opcode, d->msg ? d->msg : "", d->msg_len);
    d->msg_opcode = 0;
    d->msg_len = 0;
    /* An idle socket should not keep the memory of its largest message. */
    if (d->msg_cap > KEEP_BUFFER) {
        chat_ws_decoder_cleanup(d);
    }
    return rv;
}

int chat_ws_decoder_feed(chat_ws_decoder *d, const char *buf, apr_size_t len)
{
    const unsigned char *p = (const unsigned char *)buf;
    char whole[125]; /* a control frame's payload that came in one piece */
    int rv;

    if (d->failed) {
        return d->failed;
    }
    while (len > 0 || (d->in_payload && d->payload_have == d->payload_len)) {
        if (!d->in_payload) {
            apr_size_t take = d->hdr_need - d->hdr_have;
            if (take > len) {
                take = len;
            }
            memcpy(d->hdr + d->hdr_have, p, take);
            d->hdr_have = (unsigned char)(d->hdr_have + take);
            p += take;
            len -= take;
            if (d->hdr_have < d->hdr_need) {
                return 0;
            }
            if (d->hdr_need == 2) {
                unsigned char len7 = d->hdr[1] & 0x7F;
                if ((rv = check_first_bytes(d)) != 0) {
                    return rv;
                }
                d->hdr_need = (unsigned char)(2 + 4 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0));
                continue;
            }
            if ((rv = take_header(d)) != 0) {
                return rv;
            }
            continue;
        }
        if (d->payload_have < d->payload_len) {
            apr_uint64_t left = d->payload_len - d->payload_have;
            apr_size_t n = left < len ? (apr_size_t)left : len;
            apr_size_t i;
            char *dst;

            if (!(d->opcode & 0x08)) {
                dst = d->msg + d->msg_len;
            }
            else if (!d->ctl && n == d->payload_len) {
                dst = whole; /* all of it is here: nothing to keep between reads */
            }
            else {
                if (!d->ctl && !(d->ctl = malloc(125))) {
                    FAIL(d, CHAT_WS_CLOSE_INTERNAL, "out of memory");
                }
                dst = d->ctl + d->payload_have;
            }

            for (i = 0; i < n; i++) {
                dst[i] = (char)(p[i] ^ d->mask[(d->payload_have + i) & 3]);
            }
            if (d->msg_opcode == CHAT_WS_OP_TEXT && !(d->opcode & 0x08)) {
                if (!chat_utf8_feed(&d->utf8, (const unsigned char *)dst, n)) {
                    FAIL(d, CHAT_WS_CLOSE_BAD_DATA, "text message is not valid UTF-8");
                }
            }
            if (!(d->opcode & 0x08)) {
                d->msg_len += n;
            }
            d->payload_have += n;
            p += n;
            len -= n;
        }
        if (d->payload_have == d->payload_len) {
            if ((rv = finish_frame(d, whole)) != 0) {
                return rv;
            }
        }
    }
    return 0;
}

/* Mask src (n bytes at payload offset off) as the client did, into dst. */
static void mask_copy(char *dst, const char *src, apr_size_t n, const unsigned char *mask,
                      apr_uint64_t off)
{
    apr_size_t i;

    for (i = 0; i < n; i++) {
        dst[i] = (char)(src[i] ^ mask[(off + i) & 3]);
    }
}

char *chat_ws_decoder_unread(const chat_ws_decoder *d, apr_size_t *len)
{
    int data = d->in_payload && !(d->opcode & 0x08);
    apr_size_t cur = d->in_payload ? (apr_size_t)d->payload_have : 0;
    /* earlier fragments of the message in progress (the frame being read
     * starts it when it is a text or binary frame) */
    int earlier = d->msg_opcode && !(data && d->opcode != CHAT_WS_OP_CONT);
    apr_size_t prior = d->msg_len - (data ? cur : 0);
    unsigned char hdr[14];
    static const unsigned char zero[4] = {0, 0, 0, 0};
    apr_size_t hlen = 0, total = 0;
    char *out, *at;

    *len = 0;
    if (d->failed) {
        return NULL;
    }
    if (earlier) {
        hlen = chat_ws_frame_header(hdr, 0, d->msg_opcode, prior);
        hdr[1] |= 0x80; /* a client frame is masked: with zeros, the bytes stay */
        total += hlen + 4 + prior;
    }
    total += d->in_payload ? d->hdr_need + cur : d->hdr_have;
    if (!total || !(out = malloc(total))) {
        return NULL;
    }
    at = out;
    if (earlier) {
        memcpy(at, hdr, hlen);
        memcpy(at + hlen, zero, 4);
        if (prior) {
            memcpy(at + hlen + 4, d->msg, prior);
        }
        at += hlen + 4 + prior;
    }
    if (!d->in_payload) {
        memcpy(at, d->hdr, d->hdr_have);
        at += d->hdr_have;
    }
    else {
        memcpy(at, d->hdr, d->hdr_need);
        at += d->hdr_need;
        mask_copy(at, data ? d->msg + prior : d->ctl, cur, d->mask, 0);
        at += cur;
    }
    *len = (apr_size_t)(at - out);
    return out;
}
