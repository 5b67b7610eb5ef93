#!/usr/bin/env python3
# tier: slow (not in tools/test.sh --fast)
"""The HTML report of a suite run against the emulator, rendered by headless
Chromium.

`mlxbench suite --mock --html report.html` (and `mlxbench report FILE.json
--format html`, which must give the same page) writes one self-contained
file: no script, no external resource. Chromium renders it: a screenshot is
produced in light and dark mode, a PDF prints, and a DOM check -- the page's
own data-* attributes plus the on-screen geometry measured by a script added
to a copy of the page -- asserts that every chart has its data points and
that they match the results JSON.
"""
import html.parser
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib

MLX = os.environ.get("MLXBENCH", "build/mlxbench")
fails = 0
checks = 0


def check(cond, what):
    global fails, checks
    checks += 1
    if not cond:
        fails += 1
        print("FAIL:", what, file=sys.stderr)
    return cond


def close(a, b, rel=1e-9):
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-12)


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


def chromium(exe, *args, timeout=90):
    return subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu",
                           "--hide-scrollbars", "--no-first-run", *args],
                          capture_output=True, text=True, timeout=timeout)


def read_png(path):
    """-> width, height, rows of (r, g, b) for an 8-bit RGB/RGBA PNG."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0, (depth, ctype, interlace)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(h):
        f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pr) & 255
        rows.append([tuple(line[k:k + 3]) for k in range(0, stride, bpp)])
        prev = line
    return w, h, rows


class Dom(html.parser.HTMLParser):
    """Every element as (tag, attrs, parent chain of (tag, attrs))."""

    VOID = {"meta", "br", "link", "img", "input", "hr"}

    def __init__(self):
        super().__init__()
        self.stack, self.elems, self.scripts = [], [], 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.elems.append((tag, a, list(self.stack)))
        if tag == "script":
            self.scripts += 1
        if tag not in self.VOID and not (tag in ("circle", "rect", "line", "path") and False):
            self.stack.append((tag, a))

    def handle_startendtag(self, tag, attrs):
        self.elems.append((tag, dict(attrs), list(self.stack)))

    def handle_endtag(self, tag):
        for k in range(len(self.stack) - 1, -1, -1):
            if self.stack[k][0] == tag:
                del self.stack[k:]
                break


def parse(text):
    d = Dom()
    d.feed(text)
    return d


def within(chain, chart):
    """The data-chart svg (its attrs) an element sits in, or None."""
    for tag, a in reversed(chain):
        if tag == "svg":
            return a if a.get("data-chart") == chart else None
    return None


def group_attrs(chain):
    for tag, a in reversed(chain):
        if tag == "g" and "data-run" in a:
            return a
    return None


GEOMETRY_JS = """
<script>
(function () {
  const out = [];
  for (const s of document.querySelectorAll('svg[data-chart]')) {
    const r = s.getBoundingClientRect();
    let n = 0, inside = 0;
    for (const e of s.querySelectorAll('circle, rect.bar')) {
      const b = e.getBoundingClientRect();
      if (b.width > 0 && b.height > 0) n++;
      if (b.left >= r.left - 1 && b.right <= r.right + 1 && b.top >= r.top - 1 &&
          b.bottom <= r.bottom + 1) inside++;
    }
    // CDF series must climb left to right on screen
    let monotone = true;
    for (const g of s.querySelectorAll('g[data-run]')) {
      let px = -Infinity, py = Infinity;
      for (const c of g.querySelectorAll('circle')) {
        const b = c.getBoundingClientRect();
        const cx = b.left + b.width / 2, cy = b.top + b.height / 2;
        if (cx < px - 0.01 || cy > py + 0.01) monotone = false;
        px = cx; py = cy;
      }
    }
    out.push({kind: s.dataset.chart, run: s.dataset.run || null, w: r.width, h: r.height,
              n, inside, monotone, total: s.querySelectorAll('circle, rect.bar').length});
  }
  document.body.setAttribute('data-geometry', JSON.stringify(out));
  document.body.setAttribute('data-dark', matchMedia('(prefers-color-scheme: dark)').matches ? '1' : '0');
})();
</script>
"""


def main():
    exe = find_chromium()
    if not exe:
        print("SKIP: chromium is not installed (tools/deps.sh test installs it)")
        return 77
    tmp = tempfile.mkdtemp(prefix="mb-html-")
    try:
        return run_checks(exe, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_checks(exe, tmp):
    res, page = os.path.join(tmp, "suite.json"), os.path.join(tmp, "report.html")
    t0 = time.time()
    p = subprocess.run([MLX, "suite", "--mock", "-n", "3", "--max-tokens", "16", "-o", res,
                        "--html", page, "--progress", "none"], capture_output=True, text=True,
                       timeout=300)
    print(f"suite took {time.time() - t0:.1f}s")
    if not check(p.returncode == 0 and os.path.exists(page), f"suite --html ran: {p.stderr[-2000:]}"):
        return 1
    check(("report: " + page) in p.stdout, "the suite names the report")
    doc = json.load(open(res))
    runs = {r["name"]: r for r in doc["runs"]}
    text = open(page, encoding="utf-8").read()

    # `mlxbench report --format html` renders the same page from the file
    page2 = os.path.join(tmp, "report2.html")
    p2 = subprocess.run([MLX, "report", res, "--format", "html", "-o", page2],
                        capture_output=True, text=True, timeout=60)
    check(p2.returncode == 0 and open(page2, encoding="utf-8").read() == text,
          "report --format html gives the same page as suite --html")

    # self-contained: no script, no stylesheet link, nothing fetched
    dom = parse(text)
    check(text.startswith("<!DOCTYPE html>"), "doctype")
    check(dom.scripts == 0, "no script in the report")
    for tag, a, _ in dom.elems:
        if "src" in a:
            check(False, f"<{tag} src=...> in the report")
        if "href" in a:
            check(a["href"].startswith("#"), f"<{tag} href={a['href']}> is not an anchor")
        if tag in ("link", "iframe", "object", "embed", "img", "image", "use"):
            check(False, f"<{tag}> in the report")
    style = text[text.index("<style>"):text.index("</style>")]
    check("url(" not in style and "@import" not in style, "the CSS loads nothing")
    check("prefers-color-scheme:dark" in style.replace(" ", ""), "dark mode CSS")
    check("@media print" in style, "print CSS")

    # --- the charts' data against the JSON ---------------------------------
    elems = dom.elems
    svgs = [a for tag, a, _ in elems if tag == "svg" and "data-chart" in a]
    kinds = [a["data-chart"] for a in svgs]
    for k in ("tok-s", "ttft-cdf", "e2e-cdf", "itl-hist", "sweep-throughput", "sweep-ttft-p95",
              "failover-timeline", "failover-buckets"):
        check(k in kinds, f"chart {k} present")
    measured = [r for r in doc["runs"] if not r.get("skipped") and r["requests"]["ok"] > 0]

    # tok/s bars: one per run with output tokens, value exact
    bars = [a for tag, a, ch in elems if tag == "rect" and a.get("data-series") == "output_tok_s"
            and within(ch, "tok-s")]
    check(len(bars) == len(measured) == int(next(a for a in svgs if a["data-chart"] == "tok-s")["data-n"]),
          f"tok-s: {len(bars)} bars for {len(measured)} runs")
    for a in bars:
        check(float(a["data-value"]) == runs[a["data-run"]]["throughput"]["output_tok_s"],
              f"tok-s bar of {a['data-run']}")

    # CDFs: one series per run, points = histogram buckets, ending at 100 %
    for kind, m in (("ttft-cdf", "ttft_s"), ("e2e-cdf", "e2e_s")):
        series = {}
        for tag, a, ch in elems:
            if tag == "circle" and within(ch, kind):
                g = group_attrs(ch)
                series.setdefault(g["data-run"], (g, []))[1].append(a)
        check(set(series) == {r["name"] for r in measured}, f"{kind}: a series per run")
        for name, (g, pts) in series.items():
            r = runs[name]
            met = r["metrics"][m]
            xs = [float(a["data-x"]) for a in pts]
            ys = [float(a["data-y"]) for a in pts]
            cs = [int(a["data-c"]) for a in pts]
            check(int(g["data-count"]) == met["count"] and int(g["data-n"]) == len(pts) > 0,
                  f"{kind} {name}: count {g['data-count']} vs {met['count']}, {len(pts)} points")
            check(xs == sorted(xs) and len(set(xs)) == len(xs), f"{kind} {name}: x ascending")
            check(ys[-1] == 1.0 and cs[-1] == met["count"], f"{kind} {name}: ends at 100 %")
            check(all(close(y, c / met["count"]) for y, c in zip(ys, cs)), f"{kind} {name}: y = c / n")
            check(close(xs[0], met["min"], 2e-3) and close(xs[-1], met["max"], 2e-3),
                  f"{kind} {name}: spans min..max ({xs[0]}..{xs[-1]} vs {met['min']}..{met['max']})")
            p50 = next(x for x, y in zip(xs, ys) if y >= 0.5)
            check(close(p50, met["p50"], 2e-3), f"{kind} {name}: p50 {p50} vs {met['p50']}")
            # every request's own value sits on a point (histogram precision)
            for q in r["per_request"]:
                if q["ok"]:
                    check(any(close(x, q[m], 2e-3) for x in xs), f"{kind} {name}: request {q['i']} on a point")

    # ITL histograms: one per streamed run, the bins hold every gap
    hists = [a for a in svgs if a["data-chart"] == "itl-hist"]
    streamed = [r for r in measured if r["metrics"].get("itl_s")]
    check(sorted(a["data-run"] for a in hists) == sorted(r["name"] for r in streamed),
          f"itl-hist: one per streamed run ({len(hists)} vs {len(streamed)})")
    for h in hists:
        r = runs[h["data-run"]]
        bins = [a for tag, a, ch in elems if tag == "rect" and "data-lo" in a and within(ch, "itl-hist")
                and within(ch, "itl-hist").get("data-run") == h["data-run"]]
        total = sum(int(a["data-count"]) for a in bins)
        check(total == r["metrics"]["itl_s"]["count"] == int(h["data-count"]),
              f"itl-hist {h['data-run']}: {total} gaps vs {r['metrics']['itl_s']['count']}")
        check(len(bins) == int(h["data-n"]) > 0, f"itl-hist {h['data-run']}: bars")
        check(all(float(a["data-lo"]) < float(a["data-hi"]) for a in bins), "itl bins ordered")
        check(float(bins[0]["data-lo"]) <= r["metrics"]["itl_s"]["min"] * 1.002 and
              float(bins[-1]["data-hi"]) >= r["metrics"]["itl_s"]["max"] * 0.998,
              f"itl-hist {h['data-run']}: bins cover min..max")

    # sweep: throughput and TTFT p95 at c = 1, 2, 4, 8
    sweep_runs = {r["sweep"]["concurrency"]: r for r in measured if r.get("sweep")}
    for kind, get in (("sweep-throughput", lambda r: r["throughput"]["output_tok_s"]),
                      ("sweep-ttft-p95", lambda r: r["metrics"]["ttft_s"]["p95"])):
        pts = [a for tag, a, ch in elems if tag == "circle" and within(ch, kind)]
        check(sorted(float(a["data-x"]) for a in pts) == [1, 2, 4, 8], f"{kind}: x = 1 2 4 8")
        for a in pts:
            r = sweep_runs[float(a["data-x"])]
            check(a["data-run"] == r["name"] and float(a["data-y"]) == get(r), f"{kind}: {a['data-run']}")
        svg_a = next(a for a in svgs if a["data-chart"] == kind)
        check(svg_a["data-sweep"] == "concurrency", f"{kind}: swept option named")

    # failover timeline: every request at its completion time, the marks
    fo = runs["failover primary->local"]
    tl = next(a for a in svgs if a["data-chart"] == "failover-timeline")
    check(tl["data-run"] == fo["name"], "failover-timeline: the failover run")
    pts = [a for tag, a, ch in elems if tag == "circle" and within(ch, "failover-timeline")]
    check(len(pts) == len(fo["per_request"]) == int(tl["data-n"]), "failover-timeline: a point per request")
    for a, q in zip(sorted(pts, key=lambda a: float(a["data-x"])),
                    sorted(fo["per_request"], key=lambda q: q["start_s"] + q["e2e_s"])):
        check(close(float(a["data-x"]), q["start_s"] + q["e2e_s"]) and a["data-target"] == q["target"],
              f"failover-timeline: request {q['i']}")
    check(sum(a.get("data-failover") == "1" for a in pts) == fo["failover"]["failed_over"] >= 1,
          "failover-timeline: failed-over requests marked")
    check({a["data-target"] for a in pts} == {"primary", "local (emulated)"}, "both targets served")
    marks = [a for tag, a, ch in elems if tag == "line" and "data-mark" in a and within(ch, "failover-timeline")]
    check(len(marks) == len(fo["marks"]) == 1 and float(marks[0]["data-x"]) == fo["marks"][0]["t_s"]
          and marks[0]["data-mark"] == fo["marks"][0]["label"], "failover-timeline: the fault mark")
    buckets = [a for tag, a, ch in elems if tag == "g" and "data-t" in a and within(ch, "failover-buckets")]
    check([(int(a["data-t"]), int(a["data-ok"]), int(a["data-failed"])) for a in buckets] ==
          [(b["t"], b["ok"], b["failed"]) for b in fo["timeline"]], "failover-buckets: per-second counts")

    # the server's side (the emulator's /metrics) under each run's throughput
    # timeline: the running requests drawn are the JSON's, point for point
    def series_points(chart, run, series):
        out = []
        for tag, a, ch in elems:
            if tag != "circle" or "data-t" not in a:
                continue
            svg = next((x for t, x in reversed(ch) if t == "svg"), {})
            g = next((x for t, x in reversed(ch) if t == "g" and "data-series" in x), {})
            if svg.get("data-chart") == chart and svg.get("data-run") == run and g.get("data-series") == series:
                out.append((float(a["data-t"]), float(a["data-v"])))
        return out
    watched = [r for r in measured if (r.get("server_metrics") or {}).get("mapped")]
    check(len(watched) >= 7, "the local rows watched the emulator's /metrics (%d)" % len(watched))
    for r in watched:
        sm = r["server_metrics"]
        want = [(t, v) for t, v in zip(sm["t"], sm["mapped"]["running"]["values"]) if v is not None]
        check(series_points("server-requests", r["name"], "running") == want,
              "server-requests %s: running drawn as recorded" % r["name"])
        tl = [k for k in svgs if k["data-chart"] == "throughput-timeline" and k.get("data-run") == r["name"]]
        check(len(tl) == 1, "throughput-timeline %s: one" % r["name"])
    # the TTFT split bars: each part's p50 from the metrics
    split = [a for tag, a, ch in elems if tag == "rect" and "data-part" in a and within(ch, "ttft-split")]
    for a in split:
        r = runs[a["data-run"]]
        key = {"queue": "server_queue_s", "prefill": "server_prefill_s", "rest": "ttft_rest_s"}[a["data-part"]]
        check(float(a["data-value"]) == r["metrics"][key]["p50"], "ttft-split %s %s" % (a["data-run"], a["data-part"]))
    check(any(a["data-part"] == "prefill" for a in split), "ttft-split: prefill bars present")

    # tables: a row per run, skipped rows say why
    def in_table(chain, classes):
        return any(tag == "table" and a.get("class") in classes for tag, a in chain)
    rows = [a for tag, a, ch in elems if tag == "tr" and "data-run" in a
            and in_table(ch, ("runs", "latency", "client"))]
    check(len(rows) == 3 * len(doc["runs"]), "run, latency and client tables: a row per run each")
    # the client table: how each run was stamped (the suite's local rows: the
    # kernel's receive stamps on Linux)
    stamped = {r["name"]: r.get("client", {}) for r in doc["runs"] if not r.get("skipped")}
    for name, cl in stamped.items():
        want = "kernel %d / user %d" % (cl.get("stamp_kernel_count", 0), cl.get("stamp_user_count", 0))
        check(want in text, f"client table: {name} stamped {want}")
    check("skipped: no API key: set OPENAI_API_KEY" in text, "skipped row gives its reason")

    # --- rendered by Chromium ------------------------------------------------
    probe = os.path.join(tmp, "probe.html")
    open(probe, "w", encoding="utf-8").write(text.replace("</body>", GEOMETRY_JS + "</body>"))
    for dark in (False, True):
        flags = ["--force-dark-mode"] if dark else []
        p = chromium(exe, *flags, "--window-size=1100,1000", "--dump-dom", "file://" + probe)
        d = parse(p.stdout)
        body = next((a for tag, a, _ in d.elems if tag == "body"), {})
        if not check("data-geometry" in body, f"Chromium ran the probe (dark={dark}): {p.stderr[-500:]}"):
            continue
        check(body.get("data-dark") == ("1" if dark else "0"), f"prefers-color-scheme dark={dark}")
        geo = json.loads(body["data-geometry"])
        check(len(geo) == len(svgs), f"Chromium sees {len(geo)} charts of {len(svgs)}")
        for g in geo:
            label = f"{g['kind']} {g['run'] or ''} (dark={dark})"
            check(g["w"] > 200 and g["h"] > 80, f"{label}: laid out {g['w']}x{g['h']}")
            check(g["n"] > 0 and g["n"] == g["total"], f"{label}: {g['n']} of {g['total']} points drawn")
            check(g["inside"] == g["total"], f"{label}: {g['inside']} of {g['total']} points inside")
            check(g["monotone"], f"{label}: CDFs climb left to right")
        shot = os.path.join(tmp, f"shot-{'dark' if dark else 'light'}.png")
        p = chromium(exe, *flags, "--window-size=1100,1400", "--screenshot=" + shot, "file://" + page)
        if not check(os.path.exists(shot) and os.path.getsize(shot) > 10000,
                     f"screenshot (dark={dark}): {p.stderr[-500:]}"):
            continue
        w, h, px = read_png(shot)
        check((w, h) == (1100, 1400), f"screenshot size {w}x{h}")
        bg = px[2][2]
        check((sum(bg) < 120) if dark else (sum(bg) > 700), f"background {bg} (dark={dark})")
        colors, ink = set(), 0
        for row in px[::4]:
            for c in row[::4]:
                colors.add(c)
                if abs(c[0] - bg[0]) + abs(c[1] - bg[1]) + abs(c[2] - bg[2]) > 60:
                    ink += 1
        share = ink / (len(px[::4]) * len(px[0][::4]))
        check(len(colors) > 50 and share > 0.02, f"screenshot has content: {len(colors)} colours, {share:.1%} ink")
    pdf = os.path.join(tmp, "report.pdf")
    chromium(exe, "--print-to-pdf=" + pdf, "--no-pdf-header-footer", "file://" + page)
    data = open(pdf, "rb").read() if os.path.exists(pdf) else b""
    pages = data.count(b"/Type /Page") - data.count(b"/Type /Pages")
    check(data.startswith(b"%PDF") and pages >= 2, f"prints to PDF ({pages} pages)")

    # --- `mlxbench run --html` --------------------------------------------
    one = os.path.join(tmp, "one.html")
    p = subprocess.run([MLX, "run", "--mock", "-m", "small", "-n", "4", "--max-tokens", "8",
                        "--progress", "none", "--html", one, "-o", os.path.join(tmp, "one.json")],
                       capture_output=True, text=True, timeout=120)
    ot = open(one, encoding="utf-8").read() if os.path.exists(one) else ""
    od = parse(ot)
    one_run = json.load(open(os.path.join(tmp, "one.json")))["runs"][0] if ot else None
    check(p.returncode == 0 and one_run, f"run --html wrote the page: {p.stderr[-500:]}")
    if one_run:
        bars = [a for tag, a, ch in od.elems if tag == "rect" and a.get("data-series") == "output_tok_s"]
        check(len(bars) == 1 and float(bars[0]["data-value"]) == one_run["throughput"]["output_tok_s"],
              "run --html: the run's tok/s bar")
        pts = [a for tag, a, ch in od.elems if tag == "circle" and within(ch, "ttft-cdf")]
        check(0 < len(pts) <= 4 and pts[-1]["data-c"] == "4", "run --html: TTFT CDF of 4 requests")

    # --- escaping: names from a results file are text, never markup ---------
    evil = json.load(open(res))
    evil["runs"][0]["name"] = '<script>alert(1)</script> & "q" \'x\''
    evil["runs"][0]["model"] = "<img src=x onerror=alert(2)>"
    evil["runs"][0]["config"]["prompt"] = "</style><b>bold</b>"
    ej, eh = os.path.join(tmp, "evil.json"), os.path.join(tmp, "evil.html")
    json.dump(evil, open(ej, "w"))
    p = subprocess.run([MLX, "report", ej, "--format", "html", "-o", eh], capture_output=True, text=True)
    et = open(eh, encoding="utf-8").read() if p.returncode == 0 else ""
    ed = parse(et)
    check(p.returncode == 0 and ed.scripts == 0, "escaped: no script element")
    check(not any(tag in ("img", "b") for tag, _, _ in ed.elems), "escaped: no injected elements")
    check("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot; &#39;x&#39;" in et, "escaped run name")
    check(any(a.get("data-run") == evil["runs"][0]["name"] for _, a, _ in ed.elems),
          "data-run carries the name, unescaped by the parser")

    print(f"{checks} checks, {fails} failed")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
