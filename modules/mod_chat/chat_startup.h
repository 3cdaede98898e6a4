/* What cannot work yet, said once at startup (and on each restart), at
 * warning level and naming the directive: a remote-user chat location that
 * no AuthType covers, a client directory without index.html, Redis not
 * reachable. The configuration is valid in every case; this saves the
 * sysadmin from guessing why the page or the joins fail. */
#ifndef CHAT_STARTUP_H
#define CHAT_STARTUP_H

#include <httpd.h>

int chat_startup_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s);

#endif
