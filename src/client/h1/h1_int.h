/* h1_int.h: what h1.c (connections, pool, I/O) and h1_msg.c (eligibility,
 * URL, request head) share. Private to src/client. */
#ifndef MB_H1_INT_H
#define MB_H1_INT_H

#include "client_int.h"

/* 0, or MB_EINVAL for a URL the transport leaves to libcurl. */
int h1_url_parse(const char *url, h1_url *u);
/* Fills r->whead, r->wbody, r->head_req. 0 or MB_ENOMEM. */
int h1_head_build(mb_req *r, const mb_req_opts *o, const h1_url *u);

#endif
