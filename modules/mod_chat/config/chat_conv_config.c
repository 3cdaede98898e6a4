/* The conversation features' directives; see chat_conv_config.h. */
#include <httpd.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "chat_conv_config.h"

void chat_conv_config_dir_init(chat_dir_conf *dc)
{
    dc->search_rate = -1;
    dc->search_scan = -1;
    dc->image_max_dim = -1;
    dc->image_quality = -1;
}

void chat_conv_config_dir_merge(chat_dir_conf *dc, const chat_dir_conf *base,
                                const chat_dir_conf *add)
{
    dc->search_rate = add->search_rate >= 0 ? add->search_rate : base->search_rate;
    dc->search_scan = add->search_scan >= 0 ? add->search_scan : base->search_scan;
    dc->image_max_dim = add->image_max_dim >= 0 ? add->image_max_dim : base->image_max_dim;
    dc->image_quality = add->image_quality >= 0 ? add->image_quality : base->image_quality;
}

/* A whole number in [min, max], or an error naming the directive. */
static const char *whole(cmd_parms *cmd, const char *arg, int min, int max, int *out)
{
    char *end = NULL;
    apr_int64_t v = apr_isdigit(*arg) ? apr_strtoi64(arg, &end, 10) : -1;

    if (v < min || v > max || !end || *end) {
        return apr_psprintf(cmd->pool, "%s: '%s' must be a whole number from %d to %d",
                            cmd->cmd->name, arg, min, max);
    }
    *out = (int)v;
    return NULL;
}

/* 0.1 to 1 with at most three decimals, kept in thousandths. */
static const char *quality(cmd_parms *cmd, const char *arg, int *out)
{
    char *end = NULL;
    double v = apr_isdigit(*arg) ? strtod(arg, &end) : -1;

    if (!end || *end || v < 0.1 || v > 1.0) {
        return apr_psprintf(cmd->pool, "%s: '%s' must be a number from 0.1 to 1", cmd->cmd->name,
                            arg);
    }
    *out = (int)(v * 1000 + 0.5);
    return NULL;
}

const char *chat_conv_config_set(cmd_parms *cmd, void *dcv, const char *arg)
{
    chat_dir_conf *dc = dcv;

    switch ((long)cmd->info) {
    case 0:
        return whole(cmd, arg, 0, 100000, &dc->search_rate);
    case 1:
        return whole(cmd, arg, 0, 65535, &dc->image_max_dim);
    case 3:
        return whole(cmd, arg, 100, 1000000, &dc->search_scan);
    default:
        return quality(cmd, arg, &dc->image_quality);
    }
}
