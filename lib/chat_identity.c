/* User names and signed tokens; see chat_identity.h. */
#include <httpd.h>
#include <apr_base64.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "chat_identity.h"
#include "chat_utf8.h"

int chat_username_valid(const char *name)
{
    apr_size_t len, chars = 0, i;

    if (!name || !*name) {
        return 0;
    }
    len = strlen(name);
    if (name[0] == ' ' || name[len - 1] == ' ' || !chat_utf8_valid(name, len)) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7F) {
            return 0;
        }
        if ((c & 0xC0) != 0x80) {
            chars++;
        }
        /* C1 controls U+0080-U+009F are encoded C2 80 - C2 9F */
        if (c == 0xC2 && i + 1 < len && (unsigned char)name[i + 1] < 0xA0) {
            return 0;
        }
    }
    return chars >= 1 && chars <= 64;
}

static char *b64url_encode(apr_pool_t *p, const unsigned char *data, apr_size_t len)
{
    char *out = apr_palloc(p, apr_base64_encode_len((int)len));
    char *c;
    apr_size_t n;

    apr_base64_encode(out, (const char *)data, (int)len);
    for (c = out; *c; c++) {
        if (*c == '+') {
            *c = '-';
        }
        else if (*c == '/') {
            *c = '_';
        }
    }
    n = strlen(out);
    while (n > 0 && out[n - 1] == '=') {
        out[--n] = '\0';
    }
    return out;
}

static int b64url_decode(apr_pool_t *p, const char *in, apr_size_t inlen, char **out,
                         apr_size_t *outlen)
{
    char *std = apr_palloc(p, inlen + 4);
    apr_size_t i;
    int n;

    for (i = 0; i < inlen; i++) {
        char c = in[i];
        if (c == '-') {
            c = '+';
        }
        else if (c == '_') {
            c = '/';
        }
        else if (!apr_isalnum(c)) {
            return 0;
        }
        std[i] = c;
    }
    while (i % 4) {
        std[i++] = '=';
    }
    std[i] = '\0';
    *out = apr_palloc(p, apr_base64_decode_len(std) + 1);
    n = apr_base64_decode(*out, std);
    if (n < 0) {
        return 0;
    }
    (*out)[n] = '\0';
    *outlen = (apr_size_t)n;
    return 1;
}

static void sign(const char *secret, const char *data, apr_size_t len, unsigned char *mac,
                 unsigned int *maclen)
{
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)data, len, mac, maclen);
}

const char *chat_token_mint(apr_pool_t *p, const char *user, apr_time_t expires, const char *secret)
{
    json_object *o = json_object_new_object();
    const char *json, *payload;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;

    json_object_object_add(o, "u", json_object_new_string(user));
    json_object_object_add(o, "exp", json_object_new_int64(apr_time_sec(expires)));
    json = apr_pstrdup(p, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    payload = b64url_encode(p, (const unsigned char *)json, strlen(json));
    sign(secret, payload, strlen(payload), mac, &maclen);
    return apr_pstrcat(p, payload, ".", b64url_encode(p, mac, maclen), NULL);
}

const char *chat_token_verify(apr_pool_t *p, const char *token, const char *secret, apr_time_t now,
                              const char **why)
{
    const char *dot = token ? strchr(token, '.') : NULL;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    char *given, *json;
    apr_size_t given_len, json_len;
    json_object *o, *u = NULL, *exp = NULL;
    const char *user = NULL;

    if (!dot || dot == token || strchr(dot + 1, '.')) {
        *why = "malformed token";
        return NULL;
    }
    if (!b64url_decode(p, dot + 1, strlen(dot + 1), &given, &given_len)) {
        *why = "malformed token signature";
        return NULL;
    }
    sign(secret, token, (apr_size_t)(dot - token), mac, &maclen);
    if (given_len != maclen || CRYPTO_memcmp(given, mac, maclen) != 0) {
        *why = "token signature does not match";
        return NULL;
    }
    if (!b64url_decode(p, token, (apr_size_t)(dot - token), &json, &json_len) ||
        !(o = json_tokener_parse(json))) {
        *why = "malformed token payload";
        return NULL;
    }
    if (!json_object_object_get_ex(o, "u", &u) || !json_object_is_type(u, json_type_string) ||
        !json_object_object_get_ex(o, "exp", &exp) || !json_object_is_type(exp, json_type_int)) {
        *why = "token payload lacks u or exp";
    }
    else if (json_object_get_int64(exp) <= apr_time_sec(now)) {
        *why = "token expired";
    }
    else if (!chat_username_valid(json_object_get_string(u))) {
        *why = "token names an invalid user";
    }
    else {
        user = apr_pstrdup(p, json_object_get_string(u));
    }
    json_object_put(o);
    return user;
}

const char *chat_query_param(apr_pool_t *p, const char *args, const char *name)
{
    apr_size_t nlen = strlen(name);

    while (args && *args) {
        const char *amp = strchr(args, '&');
        apr_size_t len = amp ? (apr_size_t)(amp - args) : strlen(args);

        if (len > nlen && args[nlen] == '=' && !strncmp(args, name, nlen)) {
            const char *in = args + nlen + 1, *end = args + len;
            char *v = apr_palloc(p, len - nlen), *o = v;
            for (; in < end; in++) {
                if (*in == '+') {
                    *o++ = ' ';
                }
                else if (*in != '%') {
                    *o++ = *in;
                }
                else if (end - in >= 3 && apr_isxdigit(in[1]) && apr_isxdigit(in[2])) {
                    char hex[3] = {in[1], in[2], 0};
                    char c = (char)strtol(hex, NULL, 16);
                    if (c == '\0') {
                        return NULL; /* no NUL inside a name */
                    }
                    *o++ = c;
                    in += 2;
                }
                else {
                    return NULL;
                }
            }
            *o = '\0';
            return v;
        }
        args = amp ? amp + 1 : NULL;
    }
    return NULL;
}
