-- mlxbench.timeline: what a run looked like second by second, and the
-- failover figures derived from it: how many requests failed while a fault
-- was on, how long until the fallback served, how long until the primary
-- was back, and what the fallback cost in latency.
local json = require "mlxbench.json"

local M = {}

local function quantile(xs, q)
  if #xs == 0 then return nil end
  table.sort(xs)
  return xs[math.max(1, math.ceil(q * #xs))]
end

local function end_of(r)
  return r.start_s and (r.start_s + (r.e2e_s or 0)) or nil
end

-- build(per_request, marks) -> list of 1-second buckets by completion time:
-- {t, ok, failed, failovers, output_tok_s, ttft_p50_s, ttft_p95_s, target}
function M.build(per_request, marks)
  local buckets, last = {}, -1
  for _, r in ipairs(per_request or {}) do
    local e = end_of(r)
    if e and e >= 0 then
      local k = math.floor(e)
      local b = buckets[k]
      if not b then
        b = { t = k, ok = 0, failed = 0, failovers = 0, tokens = 0, ttft = {}, by = {} }
        buckets[k] = b
      end
      if r.ok then
        b.ok = b.ok + 1
        b.tokens = b.tokens + (r.output_tokens or 0)
        if r.ttft_s then b.ttft[#b.ttft + 1] = r.ttft_s end
        if r.target then b.by[r.target] = (b.by[r.target] or 0) + 1 end
      else
        b.failed = b.failed + 1
      end
      if r.failover then b.failovers = b.failovers + 1 end
      if k > last then last = k end
    end
  end
  local out = json.array()
  for k = 0, last do
    local b = buckets[k] or { t = k, ok = 0, failed = 0, failovers = 0, tokens = 0, ttft = {}, by = {} }
    local best, bestn = nil, 0
    for name, n in pairs(b.by) do
      if n > bestn or (n == bestn and name < best) then best, bestn = name, n end
    end
    local marks_here = {}
    for _, m in ipairs(marks or {}) do
      if m.t_s >= k and m.t_s < k + 1 then marks_here[#marks_here + 1] = m.label end
    end
    out[#out + 1] = {
      t = k, ok = b.ok, failed = b.failed, failovers = b.failovers, output_tok_s = b.tokens,
      ttft_p50_s = quantile(b.ttft, 0.5), ttft_p95_s = quantile(b.ttft, 0.95), target = best,
      marks = #marks_here > 0 and marks_here or nil,
    }
  end
  return out
end

-- per_target(per_request) -> {name = {served, ok, failed_attempts}}
function M.per_target(per_request)
  local t = {}
  local function get(name)
    t[name] = t[name] or { served = 0, ok = 0, failed_attempts = 0 }
    return t[name]
  end
  for _, r in ipairs(per_request or {}) do
    if r.target then
      local e = get(r.target)
      e.served = e.served + 1
      if r.ok then e.ok = e.ok + 1 end
    end
    for _, f in ipairs(r.failover or {}) do
      local e = get(f.target)
      e.failed_attempts = e.failed_attempts + 1
    end
  end
  return t
end

local function find_marks(marks)
  local on, off
  for _, m in ipairs(marks) do
    local l = m.label:lower()
    if not on and l:match("^fault") and not l:match("off$") and not l:match("lifted") then
      on = m.t_s
    elseif on and not off and (l:match("off$") or l:match("lifted") or l:match("cleared")) then
      off = m.t_s
    end
  end
  return on, off
end

-- failover_metrics(per_request, marks, group) -> derived failover figures,
-- times in seconds relative to the marks. Marks: "fault on" ... "fault off".
function M.failover_metrics(per_request, marks, group)
  local on, off = find_marks(marks)
  if not on then return nil end
  local primary = group and group.members and group.members[1] and group.members[1].name
  local m = { fault_on_s = on, fault_off_s = off, failed_in_window = 0, failed_over = 0 }
  local e_primary, e_fallback = {}, {}
  local first_fb, first_back
  for _, r in ipairs(per_request or {}) do
    local e = end_of(r)
    if e then
      local in_window = e >= on and (not off or e < off + 1.0)
      if not r.ok and in_window then m.failed_in_window = m.failed_in_window + 1 end
      if r.failover then m.failed_over = m.failed_over + 1 end
      if r.ok then
        if r.target == primary then
          e_primary[#e_primary + 1] = r.e2e_s
          if off and e >= off and (not first_back or e < first_back) then first_back = e end
        else
          e_fallback[#e_fallback + 1] = r.e2e_s
          if e >= on and (not first_fb or e < first_fb) then first_fb = e end
        end
      end
    end
  end
  m.time_to_failover_s = first_fb and (first_fb - on) or nil
  m.time_to_recover_s = (first_back and off) and (first_back - off) or nil
  local p, f = quantile(e_primary, 0.5), quantile(e_fallback, 0.5)
  m.primary_e2e_p50_s, m.fallback_e2e_p50_s = p, f
  m.fallback_penalty_s = (p and f) and (f - p) or nil
  return m
end

-- text(run) -> the timeline as a terminal table
function M.text(run)
  local out = { string.format("%5s %5s %6s %9s %10s %10s  %-18s %s", "t(s)", "ok", "failed",
    "failover", "tok/s", "TTFT p50", "served by", "marks") }
  for _, b in ipairs(run.timeline or {}) do
    out[#out + 1] = string.format("%5d %5d %6d %9d %10d %10s  %-18s %s", b.t, b.ok, b.failed,
      b.failovers, b.output_tok_s, b.ttft_p50_s and string.format("%.1fms", b.ttft_p50_s * 1000) or "-",
      b.target or "-", b.marks and table.concat(b.marks, ", ") or "")
  end
  local f = run.failover
  if f then
    local function s(v) return v and string.format("%.2f s", v) or "n/a" end
    out[#out + 1] = ""
    out[#out + 1] = string.format("fault on at %s, off at %s", s(f.fault_on_s), s(f.fault_off_s))
    out[#out + 1] = string.format("requests failed while the fault was on: %d; failed over: %d",
      f.failed_in_window, f.failed_over)
    out[#out + 1] = string.format("time to first success on the fallback: %s", s(f.time_to_failover_s))
    out[#out + 1] = string.format("time to recover on the primary after the fault: %s", s(f.time_to_recover_s))
    out[#out + 1] = string.format("fallback latency penalty (E2E p50): %s", s(f.fallback_penalty_s))
  end
  return table.concat(out, "\n") .. "\n"
end

return M
