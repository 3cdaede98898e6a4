/* The futures product table and name resolution: see chat_products.h. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_file_io.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "chat_products.h"
#include "chat_utf8.h"
#include "chat_util.h"

#define FIELDS       9
#define MAX_FILE     (1024 * 1024)
#define MAX_PRODUCTS 1000
#define MAX_NAME     64

struct chat_products {
    apr_array_header_t *items; /* chat_product * */
};

static const chat_products *in_force;

static const char *const exchanges[] = {"SHFE", "INE", "DCE", "CZCE", "GFEX", "CFFEX"};

int chat_products_count(const chat_products *t)
{
    return t ? t->items->nelts : 0;
}

const chat_product *chat_products_at(const chat_products *t, int i)
{
    return APR_ARRAY_IDX(t->items, i, const chat_product *);
}

void chat_products_use(const chat_products *t)
{
    in_force = t;
}

const chat_products *chat_products_current(void)
{
    return in_force;
}

static apr_status_t forget(void *data)
{
    (void)data;
    in_force = NULL; /* the table's pool is going: a restart reads it again */
    return APR_SUCCESS;
}

const char *chat_products_use_file(apr_pool_t *pconf, const char *path)
{
    chat_products *t = NULL;
    const char *err = chat_products_load(pconf, path ? path : CHAT_PRODUCTS_DEFAULT, &t);

    in_force = err ? NULL : t;
    apr_pool_cleanup_register(pconf, NULL, forget, apr_pool_cleanup_null);
    return err;
}

static apr_size_t leading_letters(const char *s)
{
    apr_size_t n = 0;
    while (s[n] && apr_isalpha(s[n]) && !(s[n] & 0x80)) {
        n++;
    }
    return n;
}

/* rb, RB, rb2505, SR505, rb888: 1-2 letters and 0-4 digits. */
static int code_like(const char *s, apr_size_t len)
{
    apr_size_t n = leading_letters(s), d = 0;

    if (n < 1 || n > 2 || n > len) {
        return 0;
    }
    while (n + d < len && apr_isdigit(s[n + d])) {
        d++;
    }
    return n + d == len && d <= 4;
}

/* HH:MM-HH:MM[,HH:MM-HH:MM...]; a day session must end after it starts. */
static int sessions_valid(const char *s, int day)
{
    for (;;) {
        int v[4], i;
        for (i = 0; i < 11; i++) {
            if (i == 2 || i == 8 ? s[i] != ':' : i == 5 ? s[i] != '-' : !apr_isdigit(s[i])) {
                return 0;
            }
        }
        for (i = 0; i < 4; i++) {
            v[i] = (s[i * 3] - '0') * 10 + (s[i * 3 + 1] - '0');
        }
        if (v[0] > 23 || v[2] > 23 || v[1] > 59 || v[3] > 59 || (v[0] == v[2] && v[1] == v[3]) ||
            (day && v[0] * 60 + v[1] > v[2] * 60 + v[3])) {
            return 0;
        }
        if (!s[11]) {
            return 1;
        }
        if (s[11] != ',') {
            return 0;
        }
        s += 12;
    }
}

static int text_ok(const char *s)
{
    apr_size_t n = strlen(s), i;

    if (!n || n > MAX_NAME || !chat_utf8_valid(s, n)) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == ',') {
            return 0;
        }
    }
    return 1;
}

/* One line's fields into a product; NULL or what is wrong. */
static const char *parse_row(apr_pool_t *p, char **f, chat_product *pr)
{
    char *tok, *last, *end;
    apr_size_t i;

    if (!code_like(f[0], strlen(f[0])) || leading_letters(f[0]) != strlen(f[0])) {
        return apr_psprintf(p, "code '%s' is not 1-2 letters", f[0]);
    }
    pr->code = f[0];
    for (i = 0; i < sizeof(exchanges) / sizeof(exchanges[0]); i++) {
        if (!strcmp(f[1], exchanges[i])) {
            pr->exchange = exchanges[i];
        }
    }
    if (!pr->exchange) {
        return apr_psprintf(p, "exchange '%s' is not SHFE, INE, DCE, CZCE, GFEX or CFFEX", f[1]);
    }
    if (!text_ok(f[2]) || !strcmp(f[2], "-")) {
        return "the name is empty, too long, not UTF-8 or has a comma";
    }
    pr->name = f[2];
    pr->names = apr_array_make(p, 4, sizeof(const char *));
    APR_ARRAY_PUSH(pr->names, const char *) = f[2];
    if (strcmp(f[3], "-")) {
        if (!*f[3]) {
            return "no aliases: write -";
        }
        if (f[3][strlen(f[3]) - 1] == ',' || *f[3] == ',' || strstr(f[3], ",,")) {
            return "an empty alias"; /* checked before apr_strtok cuts the list */
        }
        for (tok = apr_strtok(f[3], ",", &last); tok; tok = apr_strtok(NULL, ",", &last)) {
            if (!text_ok(tok)) {
                return apr_psprintf(p, "alias '%s' is too long or not UTF-8", tok);
            }
            APR_ARRAY_PUSH(pr->names, const char *) = tok;
        }
    }
    pr->multiplier = strtod(f[4], &end);
    if (!*f[4] || *end || !(pr->multiplier > 0) || pr->multiplier > 1e9) {
        return apr_psprintf(p, "multiplier '%s' is not a positive number", f[4]);
    }
    if (!text_ok(f[5]) || !text_ok(f[6])) {
        return "the unit or the quote unit is empty, too long or not UTF-8";
    }
    pr->unit = f[5];
    pr->quote = f[6];
    if (!sessions_valid(f[7], 1)) {
        return apr_psprintf(p, "day sessions '%s' are not HH:MM-HH:MM,...", f[7]);
    }
    pr->day = f[7];
    if (strcmp(f[8], "-") && !sessions_valid(f[8], 0)) {
        return apr_psprintf(p, "night sessions '%s' are not HH:MM-HH:MM,... or -", f[8]);
    }
    pr->night = strcmp(f[8], "-") ? f[8] : NULL;
    return NULL;
}

const char *chat_products_parse(apr_pool_t *p, const char *text, apr_size_t len,
                                chat_products **out)
{
    chat_products *t = apr_pcalloc(p, sizeof(*t));
    char *copy = apr_pstrmemdup(p, text, len), *line = copy, *next;
    int lineno = 0, i;

    if (strlen(copy) != len) {
        return "a NUL byte in the file";
    }
    t->items = apr_array_make(p, 96, sizeof(chat_product *));
    for (; line; line = next) {
        char *f[FIELDS], *s;
        chat_product *pr;
        const char *err;
        int n = 0;

        lineno++;
        if ((next = strchr(line, '\n'))) {
            *next++ = '\0';
        }
        if ((s = strchr(line, '\r')) && !s[1]) {
            *s = '\0';
        }
        for (s = line; *s == ' ' || *s == '\t'; s++) {
        }
        if (!*s || *s == '#') {
            continue;
        }
        for (s = line; s && n < FIELDS; n++) {
            f[n] = s;
            if ((s = strchr(s, '\t'))) {
                *s++ = '\0';
            }
        }
        if (n != FIELDS || s) {
            return apr_psprintf(p, "line %d: %d fields separated by TAB expected", lineno, FIELDS);
        }
        pr = apr_pcalloc(p, sizeof(*pr));
        if ((err = parse_row(p, f, pr))) {
            return apr_psprintf(p, "line %d: %s", lineno, err);
        }
        for (i = 0; i < t->items->nelts; i++) {
            if (!strcasecmp(chat_products_at(t, i)->code, pr->code)) {
                return apr_psprintf(p, "line %d: code '%s' is listed twice", lineno, pr->code);
            }
        }
        if (t->items->nelts >= MAX_PRODUCTS) {
            return apr_psprintf(p, "line %d: more than %d products", lineno, MAX_PRODUCTS);
        }
        APR_ARRAY_PUSH(t->items, chat_product *) = pr;
    }
    if (!t->items->nelts) {
        return "no products";
    }
    *out = t;
    return NULL;
}

const char *chat_products_load(apr_pool_t *p, const char *path, chat_products **out)
{
    const char *err;
    apr_size_t len;
    char *buf;

    if ((err = chat_file_slurp(p, path, MAX_FILE, &buf, &len))) {
        return err;
    }
    if ((err = chat_products_parse(p, buf, len, out))) {
        return apr_psprintf(p, "%s: %s", path, err);
    }
    return NULL;
}

/* Adds pr once; the list is capped (a question names a few). */
static void candidate(chat_product_match *m, const chat_product *pr)
{
    int i;
    for (i = 0; i < m->ncandidates; i++) {
        if (m->candidates[i] == pr) {
            return;
        }
    }
    if (m->ncandidates < CHAT_PRODUCT_MAX_CANDIDATES) {
        m->candidates[m->ncandidates++] = pr;
    }
}

static void settle(chat_product_match *m)
{
    if (m->ncandidates == 1) {
        m->status = CHAT_PRODUCT_FOUND;
        m->product = m->candidates[0];
        m->code = m->product->code;
    }
    else if (m->ncandidates > 1) {
        m->status = CHAT_PRODUCT_AMBIGUOUS;
    }
}

static const chat_product *by_code(const chat_products *t, const char *s, apr_size_t len,
                                   int anycase)
{
    int i;
    for (i = 0; i < chat_products_count(t); i++) {
        const chat_product *pr = chat_products_at(t, i);
        if (strlen(pr->code) == len &&
            !(anycase ? strncasecmp(pr->code, s, len) : strncmp(pr->code, s, len))) {
            return pr;
        }
    }
    return NULL;
}

/* The longest names inside text (byte-exact); candidates of that length. */
static void longest_inside(const chat_products *t, const char *text, chat_product_match *m)
{
    apr_size_t best = 0;
    int i, j;

    for (i = 0; i < chat_products_count(t); i++) {
        const chat_product *pr = chat_products_at(t, i);
        for (j = 0; j < pr->names->nelts; j++) {
            const char *nm = APR_ARRAY_IDX(pr->names, j, const char *);
            apr_size_t n = strlen(nm);
            if (n < best || !strstr(text, nm)) {
                continue;
            }
            if (n > best) {
                best = n;
                m->ncandidates = 0;
            }
            candidate(m, pr);
            if (m->ncandidates == 1) {
                m->matched = nm;
            }
        }
    }
    settle(m);
}

/* A code or contract not in the table, as given (code_like: fits code_buf). */
static void pass(const chat_products *t, const char *s, apr_size_t len, chat_product_match *m)
{
    m->status = CHAT_PRODUCT_PASS;
    memcpy(m->code_buf, s, len);
    m->code_buf[len] = '\0';
    m->code = m->matched = m->code_buf;
    m->product = by_code(t, s, leading_letters(s), 1);
}

void chat_products_resolve(const chat_products *t, const char *name, chat_product_match *m)
{
    apr_size_t len;
    int i, j;

    memset(m, 0, sizeof(*m));
    if (!name) {
        return;
    }
    while (apr_isspace(*name)) {
        name++;
    }
    for (len = strlen(name); len && apr_isspace(name[len - 1]); len--) {
    }
    if (!len) {
        return;
    }
    for (i = 0; i < chat_products_count(t); i++) {
        const chat_product *pr = chat_products_at(t, i);
        for (j = 0; j < pr->names->nelts; j++) {
            const char *nm = APR_ARRAY_IDX(pr->names, j, const char *);
            if (strlen(nm) == len && !strncasecmp(nm, name, len)) {
                if (!m->ncandidates) {
                    m->matched = nm;
                }
                candidate(m, pr);
            }
        }
    }
    if (m->ncandidates) {
        settle(m);
        return;
    }
    if ((m->product = by_code(t, name, len, 1))) {
        m->status = CHAT_PRODUCT_FOUND;
        m->code = m->matched = m->product->code;
        return;
    }
    if (code_like(name, len)) {
        pass(t, name, len, m);
        return;
    }
    longest_inside(t, name, m);
}

static int word_char(char c)
{
    return !(c & 0x80) && apr_isalnum(c);
}

void chat_products_find(const chat_products *t, const char *text, chat_product_match *m)
{
    const char *s;

    memset(m, 0, sizeof(*m));
    if (!text) {
        return;
    }
    /* a contract or a code standing alone: rb2505, SR505, IF */
    for (s = text; *s; s++) {
        apr_size_t n = 0;
        if (!word_char(*s) || (s > text && word_char(s[-1]))) {
            continue;
        }
        while (word_char(s[n])) {
            n++;
        }
        if (code_like(s, n) && n > leading_letters(s) + 2) {
            pass(t, s, n, m);
            return;
        }
        if (n >= 2 && (m->product = by_code(t, s, n, 0))) {
            m->status = CHAT_PRODUCT_FOUND;
            m->code = m->matched = m->product->code;
            return;
        }
        s += n - 1;
    }
    longest_inside(t, text, m);
}

const char *chat_products_question(apr_pool_t *p, const chat_product_match *m)
{
    const char *q = apr_psprintf(p, "'%s' could be", m->matched ? m->matched : "");
    int i;

    for (i = 0; i < m->ncandidates; i++) {
        q = apr_psprintf(p, "%s%s %s (%s, %s)", q, i ? "," : "", m->candidates[i]->name,
                         m->candidates[i]->code, m->candidates[i]->exchange);
    }
    return apr_pstrcat(p, q, ". Which one is meant?", NULL);
}
