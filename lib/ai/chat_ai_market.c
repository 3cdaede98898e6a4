/* The product name table: see chat_ai_market.h. */
#include <stdlib.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "chat_ai_market.h"

/* Chinese futures: exchange codes by their usual Chinese names. */
static const struct {
    const char *name, *code;
} commodities[] = {
    {"螺纹钢", "rb"},   {"螺纹", "rb"},   {"热卷", "hc"},     {"热轧卷板", "hc"},
    {"铁矿石", "i"},    {"铁矿", "i"},    {"焦炭", "j"},      {"焦煤", "jm"},
    {"黄金", "au"},     {"沪金", "au"},   {"白银", "ag"},     {"沪银", "ag"},
    {"铜", "cu"},       {"沪铜", "cu"},   {"铝", "al"},       {"沪铝", "al"},
    {"锌", "zn"},       {"镍", "ni"},     {"锡", "sn"},       {"铅", "pb"},
    {"原油", "sc"},     {"燃料油", "fu"}, {"沥青", "bu"},     {"橡胶", "ru"},
    {"天然橡胶", "ru"}, {"豆粕", "m"},    {"豆油", "y"},      {"棕榈油", "p"},
    {"玉米", "c"},      {"白糖", "SR"},   {"棉花", "CF"},     {"PTA", "TA"},
    {"甲醇", "MA"},     {"玻璃", "FG"},   {"纯碱", "SA"},     {"尿素", "UR"},
    {"聚丙烯", "pp"},   {"塑料", "l"},    {"PVC", "v"},       {"苯乙烯", "eb"},
    {"乙二醇", "eg"},   {"菜粕", "RM"},   {"菜油", "OI"},     {"苹果", "AP"},
    {"红枣", "CJ"},     {"生猪", "lh"},   {"鸡蛋", "jd"},     {"不锈钢", "ss"},
    {"工业硅", "si"},   {"碳酸锂", "lc"}, {"集运指数", "ec"}, {"沪深300", "IF"},
    {"中证500", "IC"},  {"上证50", "IH"}, {"中证1000", "IM"}, {"十年期国债", "T"},
};
#define NCOMMODITIES (sizeof(commodities) / sizeof(commodities[0]))

const char *chat_ai_market_code(const char *name)
{
    apr_size_t i;

    if (!name) {
        return NULL;
    }
    for (i = 0; i < NCOMMODITIES; i++) {
        if (!strcmp(name, commodities[i].name) || !strcasecmp(name, commodities[i].code)) {
            return commodities[i].code;
        }
    }
    return NULL;
}

const char *chat_ai_market_find(const char *text, const char **name)
{
    apr_size_t i, best = 0;
    const char *code = NULL;

    for (i = 0; text && i < NCOMMODITIES; i++) {
        apr_size_t n = strlen(commodities[i].name);
        if (n > best && strstr(text, commodities[i].name)) {
            best = n;
            code = commodities[i].code;
            if (name) {
                *name = commodities[i].name;
            }
        }
    }
    return code;
}
