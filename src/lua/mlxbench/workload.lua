-- mlxbench.workload: what realistic workloads add to a run's figures
-- (docs/METRICS.md): prompt caching (cached tokens the server reported,
-- the hit ratio, cold and warm TTFT), the reasoning split's token counts,
-- conversations (per turn index, per session) and model mixes (per model).
--
-- The collector (mlxbench.collect) owns one state and calls add() per
-- request and add_session() per conversation; the state dumps to plain
-- data and absorbs another's exactly (engine threads), and finish() writes
-- the run's fields. from_run() reads those fields back, so `mlxbench
-- merge` combines runs the same exact way (histograms merged bucket by
-- bucket, counters summed).
local stats = require "mlxbench.stats"
local json = require "mlxbench.json"

local M = {}

-- Turn indexes kept apart; later turns are counted in the last one ("32+").
M.MAX_TURN = 32

local function hist() return stats.histogram{ lowest = 1e-6, highest = 3600, digits = 3 } end

local function summary(h)
  if not h or h:count() == 0 then return nil end
  local s = h:summary()
  return { count = s.count, mean = s.mean, p50 = s.p50, p90 = s.p90, p95 = s.p95, p99 = s.p99,
           min = s.min, max = s.max }
end

function M.new()
  return {
    cache = { reported = 0, hits = 0, cached = 0, write = 0, input = 0 },
    warm = { server = 0, client = 0 }, cold = { server = 0, client = 0 },
    reasoning = { requests = 0, tokens = 0, answer = 0, source = {} },
    sessions = { started = 0, completed = 0, turns = 0, cut = 0 },
    turns = {},    -- [k] = {requests, ok, input, h = {ttft_s, e2e_s}}
    models = {},   -- [name] = {requests, ok, failed, cancelled, output, input, h = {ttft_s, e2e_s, tpot_s}}
    multi = false, -- a model mix: per-model figures kept
    prefixed = 0,  -- requests that carried a shared prefix
  }
end

local function group(t, key)
  local g = t[key]
  if not g then
    g = { requests = 0, ok = 0, failed = 0, cancelled = 0, output = 0, input = 0, h = {} }
    t[key] = g
  end
  return g
end

local function rec(g, m, v)
  if v and v == v and v >= 0 and v < math.huge then
    g.h[m] = g.h[m] or hist()
    g.h[m]:record(v)
  end
end

-- cache_state(r) -> "warm" | "cold" | nil, "server" | "client": the server's
-- word when it reported cached tokens, else the client's view of a shared
-- prefix's first use
function M.cache_state(r)
  if r.cached_tokens then return r.cached_tokens > 0 and "warm" or "cold", "server" end
  if r.prefix_first ~= nil then return r.prefix_first and "cold" or "warm", "client" end
  return nil
end

-- add(w, r, h): one finished request; h are the collector's histograms
-- (the cold/warm TTFT and reasoning metrics are run metrics)
function M.add(w, r, h)
  if r.ok then
    if r.cached_tokens then
      local c = w.cache
      c.reported, c.cached = c.reported + 1, c.cached + r.cached_tokens
      c.input = c.input + (r.input_tokens or 0)
      c.write = c.write + (r.cache_write_tokens or 0)
      if r.cached_tokens > 0 then c.hits = c.hits + 1 end
    end
    if r.prefix_index then w.prefixed = w.prefixed + 1 end
    local state, basis = M.cache_state(r)
    if state then
      r.cache_state = state
      w[state][basis] = w[state][basis] + 1
      local hh = h[state == "warm" and "ttft_warm_s" or "ttft_cold_s"]
      if r.ttft_s then hh:record(r.ttft_s) end
    end
    if r.reasoning_tokens then
      local x = w.reasoning
      x.requests, x.tokens = x.requests + 1, x.tokens + r.reasoning_tokens
      x.answer = x.answer + (r.answer_tokens or 0)
      local src = r.reasoning_token_source or "usage"
      x.source[src] = (x.source[src] or 0) + 1
    end
    for _, m in ipairs{ "ttfr_s", "ttfa_s" } do
      if r[m] then h[m]:record(r[m]) end
    end
    if r.gaps_reasoning then r.gaps_reasoning:record_into(h.itl_reasoning_s) end
    if r.gaps_answer then r.gaps_answer:record_into(h.itl_answer_s) end
  end
  if r.turn then
    local g = group(w.turns, math.min(r.turn, M.MAX_TURN))
    g.requests = g.requests + 1
    if r.ok then
      g.ok, g.input = g.ok + 1, g.input + (r.input_tokens or 0)
      rec(g, "ttft_s", r.ttft_s)
      rec(g, "e2e_s", r.e2e_s)
    end
  end
  if w.multi and r.model then
    local g = group(w.models, r.model)
    g.requests = g.requests + 1
    if r.ok then
      g.ok, g.output, g.input = g.ok + 1, g.output + (r.output_tokens or 0), g.input + (r.input_tokens or 0)
      rec(g, "ttft_s", r.ttft_s)
      rec(g, "e2e_s", r.e2e_s)
      rec(g, "tpot_s", r.tpot_s)
    elseif r.cancelled then
      g.cancelled = g.cancelled + 1
    else
      g.failed = g.failed + 1
    end
  end
end

-- add_session(w, s, h): one conversation ({turns, completed, duration_s});
-- its duration is a sample of session_s when every turn was answered
function M.add_session(w, s, h)
  local x = w.sessions
  if s.cut then   -- the run ended under it: not the server's doing
    x.cut = x.cut + 1
    return
  end
  x.started, x.turns = x.started + 1, x.turns + (s.completed or 0)
  if s.completed == s.turns then
    x.completed = x.completed + 1
    if s.duration_s then h.session_s:record(s.duration_s) end
  end
end

-- ------------------------------------------------------------ plain data

local function dump_groups(t)
  local out = {}
  for k, g in pairs(t) do
    local e = { requests = g.requests, ok = g.ok, failed = g.failed, cancelled = g.cancelled,
                output = g.output, input = g.input, h = {} }
    for m, x in pairs(g.h) do e.h[m] = x:encode() end
    out[k] = e
  end
  return out
end

local function absorb_groups(t, d)
  for k, e in pairs(d or {}) do
    local g = group(t, k)
    for _, f in ipairs{ "requests", "ok", "failed", "cancelled", "output", "input" } do
      g[f] = g[f] + (e[f] or 0)
    end
    for m, enc in pairs(e.h or {}) do
      local x = stats.decode(enc)
      if g.h[m] then g.h[m]:merge(x) else g.h[m] = x end
    end
  end
end

local function add_counts(dst, src)
  for k, v in pairs(src or {}) do
    if type(v) == "number" then dst[k] = (dst[k] or 0) + v
    elseif type(v) == "table" then dst[k] = dst[k] or {} add_counts(dst[k], v) end
  end
end

function M.dump(w)
  return { cache = w.cache, warm = w.warm, cold = w.cold, reasoning = w.reasoning,
           sessions = w.sessions, turns = dump_groups(w.turns), models = dump_groups(w.models),
           multi = w.multi, prefixed = w.prefixed }
end

function M.absorb(w, d)
  if not d then return end
  for _, k in ipairs{ "cache", "warm", "cold", "reasoning", "sessions" } do add_counts(w[k], d[k]) end
  absorb_groups(w.turns, d.turns)
  absorb_groups(w.models, d.models)
  w.multi = w.multi or d.multi
  w.prefixed = w.prefixed + (d.prefixed or 0)
end

-- ------------------------------------------------------------ the run

local function basis(t)
  if t.server > 0 and t.client > 0 then return "mixed" end
  return t.server > 0 and "server" or "client"
end

-- finish(w, run): the workload fields of the run (each only when the run
-- has something to say). run.metrics must be filled already.
function M.finish(w, run)
  local c = w.cache
  if c.reported > 0 then
    local t = run.tokens
    t.cached, t.cache_write, t.cache_reported = c.cached, c.write, c.reported
    t.cache_input = c.input
    t.cache_hit_ratio = c.input > 0 and c.cached / c.input or 0
    run.requests.cache_hits = c.hits
  end
  -- cold against warm: when some prompt was warm, or the run shared
  -- prefixes (then "all cold" says the server cached nothing)
  local nw, nc = w.warm.server + w.warm.client, w.cold.server + w.cold.client
  if nw > 0 or (nc > 0 and w.prefixed > 0) then
    local m = run.metrics
    local pc = { warm = nw, cold = nc, basis = basis({ server = w.warm.server + w.cold.server,
                                                        client = w.warm.client + w.cold.client }),
                 counts = { warm = w.warm, cold = w.cold }, prefixed = w.prefixed }
    local cold, warm = m.ttft_cold_s and m.ttft_cold_s.p50, m.ttft_warm_s and m.ttft_warm_s.p50
    if cold and warm and warm > 0 then
      pc.ttft_saved_p50_s = cold - warm
      pc.speedup_p50 = cold / warm
    end
    run.prompt_cache = pc
  end
  local x = w.reasoning
  if x.requests > 0 then
    run.tokens.reasoning, run.tokens.answer = x.tokens, x.answer
    run.tokens.reasoning_source = x.source
    run.requests.reasoned = x.requests
  end
  if w.sessions.started > 0 or next(w.turns) then
    local s = w.sessions
    local out = { started = s.started, completed = s.completed, turns = s.turns,
                  cut = s.cut > 0 and s.cut or nil,
                  turns_per_session = s.started > 0 and s.turns / s.started or nil,
                  by_turn = json.array(), histograms = {} }
    local ks = {}
    for k in pairs(w.turns) do ks[#ks + 1] = k end
    table.sort(ks)
    for _, k in ipairs(ks) do
      local g = w.turns[k]
      out.by_turn[#out.by_turn + 1] = {
        turn = k, last = k == M.MAX_TURN or nil, requests = g.requests, ok = g.ok,
        input_tokens = g.input, input_tokens_mean = g.ok > 0 and g.input / g.ok or nil,
        ttft_s = summary(g.h.ttft_s), e2e_s = summary(g.h.e2e_s),
      }
      for m, h in pairs(g.h) do out.histograms[m .. "@" .. k] = h:encode() end
    end
    run.sessions = out
  end
  if w.multi and next(w.models) then
    local dur = run.duration_s or 0
    local by = {}
    for name, g in pairs(w.models) do
      local e = { requests = g.requests, ok = g.ok, failed = g.failed, cancelled = g.cancelled,
                  output_tokens = g.output, input_tokens = g.input,
                  output_tok_s = dur > 0 and g.output / dur or 0, requests_s = dur > 0 and g.ok / dur or 0,
                  histograms = {} }
      for m, h in pairs(g.h) do
        e[m] = summary(h)
        e.histograms[m] = h:encode()
      end
      by[name] = e
    end
    run.by_model = by
  end
end

-- from_run(run) -> a state holding what finish() wrote (for merge)
function M.from_run(run)
  local w = M.new()
  local t, rq = run.tokens or {}, run.requests or {}
  if t.cache_reported then
    w.cache = { reported = t.cache_reported, hits = rq.cache_hits or 0, cached = t.cached or 0,
                write = t.cache_write or 0, input = t.cache_input or 0 }
  end
  local pc = run.prompt_cache
  if pc and pc.counts then
    w.warm = { server = pc.counts.warm.server or 0, client = pc.counts.warm.client or 0 }
    w.cold = { server = pc.counts.cold.server or 0, client = pc.counts.cold.client or 0 }
    w.prefixed = pc.prefixed or 0
  end
  if t.reasoning then
    w.reasoning = { requests = rq.reasoned or 0, tokens = t.reasoning, answer = t.answer or 0,
                    source = t.reasoning_source or {} }
  end
  local s = run.sessions
  if s then
    w.sessions = { started = s.started or 0, completed = s.completed or 0, turns = s.turns or 0,
                   cut = s.cut or 0 }
    for _, e in ipairs(s.by_turn or {}) do
      local g = group(w.turns, e.turn)
      g.requests, g.ok = e.requests or 0, e.ok or 0
      g.input = e.input_tokens or 0
      for m, enc in pairs(s.histograms or {}) do
        local name, k = m:match("^(.-)@(%d+)$")
        if name and tonumber(k) == e.turn then g.h[name] = stats.decode(enc) end
      end
    end
  end
  for name, e in pairs(run.by_model or {}) do
    w.multi = true
    local g = group(w.models, name)
    g.requests, g.ok, g.failed, g.cancelled = e.requests or 0, e.ok or 0, e.failed or 0, e.cancelled or 0
    g.output, g.input = e.output_tokens or 0, e.input_tokens or 0
    for m, enc in pairs(e.histograms or {}) do g.h[m] = stats.decode(enc) end
  end
  return w
end

-- merge(out, runs): the workload fields of a merged run, from its sources'
function M.merge(out, runs)
  local w = M.new()
  for _, r in ipairs(runs) do M.absorb(w, M.dump(M.from_run(r))) end
  M.finish(w, out)
end

return M
