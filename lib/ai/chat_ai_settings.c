/* Looking up a server's AI settings (see chat_ai_settings.h). */
#include <string.h>
#include <strings.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "chat_ai_settings.h"

const chat_ai_conf *chat_ai_settings_of(const chat_srv_conf *sc)
{
    static const chat_ai_conf none = {NULL, NULL, NULL, -1,     -1, NULL, -1, -1, -1,
                                      NULL, NULL, NULL, {NULL}, -1, -1,   -1, -1};

    return sc && sc->ai ? sc->ai : &none;
}

const chat_ai_provider *chat_ai_provider_find(const chat_ai_conf *ac, const char *name)
{
    int i;

    for (i = 0; ac->providers && name && i < ac->providers->nelts; i++) {
        const chat_ai_provider *pr = APR_ARRAY_IDX(ac->providers, i, chat_ai_provider *);
        if (!strcmp(pr->name, name)) {
            return pr;
        }
    }
    return NULL;
}

const chat_ai_provider *chat_ai_provider_for_explain(const chat_ai_conf *ac)
{
    if (ac->explain) {
        return ac->explain;
    }
    return ac->providers && ac->providers->nelts
               ? APR_ARRAY_IDX(ac->providers, 0, chat_ai_provider *)
               : NULL;
}

const chat_ai_provider *chat_ai_provider_for_describe(const chat_ai_conf *ac)
{
    int i;

    if (ac->describe) {
        return ac->describe;
    }
    for (i = 0; ac->providers && i < ac->providers->nelts; i++) {
        const chat_ai_provider *pr = APR_ARRAY_IDX(ac->providers, i, chat_ai_provider *);
        if (pr->kind == CHAT_AI_GEMINI) {
            return pr; /* vision first */
        }
    }
    return chat_ai_provider_for_explain(ac);
}

const chat_source *chat_ai_source_find(const chat_ai_conf *ac, const char *name)
{
    int i;

    for (i = 0; ac->sources && name && i < ac->sources->nelts; i++) {
        const chat_source *src = APR_ARRAY_IDX(ac->sources, i, chat_source *);
        if (!strcmp(src->name, name)) {
            return src;
        }
    }
    return NULL;
}

/* A provider's first letter is its alias unless another provider's name
 * starts with the same letter (deepseek and doubao: neither gets "d"). */
static int letter_is_alias(const chat_ai_conf *ac, const chat_ai_provider *pr)
{
    int i;

    for (i = 0; i < ac->providers->nelts; i++) {
        const chat_ai_provider *q = APR_ARRAY_IDX(ac->providers, i, chat_ai_provider *);
        if (q != pr && apr_tolower(q->name[0]) == apr_tolower(pr->name[0])) {
            return 0;
        }
    }
    return 1;
}

static int same(const char *word, const char *alias, apr_size_t len)
{
    return strlen(word) == len && !strncasecmp(word, alias, len);
}

static int has_alias(const chat_ai_conf *ac, const chat_ai_provider *pr, const char *alias,
                     apr_size_t len)
{
    int i;

    if (pr->aliases) {
        for (i = 0; i < pr->aliases->nelts; i++) {
            if (same(APR_ARRAY_IDX(pr->aliases, i, const char *), alias, len)) {
                return 1;
            }
        }
        return 0;
    }
    return same(pr->name, alias, len) ||
           (len == 1 && apr_tolower(*alias) == apr_tolower(pr->name[0]) && letter_is_alias(ac, pr));
}

const chat_ai_provider *chat_ai_provider_by_alias(const chat_ai_conf *ac, const char *alias,
                                                  apr_size_t len)
{
    int pass, i;

    for (pass = 0; ac->providers && len && pass < 2; pass++) {
        for (i = 0; i < ac->providers->nelts; i++) {
            const chat_ai_provider *pr = APR_ARRAY_IDX(ac->providers, i, chat_ai_provider *);
            /* pass 0: ChatAIAlias lines win over another provider's defaults */
            if (!!pr->aliases == !pass && has_alias(ac, pr, alias, len)) {
                return pr;
            }
        }
    }
    return NULL;
}

apr_array_header_t *chat_ai_provider_aliases(apr_pool_t *p, const chat_ai_conf *ac,
                                             const chat_ai_provider *pr)
{
    apr_array_header_t *out = apr_array_make(p, 2, sizeof(const char *));
    int i;

    if (pr->aliases) {
        for (i = 0; i < pr->aliases->nelts; i++) {
            const char *a = APR_ARRAY_IDX(pr->aliases, i, const char *);
            if (chat_ai_provider_by_alias(ac, a, strlen(a)) == pr) {
                APR_ARRAY_PUSH(out, const char *) = a;
            }
        }
        return out;
    }
    APR_ARRAY_PUSH(out, const char *) = pr->name;
    if (letter_is_alias(ac, pr) && chat_ai_provider_by_alias(ac, pr->name, 1) == pr) {
        APR_ARRAY_PUSH(out, const char *) = apr_pstrndup(p, pr->name, 1);
    }
    return out;
}
