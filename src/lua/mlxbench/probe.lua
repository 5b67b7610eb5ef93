-- mlxbench.probe: what a server can do, asked with a short, bounded series
-- of requests, so a benchmark of it can be exact (docs/SERVERS.md).
--
--   local probe = require "mlxbench.probe"
--   local res = probe.run{ target = t, model = "Qwen/Qwen2.5-7B-Instruct" }
--   for _, c in ipairs(res.checks) do print(c.id, c.answer, c.evidence) end
--   print(res.command)            -- the flags for an exact benchmark
--   local q = probe.quick(t)      -- the cheap part, cached per URL: /metrics, keep-alive
--
-- Each check answers yes, no or unknown, with the evidence it rests on
-- (a status, a field seen, a count, a ratio). Requests are small (a few
-- hundred tokens in all), one at a time except the concurrency check, and
-- every failure is an answer ("no: 400 ...", "unknown: timeout"), never an
-- error: a probe is pointed at servers that misbehave.
local http = require "mlxbench.http"
local time = require "mlxbench.time"
local sched = require "mlxbench._sched"
local target_mod = require "mlxbench.target"
local prom = require "mlxbench._prom"
local scrape = require "mlxbench.scrape"

local M = {}
local S = require "mlxbench.probe_session"
local decode, short_error, json_int = S.decode, S.short_error, S.json_int
local P = S.P
M.base_of, M.analyze = S.base_of, S.analyze

-- the metric names mlxbench.scrape maps: "known series" in the evidence
local KNOWN_NAMES = {}
for name in pairs(scrape.MAP) do KNOWN_NAMES[name] = true end

-- check(res, id, title, answer, evidence [, extra]): records one answer
-- (and tells on_check, for a progress line)
local function check(res, id, title, answer, evidence, extra)
  local c = { id = id, title = title, answer = answer, evidence = evidence }
  for k, v in pairs(extra or {}) do c[k] = v end
  res.checks[#res.checks + 1] = c
  res.by_id[id] = c
  if res.on_check then res.on_check(c) end
  return c
end

-- the endpoints: which APIs the server answers
function P:apis(res)
  local r = self:get("/v1/models")
  local doc = r.ok and decode(r.body)
  local models = {}
  if doc and type(doc.data) == "table" then
    for _, m in ipairs(doc.data) do
      if type(m) == "table" and type(m.id) == "string" then models[#models + 1] = m.id end
    end
  end
  res.models = models
  check(res, "api_models", "GET /v1/models", r.ok and "yes" or (r.status == 404 and "no" or "unknown"),
    r.ok and string.format("%d model%s", #models, #models == 1 and "" or "s") or short_error(r))
  if not self.model then self.model = models[1] end
  if not self.model then return false end
  local served = #models == 0
  for _, m in ipairs(models) do if m == self.model then served = true end end
  check(res, "model", "model " .. self.model .. " served", #models == 0 and "unknown" or (served and "yes" or "no"),
    #models == 0 and "the server lists no models" or (served and "listed by /v1/models"
      or ("not listed; the server lists: " .. table.concat(models, ", "):sub(1, 200))))
  local rc, ac = self:chat({ max_tokens = 8 }, false)
  if not rc.ok and (rc.status == 400 or rc.status == 422) then
    -- OpenAI's newer models refuse max_tokens: try the other spelling
    local r2, a2 = self:chat({ max_completion_tokens = 8 }, false)
    if r2.ok then
      self.limit_field, rc, ac = "max_completion_tokens", r2, a2
    end
  end
  check(res, "api_chat", "POST /v1/chat/completions", rc.ok and "yes" or ((rc.status == 404 or rc.status == 405) and "no" or "unknown"),
    rc.ok and (self:tokens(ac) and ("200, " .. self:tokens(ac) .. " tokens") or "200, no usage in the answer")
      or short_error(rc))
  self.chat_ok = rc.ok
  local rl = self:post("/v1/completions", { model = self.model, prompt = "Say OK.", max_tokens = 8 })
  check(res, "api_completions", "POST /v1/completions", rl.ok and "yes" or ((rl.status == 404 or rl.status == 405) and "no" or "unknown"),
    rl.ok and "200" or short_error(rl))
  local rm = self:post("/v1/messages", { model = self.model, max_tokens = 8,
                                         messages = { { role = "user", content = S.SHORT } } },
                       { headers = { "anthropic-version: 2023-06-01" } })
  check(res, "api_messages", "POST /v1/messages (Anthropic)", rm.ok and "yes" or ((rm.status == 404 or rm.status == 405) and "no" or "unknown"),
    rm.ok and "200" or short_error(rm))
  local rr = self:post("/v1/responses", { model = self.model, input = S.SHORT, max_output_tokens = 16 })
  check(res, "api_responses", "POST /v1/responses", rr.ok and "yes" or ((rr.status == 404 or rr.status == 405) and "no" or "unknown"),
    rr.ok and "200" or short_error(rr))
  return true
end

-- streaming, usage asked and unasked, where usage comes, reasoning fields,
-- tokens per chunk
function P:streams(res)
  local r, a = self:chat({ prompt = S.LONG, max_tokens = 48, stream_options = { include_usage = true } }, true)
  if not r.ok and (r.status == 400 or r.status == 422) then
    res.stream_options_rejected = short_error(r)
    self.no_stream_options = true
    r, a = self:chat({ prompt = S.LONG, max_tokens = 48 }, true)
  end
  local ctype = r.headers and r.headers["content-type"] or ""
  local streams = r.ok and a and a.content > 0 and a.done
  check(res, "streaming", "streaming (SSE)", streams and "yes" or (r.ok and "no" or "unknown"),
    streams and string.format("%s, %d content events, [DONE]", ctype:match("^[^;]*") or "?", a.content)
      or (r.ok and ("200 but " .. (a and a.content == 0 and "no content events" or "no [DONE]")) or short_error(r)))
  if not streams then return end
  self.stream_a = a
  if res.stream_options_rejected then
    check(res, "usage_asked", "usage in streams when asked", "no",
      "stream_options rejected: " .. res.stream_options_rejected)
  else
    check(res, "usage_asked", "usage in streams when asked", a.usage and "yes" or "no",
      a.usage and string.format("completion_tokens %s", json_int(a.usage.completion_tokens))
        or "stream_options.include_usage sent, no usage in the stream")
  end
  if a.usage then
    local u = a.usage_at[#a.usage_at]
    local every = #a.usage_at >= math.max(2, a.chunks - 2)
    local pos = every and "every chunk" or (u.with_finish and "finish chunk" or "separate chunk")
    check(res, "usage_position", "usage position", "yes", pos .. string.format(" (chunk %d of %d%s)",
      u.chunk, a.chunks, u.with_choices and "" or ", choices: []"), { value = pos })
  else
    check(res, "usage_position", "usage position", "unknown", "no usage seen in a stream")
  end
  local r2, a2 = self:chat({ prompt = S.SHORT, max_tokens = 8 }, true)
  check(res, "usage_unasked", "usage in streams unasked", (r2.ok and a2) and (a2.usage and "yes" or "no") or "unknown",
    (r2.ok and a2) and (a2.usage and "usage sent without stream_options" or "no usage without stream_options")
      or short_error(r2))
  -- tokens per chunk: from the server's count, else the tokenizer's
  local n, how = self:tokens(a)
  if n and a.content > 0 then
    local per = n / a.content
    local several = per > 1.05
    check(res, "tokens_per_chunk", "tokens per chunk", "yes",
      string.format("%d tokens in %d content events (%s): %.2f per chunk", n, a.content, how, per),
      { value = per, several = several })
  else
    check(res, "tokens_per_chunk", "tokens per chunk", "unknown",
      string.format("%d content events, no usage and no tokenizer to count their tokens", a.content))
  end
  local fields = {}
  for f, k in pairs(a.reasoning) do fields[#fields + 1] = string.format("%s (%d events)", f, k) end
  table.sort(fields)
  check(res, "reasoning", "reasoning field", #fields > 0 and "yes" or "unknown",
    #fields > 0 and table.concat(fields, ", ") or "no reasoning in the answer (the model may not reason)",
    { value = next(a.reasoning) })
end

-- max_tokens and max_completion_tokens: accepted and honoured
function P:limits(res)
  for _, field in ipairs{ "max_tokens", "max_completion_tokens" } do
    local r, a = self:chat({ prompt = S.LONG, [field] = 5 }, false, { raw = true })
    local n = r.ok and self:tokens(a)
    local ans, ev
    if not r.ok then
      ans, ev = (r.status == 400 or r.status == 422) and "no" or "unknown", "rejected: " .. short_error(r)
    elseif n then
      ans = n <= 5 and "yes" or "no"
      ev = string.format("%s=5: %d tokens, finish_reason %s", field, n, tostring(a.finish))
    else
      ans, ev = "unknown", string.format("accepted (finish_reason %s), no count to check it", tostring(a.finish))
    end
    check(res, field, field .. " honoured", ans, ev)
  end
end

-- ignore_eos and min_tokens: a short answer with a large limit runs on?
-- The plain answer first (a real model says "OK" in a couple of tokens;
-- up to three short questions until one stops before the limit); the same
-- question with ignore_eos must then run to the limit, and with
-- min_tokens past where it stopped.
M.SHORT_QUESTIONS = { S.SHORT, "Say hi.", "What is 2+2? Answer with the number only.",
                      "Name one colour, in one word." }
function P:length_controls(res)
  local limit = 96
  local base, prompt
  for _, q in ipairs(M.SHORT_QUESTIONS) do
    local r0, a0 = self:chat({ prompt = q, max_tokens = limit }, false)
    base, prompt = r0.ok and self:tokens(a0), q
    if not base or base < limit * 3 // 4 then break end   -- well short of the limit: a clear test
  end
  self.natural = base
  local min = math.min(limit, (base or 0) + 16)
  for _, f in ipairs{ { "ignore_eos", true }, { "min_tokens", min } } do
    local field, value = f[1], f[2]
    local r, a = self:chat({ prompt = prompt, max_tokens = limit, [field] = value }, false)
    local n = r.ok and self:tokens(a)
    local ans, ev
    local want = field == "ignore_eos" and limit or value
    if not r.ok then
      ans, ev = "no", "rejected: " .. short_error(r)
    elseif not n then
      ans, ev = "unknown", "no token count (no usage, no tokenizer)"
    elseif base and (base >= want or base >= limit * 3 // 4) then
      ans, ev = "unknown", string.format("the plain answers ran to %d tokens or more (limit %d): nothing "
        .. "to tell", base, limit)
    elseif n >= want then
      ans, ev = "yes", string.format("%s: %d tokens (finish %s); without: %s", field, n, tostring(a.finish),
        base and (base .. " tokens") or "?")
    else
      ans, ev = "no", string.format("ignored: %d tokens (finish %s), %d asked", n, tostring(a.finish), want)
    end
    check(res, field, field .. " honoured", ans, ev)
  end
end

-- cached_tokens on a repeated prefix
function P:prefix_cache(res)
  local found, zero
  for k = 1, 2 do
    local r = self:chat({ prompt = S.PASSAGE, max_tokens = 1 }, false)
    if not r.ok then
      check(res, "cached_tokens", "cached_tokens on a repeated prefix", "unknown", short_error(r))
      return
    end
    local d = decode(r.body) or {}
    local u = type(d.usage) == "table" and d.usage or {}
    local det = type(u.prompt_tokens_details) == "table" and u.prompt_tokens_details or nil
    local cached = det and tonumber(det.cached_tokens)
    local tm = type(d.timings) == "table" and tonumber(d.timings.cache_n) or nil
    cached = cached or tm
    if k == 2 then
      if cached and cached > 0 then
        found = string.format("%d of %s prompt tokens cached on the repeat", cached, json_int(u.prompt_tokens or "?"))
      elseif cached then
        zero = "reported, 0 cached on the repeat"
      end
    end
  end
  check(res, "cached_tokens", "cached_tokens on a repeated prefix", found and "yes" or (zero and "no" or "unknown"),
    found or zero or "no cached_tokens (usage.prompt_tokens_details) nor timings.cache_n in the answers")
end

-- server timing fields, in answers or on the native API
function P:timings(res)
  local seen = {}
  for k in pairs((self.stream_a or {}).server or {}) do seen[#seen + 1] = k end
  local r, a = self:chat({ max_tokens = 4 }, false)
  for k in pairs(r.ok and a.server or {}) do seen[#seen + 1] = k end
  for _, h in ipairs{ "server-timing", "x-queue-time", "x-total-time" } do
    if r.headers and r.headers[h] then seen[#seen + 1] = h .. " header" end
  end
  local uniq, out = {}, {}
  for _, k in ipairs(seen) do if not uniq[k] then uniq[k] = true out[#out + 1] = k end end
  table.sort(out)
  if #out > 0 then
    check(res, "server_timings", "server timing fields", "yes", table.concat(out, ", "), { value = out })
    return
  end
  -- Ollama and LM Studio report them on their own APIs only
  local native
  local v = self:get("/api/version", { timeout = 5 })
  if v.ok then
    local rn = self:post("/api/chat", { model = self.model, stream = false, options = { num_predict = 4 },
                                        messages = { { role = "user", content = S.SHORT } } })
    local d = rn.ok and decode(rn.body)
    if d and d.prompt_eval_duration then native = "Ollama's /api/chat (prompt_eval_duration, eval_duration, load_duration)" end
  else
    local lm = self:get("/api/v0/models", { timeout = 5 })
    if lm.ok then
      local rn = self:post("/api/v0/chat/completions", { model = self.model, max_tokens = 4,
                                                         messages = { { role = "user", content = S.SHORT } } })
      local d = rn.ok and decode(rn.body)
      if d and type(d.stats) == "table" then native = "LM Studio's /api/v0/chat/completions (stats.time_to_first_token)" end
    end
  end
  check(res, "server_timings", "server timing fields", "no",
    native and ("not on /v1; only on " .. native .. ", which mlxbench runs do not use")
      or "none in answers or headers (llama.cpp timings, Ollama *_duration, LM Studio stats, Server-Timing)")
end

-- /metrics, keep-alive, HTTP/2: no generation
function P:transport(res)
  local m = self:get("/metrics", { timeout = 5 })
  local info
  if m.ok then info = select(2, prom.parse(m.body or "", { names = {} })) end
  if m.ok and info and info.samples > 0 then
    local _, known = prom.parse(m.body, { names = KNOWN_NAMES })
    local fam = m.body:match("\n?(vllm):") or m.body:match("(sglang):") or m.body:match("(tgi)_")
      or m.body:match("(llamacpp):") or nil
    res.metrics_url = self.base .. "/metrics"
    check(res, "metrics", "/metrics (Prometheus)", "yes", string.format("%d samples%s%s", info.samples,
      fam and (", " .. fam .. " names") or "", known.kept > 0 and string.format(", %d known series", known.kept) or ""),
      { value = res.metrics_url })
  else
    check(res, "metrics", "/metrics (Prometheus)", (m.status == 404 or (m.ok and info)) and "no" or "unknown",
      m.ok and "200 but not Prometheus text" or short_error(m))
  end
  local a = self:get("/v1/models", { timeout = 5 })
  local b = self:get("/v1/models", { timeout = 5 })
  local conn = a.headers and a.headers.connection or ""
  check(res, "keep_alive", "keep-alive", (a.status > 0 and b.status > 0) and (b.reused and "yes" or "no") or "unknown",
    (a.status > 0 and b.status > 0) and (b.reused and "the second request reused the connection"
      or ("a new connection per request" .. (conn ~= "" and (" (Connection: " .. conn .. ")") or "")))
      or short_error(b))
  local ok, h2 = pcall(self.get, self, "/v1/models", { timeout = 5, http2 = true })
  if not ok then
    check(res, "http2", "HTTP/2", "unknown", tostring(h2):sub(1, 120))
  elseif h2.status > 0 then
    check(res, "http2", "HTTP/2", h2.http_version == "2" and "yes" or "no",
      "answered over HTTP/" .. tostring(h2.http_version))
  else
    check(res, "http2", "HTTP/2", "no", (self.base:match("^https") and "ALPN: " or "h2c prior knowledge: ")
      .. short_error(h2))
  end
end

-- aggregate tok/s of n concurrent streams of the same length
function P:aggregate(n, seed)
  local fields = { prompt = S.LONG, max_tokens = 32, stream_options = { include_usage = true } }
  if self.ignore_eos then fields.ignore_eos = true end
  if self.no_stream_options then fields.stream_options = nil end
  if seed then fields.seed = 1234 end
  local tasks, t0 = {}, time.now()
  for i = 1, n do
    tasks[i] = sched.spawn(function()
      local f = {}
      for k, v in pairs(fields) do f[k] = v end
      f.prompt = fields.prompt .. string.rep(" ", i - 1)
      local r, a = self:chat(f, true)
      return r.ok and a and (self:tokens(a) or a.content) or nil
    end)
  end
  local total = 0
  for i = 1, n do
    local tk = sched.join(tasks[i])
    if not tk then return nil end
    total = total + tk
  end
  local wall = time.now() - t0
  return wall > 0 and total / wall or nil, total, wall
end

function P:concurrency(res, n)
  local one, t1 = self:aggregate(1)
  local many, tn = self:aggregate(n)
  if not one or not many then
    check(res, "concurrency", "concurrency " .. n .. " raises aggregate tok/s", "unknown", "a request failed")
    return
  end
  local ratio = many / one
  local ans = ratio >= 1.5 and "yes" or (ratio <= 1.2 and "no" or "unknown")
  check(res, "concurrency", "concurrency " .. n .. " raises aggregate tok/s", ans,
    string.format("1 stream %.1f tok/s, %d streams %.1f tok/s: %.2fx (%d, %d tokens)", one, n, many, ratio, t1, tn),
    { value = ratio })
  local seeded = self:aggregate(n, true)
  if not seeded then
    check(res, "seed_batching", "seed disables batching", "unknown", "a request with seed failed")
    return
  end
  local sr = seeded / one
  local sans
  if ratio < 1.5 then
    sans = "unknown"
  else
    sans = sr <= 1.2 and "yes" or (sr >= 1.5 and "no" or "unknown")
  end
  check(res, "seed_batching", "seed disables batching", sans,
    string.format("%d streams with seed: %.1f tok/s, %.2fx one stream%s", n, seeded, sr,
      ratio < 1.5 and " (no batching to disable)" or ""), { value = sr })
end

-- Anthropic's Messages API: the endpoint, streaming, usage (always sent),
-- thinking; the OpenAI-only fields do not apply.
function P:anthropic(res)
  local r = self:get("/v1/models")
  local doc = r.ok and decode(r.body)
  res.models = {}
  for _, m in ipairs(doc and type(doc.data) == "table" and doc.data or {}) do
    if type(m) == "table" and type(m.id) == "string" then res.models[#res.models + 1] = m.id end
  end
  check(res, "api_models", "GET /v1/models", r.ok and "yes" or (r.status == 404 and "no" or "unknown"),
    r.ok and string.format("%d models", #res.models) or short_error(r))
  self.model = self.model or res.models[1]
  res.model = self.model
  if not self.model then return end
  local body = { model = self.model, max_tokens = 16, stream = true,
                 messages = { { role = "user", content = S.SHORT } } }
  local rs = self:post("/v1/messages", body, { stream = true })
  local content, usage = 0, nil
  for _, ev in ipairs(rs.events or {}) do
    local d = decode(ev.data)
    if d and d.type == "content_block_delta" then content = content + 1 end
    if d and d.type == "message_delta" and type(d.usage) == "table" then usage = d.usage end
  end
  self.sent_out = self.sent_out + (usage and tonumber(usage.output_tokens) or content)
  check(res, "api_messages", "POST /v1/messages (Anthropic)", rs.ok and "yes" or ((rs.status == 404) and "no" or "unknown"),
    rs.ok and "200" or short_error(rs))
  check(res, "streaming", "streaming (SSE)", (rs.ok and content > 0) and "yes" or "unknown",
    rs.ok and string.format("%d content_block_delta events", content) or short_error(rs))
  check(res, "usage_asked", "usage in streams", usage and "yes" or "no",
    usage and ("message_delta.usage.output_tokens " .. tostring(usage.output_tokens)) or "no usage in message_delta")
  for _, id in ipairs{ "ignore_eos", "min_tokens", "max_completion_tokens" } do
    check(res, id, id .. " honoured", "no", "not a field of the Anthropic API")
  end
end

-- ------------------------------------------------------------- entry points

-- plan(o) -> requests and tokens a full probe sends at most (the cost
-- warning before a paid API is asked anything)
function M.plan(o)
  local n_conc = o.concurrency or 4
  local reqs = 16 + 1 + 2 * n_conc
  local input = 13 * 12 + 2 * math.ceil(#S.PASSAGE / 4) + (1 + 2 * n_conc) * math.ceil(#S.LONG / 4)
  local output = 8 * 3 + 16 + 48 + 8 + 5 * 2 + 96 * 6 + 2 + 4 + (1 + 2 * n_conc) * 32
  return { requests = reqs, input_tokens = input, output_tokens = output }
end

-- run{target, model, tokenizer, concurrency = 4, on_check, skip = {id=true}}
-- -> {url, api, backend, model, models, checks, by_id, metrics_url,
--     requests, tokens = {input, output}, duration_s}
function M.run(o)
  local t = o.target
  if getmetatable(t) ~= target_mod.mt then t = target_mod.new(t) end
  local s = S.new(t, o.model, o.tokenizer)
  local res = { url = target_mod.redact_url(t.url), api = t.api, backend = t.backend, checks = {},
                by_id = {}, on_check = o.on_check }
  local t0 = time.now()
  local skip = o.skip or {}
  local cloud = t.backend == "openai" or t.backend == "anthropic"
  if t.api == "anthropic" then
    s:anthropic(res)
  elseif s:apis(res) then
    res.model = s.model
    if s.chat_ok then
      s:streams(res)
      s:limits(res)
      s:length_controls(res)
      s.ignore_eos = res.by_id.ignore_eos and res.by_id.ignore_eos.answer == "yes"
      s:prefix_cache(res)
      s:timings(res)
    end
  else
    check(res, "model", "a model to ask", "unknown", "no -m MODEL given and GET /v1/models lists none")
  end
  s:transport(res)
  if s.chat_ok and not skip.concurrency then
    if cloud then
      check(res, "concurrency", "concurrency raises aggregate tok/s", "unknown",
        "not measured against a cloud API (it would cost more requests)")
    else
      s:concurrency(res, o.concurrency or 4)
    end
  end
  res.on_check = nil
  res.requests = s.requests
  res.tokens = { input = s.sent_in, output = s.sent_out }
  res.duration_s = time.now() - t0
  return res
end

-- The part of a probe `mlxbench run` does first, silently, once per URL in
-- a process: nothing is generated (the warm-up request tells the rest).
local quick_cache = {}
function M.quick(t)
  local key = t.url
  if quick_cache[key] then return quick_cache[key] end
  local base = S.base_of(t.url)
  local q = {}
  if t.backend == "local" then
    local ok, m = pcall(http.request, { url = base .. "/metrics", timeout = 3 })
    if ok and m.ok then
      local _, info = prom.parse(m.body or "", { names = {} })
      if info.samples > 0 then q.metrics_url = base .. "/metrics" end
    end
  end
  quick_cache[key] = q
  return q
end

return M
