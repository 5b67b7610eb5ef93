/* curl_int.h: what the libcurl transport's files share. Private to
 * src/client/curl.
 *
 *   curl.c       one multi handle driven by the client's loop (sockets,
 *                timer, completion), the pool of easy handles, and the
 *                transport's entry points (mb_transport_curl)
 *   curl_req.c   one transfer: its options, the header and write callbacks
 *                (handing bytes to client_req.c), the verdict, the trace
 *   curl_dl.c    libcurl, loaded on first use */
#ifndef MB_CURL_INT_H
#define MB_CURL_INT_H

#include "client_int.h"
#include "curl_dl.h"

/* The transport's part of a request. */
typedef struct curl_req {
    CURL *easy;                  /* from the pool while it has one */
    struct curl_slist *hdrs;
    int in_multi;                /* easy is added to the multi */
    char errbuf[CURL_ERROR_SIZE];
} curl_req;

static inline curl_req *CR(mb_req *r)
{
    return mb_req_priv(r);
}

/* curl.c: the sockets libcurl opens for connections go through these, so
 * the transport knows which fds it will close (their polls may be parked). */
curl_socket_t curl_opensocket(void *ud, curlsocktype purpose, struct curl_sockaddr *a);
int curl_closesocket(void *ud, curl_socket_t fd);

/* curl_req.c: sets every libcurl option of the transfer (after req_init).
 * 0, MB_EINVAL or MB_ENOMEM. `ud` is what the socket callbacks receive. */
int curl_req_setup(mb_req *r, const mb_req_opts *o, void *ud);
/* curl_req.c: reads libcurl's verdict and timings once the transfer ended
 * with `code` at t_done, then the shared verdict. */
void curl_req_finish(mb_req *r, CURLcode code, uint64_t t_done);

#endif
