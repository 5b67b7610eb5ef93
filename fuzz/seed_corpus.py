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
import struct

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
# the servers' own timings (src/core/llm_server.c), in each shape
hostile.update({
    "timings_llamacpp": sse(CHUNK % "a", '{"choices":[{"delta":{},"finish_reason":"stop"}],"timings":'
                            '{"cache_n":20,"prompt_n":13,"prompt_ms":8553.384,"predicted_n":7,"predicted_ms":3150.478,'
                            '"queue_ms":1.5}}', "[DONE]"),
    "timings_ollama": sse(CHUNK % "a", '{"choices":[],"total_duration":2609028500,"load_duration":1667040600,'
                          '"prompt_eval_duration":116817000,"eval_duration":824111500}', "[DONE]"),
    "timings_lmstudio": sse(CHUNK % "a", '{"choices":[],"stats":{"time_to_first_token":0.111,'
                            '"generation_time":0.954,"time_to_first_token_seconds":-1}}', "[DONE]"),
    "timings_groq": sse(CHUNK % "a", '{"choices":[],"x_groq":{"usage":{"queue_time":0.01,"prompt_time":1e400,'
                        '"completion_time":"x","total_time":0.2}},"time_info":{"queue_time":null}}', "[DONE]"),
    "cached_tokens": sse(CHUNK % "a", '{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":1,'
                         '"prompt_tokens_details":{"cached_tokens":8}}}', "[DONE]"),
})
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

# --- h1_response: raw responses for the client's plain-HTTP/1.1 transport.
# 9 header bytes (fuzz_h1_response.c): flags0, flags1, limits, then the
# piece split points and the second response's split point (u16 LE each).
STREAM, HEAD, SMALL, SECOND, KEEP_OPEN, ON_EVENTS = 1, 2, 4, 8, 16, 32
SAME, CLOSE_REUSED, TAIL, RESET_REUSED = 0, 64, 128, 192
PIECES2, PIECES3, FREE_IN_DONE, ABORT, FLIP = 1, 2, 4, 8, 16
HOOK_SSE, HOOK_DATA, SECOND_LATER = 32, 64, 128
RESET_END = 128   # in the limits byte


def h1(payload, f0=0, f1=0, lim=0, cut_a=0, cut_b=0, sep=0):
    if isinstance(payload, str):
        payload = payload.encode()
    return bytes([f0, f1, lim]) + struct.pack("<HHH", cut_a, cut_b, sep) + payload


def resp(status="200 OK", headers=(), body=b"", version="1.1", length=True):
    if isinstance(body, str):
        body = body.encode()
    h = ["HTTP/%s %s" % (version, status)] + list(headers)
    if length:
        h.append("Content-Length: %d" % len(body))
    return ("\r\n".join(h) + "\r\n\r\n").encode() + body


def chunked(body, size=40, ext=""):
    if isinstance(body, str):
        body = body.encode()
    out = b""
    for i in range(0, len(body), size):
        part = body[i:i + size]
        out += b"%x%s\r\n%s\r\n" % (len(part), ext.encode(), part)
    return out + b"0\r\n\r\n"


sse_body = open(os.path.join(WIRE, "openai_chat_stream_usage.sse"), "rb").read()
anth_body = open(os.path.join(WIRE, "anthropic_messages_stream.sse"), "rb").read()
SSE_HEAD = ["Content-Type: text/event-stream", "Cache-Control: no-cache",
            "Transfer-Encoding: chunked"]
sse_resp = resp(headers=SSE_HEAD, length=False) + chunked(sse_body)
json_resp = resp(headers=["Content-Type: application/json"],
                 body='{"id":"x","choices":[{"message":{"content":"hi"}}]}')
ok2 = resp(body="hi")
h1_cases = {
    "chunked_sse": h1(sse_resp, STREAM | ON_EVENTS, PIECES3, 0, 100, 400),
    "chunked_sse_crlf_split": h1(resp(headers=SSE_HEAD, length=False) + chunked(anth_body, 7),
                                 STREAM, PIECES2, 0, 90),
    "chunked_sse_twice": h1(sse_resp * 2, STREAM | SECOND | TAIL, PIECES2, 0, 60, 0, len(sse_resp)),
    "chunked_sse_small_line": h1(sse_resp, STREAM | SMALL, 0, 20),
    "sse_eof_body": h1(resp(headers=["Content-Type: text/event-stream"], length=False)
                       + b"data: a\n\ndata: b", STREAM),
    "sse_keepalive_reuse": h1(resp(headers=["Content-Type: text/event-stream"],
                                   body="data: {}\n\ndata: [DONE]\n\n"),
                              STREAM | SECOND | KEEP_OPEN | ON_EVENTS, FREE_IN_DONE),
    "content_length": h1(json_resp),
    "content_length_pieces": h1(json_resp, 0, PIECES3, 0, 17, 60),
    "keepalive_twice": h1(ok2, SECOND | KEEP_OPEN),
    "keepalive_close_reused": h1(ok2, SECOND | KEEP_OPEN | CLOSE_REUSED),
    "keepalive_reset_reused": h1(ok2, SECOND | KEEP_OPEN | RESET_REUSED),
    "keepalive_server_closes": h1(ok2, SECOND, FLIP),
    "junk_after_response": h1(ok2 + b"HTTP/1.1 200 OK\r\n", SECOND | KEEP_OPEN),
    "continue_100": h1(b"HTTP/1.1 100 Continue\r\n\r\n" + ok2, 0, PIECES2, 0, 25),
    "continue_100_twice": h1(b"HTTP/1.1 100 Continue\r\nX-A: b\r\n\r\n"
                             b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + json_resp, SECOND),
    "switching_101": h1(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\nrest"),
    "http10_eof": h1(resp(version="1.0", headers=["Content-Type: text/plain"],
                          body="until the close", length=False)),
    "http10_keepalive": h1(resp(version="1.0", headers=["Connection: keep-alive"], body="ab"),
                           SECOND | KEEP_OPEN),
    "connection_close": h1(resp(headers=["Connection: close"], body="ab"), SECOND),
    "bad_chunk_size": h1(resp(headers=["Transfer-Encoding: chunked"], length=False)
                         + b"zz\r\nabc\r\n0\r\n\r\n"),
    "chunk_ext_trailer": h1(resp(headers=["Transfer-Encoding: chunked"], length=False)
                            + b"3;a=b\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n"),
    "chunk_overflow": h1(resp(headers=["Transfer-Encoding: chunked"], length=False)
                         + b"ffffffffffffffffff\r\nabc\r\n"),
    "huge_header": h1(resp(headers=["X-Big: " + "v" * 60000], body="ok"), 0, PIECES3, 0,
                      3000, 40000),
    "many_headers": h1(resp(headers=["X-H%d: v" % i for i in range(1100)], body="ok")),
    "folded_header": h1(b"HTTP/1.1 200 OK\r\nX-Fold: a \r\n  b\r\n\tc\r\nContent-Length: 0\r\n\r\n",
                        0, PIECES2, 0, 24),
    "header_cut_by_read": h1(resp(headers=["X-Long: abcdefghijklmnopqrstuvwxyz"], body="ok"),
                             0, PIECES3, 0, 22, 30),
    "truncated_body": h1(resp(body="x" * 100)[:-90]),
    "truncated_body_open": h1(resp(body="x" * 100)[:-90], KEEP_OPEN),
    "truncated_head": h1(b"HTTP/1.1 200 OK\r\nContent-Len"),
    "truncated_chunked": h1(resp(headers=["Transfer-Encoding: chunked"], length=False)
                            + b"10\r\nabc"),
    "empty": h1(b""),
    "empty_open": h1(b"", KEEP_OPEN),
    "garbage": h1(b"\x00\x01GARBAGE\r\n\r\n"),
    "head_with_length": h1(resp(headers=["Content-Length: 5"], length=False), HEAD | SECOND),
    "head_then_get": h1(resp(body="abcde"), HEAD | SECOND | KEEP_OPEN, FLIP),
    "error_503": h1(resp("503 Service Unavailable", ["Retry-After: 1"],
                         '{"error":{"message":"busy"}}'), STREAM),
    "error_429_chunked": h1(resp("429 Too Many Requests", ["Transfer-Encoding: chunked"],
                                 length=False) + chunked('{"error":"slow down"}', 5), STREAM),
    "gzip_stream": h1(resp(headers=["Content-Encoding: gzip"], body="\x1f\x8b\x08"), STREAM),
    "max_body": h1(resp(body="y" * 300), SMALL, 0, 10),
    "abort_mid_stream": h1(sse_resp, STREAM | KEEP_OPEN, PIECES3 | ABORT, 0, 200, 300),
    "both_lengths": h1(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"),
    "cl_and_chunked": h1(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
    "status_204_body": h1(b"HTTP/1.1 204 No Content\r\nContent-Length: 4\r\n\r\nabcd", SECOND),
    "status_304": h1(b"HTTP/1.1 304 Not Modified\r\n\r\n", SECOND | KEEP_OPEN),
    "odd_version": h1(b"HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nhi"),
    "lf_only": h1(b"HTTP/1.1 200 OK\nContent-Length: 2\n\nhi"),
    "sse_hook_stop": h1(sse_resp, STREAM, HOOK_SSE | PIECES2, 3, 300),
    "sse_hook_end": h1(sse_resp, STREAM | SECOND | KEEP_OPEN, HOOK_SSE),
    "sse_hook_partial": h1(resp(headers=["Content-Type: text/event-stream"], length=False)
                           + b"data: a\n\ndata: [DONE]", STREAM, HOOK_SSE),
    "data_hook_stop": h1(json_resp, 0, HOOK_DATA | PIECES3, 2, 40, 60),
    "data_hook_stream": h1(sse_resp, STREAM, HOOK_SSE | HOOK_DATA),
    "idle_then_junk": h1(ok2 + b"X", SECOND | KEEP_OPEN, SECOND_LATER | PIECES2, 0, len(ok2)),
    "idle_then_close": h1(ok2, SECOND, SECOND_LATER),
    "reset_after_body": h1(resp(body="x" * 100)[:-50], 0, PIECES2, RESET_END, 40),
}
for k, v in h1_cases.items():
    put("h1_response", k, v)
print("corpora written to", OUT)

# ---- the tokenizer: small tokenizer.json / tiktoken files, and texts -------
TOKFIX = os.path.join(ROOT, "tests", "fixtures", "tok")
for name in sorted(os.listdir(TOKFIX)):
    if name.endswith(".json"):
        with open(os.path.join(TOKFIX, name), "rb") as f:
            put("tok_load", name, f.read())
put("tok_load", "tiktoken_ranks", "".join("%s %d\n" % (__import__("base64").b64encode(bytes([b])).decode(), b)
                                          for b in range(256)) + "YWI= 256\n")
put("tok_load", "tiktoken_json", json.dumps({"pat_str": "\\p{L}+|\\s+|[^\\s\\p{L}]+", "special_tokens": {"<|e|>": 300},
                                             "bpe_ranks": "! 0 " + " ".join(__import__("base64").b64encode(bytes([b])).decode()
                                                                           for b in range(256))}))
put("tok_load", "minimal", '{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}}')
put("tok_load", "unsupported", '{"normalizer": {"type": "Precompiled"}, "model": {"type": "BPE", "vocab": {}, "merges": []}}')
with open(os.path.join(TOKFIX, "corpus_edge.txt"), "rb") as f:
    edge = f.read()
for i, text in enumerate([b"Hello world", edge, "日本語 👨‍👩‍👧 e\u0301 <s> </s> <mask> hello".encode(),
                          b"\xff\xc0 broken \xe2\x82", b"   \t\n\n  123456789 ", b"<|endoftext|>ab abc"]):
    for k in (0, 33, 64, 97):
        put("tok_encode", "text_%d_%d" % (i, k), bytes([k + i]) + text)
print("tokenizer corpora written")

# ---- prom: Prometheus scrapes; byte 0 bit 0 = OpenMetrics ------------------
PROMFIX = os.path.join(ROOT, "tests", "fixtures", "prom")
for name in sorted(os.listdir(PROMFIX)):
    if name.endswith(".txt"):
        with open(os.path.join(PROMFIX, name), "rb") as f:
            text = f.read()
        put("prom", name, b"\x00" + text[:60000])
prom_cases = {
    "escapes": b'\x00# HELP m a \\\\ b \\n c\n# TYPE m gauge\nm{a="x\\"y\\\\z\\n",b="\\q"} 1 -5\n',
    "histogram": b'\x00# TYPE h histogram\nh_bucket{le="0.1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 0.3\nh_count 2\n',
    "specials": b"\x00a NaN\nb +Inf\nc -Inf\nd 1e-308\ne 0x1p-3\nf 1 9223372036854775807\n",
    "quoted": b'\x00# TYPE "a.b" counter\n{"a.b",x="1"} 2\n{"a.b"} 3\n',
    "openmetrics": b'\x01# TYPE c counter\nc_total 1 1.5\nc_created 1\nd 1 # {t="a"} 2 3\n# EOF\nz 1\n',
    "crlf_ws": b'\x00 \t x { a = "1" , } \t 2 \r\n\r\n#\r\n',
    "broken": b'\x00x{a="1\nx{a=1} 2\n{""} 3\n# TYPE\n# TYPE t what\nx 1 2 3\n',
}
for k, v in prom_cases.items():
    put("prom", k, v)
print("prom corpora written")
