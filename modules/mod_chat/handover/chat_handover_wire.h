/* The hand-over channel between two children of one httpd: an abstract
 * Unix-domain socket per child (no file to own or clean up), a peer check
 * on both ends (same user, a process of this server's scoreboard), and
 * messages of a type, a payload and at most CHAT_HANDOVER_MAX_FDS
 * descriptors (SCM_RIGHTS). Blocking I/O with a deadline; any thread. */
#ifndef CHAT_HANDOVER_WIRE_H
#define CHAT_HANDOVER_WIRE_H

#include <sys/types.h>

#include <apr_time.h>

#define CHAT_HANDOVER_MAX_FDS 200
/* A message's payload: a PREPARE of 10,000+ sessions, a STATE batch with full
 * send queues. Larger ones are refused. */
#define CHAT_HANDOVER_MAX_MESSAGE (256 * 1024 * 1024)

enum {
    CHAT_HANDOVER_HELLO = 1, /* taker: version, load */
    CHAT_HANDOVER_PREPARE,   /* leaver: the sessions, who they are */
    CHAT_HANDOVER_READY,     /* taker: which it parked (their rooms subscribed) */
    CHAT_HANDOVER_STATE,     /* leaver: state + sockets of cut sessions */
    CHAT_HANDOVER_END,       /* leaver: no more STATE */
    CHAT_HANDOVER_ACK,       /* taker: loaded */
    CHAT_HANDOVER_COMMIT     /* leaver: they are yours */
};

/* This child's listening socket (-1 and errno on failure). */
int chat_handover_listen(void);
/* Accept a peer that passes the check (-1 when the listener is closed). */
int chat_handover_accept(int lfd);
/* Connect to the child pid and check that it is that child. */
int chat_handover_connect(pid_t pid);

/* 0, or -1 (peer gone, timeout, malformed). recv: *buf is malloc'd (free
 * it), fds holds up to CHAT_HANDOVER_MAX_FDS received descriptors. */
int chat_handover_send(int fd, int type, const void *buf, apr_size_t len, const int *fds, int nfds,
                       apr_time_t deadline);
int chat_handover_recv(int fd, int *type, char **buf, apr_size_t *len, int *fds, int *nfds,
                       apr_time_t deadline);

/* Live children of this server's current generation that take sockets
 * (not stopping, not this one): up to max pids into out, their count. */
int chat_handover_candidates(pid_t *out, int max);
/* Has the parent started a newer generation than this child's? */
int chat_handover_restarting(void);
/* Does the server still take connections on its first listener? (On a
 * graceful stop every process closes its listeners: no child will come.) */
int chat_handover_server_open(void);

#endif
