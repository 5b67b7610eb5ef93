"""test_mock_cache: what the emulator learned for realistic traffic.

- the prefix cache: cached tokens are whole blocks of the prompt's leading
  text shared with an earlier prompt of the same model (never the last
  token), reported in OpenAI usage (prompt_tokens_details.cached_tokens),
  as Anthropic cache_read_input_tokens (input_tokens then the rest), in the
  trace and /mock/stats; they skip prefill: ttft_target_s is ttft_ms +
  uncached / prefill_tok_s, and the first token leaves then (2 ms); the
  least recently used blocks go first when it is full; another model has
  its own; a finished answer's sequence is cached for the next turn;
- Anthropic extended thinking: with `thinking: {type: enabled}` a model
  with reasoning_tokens streams a thinking block (thinking_delta, then a
  signature) before the text block; usage counts both; bodies carry both;
- built-in profiles: `--profile vllm` and `--profile mlx-lm` (their
  models, caches, reasoning fields), and a clear error for a name that is
  neither a file nor a profile;
- cancellation: a client that closes mid-stream stops the emission; the
  trace records `client_closed` with the tokens sent by then.
"""
import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mocklib import MLXBENCH, Mock, expect, finish  # noqa: E402

SANITIZED = os.environ.get("MB_SANITIZED") == "1"
PROFILE = {"models": {"t": {"ttft_ms": 20, "prefill_tok_s": 1000, "decode_tok_s": 200, "jitter": 0},
                      "u": {"ttft_ms": 20, "prefill_tok_s": 1000, "decode_tok_s": 200, "jitter": 0,
                            "reasoning_tokens": 4}},
           "prefix_cache": {"blocks": 64, "block_tokens": 16}}


def chat(model, system, user, **kw):
    b = {"model": model, "max_tokens": 4, "messages": [{"role": "system", "content": system},
                                                       {"role": "user", "content": user}]}
    b.update(kw)
    return b


def cache():
    A = "a" * 1024     # 256 tokens: 16 blocks of 16 tokens
    with Mock(profile=PROFILE) as m:
        st, d = m.json("POST", "/v1/chat/completions", chat("t", A, "first"))
        expect("cold: nothing cached", st == 200 and d["usage"]["prompt_tokens_details"]["cached_tokens"] == 0, d)
        st, d = m.json("POST", "/v1/chat/completions", chat("t", A, "second question"))
        expect("warm: the shared system prompt's whole blocks (256 tokens)",
               d["usage"]["prompt_tokens_details"]["cached_tokens"] == 256, d["usage"])
        st, d = m.json("POST", "/v1/chat/completions", chat("u", A, "second question"))
        expect("another model has its own cache", d["usage"]["prompt_tokens_details"]["cached_tokens"] == 0)
        # the same prompt again: everything but the block holding the last token
        st, d = m.json("POST", "/v1/chat/completions", chat("t", A, "second question"))
        pt, ct = d["usage"]["prompt_tokens"], d["usage"]["prompt_tokens_details"]["cached_tokens"]
        expect("the last prompt token is always computed", ct == (pt - 1) // 16 * 16 and ct < pt, (pt, ct))
        st, d = m.json("POST", "/v1/messages", {"model": "t", "max_tokens": 4, "system": A,
                                                  "messages": [{"role": "user", "content": "third"}]})
        u = d["usage"]
        expect("Anthropic: cache reads, input the rest", u["cache_read_input_tokens"] == 256
               and u["input_tokens"] == 256 + 2 - 256 and u["cache_creation_input_tokens"] == 0, u)
        recs = m.trace()["requests"]
        expect("the trace records cached tokens", [r["cached_tokens"] for r in recs] == [0, 256, 0, ct, 256],
               [r["cached_tokens"] for r in recs])
        ok = all(abs(r["ttft_target_s"] - (0.020 + (r["prompt_tokens"] - r["cached_tokens"]) / 1000)) < 1e-9
                 for r in recs)
        expect("cached tokens skip prefill: ttft_target_s = ttft_ms + uncached / prefill", ok,
               [(r["prompt_tokens"], r["cached_tokens"], r["ttft_target_s"]) for r in recs])
        if not SANITIZED:
            # a body leaves once its last token is generated: TTFT + 3 intervals of 5 ms
            worst = max(abs((r["chunks"][0][1] - r["arrival_ns"]) / 1e9 - r["ttft_target_s"]
                            - (r["output_tokens"] - 1) / 200) for r in recs)
            expect("the answer leaves at the cache-aware TTFT (2 ms)", worst < 0.002, worst)
        st = m.stats()["prefix_cache"]
        expect("/mock/stats: the cache's counters", st["blocks"] == 64 and st["block_tokens"] == 16
               and st["lookups"] == 5 and st["hits"] == 3 and st["cached_tokens"] == 256 + ct + 256, st)
        # LRU: four other prompts of 16 blocks each fill the 64 blocks; A's,
        # least recently used, are gone
        for k in "defg":
            m.json("POST", "/v1/chat/completions", chat("t", k * 1024, "q"))
        st, d = m.json("POST", "/v1/chat/completions", chat("t", A, "again"))
        expect("LRU: the least recently used blocks were evicted",
               d["usage"]["prompt_tokens_details"]["cached_tokens"] == 0, d["usage"])
        expect("/mock/stats counts evictions", m.stats()["prefix_cache"]["evicted"] > 0)
    # conversation: the answer's sequence is cached for the next turn
    with Mock(profile=PROFILE) as m:
        sys_ = "c" * 512
        st, d = m.json("POST", "/v1/chat/completions", chat("t", sys_, "hi", max_tokens=40))
        reply = d["choices"][0]["message"]["content"]
        body = {"model": "t", "max_tokens": 4, "messages": [{"role": "system", "content": sys_},
                {"role": "user", "content": "hi"}, {"role": "assistant", "content": reply},
                {"role": "user", "content": "and then?"}]}
        st, d2 = m.json("POST", "/v1/chat/completions", body)
        text_before = len(sys_) + 1 + 2 + 1 + len(reply)   # prompt text up to the end of the reply
        expect("the next turn finds the previous answer cached",
               d2["usage"]["prompt_tokens_details"]["cached_tokens"] >= (text_before // 4) // 16 * 16 > 128,
               (d2["usage"], text_before))


def thinking():
    with Mock(profile=PROFILE) as m:
        st, h, ev, raw = m.stream("/v1/messages", {"model": "u", "max_tokens": 10, "stream": True,
                                                    "thinking": {"type": "enabled", "budget_tokens": 1024},
                                                    "messages": [{"role": "user", "content": "hi"}]})
        types = [(json.loads(d)["type"], json.loads(d).get("index"),
                  (json.loads(d).get("delta") or {}).get("type") or (json.loads(d).get("content_block") or {}).get("type"))
                 for _, d, _ in ev]
        want = ([("message_start", None, None), ("content_block_start", 0, "thinking"), ("ping", None, None)]
                + [("content_block_delta", 0, "thinking_delta")] * 4
                + [("content_block_delta", 0, "signature_delta"), ("content_block_stop", 0, None),
                   ("content_block_start", 1, "text")]
                + [("content_block_delta", 1, "text_delta")] * 6
                + [("content_block_stop", 1, None), ("message_delta", None, None), ("message_stop", None, None)])
        expect("Anthropic thinking: a thinking block, then the text block", types == want, types)
        last = json.loads(ev[-2][1])
        expect("Anthropic thinking: output_tokens counts both", last["usage"]["output_tokens"] == 10, last)
        st, h, ev, raw = m.stream("/v1/messages", {"model": "u", "max_tokens": 10, "stream": True,
                                                    "messages": [{"role": "user", "content": "hi"}]})
        expect("no thinking without the request's `thinking`", "thinking" not in raw)
        st, d = m.json("POST", "/v1/messages", {"model": "u", "max_tokens": 10, "thinking": {"type": "enabled",
                       "budget_tokens": 1024}, "messages": [{"role": "user", "content": "hi"}]})
        expect("Anthropic thinking body: thinking then text", [c["type"] for c in d["content"]] == ["thinking", "text"]
               and len(d["content"][0]["thinking"].split()) == 4 and d["content"][0]["signature"], d)
        # cut inside the thinking: the thinking block ends the message
        st, h, ev, raw = m.stream("/v1/messages", {"model": "u", "max_tokens": 3, "stream": True,
                                                    "thinking": {"type": "enabled", "budget_tokens": 1024},
                                                    "messages": [{"role": "user", "content": "hi"}]})
        expect("max_tokens inside the thinking: no text block", '"index":1' not in raw and "max_tokens" in raw, raw)


def presets():
    for name, model, field, block in (("vllm", "Qwen/Qwen3-8B", "reasoning_content", 16),
                                      ("mlx-lm", "mlx-community/Qwen3-8B-4bit", "reasoning", 1)):
        with Mock(args=["--profile", name]) as m:
            st, h, ev, raw = m.stream("/v1/chat/completions", {"model": model, "max_tokens": 80, "stream": True,
                                      "messages": [{"role": "user", "content": "hi"}]})
            expect("%s: the reasoning model streams %s" % (name, field), ('"%s":' % field) in raw, raw[:300])
            expect("%s: a prefix cache of %d-token blocks" % (name, block),
                   m.stats()["prefix_cache"]["block_tokens"] == block)
            st, d = m.json("GET", "/v1/models")
            expect("%s: its models are listed" % name, model in [x["id"] for x in d["data"]])
    p = subprocess.run([MLXBENCH, "mock", "--port", "0", "--profile", "vllm-ish"], capture_output=True, text=True,
                       timeout=10)
    expect("an unknown profile name: one line naming the built-in ones", p.returncode == 2
           and "built-in profile: vllm, mlx-lm" in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr)


def cancel():
    with Mock(profile=PROFILE) as m:
        s = socket.create_connection((m.host, m.port))
        body = json.dumps({"model": "t", "max_tokens": 200, "stream": True, "ignore_eos": True,
                           "messages": [{"role": "user", "content": "hi"}]})
        s.sendall(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   "x-mock-request-id: cut\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)).encode())
        got = b""
        while got.count(b'"content":"') < 6:    # the role chunk's empty content, then 5 tokens
            got += s.recv(65536)
        s.close()
        rec = m.trace_done("cut")
        expect("cancellation: the trace records the client's close", rec["outcome"] == "client_closed", rec["outcome"])
        expect("cancellation: emission stopped soon after", 5 <= rec["output_tokens"] < 30, rec["output_tokens"])
        time.sleep(0.1)
        expect("cancellation: nothing left streaming", m.stats()["active_streams"] == 0)


cache()
thinking()
presets()
cancel()
finish()
