// hdr_check.mjs LOG RESULTS.json: reads mlxbench's HdrHistogram interval log
// with hdr-histogram-js (a port of the reference implementation) and checks
// every tagged interval against the results file it came from: the same
// total count, the same percentiles (bucket values clamped to the exact
// min/max, as mlxbench reports them), a max in the same bucket.
import fs from "node:fs";
import * as hdr from "hdr-histogram-js";
import { expect, done } from "./common.mjs";

const [logPath, resPath] = process.argv.slice(2);
const log = fs.readFileSync(logPath, "utf8");
const doc = JSON.parse(fs.readFileSync(resPath, "utf8"));
const tag = (s) => String(s).replace(/[\s,]+/g, "_");

const runs = new Map(doc.runs.filter((r) => !r.skipped).map((r) => [tag(r.name), r]));
const reader = new hdr.HistogramLogReader(log);
let seen = 0;
for (let h = reader.nextIntervalHistogram(); h; h = reader.nextIntervalHistogram()) {
  seen++;
  const sep = h.tag.lastIndexOf(":");
  const run = runs.get(h.tag.slice(0, sep)), metric = h.tag.slice(sep + 1);
  if (!expect(`${h.tag}: a run and metric of the results file`, run && run.metrics[metric])) continue;
  const m = run.metrics[metric], unit = 1e-6;
  expect(`${h.tag}: count`, h.totalCount === m.count, [h.totalCount, m.count]);
  for (const [k, p] of [["p50", 50], ["p90", 90], ["p95", 95], ["p99", 99], ["p999", 99.9]]) {
    const v = Math.min(Math.max(h.getValueAtPercentile(p) * unit, m.min), m.max);
    expect(`${h.tag}: ${k}`, Math.abs(v - m[k]) <= 1e-9 * Math.max(1, Math.abs(m[k])), [v, m[k]]);
  }
  const hi = h.maxValue * unit;
  // within a bucket (0.1 % at 3 digits) and half a unit of rounding
  expect(`${h.tag}: max in the same bucket`, hi >= m.max * 0.999 - unit && hi <= m.max * 1.001 + unit, [hi, m.max]);
  expect(`${h.tag}: interval is the run's`,
         Math.abs(h.endTimeStampMsec - h.startTimeStampMsec - run.duration_s * 1000) < 1, [h.startTimeStampMsec, h.endTimeStampMsec]);
  h.destroy();
}
const want = [...runs.values()].reduce((n, r) => n + Object.keys(r.histograms || {}).length, 0);
expect("every histogram of every run is in the log", seen === want && seen > 0, [seen, want]);
done();
