/* The per-process cache of fetched source documents (ChatDataCache): keyed
 * by the expanded URL, each entry kept for its source's TTL, at most
 * CHAT_SOURCE_CACHE_ENTRIES entries and CHAT_SOURCE_CACHE_BYTES bytes (the
 * entry closest to expiry goes first). Shared by the AI threads and the
 * scheduler thread of a process under a mutex. */
#ifndef CHAT_SOURCE_CACHE_H
#define CHAT_SOURCE_CACHE_H

#include <apr_pools.h>
#include <apr_time.h>

#define CHAT_SOURCE_CACHE_ENTRIES 64
#define CHAT_SOURCE_CACHE_BYTES   (8 * 1024 * 1024)

/* A copy (from p) of the body cached under key and still fresh at now, or NULL. */
const char *chat_source_cache_get(apr_pool_t *p, const char *key, apr_time_t now);

/* Keeps body under key until expires; too large a body is not kept. */
void chat_source_cache_put(const char *key, const char *body, apr_size_t len, apr_time_t expires);

/* Forgets every entry (tests). */
void chat_source_cache_clear(void);

#endif
