/* h1_int.h: what h1.c (connections, pool, I/O, the transport's entry
 * points) and h1_msg.c (eligibility, URL, request head) share. Private to
 * src/client/h1. */
#ifndef MB_H1_INT_H
#define MB_H1_INT_H

#include "client_int.h"

/* The transport's part of a request. */
typedef struct h1_req {
    struct h1_conn *conn;        /* its connection while in flight */
    struct h1_host *host;
    int retried;                 /* resent once after a stale keep-alive connection */
    mb_buf whead;                /* the request head as sent */
    const char *wbody;           /* the body (the owner's, not copied) */
    size_t wbody_len;
    int head_req;                /* HEAD: the response has no body */
} h1_req;

static inline h1_req *H(mb_req *r)
{
    return mb_req_priv(r);
}

/* 0, or MB_EINVAL for a URL the transport leaves to libcurl. */
int h1_url_parse(const char *url, h1_url *u);
/* Fills the request head and body of r. 0 or MB_ENOMEM. */
int h1_head_build(mb_req *r, const mb_req_opts *o, const h1_url *u);

#endif
