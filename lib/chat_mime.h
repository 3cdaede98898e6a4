/* The file types chat knows: uploads accept them, chart jobs store PNGs. */
#ifndef CHAT_MIME_H
#define CHAT_MIME_H

#include <apr.h>

/* What a type's first bytes must look like, and its file extension. */
typedef struct chat_mime_type {
    const char *mime;
    const char *ext;
    int (*magic)(const unsigned char *b, apr_size_t n);
    int text; /* checked as UTF-8 over the whole body */
} chat_mime_type;

/* Bytes the magic checks look at. */
#define CHAT_MIME_MAGIC_BYTES 16

/* The canonical name of a known MIME type (any case), or NULL. */
const char *chat_mime_known(const char *mime);
/* A known type by its lower-case MIME name, or NULL. */
const chat_mime_type *chat_mime_lookup(const char *mime);
/* A known type by its file extension, or NULL. */
const chat_mime_type *chat_mime_by_ext(const char *ext);

#endif
