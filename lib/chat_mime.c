/* The file types chat knows (uploads, chart images): MIME name, file
 * extension and what the first bytes must look like. */
#include <string.h>
#include <strings.h>

#include "chat_mime.h"

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

static const chat_mime_type types[] = {
    {"image/png", "png", is_png, 0},    {"image/jpeg", "jpg", is_jpeg, 0},
    {"image/gif", "gif", is_gif, 0},    {"image/webp", "webp", is_webp, 0},
    {"audio/webm", "webm", is_webm, 0}, {"audio/ogg", "ogg", is_ogg, 0},
    {"audio/mpeg", "mp3", is_mp3, 0},   {"audio/mp4", "m4a", is_mp4, 0},
    {"audio/wav", "wav", is_wav, 0},    {"application/pdf", "pdf", is_pdf, 0},
    {"text/plain", "txt", is_text, 1},  {NULL, NULL, NULL, 0}};

/* The entry whose MIME name (or extension) equals key, compared by eq. */
static const chat_mime_type *find(const char *key, int by_ext,
                                  int (*eq)(const char *, const char *))
{
    int i;

    for (i = 0; types[i].mime; i++) {
        if (!eq(by_ext ? types[i].ext : types[i].mime, key)) {
            return &types[i];
        }
    }
    return NULL;
}

const char *chat_mime_known(const char *mime)
{
    const chat_mime_type *t = find(mime, 0, strcasecmp);

    return t ? t->mime : NULL;
}

const chat_mime_type *chat_mime_lookup(const char *mime)
{
    return find(mime, 0, strcmp);
}

const chat_mime_type *chat_mime_by_ext(const char *ext)
{
    return find(ext, 1, strcmp);
}
