#!/usr/bin/env python3
"""Driver of bench/memory_streams.sh (see there): client RSS with N streams
in flight, for each N and each client, the emulator in its own process."""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def get(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read())


def rss_kb(pid, field="VmRSS"):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mlxbench", default=os.environ.get("MLXBENCH", os.path.join(ROOT, "build", "mlxbench")))
    ap.add_argument("--streams", default="1000,5000", help="comma-separated stream counts")
    ap.add_argument("--tok-s", type=float, default=5.0, help="tokens/s of each stream")
    ap.add_argument("--hold", type=float, default=3.0, help="seconds all streams are open before sampling")
    ap.add_argument("--clients", default="mlxbench,python")
    ap.add_argument("--python", default=os.environ.get("PYTHON", "/usr/bin/python3"))
    ap.add_argument("--mock-cpu", default=os.environ.get("MOCK_CPU", "0"))
    ap.add_argument("--client-cpu", default=os.environ.get("CLIENT_CPU", "1"))
    a = ap.parse_args()
    levels = [int(x) for x in a.streams.split(",")]
    clients = a.clients.split(",")
    tmp = tempfile.mkdtemp(prefix="memory_streams.")
    ramp_s = 2 + max(levels) / 1000.0
    tokens = int(a.tok_s * (ramp_s + a.hold + 6))
    prof = os.path.join(tmp, "profile.json")
    with open(prof, "w") as f:
        json.dump({"builtin_models": False, "any_model": True, "default_model": "slow",
                   "models": {"slow": {"ttft_ms": 50, "prefill_tok_s": 0, "decode_tok_s": a.tok_s,
                                       "jitter": 0.1, "length": "max_tokens"}},
                   "trace": {"max_requests": 100, "max_chunks": 10000}}, f)
    cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "")
    print(f"machine: {os.cpu_count()} CPUs, {cpu_model}, kernel {os.uname().release}; "
          f"open files limit {subprocess.run(['sh', '-c', 'ulimit -n'], capture_output=True, text=True).stdout.strip()}")
    print(f"each stream: {tokens} tokens at {a.tok_s:g} tok/s; RSS sampled {a.hold:g} s after every stream is open")
    print(f"{'client':<16} {'streams':>8} {'RSS MB':>9} {'KB/stream':>10} {'tok/s':>8}")
    res = {}
    for c in clients:
        for n in levels:
            mock = subprocess.Popen(["taskset", "-c", a.mock_cpu, a.mlxbench, "mock", "--port", "0", "--quiet",
                                     "--profile", prof], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            url = mock.stdout.readline().decode().strip()
            out = os.path.join(tmp, f"{c}-{n}.json")
            if c == "mlxbench":
                cmd = [a.mlxbench, "run", "--url", url, "-m", "slow", "-n", str(n), "-c", str(n),
                       "--warmup", "0", "--max-tokens", str(tokens), "--prompt", "Tell me a long story.",
                       "-q", "-o", out, "--timeout", "300"]
            else:
                cmd = [a.python, os.path.join(HERE, "aiohttp_client.py"), url, "slow", str(n), str(tokens), out]
            p = subprocess.Popen(["taskset", "-c", a.client_cpu] + cmd, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE)
            t0 = time.time()
            active = 0
            while time.time() - t0 < ramp_s + 30:
                active = get(url + "/mock/stats")["active_streams"]
                if active >= n or p.poll() is not None:
                    break
                time.sleep(0.2)
            time.sleep(a.hold)
            st0 = get(url + "/mock/stats")
            rss = rss_kb(p.pid)
            time.sleep(1.0)
            st1 = get(url + "/mock/stats")
            tok_s = st1["tokens_emitted"] - st0["tokens_emitted"]
            still = st1["active_streams"]
            p.wait()
            err = p.stderr.read().decode()
            mock.terminate()
            mock.wait()
            if p.returncode != 0 or active < n or rss is None:
                print(f"{c:<16} {n:>8}  failed: rc={p.returncode} streams open {active}/{n} {err[-500:]}",
                      file=sys.stderr)
                continue
            res[(c, n)] = rss
            print(f"{c:<16} {n:>8} {rss / 1024:>9.1f} {rss / n:>10.1f} {tok_s:>8}"
                  + ("" if still >= n else f"  (only {still} streams open when sampled)"), flush=True)
    print()
    for c in clients:
        have = [n for n in levels if (c, n) in res]
        if len(have) >= 2:
            lo, hi = have[0], have[-1]
            slope = (res[(c, hi)] - res[(c, lo)]) / (hi - lo)
            print(f"{c}: {slope:.1f} KB per additional stream ({lo} -> {hi}); "
                  f"{res[(c, hi)] / hi:.1f} KB per stream all in at {hi}")
    m = max(levels)
    if ("mlxbench", m) in res:
        v = res[("mlxbench", m)] / m
        print(f"mlxbench at {m} streams: {v:.1f} KB/stream (target <= 64 KB): {'met' if v <= 64 else 'NOT met'}")
        if ("python", m) in res:
            print(f"Python aiohttp / mlxbench RSS at {m} streams: {res[('python', m)] / res[('mlxbench', m)]:.1f}x")


if __name__ == "__main__":
    main()
