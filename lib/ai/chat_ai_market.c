/* The product name table: see chat_ai_market.h. */
#include <stdlib.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "chat_ai_market.h"
#include "chat_products.h"

/* Names resolve through the product table in force (chat_products.h). */
const char *chat_ai_market_code(const char *name)
{
    chat_product_match m;

    chat_products_resolve(chat_products_current(), name, &m);
    if (m.status == CHAT_PRODUCT_PASS) {
        /* as given: the caller's string, when nothing but blanks surrounds it */
        while (apr_isspace(*name)) {
            name++;
        }
        return strcmp(name, m.code) ? NULL : name;
    }
    return m.status == CHAT_PRODUCT_FOUND ? m.code : NULL;
}

const char *chat_ai_market_find(const char *text, const char **name)
{
    chat_product_match m;

    chat_products_find(chat_products_current(), text, &m);
    if (m.status != CHAT_PRODUCT_FOUND) {
        return NULL;
    }
    if (name) {
        *name = m.matched;
    }
    return m.code;
}
