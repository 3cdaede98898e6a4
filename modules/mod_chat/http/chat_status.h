#ifndef CHAT_STATUS_H
#define CHAT_STATUS_H

/* Adds mod_chat's section to /server-status when mod_status is loaded. */
void chat_status_register(void);

#endif
