"""The emulated server's endpoints, byte by byte: OpenAI chat (stream and
not, usage on/off, reasoning, tokens per chunk), legacy completions, models,
Anthropic messages, auth, unknown models, limits, malformed requests, HTTP
keep-alive / pipelining / chunked bodies / HTTP/1.0, determinism of the
text, the token rule, the trace and stats."""
import json
import math
import socket
import sys
import time

sys.dont_write_bytecode = True
from mocklib import Mock, chat, expect, finish, raw_http

SMALL = "mlx-community/Llama-3.2-3B-Instruct-4bit"
FAST = {"ttft_ms": 5, "prefill_tok_s": 0, "decode_tok_s": 2000, "jitter": 0}
PROFILE = {
    "model_defaults": {"ttft_ms": 5, "prefill_tok_s": 0, "decode_tok_s": 2000, "jitter": 0},
    "models": {
        "fast": {},
        "chunky": {"tokens_per_chunk": 3},
        "nousage": {"usage": False},
        "thinker": {"reasoning_tokens": 4},
        "thinker2": {"reasoning_tokens": 2, "reasoning_field": "reasoning"},
        "short": {"natural_tokens": 7, "length_spread": 0},
        "flood": {"decode_tok_s": 1000000, "tokens_per_chunk": 1000, "length": "max_tokens"},
        "natural": {},
        "always": {"length": "max_tokens"},
    },
    "max_body_bytes": 4096,
}


def sse_json(events):
    return [json.loads(d) for _, d, _ in events if d != "[DONE]"]


def words(text):
    return text.split(" ")[:-1] if text.endswith(" ") else text.split(" ")


with Mock(profile=PROFILE) as m:
    # ---------------------------------------------------------- models
    st, doc = m.json("GET", "/v1/models")
    ids = [d["id"] for d in doc["data"]]
    expect("models 200", st == 200)
    expect("models list object", doc["object"] == "list")
    expect("models has seed tiers", all(x in ids for x in (
        SMALL, "mlx-community/Llama-3.1-8B-Instruct-4bit", "mlx-community/Llama-3.3-70B-Instruct-4bit")))
    expect("models has cloud + profile models", "gpt-4o-mini" in ids and "claude-3-5-haiku-latest" in ids
           and "fast" in ids)
    expect("model entries", all(d["object"] == "model" and "created" in d and "owned_by" in d
                                for d in doc["data"]))
    st, doc = m.json("GET", "/v1/models/gpt-4o-mini")
    expect("model retrieve", st == 200 and doc["id"] == "gpt-4o-mini" and doc["object"] == "model")
    st, doc = m.json("GET", "/v1/models/nope")
    expect("model retrieve unknown 404", st == 404 and doc["error"]["code"] == "model_not_found")

    # ------------------------------------------------ chat, streamed + usage
    body = chat("fast", "hello there, how are you?", max_tokens=12, stream=True, usage=True)
    st, hd, ev, raw = m.stream("/v1/chat/completions", body, {"x-mock-request-id": "c1"})
    expect("chat stream 200", st == 200)
    expect("chat stream content-type", hd.get("content-type", "").startswith("text/event-stream"))
    expect("chat stream chunked", hd.get("transfer-encoding") == "chunked")
    expect("chat stream x-request-id", hd.get("x-request-id", "").startswith("chatcmpl-"))
    expect("chat stream no event: lines", "event:" not in raw)
    expect("chat stream ends with [DONE]", ev and ev[-1][1] == "[DONE]" and raw.endswith("data: [DONE]\n\n"))
    chunks = sse_json(ev)
    expect("role chunk first", chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "",
                                                                     "refusal": None})
    content = [c for c in chunks if c["choices"] and "content" in c["choices"][0]["delta"]][1:]
    expect("one delta per token", len(content) == 12, len(content))
    expect("each delta one word + space", all(c["choices"][0]["delta"]["content"].count(" ") == 1
                                              and c["choices"][0]["delta"]["content"].endswith(" ")
                                              for c in content))
    fin = chunks[-2]
    expect("finish chunk delta {}", fin["choices"][0]["delta"] == {} and
           fin["choices"][0]["finish_reason"] == "length")
    use = chunks[-1]
    expect("usage chunk choices []", use["choices"] == [])
    ptoks = math.ceil(len("hello there, how are you?") / 4)
    expect("usage exact", use["usage"]["prompt_tokens"] == ptoks and use["usage"]["completion_tokens"] == 12
           and use["usage"]["total_tokens"] == ptoks + 12, use["usage"])
    expect("chunks share id/created/model", len({(c["id"], c["created"], c["model"]) for c in chunks}) == 1)
    expect("chunk object", all(c["object"] == "chat.completion.chunk" for c in chunks))
    stream_text = "".join(c["choices"][0]["delta"]["content"] for c in content)

    # same prompt, not streamed: the same text
    st, doc = m.json("POST", "/v1/chat/completions", chat("fast", "hello there, how are you?", max_tokens=12))
    expect("chat 200", st == 200)
    expect("chat object", doc["object"] == "chat.completion" and doc["id"].startswith("chatcmpl-"))
    msg = doc["choices"][0]["message"]
    expect("chat message", msg["role"] == "assistant" and doc["choices"][0]["finish_reason"] == "length")
    expect("same prompt same text", msg["content"] == stream_text, (msg["content"], stream_text))
    expect("12 words", len(words(msg["content"])) == 12)
    expect("chat usage", doc["usage"]["prompt_tokens"] == ptoks and doc["usage"]["completion_tokens"] == 12)
    st, doc2 = m.json("POST", "/v1/chat/completions", chat("fast", "a different prompt", max_tokens=12))
    expect("other prompt other text", doc2["choices"][0]["message"]["content"] != msg["content"])
    st, doc3 = m.json("POST", "/v1/chat/completions", chat("fast", "hello there, how are you?", max_tokens=12,
                                                          seed=7))
    expect("request seed changes text", doc3["choices"][0]["message"]["content"] != msg["content"])

    # without include_usage: no usage chunk
    st, hd, ev, raw = m.stream("/v1/chat/completions", chat("fast", "x", max_tokens=3, stream=True))
    chunks = sse_json(ev)
    expect("no usage chunk by default", all(c["choices"] for c in chunks) and "\"usage\"" not in raw)
    expect("[DONE] without usage", ev[-1][1] == "[DONE]")

    # max_completion_tokens wins, natural length without a max
    st, doc = m.json("POST", "/v1/chat/completions", dict(chat("fast", "x", max_tokens=9),
                                                         max_completion_tokens=4))
    expect("max_completion_tokens honoured", doc["usage"]["completion_tokens"] == 4)
    st, doc = m.json("POST", "/v1/chat/completions", chat("short", "x"))
    expect("natural length, finish stop", doc["usage"]["completion_tokens"] == 7 and
           doc["choices"][0]["finish_reason"] == "stop")
    st, doc = m.json("POST", "/v1/chat/completions",
                     {"model": "fast", "messages": [{"role": "system", "content": "abcd"},
                                                    {"role": "user", "content": [{"type": "text", "text": "efgh"},
                                                                                 {"type": "text", "text": "i"}]}],
                      "max_tokens": 1})
    expect("token rule over all parts: ceil(9/4)=3", doc["usage"]["prompt_tokens"] == 3, doc.get("usage"))
    st, doc = m.json("POST", "/v1/chat/completions", chat("fast", "h\u00e9llo w\u00f6rld!", max_tokens=1))
    expect("token rule counts characters", doc["usage"]["prompt_tokens"] == 3)

    # tokens per chunk
    st, hd, ev, raw = m.stream("/v1/chat/completions", chat("chunky", "x", max_tokens=10, stream=True, usage=True))
    chunks = sse_json(ev)
    deltas = [c["choices"][0]["delta"]["content"] for c in chunks[1:] if c["choices"] and
              c["choices"][0]["delta"].get("content")]
    expect("3 tokens per chunk (3,3,3,1)", [len(words(d)) for d in deltas] == [3, 3, 3, 1], deltas)
    expect("usage still exact", chunks[-1]["usage"]["completion_tokens"] == 10)

    # usage disabled by the profile
    st, hd, ev, raw = m.stream("/v1/chat/completions", chat("nousage", "x", max_tokens=5, stream=True, usage=True))
    expect("usage:false omits the usage chunk", "\"usage\"" not in raw and ev[-1][1] == "[DONE]")
    st, doc = m.json("POST", "/v1/chat/completions", chat("nousage", "x", max_tokens=5))
    expect("usage:false omits usage in bodies", "usage" not in doc)

    # reasoning deltas before content
    st, hd, ev, raw = m.stream("/v1/chat/completions", chat("thinker", "x", max_tokens=10, stream=True, usage=True))
    chunks = sse_json(ev)[1:]
    kinds = [("r" if "reasoning_content" in c["choices"][0]["delta"] else "c")
             for c in chunks if c["choices"] and c["choices"][0]["delta"]]
    expect("4 reasoning then 6 content", kinds == ["r"] * 4 + ["c"] * 6, kinds)
    u = sse_json(ev)[-1]["usage"]
    expect("reasoning counted in completion tokens", u["completion_tokens"] == 10 and
           u["completion_tokens_details"]["reasoning_tokens"] == 4)
    st, hd, ev, raw = m.stream("/v1/chat/completions", chat("thinker2", "x", max_tokens=5, stream=True))
    expect("reasoning_field 'reasoning'", '"reasoning":"' in raw and "reasoning_content" not in raw)
    st, doc = m.json("POST", "/v1/chat/completions", chat("thinker", "x", max_tokens=10))
    expect("non-stream reasoning_content", len(words(doc["choices"][0]["message"]["reasoning_content"])) == 4
           and len(words(doc["choices"][0]["message"]["content"])) == 6)

    # ------------------------------------------------- natural lengths
    # a real model stops before max_tokens when it is done: each prompt has
    # its own length, always the same for the same request (seed, limits)
    lens = {}
    for k in range(40):
        body = chat("natural", "question %d" % k, max_tokens=1000)
        st, doc = m.json("POST", "/v1/chat/completions", body)
        n = doc["usage"]["completion_tokens"]
        lens[k] = n
        expect("natural stop below max_tokens is finish_reason stop", n < 1000 and
               doc["choices"][0]["finish_reason"] == "stop" and len(words(doc["choices"][0]["message"]["content"])) == n,
               (n, doc["choices"][0]["finish_reason"]))
    expect("natural lengths vary by prompt", len(set(lens.values())) >= 20, sorted(lens.values()))
    st, again = m.json("POST", "/v1/chat/completions", chat("natural", "question 3", max_tokens=1000))
    st, ref = m.json("POST", "/v1/chat/completions", chat("natural", "question 3", max_tokens=1000))
    expect("same request, same length and text", again["choices"][0]["message"] == ref["choices"][0]["message"]
           and again["usage"]["completion_tokens"] == lens[3])
    st, hd, ev, raw = m.stream("/v1/chat/completions", chat("natural", "question 3", max_tokens=1000, stream=True))
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in sse_json(ev) if c["choices"])
    expect("streamed: the same text, finish stop", text == ref["choices"][0]["message"]["content"] and
           sse_json(ev)[-1]["choices"][0]["finish_reason"] == "stop")
    st, seeded = m.json("POST", "/v1/chat/completions", chat("natural", "question 3", max_tokens=1000, seed=9))
    expect("the request's seed changes the answer", seeded["choices"][0]["message"] != ref["choices"][0]["message"])
    short_k = min(lens, key=lens.get)
    long_k = max(lens, key=lens.get)
    cut = lens[long_k] - 1
    st, doc = m.json("POST", "/v1/chat/completions", chat("natural", "question %d" % long_k, max_tokens=cut))
    expect("max_tokens below the natural length cuts: finish length",
           doc["usage"]["completion_tokens"] == cut and doc["choices"][0]["finish_reason"] == "length")
    st, doc = m.json("POST", "/v1/chat/completions", chat("natural", "question %d" % short_k, max_tokens=1000,
                                                        ignore_eos=True))
    expect("ignore_eos runs to max_tokens", doc["usage"]["completion_tokens"] == 1000 and
           doc["choices"][0]["finish_reason"] == "length")
    st, doc = m.json("POST", "/v1/chat/completions", chat("natural", "question %d" % short_k, max_tokens=1000,
                                                        min_tokens=lens[short_k] + 5))
    expect("min_tokens raises a short answer, finish stop", doc["usage"]["completion_tokens"] == lens[short_k] + 5
           and doc["choices"][0]["finish_reason"] == "stop")
    st, doc = m.json("POST", "/v1/completions", {"model": "natural", "prompt": "question %d" % short_k,
                                                 "max_tokens": 1000, "ignore_eos": True})
    expect("ignore_eos on legacy completions", doc["usage"]["completion_tokens"] == 1000)
    st, doc = m.json("POST", "/v1/chat/completions", chat("natural", "x", max_tokens=5, min_tokens=6))
    expect("min_tokens above max_tokens: 400", st == 400 and "min_tokens" in doc["error"]["message"])
    st, doc = m.json("POST", "/v1/chat/completions", chat("natural", "x", max_tokens=5, ignore_eos="yes"))
    expect("ignore_eos must be a boolean: 400", st == 400)
    st, doc = m.json("POST", "/v1/chat/completions", chat("always", "question %d" % short_k, max_tokens=300))
    expect('"length": "max_tokens" restores "always max_tokens"', doc["usage"]["completion_tokens"] == 300 and
           doc["choices"][0]["finish_reason"] == "length")
    ab = {"model": "natural", "max_tokens": 1000, "messages": [{"role": "user", "content": "question %d" % short_k}]}
    st, doc = m.json("POST", "/v1/messages", ab)
    expect("anthropic: natural stop is end_turn", doc["stop_reason"] == "end_turn" and
           doc["usage"]["output_tokens"] == lens[short_k], (doc.get("stop_reason"), doc.get("usage")))

    # ------------------------------------------------- legacy completions
    st, doc = m.json("POST", "/v1/completions", {"model": "fast", "prompt": "Once upon a time"})
    expect("completions object", st == 200 and doc["object"] == "text_completion" and doc["id"].startswith("cmpl-"))
    expect("completions default max_tokens 16", doc["usage"]["completion_tokens"] == 16 and
           len(words(doc["choices"][0]["text"])) == 16 and doc["choices"][0]["finish_reason"] == "length")
    expect("completions prompt tokens", doc["usage"]["prompt_tokens"] == 4)
    st, hd, ev, raw = m.stream("/v1/completions", {"model": "fast", "prompt": ["ab", "cd"], "max_tokens": 4,
                                                  "stream": True, "stream_options": {"include_usage": True}})
    chunks = sse_json(ev)
    expect("completions stream objects", all(c["object"] == "text_completion" for c in chunks))
    expect("completions stream texts", [len(words(c["choices"][0]["text"])) for c in chunks[:4]] == [1] * 4)
    expect("completions finish", chunks[4]["choices"][0]["finish_reason"] == "length" and
           chunks[4]["choices"][0]["text"] == "")
    expect("completions usage", chunks[5]["choices"] == [] and chunks[5]["usage"]["completion_tokens"] == 4
           and chunks[5]["usage"]["prompt_tokens"] == 1)
    expect("completions [DONE]", ev[-1][1] == "[DONE]")
    st, doc = m.json("POST", "/v1/completions", {"model": "fast", "prompt": [1, 2, 3, 4, 5], "max_tokens": 1})
    expect("token-id prompts count one each", doc["usage"]["prompt_tokens"] == 5)

    # ------------------------------------------------- anthropic messages
    ab = {"model": "claude-3-5-haiku-latest", "max_tokens": 6, "system": "Be brief.",
          "messages": [{"role": "user", "content": "Hello, Claude"}]}
    m.faults(reset=True)
    st, hd, ev, raw = m.stream("/v1/messages", dict(ab, stream=True, model="fast"))
    names = [e for e, _, _ in ev]
    expect("messages event order", names == ["message_start", "content_block_start", "ping"] +
           ["content_block_delta"] * 6 + ["content_block_stop", "message_delta", "message_stop"], names)
    datas = [json.loads(d) for _, d, _ in ev]
    expect("event name == data.type", all(e == d["type"] for (e, _, _), d in zip(ev, datas)))
    start = datas[0]["message"]
    ptoks = math.ceil((len("Be brief.") + len("Hello, Claude")) / 4)
    expect("message_start usage", start["usage"]["input_tokens"] == ptoks and start["usage"]["output_tokens"] == 1
           and start["id"].startswith("msg_") and start["content"] == [])
    expect("text deltas", all(d["delta"]["type"] == "text_delta" for d in datas[3:9]))
    expect("message_delta stop + usage", datas[-2]["delta"]["stop_reason"] == "max_tokens" and
           datas[-2]["usage"]["output_tokens"] == 6)
    expect("no [DONE] for anthropic", "[DONE]" not in raw)
    expect("request-id header", hd.get("request-id", "").startswith("msg_"))
    st, doc = m.json("POST", "/v1/messages", dict(ab, model="fast"))
    expect("message body", st == 200 and doc["type"] == "message" and doc["role"] == "assistant" and
           doc["content"][0]["type"] == "text" and len(words(doc["content"][0]["text"])) == 6 and
           doc["stop_reason"] == "max_tokens" and doc["usage"]["output_tokens"] == 6 and
           doc["usage"]["input_tokens"] == ptoks)
    text_s = "".join(d["delta"]["text"] for d in datas[3:9])
    expect("messages: stream text == body text", text_s == doc["content"][0]["text"])
    st, doc = m.json("POST", "/v1/messages", {"model": "fast", "messages": [{"role": "user", "content": "x"}]})
    expect("anthropic max_tokens required", st == 400 and doc["type"] == "error" and
           doc["error"]["type"] == "invalid_request_error")
    st, doc = m.json("POST", "/v1/messages", dict(ab, model="claude-9"))
    expect("anthropic unknown model 404 shape", st == 404 and doc["type"] == "error" and
           doc["error"]["type"] == "not_found_error" and "request_id" in doc)
    st, doc = m.json("POST", "/v1/messages", {"model": "fast", "max_tokens": 2,
                                             "messages": [{"role": "user", "content": [
                                                 {"type": "text", "text": "abcdefgh"}]}]})
    expect("anthropic content blocks count", doc["usage"]["input_tokens"] == 2)

    # ------------------------------------------------------ openai errors
    st, doc = m.json("POST", "/v1/chat/completions", chat("gpt-5-nope", "x"))
    expect("unknown model 404 openai shape", st == 404 and doc["error"]["code"] == "model_not_found" and
           doc["error"]["type"] == "invalid_request_error" and "gpt-5-nope" in doc["error"]["message"])
    st, doc = m.json("POST", "/v1/chat/completions", "{not json")
    expect("bad JSON 400", st == 400 and "error" in doc)
    st, doc = m.json("POST", "/v1/chat/completions", {"model": "fast"})
    expect("missing messages 400", st == 400 and doc["error"]["param"] == "messages")
    st, doc = m.json("POST", "/v1/chat/completions", chat("fast", "x", max_tokens=0))
    expect("max_tokens 0 is 400", st == 400)
    st, doc = m.json("POST", "/v1/chat/completions", chat("fast", "x", n=2))
    expect("n=2 400", st == 400 and doc["error"]["param"] == "n")
    st, doc = m.json("GET", "/v1/chat/completions")
    expect("GET on chat 405", st == 405)
    st, doc = m.json("GET", "/v1/nothing")
    expect("unknown path 404 JSON", st == 404 and "error" in doc)
    st, doc = m.json("GET", "/health")
    expect("health", st == 200 and doc["status"] == "ok")

    # ---------------------------------------------------------- limits
    big = chat("fast", "x" * 5000, max_tokens=1)
    st, doc = m.json("POST", "/v1/chat/completions", big)
    expect("over-size body 413 (openai shape)", st == 413 and "error" in doc and
           doc["error"]["code"] == "request_too_large")
    st, doc = m.json("POST", "/v1/messages", dict(ab, system="y" * 5000))
    expect("over-size body 413 (anthropic shape)", st == 413 and doc["type"] == "error" and
           doc["error"]["type"] == "request_too_large")
    out = raw_http(m.port, b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"1000\r\n" + b"x" * 4096 + b"\r\n10\r\n" + b"y" * 16 + b"\r\n0\r\n\r\n")
    expect("over-size chunked body 413", out.startswith(b"HTTP/1.1 413 ") and b"Connection: close" in out)
    out = raw_http(m.port, b"GARBAGE\r\n\r\n")
    expect("malformed request 400 JSON", out.startswith(b"HTTP/1.1 400 ") and b'"error"' in out)
    out = raw_http(m.port, b"POST /v1/messages HTTP/1.1\r\nContent-Length: zz\r\n\r\n")
    expect("malformed request on /v1/messages: anthropic shape", out.startswith(b"HTTP/1.1 400 ") and
           b'"type":"error"' in out)

    # -------------------------------------------- HTTP/1.1 details
    req = json.dumps(chat("fast", "x", max_tokens=2)).encode()
    one = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Content-Length: " + str(len(req)).encode() + b"\r\n\r\n" + req)
    out = raw_http(m.port, one * 3, read_timeout=1.0)
    expect("pipelined requests all answered", out.count(b"HTTP/1.1 200 OK") == 3, out[:200])
    chunked = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
               b"%x\r\n" % 10 + req[:10] + b"\r\n" + b"%x\r\n" % (len(req) - 10) + req[10:] + b"\r\n0\r\n\r\n")
    out = raw_http(m.port, chunked, read_timeout=1.0)
    expect("chunked request body", out.startswith(b"HTTP/1.1 200 OK") and b"chat.completion" in out)
    s = json.dumps(chat("fast", "x", max_tokens=3, stream=True)).encode()
    out = raw_http(m.port, b"POST /v1/chat/completions HTTP/1.0\r\nContent-Length: %d\r\n\r\n" % len(s) + s)
    expect("HTTP/1.0 stream: no chunking, closes", out.startswith(b"HTTP/1.1 200 OK") and
           b"Transfer-Encoding" not in out and out.endswith(b"data: [DONE]\n\n"))
    c = m.conn()
    for i in range(5):
        st, hd, data = m.request("POST", "/v1/chat/completions", chat("fast", "x", max_tokens=2), conn=c)
    c.close()
    expect("keep-alive connection reused", st == 200 and hd.get("connection") == "keep-alive")
    out = raw_http(m.port, b"POST /v1/chat/completions HTTP/1.1\r\nExpect: 100-continue\r\n"
                   b"Content-Length: %d\r\n\r\n" % len(req) + req, read_timeout=1.0)
    expect("Expect: 100-continue answered", out.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK"))

    # backpressure: a client that does not read stalls its stream, not the
    # server; once it reads, it gets every token
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", m.port))
    fb = json.dumps(chat("flood", "x", max_tokens=1000000, stream=True)).encode()
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nx-mock-request-id: flood\r\n"
              b"Content-Length: %d\r\n\r\n" % len(fb) + fb)
    time.sleep(2.0)
    st = m.stats()
    blocked = st["blocked_by_backpressure"]
    live = st["active_streams"]
    st2, _, _ = m.request("POST", "/v1/chat/completions", chat("fast", "x", max_tokens=2))
    total = 0
    tail = b""
    s.settimeout(20)
    while True:
        d = s.recv(1 << 20)
        if not d:
            break
        total += len(d)
        tail = (tail + d)[-64:]
        if tail.endswith(b"0\r\n\r\n"):
            break
    s.close()
    rec = m.trace_done("flood")
    expect("slow reader: stream blocked by backpressure", blocked > 0 and live == 1, (blocked, live))
    expect("slow reader: others still served", st2 == 200)
    expect("slow reader: all tokens delivered in the end", rec["outcome"] == "ok" and
           rec["output_tokens"] == 1000000 and b"[DONE]" in tail and total > 5000000, (rec["outcome"], total))

    # ------------------------------------------------- trace and stats
    rec = m.trace_done("c1")
    expect("trace record", rec["client_id"] == "c1" and rec["endpoint"] == "chat" and rec["model"] == "fast"
           and rec["stream"] and rec["status"] == 200 and rec["outcome"] == "ok" and
           rec["finish_reason"] == "length" and rec["output_tokens"] == 12)
    expect("trace chunks: 12 token writes", len(rec["chunks"]) == 12 and all(c[2] == 1 for c in rec["chunks"]))
    expect("trace times ordered", rec["start_ns"] <= rec["arrival_ns"] <= rec["headers_ns"] <=
           rec["first_token_ns"] <= rec["end_ns"])
    expect("trace scheduled <= actual", all(c[0] <= c[1] for c in rec["chunks"]))
    expect("trace wall clock", abs(rec["arrival_wall"] - time.time()) < 60)
    doc = m.trace()
    n = doc["count"]
    expect("trace lists generation requests", n >= 20 and doc["next"] == doc["requests"][-1]["seq"])
    doc2 = m.trace(since=doc["requests"][-3]["seq"])
    expect("trace since", doc2["count"] == 2)
    doc3 = m.trace(limit=2)
    expect("trace limit", doc3["count"] == 2 and doc3["requests"][0]["seq"] == doc["requests"][0]["seq"])
    st, doc4 = m.json("GET", "/mock/trace?id=c1&wall=1")
    expect("trace wall=1 adds wall per chunk", len(doc4["requests"][0]["chunks"][0]) == 4)
    err = [r for r in doc["requests"] if r["status"] == 404]
    expect("errors are traced", err and err[0]["outcome"] == "error")
    stats = m.stats()
    expect("stats by endpoint", stats["requests"]["by_endpoint"]["chat"] >= 15 and
           stats["requests"]["by_endpoint"]["messages"] >= 4 and stats["requests"]["by_endpoint"]["models"] == 3
           and stats["requests"]["by_endpoint"]["completions"] >= 3)
    expect("stats by status", stats["requests"]["by_status"]["200"] > 10 and stats["requests"]["by_status"]["404"] >= 3)
    expect("stats tokens", stats["tokens_emitted"] > 100 and stats["active_streams"] == 0)
    expect("stats emission error", stats["emission_error_ms"]["count"] > 50)
    st, _ = m.json("POST", "/mock/trace/reset")
    expect("trace reset", st == 200 and m.trace()["count"] == 0 and m.stats()["emission_error_ms"]["count"] == 0)

rc = m.rc
expect("mock stops on SIGINT with 130", rc == 130, rc)

# ----------------------------------------------------- auth, any model
with Mock(profile={"models": "*", "model_defaults": FAST}, args=["--api-key", "sk-test"]) as m:
    st, doc = m.json("POST", "/v1/chat/completions", chat(SMALL, "x", max_tokens=2))
    expect("no key: 401 openai shape", st == 401 and doc["error"]["code"] == "invalid_api_key")
    st, doc = m.json("POST", "/v1/chat/completions", chat(SMALL, "x", max_tokens=2),
                     {"Authorization": "Bearer wrong"})
    expect("wrong key: 401", st == 401)
    st, doc = m.json("POST", "/v1/chat/completions", chat(SMALL, "x", max_tokens=2),
                     {"Authorization": "Bearer sk-test"})
    expect("right key: 200", st == 200)
    st, doc = m.json("GET", "/v1/models")
    expect("models need the key", st == 401)
    ab = {"model": "claude-3-5-haiku-latest", "max_tokens": 2, "messages": [{"role": "user", "content": "x"}]}
    st, doc = m.json("POST", "/v1/messages", ab, {"x-api-key": "nope", "anthropic-version": "2023-06-01"})
    expect("anthropic 401 shape", st == 401 and doc["type"] == "error" and
           doc["error"]["type"] == "authentication_error")
    st, doc = m.json("POST", "/v1/messages", ab, {"x-api-key": "sk-test"})
    expect("anthropic-version required", st == 400 and doc["error"]["type"] == "invalid_request_error")
    st, doc = m.json("POST", "/v1/messages", ab, {"x-api-key": "sk-test", "anthropic-version": "2023-06-01"})
    expect("anthropic with key: 200", st == 200 and doc["type"] == "message")
    st, doc = m.json("POST", "/v1/chat/completions", chat("any/model-name", "x", max_tokens=3),
                     {"Authorization": "Bearer sk-test"})
    expect("any_model accepts unknown names", st == 200 and doc["model"] == "any/model-name" and
           doc["usage"]["completion_tokens"] == 3)
    st, doc = m.json("GET", "/mock/stats")
    expect("control plane needs no key", st == 200)

finish()
