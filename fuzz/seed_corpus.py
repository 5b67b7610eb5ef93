#!/usr/bin/env python3
"""seed_corpus.py: (re)writes the seed corpora of the fuzz targets from the
wire fixtures (tests/fixtures/wire, copied from ../shared/fixtures/wire) and
hand-made hostile cases. Run from the repository root:

    python3 fuzz/seed_corpus.py

The corpora are committed; fuzz/run.sh fuzzes copies of them."""
import hashlib
import json
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WIRE = os.path.join(ROOT, "tests", "fixtures", "wire")
OUT = os.path.join(ROOT, "fuzz", "corpus")


def put(corpus, name, data):
    d = os.path.join(OUT, corpus)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def api_of(name):
    if name.startswith("anthropic"):
        return 2
    if "completion_stream" in name or "generate" in name:
        return 1
    return 0


def sse(*datas, event=None):
    out = ""
    for d in datas:
        if event:
            out += "event: %s\n" % event
        out += "data: %s\n\n" % d
    return out


CHUNK = '{"choices":[{"index":0,"delta":{"content":"%s"},"finish_reason":null}]}'
USAGE = '{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":%s}}'

# --- llm: byte 0 = api (0 openai, 1 completions, 2 anthropic) | 4 capture
fixtures = sorted(os.listdir(WIRE))
for name in fixtures:
    if name.endswith((".sse", ".json", ".ndjson")):
        data = open(os.path.join(WIRE, name), "rb").read()
        put("llm", name, bytes([api_of(name) | 4]) + data)
hostile = {
    "done_first": sse("[DONE]", CHUNK % "a"),
    "done_twice": sse(CHUNK % "a", "[DONE]", "[DONE]"),
    "usage_negative": sse(CHUNK % "a", USAGE % "-5", "[DONE]"),
    "usage_huge": sse(CHUNK % "a", USAGE % "1e300", "[DONE]"),
    "usage_string": sse(CHUNK % "a", USAGE % '"12"', "[DONE]"),
    "usage_fraction": sse(CHUNK % "a", USAGE % "2.5", "[DONE]"),
    "bad_json": sse('{"choices":[{"delta":{"content":"a"', "[DONE]"),
    "bad_utf8": b"data: {\"choices\":[{\"delta\":{\"content\":\"\xff\xfe\"}}]}\n\ndata: [DONE]\n\n",
    "deep": sse("[" * 300 + "]" * 300, "[DONE]"),
    "error_obj": sse('{"error":{"message":"boom \\u001b[31m","type":"server_error"}}', "[DONE]"),
    "error_event": "event: error\ndata: not json\n\n",
    "no_newline": "data: " + "x" * 300,
    "done_no_blank": sse(CHUNK % "a") + "data: [DONE]",
    "tool_args": sse('{"choices":[{"delta":{"tool_calls":[{"function":{"arguments":"{}"}}]}}]}', "[DONE]"),
    "reasoning": sse('{"choices":[{"delta":{"reasoning_content":"hm"}}]}', CHUNK % "b", "[DONE]"),
}
for k, v in hostile.items():
    put("llm", "openai_" + k, bytes([0]) + (v.encode() if isinstance(v, str) else v))
put("llm", "legacy_text", bytes([1]) + sse('{"choices":[{"text":"hi","index":0}]}', "[DONE]").encode())
put("llm", "anthropic_minimal", bytes([2 | 4]) + (
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":3}}}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}\n\n"
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":-1}}\n\n"
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n").encode())
put("llm", "anthropic_stop_first", bytes([2]) + b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
put("llm", "html_page", bytes([0]) + b"<html><body><h1>502 Bad Gateway</h1></body></html>")

# --- json: every data payload of the fixtures, whole JSON files, hostile cases
n = 0
for name in fixtures:
    text = open(os.path.join(WIRE, name), "rb").read()
    if name.endswith(".json"):
        put("json", name, text)
    for k, m in enumerate(re.finditer(rb"^data: ?(.*)$", text, re.M)):
        if k >= 8:
            break
        payload = m.group(1).rstrip(b"\r")
        if payload.startswith((b"{", b"[")):
            h = hashlib.sha1(payload).hexdigest()[:10]
            put("json", "data_" + h, payload)
            n += 1
    if name.endswith(".ndjson"):
        for i, line in enumerate(text.splitlines()):
            put("json", "%s_%d" % (name, i), line)
put("json", "array_of_convs", json.dumps([
    {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]},
    {"messages": [{"role": "user", "content": "x\u00e9\ud83d\ude42"}]}, 1, "s", None, [1, [2]]]))
put("json", "results_small", json.dumps({
    "schema": "mlxbench.results/1", "runs": [{"name": "r", "requests": {"total": 1, "ok": 1,
    "failed": 0, "errors": {}}, "metrics": {"ttft_s": {"count": 1, "p50": 0.1}},
    "histograms": {"ttft_s": "mbh1:abc"}, "per_request": [{"i": 1, "ok": True}]}]}, indent=1))
put("json", "escapes", '["\\u0000\\ud800\\udc00\\ud800x\\n\\/", -0.0e+5, 1E400, true, false, null]')
put("json", "deep", "[" * 260 + "]" * 260)
put("json", "bom_array", b"\xef\xbb\xbf[1, 2]")

# --- mock_profile: documented profile, profiles of the tests, fault bodies
put("mock_profile", "docs_example", json.dumps({
    "_note": "timing test profile", "model_defaults": {"usage": False},
    "models": {"t100": {"ttft_ms": 200, "prefill_tok_s": 0, "decode_tok_s": 100, "jitter": 0},
               "chunky": {"decode_tok_s": 400, "tokens_per_chunk": 4}},
    "any_model": True, "default_model": "t100", "faults": {"stall_s": 2},
    "trace": {"max_requests": 50000}}))
put("mock_profile", "array_models", json.dumps({
    "builtin_models": False, "models": [{"id": "a", "reasoning_tokens": 3,
    "reasoning_field": "reasoning", "natural_tokens": 5, "owned_by": "me"}],
    "seed": 7, "api_key": "k", "max_body_bytes": 2048, "control_token": "t"}))
put("mock_profile", "star", '{"models": "*", "faults": {"error_rates": {"503": 0.1, "429": 0.05}, '
                            '"retry_after": null, "should_retry": true}}')
put("mock_profile", "faults_all", json.dumps({
    "reset": True, "error_rate": 0.5, "status": 503, "retry_after": 2, "stream_error_rate": 0.1,
    "stream_error_after": 3, "stall_rate": 0.2, "stall_after": 1, "stall_s": 0.5,
    "disconnect_rate": 0.1, "disconnect_after": 2, "disconnect_mode": "close",
    "malformed_rate": 0.1, "malformed_after": 1, "malformed_mode": "http", "slow_ttft_rate": 1,
    "slow_ttft_s": 0.1, "refuse_connections": False, "refuse_s": 0, "seed": 3}))

# --- mock_http: raw requests
def req(method, path, body=None, headers=None, chunked=False):
    h = ["%s %s HTTP/1.1" % (method, path), "Host: x"]
    for k, v in (headers or {}).items():
        h.append("%s: %s" % (k, v))
    b = b""
    if body is not None:
        b = body.encode() if isinstance(body, str) else body
        if chunked:
            h.append("Transfer-Encoding: chunked")
            b = b"%x\r\n%s\r\n0\r\n\r\n" % (len(b), b)
        else:
            h.append("Content-Length: %d" % len(b))
    return ("\r\n".join(h) + "\r\n\r\n").encode() + b


chat = json.dumps({"model": "f", "messages": [{"role": "user", "content": "hi"}],
                   "max_tokens": 3, "stream": True, "stream_options": {"include_usage": True}})
http_cases = {
    "chat_stream": req("POST", "/v1/chat/completions", chat, {"Content-Type": "application/json"}),
    "chat_plain": req("POST", "/chat/completions", json.dumps({"model": "f", "messages": [
        {"role": "system", "content": [{"type": "text", "text": "s"}]}, {"role": "user", "content": None}]})),
    "completions": req("POST", "/v1/completions", json.dumps({"model": "f", "prompt": [1, 2, 3], "stream": True})),
    "messages": req("POST", "/v1/messages", json.dumps({"model": "claude-x", "max_tokens": 5,
        "system": "s", "messages": [{"role": "user", "content": "hi"}], "stream": True}),
        {"anthropic-version": "2023-06-01"}),
    "models": req("GET", "/v1/models") + req("GET", "/v1/models/mlx-community%2Fx"),
    "chunked": req("POST", "/v1/chat/completions", chat, chunked=True),
    "expect": req("POST", "/v1/chat/completions", chat, {"Expect": "100-continue"}),
    "faults": req("POST", "/mock/faults", '{"error_rate": 1, "status": 503}') +
              req("POST", "/v1/chat/completions", chat),
    "stats_trace": req("GET", "/mock/stats") + req("GET", "/mock/trace?since=0&limit=5&wall=1&id=x"),
    "bad_json": req("POST", "/v1/chat/completions", '{"model": '),
    "http10": b"GET /health HTTP/1.0\r\n\r\n",
    "garbage": b"\x00\x01GARBAGE\r\n\r\n",
    "big_header": req("GET", "/", headers={"X-A": "a" * 3000}),
    "pipelined": req("GET", "/health") * 3,
    "keepalive_close": req("GET", "/", headers={"Connection": "close"}),
}
for k, v in http_cases.items():
    put("mock_http", k, v)
print("corpora written to", OUT)
