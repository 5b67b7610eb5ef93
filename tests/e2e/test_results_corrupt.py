#!/usr/bin/env python3
"""Damaged results files given to the readers (report in every format,
compare, merge): each must either work or fail with exit 2 and one line
`mlxbench <command>: <file>: ...` naming the problem -- never a Lua
traceback, never a crash, never a hang.

The files are a real results file (a small run on the emulator, with a
sweep-free run and per-request data) damaged in chosen ways (truncated,
wrong types, huge and negative counts, bad histogram encodings, nulls,
deep nesting) and in 300 seeded random ways (a value anywhere in the
document replaced by a value of another type)."""
import copy
import json
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mocklib import MLXBENCH, expect, finish  # noqa: E402

tmp = tempfile.mkdtemp()
good = os.path.join(tmp, "good.json")
r = subprocess.run([MLXBENCH, "run", "--mock", "-m", "small", "-n", "3", "-c", "2",
                    "--max-tokens", "8", "-o", good, "-q"], capture_output=True, text=True, timeout=60)
expect("the base run works", r.returncode == 0 and os.path.exists(good), r.stderr)
base = json.load(open(good))


def readers(path):
    out = os.path.join(tmp, "out")
    return [
        ("report", [MLXBENCH, "report", path]),
        ("report", [MLXBENCH, "report", path, "--format", "csv"]),
        ("report", [MLXBENCH, "report", path, "--format", "md"]),
        ("report", [MLXBENCH, "report", path, "--format", "html", "-o", out + ".html"]),
        ("compare", [MLXBENCH, "compare", good, path]),
        ("merge", [MLXBENCH, "merge", good, path, "-o", out + ".json"]),
    ]


def check(label, path, must_fail=False):
    for cmd, argv in readers(path):
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        except subprocess.TimeoutExpired:
            expect(f"{label}: {cmd} does not hang", False)
            continue
        err = p.stderr
        clean = "traceback" not in err and "[mlxbench]" not in err and p.returncode in (0, 1, 2)
        if p.returncode == 2:
            clean = clean and err.startswith(f"mlxbench {cmd}: ") and err.count("\n") <= 2
        elif must_fail and cmd != "compare":
            clean = False
        expect(f"{label}: {' '.join(argv[1:2])} {cmd} fails cleanly or works (rc {p.returncode})",
               clean, err[:300])


def write(name, text):
    path = os.path.join(tmp, name)
    with open(path, "w" if isinstance(text, str) else "wb") as f:
        f.write(text)
    return path


def mutate(name, fn):
    d = copy.deepcopy(base)
    fn(d["runs"][0])
    return write(name, json.dumps(d))


text = open(good).read()
check("truncated", write("trunc.json", text[: len(text) // 2]), True)
check("empty", write("empty.json", ""), True)
check("binary", write("bin.json", b"\x00\xff\xfe garbage"), True)
check("deep", write("deep.json", "[" * 100000), True)
check("other schema", write("schema.json", '{"schema":"other/1","runs":[]}'), True)
check("bad histogram", mutate("hist.json", lambda r: r["histograms"].update(
    {k: "AAAA!!" for k in r["histograms"]})), True)
check("metrics wrong type", mutate("metrics.json", lambda r: r.update(
    metrics={"ttft_s": "x", "itl_s": {"p50": "y"}})), True)
check("per_request not a list", mutate("pr.json", lambda r: r.update(per_request=5)), True)
check("timeline entries", mutate("tl.json", lambda r: r.update(timeline=[1, "x", None])), True)
check("huge count", mutate("huge.json", lambda r: r["requests"].update(total=1e308)), True)
check("negative count", mutate("neg.json", lambda r: r["requests"].update(ok=-5)), True)
check("nulls", mutate("nulls.json", lambda r: [r.__setitem__(k, None) for k in list(r) if k != "name"]), True)

# random damage: one value somewhere replaced by a value of another type
rng = random.Random(7)
REPLACEMENTS = [None, -1, 1e308, "x", [], {}, [1, 2], {"a": None}, True, 0.5, "AAAA"]


def paths(v, prefix=()):
    yield prefix
    if isinstance(v, dict):
        for k, x in v.items():
            yield from paths(x, prefix + (k,))
    elif isinstance(v, list):
        for i, x in enumerate(v[:5]):
            yield from paths(x, prefix + (i,))


all_paths = [p for p in paths(base) if p]
bad_files = []
for n in range(300):
    d = copy.deepcopy(base)
    p = rng.choice(all_paths)
    cur = d
    for k in p[:-1]:
        cur = cur[k]
    cur[p[-1]] = rng.choice(REPLACEMENTS)
    bad_files.append((p, write(f"rnd{n}.json", json.dumps(d))))
# run only the report and merge readers on the random files, to stay quick
fails = 0
for p, path in bad_files:
    for cmd, argv in (readers(path)[0], readers(path)[3], readers(path)[5]):
        r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        ok = ("traceback" not in r.stderr and "[mlxbench]" not in r.stderr and r.returncode in (0, 1, 2)
              and (r.returncode != 2 or r.stderr.startswith(f"mlxbench {cmd}: ")))
        if not ok:
            fails += 1
            if fails <= 40:
                print("damaged at", "/".join(map(str, p)), cmd, "->", r.returncode, r.stderr[:300])
expect(f"300 randomly damaged files: every reader works or fails in one clear line ({fails} bad)",
       fails == 0)
finish()
