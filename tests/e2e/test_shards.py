#!/usr/bin/env python3
"""Shards and merge: 3 processes (`--shard 1/3`, `2/3`, `3/3`, run at the
same time) against one emulator process, merged with `mlxbench merge`, equal
a single process running the same total load with the same seed -- for a
count-bound closed-loop run and for an open-loop Poisson run:

- merged requests total/ok and output tokens equal the single run's exactly;
- every histogram's total count equals the single run's, and the merged
  histograms are the exact sum of the shards' (re-merging in another order
  gives the same encoding, min/max are the shards' extremes);
- the shards' request numbers are disjoint and their union is the single
  run's; for the open loop, the union of the shards' scheduled send offsets
  is the single process's schedule (and load.schedule's);
- the merged run lines the shards up by wall clock: per-request times are
  moved by each shard's start offset, the duration is the union window, the
  rates are recomputed over it, the timeline counts every request;
- mismatched files are refused with a clear message unless --force.
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mocklib import MLXBENCH, Mock, expect, finish  # noqa: E402

PROFILE = {"builtin_models": False, "any_model": True, "default_model": "fast",
           "models": {"fast": {"ttft_ms": 5, "prefill_tok_s": 0, "decode_tok_s": 400,
                               "jitter": 0.05}}}


def run(*args, timeout=60):
    p = subprocess.run([MLXBENCH, *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def shards(base, out_pattern, n=3):
    """Starts the n shards at once and waits for all of them."""
    procs = [subprocess.Popen([MLXBENCH, *base, "--shard", f"{i}/{n}", "-o", out_pattern % i, "-q"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(1, n + 1)]
    for i, p in enumerate(procs, 1):
        so, se = p.communicate(timeout=60)
        expect(f"shard {i}/{n} exits 0", p.returncode == 0, se)
    return [json.load(open(out_pattern % i)) for i in range(1, n + 1)]


def hist_check(files):
    """Re-merges the shards' histograms in reverse order in Lua and returns
    {metric: encoding} to compare with the merged file's."""
    code = r"""
local json, stats = require "cjson", require "mlxbench.stats"
local acc = {}
for k = #arg, 1, -1 do
  local f = assert(io.open(arg[k])); local d = json.decode(f:read("a")); f:close()
  for m, e in pairs(d.runs[1].histograms) do
    local h = stats.decode(e)
    if acc[m] then acc[m]:merge(h) else acc[m] = h end
  end
end
local out = {}
for m, h in pairs(acc) do out[m] = h:encode() end
print(json.encode(out))
"""
    p = subprocess.run([MLXBENCH, "-e", code, *files], capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        # `-e` takes no file arguments: fall back to a script file
        path = files[0] + ".check.lua"
        with open(path, "w") as f:
            f.write(code)
        p = subprocess.run([MLXBENCH, path, *files], capture_output=True, text=True, timeout=30)
    expect("histogram re-merge script runs", p.returncode == 0, p.stderr)
    return json.loads(p.stdout) if p.returncode == 0 else {}


def compare(label, single, parts, merged, files):
    s, m = single["runs"][0], merged["runs"][0]
    runs = [p["runs"][0] for p in parts]
    for k in ("total", "ok"):
        expect(f"{label}: merged requests.{k} {m['requests'][k]} == single {s['requests'][k]}",
               m["requests"][k] == s["requests"][k])
    expect(f"{label}: all ok", s["requests"]["ok"] == s["requests"]["total"] > 0)
    expect(f"{label}: merged output tokens {m['tokens']['output']} == single {s['tokens']['output']}",
           m["tokens"]["output"] == s["tokens"]["output"])
    expect(f"{label}: merged input tokens == single", m["tokens"]["input"] == s["tokens"]["input"])
    expect(f"{label}: the shards split the requests (each has some, none has all)",
           all(0 < r["requests"]["total"] < s["requests"]["total"] for r in runs),
           str([r["requests"]["total"] for r in runs]))
    expect(f"{label}: same histograms in both", set(m["histograms"]) == set(s["histograms"]),
           f"{sorted(m['histograms'])} vs {sorted(s['histograms'])}")
    for name, st in s["metrics"].items():
        mt = m["metrics"].get(name)
        if name in ("tpot_s", "decode_tok_s"):
            # need the last token later than the first: a stream that came in
            # one read (a loaded machine) has none -- count those per run
            for r, what in ((m, "merged"), (s, "single")):
                have = sum(1 for q in r.get("per_request", []) if q.get("tpot_s") is not None)
                expect(f"{label}: {name} count {what} {r['metrics'][name]['count']} == requests with a TPOT {have}",
                       r["metrics"][name]["count"] == have and have >= 0.8 * r["requests"]["ok"])
        else:
            expect(f"{label}: {name} count merged {mt and mt['count']} == single {st['count']}",
                   mt is not None and mt["count"] == st["count"])
        if mt:
            expect(f"{label}: {name} merged min/max are the shards' extremes",
                   mt["min"] == min(r["metrics"][name]["min"] for r in runs) and
                   mt["max"] == max(r["metrics"][name]["max"] for r in runs))
    again = hist_check(files)
    for name, enc in m["histograms"].items():
        expect(f"{label}: {name} histogram is the exact sum of the shards'", again.get(name) == enc)
    # request numbers: disjoint across shards, union = the single run's
    ids = [q["i"] for r in runs for q in r["per_request"]]
    expect(f"{label}: shards' request numbers are disjoint", len(ids) == len(set(ids)))
    expect(f"{label}: union of request numbers == single run's",
           sorted(ids) == sorted(q["i"] for q in s["per_request"]))
    # shard metadata, seed, wall-clock start
    for i, r in enumerate(runs, 1):
        expect(f"{label}: shard {i} records shard {{index, count}}",
               r.get("shard", {}).get("index") == i and r["shard"]["count"] == 3, str(r.get("shard")))
        expect(f"{label}: shard {i} has started_at and started_unix",
               "started_at" in r and isinstance(r.get("started_unix"), float))
        expect(f"{label}: shard {i} has the same seed and config as the single run",
               r["config"] == s["config"], f"{r['config']} vs {s['config']}")
    expect(f"{label}: merged run lists its shards", m.get("shards") == {"count": 3, "merged": [1, 2, 3]},
           str(m.get("shards")))
    # wall-clock alignment
    t0 = min(r["started_unix"] for r in runs)
    expect(f"{label}: merged started_unix is the earliest shard start", abs(m["started_unix"] - t0) < 1e-6)
    lo = min(r["started_unix"] + r["window"]["start_s"] for r in runs) - t0
    hi = max(r["started_unix"] + r["window"]["end_s"] for r in runs) - t0
    expect(f"{label}: merged duration {m['duration_s']:.4f} == union window {hi - lo:.4f}",
           abs(m["duration_s"] - (hi - lo)) < 1e-6)
    expect(f"{label}: duration >= every shard's", m["duration_s"] >= max(r["duration_s"] for r in runs) - 1e-9)
    expect(f"{label}: output tok/s recomputed over the union window",
           abs(m["throughput"]["output_tok_s"] - m["tokens"]["output"] / m["duration_s"]) < 1e-6)
    expect(f"{label}: requests/s recomputed",
           abs(m["throughput"]["requests_s"] - m["requests"]["ok"] / m["duration_s"]) < 1e-6)
    offs = {src["tag"]: src["offset_s"] for src in m["sources"]}
    expect(f"{label}: sources tagged 'shard i/3'", sorted(offs) == ["shard 1/3", "shard 2/3", "shard 3/3"],
           str(sorted(offs)))
    for i, r in enumerate(runs, 1):
        tag = f"shard {i}/3"
        expect(f"{label}: {tag} offset is its wall-clock start - the earliest",
               abs(offs.get(tag, -1) - (r["started_unix"] - t0)) < 1e-6)
        mine = {q["i"]: q for q in m["per_request"] if q["source"] == tag}
        expect(f"{label}: {tag}'s requests are in the merged list", len(mine) == len(r["per_request"]))
        moved = all(abs(mine[q["i"]]["start_s"] - (q["start_s"] + offs[tag])) < 1e-9
                    for q in r["per_request"] if q["i"] in mine)
        expect(f"{label}: {tag}'s start times moved onto the merged clock", moved)
    tl = m.get("timeline") or []
    expect(f"{label}: merged timeline counts every request",
           sum(b["ok"] + b["failed"] for b in tl) == m["requests"]["total"], str(tl)[:300])
    expect(f"{label}: merged summary recomputed",
           m["summary"]["runs"] == s["summary"]["runs"] and
           m["summary"]["total_tokens"] == s["summary"]["total_tokens"])


with Mock(profile=PROFILE) as mock:
    d = mock.tmp.name
    # --- closed loop, count-bound -------------------------------------------
    base = ["run", "--url", mock.url, "-m", "fast", "-n", "31", "-c", "6", "--max-tokens", "12",
            "--seed", "7", "--prompt", "short"]
    rc, so, se = run(*base, "-o", f"{d}/closed.json", "-q")
    expect("closed single run exits 0", rc == 0, se)
    single = json.load(open(f"{d}/closed.json"))
    parts = shards(base, f"{d}/closed-%d.json")
    files = [f"{d}/closed-{i}.json" for i in (1, 2, 3)]
    expect("closed: requests split 11/10/10, users 2/2/2",
           [p["runs"][0]["shard"].get("requests") for p in parts] == [11, 10, 10] and
           [p["runs"][0]["shard"].get("concurrency") for p in parts] == [2, 2, 2],
           str([p["runs"][0]["shard"] for p in parts]))
    rc, so, se = run("merge", *files, "-o", f"{d}/closed-merged.json")
    expect("closed merge exits 0", rc == 0, se)
    expect("merge prints the table", "merged 3 files, 1 run" in so, so)
    merged = json.load(open(f"{d}/closed-merged.json"))
    compare("closed", single, parts, merged, files)

    # --- open loop, Poisson ---------------------------------------------------
    base = ["run", "--url", mock.url, "-m", "fast", "--rate", "40", "-n", "60", "--max-tokens", "8",
            "--seed", "11", "--prompt", "short"]
    rc, so, se = run(*base, "-o", f"{d}/open.json", "-q")
    expect("open single run exits 0", rc == 0, se)
    osingle = json.load(open(f"{d}/open.json"))
    oparts = shards(base, f"{d}/open-%d.json")
    ofiles = [f"{d}/open-{i}.json" for i in (1, 2, 3)]
    rc, so, se = run("merge", *ofiles, "-o", f"{d}/open-merged.json", "-q")
    expect("open merge exits 0", rc == 0, se)
    omerged = json.load(open(f"{d}/open-merged.json"))
    compare("open", osingle, oparts, omerged, ofiles)
    single_sched = sorted(q["scheduled_s"] for q in osingle["runs"][0]["per_request"])
    shard_sched = sorted(q["scheduled_s"] for p in oparts for q in p["runs"][0]["per_request"])
    expect("open: union of the shards' scheduled send offsets == the single process's schedule",
           len(single_sched) == len(shard_sched) == 60 and
           all(abs(a - b) < 1e-9 for a, b in zip(single_sched, shard_sched)))
    code = ('local s = require("mlxbench.load").schedule{rate = 40, arrival = "poisson", requests = 60, '
            'seed = 11} print(require("cjson").encode(s))')
    rc, so, se = run("-e", code)
    plan = json.loads(so) if rc == 0 else []
    expect("open: ... and load.schedule's", len(plan) == 60 and
           all(abs(a - b) < 1e-9 for a, b in zip(plan, single_sched)), se)
    for i, p in enumerate(oparts, 1):
        r = p["runs"][0]
        expect(f"open: shard {i} kept every 3rd arrival from #{i}",
               sorted(q["i"] for q in r["per_request"]) == list(range(i, 61, 3)) and
               r["shard"]["scheduled"] == 20 and r["shard"]["schedule_total"] == 60, str(r["shard"]))
    # scheduled times in the merged file: the shard's offset + its own schedule
    offs = {s["tag"]: s["offset_s"] for s in omerged["runs"][0]["sources"]}
    back = sorted(q["scheduled_s"] - offs[q["source"]] for q in omerged["runs"][0]["per_request"])
    expect("open: merged scheduled times minus the source offsets == the schedule",
           all(abs(a - b) < 1e-9 for a, b in zip(back, single_sched)))
    for name in ("queue_s", "latency_s"):
        expect(f"open: {name} merged count == single",
               omerged["runs"][0]["metrics"][name]["count"] == osingle["runs"][0]["metrics"][name]["count"])

    # --- refusals ---------------------------------------------------------------
    rc, so, se = run("merge", files[0], ofiles[1], "-o", f"{d}/bad.json")
    expect("files with different runs are refused (exit 2)",
           rc == 2 and "not the same scenario" in se and "--force" in se and not os.path.exists(f"{d}/bad.json"),
           f"rc={rc} {se}")
    rc, so, se = run("run", "--url", mock.url, "-m", "fast", "-n", "4", "-c", "3", "--max-tokens", "4",
                     "--seed", "7", "--prompt", "short", "--name", "c=6",
                     "--shard", "2/3", "-o", f"{d}/other-2.json", "-q")
    expect("a shard of another scenario under the same name", rc == 0, se)
    rc, so, se = run("merge", files[0], f"{d}/other-2.json", "-o", f"{d}/bad.json")
    expect("same name, other options: refused, naming the option",
           rc == 2 and "config.concurrency differs: 6 in" in se, f"rc={rc} {se}")
    rc, so, se = run("merge", files[0], files[0], files[1], "-o", f"{d}/bad.json")
    expect("a shard given twice is refused", rc == 2 and "appears twice" in se, f"rc={rc} {se}")
    v2 = json.load(open(files[2]))
    v2["schema"] = "mlxbench.results/2"
    with open(f"{d}/v2.json", "w") as f:
        json.dump(v2, f)
    rc, so, se = run("merge", files[0], files[1], f"{d}/v2.json", "-o", f"{d}/bad.json")
    expect("another schema version is refused", rc == 2 and "different results versions" in se,
           f"rc={rc} {se}")
    rc, so, se = run("merge", files[0], files[1], f"{d}/v2.json", "-o", f"{d}/forced.json", "--force",
                     "--format", "none")
    expect("--force merges anyway, with a warning", rc == 0 and "--force" in se and
           json.load(open(f"{d}/forced.json"))["runs"][0]["requests"]["total"] == 31, f"rc={rc} {se}")
    rc, so, se = run("merge", files[0], files[2], "-o", f"{d}/part.json", "--format", "none")
    expect("an incomplete shard set merges with a warning naming the missing shard",
           rc == 0 and "shard 2 of 3 missing" in se, f"rc={rc} {se}")
    # files without per-request lists: counts still exact, no per_request
    for i, f in enumerate(files, 1):
        doc = json.load(open(f))
        del doc["runs"][0]["per_request"]
        with open(f"{d}/lean-{i}.json", "w") as fh:
            json.dump(doc, fh)
    rc, so, se = run("merge", *[f"{d}/lean-{i}.json" for i in (1, 2, 3)], "-o", f"{d}/lean.json", "-q")
    lean = json.load(open(f"{d}/lean.json"))["runs"][0] if rc == 0 else {}
    expect("without per-request lists: merged counts and histograms still exact",
           rc == 0 and lean["requests"] == merged["runs"][0]["requests"] and
           lean["histograms"] == merged["runs"][0]["histograms"] and "per_request" not in lean,
           f"rc={rc} {se}")
    rc, so, se = run("merge", files[0])
    expect("merge without -o is a usage error", rc == 2 and "-o OUT.json is required" in se, se)
    rc, so, se = run("merge", f"{d}/nope.json", "-o", f"{d}/x.json")
    expect("a missing input is an error", rc == 2 and "cannot open" in se, se)
    rc, so, se = run("run", "--url", mock.url, "-m", "fast", "--shard", "4/3")
    expect("--shard 4/3 is a usage error", rc == 2 and "1 <= I <= N" in se, se)
    rc, so, se = run("run", "--url", mock.url, "-m", "fast", "-c", "2", "--shard", "1/3")
    expect("-c 2 over 3 shards is refused", rc == 2 and "no virtual user" in se, se)

finish()
