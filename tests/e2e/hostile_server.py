#!/usr/bin/env python3
"""hostile_server.py: an OpenAI-shaped server that misbehaves in one way per
path, for the bad-input matrix (tests/e2e/test_hostile.py). Standard library
only; one thread per connection, raw sockets, so every byte, pause and
reset is exact.

    python3 tests/e2e/hostile_server.py [--tls-cert CERT --tls-key KEY]

Prints "PORT <n>" (and "TLSPORT <m>" with a certificate) on stdout once
listening. A client points its base URL at http://127.0.0.1:<n>/<case>, so
every API path under /<case>/... gets that behaviour (the request is read
first, whatever it is). Stops on SIGTERM or when stdin closes.

Cases (the error kind mlxbench must report is in test_hostile.py):
  ok              a correct stream: 3 tokens, usage, [DONE]
  slow            a correct stream paced like a model: 8 events 30 ms apart
  reset_head      reads the request, then a TCP reset before any byte
  reset_body      non-streamed: headers + Content-Length 1000, 100 bytes, reset
  reset_stream    two events of a stream, then a reset
  stall           reads the request, never answers
  drip            answers one byte per second
  html200         an HTML error page with status 200
  noline          text/event-stream of "data: xxxx..." with no newline, ever
  endless         valid content events forever
  bad_utf8        an event whose JSON string has invalid UTF-8
  bad_json        an event that is not JSON
  deep_json       an event of JSON nested 100,000 deep
  deep_body       non-streamed: a body nested 100,000 deep
  usage_negative  correct stream, usage.completion_tokens = -5
  usage_huge      ... = 1e300
  usage_string    ... = "12"
  done_first      [DONE] before any token, then tokens
  done_twice      a correct stream with [DONE] twice
  gzip, br        the correct stream compressed (Content-Encoding: gzip/br)
                  whether or not the client asked for it
  gzip_corrupt    Content-Encoding: gzip, bytes that are not gzip
  chunk_bad       chunked encoding with a bad chunk size line
  chunk_cut       chunked stream that ends without its last chunk (FIN)
  headers_10k     10,000 response headers
  mixed           by request number: ok, reset_head, html200 (3-cycle)
  echo_auth       401 whose message repeats the credentials it was sent (as
                  some APIs do: "Incorrect API key provided: sk-...")
  echo_auth_stream  200 stream whose error event repeats them
  echo_auth_long  401 whose message repeats them across character 199, so a
                  client that cuts the message before redacting keeps half
  echo_headers    401 that repeats every request header in its message and
                  the credentials in a response header of its own (X-Echo)
  seen            GET: the credentials each earlier request carried, as JSON
                  {"seen": [[path, [values...]], ...]} (who got a key)

Cases whose bytes are fixed (the SIMPLE table below): usage that
contradicts the stream (usage_contradicts, usage_over_max,
usage_input_huge) and usage that is right although events disagree
(usage_multi, several tokens per chunk); error_flood (a 500 whose body never
ends), ctrl_message (a 400 whose message holds escape sequences), redirect
(302), empty_200, rate_limited (429 + Retry-After), html_401, model_404,
stream_error_mid (two tokens then an error object), short_close
(Content-Length 1000, 100 bytes, FIN), chunk_huge (a chunk size of 2^64-1),
head_300k (300 KiB of headers), chunked_tiny (1-byte chunks), keepalive
(comments and ping events between tokens), sse_fields (id:, retry:, a
multi-line data:), sse_crlf and sse_cr (CRLF and bare CR line ends),
done_partial (the last `data: [DONE]` without its blank line), big_event
(a 900 KB content event), events_5000 (5,000 tokens in one write), gzip_bomb
(64 MiB of zeros gzipped to 64 KB, for a client that asks for gzip).
"""
import argparse
import gzip
import json
import os
import signal
import socket
import ssl
import struct
import sys
import threading
import time

CHUNK = {"id": "c", "object": "chat.completion.chunk", "model": "m",
         "choices": [{"index": 0, "delta": {"content": "tok "}, "finish_reason": None}]}


def ev(obj):
    return b"data: " + (obj if isinstance(obj, bytes) else json.dumps(obj).encode()) + b"\n\n"


def usage(n):
    return b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":' + n + b'}}\n\n'


def good_stream(tokens=3, usage_value=None, done=1):
    out = ev({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})
    for _ in range(tokens):
        out += ev(CHUNK)
    out += ev({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    out += usage(usage_value if usage_value is not None else str(tokens).encode())
    out += b"data: [DONE]\n\n" * done
    return out


def brotli_store(data):
    """A valid brotli stream of uncompressed meta-blocks (RFC 7932 9.2):
    enough to test decoding without a brotli encoder in the stdlib."""
    bits = []

    def put(v, n):
        for i in range(n):
            bits.append((v >> i) & 1)

    out = bytearray()

    def flush_bytes():
        while len(bits) % 8:
            bits.append(0)
        for i in range(0, len(bits), 8):
            out.append(sum(b << k for k, b in enumerate(bits[i:i + 8])))
        bits.clear()

    put(0, 1)                          # WBITS = 16
    for off in range(0, len(data), 65536):
        block = data[off:off + 65536]
        put(0, 1)                      # ISLAST = 0
        put(0, 2)                      # MNIBBLES = 4
        put(len(block) - 1, 16)        # MLEN - 1
        put(1, 1)                      # ISUNCOMPRESSED
        flush_bytes()
        out += block
    put(1, 1)                          # ISLAST
    put(1, 1)                          # ISLASTEMPTY
    flush_bytes()
    return bytes(out)


def head(status=200, ctype="text/event-stream", extra=(), length=None, chunked=False):
    h = ["HTTP/1.1 %d %s" % (status, "OK" if status == 200 else "Error"),
         "Content-Type: " + ctype, "Connection: close"]
    h += list(extra)
    if length is not None:
        h.append("Content-Length: %d" % length)
    if chunked:
        h.append("Transfer-Encoding: chunked")
    return ("\r\n".join(h) + "\r\n\r\n").encode()


AUTH = threading.local()
SEEN = []          # (path, credentials) of every request, for /seen
SECRET_NAMES = ("authorization", "x-api-key", "api-key", "proxy-authorization", "x-custom-auth",
                "x-team-pass", "cookie")


def read_request(conn):
    """Reads one request (head + Content-Length body); returns the path.
    Credentials it carried are kept in AUTH.values (echo_auth)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        b = conn.recv(65536)
        if not b:
            return None
        buf += b
    hd, rest = buf.split(b"\r\n\r\n", 1)
    lines = hd.decode("latin-1").split("\r\n")
    n = 0
    AUTH.values = []
    AUTH.lines = lines[1:]
    for line in lines[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == "content-length":
            n = int(v.strip())
        if k.strip().lower() in SECRET_NAMES:
            AUTH.values.append(v.strip())
    path = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else "/"
    if not path.startswith("/seen"):
        with LOCK:
            SEEN.append((path, list(AUTH.values)))
    while len(rest) < n:
        b = conn.recv(65536)
        if not b:
            break
        rest += b
    return lines[0].split(" ")[1]


def reset(conn):
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def wait_close(conn, limit=120):
    """Blocks until the client goes away (or `limit` seconds)."""
    conn.settimeout(limit)
    try:
        while conn.recv(4096):
            pass
    except OSError:
        pass


def chunked(parts):
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts if p) + b"0\r\n\r\n"


def err_body(status, msg, ctype="application/json", extra=()):
    body = msg if isinstance(msg, bytes) else json.dumps({"error": {"message": msg, "type": "x"}}).encode()
    return head(status=status, ctype=ctype, length=len(body), extra=extra) + body


def stream(body):
    return head(length=len(body)) + body


def simple_cases():
    one = good_stream()
    role = ev({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})
    fin = ev({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    multi = {"choices": [{"index": 0, "delta": {"content": "two tokens, three "}}]}
    big = {"choices": [{"index": 0, "delta": {"content": "x" * 900000}}]}
    return {
        "usage_contradicts": lambda: stream(good_stream(usage_value=b"999999999")),
        "usage_over_max": lambda: stream(good_stream(usage_value=b"50")),
        "usage_input_huge": lambda: stream(good_stream().replace(b'"prompt_tokens":3',
                                                                 b'"prompt_tokens":99999999')),
        "usage_multi": lambda: stream(role + ev(multi) + ev(multi) + fin + usage(b"6")
                                      + b"data: [DONE]\n\n"),
        "ctrl_message": lambda: err_body(400, "bad \x1b[31mred\x1b[0m\r\nX-Injected: 1\x07 request"),
        "redirect": lambda: head(status=302, ctype="text/plain", length=0,
                                 extra=["Location: /ok/v1/chat/completions"]),
        "empty_200": lambda: head(ctype="application/json", length=0),
        "rate_limited": lambda: err_body(429, "Rate limit reached for requests",
                                         extra=["Retry-After: 20"]),
        "html_401": lambda: err_body(401, b"<html><body><h1>401 Authorization Required</h1></body></html>",
                                     ctype="text/html"),
        "model_404": lambda: err_body(404, "The model `m` does not exist or you do not have access to it."),
        "stream_error_mid": lambda: stream(role + ev(CHUNK) + ev(CHUNK)
                                           + ev({"error": {"message": "model crashed", "type": "server_error"}})),
        "short_close": lambda: head(ctype="application/json", length=1000) + b'{"choices":' + b" " * 89,
        "chunk_huge": lambda: head(chunked=True) + b"ffffffffffffffff\r\n" + ev(CHUNK),
        "head_300k": lambda: head(extra=["X-Filler-%d: %s" % (i, "v" * 1000) for i in range(300)],
                                  length=len(one)) + one,
        "chunked_tiny": lambda: head(chunked=True) + chunked([one[i:i + 1] for i in range(len(one))]),
        "keepalive": lambda: stream(role + b": keep-alive\n\n" + ev(CHUNK) + b"event: ping\ndata: {}\n\n"
                                    + ev(CHUNK) + b": ping\n\n" + ev(CHUNK) + fin + usage(b"3")
                                    + b"data: [DONE]\n\n"),
        "sse_fields": lambda: stream(b"retry: 3000\nid: 1\n" + role + b"id: 2\n" + ev(CHUNK)
                                     + b'data: {"choices":[{"index":0,\ndata: "delta":{"content":"tok "}}]}\n\n'
                                     + ev(CHUNK) + fin + usage(b"3") + b"data: [DONE]\n\n"),
        "sse_crlf": lambda: stream(one.replace(b"\n", b"\r\n")),
        "sse_cr": lambda: stream(one.replace(b"\n", b"\r")),
        "done_partial": lambda: stream(one[:-2]),
        "big_event": lambda: stream(role + ev(big) + fin + usage(b"1") + b"data: [DONE]\n\n"),
        "events_5000": lambda: stream(role + ev(CHUNK) * 5000 + fin + usage(b"5000") + b"data: [DONE]\n\n"),
    }


SIMPLE = simple_cases()
BOMB = []          # built once, on first use: 64 MiB of zeros, gzipped


COUNTER = {"mixed": 0}
LOCK = threading.Lock()


def serve(conn, case):
    if case == "mixed":
        with LOCK:
            k = COUNTER["mixed"]
            COUNTER["mixed"] += 1
        case = ("ok", "reset_head", "html200")[k % 3]
    if case in SIMPLE:
        try:
            conn.sendall(SIMPLE[case]())
        except OSError:
            pass
    elif case == "error_flood":
        try:
            conn.sendall(head(status=500, ctype="text/plain") + b"Internal error " * 1000)
            block = b"x" * 65536
            while True:
                conn.sendall(block)
        except OSError:
            pass
    elif case == "gzip_bomb":
        with LOCK:
            if not BOMB:
                BOMB.append(gzip.compress(b"data: " + b"0" * (64 << 20), 1))
        try:
            conn.sendall(head(extra=["Content-Encoding: gzip"], length=len(BOMB[0])) + BOMB[0])
        except OSError:
            pass
    elif case == "ok":
        body = good_stream()
        conn.sendall(head(length=len(body)) + body)
    elif case == "slow":
        conn.sendall(head(chunked=True))
        for part in [good_stream(0)[:0]] + [ev(CHUNK)] * 8 + [usage(b"8") + b"data: [DONE]\n\n"]:
            if part:
                conn.sendall(b"%x\r\n%s\r\n" % (len(part), part))
            time.sleep(0.03)
        conn.sendall(b"0\r\n\r\n")
    elif case == "reset_head":
        reset(conn)
        return
    elif case == "reset_body":
        conn.sendall(head(ctype="application/json", length=1000) + b"{" + b" " * 99)
        time.sleep(0.05)
        reset(conn)
        return
    elif case == "reset_stream":
        conn.sendall(head(chunked=False) + ev(CHUNK) + ev(CHUNK))
        time.sleep(0.05)
        reset(conn)
        return
    elif case == "stall":
        wait_close(conn)
    elif case == "drip":
        data = head() + good_stream()
        try:
            for i in range(len(data)):
                conn.sendall(data[i:i + 1])
                time.sleep(1.0)
        except OSError:
            pass
    elif case == "html200":
        body = b"<html><head><title>Error</title></head><body><h1>502 Bad Gateway</h1></body></html>\n"
        conn.sendall(head(ctype="text/html", length=len(body)) + body)
    elif case == "noline":
        try:
            conn.sendall(head() + b"data: ")
            while True:
                conn.sendall(b"x" * 65536)
        except OSError:
            pass
    elif case == "endless":
        try:
            conn.sendall(head() + ev({"choices": [{"index": 0, "delta": {"role": "assistant"}}]}))
            block = ev(CHUNK) * 256
            while True:
                conn.sendall(block)
        except OSError:
            pass
    elif case == "bad_utf8":
        body = ev(b'{"choices":[{"index":0,"delta":{"content":"\xff\xfe bad"}}]}') + good_stream()
        conn.sendall(head(length=len(body)) + body)
    elif case == "bad_json":
        body = ev(b'{"choices":[{"index":0,"delta":{"content":"x"') + good_stream()
        conn.sendall(head(length=len(body)) + body)
    elif case == "deep_json":
        body = ev(b"[" * 100000 + b"]" * 100000) + good_stream()
        conn.sendall(head(length=len(body)) + body)
    elif case == "deep_body":
        body = b'{"choices":' + b"[" * 100000 + b"]" * 100000 + b"}"
        conn.sendall(head(ctype="application/json", length=len(body)) + body)
    elif case in ("usage_negative", "usage_huge", "usage_string"):
        v = {"usage_negative": b"-5", "usage_huge": b"1e300", "usage_string": b'"12"'}[case]
        body = good_stream(usage_value=v)
        conn.sendall(head(length=len(body)) + body)
    elif case == "done_first":
        body = b"data: [DONE]\n\n" + good_stream()
        conn.sendall(head(length=len(body)) + body)
    elif case == "done_twice":
        body = good_stream(done=2)
        conn.sendall(head(length=len(body)) + body)
    elif case == "gzip":
        body = gzip.compress(good_stream())
        conn.sendall(head(extra=["Content-Encoding: gzip"], length=len(body)) + body)
    elif case == "br":
        body = brotli_store(good_stream())
        conn.sendall(head(extra=["Content-Encoding: br"], length=len(body)) + body)
    elif case == "gzip_corrupt":
        body = b"\x1f\x8b\x08\x00this is not deflate data at all" * 4
        conn.sendall(head(extra=["Content-Encoding: gzip"], length=len(body)) + body)
    elif case == "chunk_bad":
        conn.sendall(head(chunked=True) + b"zz\r\n" + ev(CHUNK) + b"\r\n0\r\n\r\n")
    elif case == "chunk_cut":
        part = ev(CHUNK)
        conn.sendall(head(chunked=True) + b"%x\r\n%s\r\n" % (len(part), part))
    elif case == "headers_10k":
        body = good_stream()
        extra = ["X-Hostile-%d: v%d" % (i, i) for i in range(10000)]
        conn.sendall(head(extra=extra, length=len(body)) + body)
    elif case == "echo_auth":
        msg = "Incorrect API key provided: %s" % " / ".join(getattr(AUTH, "values", []))
        body = json.dumps({"error": {"message": msg, "type": "invalid_request_error"}}).encode()
        conn.sendall(head(status=401, ctype="application/json", length=len(body)) + body)
    elif case == "echo_auth_long":
        msg = "x" * 140 + " rejected credentials: %s" % " / ".join(
            v.split(" ")[-1] for v in getattr(AUTH, "values", []))
        body = json.dumps({"error": {"message": msg, "type": "invalid_request_error"}}).encode()
        conn.sendall(head(status=401, ctype="application/json", length=len(body)) + body)
    elif case == "echo_headers":
        msg = "request headers were: " + " | ".join(getattr(AUTH, "lines", []))
        body = json.dumps({"error": {"message": msg}}).encode()
        echo = " / ".join(getattr(AUTH, "values", [])) or "none"
        conn.sendall(head(status=401, ctype="application/json", length=len(body),
                          extra=["X-Echo: " + echo]) + body)
    elif case == "seen":
        with LOCK:
            body = json.dumps({"seen": SEEN}).encode()
        conn.sendall(head(status=200, ctype="application/json", length=len(body)) + body)
    elif case == "echo_auth_stream":
        msg = "key %s was revoked" % " / ".join(getattr(AUTH, "values", []))
        body = ev(CHUNK) + ev({"error": {"message": msg, "type": "server_error"}}) + b"data: [DONE]\n\n"
        conn.sendall(head(length=len(body)) + body)
    else:
        body = b'{"error":{"message":"unknown hostile case"}}'
        conn.sendall(head(status=404, ctype="application/json", length=len(body)) + body)
    try:
        conn.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    wait_close(conn, 5)
    conn.close()


def handle(conn):
    try:
        path = read_request(conn)
        if path is None:
            conn.close()
            return
        case = path.strip("/").split("/")[0]
        serve(conn, case)
    except OSError:
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass


def accept_loop(ls, ctx=None):
    while True:
        try:
            conn, _ = ls.accept()
        except OSError:
            return
        if ctx is not None:
            def tls(c=conn):
                try:
                    s = ctx.wrap_socket(c, server_side=True)
                except (OSError, ssl.SSLError):
                    c.close()   # the client refused our certificate: expected
                    return
                handle(s)
            threading.Thread(target=tls, daemon=True).start()
        else:
            threading.Thread(target=handle, args=(conn,), daemon=True).start()


def listen():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(512)
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    ls = listen()
    threading.Thread(target=accept_loop, args=(ls,), daemon=True).start()
    out = "PORT %d" % ls.getsockname()[1]
    if a.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        ts = listen()
        threading.Thread(target=accept_loop, args=(ts, ctx), daemon=True).start()
        out += "\nTLSPORT %d" % ts.getsockname()[1]
    print(out, flush=True)
    try:
        sys.stdin.read()   # until the test closes our stdin (or dies)
    except KeyboardInterrupt:
        pass
    os._exit(0)


if __name__ == "__main__":
    main()
