/* Incremental UTF-8 validator. The state carries the number of continuation
 * bytes still owed and the range the next one must fall in, which is how the
 * overlong, surrogate and > U+10FFFF cases of RFC 3629 table 3.7 are refused
 * at the byte where they become certain. */
#include "chat_utf8.h"

void chat_utf8_reset(chat_utf8_state *s)
{
    s->need = 0;
    s->lo = 0x80;
    s->hi = 0xBF;
}

int chat_utf8_feed(chat_utf8_state *s, const unsigned char *p, apr_size_t len)
{
    apr_size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = p[i];

        if (s->need) {
            if (c < s->lo || c > s->hi) {
                return 0;
            }
            s->need--;
            s->lo = 0x80;
            s->hi = 0xBF;
            continue;
        }
        if (c < 0x80) {
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            s->need = 1;
        }
        else if (c == 0xE0) {
            s->need = 2;
            s->lo = 0xA0;
        }
        else if (c == 0xED) {
            s->need = 2;
            s->hi = 0x9F; /* no UTF-16 surrogates */
        }
        else if (c >= 0xE1 && c <= 0xEF) {
            s->need = 2;
        }
        else if (c == 0xF0) {
            s->need = 3;
            s->lo = 0x90;
        }
        else if (c >= 0xF1 && c <= 0xF3) {
            s->need = 3;
        }
        else if (c == 0xF4) {
            s->need = 3;
            s->hi = 0x8F; /* nothing above U+10FFFF */
        }
        else {
            return 0; /* 0x80-0xC1 as a lead byte, or 0xF5-0xFF */
        }
    }
    return 1;
}

int chat_utf8_complete(const chat_utf8_state *s)
{
    return s->need == 0;
}

int chat_utf8_valid(const char *p, apr_size_t len)
{
    chat_utf8_state s;

    chat_utf8_reset(&s);
    return chat_utf8_feed(&s, (const unsigned char *)p, len) && chat_utf8_complete(&s);
}
