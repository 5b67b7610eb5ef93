"""The emulated server's faults, each switched on and off at runtime through
POST /mock/faults (effective on the next request) and counted in
/mock/stats: HTTP errors per status with retry headers, mid-stream error
events, stalls, disconnects, malformed chunks, slow TTFT, refused
connections; the seeded draw; validation; reset; faults set at start."""
import http.client
import json
import socket
import sys
import time

sys.dont_write_bytecode = True
from mocklib import Mock, chat, expect, finish, raw_http

PROFILE = {
    "model_defaults": {"ttft_ms": 5, "prefill_tok_s": 0, "decode_tok_s": 500, "jitter": 0},
    "models": {"fast": {}},
    "faults": {"stall_s": 1.5},
}
AB = {"model": "fast", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}


def sse(events):
    return [d for _, d, _ in events]


def contents(events):
    out = []
    for _, d, _ in events:
        if d.startswith("{"):
            try:
                j = json.loads(d)
            except ValueError:
                continue
            if j.get("choices") and j["choices"][0]["delta"].get("content"):
                out.append(j["choices"][0]["delta"]["content"])
    return out


with Mock(profile=PROFILE) as m:
    st, doc = m.json("GET", "/mock/faults")
    expect("faults document", st == 200 and doc["error_rate"] == 0 and doc["stall_s"] == 1.5)

    # ------------------------------------------------------ HTTP errors
    m.faults(error_rate=1.0, status=503)
    st, hd, body = m.request("POST", "/v1/chat/completions", chat("fast", max_tokens=2))
    doc = json.loads(body)
    expect("503 on the next request", st == 503 and doc["error"]["type"] == "server_error")
    expect("503 retry-after", hd.get("retry-after") == "1" and hd.get("retry-after-ms") == "1000")
    m.faults(error_rate=0)
    st, _, _ = m.request("POST", "/v1/chat/completions", chat("fast", max_tokens=2))
    expect("error_rate 0: next request ok", st == 200)

    m.faults(error_rate=1, status=429, retry_after=0.25, should_retry=False)
    st, hd, body = m.request("POST", "/v1/chat/completions", chat("fast", max_tokens=2))
    doc = json.loads(body)
    expect("429 rate limit shape", st == 429 and doc["error"]["code"] == "rate_limit_exceeded")
    expect("429 headers", hd.get("retry-after") == "1" and hd.get("retry-after-ms") == "250" and
           hd.get("x-should-retry") == "false")
    st, hd, body = m.request("POST", "/v1/messages", AB)
    doc = json.loads(body)
    expect("429 anthropic shape", st == 429 and doc["type"] == "error" and doc["error"]["type"] == "rate_limit_error")
    m.faults(status=529, retry_after=None, should_retry=None)
    st, hd, body = m.request("POST", "/v1/messages", AB)
    doc = json.loads(body)
    expect("529 overloaded_error", st == 529 and doc["error"]["type"] == "overloaded_error" and
           "retry-after" not in hd and "x-should-retry" not in hd)
    m.faults(status=500)
    st, hd, body = m.request("POST", "/v1/messages", AB)
    expect("500 api_error", st == 500 and json.loads(body)["error"]["type"] == "api_error")
    st, _, _ = m.request("GET", "/v1/models")
    expect("models never faulted", st == 200)

    # per-status rates and the seeded draw
    m.faults(error_rate=0, error_rates={"500": 0.5, "429": 0.5}, seed=5)
    seq1 = [m.request("POST", "/v1/chat/completions", chat("fast", max_tokens=1))[0] for _ in range(40)]
    expect("error_rates: only 500/429", set(seq1) == {500, 429}, set(seq1))
    m.faults(error_rates={"500": 0.3}, seed=5)
    seq2 = [m.request("POST", "/v1/chat/completions", chat("fast", max_tokens=1))[0] for _ in range(40)]
    m.faults(seed=5)
    seq3 = [m.request("POST", "/v1/chat/completions", chat("fast", max_tokens=1))[0] for _ in range(40)]
    expect("same seed, same draw", seq2 == seq3 and 200 in seq2 and 500 in seq2, (seq2, seq3))
    m.faults(error_rates={})
    stats = m.stats()["faults"]
    expect("stats count errors per status", stats["error_429"] >= 10 and stats["error_500"] >= 10 and
           stats["error_503"] == 1 and stats["error_529"] == 1 and
           stats["error"] == sum(v for k, v in stats.items() if k.startswith("error_")))

    # ---------------------------------------------------- stream faults
    m.faults(stream_error_rate=1, stream_error_after=3)
    st, hd, ev, raw = m.stream("/v1/chat/completions", chat("fast", max_tokens=8, stream=True))
    d = sse(ev)
    expect("stream error after 3 tokens", len(contents(ev)) == 3 and '"error"' in d[-2] and d[-1] == "[DONE]"
           and '"finish_reason":"length"' not in raw, d)
    st, hd, ev, raw = m.stream("/v1/messages", dict(AB, stream=True))
    names = [e for e, _, _ in ev]
    expect("anthropic event: error after 3 deltas", names.count("content_block_delta") == 3 and
           names[-1] == "error" and json.loads(ev[-1][1])["error"]["type"] == "overloaded_error"
           and "message_stop" not in names, names)
    m.faults(stream_error_rate=0)
    st, hd, ev, raw = m.stream("/v1/chat/completions", chat("fast", max_tokens=8, stream=True))
    expect("stream error off: next stream complete", len(contents(ev)) == 8 and sse(ev)[-1] == "[DONE]")

    m.faults(stall_rate=1, stall_after=2, stall_s=0.3)
    st, hd, ev, raw = m.stream("/v1/chat/completions", chat("fast", max_tokens=5, stream=True),
                               {"x-mock-request-id": "stall1"})
    rec = m.trace_done("stall1")
    gaps = [(b[1] - a[1]) / 1e9 for a, b in zip(rec["chunks"], rec["chunks"][1:])]
    expect("stall after 2 tokens", len(contents(ev)) == 5 and gaps[1] >= 0.3 and gaps[1] < 0.4 and
           max(gaps[0], gaps[2], gaps[3]) < 0.05 and rec["faults"] == ["stall"], gaps)
    t0 = time.monotonic()
    st, _, _ = m.request("POST", "/v1/chat/completions", chat("fast", max_tokens=5))
    expect("stall delays a non-streamed body", st == 200 and time.monotonic() - t0 >= 0.3)
    # a client that leaves during the stall: the request ends, nothing leaks
    m.faults(stall_after=1, stall_s=0.5)
    c = m.conn()
    c.request("POST", "/v1/chat/completions", json.dumps(chat("fast", max_tokens=5, stream=True)),
              {"x-mock-request-id": "stall2"})
    resp = c.getresponse()
    resp.readline()
    time.sleep(0.1)
    c.sock.close()
    c.close()
    rec = m.trace_done("stall2")
    expect("client gone during a stall", rec["outcome"] == "client_closed" and m.stats()["active_streams"] == 0,
           rec["outcome"])
    m.faults(stall_rate=0)

    m.faults(disconnect_rate=1, disconnect_after=4)
    st, hd, ev, raw = m.stream("/v1/chat/completions", chat("fast", max_tokens=10, stream=True),
                               {"x-mock-request-id": "disc1"})
    expect("disconnect after 4 tokens (reset)", len(contents(ev)) == 4 and "[DONE]" not in raw and
           raw.endswith(">>"), raw[-80:])
    rec = m.trace_done("disc1")
    expect("trace: disconnect", rec["outcome"] == "disconnect" and rec["output_tokens"] == 4)
    try:
        st, _, _ = m.request("POST", "/v1/chat/completions", chat("fast", max_tokens=3))
        ok = False
    except (ConnectionError, http.client.RemoteDisconnected):
        ok = True
    expect("disconnect: non-streamed request reset", ok)
    m.faults(disconnect_mode="close", disconnect_after=2)
    st, hd, ev, raw = m.stream("/v1/chat/completions", chat("fast", max_tokens=10, stream=True))
    expect("disconnect mode close", len(contents(ev)) == 2 and "[DONE]" not in raw)
    m.faults(disconnect_rate=0, disconnect_mode="reset")

    m.faults(malformed_rate=1, malformed_after=2)
    st, hd, ev, raw = m.stream("/v1/chat/completions", chat("fast", max_tokens=4, stream=True))
    bad = []
    for d in sse(ev):
        if d != "[DONE]":
            try:
                json.loads(d)
            except ValueError:
                bad.append(d)
    expect("malformed chunk then the stream goes on", len(bad) == 1 and len(contents(ev)) == 4 and
           sse(ev)[-1] == "[DONE]", bad)
    st, _, body = m.request("POST", "/v1/chat/completions", chat("fast", max_tokens=4))
    try:
        json.loads(body)
        ok = False
    except ValueError:
        ok = True
    expect("malformed: truncated non-streamed body", st == 200 and ok)
    m.faults(malformed_mode="http", malformed_after=1)
    st, hd, ev, raw = m.stream("/v1/chat/completions", chat("fast", max_tokens=4, stream=True))
    expect("malformed http chunk breaks the framing", len(contents(ev)) == 1 and "[DONE]" not in raw)
    m.faults(malformed_rate=0, malformed_mode="json")

    m.faults(slow_ttft_rate=1, slow_ttft_s=0.25)
    st, hd, ev, raw = m.stream("/v1/chat/completions", chat("fast", max_tokens=3, stream=True),
                               {"x-mock-request-id": "slow1"})
    rec = m.trace_done("slow1")
    ttft = (rec["first_token_ns"] - rec["arrival_ns"]) / 1e9
    expect("slow ttft adds its delay", 0.25 <= ttft < 0.3 and rec["faults"] == ["slow_ttft"], ttft)
    m.faults(slow_ttft_rate=0)
    st, hd, ev, raw = m.stream("/v1/chat/completions", chat("fast", max_tokens=3, stream=True),
                               {"x-mock-request-id": "slow2"})
    rec = m.trace_done("slow2")
    expect("slow ttft off", (rec["first_token_ns"] - rec["arrival_ns"]) / 1e9 < 0.05)

    # ----------------------------------------------------- refuse connections
    keep = m.conn()
    st, _, body = m.request("POST", "/mock/faults", {"refuse_connections": True}, conn=keep)
    try:
        socket.create_connection((m.host, m.port), timeout=2).close()
        refused = False
    except ConnectionRefusedError:
        refused = True
    expect("refuse_connections: new connections refused", st == 200 and refused)
    st, _, _ = m.request("POST", "/v1/chat/completions", chat("fast", max_tokens=2), conn=keep)
    expect("open connections still served", st == 200)
    st, _, _ = m.request("POST", "/mock/faults", {"refuse_connections": False}, conn=keep)
    keep.close()
    st, _, _ = m.request("POST", "/v1/chat/completions", chat("fast", max_tokens=2))
    expect("resume: same port accepts again", st == 200)
    m.faults(refuse_connections=True, refuse_s=0.3)
    time.sleep(0.1)
    try:
        socket.create_connection((m.host, m.port), timeout=2).close()
        refused = False
    except ConnectionRefusedError:
        refused = True
    time.sleep(0.4)
    st, doc = m.json("GET", "/mock/faults")
    expect("refuse_s: refused, then resumes by itself", refused and st == 200 and
           doc["refuse_connections"] is False)

    # ------------------------------------------------------- validation
    for bad in ({"error_rate": 2}, {"bogus": 1}, {"status": 200}, {"stall_s": -1},
                {"disconnect_mode": "boom"}, {"error_rates": {"abc": 1}}):
        st, doc = m.json("POST", "/mock/faults", bad)
        expect("invalid faults %r -> 400" % bad, st == 400 and "error" in doc)
    st, doc = m.json("POST", "/mock/faults", "not json")
    expect("non-JSON faults -> 400", st == 400)
    st, doc = m.json("GET", "/mock/faults")
    expect("a refused body changes nothing", doc["error_rate"] == 0 and doc["stall_s"] == 0.5)
    doc = m.faults(reset=True)
    expect("reset restores the start faults", doc["stall_s"] == 1.5 and doc["stall_rate"] == 0)

    stats = m.stats()["faults"]
    expect("every fault counted", stats["stream_error"] == 2 and stats["stall"] == 3 and
           stats["disconnect"] == 3 and stats["malformed"] == 3 and stats["slow_ttft"] == 1 and
           stats["refuse_connections"] == 2, stats)

# faults from the command line apply from the first request
with Mock(profile=PROFILE, args=["--faults", '{"error_rate": 1, "status": 503}']) as m:
    st, _, _ = m.request("POST", "/v1/chat/completions", chat("fast", max_tokens=1))
    expect("--faults at start", st == 503)
    m.faults(reset=True)
    st, _, _ = m.request("POST", "/v1/chat/completions", chat("fast", max_tokens=1))
    expect("reset keeps the start faults", st == 503)
    m.faults(error_rate=0)
    st, _, _ = m.request("POST", "/v1/chat/completions", chat("fast", max_tokens=1))
    expect("and they can be switched off", st == 200)

finish()
