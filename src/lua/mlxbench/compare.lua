-- mlxbench.compare: two results files side by side, run by run, for people
-- and for CI. Each key metric gets its absolute and relative change and a
-- verdict -- better, worse, within noise, or too few samples to tell -- and
-- limits (`--max-regression`) turn a flagged regression into a failure.
--
-- The noise rule (docs/REPORTS.md says it in words). A change is "beyond
-- noise" only when every one of these holds:
--   1. both runs have enough samples for the statistic: a percentile needs
--      its distribution-free 95 % confidence interval (order statistics,
--      read from the run's exact histogram) to lie inside the data; a rate
--      needs 5 successful requests, an error rate 10 requests;
--   2. the two 95 % intervals do not overlap;
--   3. for a time, the change is larger than the timing floor: the larger
--      client event-loop lag of the two runs (how late the client may have
--      stamped a byte: the lag p50 for a median, p99 for a tail percentile),
--      at least `time_floor` (1 ms); for a rate, the relative change is
--      larger than that floor over the typical request duration (E2E p50);
--   4. the relative change is at least `min_effect` (2 %).
local stats = require "mlxbench.stats"
local fmt = require "mlxbench.compare_fmt"

local M = {}

local Z = 1.96   -- two-sided 95 %

-- a number from a results file (JSON null decodes to a userdata), or nil
local function num(v) return type(v) == "number" and v == v and v or nil end

-- The key metrics, in table order. kind: quantile (from a histogram),
-- rate (per run), proportion (failed / total).
M.METRICS = {
  { key = "output_tok_s", label = "output tok/s", kind = "rate", better = "higher", unit = "tok/s",
    get = function(r) return r.throughput and num(r.throughput.output_tok_s) end },
  { key = "ttft_s.p50", label = "TTFT p50" },
  { key = "ttft_s.p95", label = "TTFT p95" },
  { key = "ttft_s.p99", label = "TTFT p99" },
  { key = "itl_s.p50", label = "ITL p50" },
  { key = "itl_s.p95", label = "ITL p95" },
  { key = "e2e_s.p50", label = "E2E p50" },
  { key = "e2e_s.p95", label = "E2E p95" },
  { key = "tpot_s.p50", label = "TPOT p50" },
  { key = "error_rate", label = "error rate", kind = "proportion", better = "lower", unit = "%" },
  { key = "requests_ok", label = "ok requests", kind = "count", better = "higher", unit = "req" },
  { key = "goodput_s", label = "goodput req/s", kind = "rate", better = "higher", unit = "req/s",
    get = function(r) return r.throughput and num(r.throughput.goodput_s) end, goodput = true },
}

-- Cost and energy (mlxbench.cost): shown when either run has them, so a
-- local run and a cloud one compare on money and joules. Derived figures
-- with no confidence interval: a change beyond --min-effect is flagged.
M.COST_METRICS = {
  { key = "usd_per_1m_output", label = "$ per 1M out", kind = "derived", better = "lower", unit = "$",
    get = function(r)
      return (r.cost and num(r.cost.usd_per_1m_output)) or (r.energy and num(r.energy.usd_per_1m_output))
    end },
  { key = "usd_per_run", label = "$ per run", kind = "derived", better = "lower", unit = "$",
    get = function(r) return (r.cost and num(r.cost.usd)) or (r.energy and num(r.energy.usd)) end },
  { key = "j_per_output_token", label = "J per out token", kind = "derived", better = "lower", unit = "J",
    get = function(r) return r.energy and num(r.energy.j_per_output_token) end },
}

local RATE_METRICS = { req_tok_s = true, decode_tok_s = true }
local HIST_METRICS = { ttft_s = 1, ttfb_s = 1, itl_s = 1, tpot_s = 1, e2e_s = 1, req_tok_s = 1,
                       decode_tok_s = 1, queue_s = 1, latency_s = 1, server_queue_s = 1,
                       server_prefill_s = 1, ttft_rest_s = 1 }

-- "ttft_s.p95" -> "ttft_s", 95; "e2e_s.p999" -> "e2e_s", 99.9
local function parse_quantile(key)
  local name, q = key:match("^([%w_]+)%.p(%d+)$")
  if not name or not HIST_METRICS[name] then return nil end
  local qq = tonumber(q)
  if #q == 3 and q:sub(1, 2) == "99" then qq = qq / 10 end
  if qq <= 0 or qq >= 100 then return nil end
  return name, qq
end

local function quantile_spec(m)
  m.kind, m.metric, m.q = "quantile", parse_quantile(m.key)
  m.label = m.label or m.key
  m.better = RATE_METRICS[m.metric] and "higher" or "lower"
  m.unit = RATE_METRICS[m.metric] and "tok/s" or "s"
  return m
end

for _, m in ipairs(M.METRICS) do
  if not m.kind then quantile_spec(m) end
end

-- metric_spec(key) -> a metric description for a key of METRICS, or any
-- "<histogram metric>.p<NN>" (ttfb_s.p90, req_tok_s.p50, ...), or
-- requests_s; nil, message otherwise.
function M.metric_spec(key)
  for _, m in ipairs(M.METRICS) do
    if m.key == key then return m end
  end
  if key == "requests_s" then
    return { key = key, label = "requests/s", kind = "rate", better = "higher", unit = "req/s",
             get = function(r) return r.throughput and num(r.throughput.requests_s) end }
  end
  for _, m in ipairs(M.COST_METRICS) do
    if m.key == key then return m end
  end
  if parse_quantile(key) then return quantile_spec{ key = key } end
  local names = {}
  for _, m in ipairs(M.METRICS) do names[#names + 1] = m.key end
  return nil, string.format("unknown metric '%s' (one of %s, requests_s, usd_per_1m_output, usd_per_run, "
    .. "j_per_output_token, or METRIC.pNN with METRIC one of ttft_s ttfb_s itl_s tpot_s e2e_s req_tok_s "
    .. "decode_tok_s queue_s latency_s server_queue_s server_prefill_s ttft_rest_s)",
    key, table.concat(names, ", "))
end

-- quantile_ci(h, q) -> lo, hi: the distribution-free 95 % interval of the
-- q-quantile (q in 0..1) of the samples in histogram h, from the ranks of
-- order statistics (n q -/+ z sqrt(n q (1-q))); nil when it reaches past
-- the data ("too few samples").
function M.quantile_ci(h, q)
  local n = h:count()
  if n == 0 then return nil end
  local se = math.sqrt(n * q * (1 - q))
  local lo = math.floor(n * q - Z * se)
  local hi = math.ceil(1 + n * q + Z * se)
  if lo < 1 or hi > n then return nil end
  -- percentile(p) is the value of rank ceil(p n / 100): aim mid-rank
  return h:percentile(100 * (lo - 0.5) / n), h:percentile(100 * (hi - 0.5) / n)
end

-- wilson(k, n) -> lo, hi: the 95 % Wilson score interval of a proportion
function M.wilson(k, n)
  if n == 0 then return nil end
  local p = k / n
  local d = 1 + Z * Z / n
  local c = (p + Z * Z / (2 * n)) / d
  local w = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / d
  return math.max(0, c - w), math.min(1, c + w)
end

local function hist(run, name)
  local enc = run.histograms and run.histograms[name]
  if type(enc) ~= "string" then return nil end
  local ok, h = pcall(stats.decode, enc)
  return ok and h or nil
end

-- The relative 95 % half-width of a run's rate: the spread of the requests'
-- own tok/s (req_tok_s) over the square root of their number.
local function rate_spread(run)
  local m = run.metrics and run.metrics.req_tok_s
  local n, mean = m and num(m.count), m and num(m.mean)
  if not n or n < 5 or not mean or mean <= 0 then return nil end
  return Z * (num(m.stddev) or 0) / mean / math.sqrt(n)
end

-- measure(run, spec) -> {value, lo, hi, n} or {value, n, few = true} or nil
local function measure(run, spec)
  if spec.kind == "quantile" then
    local h = hist(run, spec.metric)
    local summary = run.metrics and run.metrics[spec.metric]
    local n = h and h:count() or (summary and num(summary.count)) or 0
    if n == 0 then return nil end
    local qname = "p" .. (spec.q == 99.9 and "999" or string.format("%d", spec.q))
    local value = summary and num(summary[qname]) or (h and h:percentile(spec.q))
    if not h then return { value = value, n = n, few = true } end
    value = value or h:percentile(spec.q)
    local lo, hi = M.quantile_ci(h, spec.q / 100)
    if not lo then return { value = value, n = n, few = true } end
    return { value = value, lo = math.min(lo, value), hi = math.max(hi, value), n = n }
  elseif spec.kind == "rate" then
    local v = spec.get(run)
    if v == nil then return nil end
    local ok = run.requests and num(run.requests.ok) or 0
    local rel = rate_spread(run)
    if not rel or ok < 5 then return { value = v, n = ok, few = true } end
    if spec.goodput and (type(run.slo) == "table" or num(run.requests.slo_met)) then
      -- the share of requests meeting the SLO is a proportion of its own
      local total = num(run.requests.total) or 0
      local rs = run.throughput and num(run.throughput.requests_s)
      local good = num(run.requests.slo_met)
      if not good then   -- older files: from goodput / requests per second
        good = (rs and rs > 0) and math.floor(math.min(1, v / rs) * ok + 0.5) or 0
      end
      local share = total > 0 and good / total or 0
      local slo, shi = M.wilson(good, total)
      if share > 0 and slo then
        rel = math.sqrt(rel * rel + ((shi - slo) / 2 / share) ^ 2)
      end
    end
    return { value = v, lo = v * (1 - rel), hi = v * (1 + rel), n = ok }
  elseif spec.kind == "proportion" then
    local rq = run.requests
    local total, failed = rq and num(rq.total), rq and num(rq.failed) or 0
    if not total or total == 0 then return nil end
    local v = failed / total
    local lo, hi = M.wilson(failed, total)
    return { value = v, lo = lo, hi = hi, n = total, counted = true }
  elseif spec.kind == "count" then
    local rq = run.requests
    local ok, total = rq and num(rq.ok), rq and num(rq.total)
    if not ok or not total or total == 0 then return nil end
    return { value = ok, n = total, counted = true }
  elseif spec.kind == "derived" then
    local v = spec.get(run)
    if v == nil then return nil end
    return { value = v, n = run.requests and num(run.requests.ok) or 0, derived = true }
  end
end

-- same_length(b, n) -> whether two runs asked for the same amount of work
-- (the same request count, or the same duration): then their success
-- counts compare
local function same_length(b, n)
  local cb, cn = type(b.config) == "table" and b.config or {}, type(n.config) == "table" and n.config or {}
  if num(cb.requests) and num(cb.requests) == num(cn.requests) then return true end
  return num(cb.duration) ~= nil and num(cb.duration) == num(cn.duration)
end

-- lag_floor(run, q) -> how late the run's client may have stamped a byte:
-- its event-loop lag at p50 for a median (or a rate), at p99 for a tail
local function lag_floor(run, q)
  if type(run.client) ~= "table" then return 0 end
  return num((q or 50) <= 50 and run.client.loop_lag_p50_s or run.client.loop_lag_p99_s) or 0
end

-- compare_metric(base_run, new_run, spec, opts) -> row
--   row = {key, label, unit, better, base, new, delta, rel, verdict, flagged,
--          base_ci, new_ci, n_base, n_new, floor, limit, fail}
-- verdict: "better" | "worse" | "~" (within noise) | "too few samples" | "n/a"
function M.compare_metric(b, n, spec, opts)
  opts = opts or {}
  local min_effect = opts.min_effect or 0.02
  local row = { key = spec.key, label = spec.label, unit = spec.unit, better = spec.better }
  local mb, mn = measure(b, spec), measure(n, spec)
  if not mb or not mn or mb.value == nil or mn.value == nil then
    row.verdict = "n/a"
    row.base, row.new = mb and mb.value, mn and mn.value
    return row
  end
  row.base, row.new, row.n_base, row.n_new = mb.value, mn.value, mb.n, mn.n
  row.delta = mn.value - mb.value
  if mb.value ~= 0 then row.rel = row.delta / math.abs(mb.value) end
  row.base_ci = mb.lo and { mb.lo, mb.hi } or nil
  row.new_ci = mn.lo and { mn.lo, mn.hi } or nil
  local worse = (spec.better == "lower") == (row.delta > 0) and row.delta ~= 0
  -- the size of the change that counts against a limit: relative, except
  -- for the error rate (absolute, in percentage points)
  local size = spec.kind == "proportion" and math.abs(row.delta) or math.abs(row.rel or math.huge)
  row.size = size
  if spec.kind == "count" and not same_length(b, n) then
    row.verdict, row.why = "n/a", "the runs asked for different amounts of work"
  elseif mb.derived or mn.derived then
    -- a price or an energy figure: no interval; beyond min_effect is a change
    if row.delta == 0 then
      row.verdict, row.why = "~", "unchanged"
    elseif size < min_effect then
      row.verdict = "~"
      row.why = string.format("below %s%%", (string.format("%.2f", min_effect * 100):gsub("%.?0+$", "")))
    else
      row.verdict = worse and "worse" or "better"
    end
  elseif mb.counted and mn.counted then
    -- failures and successes are counted events, not samples of a
    -- distribution: any change is real, whatever the number of requests
    row.verdict = row.delta == 0 and "~" or (worse and "worse" or "better")
    if row.delta == 0 then row.why = "unchanged" end
  elseif mb.few or mn.few then
    row.verdict = "too few samples"
  else
    local overlap = mb.lo <= mn.hi and mn.lo <= mb.hi
    local beyond = not overlap
    if overlap then row.why = "intervals overlap" end
    local time_floor = math.max(opts.time_floor or 0.001, lag_floor(b, spec.q), lag_floor(n, spec.q))
    if spec.kind == "quantile" and spec.unit == "s" then
      row.floor = time_floor
      if beyond and math.abs(row.delta) <= time_floor then
        beyond, row.why = false, "timing floor " .. fmt.fmt_value(time_floor, "s")
      end
    elseif spec.kind == "rate" then
      local e2e = (b.metrics and type(b.metrics.e2e_s) == "table" and num(b.metrics.e2e_s.p50)) or 0
      if e2e > 0 then
        row.floor = time_floor / e2e   -- relative
        if beyond and math.abs(row.rel or 0) <= row.floor then
          beyond, row.why = false, string.format("timing floor %.1f%%", row.floor * 100)
        end
      end
    end
    if beyond and spec.kind ~= "proportion" and size < min_effect then
      beyond, row.why = false, string.format("below %s%%", (string.format("%.2f", min_effect * 100):gsub("%.?0+$", "")))
    end
    if beyond then row.verdict = worse and "worse" or "better" else row.verdict = "~" end
  end
  row.flagged = row.verdict == "worse" or row.verdict == "better"
  local limit = opts.limits and opts.limits[spec.key]
  if limit == nil then limit = opts.max_regression end
  row.limit = limit
  if limit and row.verdict == "worse" and size > limit then row.fail = true end
  return row
end

local function key_of(r) return table.concat({ r.name or "", r.model or "", r.backend or "" }, "\0") end

-- match(base_runs, new_runs) -> pairs {base, new, by}, only_base, only_new.
-- By name, model and backend; then by name alone; then, if one run is left
-- on each side, those two.
function M.match(base, new)
  local pairs_, used_b, used_n = {}, {}, {}
  local function pass(keyf, by)
    local idx, dup = {}, {}
    for j, r in ipairs(new) do
      if not used_n[j] then
        local k = keyf(r)
        if idx[k] then dup[k] = true else idx[k] = j end
      end
    end
    local bcount = {}
    for i, r in ipairs(base) do if not used_b[i] then local k = keyf(r) bcount[k] = (bcount[k] or 0) + 1 end end
    for i, r in ipairs(base) do
      local k = keyf(r)
      local j = idx[k]
      if not used_b[i] and j and not used_n[j] and (by == "name, model, backend" or (not dup[k] and bcount[k] == 1)) then
        used_b[i], used_n[j] = true, true
        pairs_[#pairs_ + 1] = { base = r, new = new[j], by = by, order = i }
      end
    end
  end
  pass(key_of, "name, model, backend")
  pass(function(r) return r.name or "" end, "name")
  local lb, ln = {}, {}
  for i in ipairs(base) do if not used_b[i] then lb[#lb + 1] = i end end
  for j in ipairs(new) do if not used_n[j] then ln[#ln + 1] = j end end
  if #lb == 1 and #ln == 1 then
    used_b[lb[1]], used_n[ln[1]] = true, true
    pairs_[#pairs_ + 1] = { base = base[lb[1]], new = new[ln[1]], by = "the only runs left", order = lb[1] }
  end
  table.sort(pairs_, function(a, b) return a.order < b.order end)
  local ob, on = {}, {}
  for i, r in ipairs(base) do if not used_b[i] then ob[#ob + 1] = r.name end end
  for j, r in ipairs(new) do if not used_n[j] then on[#on + 1] = r.name end end
  return pairs_, ob, on
end

-- compare(base_doc, new_doc, opts) -> result
--   opts: max_regression (fraction), limits {key = fraction}, min_effect,
--         time_floor (s), metrics (extra keys to show)
--   result: {runs = {{name, model, backend, matched_by, skipped, rows}},
--            only_base, only_new, failures = {"run: metric ..."}, counts}
function M.compare(bdoc, ndoc, opts)
  opts = opts or {}
  local specs = {}
  for _, m in ipairs(M.METRICS) do specs[#specs + 1] = assert(M.metric_spec(m.key)) end
  local seen = {}
  for _, s in ipairs(specs) do seen[s.key] = true end
  local extra = {}
  for k in pairs(opts.limits or {}) do extra[#extra + 1] = k end
  for _, k in ipairs(opts.metrics or {}) do extra[#extra + 1] = k end
  table.sort(extra)
  for _, k in ipairs(extra) do
    if not seen[k] then
      seen[k] = true
      specs[#specs + 1] = assert(M.metric_spec(k))
    end
  end
  local matched, ob, on = M.match(bdoc.runs or {}, ndoc.runs or {})
  -- cost and energy rows when a run of either side has them
  for _, p in ipairs(matched) do
    for _, m in ipairs(M.COST_METRICS) do
      if not seen[m.key] and (m.get(p.base) or m.get(p.new)) then
        seen[m.key] = true
        specs[#specs + 1] = m
      end
    end
  end
  local res = { runs = {}, only_base = ob, only_new = on, failures = {},
                counts = { worse = 0, better = 0, same = 0, few = 0 } }
  for _, p in ipairs(matched) do
    local b, n = p.base, p.new
    local e = { name = n.name, base_name = b.name, model = n.model, base_model = b.model,
                backend = n.backend, matched_by = p.by, rows = {} }
    if b.skipped or n.skipped then
      e.skipped = b.skipped and ("skipped in base: " .. b.skipped) or ("skipped in new: " .. n.skipped)
    else
      -- a new run in which nothing succeeded, against a base in which
      -- something did, fails the gate whatever the limits
      local bok, nok = num((b.requests or {}).ok) or 0, num((n.requests or {}).ok) or 0
      local ntotal = num((n.requests or {}).total) or 0
      if nok == 0 and bok > 0 then
        e.broken = true
        res.failures[#res.failures + 1] = string.format("%s: no request succeeded (%d failed; base: %d of %d ok)",
          e.name, ntotal, bok, num((b.requests or {}).total) or 0)
      end
      for _, s in ipairs(specs) do
        local row = M.compare_metric(b, n, s, opts)
        e.rows[#e.rows + 1] = row
        local c = res.counts
        if row.verdict == "worse" then c.worse = c.worse + 1
        elseif row.verdict == "better" then c.better = c.better + 1
        elseif row.verdict == "too few samples" then c.few = c.few + 1
        elseif row.verdict == "~" then c.same = c.same + 1 end
        if row.fail then
          res.failures[#res.failures + 1] = string.format("%s: %s %s %s (limit %s)", e.name, row.label,
            fmt.fmt_delta(row), row.rel and fmt.fmt_rel(row) or "", fmt.fmt_limit(row))
        end
      end
    end
    res.runs[#res.runs + 1] = e
  end
  return res
end

-- the comparison written out (mlxbench.compare_fmt), here for the callers
M.fmt_value, M.fmt_delta, M.fmt_rel, M.fmt_limit = fmt.fmt_value, fmt.fmt_delta, fmt.fmt_rel, fmt.fmt_limit
M.text, M.markdown, M.json = fmt.text, fmt.markdown, fmt.json

return M
