/* client.c: the client's facade -- requests, the one place that chooses
 * their transport, the notification queue and the accounting of libuv
 * handles that lets the client outlive mb_client_free until the last one
 * has closed.
 *
 * Notifications are queued by the transports (client_pend) while they
 * process what arrived and delivered by client_dispatch once they are done,
 * so an owner may start, cancel or free requests from on_done/on_events. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include "mlxbench/clock.h"
#include "mlxbench/errors.h"
#include "mlxbench/list.h"
#include "mlxbench/platform.h"
#include "client_int.h"

/* Every transport, for what concerns them all (closing). */
static const mb_transport *const transports[] = {&mb_transport_h1, &mb_transport_curl};
#define NTRANSPORTS (sizeof transports / sizeof transports[0])

struct mb_client {
    uv_loop_t *loop;
    mb_req *pend_head, *pend_tail;
    mb_req *all;                 /* every request not yet freed */
    size_t nactive;
    int dispatching;
    int freeing;
    int open_handles;            /* transports' uv handles whose close callback is due */
    struct h1_pool *h1;          /* the HTTP/1.1 transport's state, made on first use */
    struct curl_state *curl;        /* libcurl's, made (and libcurl loaded) on first use */
    int kstamps;                 /* ask the kernel for receive stamps */
    mb_clock_sync sync;          /* realtime -> monotonic, for those stamps */
    mb_hist *lag;                /* read lag (s) since the last mb_client_read_lag_take */
};

/* Frees the client once it is being freed and its last handle has closed. */
static void maybe_free(mb_client *c)
{
    if (c->freeing && c->open_handles == 0) {
        mb_hist_free(c->lag);
        free(c);
    }
}

void client_handles(mb_client *c, int delta)
{
    c->open_handles += delta;
    assert(c->open_handles >= 0);
    maybe_free(c);
}

uv_loop_t *client_loop(mb_client *c)
{
    return c->loop;
}

int client_freeing(const mb_client *c)
{
    return c->freeing;
}

int client_kstamps(const mb_client *c)
{
    return c->kstamps;
}

mb_clock_sync *client_sync(mb_client *c)
{
    return &c->sync;
}

void client_lag(mb_client *c, uint64_t ns)
{
    mb_hist_record(c->lag, (double)ns * 1e-9, 1);
}

int mb_client_kernel_stamps(const mb_client *c)
{
    return c->kstamps;
}

const mb_clock_sync *mb_client_clock(const mb_client *c)
{
    return &c->sync;
}

void mb_client_clock_reset(mb_client *c)
{
    c->sync.drift_max_ns = 0;
    c->sync.steps = c->sync.refused = 0;
}

int mb_client_read_lag_take(mb_client *c, mb_hist *dst)
{
    int rc = mb_hist_merge(dst, c->lag);
    if (rc == 0)
        mb_hist_reset(c->lag);
    return rc;
}

struct h1_pool **client_h1(mb_client *c)
{
    return &c->h1;
}

struct curl_state **client_curl(mb_client *c)
{
    return &c->curl;
}

/* Queues a notification for dispatch (once per request; flags add up). */
void client_pend(mb_client *c, mb_req *r, int flags)
{
    if (!r->pend)
        MB_LIST_APPEND(c->pend_head, c->pend_tail, r, pend_prev, pend_next);
    r->pend |= flags;
}

/* Drops a queued notification (request freed or being notified). */
static void unpend(mb_client *c, mb_req *r)
{
    if (!r->pend)
        return;
    MB_LIST_REMOVE2(c->pend_head, c->pend_tail, r, pend_prev, pend_next);
    r->pend = 0;
}

/* Delivers queued notifications. Each request gets one call per pass:
 * on_done when it ended (it implies the events), else on_events. The owner
 * may free this or any other request from the callback, so nothing of `r`
 * is touched after it. */
void client_dispatch(mb_client *c)
{
    if (c->dispatching)
        return;
    c->dispatching = 1;
    while (c->pend_head && !c->freeing) {
        mb_req *r = c->pend_head;
        int flags = r->pend;
        unpend(c, r);
        assert(!(flags & PEND_DONE) || (r->resp.done && !r->live));
        if (flags & PEND_DONE) {
            if (r->on_done)
                r->on_done(r, r->ud);
        } else if ((flags & PEND_EVENTS) && r->on_events) {
            r->on_events(r, r->ud);
        }
    }
    c->dispatching = 0;
}

/* Adds a started request to the client's list. */
static void link_req(mb_client *c, mb_req *r)
{
    MB_LIST_PUSH(c->all, r, all_prev, all_next);
    c->nactive++;
}

/* Removes a request from the client's list. */
static void unlink_req(mb_client *c, mb_req *r)
{
    MB_LIST_REMOVE(c->all, r, all_prev, all_next);
    c->nactive--;
}

/* Takes a request out of the client: a live one is cancelled on its
 * transport, a queued notification dropped. */
static void detach_req(mb_client *c, mb_req *r)
{
    if (r->live)
        r->tp->cancel(r);
    assert(!r->live);
    unpend(c, r);
    unlink_req(c, r);
}

/* The read-lag histogram has stats.histogram{}'s settings (1 us .. 1 h, 3
 * digits), so Lua merges it exactly. The clock offset is calibrated here,
 * when the engine's first request is made. */
int mb_client_new(mb_client **out, uv_loop_t *loop)
{
    mb_client *c = calloc(1, sizeof *c);
    const char *st = getenv("MLXBENCH_STAMPS");
    *out = NULL;
    if (!c)
        return MB_ENOMEM;
    if (mb_hist_new(&c->lag, 1e-6, 3600, 3) < 0) {
        free(c);
        return MB_ENOMEM;
    }
    c->loop = loop;
    c->kstamps = strcmp(mb_plat_rx_stamp_kind(), "none") != 0 && !(st && strcmp(st, "user") == 0);
    if (c->kstamps)
        mb_plat_rx_stamp_prime();
    mb_clock_sync_init(&c->sync);
    *out = c;
    return 0;
}

/* Requests still alive are cancelled and orphaned, not freed: their owners
 * may hold them until later (a Lua __gc at state close), and mb_req_free on
 * an orphan only releases its memory. */
void mb_client_free(mb_client *c)
{
    if (!c)
        return;
    while (c->all) {
        mb_req *r = c->all;
        detach_req(c, r);
        r->c = NULL;
    }
    c->freeing = 1;
    c->open_handles++;   /* the client itself, until the transports are closed */
    for (size_t i = 0; i < NTRANSPORTS; i++)
        transports[i]->close(c);
    client_handles(c, -1);
}

size_t mb_client_active(const mb_client *c)
{
    return c->nactive;
}

int mb_client_abort_all(mb_client *c, const char *why)
{
    int n = 0;
    if (!c || c->freeing)
        return 0;
    for (mb_req *r = c->all; r; r = r->all_next) {
        if (!r->live)
            continue;   /* already finished: its owner just has not freed it */
        r->tp->abort(r, why ? why : "aborted");
        assert(!r->live && r->resp.done);
        client_pend(c, r, PEND_DONE);
        n++;
    }
    client_dispatch(c);
    return n;
}

/* The one place that chooses a transport: plain HTTP/1.1 when it can take
 * the request, libcurl otherwise. Nothing is notified from inside this
 * call either way. */
int mb_req_start(mb_client *c, const mb_req_opts *o, mb_req **out)
{
    mb_req *r = NULL;
    const mb_transport *tp;
    h1_url u;
    int rc;
    *out = NULL;
    if (!c || !o || !o->url)
        return MB_EINVAL;
    if (c->freeing)
        return MB_ESTATE;
    tp = h1_eligible(o, &u) ? &mb_transport_h1 : &mb_transport_curl;
    if (!(r = calloc(1, sizeof *r + tp->req_size)))
        return MB_ENOMEM;
    r->c = c;
    r->tp = tp;
    if ((rc = req_init(r, o)) < 0 || (rc = tp->start(c, r, o, &u)) < 0) {
        assert(!r->live);
        tp->release(r);
        req_release(r);
        free(r);
        return rc;
    }
    link_req(c, r);
    *out = r;
    return 0;
}

/* Cancels (a live request's connection closes) or releases a request; no
 * notification follows. */
void mb_req_free(mb_req *r)
{
    if (!r)
        return;
    if (r->c)
        detach_req(r->c, r);
    r->tp->release(r);
    req_release(r);
    free(r);
}
