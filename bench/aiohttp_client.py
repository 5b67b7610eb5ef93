#!/usr/bin/env python3
"""A typical Python asyncio LLM benchmark client, for bench/client_overhead.sh.

Written the way the Python serving benchmarks do it (vLLM's
benchmarks/backend_request_func.py, async_request_openai_chat_completions):
one aiohttp ClientSession per request, `async for chunk_bytes in
response.content` (aiohttp yields lines), strip, drop "data: ", json.loads
each line, time.perf_counter() when a chunk with content arrives. One
deliberate difference: vLLM takes TTFT at the first chunk with `choices`,
which on servers that send a role-only first chunk (as the emulator and
OpenAI do) is not a token; here TTFT is the first chunk with content, as in
mlxbench, so both are compared with the same truth.

    aiohttp_client.py URL MODEL STREAMS MAX_TOKENS OUT.json [ID_PREFIX [RATE]]

All STREAMS requests start at once (asyncio.gather); with RATE (requests/s)
on an open-loop schedule instead, the i-th at (i - 1) / RATE. OUT.json:
{"requests": [{"id", "start", "recv": [perf_counter of each content chunk],
"ok", "output_tokens"}]}. perf_counter is CLOCK_MONOTONIC on Linux, the
clock of the emulator's trace.
"""
import asyncio
import json
import sys
import time

import aiohttp

AIOHTTP_TIMEOUT = aiohttp.ClientTimeout(total=6 * 60 * 60)


async def request(url, model, max_tokens, rid, out, at=None):
    if at is not None:
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
    payload = {
        "model": model,
        "messages": [{"role": "user", "content": "Tell me a long story."}],
        "max_tokens": max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    headers = {"Content-Type": "application/json", "x-mock-request-id": rid}
    rec = {"id": rid, "start": 0.0, "recv": [], "ok": False, "output_tokens": 0}
    generated_text = ""
    async with aiohttp.ClientSession(trust_env=True, timeout=AIOHTTP_TIMEOUT) as session:
        st = time.perf_counter()
        rec["start"] = st
        try:
            async with session.post(url=url, json=payload, headers=headers) as response:
                if response.status == 200:
                    async for chunk_bytes in response.content:
                        chunk_bytes = chunk_bytes.strip()
                        if not chunk_bytes:
                            continue
                        chunk = chunk_bytes.decode("utf-8").removeprefix("data: ")
                        if chunk != "[DONE]":
                            timestamp = time.perf_counter()
                            data = json.loads(chunk)
                            if choices := data.get("choices"):
                                content = choices[0]["delta"].get("content")
                                if content:
                                    rec["recv"].append(timestamp)
                                    generated_text += content
                            elif usage := data.get("usage"):
                                rec["output_tokens"] = usage.get("completion_tokens")
                    rec["ok"] = True
        except Exception as e:  # noqa: BLE001 -- recorded like the benchmark does
            rec["error"] = repr(e)
    out.append(rec)


async def main():
    url, model, n, max_tokens, path = sys.argv[1:6]
    prefix = sys.argv[6] if len(sys.argv) > 6 else "py"
    rate = float(sys.argv[7]) if len(sys.argv) > 7 else None
    t0 = time.perf_counter() + 0.01
    out = []
    await asyncio.gather(*(request(url + "/v1/chat/completions", model, int(max_tokens),
                                   f"{prefix}-{i}", out,
                                   t0 + (i - 1) / rate if rate else None)
                           for i in range(1, int(n) + 1)))
    with open(path, "w") as f:
        json.dump({"requests": out}, f)


if __name__ == "__main__":
    asyncio.run(main())
