/* mock_capacity_client.c: the load side of bench/mock_capacity.sh.
 *
 * Opens N HTTP/1.1 connections to the emulated server (spread over a ramp),
 * sends one streamed chat completion on each and reads everything as fast
 * as it arrives, discarding it. It measures nothing itself: the
 * figure of merit is the server's own emission error (actual - scheduled
 * write time) in GET /mock/stats. It only has to read fast enough never to
 * push back on the server, which its stats line lets the script check.
 * It naps between non-blocking epoll_wait calls rather than spinning (a
 * busy-polling reader made the server's figures worse: two vCPUs may share
 * one physical core) or blocking (see the comment at the nap).
 *
 *   mock_capacity_client HOST PORT STREAMS MODEL MAX_TOKENS RAMP_S RUN_S
 *
 * Prints on exit: streams opened, failed, finished early, bytes read. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { CONNECTING, READING, CLOSED };

typedef struct { int fd, state; } conn;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Reads everything available; closes the connection at EOF or error. */
static void drain(conn *c, unsigned long long *bytes, long *ended)
{
    static char buf[1 << 16];
    for (;;) {
        ssize_t r = read(c->fd, buf, sizeof buf);
        if (r > 0) {
            *bytes += (unsigned long long)r;
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        (*ended)++;
        close(c->fd);
        c->state = CLOSED;
        return;
    }
}

static long arg_long(const char *s, const char *what)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (!end || *end || v < 0) {
        fprintf(stderr, "bad %s: %s\n", what, s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: %s HOST PORT STREAMS MODEL MAX_TOKENS RAMP_S RUN_S\n", argv[0]);
        return 2;
    }
    const char *host = argv[1];
    int port = (int)arg_long(argv[2], "port");
    long n = arg_long(argv[3], "streams");
    const char *model = argv[4];
    long max_tokens = arg_long(argv[5], "max_tokens");
    double ramp = (double)arg_long(argv[6], "ramp"), run = (double)arg_long(argv[7], "run");
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    char body[512], req[1024];
    int bl = snprintf(body, sizeof body,
                      "{\"model\":\"%s\",\"max_tokens\":%ld,\"stream\":true,"
                      "\"messages\":[{\"role\":\"user\",\"content\":\"capacity\"}]}", model, max_tokens);
    int rql = snprintf(req, sizeof req,
                       "POST /v1/chat/completions HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                       "Content-Length: %d\r\n\r\n%s", host, bl, body);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "host must be an IPv4 address\n");
        return 2;
    }
    conn *cs = calloc((size_t)n, sizeof *cs);
    int ep = epoll_create1(0);
    long opened = 0, failed = 0, ended = 0;
    unsigned long long bytes = 0;
    double t0 = now_s();
    struct epoll_event evs[1024];
    for (;;) {
        double t = now_s() - t0;
        if (t >= run)
            break;
        /* open the streams due by now (linear ramp) */
        long due = ramp > 0 ? (long)((double)n * (t / ramp)) : n;
        if (due > n)
            due = n;
        while (opened < due) {
            conn *c = &cs[opened];
            c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            int one = 1;
            setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            if (c->fd < 0 || (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 &&
                              errno != EINPROGRESS)) {
                failed++;
                if (c->fd >= 0)
                    close(c->fd);
                c->state = CLOSED;
            } else {
                struct epoll_event e = {.events = EPOLLOUT, .data.ptr = c};
                c->state = CONNECTING;
                epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e);
            }
            opened++;
        }
        int k = epoll_wait(ep, evs, 1024, 0);
        if (k == 0) {
            /* Nothing ready: nap instead of blocking in epoll_wait. A reader
             * blocked in epoll costs every server write a wake-up (an IPI,
             * paid on the server's CPU over loopback); a napping one does
             * not, and reads in batches of ~0.5 ms -- irrelevant to the
             * figure measured, the server's own write times. */
            struct timespec nap = {0, 500000};
            nanosleep(&nap, NULL);
            continue;
        }
        for (int i = 0; i < k; i++) {
            conn *c = evs[i].data.ptr;
            if (c->state == CONNECTING) {
                int err = 0;
                socklen_t el = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
                if (err || write(c->fd, req, (size_t)rql) != rql) {
                    failed++;
                    close(c->fd);
                    c->state = CLOSED;
                    continue;
                }
                c->state = READING;
                struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
                continue;
            }
            drain(c, &bytes, &ended);
        }
    }
    printf("opened=%ld failed=%ld ended_early=%ld bytes=%llu\n", opened, failed, ended, bytes);
    return 0;
}
