/* ChatJob, ChatJobTimeZone, ChatChartFont, ChatChartSize, ChatTradingCalendar,
 * ChatJobCalendar, ChatJobNotice: see chat_jobs.h. */
#include <httpd.h>
#include <apr_file_info.h>
#include <apr_strings.h>
#include <http_config.h>
#include <http_log.h>
#include <http_core.h>

#include "admin_config.h"
#include "chat_ai_settings.h"
#include "chat_chart.h"
#include "chat_jobs.h"
#include "chat_products.h"
#include "chat_tz.h"
#include "chat_util.h"

APLOG_USE_MODULE(chat_admin);

static chat_jobs_conf *jobs_of(cmd_parms *cmd)
{
    chat_admin_conf *conf = admin_config_get(cmd->server);

    if (!conf->jobs) {
        conf->jobs = apr_pcalloc(cmd->pool, sizeof(chat_jobs_conf));
        conf->jobs->jobs = apr_array_make(cmd->pool, 4, sizeof(chat_job *));
    }
    return conf->jobs;
}

long chat_jobs_tz_offset(const chat_jobs_conf *jc, apr_time_t t)
{
    apr_time_exp_t tm;

    if (jc && jc->tz_set) {
        return jc->tz_offset;
    }
    apr_time_exp_lt(&tm, t); /* the server's zone, DST included */
    return tm.tm_gmtoff;
}

static const char *rooms_arg(cmd_parms *cmd, const char *arg, apr_array_header_t **out)
{
    char *copy = apr_pstrdup(cmd->pool, arg), *tok, *last;

    *out = apr_array_make(cmd->pool, 2, sizeof(const char *));
    for (tok = apr_strtok(copy, ",", &last); tok; tok = apr_strtok(NULL, ",", &last)) {
        if (!chat_room_name_valid(tok)) {
            return apr_psprintf(cmd->pool, "ChatJob: '%s' is not a room name", tok);
        }
        APR_ARRAY_PUSH(*out, const char *) = tok;
    }
    return (*out)->nelts ? NULL : "ChatJob: no room given";
}

static chat_job *job_named(chat_jobs_conf *jc, const char *name)
{
    int i;
    for (i = 0; i < jc->jobs->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(jc->jobs, i, chat_job *)->name, name)) {
            return APR_ARRAY_IDX(jc->jobs, i, chat_job *);
        }
    }
    return NULL;
}

/* ChatJobCalendar NAME trading [any|day|night], ChatJobNotice NAME on|off */
static const char *job_option(cmd_parms *cmd, chat_jobs_conf *jc, const char *args, int calendar)
{
    const char *name = ap_getword_conf(cmd->pool, &args), *a = ap_getword_conf(cmd->pool, &args);
    const char *b = ap_getword_conf(cmd->pool, &args);
    chat_job *job = job_named(jc, name);

    if (!job) {
        return apr_psprintf(cmd->pool, "%s: no ChatJob named '%s' (declare it first)",
                            cmd->cmd->name, name);
    }
    if (calendar) {
        if (strcmp(a, "trading") || *args || !(job->session = chat_session_parse(*b ? b : "any"))) {
            return apr_psprintf(cmd->pool, "%s: takes NAME trading [any|day|night]",
                                cmd->cmd->name);
        }
        return NULL;
    }
    if (*b || (strcasecmp(a, "on") && strcasecmp(a, "off"))) {
        return apr_psprintf(cmd->pool, "%s: takes NAME on|off", cmd->cmd->name);
    }
    job->notice = !strcasecmp(a, "on");
    return NULL;
}

const char *chat_jobs_check(apr_pool_t *pconf, chat_jobs_conf *jc)
{
    const char *err;
    int i;

    for (i = 0; jc && !jc->calendar && i < jc->jobs->nelts; i++) {
        if (APR_ARRAY_IDX(jc->jobs, i, chat_job *)->session) {
            jc->calendar_path = CHAT_CALENDAR_DEFAULT;
            if ((err = chat_calendar_load(pconf, jc->calendar_path, &jc->calendar))) {
                return apr_psprintf(pconf,
                                    "ChatTradingCalendar: %s (the default; ChatJobCalendar "
                                    "needs a holiday file)",
                                    err);
            }
        }
    }
    return NULL;
}

void chat_jobs_post_config(apr_pool_t *pconf, server_rec *s)
{
    const chat_srv_conf *sc = admin_config_chat(s);

    const chat_jobs_conf *jc = admin_config_get(s)->jobs;
    apr_time_exp_t now;
    int last;

    if (sc) { /* a missing default is mod_chat's warning to give */
        chat_products_use_file(pconf, chat_ai_settings_of(sc)->products_path);
    }
    int i, trading = 0;

    for (i = 0; jc && jc->calendar && i < jc->jobs->nelts; i++) {
        trading |= APR_ARRAY_IDX(jc->jobs, i, chat_job *)->session != CHAT_SESSION_NONE;
    }
    if (!trading || ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return; /* once per start: not on the first of the two configuration passes */
    }
    /* a year without its holidays makes jobs run on closed days: say so
     * while there is time to add them (the dates come out each November) */
    apr_time_exp_tz(&now, apr_time_now(), CHAT_CALENDAR_OFFSET);
    last = chat_calendar_last_year(jc->calendar);
    if (last < now.tm_year + 1900 || (now.tm_mon == 11 && last == now.tm_year + 1900)) {
        ap_log_error(APLOG_MARK, (last < now.tm_year + 1900 ? APLOG_WARNING : APLOG_NOTICE), 0, s,
                     "ChatTradingCalendar %s lists holidays up to %d only: after that every "
                     "weekday counts as a trading day for ChatJobCalendar jobs; add %d's "
                     "closures to the file",
                     jc->calendar_path, last, last + 1);
    }
}

static int http_url(const char *u)
{
    return !strncasecmp(u, "http://", 7) || !strncasecmp(u, "https://", 8);
}

/* The job's data: source:NAME (a ChatDataSource of mod_chat, declared before)
 * or a URL read as a source of its own whose rows are at the MAPPING's
 * items= (default data) and keep their fields as they are. MAPPING words
 * naming a placeholder ({code}, {days}...) fill the template. */
static const char *data_arg(cmd_parms *cmd, chat_job *job)
{
    char *copy = apr_pstrdup(cmd->pool, job->mapping), *tok, *last;
    const char *items = "data", *err;
    chat_source *src;
    int i;

    job->vars = apr_table_make(cmd->pool, 2);
    for (tok = apr_strtok(copy, " \t", &last); tok; tok = apr_strtok(NULL, " \t", &last)) {
        char *eq = strchr(tok, '=');
        if (!eq) {
            continue;
        }
        *eq = '\0';
        if (!strcmp(tok, "items")) {
            items = eq + 1;
        }
        for (i = 0; chat_source_placeholders[i]; i++) {
            if (!strcmp(tok, chat_source_placeholders[i])) {
                apr_table_set(job->vars, tok, eq + 1);
            }
        }
    }
    if (!strncmp(job->url, "source:", 7)) {
        const chat_ai_conf *ac = chat_ai_settings_of(admin_config_chat(cmd->server));
        if (!(job->source = chat_ai_source_find(ac, job->url + 7))) {
            return apr_psprintf(cmd->pool,
                                "ChatJob %s: no ChatDataSource named '%s' (declare it first)",
                                job->name, job->url + 7);
        }
        return NULL;
    }
    if (!http_url(job->url) || (err = chat_source_check_template(cmd->pool, job->url))) {
        return apr_psprintf(cmd->pool, "ChatJob: '%s' is not an http(s) URL or source:NAME",
                            job->url);
    }
    src = chat_source_make(cmd->pool, job->name, job->url);
    if ((err = chat_source_parse_path(cmd->pool, items, &src->rows))) {
        return apr_psprintf(cmd->pool, "ChatJob %s: items=%s", job->name, err);
    }
    src->rows_spec = items;
    job->source = src;
    return NULL;
}

static const char *job_directive(cmd_parms *cmd, chat_jobs_conf *jc, const char *args)
{
    const char *w[8], *err;
    chat_job *job = apr_pcalloc(cmd->pool, sizeof(*job));
    int n = 0;

    while (n < 8 && *(w[n] = ap_getword_conf(cmd->pool, &args))) {
        n++;
    }
    if (n < 5 || *args) {
        return "ChatJob: takes NAME \"CRON\" KIND ARGS... (see docs/directives.md#scheduled-jobs)";
    }
    if (!chat_room_name_valid(w[0])) {
        return apr_psprintf(cmd->pool, "ChatJob: '%s' is not a name of [A-Za-z0-9_-]", w[0]);
    }
    if (job_named(jc, w[0])) {
        return apr_psprintf(cmd->pool, "ChatJob: a job named '%s' exists already", w[0]);
    }
    job->name = w[0];
    job->expr = w[1];
    if ((err = chat_cron_parse(cmd->pool, w[1], &job->cron))) {
        return apr_pstrcat(cmd->pool, "ChatJob ", w[0], ": ", err, NULL);
    }
    if (!strcmp(w[2], "post")) { /* post ROOMS TEXT */
        job->kind = CHAT_JOB_POST;
        if (n != 5) {
            return "ChatJob: post takes ROOMS \"TEXT\"";
        }
        job->text = w[4];
    }
    else if (!strcmp(w[2], "ai")) { /* ai PROVIDER ROOMS PROMPT */
        job->kind = CHAT_JOB_AI;
        if (n != 6) {
            return "ChatJob: ai takes PROVIDER ROOMS \"PROMPT\"";
        }
        if (!chat_ai_provider_find(chat_ai_settings_of(admin_config_chat(cmd->server)), w[3])) {
            return apr_psprintf(cmd->pool,
                                "ChatJob: no ChatAIProvider named '%s' (declare it first)", w[3]);
        }
        job->provider = w[3];
        w[3] = w[4];
        job->text = w[5];
    }
    else if (!strcmp(w[2], "chart")) { /* chart ROOMS KIND URL MAPPING [TITLE] */
        job->kind = CHAT_JOB_CHART;
        if (n < 7) {
            return "ChatJob: chart takes ROOMS KIND URL|source:NAME \"MAPPING\" [\"TITLE\"]";
        }
        if (!(job->chart_kind = chat_chart_kind_parse(w[4]))) {
            return apr_psprintf(
                cmd->pool,
                "ChatJob: '%s' is not one of line, bar_line, candle, treemap, scatter, pie, "
                "cross_section, scatter_color",
                w[4]);
        }
        job->url = w[5];
        job->mapping = w[6];
        job->text = n > 7 ? w[7] : NULL;
    }
    else if (!strcmp(w[2], "news")) { /* news ROOMS URL MAPPING [HEADING] */
        job->kind = CHAT_JOB_NEWS;
        if (n < 6 || n > 7) {
            return "ChatJob: news takes ROOMS URL|source:NAME \"MAPPING\" [\"HEADING\"]";
        }
        job->url = w[4];
        job->mapping = w[5];
        job->text = n > 6 ? w[6] : NULL;
    }
    else {
        return apr_psprintf(cmd->pool, "ChatJob: '%s' is not one of post, ai, chart, news", w[2]);
    }
    if (job->url && (err = data_arg(cmd, job))) {
        return err;
    }
    if ((err = rooms_arg(cmd, w[3], &job->rooms))) {
        return err;
    }
    APR_ARRAY_PUSH(jc->jobs, chat_job *) = job;
    return NULL;
}

const char *chat_job_directive(cmd_parms *cmd, void *dummy, const char *args)
{
    chat_jobs_conf *jc = jobs_of(cmd);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE), *a;
    apr_finfo_t fi;

    (void)dummy;
    if (err) {
        return err;
    }
    if (cmd->server->is_virtual) {
        /* one scheduler per process runs the main server's jobs */
        return apr_psprintf(cmd->pool,
                            "%s belongs in the main server config, not in a "
                            "<VirtualHost>",
                            cmd->cmd->name);
    }
    switch ((int)(long)cmd->info) {
    case 1:
        return job_directive(cmd, jc, args);
    case 2:
        a = ap_getword_conf(cmd->pool, &args);
        if ((err = chat_tz_parse(cmd->pool, a, &jc->tz_offset))) {
            return apr_pstrcat(cmd->pool, "ChatJobTimeZone: ", err, NULL);
        }
        jc->tz_set = 1;
        jc->tz_name = a;
        return NULL;
    case 3:
        a = ap_server_root_relative(cmd->pool, ap_getword_conf(cmd->pool, &args));
        if (!a || apr_stat(&fi, a, APR_FINFO_TYPE, cmd->pool) != APR_SUCCESS ||
            fi.filetype != APR_REG) {
            return apr_psprintf(cmd->pool, "ChatChartFont: '%s' is not a readable font file",
                                a ? a : "");
        }
        jc->font = a;
        return NULL;
    case 5:
        jc->calendar_path = ap_server_root_relative(cmd->pool, ap_getword_conf(cmd->pool, &args));
        if ((err = chat_calendar_load(cmd->pool, jc->calendar_path ? jc->calendar_path : "",
                                      &jc->calendar))) {
            return apr_pstrcat(cmd->pool, "ChatTradingCalendar: ", err, NULL);
        }
        return NULL;
    case 6:
    case 7:
        return job_option(cmd, jc, args, (int)(long)cmd->info == 6);
    default:
        a = ap_getword_conf(cmd->pool, &args);
        if (sscanf(a, "%dx%d", &jc->chart_w, &jc->chart_h) != 2 || jc->chart_w < 200 ||
            jc->chart_h < 150 || jc->chart_w > 4000 || jc->chart_h > 4000) {
            return apr_psprintf(cmd->pool,
                                "ChatChartSize: '%s' is not WIDTHxHEIGHT from 200x150 "
                                "to 4000x4000",
                                a);
        }
        return NULL;
    }
}
