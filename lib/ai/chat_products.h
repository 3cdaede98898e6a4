/* The futures product table (data/products.tsv, its format is in that
 * file's header): every product of SHFE, INE, DCE, CZCE, GFEX and CFFEX with
 * its exchange, Chinese name, aliases, multiplier, units and sessions, and
 * the resolution of what a user typed to a product code. */
#ifndef CHAT_PRODUCTS_H
#define CHAT_PRODUCTS_H

#include <apr_pools.h>
#include <apr_tables.h>

typedef struct chat_product {
    const char *code;          /* in the exchange's case: rb, SR, IF */
    const char *exchange;      /* SHFE, INE, DCE, CZCE, GFEX, CFFEX */
    const char *name;          /* 螺纹钢 */
    apr_array_header_t *names; /* const char *: the name, then the aliases */
    double multiplier;         /* price x multiplier = one lot's value */
    const char *unit, *quote;  /* 10吨/手, 元/吨 */
    const char *day;           /* 09:00-10:15,10:30-11:30,13:30-15:00 */
    const char *night;         /* 21:00-23:00, or NULL when none */
} chat_product;

typedef struct chat_products chat_products;

/* The table from a file's text; NULL and *out, or "line N: ..." from p. */
const char *chat_products_parse(apr_pool_t *p, const char *text, apr_size_t len,
                                chat_products **out);

/* The table from a file; NULL and *out, or "PATH: ..." from p. */
const char *chat_products_load(apr_pool_t *p, const char *path, chat_products **out);

int chat_products_count(const chat_products *t);
const chat_product *chat_products_at(const chat_products *t, int i);

typedef enum {
    CHAT_PRODUCT_UNKNOWN = 0, /* nothing product-like */
    CHAT_PRODUCT_FOUND,       /* one product: code is its code */
    CHAT_PRODUCT_PASS,        /* a code or contract not in the table: code is as given */
    CHAT_PRODUCT_AMBIGUOUS    /* several products: candidates, ask back */
} chat_product_status;

#define CHAT_PRODUCT_MAX_CANDIDATES 8

typedef struct chat_product_match {
    chat_product_status status;
    const char *code;            /* FOUND: in the table; PASS: code_buf (copy it if m goes) */
    const chat_product *product; /* FOUND; PASS: the product of a contract's letters, if any */
    const char *matched;         /* FOUND, AMBIGUOUS: the name, alias or code that matched */
    int ncandidates;             /* AMBIGUOUS */
    const chat_product *candidates[CHAT_PRODUCT_MAX_CANDIDATES];
    char code_buf[8]; /* PASS: 1-2 letters and up to 4 digits */
} chat_product_match;

/* What one name stands for: an exact name or alias (any ASCII case), then a
 * code (any case), then a code or contract not in the table (rb2505, XX)
 * passed through, then the longest name or alias inside it (螺纹钢期货).
 * t may be NULL (only pass-through). */
void chat_products_resolve(const chat_products *t, const char *name, chat_product_match *m);

/* The product free text names: a contract (rb2505, passed through) or a
 * code in its exchange's case (two letters or more) standing alone, else
 * the longest name or alias in it (byte-exact: m->matched occurs in text). */
void chat_products_find(const chat_products *t, const char *text, chat_product_match *m);

/* An AMBIGUOUS match as a question to the user: "'大豆' could be ...". */
const char *chat_products_question(apr_pool_t *p, const chat_product_match *m);

/* Where make install puts the table (configure's datadir/mod_chat). */
#ifndef CHAT_DATADIR
#define CHAT_DATADIR "/usr/local/share/mod_chat"
#endif
#define CHAT_PRODUCTS_DEFAULT CHAT_DATADIR "/products.tsv"

/* The table this process uses (set while the configuration is read, before
 * any child starts; read-only afterwards). NULL: none. */
void chat_products_use(const chat_products *t);
const chat_products *chat_products_current(void);

/* Loads path (NULL: CHAT_PRODUCTS_DEFAULT) from pconf and puts it in force
 * until pconf is cleared; NULL, or the error (nothing in force then). */
const char *chat_products_use_file(apr_pool_t *pconf, const char *path);

#endif
