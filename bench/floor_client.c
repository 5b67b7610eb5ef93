/* floor_client.c: the cheapest client that still sees every token when it
 * arrives -- the kernel's floor under bench/client_overhead.sh's figures.
 *
 * It opens STREAMS connections at once, sends one streamed chat completion
 * on each, and then does only what any timing-exact client must: block in
 * epoll_wait, make one read(2) per ready socket, stamp it with
 * clock_gettime. No HTTP parsing beyond spotting the end of the stream, no
 * JSON, no storage. What it costs per token is the wake-ups, the reads and
 * the ACKs the kernel sends for them; whatever a real client costs above
 * it is the client's own overhead.
 *
 *   floor_client HOST PORT STREAMS MODEL MAX_TOKENS
 *
 * Prints: streams finished, failed, reads, bytes. Exit 1 if any failed. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
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

typedef struct conn {
    int fd, sent;
    char tail[8];        /* the last bytes of the previous read: "[DONE]" may straddle */
    size_t tail_len;
} conn;

static long arg_long(const char *s, const char *what)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (!end || *end || v <= 0) {
        fprintf(stderr, "bad %s: %s\n", what, s);
        exit(2);
    }
    return v;
}

/* 1 when the stream's terminator is in tail+buf. */
static int done_seen(conn *c, const char *buf, size_t n)
{
    char join[16 + 64];
    size_t k = n < 64 ? n : 64;
    memcpy(join, c->tail, c->tail_len);
    memcpy(join + c->tail_len, buf + n - k, k);
    size_t jl = c->tail_len + k;
    int seen = memmem(join, jl, "[DONE]", 6) != NULL || memmem(buf, n, "[DONE]", 6) != NULL;
    c->tail_len = jl < sizeof c->tail ? jl : sizeof c->tail;
    memcpy(c->tail, join + jl - c->tail_len, c->tail_len);
    return seen;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s HOST PORT STREAMS MODEL MAX_TOKENS\n", argv[0]);
        return 2;
    }
    const char *host = argv[1];
    int port = (int)arg_long(argv[2], "port");
    long n = arg_long(argv[3], "streams"), max_tokens = arg_long(argv[5], "max_tokens");
    const char *model = argv[4];
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    char body[512], req[1024];
    int bl = snprintf(body, sizeof body,
                      "{\"model\":\"%s\",\"max_tokens\":%ld,\"stream\":true,"
                      "\"messages\":[{\"role\":\"user\",\"content\":\"Tell me a long story.\"}]}",
                      model, max_tokens);
    int rql = snprintf(req, sizeof req,
                       "POST /v1/chat/completions HTTP/1.1\r\nHost: %s:%d\r\n"
                       "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                       host, port, bl, body);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "host must be an IPv4 address\n");
        return 2;
    }
    conn *cs = calloc((size_t)n, sizeof *cs);
    int ep = epoll_create1(0);
    long live = 0, failed = 0, finished = 0;
    unsigned long long reads = 0, bytes = 0;
    static char buf[1 << 16];
    struct epoll_event evs[1024];
    struct timespec ts;
    for (long i = 0; i < n; i++) {
        int one = 1;
        cs[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (cs[i].fd < 0) {
            failed++;
            continue;
        }
        setsockopt(cs[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(cs[i].fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
            close(cs[i].fd);
            failed++;
            continue;
        }
        struct epoll_event e = {.events = EPOLLOUT, .data.ptr = &cs[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &e);
        live++;
    }
    while (live > 0) {
        int k = epoll_wait(ep, evs, 1024, -1);
        for (int i = 0; i < k; i++) {
            conn *c = evs[i].data.ptr;
            if (!c->sent) {
                int err = 0;
                socklen_t el = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
                if (err || write(c->fd, req, (size_t)rql) != rql) {
                    close(c->fd);
                    failed++;
                    live--;
                    continue;
                }
                c->sent = 1;
                struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
                continue;
            }
            ssize_t r = read(c->fd, buf, sizeof buf);
            clock_gettime(CLOCK_MONOTONIC, &ts);   /* what a timing client must pay */
            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (r > 0) {
                reads++;
                bytes += (unsigned long long)r;
                if (!done_seen(c, buf, (size_t)r))
                    continue;
                finished++;
            } else {
                failed++;
            }
            close(c->fd);
            live--;
        }
    }
    printf("finished=%ld failed=%ld reads=%llu bytes=%llu\n", finished, failed, reads, bytes);
    return failed ? 1 : 0;
}
