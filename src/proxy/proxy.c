/* proxy.c: the TCP fault proxy's API (see include/mlxbench/proxy.h) on the
 * servers' shared listener (listen.h); the connections are in
 * proxy_conn.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include "mlxbench/defaults.h"
#include "mlxbench/errors.h"
#include "proxy_int.h"

#define MAX_DELAY_MS 3600000u           /* latency / jitter bound: one hour */

/* "No fault": zeroes, and -1 where 0 is a meaningful value. */
void mb_proxy_faults_clear(mb_proxy_faults *f)
{
    memset(f, 0, sizeof *f);
    f->reset_after_bytes = -1;
    f->close_after_ms = -1;
}

static void proxy_free(void *obj)
{
    free(obj);
}

/* Frees the proxy once it is stopped and libuv has closed all it owned. */
void mb_proxy_maybe_free(mb_proxy *p)
{
    mb_life_end(&p->life, p->conns != NULL, proxy_free, p);
}

static void listener_closed(void *owner)
{
    mb_proxy_maybe_free(owner);
}

/* Checks a fault set and maps every "off" value to -1. */
static int faults_norm(const mb_proxy_faults *in, mb_proxy_faults *out)
{
    *out = *in;
    if (in->latency_ms > MAX_DELAY_MS || in->jitter_ms > MAX_DELAY_MS ||
        in->refuse < MB_PROXY_REFUSE_NONE || in->refuse > MB_PROXY_REFUSE_RESET ||
        (in->close_after_ms > (int64_t)MAX_DELAY_MS * 24))
        return MB_EINVAL;
    out->blackhole = in->blackhole != 0;
    if (out->reset_after_bytes < 0)
        out->reset_after_bytes = -1;
    if (out->close_after_ms < 0)
        out->close_after_ms = -1;
    return 0;
}

/* ------------------------------------------------------------------ API */

/* Validates, resolves both ends, listens; the faults of cfg apply from the
 * first connection (refuse = CLOSE closes the listener right after the
 * bind, which was needed to learn the port). */
int mb_proxy_start(mb_proxy **out, uv_loop_t *loop, const mb_proxy_config *cfg,
                   char *err, size_t errlen)
{
    mb_proxy *p = NULL;
    char dummy[8];
    int rc;
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    *out = NULL;
    if (!cfg || !cfg->upstream_host || cfg->port < 0 || cfg->port > 65535 ||
        cfg->upstream_port < 1 || cfg->upstream_port > 65535) {
        snprintf(err, errlen, "bad configuration (upstream host and ports 1..65535 required)");
        return MB_EINVAL;
    }
    p = calloc(1, sizeof *p);
    if (!p)
        return MB_ENOMEM;
    p->loop = loop;
    p->high_water = cfg->high_water ? cfg->high_water : MB_DEFAULT_HIGH_WATER;
    p->low_water = p->high_water / 4;
    mb_rng_seed(&p->rng, cfg->seed);
    if (faults_norm(&cfg->faults, &p->faults) < 0) {
        snprintf(err, errlen, "bad fault values");
        rc = MB_EINVAL;
        goto out;
    }
    rc = mb_resolve(loop, cfg->upstream_host, cfg->upstream_port, &p->up_addr);
    if (rc < 0) {
        snprintf(err, errlen, "cannot resolve upstream host '%s': %s", cfg->upstream_host,
                 uv_strerror(rc));
        goto out;
    }
    const char *host = cfg->host ? cfg->host : "127.0.0.1";
    p->l = (mb_listener){.loop = loop, .backlog = cfg->backlog > 0 ? cfg->backlog
                                                                    : MB_DEFAULT_BACKLOG,
                         .owner = p, .on_conn = mb_proxy_on_accept, .life = &p->life,
                         .on_closed = listener_closed};
    rc = mb_resolve(loop, host, cfg->port, &p->l.addr);
    if (rc < 0) {
        snprintf(err, errlen, "cannot resolve listen host '%s': %s", host, uv_strerror(rc));
        goto out;
    }
    rc = mb_listener_open(&p->l);
    if (rc < 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", host, cfg->port, uv_strerror(rc));
        mb_life_stop(&p->life, NULL, NULL);   /* the listener's close callback frees p */
        return rc;
    }
    if (p->faults.refuse == MB_PROXY_REFUSE_CLOSE) {
        mb_listener_close(&p->l);   /* bound first to learn the port */
        p->stats.listener_closed++;
    }
    *out = p;
    return 0;
out:
    free(p);
    return rc;
}

/* Closes everything; the memory goes with the last close callback, then
 * `done` runs. */
void mb_proxy_stop(mb_proxy *p, void (*done)(void *ud), void *ud)
{
    if (!mb_life_stop(p ? &p->life : NULL, done, ud))
        return;
    mb_listener_close(&p->l);
    for (pconn *c = p->conns; c; c = c->next)
        mb_proxy_conn_close(c, 0, 0);
    mb_proxy_maybe_free(p);
}

/* Installs a new fault set: the listener follows `refuse`, and every open
 * connection gets the change (mb_proxy_conn_refault says how). */
int mb_proxy_set_faults(mb_proxy *p, const mb_proxy_faults *f)
{
    mb_proxy_faults nf, old;
    int rc = 0;
    if (!p || !f || p->life.stopping)
        return MB_EINVAL;
    if (faults_norm(f, &nf) < 0)
        return MB_EINVAL;
    old = p->faults;
    p->faults = nf;
    if (nf.refuse == MB_PROXY_REFUSE_CLOSE && mb_listener_is_open(&p->l)) {
        mb_listener_close(&p->l);
        p->stats.listener_closed++;
    } else if (nf.refuse != MB_PROXY_REFUSE_CLOSE && !mb_listener_is_open(&p->l)) {
        rc = mb_listener_open(&p->l);
        if (rc < 0)
            p->faults.refuse = MB_PROXY_REFUSE_CLOSE;   /* still refusing */
    }
    /* Closing connections stay listed until freed, so the walk is safe. */
    for (pconn *c = p->conns; c; c = c->next)
        mb_proxy_conn_refault(c, &old);
    return rc;
}

/* Accessors: copies, so the caller never sees the proxy change under it. */
void mb_proxy_get_faults(const mb_proxy *p, mb_proxy_faults *f)
{
    *f = p->faults;
}

void mb_proxy_get_stats(const mb_proxy *p, mb_proxy_stats *s)
{
    *s = p->stats;
}

int mb_proxy_port(const mb_proxy *p)
{
    return p->l.port;
}

const char *mb_proxy_host(const mb_proxy *p)
{
    return p->l.host;
}
