#!/usr/bin/env python3
# tier: slow (not in tools/test.sh --fast)
"""Secrets never leak (docs/RELIABILITY.md, "Secrets"): every command runs
with canary API keys in the environment -- run (ok, 401, a server that
echoes the key back in its error message and in a stream error event,
--verbose, MLXBENCH_CURL_VERBOSE=1, --progress plain, --mock-trace), suite
(its cloud rows send the keys and fail), a Lua script with api_key in the
target, report (every format), compare, merge, and the mock itself -- and
every byte written (stdout, stderr, every file left behind) is scanned for
the keys and for any 8-character piece of their random parts.

Also (issue 15): one rule for every key -- an environment key goes only to
its provider's host unless named (--api-key-env), a named variable that is
not set is an error, a 401 from a host that got no key says which variable
to name, no key over plain http:// to a host that is not loopback without
--allow-http-key; a key echoed past a message's cut, in a response header
(curl trace), in custom secret headers or in a URL is redacted everywhere.

Also: the mock's control endpoints need a token on a non-loopback address."""
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mocklib import expect, finish, die_with_parent, matrix_row, MLXBENCH, ROOT, Mock  # noqa: E402

MLXBENCH = os.path.abspath(MLXBENCH)
TMP = tempfile.TemporaryDirectory()
RAND = [secrets.token_hex(16) for _ in range(3)]
OPENAI_KEY = "sk-canary-" + RAND[0]
ANTHROPIC_KEY = "sk-ant-canary-" + RAND[1]
SCRIPT_KEY = "canary-script-" + RAND[2]
KEYS = [OPENAI_KEY, ANTHROPIC_KEY, SCRIPT_KEY]


def new_key(prefix):
    """A canary whose random part is scanned for like the others."""
    r = secrets.token_hex(16)
    RAND.append(r)
    KEYS.append(prefix + r)
    return prefix + r


LONG_KEY = new_key("Q")            # not sk-shaped: only the registry can find it
HDR_KEYS = [new_key("azure-"), new_key("custom-"), new_key("team-")]
URL_KEYS = [new_key("u1-"), new_key("u2-")]
ENV = dict(os.environ, OPENAI_API_KEY=OPENAI_KEY, ANTHROPIC_API_KEY=ANTHROPIC_KEY,
           LOCAL_KEY=OPENAI_KEY, LONG_KEY=LONG_KEY)
OUTPUTS = []   # (what, bytes)
CASES = {"secrets": 0, "control": 0}   # hostile cases run (RELIABILITY.md's matrix rows)


def leaks(data):
    """The pieces of a key found in data (whole keys, or 8-char windows of
    their random parts, so a partly masked echo such as sk-abc...wxyz that
    still shows 8 characters counts)."""
    found = []
    for k, r in zip(KEYS, RAND):
        if k.encode() in data:
            found.append(k)
            continue
        for i in range(len(r) - 7):
            if r[i:i + 8].encode() in data:
                found.append(r[i:i + 8])
                break
    return found


def run(what, args, env=ENV, timeout=120, rc_ok=(0, 1)):
    p = subprocess.run([MLXBENCH] + args, capture_output=True, timeout=timeout, env=env,
                       cwd=TMP.name)
    OUTPUTS.append((what + " stdout", p.stdout))
    OUTPUTS.append((what + " stderr", p.stderr))
    expect("%s: exit %s" % (what, rc_ok), p.returncode in rc_ok,
           "rc=%d %s" % (p.returncode, p.stderr[-800:].decode(errors="replace")))
    return p


def f(name):
    return os.path.join(TMP.name, name)


def seen(path_part):
    """The credentials the hostile server saw on requests whose path holds
    path_part."""
    with urllib.request.urlopen(hbase + "seen", timeout=5) as r:
        doc = json.load(r)
    return [v for p, vals in doc["seen"] for v in vals if path_part in p]


def key_rule(common):
    """Where each key goes (issue 15 item 1, issue 14 item 10)."""
    CASES["secrets"] += 11   # the runs below, each a hostile input
    # a provider's variable never goes to another host, whatever the API
    run("claude model, local url: no key", ["run", "--url", hbase + "ok/claude", "-m",
                                             "claude-3-5-haiku-latest", "-o", f("k1.json")] + common)
    expect("ANTHROPIC_API_KEY not sent to a local server (claude model)", seen("/ok/claude") == [],
           str(seen("/ok/claude")))
    run("anthropic api, local url: no key", ["run", "--url", hbase + "ok/anth", "--api", "anthropic",
                                              "-m", "m", "-o", f("k2.json")] + common)
    expect("ANTHROPIC_API_KEY not sent with --api anthropic either", seen("/ok/anth") == [])
    run("gpt model, local url: no key", ["run", "--url", hbase + "ok/gpt", "-m", "gpt-4o-mini",
                                          "-o", f("k3.json")] + common)
    expect("OPENAI_API_KEY not sent to a local server", seen("/ok/gpt") == [])
    # named: sent to this host
    run("named anthropic key", ["run", "--url", hbase + "ok/named", "--api", "anthropic", "-m", "m",
                                "--api-key-env", "ANTHROPIC_API_KEY", "-o", f("k4.json")] + common)
    expect("--api-key-env ANTHROPIC_API_KEY: sent as x-api-key", seen("/ok/named") != []
           and all(v == ANTHROPIC_KEY for v in seen("/ok/named")))
    # a named variable that is not set: a clear error, nothing sent
    p = run("named but unset", ["run", "--url", hbase + "ok/unset", "-m", "m", "--api-key-env",
                                "MLXBENCH_NO_SUCH_VAR"] + common, rc_ok=(2,))
    err = p.stderr.decode()
    expect("unset --api-key-env: one clear line", "MLXBENCH_NO_SUCH_VAR, which is not set" in err
           and "traceback" not in err, err[-600:])
    expect("unset --api-key-env: no request sent", seen("/ok/unset") == [])
    # a 401 from a host that got no key says which variable to name
    run("401 hint", ["run", "--url", hbase + "echo_auth", "-m", "local-model", "-o", f("hint.json")]
        + common)
    doc = json.load(open(f("hint.json")))
    msg = doc["runs"][0]["per_request"][0]["error"]["message"]
    expect("401 without a key names the variable and the flag",
           "OPENAI_API_KEY is set but is sent only to api.openai.com" in msg
           and "--api-key-env OPENAI_API_KEY" in msg, msg)
    # plain http to a host that is not loopback: refused, unless allowed
    p = run("http to a remote host", ["run", "--url", "http://192.0.2.1:9", "-m", "m",
                                      "--api-key-env", "LOCAL_KEY"] + common, rc_ok=(2,))
    expect("key over plain http to 192.0.2.1 refused", b"refusing to send the API key over plain http://"
           in p.stderr and b"--allow-http-key" in p.stderr, p.stderr[-400:].decode())
    p = run("http to a remote host, allowed", ["run", "--url", "http://192.0.2.1:9", "-m", "m",
                                               "--api-key-env", "LOCAL_KEY", "--allow-http-key",
                                               "--timeout", "0.5", "-n", "1", "--warmup", "0", "-q"],
            rc_ok=(1,))
    # a key that is not sk-shaped, echoed past the ~200-character cut
    for api in ("openai", "anthropic"):
        run("echo long %s" % api, ["run", "--url", hbase + "echo_auth_long", "--api", api, "-m", "m",
                                   "--api-key-env", "LONG_KEY", "--verbose",
                                   "-o", f("long-%s.json" % api)] + common)
    # a server echoing credentials in a response header: the libcurl trace
    run("echo header, curl trace", ["run", "--url", hbase + "echo_headers", "--api", "anthropic",
                                    "-m", "m", "--api-key-env", "ANTHROPIC_API_KEY", "--verbose",
                                    "-o", f("echo-hdr.json")] + common,
        env=dict(ENV, MLXBENCH_CURL_VERBOSE="1"))


# a hostile server that echoes credentials back
hs = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests/e2e/hostile_server.py")],
                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, preexec_fn=die_with_parent)
hport = int(hs.stdout.readline().split()[1])
hbase = "http://127.0.0.1:%d/" % hport

try:
    with Mock(args=["--api-key", ANTHROPIC_KEY]) as m:
        common = ["-n", "2", "--warmup", "0", "--max-tokens", "8", "--progress", "plain"]
        # ok, with the key; verbose, libcurl trace, ground truth trace
        env = dict(ENV, MLXBENCH_CURL_VERBOSE="1")
        p = run("run anthropic ok", ["run", "--url", m.url, "--api", "anthropic", "-m", "claude-3-5-haiku-latest",
                                      "--api-key-env", "ANTHROPIC_API_KEY",
                                      "--verbose", "-o", f("ok.json")] + common, env=env)
        expect("curl trace shows the key header, redacted",
               b"x-api-key: [REDACTED]" in p.stderr, p.stderr[-1500:].decode(errors="replace"))
        expect("the requests succeeded with the key", b"2/2" in p.stdout, p.stdout.decode())
        # 401: a key the server refuses
        env401 = dict(ENV, ANTHROPIC_API_KEY="sk-ant-canary-" + RAND[1][::-1], MLXBENCH_CURL_VERBOSE="1")
        KEYS.append(env401["ANTHROPIC_API_KEY"])
        RAND.append(RAND[1][::-1])
        p = run("run anthropic 401", ["run", "--url", m.url, "--api", "anthropic", "-m", "claude-3-5-haiku-latest",
                                       "--api-key-env", "ANTHROPIC_API_KEY",
                                       "--verbose", "-o", f("401.json")] + common, env=env401)
        expect("401 reported", b"http_401" in open(f("401.json"), "rb").read())
        # OpenAI shape with a key from a named variable (Bearer)
        run("run openai bearer", ["run", "--url", m.url, "-m", "small", "--api-key-env", "LOCAL_KEY",
                                  "--verbose", "-o", f("bearer.json")] + common, env=env)
    # servers that echo the key back
    CASES["secrets"] += 3
    for case, api in (("echo_auth", "openai"), ("echo_auth", "anthropic"),
                      ("echo_auth_stream", "openai")):
        out = f("%s-%s.json" % (case, api))
        run("run %s %s" % (case, api), ["run", "--url", hbase + case, "--api", api, "-m", "m",
                                         "--api-key-env", "LOCAL_KEY" if api == "openai" else
                                         "ANTHROPIC_API_KEY", "--verbose", "-o", out] + common)
        doc = open(out, "rb").read()
        expect("%s %s: the echoed message is kept, redacted" % (case, api),
               b"REDACTED" in doc, doc[-600:].decode(errors="replace"))
    key_rule(common)
    # the cloud targets: keys sent, network unreachable here
    run("run cloud", ["run", "--url", "https://api.openai.com", "-m", "gpt-4o-mini", "-n", "1",
                      "--warmup", "0", "--timeout", "5", "--verbose", "-o", f("cloud.json")],
        env=dict(ENV, MLXBENCH_CURL_VERBOSE="1"))
    run("run mock + trace", ["run", "--mock", "-m", "small", "--mock-trace", f("trace.json"),
                             "-o", f("mock.json")] + common)
    run("suite", ["suite", "--mock", "-n", "1", "-o", f("suite.json")], timeout=300)
    # a script with the key in the target
    script = f("s.lua")
    with open(script, "w") as fh:
        fh.write("""
local mb = require "mlxbench"
local srv = mb.mock.start{ port = 0, api_key = %s }
local t = mb.target{ url = srv.url, api_key = %s, name = "scripted" }
print(t, t:public().url)
local run = mb.bench{ target = t, model = "small", requests = 2, max_tokens = 4 }
local bad = mb.bench{ target = mb.target{ url = %s, api_key = %s }, model = "m", requests = 1 }
local doc = mb.results.new()
mb.results.add(doc, run)
mb.results.add(doc, bad)
mb.results.write(doc, %s)
print(mb.report.table(doc))
print(bad.per_request[1].error.message)
srv:stop()
""" % tuple(json.dumps(x) for x in (SCRIPT_KEY, SCRIPT_KEY, hbase + "echo_auth", SCRIPT_KEY,
                                      f("script.json"))))
    run("script", [script])
    # custom secret headers (Azure's api-key, a user-marked one) and URLs
    # with credentials, in a script: echoed back, printed, written
    CASES["secrets"] += 1
    script2 = f("s2.lua")
    with open(script2, "w") as fh:
        fh.write("""
local mb = require "mlxbench"
local ok, e = pcall(mb.target, { url = "ftp://host/?key=" .. %s .. "&sig=" .. %s })
print(e)
local t = mb.target{ url = %s, name = "hdr", headers = { ["api-key"] = %s,
  ["X-Custom-Auth"] = %s, "X-Team-Pass: " .. %s }, secret_headers = { "X-Team-Pass" } }
local run = mb.bench{ target = t, model = "m", requests = 1, max_tokens = 4 }
print(run.per_request[1].error.message)
local u = mb.target{ url = "https://user:" .. %s .. "@127.0.0.1:1/v1?access_token=" .. %s }
print(u, u:public().url)
local doc = mb.results.new()
mb.results.add(doc, run)
mb.results.write(doc, %s)
""" % tuple(json.dumps(x) for x in (URL_KEYS[0], URL_KEYS[1], hbase + "echo_headers", HDR_KEYS[0],
                                      HDR_KEYS[1], HDR_KEYS[2], URL_KEYS[0], URL_KEYS[1],
                                      f("script2.json"))))
    p = run("script: secret headers and URLs", [script2])
    expect("the ftp URL error is redacted", b"key=REDACTED&sig=REDACTED" in p.stdout,
           p.stdout[:400].decode(errors="replace"))
    expect("the echoed headers are redacted", b"[REDACTED]" in p.stdout
           and b"access_token=REDACTED" in p.stdout,
           p.stdout[-600:].decode(errors="replace"))
    # reading commands on every results file
    for name in ("ok.json", "401.json", "suite.json"):
        for fmt in ("md", "csv", "html"):
            run("report %s %s" % (name, fmt), ["report", f(name), "--format", fmt, "-o",
                                                f("%s.%s" % (name, fmt))], rc_ok=(0,))
        run("report %s table" % name, ["report", f(name)], rc_ok=(0,))
    run("compare", ["compare", f("ok.json"), f("ok.json")], rc_ok=(0, 1, 2))
    run("merge", ["merge", f("ok.json"), f("ok.json"), "--force", "-o", f("merged.json")],
        rc_ok=(0, 1, 2))
finally:
    hs.stdin.close()
    hs.terminate()
    hs.wait(5)

# every byte written: outputs and every file left behind
for root, _, files in os.walk(TMP.name):
    for n in files:
        if n in ("s.lua", "s2.lua"):
            continue   # the script itself holds its key by design
        with open(os.path.join(root, n), "rb") as fh:
            OUTPUTS.append(("file " + n, fh.read()))
total = 0
for what, data in OUTPUTS:
    total += len(data)
    found = leaks(data)
    expect("no key in %s" % what, not found, "found %s" % found)
expect("scanned a real amount of output", total > 20000, str(total))
print("scanned %d outputs, %d bytes" % (len(OUTPUTS), total))


# the mock's control endpoints off loopback
def first_ip():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))
        return s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()


def get(url, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


ip = first_ip()
if ip and not ip.startswith("127."):
    with Mock(args=["--host", "0.0.0.0"]) as m:
        base = "http://%s:%d" % (ip, m.port)
        expect("no token, all interfaces: /mock/stats refused (403)", get(base + "/mock/stats") == 403)
        expect("no token: POST /mock/faults refused too",
               get(base + "/mock/faults") == 403)
        expect("the API itself still answers", get(base + "/v1/models") == 200)
        expect("banner says the control endpoints are off", "are off" in m.stderr())
    token = "tok-" + secrets.token_hex(8)
    with Mock(args=["--host", "0.0.0.0", "--control-token", token]) as m:
        base = "http://%s:%d" % (ip, m.port)
        expect("token set: without it 401", get(base + "/mock/stats") == 401)
        expect("token set: wrong one 401", get(base + "/mock/stats", {"X-Mock-Token": "x" * 12}) == 401)
        expect("token set: X-Mock-Token works", get(base + "/mock/stats", {"X-Mock-Token": token}) == 200)
        expect("token set: Bearer works",
               get(base + "/mock/stats", {"Authorization": "Bearer " + token}) == 200)
        expect("the token is not printed", token not in m.stderr())
def raw(port, method, path, headers):
    """A request with exactly these headers (urllib always sets Host)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    body = b'{"error_rates":{"503":1}}' if method == "POST" else b""
    head = "%s %s HTTP/1.1\r\n" % (method, path) + "".join("%s: %s\r\n" % kv for kv in headers)
    head += "Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
    s.sendall(head.encode() + body)
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    return int(data.split(b" ", 2)[1]), data


with Mock() as m:
    expect("loopback, no token: control endpoints open", get(m.url + "/mock/stats") == 200)
    here = "127.0.0.1:%d" % m.port
    # a web page: its POST carries Origin; DNS rebinding: its Host is the attacker's name
    cases = (
        ("cross-origin POST /mock/faults", "POST", [("Host", here), ("Origin", "http://evil.example")], 403),
        ("cross-origin GET /mock/faults", "GET", [("Host", here), ("Origin", "https://evil.example")], 403),
        ("Origin: null (sandboxed page)", "POST", [("Host", here), ("Origin", "null")], 403),
        ("loopback origin, other port", "POST", [("Host", here), ("Origin", "http://127.0.0.1:1")], 403),
        ("DNS rebinding (Host evil.example:PORT)", "POST", [("Host", "evil.example:%d" % m.port)], 403),
        ("Host 127.0.0.1 on another port", "GET", [("Host", "127.0.0.1:1")], 403),
        ("curl-like GET", "GET", [("Host", here)], 200),
        ("no Host at all (HTTP/1.0 style)", "GET", [], 200),
        ("Host localhost:PORT", "GET", [("Host", "localhost:%d" % m.port)], 200),
        ("same-origin page", "POST", [("Host", here), ("Origin", "http://" + here)], 200))
    CASES["control"] += len(cases)
    for what, method, hdrs, want in cases:
        if want == 200 and method == "POST":
            st, data = raw(m.port, "GET", "/mock/faults", [("Host", here)])
            expect("refused cross-site POSTs changed no fault",
                   b'"503":1' not in data.replace(b" ", b""), data[-400:])
        st, data = raw(m.port, method, "/mock/faults", hdrs)
        expect("control endpoint, %s: %d" % (what, want), st == want, "%d %s" % (st, data[-300:]))
        if want == 403:
            expect("%s: says why" % what, b"cross-site" in data, data[-300:])
    st, _ = raw(m.port, "GET", "/v1/models", [("Host", "evil.example"), ("Origin", "http://evil.example")])
    expect("the API itself still answers any Host (servers behind proxies)", st == 200)
token = "tok-" + secrets.token_hex(8)
with Mock(args=["--control-token", token]) as m:
    CASES["control"] += 2
    st, _ = raw(m.port, "POST", "/mock/faults", [("Host", "evil.example"), ("Origin", "http://evil.example"),
                                                  ("X-Mock-Token", token)])
    expect("with the control token, a cross-site request is allowed", st == 200, str(st))
    st, _ = raw(m.port, "POST", "/mock/faults", [("Host", "127.0.0.1:%d" % m.port)])
    expect("with a token set, none given: 401", st == 401, str(st))
matrix_row("secrets:", CASES["secrets"])
matrix_row("clients of the emulator's control endpoints:", CASES["control"])
finish()
