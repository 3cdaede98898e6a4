/* Looking up a server's AI settings (see chat_ai_settings.h). */
#include <string.h>

#include "chat_ai_settings.h"

const chat_ai_conf *chat_ai_settings_of(const chat_srv_conf *sc)
{
    static const chat_ai_conf none = {NULL, NULL, NULL, -1,   -1,     NULL, -1, -1,
                                      -1,   NULL, NULL, NULL, {NULL}, -1,   -1, -1};

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
