#!/usr/bin/env python3
"""Driver of bench/truth_at_scale.sh (see there): the reference server on one
CPU, each client in turn on the other, every client's token stamps judged
against the server's own send log."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))]


def read_log(path):
    """{id: (arrival_s, [(deadline, before, after) per token, seconds])}"""
    reqs = {}
    with open(path) as f:
        for line in f:
            w = line.split()
            if w[0] == "R":
                reqs[w[1]] = (int(w[2]) * 1e-9, [])
            elif w[0] == "E":
                reqs[w[1]][1].append((int(w[3]) * 1e-9, int(w[4]) * 1e-9, int(w[5]) * 1e-9))
    return reqs


def judge(log, client, interval):
    """The server's emission jitter and the client's errors, over the
    streams both saw in full:
      jitter     |change of the server's lateness between consecutive tokens|
                 = |server gap - interval|
      itl_nom    |client gap - interval|  (what a user of the figures sees)
      itl_true   |client gap - server gap| between the same two tokens
      ttft_del   client stamp of the first token - its send (before)
      deliv      client stamp - send, every token"""
    r = {"jitter": [], "itl_nom": [], "itl_true": [], "ttft_del": [], "deliv": []}
    matched = mismatched = 0
    for q in client["requests"]:
        s = log.get(q["id"])
        recv = q.get("recv") or []
        if not s or len(s[1]) != len(recv) or not recv:
            mismatched += 1
            continue
        matched += 1
        sent = [b for _, b, _ in s[1]]
        for k in range(1, len(sent)):
            gs, gc = sent[k] - sent[k - 1], recv[k] - recv[k - 1]
            r["jitter"].append(abs(gs - interval))
            r["itl_nom"].append(abs(gc - interval))
            r["itl_true"].append(abs(gc - gs))
        r["ttft_del"].append(recv[0] - sent[0])
        r["deliv"].extend(recv[k] - sent[k] for k in range(len(sent)))
    r["matched"], r["mismatched"] = matched, mismatched
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mlxbench", default=os.environ.get("MLXBENCH", os.path.join(ROOT, "build", "mlxbench")))
    ap.add_argument("--server", default=os.environ.get("REF_SERVER", os.path.join(ROOT, "build", "ref_server")))
    ap.add_argument("--python", default=os.environ.get("PYTHON", "/usr/bin/python3"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--tokens", type=int, default=50)
    ap.add_argument("--interval-ms", type=float, default=20.0)
    ap.add_argument("--ttft-ms", type=float, default=50.0)
    ap.add_argument("--rate", type=float, default=2000.0, help="arrivals/s of the staggered setup")
    ap.add_argument("--setups", default="sync200,sync1000,stag1000",
                    help="syncN: N streams started together, the server on one grid of ticks "
                         "(bursts); stagN: N streams arriving at --rate, each with its own phase")
    ap.add_argument("--clients", default="kernel,user,python",
                    help="kernel (mlxbench, kernel stamps), user (mlxbench, MLXBENCH_STAMPS=user), "
                         "python (aiohttp)")
    ap.add_argument("--server-cpu", default=os.environ.get("SERVER_CPU", "0"))
    ap.add_argument("--client-cpu", default=os.environ.get("CLIENT_CPU", "1"))
    ap.add_argument("--rt", type=int, default=int(os.environ.get("RT", "0")),
                    help="real-time priority N for the server and the clients (chrt -f N); 0 = off")
    a = ap.parse_args()
    interval = a.interval_ms / 1e3
    clients = a.clients.split(",")
    setups = a.setups.split(",")
    prio = ["chrt", "-f", str(a.rt)] if a.rt > 0 else []
    tmp = tempfile.mkdtemp(prefix="truth_at_scale.")
    cpu_model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    print(f"machine: {os.cpu_count()} CPUs, {cpu_model}, kernel {os.uname().release}")
    print(f"reference server on CPU {a.server_cpu}, each client on CPU {a.client_cpu}; "
          f"{a.tokens} tokens every {a.interval_ms:g} ms after {a.ttft_ms:g} ms"
          + (f"; real-time priority {a.rt}" if a.rt else ""))
    with open("/proc/loadavg") as f:
        print("load average at start: " + " ".join(f.read().split()[:3]))
    label = {"kernel": "mlxbench (kernel stamps)", "user": "mlxbench (user stamps)",
             "python": "Python aiohttp"}
    res = {}
    for setup in setups:
        grid = setup.startswith("sync")
        n = int(setup[4:])
        for run in range(1, a.runs + 1):
            for c in clients:
                log = os.path.join(tmp, f"{setup}-{c}-{run}.log")
                out = os.path.join(tmp, f"{setup}-{c}-{run}.json")
                srv = subprocess.Popen(prio + ["taskset", "-c", a.server_cpu, a.server,
                                               "--interval-ms", str(a.interval_ms), "--ttft-ms", str(a.ttft_ms),
                                               "--tokens", str(a.tokens), "--align", "grid" if grid else "arrival",
                                               "--log", log], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       text=True)
                url = srv.stdout.readline().strip()
                if not url.startswith("http://"):
                    sys.exit("the reference server did not start: " + srv.stderr.read())
                prefix = f"{c}{run}"
                rate = [] if grid else [str(a.rate)]
                env = dict(os.environ)
                env.pop("MLXBENCH_STAMPS", None)
                if c == "python":
                    cmd = [a.python, os.path.join(HERE, "aiohttp_client.py"), url, "ref", str(n),
                           str(a.tokens), out, prefix] + rate
                else:
                    cmd = [a.mlxbench, os.path.join(HERE, "client_overhead.lua"), url, "ref", str(n),
                           str(a.tokens), out, prefix] + rate
                    if c == "user":
                        env["MLXBENCH_STAMPS"] = "user"
                p = subprocess.run(prio + ["taskset", "-c", a.client_cpu] + cmd, env=env,
                                   capture_output=True, text=True)
                srv.terminate()
                summary = srv.communicate(timeout=60)[1].strip()
                if p.returncode != 0:
                    print(f"{setup} run {run} {label[c]} failed (exit {p.returncode}): {p.stderr[-1500:]}",
                          file=sys.stderr)
                    continue
                doc = json.load(open(out))
                r = judge(read_log(log), doc, interval)
                r["read_lag_p99"] = (doc.get("read_lag") or {}).get("p99") if c == "kernel" else None
                r["sources"] = sorted({q.get("stamp_source") or "-" for q in doc["requests"]})
                res.setdefault((setup, c), []).append(r)
                ms = lambda v: "%.3f" % (v * 1e3)  # noqa: E731
                print(f"{setup:<9} run {run} {label[c]:<25} server jitter p50/p99/max "
                      f"{ms(pct(r['jitter'], 50))}/{ms(pct(r['jitter'], 99))}/{ms(max(r['jitter'] or [0]))} ms  "
                      f"ITL error p50/p99/max {ms(pct(r['itl_nom'], 50))}/{ms(pct(r['itl_nom'], 99))}/"
                      f"{ms(max(r['itl_nom'] or [0]))} ms  vs truth p99 {ms(pct(r['itl_true'], 99))}  "
                      f"first token p99 {ms(pct(r['ttft_del'], 99))}  matched {r['matched']}/{n}"
                      + (f"  read lag p99 {ms(r['read_lag_p99'])}" if r["read_lag_p99"] is not None else "")
                      + f"  stamps {','.join(r['sources'])}", flush=True)
                time.sleep(0.5)

    def med(setup, c, key, q):
        v = [pct(r[key], q) if q else max(r[key] or [float("nan")]) for r in res.get((setup, c), [])
             if r[key]]
        return statistics.median(v) if v else float("nan")

    f3 = lambda v: "-" if v != v else "%.2f" % (v * 1e3)  # noqa: E731
    print()
    print(f"medians of {a.runs} runs, ms: ITL error = |client gap - {a.interval_ms:g} ms|; "
          "server jitter = |server gap - interval| (the server's own emission); vs truth = "
          "|client gap - server gap|; first token = client stamp - server send")
    print("| setup | server jitter p50 / p99 / max | client | ITL error p50 / p99 / max | vs truth p99 | "
          "first token p50 / p99 |")
    print("|---|---:|---|---:|---:|---:|")
    for setup in setups:
        for c in clients:
            if (setup, c) not in res:
                continue
            print(f"| {setup} | {f3(med(setup, c, 'jitter', 50))} / {f3(med(setup, c, 'jitter', 99))} / "
                  f"{f3(med(setup, c, 'jitter', None))} | {label[c]} | {f3(med(setup, c, 'itl_nom', 50))} / "
                  f"{f3(med(setup, c, 'itl_nom', 99))} / {f3(med(setup, c, 'itl_nom', None))} | "
                  f"{f3(med(setup, c, 'itl_true', 99))} | {f3(med(setup, c, 'ttft_del', 50))} / "
                  f"{f3(med(setup, c, 'ttft_del', 99))} |")
    for setup in setups:
        if setup.startswith("sync") and (setup, "kernel") in res:
            runs = res[(setup, "kernel")]
            d = statistics.median(pct(r["itl_nom"], 99) - pct(r["jitter"], 99) for r in runs)
            print(f"{setup}: mlxbench ITL error p99 minus the server's jitter p99 (same run), median "
                  f"{d * 1e3:.2f} ms (target <= 1 ms): {'met' if d <= 1e-3 else 'NOT met'}")


if __name__ == "__main__":
    main()
