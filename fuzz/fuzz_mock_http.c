/* fuzz_mock_http.c: the emulator's HTTP request path end to end -- the
 * server's request parser (src/server/server.c on http_parser: request line,
 * headers, Content-Length and chunked bodies, pipelining, Expect) and the
 * mock's routing, JSON validation, control endpoints and responses.
 *
 * One mock runs on a loop for the whole session (fast model, small caps).
 * Each input is written as is over a fresh loopback connection, the write
 * side is shut, and the reply is read until the server closes or a short
 * deadline passes; the loop is then run until the server has forgotten the
 * connection. Faults an input sets through /mock/faults are reset after it.
 * ASan/UBSan catch memory errors; the harness aborts if the server stops
 * accepting connections or keeps a connection it should have dropped. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <uv.h>
#include "mlxbench/clock.h"
#include "mlxbench/mock.h"
#include "mock_int.h"

#define DEADLINE_MS 300

static uv_loop_t loop;
static mb_mock *mock;

static const char profile[] =
    "{\"builtin_models\": false, \"any_model\": true, \"default_model\": \"f\","
    " \"models\": {\"f\": {\"ttft_ms\": 0, \"prefill_tok_s\": 0, \"decode_tok_s\": 200000,"
    " \"natural_tokens\": 8},"
    " \"claude-x\": {\"ttft_ms\": 0, \"prefill_tok_s\": 0, \"decode_tok_s\": 200000,"
    " \"natural_tokens\": 4, \"tokens_per_chunk\": 2, \"reasoning_tokens\": 2}},"
    " \"prefix_cache\": {\"blocks\": 256, \"block_tokens\": 4},"
    " \"trace\": {\"max_requests\": 64, \"max_chunks\": 4096}, \"max_body_bytes\": 65536}";

static void setup(void)
{
    mb_mock_config cfg;
    char err[256];
    signal(SIGPIPE, SIG_IGN);
    if (uv_loop_init(&loop) != 0)
        abort();
    memset(&cfg, 0, sizeof cfg);
    cfg.host = "127.0.0.1";
    cfg.port = 0;
    cfg.profile_json = profile;
    cfg.log = 0;
    if (mb_mock_start(&mock, &loop, &cfg, err, sizeof err) < 0) {
        fprintf(stderr, "fuzz_mock_http: %s\n", err);
        abort();
    }
}

static void turn(void)
{
    uv_run(&loop, UV_RUN_NOWAIT);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sockaddr_in a;
    int fd, wdone = 0, eof = 0;
    size_t off = 0;
    uint64_t end;
    char buf[65536];
    if (!mock)
        setup();
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)mb_mock_port(mock));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0)
        abort();
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS)
        abort();                               /* the mock must keep listening */
    end = mb_clock_now_ns() + (uint64_t)DEADLINE_MS * 1000000u;
    while (!eof && mb_clock_now_ns() < end) {
        struct pollfd p = {fd, POLLIN | (wdone ? 0 : POLLOUT), 0};
        turn();
        if (poll(&p, 1, 1) < 0)
            continue;
        if (!wdone && (p.revents & POLLOUT)) {
            ssize_t w = size > off ? send(fd, data + off, size - off, MSG_NOSIGNAL) : 0;
            if (w > 0)
                off += (size_t)w;
            else if (w < 0 && errno != EAGAIN && errno != EINTR)
                wdone = 1;                     /* the server has closed */
            if (off >= size && !wdone) {
                shutdown(fd, SHUT_WR);
                wdone = 1;
            }
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = recv(fd, buf, sizeof buf, 0);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
                eof = 1;
        }
    }
    close(fd);
    /* the server forgets the connection; streams it served end */
    for (int i = 0; i < 2000; i++) {
        turn();
        if (mock->srv && mb_server_nconns(mock->srv) == 0 && mock->live == 0)
            break;
        usleep(100);
    }
    if (mock->srv && mb_server_nconns(mock->srv) != 0)
        abort();                               /* a connection leaked */
    if (mb_mock_set_faults(mock, "{\"reset\":true}", 14, NULL, 0) < 0)
        abort();
    turn();
    return 0;
}
