"""mock_body_rss.py: what one large request body costs the emulator in
memory -- its peak RSS (VmHWM) over its RSS before the request -- for bodies
of the three shapes that stress a JSON parser differently, each just under
the default 8 MiB request limit:

  ids       /v1/completions, "prompt": [1,1,1,...]  (one tiny value per 2 bytes)
  messages  /v1/chat/completions, 200,000 small {role, content} messages
  text      /v1/chat/completions, one 8 MB message content

    python3 bench/mock_body_rss.py [MLXBENCH...]

Each binary's mock runs as its own process (Linux: /proc/PID/status); every
shape gets a fresh mock, three rounds, median printed. The request is
answered (max_tokens 1) so the whole parse and validation path runs."""
import json
import os
import socket
import statistics
import subprocess
import sys
import time

SIZE = 8_000_000


def bodies():
    n = (SIZE - 64) // 2
    ids = '{"model":"m","max_tokens":1,"prompt":[' + ",".join(["1"] * n) + "]}"
    msg = '{"role":"user","content":"hi there"}'
    k = (SIZE - 80) // (len(msg) + 1)
    msgs = '{"model":"m","max_tokens":1,"messages":[' + ",".join([msg] * k) + "]}"
    text = json.dumps({"model": "m", "max_tokens": 1,
                       "messages": [{"role": "user", "content": "x" * (SIZE - 100)}]})
    return [("ids", "/v1/completions", ids), ("messages", "/v1/chat/completions", msgs),
            ("text", "/v1/chat/completions", text)]


def status(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def post(port, path, body):
    s = socket.create_connection(("127.0.0.1", port))
    b = body.encode()
    s.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\nConnection: close\r\n\r\n" % (path.encode(), len(b)) + b)
    out = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
    s.close()
    return out.split(b" ", 2)[1]


def one(binary, path, body):
    prof = json.dumps({"builtin_models": False, "any_model": True,
                       "models": {"m": {"ttft_ms": 0, "decode_tok_s": 1e6, "prefill_tok_s": 0}}})
    p = subprocess.Popen([binary, "mock", "--port", "0", "--quiet", "--profile", "/dev/stdin"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    p.stdin.write(prof.encode())
    p.stdin.close()
    url = p.stdout.readline().decode().strip()
    port = int(url.rsplit(":", 1)[1])
    time.sleep(0.2)
    before = status(p.pid, "VmRSS")
    code = post(port, path, body)
    peak = status(p.pid, "VmHWM")
    p.terminate()
    p.wait()
    return code, before, peak - before


def main():
    bins = sys.argv[1:] or [os.environ.get("MLXBENCH", "build/mlxbench")]
    shapes = bodies()
    print("body %.1f MB; peak RSS over the RSS before the request, median of 3 (MB)" % (SIZE / 1e6))
    print("%-40s %-9s %6s %10s %8s" % ("binary", "shape", "status", "extra_MB", "x_body"))
    for b in bins:
        for name, path, body in shapes:
            runs = [one(b, path, body) for _ in range(3)]
            extra = statistics.median(r[2] for r in runs)
            print("%-40s %-9s %6s %10.1f %8.1f" % (b[-40:], name, runs[0][0].decode(), extra / 1e6,
                                                  extra / len(body)))


main()
