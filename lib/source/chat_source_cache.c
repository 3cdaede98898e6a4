/* The per-process source cache: see chat_source_cache.h. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "chat_source_cache.h"

/* Entries outlive every request pool and are freed on eviction, so they are
 * malloc'd: a bounded table, not a pool that would only grow. */
typedef struct entry {
    char *key, *body;
    apr_size_t len;
    apr_time_t expires;
} entry;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static entry table[CHAT_SOURCE_CACHE_ENTRIES];
static apr_size_t bytes;

static void drop(entry *e)
{
    bytes -= e->len;
    free(e->key);
    free(e->body);
    memset(e, 0, sizeof(*e));
}

const char *chat_source_cache_get(apr_pool_t *p, const char *key, apr_time_t now)
{
    const char *out = NULL;
    int i;

    pthread_mutex_lock(&lock);
    for (i = 0; i < CHAT_SOURCE_CACHE_ENTRIES; i++) {
        if (table[i].key && !strcmp(table[i].key, key)) {
            if (table[i].expires > now) {
                out = apr_pstrmemdup(p, table[i].body, table[i].len);
            }
            else {
                drop(&table[i]);
            }
            break;
        }
    }
    pthread_mutex_unlock(&lock);
    return out;
}

void chat_source_cache_put(const char *key, const char *body, apr_size_t len, apr_time_t expires)
{
    int i, slot = -1;

    if (len > CHAT_SOURCE_CACHE_BYTES / 4) {
        return; /* one document may not push out all the others */
    }
    pthread_mutex_lock(&lock);
    for (i = 0; i < CHAT_SOURCE_CACHE_ENTRIES; i++) {
        if (table[i].key && !strcmp(table[i].key, key)) {
            drop(&table[i]);
        }
    }
    for (;;) {
        int soonest = -1;
        for (i = 0; i < CHAT_SOURCE_CACHE_ENTRIES; i++) {
            if (!table[i].key) {
                slot = slot < 0 ? i : slot;
            }
            else if (soonest < 0 || table[i].expires < table[soonest].expires) {
                soonest = i;
            }
        }
        if (slot >= 0 && bytes + len <= CHAT_SOURCE_CACHE_BYTES) {
            break;
        }
        drop(&table[soonest]);
        slot = slot < 0 ? soonest : slot;
    }
    table[slot].key = strdup(key);
    table[slot].body = malloc(len + 1);
    if (!table[slot].key || !table[slot].body) {
        free(table[slot].key);
        free(table[slot].body);
        table[slot].key = table[slot].body = NULL;
    }
    else {
        memcpy(table[slot].body, body, len);
        table[slot].body[len] = '\0';
        table[slot].len = len;
        table[slot].expires = expires;
        bytes += len;
    }
    pthread_mutex_unlock(&lock);
}

void chat_source_cache_clear(void)
{
    int i;

    pthread_mutex_lock(&lock);
    for (i = 0; i < CHAT_SOURCE_CACHE_ENTRIES; i++) {
        if (table[i].key) {
            drop(&table[i]);
        }
    }
    pthread_mutex_unlock(&lock);
}
