-- mlxbench.report.traffic: the report's tables for realistic traffic
-- (docs/REPORTS.md) -- the prompt cache (cached tokens, hit ratio, cold
-- against warm TTFT), the reasoning split, conversations (per session and
-- TTFT by turn index) and model mixes (per model) -- each only when a run
-- has it. Tables use mlxbench.report's column specs: {header, getter,
-- align[, "time", group]}; sections() gives {title, cols, rows}.
local M = {}

local function n_(v) return type(v) == "number" and v == v and v or nil end

local function metric(r, m, q)
  local x = type(r.metrics) == "table" and r.metrics[m]
  return type(x) == "table" and n_(x[q]) or nil
end

local function count(v)
  if type(v) ~= "number" then return v ~= nil and tostring(v) or "-" end
  if v == math.floor(v) and math.abs(v) < 2 ^ 53 then return string.format("%d", math.floor(v)) end
  return string.format("%.1f", v)
end

local function pct(v) return v and string.format("%.1f%%", v * 100) or "-" end

local function short(m) return (tostring(m or "-"):gsub("^mlx%-community/", "")) end

-- Which runs have what.
function M.has_cache(r)
  local t = type(r.tokens) == "table" and r.tokens or {}
  return not r.skipped and ((n_(t.cached) or 0) > 0 or type(r.prompt_cache) == "table")
end
function M.has_reasoning(r)
  return not r.skipped and type(r.requests) == "table" and (n_(r.requests.reasoned) or 0) > 0
end
function M.has_sessions(r) return not r.skipped and type(r.sessions) == "table" end
function M.has_models(r) return not r.skipped and type(r.by_model) == "table" and next(r.by_model) ~= nil end

local CACHE = {
  { "Run", function(r) return r.name end, "l" },
  { "Cached tok", function(r) return r.tokens.cached and count(r.tokens.cached) or "-" end, "r" },
  { "Hit ratio", function(r) return pct(n_(r.tokens.cache_hit_ratio)) end, "r" },
  { "Hits", function(r)
      local h = r.requests.cache_hits
      return h and (count(h) .. "/" .. count(r.tokens.cache_reported)) or "-"
    end, "r" },
  { "Cold", function(r) return r.prompt_cache and count(r.prompt_cache.cold) or "-" end, "r" },
  { "Warm", function(r) return r.prompt_cache and count(r.prompt_cache.warm) or "-" end, "r" },
  { "TTFT cold p50", function(r) return metric(r, "ttft_cold_s", "p50") end, "r", "time", "cw" },
  { "warm p50", function(r) return metric(r, "ttft_warm_s", "p50") end, "r", "time", "cw" },
  { "Speed-up", function(r)
      local s = r.prompt_cache and n_(r.prompt_cache.speedup_p50)
      return s and string.format("%.2fx", s) or "-"
    end, "r" },
  { "Cold/warm by", function(r) return r.prompt_cache and r.prompt_cache.basis or "-" end, "l" },
}

local function sources(t)
  local out = {}
  for k in pairs(type(t) == "table" and t or {}) do out[#out + 1] = k end
  table.sort(out)
  return #out > 0 and table.concat(out, ",") or "-"
end

local REASONING = {
  { "Run", function(r) return r.name end, "l" },
  { "Reasoned", function(r) return count(r.requests.reasoned) .. "/" .. count(r.requests.ok) end, "r" },
  { "TTFR p50", function(r) return metric(r, "ttfr_s", "p50") end, "r", "time", "first" },
  { "TTFA p50", function(r) return metric(r, "ttfa_s", "p50") end, "r", "time", "first" },
  { "p95", function(r) return metric(r, "ttfa_s", "p95") end, "r", "time", "first" },
  { "Reasoning tok", function(r) return count(r.tokens.reasoning) end, "r" },
  { "Answer tok", function(r) return count(r.tokens.answer) end, "r" },
  { "ITL reasoning p50", function(r) return metric(r, "itl_reasoning_s", "p50") end, "r", "time", "itl" },
  { "answer p50", function(r) return metric(r, "itl_answer_s", "p50") end, "r", "time", "itl" },
  { "Counted by", function(r) return sources(r.tokens.reasoning_source) end, "l" },
}

local function turn_metric(r, k, m, q)
  for _, t in ipairs(r.sessions.by_turn or {}) do
    if t.turn == k then return t[m] and n_(t[m][q]) end
  end
  return nil
end

local function last_turn(r)
  local bt = r.sessions.by_turn or {}
  return bt[#bt] and bt[#bt].turn or nil
end

local SESSIONS = {
  { "Run", function(r) return r.name end, "l" },
  { "Sessions", function(r) return count(r.sessions.started) end, "r" },
  { "Completed", function(r) return count(r.sessions.completed) end, "r" },
  { "Cut", function(r) return count(r.sessions.cut or 0) end, "r" },
  { "Turns/session", function(r) return r.sessions.turns_per_session and count(r.sessions.turns_per_session) or "-" end, "r" },
  { "Session p50", function(r) return metric(r, "session_s", "p50") end, "r", "time", "session" },
  { "p95", function(r) return metric(r, "session_s", "p95") end, "r", "time", "session" },
  { "TTFT turn 1 p50", function(r) return turn_metric(r, 1, "ttft_s", "p50") end, "r", "time", "turn" },
  { "last turn p50", function(r) local k = last_turn(r) return k and turn_metric(r, k, "ttft_s", "p50") end,
    "r", "time", "turn" },
}

-- rows of the TTFT-by-turn table: one per (run, turn index)
local function turn_rows(runs)
  local rows = {}
  for _, r in ipairs(runs) do
    if M.has_sessions(r) then
      for _, t in ipairs(r.sessions.by_turn or {}) do
        rows[#rows + 1] = { name = r.name, t = t }
      end
    end
  end
  return rows
end

local BY_TURN = {
  { "Run", function(x) return x.name end, "l" },
  { "Turn", function(x) return count(x.t.turn) .. (x.t.last and "+" or "") end, "r" },
  { "Requests", function(x) return count(x.t.ok) .. "/" .. count(x.t.requests) end, "r" },
  { "In tok/req", function(x) return x.t.input_tokens_mean and count(x.t.input_tokens_mean) or "-" end, "r" },
  { "TTFT p50", function(x) return x.t.ttft_s and n_(x.t.ttft_s.p50) end, "r", "time", "ttft" },
  { "p95", function(x) return x.t.ttft_s and n_(x.t.ttft_s.p95) end, "r", "time", "ttft" },
  { "E2E p50", function(x) return x.t.e2e_s and n_(x.t.e2e_s.p50) end, "r", "time", "e2e" },
}

local function model_rows(runs)
  local rows = {}
  for _, r in ipairs(runs) do
    if M.has_models(r) then
      local names = {}
      for m in pairs(r.by_model) do names[#names + 1] = m end
      table.sort(names)
      for _, m in ipairs(names) do rows[#rows + 1] = { name = r.name, model = m, e = r.by_model[m] } end
    end
  end
  return rows
end

local function sm(x, m, q) return type(x.e[m]) == "table" and n_(x.e[m][q]) or nil end

local BY_MODEL = {
  { "Run", function(x) return x.name end, "l" },
  { "Model", function(x) return short(x.model) end, "l" },
  { "OK/Total", function(x) return count(x.e.ok) .. "/" .. count(x.e.requests) end, "r" },
  { "Cancelled", function(x) return count(x.e.cancelled or 0) end, "r" },
  { "req/s", function(x) return string.format("%.2f", n_(x.e.requests_s) or 0) end, "r" },
  { "out tok/s", function(x) return string.format("%.1f", n_(x.e.output_tok_s) or 0) end, "r" },
  { "TTFT p50", function(x) return sm(x, "ttft_s", "p50") end, "r", "time", "ttft" },
  { "p95", function(x) return sm(x, "ttft_s", "p95") end, "r", "time", "ttft" },
  { "TPOT p50", function(x) return sm(x, "tpot_s", "p50") end, "r", "time", "tpot" },
  { "E2E p50", function(x) return sm(x, "e2e_s", "p50") end, "r", "time", "e2e" },
}

local function some(runs, pred)
  local out = {}
  for _, r in ipairs(runs) do if pred(r) then out[#out + 1] = r end end
  return out
end

-- sections(runs) -> {{title, cols, rows}...}: the tables these runs call for
function M.sections(runs)
  local out = {}
  local c = some(runs, M.has_cache)
  if #c > 0 then out[#out + 1] = { "Prompt cache (cached prompt tokens as the server reported them)", CACHE, c } end
  local rs = some(runs, M.has_reasoning)
  if #rs > 0 then out[#out + 1] = { "Reasoning (TTFR: first reasoning token, TTFA: first answer token)", REASONING, rs } end
  local s = some(runs, M.has_sessions)
  if #s > 0 then
    out[#out + 1] = { "Conversations", SESSIONS, s }
    out[#out + 1] = { "TTFT by turn", BY_TURN, turn_rows(s) }
  end
  local mrows = model_rows(runs)
  if #mrows > 0 then out[#out + 1] = { "By model", BY_MODEL, mrows } end
  return out
end

-- notes(runs) -> lines: cancelled requests, the cache basis
function M.notes(runs)
  local out = {}
  for _, r in ipairs(runs) do
    local rq = type(r.requests) == "table" and r.requests or {}
    if (n_(rq.cancelled) or 0) > 0 then
      local cfg = type(r.config) == "table" and r.config or {}
      out[#out + 1] = string.format("  %s: %s of %s requests cancelled by the client%s: their own outcome, "
        .. "neither ok nor failed, and in no latency figure", r.name, count(rq.cancelled), count(rq.total),
        cfg.cancel_rate and string.format(" (cancel rate %g, after %s)", cfg.cancel_rate, tostring(cfg.cancel_after)) or "")
    end
    if type(r.prompt_cache) == "table" and r.prompt_cache.basis ~= "server" then
      out[#out + 1] = string.format("  %s: cold and warm are the client's view (the first use of each shared "
        .. "prefix is cold) where the server did not report cached tokens", r.name)
    end
  end
  return out
end

return M
