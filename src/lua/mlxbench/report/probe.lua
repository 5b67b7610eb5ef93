-- mlxbench.report.probe: a probe's answers (mlxbench.probe) as a table or
-- JSON, and the flags they call for: the `mlxbench run` command line that
-- benchmarks this server exactly (docs/SERVERS.md).
local json = require "mlxbench.json"

local M = {}

M.SCHEMA = "mlxbench.probe/1"

local function ans(res, id) return res.by_id[id] and res.by_id[id].answer end

local function shell(s)
  if s:match("^[%w%-%./:=_@,+]+$") then return s end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- flags(res, o) -> {{flag = "--ignore-eos", why = "..."}, ...}, notes
-- What an exact benchmark of this server needs, from the answers.
function M.flags(res, o)
  o = o or {}
  local f, notes = {}, {}
  local function add(flag, why) f[#f + 1] = { flag = flag, why = why } end
  local maxt = o.max_tokens or 256
  if ans(res, "api_chat") == "no" and ans(res, "api_completions") == "yes" then
    add("--api completions", "the server answers /v1/completions, not chat")
  elseif ans(res, "api_chat") == "no" and ans(res, "api_messages") == "yes" then
    add("--api anthropic", "the server answers /v1/messages (Anthropic's API), not chat")
  end
  if ans(res, "max_tokens") ~= "yes" and ans(res, "max_completion_tokens") == "yes" then
    add("--max-completion-tokens " .. maxt, "max_tokens is refused or ignored; max_completion_tokens works")
  else
    add("--max-tokens " .. maxt, "every answer's limit")
  end
  if ans(res, "ignore_eos") == "yes" then
    add("--ignore-eos", "answers run to the limit: tok/s and TPOT compare across runs")
  elseif ans(res, "min_tokens") == "yes" then
    add("--min-tokens " .. maxt, "answers run to the limit (ignore_eos is not honoured)")
  elseif ans(res, "ignore_eos") == "no" and ans(res, "min_tokens") == "no" then
    notes[#notes + 1] = "the server honours neither ignore_eos nor min_tokens: answers stop where the model "
      .. "does, so compare runs by decode tok/s and TPOT, not per-request tok/s"
  else
    notes[#notes + 1] = "whether the server honours ignore_eos or min_tokens is not known (see their "
      .. "evidence): check the early-stop counts of a run"
  end
  local usage = ans(res, "usage_asked") == "yes" or ans(res, "usage_unasked") == "yes"
  if not usage and res.by_id.streaming and ans(res, "streaming") == "yes" then
    if o.tokenizer then   -- the probe found (or was given) one: run finds it the same way
      add("--tokenizer " .. o.tokenizer, "the server sends no usage in streams: count with the "
        .. "model's tokenizer, or every count is an estimate")
    else
      add("--tokenizer PATH", "the server sends no usage in streams and no tokenizer for "
        .. (res.model or "the model") .. " is on this machine: give its tokenizer.json (or put it in "
        .. "$MLXBENCH_TOKENIZERS), or every count is an estimate")
    end
  end
  local tpc = res.by_id.tokens_per_chunk
  if tpc and tpc.several then
    notes[#notes + 1] = string.format("several tokens per chunk (%.2f): ITL is per chunk, TPOT per token; "
      .. "counts are exact only with usage or a tokenizer", tpc.value)
  end
  if res.metrics_url then
    add("--metrics-url " .. res.metrics_url, "the server's own metrics on the run's timeline (the default: "
      .. "mlxbench run finds them)")
  end
  if res.backend == "local" and require("mlxbench._sys").platform ~= "posix" then
    add("--server-pid auto", "the server process's CPU, memory and threads on the timeline")
  end
  if ans(res, "seed_batching") == "yes" then
    notes[#notes + 1] = "a request carrying `seed` turns batching off on this server (mlx_lm.server does): "
      .. "do not put seed in --extra-body for throughput runs"
  end
  if ans(res, "concurrency") == "no" then
    notes[#notes + 1] = "concurrency does not raise aggregate tok/s: the server runs one request at a time; "
      .. "-c above 1 measures its queue"
  end
  if ans(res, "cached_tokens") == "yes" then
    notes[#notes + 1] = "prefix caching is on: prompts that share a prefix get a faster TTFT; random "
      .. "prompts (--input-tokens) keep it out of the figures"
  end
  if ans(res, "server_timings") == "yes" then
    notes[#notes + 1] = "the server reports its own timings: runs split TTFT into server queue, prefill "
      .. "and the rest (network + client)"
  end
  return f, notes
end

-- command(res, o) -> the `mlxbench run` line for an exact benchmark
function M.command(res, o)
  local f = M.flags(res, o)
  local parts = { "mlxbench run", "-m " .. shell(res.model or "MODEL"), "--url " .. shell(res.url) }
  for _, x in ipairs(f) do
    local flag, val = x.flag:match("^(%S+) (.+)$")
    parts[#parts + 1] = flag and (flag .. " " .. shell(val)) or x.flag
  end
  return table.concat(parts, " ")
end

-- wrap(head, text, width) -> head .. text folded at spaces so that no line
-- passes `width`; continuation lines are indented under the text
local function wrap(head, text, width)
  local indent = string.rep(" ", #head)
  local out, line = {}, head
  for word in tostring(text):gmatch("%S+") do
    if #line > #head and #line + 1 + #word > width then
      out[#out + 1] = line
      line = indent .. word
    else
      line = line .. (#line > #head and " " or "") .. word
    end
  end
  out[#out + 1] = line
  return table.concat(out, "\n")
end

-- text(res, o) -> the terminal report
function M.text(res, o)
  local out = {
    string.format("mlxbench probe: %s (%s, %s) model %s: %d requests, ~%d input + %d output tokens, %.1f s",
      res.url, res.api, res.backend, res.model or "?", res.requests or 0, res.tokens and res.tokens.input or 0,
      res.tokens and res.tokens.output or 0, res.duration_s or 0),
    "",
  }
  local w1 = #"capability"
  for _, c in ipairs(res.checks) do w1 = math.max(w1, #c.title) end
  w1 = math.min(w1, 40)
  out[#out + 1] = string.format("%-" .. w1 .. "s  %-7s  %s", "capability", "answer", "evidence")
  out[#out + 1] = string.rep("-", w1) .. "  -------  " .. string.rep("-", 60)
  for _, c in ipairs(res.checks) do
    out[#out + 1] = wrap(string.format("%-" .. w1 .. "s  %-7s  ", c.title:sub(1, w1), c.answer),
      c.evidence or "", 120)
  end
  local flags, notes = M.flags(res, o)
  out[#out + 1] = ""
  out[#out + 1] = "For an exact benchmark of this server:"
  out[#out + 1] = "  " .. M.command(res, o)
  for _, x in ipairs(flags) do
    out[#out + 1] = wrap(string.format("    %-24s ", x.flag), x.why, 120)
  end
  if #notes > 0 then
    out[#out + 1] = ""
    out[#out + 1] = "Notes:"
    for _, n in ipairs(notes) do out[#out + 1] = wrap("  ", n, 120) end
  end
  return table.concat(out, "\n") .. "\n"
end

-- doc(res, o) -> the JSON document (schema mlxbench.probe/1)
function M.doc(res, o)
  local checks = json.array()
  for i, c in ipairs(res.checks) do
    checks[i] = { id = c.id, title = c.title, answer = c.answer, evidence = c.evidence,
                  value = (type(c.value) == "number" or type(c.value) == "string") and c.value or nil }
  end
  local flags, notes = M.flags(res, o)
  local fl = json.array()
  for i, x in ipairs(flags) do fl[i] = x end
  return {
    schema = M.SCHEMA, url = res.url, api = res.api, backend = res.backend, model = res.model,
    models = json.array(res.models or {}), checks = checks, flags = fl, notes = json.array(notes),
    command = M.command(res, o), metrics_url = res.metrics_url, requests = res.requests,
    tokens = res.tokens, duration_s = res.duration_s,
  }
end

function M.json(res, o)
  return json.encode(M.doc(res, o), { indent = "  " }) .. "\n"
end

return M
