#!/usr/bin/env python3
"""Driver of bench/client_overhead.sh (see there): the emulator in its own
process on one CPU, each client in turn on the other, CPU-seconds from the
client's rusage, timing error against the emulator's trace."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))]


def get(url, timeout=120):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


def post(url):
    req = urllib.request.Request(url, data=b"{}", method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read()


def hwm_kb(pid):
    """Peak RSS of the process's current image (VmHWM: after exec, the
    client's own, unlike ru_maxrss which also counts the forked copy of
    this driver)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_client(cmd, cpu, prio=()):
    """Runs cmd pinned to cpu; returns (rc, wall_s, cpu_s, max_rss_kb, stderr)."""
    argv = list(prio) + (["taskset", "-c", str(cpu)] if cpu is not None else []) + cmd
    err = tempfile.TemporaryFile()
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
    peak = 0
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        peak = max(peak, hwm_kb(p.pid))
        time.sleep(0.05)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    err.seek(0)
    return p.returncode, wall, ru.ru_utime + ru.ru_stime, peak, err.read().decode()[-2000:]


def errors_vs_trace(client, trace):
    """Per request: TTFT error = client TTFT - (first token write - request's
    first byte at the server); ITL error = client gap - server gap between the
    same two content chunks; delivery = client arrival - server write."""
    by_id = {r.get("client_id"): r for r in trace["requests"]}
    ttft, itl, deliv, send = [], [], [], []
    matched = mismatched = 0
    for q in client["requests"]:
        t = by_id.get(q["id"])
        if not t or not q.get("recv"):
            mismatched += 1
            continue
        w = [c[1] / 1e9 for c in t["chunks"]]
        r = q["recv"]
        if len(w) != len(r):
            mismatched += 1
            continue
        matched += 1
        ttft.append(abs((r[0] - q["start"]) - (w[0] - t["start_ns"] / 1e9)))
        send.append(t["start_ns"] / 1e9 - q["start"])
        for k in range(1, len(r)):
            itl.append(abs((r[k] - r[k - 1]) - (w[k] - w[k - 1])))
        deliv.extend(r[k] - w[k] for k in range(len(r)))
    return {"matched": matched, "mismatched": mismatched, "ttft": ttft, "itl": itl, "deliv": deliv,
            "send": send}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mlxbench", default=os.environ.get("MLXBENCH", os.path.join(ROOT, "build", "mlxbench")))
    ap.add_argument("--streams", type=int, default=1000)
    ap.add_argument("--tokens", type=int, default=300, help="tokens per stream")
    ap.add_argument("--tok-s", type=float, default=50.0, help="tokens/s of each stream")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--mock-cpu", default=os.environ.get("MOCK_CPU", "0"))
    ap.add_argument("--client-cpu", default=os.environ.get("CLIENT_CPU", "1"))
    ap.add_argument("--python", default=os.environ.get("PYTHON", "/usr/bin/python3"))
    ap.add_argument("--rt", type=int, default=int(os.environ.get("RT", "0")),
                    help="run the emulator and the clients with real-time priority N (chrt -f N), "
                         "so other work on a shared machine does not preempt them; 0 = off")
    ap.add_argument("--clients", default="floor,run,script,python",
                    help="which clients: floor (bench/floor_client.c: epoll + one read per "
                         "arrival, nothing else), run (mlxbench run), script (mlxbench Lua), python, "
                         "base (mlxbench run of the --base binary)")
    ap.add_argument("--base", default=os.environ.get("MLXBENCH_BASE"),
                    help="another mlxbench binary (an earlier commit's build) run as client "
                         "`base`, interleaved with the others: a before/after in one session")
    a = ap.parse_args()
    clients = a.clients.split(",")
    tmp = tempfile.mkdtemp(prefix="client_overhead.")
    prof = os.path.join(tmp, "profile.json")
    with open(prof, "w") as f:
        json.dump({"builtin_models": False, "any_model": True, "default_model": "s50",
                   "models": {"s50": {"ttft_ms": 100, "prefill_tok_s": 0, "decode_tok_s": a.tok_s,
                                      "jitter": 0, "length": "max_tokens"}},
                   "trace": {"max_requests": 4 * a.streams + 100,
                             "max_chunks": 2 * a.streams * a.tokens + 1000}}, f)
    prio = ["chrt", "-f", str(a.rt)] if a.rt > 0 else []
    mock = subprocess.Popen(prio + ["taskset", "-c", a.mock_cpu, a.mlxbench, "mock", "--port", "0", "--quiet",
                             "--profile", prof], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    url = mock.stdout.readline().decode().strip()
    if not url.startswith("http://"):
        sys.exit("the emulator did not start")
    cpu_model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    py_ver = subprocess.run([a.python, "-c", "import sys, aiohttp; print(sys.version.split()[0], aiohttp.__version__)"],
                            capture_output=True, text=True).stdout.split()
    print(f"machine: {os.cpu_count()} CPUs, {cpu_model}, kernel {os.uname().release}")
    print(f"emulator {url} on CPU {a.mock_cpu}; each client on CPU {a.client_cpu}; "
          f"{a.streams} streams x {a.tokens} tokens at {a.tok_s:g} tok/s each "
          f"({a.streams * a.tok_s:,.0f} tok/s total); Python {py_ver[0] if py_ver else '?'}, "
          f"aiohttp {py_ver[1] if len(py_ver) > 1 else '?'}"
          + (f"; real-time priority {a.rt} (chrt -f)" if a.rt > 0 else ""))
    with open("/proc/loadavg") as f:
        print("load average at start: " + " ".join(f.read().split()[:3]))
    label = {"floor": "C floor (epoll+read)", "run": "mlxbench run", "script": "mlxbench Lua script",
             "python": "Python aiohttp", "base": "mlxbench run (base)"}
    if "base" in clients and not a.base:
        sys.exit("client `base` needs --base BINARY (or MLXBENCH_BASE)")
    floor_bin = os.path.join(tmp, "floor_client")
    if "floor" in clients:
        subprocess.run(["cc", "-O2", "-Wall", "-o", floor_bin, os.path.join(HERE, "floor_client.c")],
                       check=True)
    hostport = url[len("http://"):].split("/")[0]
    res = {c: [] for c in clients}
    try:
        for run in range(1, a.runs + 1):
            for c in clients:
                out = os.path.join(tmp, f"{c}-{run}.json")
                prefix = f"{c}{run}"
                if c == "floor":
                    cmd = [floor_bin, hostport.rsplit(":", 1)[0], hostport.rsplit(":", 1)[1],
                           str(a.streams), "s50", str(a.tokens)]
                elif c in ("run", "base"):
                    cmd = [a.mlxbench if c == "run" else a.base, "run", "--url", url, "-m", "s50", "-n", str(a.streams),
                           "-c", str(a.streams), "--warmup", "0", "--max-tokens", str(a.tokens),
                           "--prompt", "Tell me a long story.", "-q", "-o", out]
                elif c == "script":
                    cmd = [a.mlxbench, os.path.join(HERE, "client_overhead.lua"), url, "s50",
                           str(a.streams), str(a.tokens), out, prefix]
                else:
                    cmd = [a.python, os.path.join(HERE, "aiohttp_client.py"), url, "s50",
                           str(a.streams), str(a.tokens), out, prefix]
                post(url + "/mock/trace/reset")
                rc, wall, cpu, rss, err = run_client(cmd, a.client_cpu, prio)
                if rc != 0:
                    print(f"{label[c]} failed (exit {rc}): {err}", file=sys.stderr)
                    continue
                trace = get(url + "/mock/trace?limit=1000000")
                toks = sum(r["output_tokens"] for r in trace["requests"] if r.get("outcome") == "ok")
                row = {"wall": wall, "cpu": cpu, "tokens": toks, "cpu_per_m": cpu / toks * 1e6 if toks else float("nan"),
                       "rss_mb": rss / 1024}
                if c == "floor":
                    ok = sum(1 for r in trace["requests"] if r.get("outcome") == "ok")
                    row.update(matched=ok, mismatched=a.streams - ok)
                elif c not in ("run", "base"):
                    e = errors_vs_trace(json.load(open(out)), trace)
                    row.update(matched=e["matched"], mismatched=e["mismatched"],
                               ttft_p50=pct(e["ttft"], 50), ttft_p99=pct(e["ttft"], 99),
                               itl_p50=pct(e["itl"], 50), itl_p99=pct(e["itl"], 99),
                               itl_p999=pct(e["itl"], 99.9),
                               deliv_p50=pct(e["deliv"], 50), deliv_p99=pct(e["deliv"], 99),
                               send_p50=pct(e["send"], 50), send_p99=pct(e["send"], 99))
                else:
                    doc = json.load(open(out))["runs"][0]
                    row.update(matched=doc["requests"]["ok"], mismatched=doc["requests"]["failed"])
                res[c].append(row)
                ms = lambda v: "%.3f" % (v * 1e3) if v == v else "-"  # noqa: E731
                print(f"run {run} {label[c]:<20} wall {wall:6.2f} s  CPU {cpu:6.2f} s  tokens {toks:>8,}  "
                      f"CPU-s/1M tok {row['cpu_per_m']:7.2f}  max RSS {row['rss_mb']:6.1f} MB"
                      + (f"  TTFT err p99 {ms(row['ttft_p99'])} ms  ITL err p50/p99 {ms(row['itl_p50'])}/"
                         f"{ms(row['itl_p99'])} ms  delivery p99 {ms(row['deliv_p99'])} ms"
                         f"  matched {row['matched']}/{a.streams}" if c not in ("run", "base", "floor") else
                         f"  ok {row['matched']}/{a.streams}"), flush=True)
    finally:
        mock.terminate()
        mock.wait()

    def med(c, k):
        v = [r[k] for r in res.get(c, []) if k in r and r[k] == r[k]]
        return statistics.median(v) if v else float("nan")

    print()
    print(f"medians of {a.runs} runs           " + "".join(f"{label[c]:>22}" for c in clients))
    rows = [("CPU-seconds per 1M tokens", "cpu_per_m", 1, "%.2f"),
            ("wall time, s", "wall", 1, "%.2f"), ("max RSS, MB", "rss_mb", 1, "%.1f"),
            ("TTFT error p50, ms", "ttft_p50", 1e3, "%.3f"), ("TTFT error p99, ms", "ttft_p99", 1e3, "%.3f"),
            ("ITL error p50, ms", "itl_p50", 1e3, "%.3f"), ("ITL error p99, ms", "itl_p99", 1e3, "%.3f"),
            ("ITL error p99.9, ms", "itl_p999", 1e3, "%.3f"),
            ("delivery delay p50, ms", "deliv_p50", 1e3, "%.3f"), ("delivery delay p99, ms", "deliv_p99", 1e3, "%.3f"),
            ("send delay p50, ms", "send_p50", 1e3, "%.3f"), ("send delay p99, ms", "send_p99", 1e3, "%.3f")]
    for name, k, scale, fmt in rows:
        cells = []
        for c in clients:
            v = med(c, k)
            cells.append(f"{(fmt % (v * scale)) if v == v else '-':>22}")
        print(f"{name:<32}" + "".join(cells))
    base = med("python", "cpu_per_m")
    floor = med("floor", "cpu_per_m")
    for c in ("run", "script"):
        if c in clients and "python" in clients and med(c, "cpu_per_m") > 0:
            print(f"Python aiohttp / {label[c]}: {base / med(c, 'cpu_per_m'):.1f}x the CPU per token "
                  f"(target >= 10x)")
            if floor == floor and med(c, "cpu_per_m") > floor:
                print(f"  above the kernel floor ({floor:.2f} CPU-s/1M tok): Python "
                      f"{base - floor:.2f}, {label[c]} {med(c, 'cpu_per_m') - floor:.2f}: "
                      f"{(base - floor) / (med(c, 'cpu_per_m') - floor):.1f}x the client's own CPU")
    if "base" in clients and "run" in clients and med("base", "cpu_per_m") > 0:
        b, r = med("base", "cpu_per_m"), med("run", "cpu_per_m")
        print(f"mlxbench run vs the base binary: {r:.2f} vs {b:.2f} CPU-s per 1M tokens "
              f"({(r / b - 1) * 100:+.1f} %)"
              + (f"; above the floor {r - floor:.2f} vs {b - floor:.2f} ({((r - floor) / (b - floor) - 1) * 100:+.1f} %)"
                 if floor == floor and b > floor and r > floor else ""))
    if floor == floor and base == base:
        print(f"the floor alone is {floor / base * 100:.0f}% of Python's CPU per token: no client "
              f"that reads every token as it arrives can be 10x cheaper than Python at this load "
              f"unless the floor is below 10%")
    if "script" in clients:
        v = med("script", "itl_p99")
        print(f"mlxbench ITL error p99: {v * 1e3:.3f} ms (target < 1 ms): {'met' if v < 1e-3 else 'NOT met'}")


if __name__ == "__main__":
    main()
