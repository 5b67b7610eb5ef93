#!/usr/bin/env python3
"""mlxbench against a third-party OpenAI mock, npm @dwmkerr/mock-llm
(tests/node/package.json): it echoes the last user message, streams it in
50-character chunks and never sends usage (issue 14 item 5). Before, a
reply streamed as 3 chunks counted as 3 "tokens" and the same reply not
streamed as 33, both shown as plain numbers; now both are marked estimated
(~) in the table, the Markdown and the results file, with the note on how
to get exact counts."""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from mocklib import expect, finish, MLXBENCH, die_with_parent   # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
NODE_DIR = os.path.join(ROOT, "tests", "node")
MAIN = os.path.join(NODE_DIR, "node_modules", "@dwmkerr", "mock-llm", "dist", "main.js")


def skip(why):
    print("SKIP: " + why)
    sys.exit(77)


def ensure_installed():
    """tools/test.sh installs tests/node/node_modules (npm ci) before ctest
    runs; without them the test is skipped, never installed from here"""
    if subprocess.run(["sh", "-c", "command -v node"], capture_output=True).returncode != 0:
        skip("node is not installed (tools/deps.sh test installs it)")
    if not os.path.exists(MAIN):
        skip("tests/node/node_modules/@dwmkerr/mock-llm is missing (run: cd tests/node && npm ci)")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


ensure_installed()
TMP = tempfile.TemporaryDirectory()
cfg = os.path.join(TMP.name, "mock-llm.yaml")
with open(cfg, "w") as f:
    f.write("""streaming:
  chunkSize: 50
  chunkIntervalMs: 20
rules:
  - path: "/v1/chat/completions"
    method: "POST"
    match: "@"
    response:
      status: 200
      content: |
        {"id": "chatcmpl-{{timestamp}}", "object": "chat.completion", "model": "{{jmes request body.model}}",
         "choices": [{"message": {"role": "assistant", "content": "{{jmes request body.messages[-1].content}}"},
                      "finish_reason": "stop"}]}
  - path: "/v1/models"
    method: "GET"
    response:
      status: 200
      content: '{"object": "list", "data": [{"id": "gpt-4", "object": "model", "owned_by": "openai"}]}'
""")
port = free_port()
env = dict(os.environ, HOST="127.0.0.1", PORT=str(port))
log = open(os.path.join(TMP.name, "mock-llm.log"), "w")
srv = subprocess.Popen(["node", MAIN, "--config", cfg], cwd=TMP.name, env=env, stdout=log, stderr=log,
                       preexec_fn=die_with_parent)
url = "http://127.0.0.1:%d" % port
for _ in range(200):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        break
    except OSError:
        if srv.poll() is not None:
            break
        time.sleep(0.05)
else:
    srv.kill()
    skip("mock-llm did not start")
if srv.poll() is not None:
    print(open(log.name).read())
    expect("mock-llm started", False)
    finish()

TEXT = ("The quick brown fox jumps over the lazy dog while the benchmark counts every chunk "
        "that the server streams back to it, one by one.")   # 130 characters: chunks of 50, 50, 30
assert len(TEXT) == 130


def run(*args):
    out = os.path.join(TMP.name, "r.json")
    p = subprocess.run([MLXBENCH, "run", "-m", "gpt-4", "--url", url, "--prompt", TEXT, "-n", "3",
                        "--progress", "none", "-o", out, *args], capture_output=True, text=True, timeout=120)
    doc = json.load(open(out)) if p.returncode == 0 else None
    return p, doc and doc["runs"][0]


try:
    p, r = run()
    expect("streamed: runs against mock-llm", p.returncode == 0 and r and r["requests"]["ok"] == 3, p.stderr[-500:])
    if r:
        q = r["per_request"][0]
        expect("streamed: 3 chunks of 50, 50, 30 characters = 3 events per reply",
               q["output_tokens"] == 3 and q["token_source"] == "events", q)
        expect("streamed: the results file says estimated", r["tokens"]["estimated"] is True and
               r["tokens"]["token_source"] == "events" and r["tokens"]["prompt_token_source"] == "chars/4",
               r["tokens"])
        row = [l for l in p.stdout.split("Tokens")[1].splitlines() if l.startswith("c=1 ")][0]
        expect("streamed: the table marks the counts", row.split()[1:4] == ["~99", "~9", "~3.0"], row)
        expect("streamed: and tells why, once", p.stdout.count("~ estimated:") == 1 and
               "stream_options.include_usage" in p.stdout, p.stdout[-900:])
        md = subprocess.run([MLXBENCH, "report", os.path.join(TMP.name, "r.json"), "--format", "md"],
                            capture_output=True, text=True).stdout
        expect("streamed: Markdown marks them too", "| ~9 |" in md and "~ estimated:" in md, md)
    p, r = run("--no-stream")
    expect("not streamed: runs", p.returncode == 0 and r, p.stderr[-500:])
    if r:
        q = r["per_request"][0]
        expect("not streamed: bytes/4 = 33, marked as an estimate", q["output_tokens"] == 33 and
               q["token_source"] == "bytes/4" and r["tokens"]["estimated"] is True, q)
        row = [l for l in p.stdout.split("Tokens")[1].splitlines() if l.startswith("c=1 ")][0]
        expect("not streamed: the table marks them", "~99" in row and "bytes/4 ~" in row, row)
finally:
    srv.terminate()
    srv.wait(10)
finish()
