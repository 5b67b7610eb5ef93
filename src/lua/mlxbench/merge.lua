-- mlxbench.merge: one results document from several -- the shards of a
-- run (`--shard i/n`), or runs of the same scenario on several processes
-- or machines.
--
--   local merge = require "mlxbench.merge"
--   local doc, warnings = merge.docs({ doc1, doc2, doc3 }, { files = {...}, force = false })
--
-- Runs are matched by name (and by position among runs of the same name).
-- Exact where it can be: histograms are decoded, added and re-encoded with
-- the C codec, so every percentile of the merged run is the one a single
-- process recording every sample would report; counters are summed; rates
-- (throughput, goodput) are recomputed over the union of the runs' wall-clock
-- windows. Per-request lists are concatenated, each request tagged with its
-- `source`, its times moved onto the merged run's clock (the earliest start),
-- and the per-second timeline is rebuilt on that clock.
local stats = require "mlxbench.stats"
local json = require "mlxbench.json"
local results = require "mlxbench.results"
local timeline = require "mlxbench.timeline"

local M = {}

local function copy(v)
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = copy(x) end
  return setmetatable(t, getmetatable(v))
end

-- first path where two JSON values differ ("config.rate"), or nil
local function differs(a, b, path)
  if type(a) ~= type(b) then return path end
  if type(a) ~= "table" then
    if a ~= b then return path end
    return nil
  end
  local keys = {}
  for k in pairs(a) do keys[tostring(k)] = k end
  for k in pairs(b) do keys[tostring(k)] = k end
  local names = {}
  for s in pairs(keys) do names[#names + 1] = s end
  table.sort(names)
  for _, s in ipairs(names) do
    local k = keys[s]
    local d = differs(a[k], b[k], path .. "." .. s)
    if d then return d end
  end
  return nil
end

local function lookup(t, path)
  for part in path:gmatch("[^.]+") do
    if type(t) ~= "table" then return nil end
    local v = t[part]
    if v == nil then v = t[math.tointeger(tonumber(part))] end
    t = v
  end
  return t
end

-- What must be equal for runs to be one scenario: the server, the model
-- and every option that shaped the load (the shard's own share is kept
-- outside `config`, so shards of one run agree).
local SCENARIO = { "backend", "model", "target.url", "target.api", "config" }

local function show(v)
  if type(v) == "table" then return json.encode(v) end
  return tostring(v)
end

-- offset of a run's own clock from the earliest start, in seconds
local function start_of(run, doc)
  return run.started_unix or doc.started_unix
end

local function sum_into(dst, src)
  for k, v in pairs(src or {}) do
    if type(v) == "number" then dst[k] = (dst[k] or 0) + v end
  end
  return dst
end

-- merge_histograms(list of encodings) -> merged histogram | nil
local function merge_histograms(encs)
  local h
  for _, e in ipairs(encs) do
    local x = stats.decode(e)
    if h then h:merge(x) else h = x end
  end
  return h
end

-- parts: list of {run, doc, tag, file}; all describe one scenario.
-- Returns the merged run.
function M.runs(parts)
  local live = {}
  for _, p in ipairs(parts) do
    if not p.run.skipped then live[#live + 1] = p end
  end
  local first = parts[1].run
  if #live == 0 then return copy(first) end
  first = live[1].run
  local t0 = math.huge
  for _, p in ipairs(live) do t0 = math.min(t0, start_of(p.run, p.doc) or math.huge) end
  if t0 == math.huge then t0 = nil end

  local out = {
    name = first.name, backend = first.backend, target = copy(first.target), model = first.model,
    config = copy(first.config), fallback = copy(first.fallback), slo = copy(first.slo),
    sweep = copy(first.sweep), search = copy(first.search), tokenizer = copy(first.tokenizer),
  }
  local req = { total = 0, ok = 0, failed = 0, cancelled = 0, errors = {}, stopped_early = 0, finish_reasons = {} }
  local tok = { input = 0, output = 0, source = {} }
  local messages = {}
  local sum_e2e, has_slo, slo_met, warmup = 0, false, 0, nil
  local encs, lo, hi = {}, math.huge, -math.huge
  local per = json.array()
  local marks, sources, warnings, seen_w = json.array(), json.array(), {}, {}
  local client, cool, served, any_per, all_per, any_tl, interrupted = nil, nil, nil, false, true, false, false
  local shard_count, shard_idx = nil, {}
  -- the server's side and the cost: the TTFT split's counts add up, the
  -- sources' joules add up (each measured its own machine), the price is
  -- applied again to the merged tokens; each source keeps its samples
  local split, joules, energy_n = nil, 0, 0

  for _, p in ipairs(live) do
    local r = p.run
    local off = (t0 and start_of(r, p.doc)) and (start_of(r, p.doc) - t0) or 0
    req.total = req.total + (r.requests.total or 0)
    req.ok = req.ok + (r.requests.ok or 0)
    req.failed = req.failed + (r.requests.failed or 0)
    req.cancelled = req.cancelled + (r.requests.cancelled or 0)
    sum_into(req.errors, r.requests.errors)
    if r.requests.warmup then warmup = (warmup or 0) + r.requests.warmup end
    if r.requests.slo_met then has_slo, slo_met = true, slo_met + r.requests.slo_met end
    tok.input = tok.input + ((r.tokens or {}).input or 0)
    tok.output = tok.output + ((r.tokens or {}).output or 0)
    if (r.tokens or {}).cached then tok.cached = (tok.cached or 0) + r.tokens.cached end
    if type(r.ttft_split) == "table" then
      split = split or { requests = 0, source = {} }
      split.requests = split.requests + (r.ttft_split.requests or 0)
      sum_into(split.source, r.ttft_split.source)
      if r.ttft_split.negative_rest then
        split.negative_rest = (split.negative_rest or 0) + r.ttft_split.negative_rest
      end
    end
    if type(r.energy) == "table" and type(r.energy.joules) == "number" then
      joules, energy_n = joules + r.energy.joules, energy_n + 1
    end
    sum_into(tok.source, (r.tokens or {}).source)
    sum_into(req.finish_reasons, r.requests.finish_reasons)
    req.stopped_early = req.stopped_early + (r.requests.stopped_early or 0)
    for _, m in ipairs(r.requests.error_messages or {}) do
      local same
      for _, x in ipairs(messages) do
        if x.error == m.error and x.message == m.message then same = x end
      end
      if same then
        same.count = same.count + (m.count or 0)
      elseif #messages < 5 then
        messages[#messages + 1] = { error = m.error, message = m.message, count = m.count or 0 }
      end
    end
    if (r.tokens or {}).prompt_source then
      tok.prompt_source = tok.prompt_source or {}
      sum_into(tok.prompt_source, r.tokens.prompt_source)
    end
    for _, side in ipairs{ "output", "input" } do
      -- means weighted by their request counts, the worst maximum
      local d = ((r.tokens or {}).tokenizer_vs_usage or {})[side]
      if d and (d.requests or 0) > 0 then
        tok.tokenizer_vs_usage = tok.tokenizer_vs_usage or {}
        local m = tok.tokenizer_vs_usage[side] or { requests = 0, mean_rel_diff = 0, max_rel_diff = 0 }
        local n = m.requests + d.requests
        m.mean_rel_diff = (m.mean_rel_diff * m.requests + d.mean_rel_diff * d.requests) / n
        m.max_rel_diff = math.max(m.max_rel_diff, d.max_rel_diff or 0)
        m.requests = n
        tok.tokenizer_vs_usage[side] = m
      end
    end
    sum_e2e = sum_e2e + ((r.summary or {}).total_duration_s or 0)
    for m, e in pairs(r.histograms or {}) do
      encs[m] = encs[m] or {}
      encs[m][#encs[m] + 1] = e
    end
    -- the union of the measured windows, on the merged clock
    if r.window and r.window.start_s and r.window.end_s then
      lo = math.min(lo, r.window.start_s + off)
      hi = math.max(hi, r.window.end_s + off)
    elseif (r.requests.total or 0) > 0 then
      warnings[#warnings + 1] = p.tag .. ": no measured window (file from an older mlxbench): "
        .. "the merged duration is approximate"
      lo = math.min(lo, off)
      hi = math.max(hi, off + (r.duration_s or 0))
    end
    if r.per_request then
      any_per = true
      for _, q in ipairs(r.per_request) do
        local x = copy(q)
        x.source = p.tag
        if x.start_s then x.start_s = x.start_s + off end
        if x.scheduled_s then x.scheduled_s = x.scheduled_s + off end
        per[#per + 1] = x
      end
    else
      all_per = false
    end
    for _, mk in ipairs(r.marks or {}) do
      marks[#marks + 1] = { t_s = mk.t_s + off, label = mk.label, source = p.tag }
    end
    if r.timeline then any_tl = true end
    for _, w in ipairs(r.warnings or {}) do
      local s = p.tag .. ": " .. w
      if not seen_w[s] then seen_w[s], warnings[#warnings + 1] = true, s end
    end
    if r.client then
      client = client or {}
      for k, v in pairs(r.client) do
        if type(v) == "number" then
          -- counts add up; lags, CPU shares and maxima: the worst source
          if k == "scheduled" or k == "cpu_s" or k:match("_count$") then
            client[k] = (client[k] or 0) + v
          else
            client[k] = math.max(client[k] or v, v)
          end
        elseif type(v) == "boolean" then
          client[k] = client[k] or v   -- saturated anywhere: saturated
        end
      end
    end
    if r.cooldown then
      cool = cool or { requests = 0, ok = 0, failed = 0, output_tokens = 0, note = r.cooldown.note }
      sum_into(cool, r.cooldown)
    end
    if r.served_by then served = sum_into(served or {}, r.served_by) end
    if r.interrupted then interrupted = true end
    if r.shard then
      shard_count = shard_count or r.shard.count
      shard_idx[#shard_idx + 1] = r.shard.index
    end
    sources[#sources + 1] = {
      tag = p.tag, file = p.file, shard = r.shard, started_at = r.started_at,
      started_unix = start_of(r, p.doc), offset_s = off,
      host = p.doc.host and p.doc.host.hostname, requests = r.requests.total,
      client = r.client, server_metrics = r.server_metrics, server_process = r.server_process,
      power = r.power,
    }
  end

  -- histograms: exact merge; every summary recomputed from them
  out.histograms, out.metrics = {}, {}
  local hs = {}
  for m, list in pairs(encs) do
    local h = merge_histograms(list)
    hs[m] = h
    if h and h:count() > 0 then
      out.histograms[m] = h:encode()
      out.metrics[m] = h:summary()
    end
  end
  req.warmup = warmup
  if has_slo then req.slo_met = slo_met end
  if #messages > 0 then req.error_messages = json.array(messages) end
  out.requests, out.tokens = req, require("mlxbench.collect").derive_tokens(tok, req.ok)

  local dur = (hi > lo) and (hi - lo) or 0
  local rate = function(n) return dur > 0 and n / dur or 0 end
  out.duration_s = dur
  out.started_unix = t0
  if t0 then
    out.started_at = os.date("!%Y-%m-%dT%H:%M:%S", math.floor(t0))
      .. string.format(".%03dZ", math.floor((t0 % 1) * 1000))
  end
  if lo < math.huge then out.window = { start_s = lo, end_s = hi } end
  out.throughput = {
    output_tok_s = rate(tok.output),
    total_tok_s = rate(tok.output + tok.input),
    requests_s = rate(req.ok),
    goodput_s = rate(has_slo and slo_met or req.ok),
  }
  local rt = hs.req_tok_s
  local n = rt and rt:count() or 0
  out.summary = {
    runs = req.total, successful_runs = req.ok,
    avg_tok_s = sum_e2e > 0 and tok.output / sum_e2e or 0,
    min_tok_s = n > 0 and rt:min() or 0, max_tok_s = n > 0 and rt:max() or 0,
    p50_tok_s = n > 0 and rt:percentile(50) or 0, p95_tok_s = n > 0 and rt:percentile(95) or 0,
    total_tokens = tok.output, total_duration_s = sum_e2e,
  }
  if any_per then
    table.sort(per, function(a, b)
      local x, y = a.start_s or math.huge, b.start_s or math.huge
      if x ~= y then return x < y end
      return (a.i or 0) < (b.i or 0)
    end)
    out.per_request = per
    if not all_per then
      warnings[#warnings + 1] = "some sources kept no per-request list: per_request is partial"
    end
  end
  table.sort(marks, function(a, b) return a.t_s < b.t_s end)
  -- a timeline whenever a source had one, and for shards: it shows how
  -- they overlapped on the wall clock
  if any_tl or #marks > 0 or first.targets or shard_count then
    if any_per and all_per then
      out.timeline = timeline.build(per, marks)
      if first.targets then out.targets = timeline.per_target(per) end
      if first.failover then
        local members = first.target and first.target.members
        local primary = members and members[1] and members[1].name or (first.target or {}).name
        out.failover = timeline.failover_metrics(per, marks, { members = { { name = primary } } })
      end
    elseif any_tl then
      out.timeline = M.rebucket(live, t0)
    end
    out.marks = marks
  end
  out.client, out.cooldown, out.served_by = client, cool, served
  out.interrupted = interrupted or nil
  if shard_count then
    table.sort(shard_idx)
    out.shards = { count = shard_count, merged = shard_idx }
  end
  out.sources = sources
  out.ttft_split = split
  if energy_n == #live and energy_n > 0 then
    local e = first.energy
    out.energy = { joules = joules, source = e.source, avg_watts = dur > 0 and joules / dur or nil,
                   j_per_output_token = tok.output > 0 and joules / tok.output or nil, kwh = joules / 3.6e6,
                   kwh_price = e.kwh_price }
    if e.kwh_price then
      out.energy.usd = out.energy.kwh * e.kwh_price
      out.energy.usd_per_1m_output = tok.output > 0 and out.energy.usd / tok.output * 1e6 or nil
    end
  end
  if type(first.cost) == "table" and type(first.cost.price) == "table" then
    require("mlxbench.cost").apply(out, { price = first.cost.price })   -- the energy above stays
  end
  if #warnings > 0 then out.warnings = warnings end
  -- conversations, model mixes, the prompt cache, the reasoning split:
  -- counters summed and histograms merged as one process would have them
  local runs = {}
  for _, p in ipairs(live) do runs[#runs + 1] = p.run end
  require("mlxbench.workload").merge(out, runs)
  if first.models then out.models = copy(first.models) end
  return out
end

-- rebucket(parts, t0): per-second timelines of runs without per-request
-- lists, moved onto the merged clock (each bucket lands in the second its
-- start falls in) and added up; per-bucket quantiles cannot be merged and
-- are dropped.
function M.rebucket(parts, t0)
  local acc, last = {}, -1
  for _, p in ipairs(parts) do
    local off = (t0 and start_of(p.run, p.doc)) and (start_of(p.run, p.doc) - t0) or 0
    for _, b in ipairs(p.run.timeline or {}) do
      local k = math.floor(b.t + off)
      local a = acc[k] or { t = k, ok = 0, failed = 0, failovers = 0, output_tok_s = 0 }
      acc[k] = a
      a.ok, a.failed = a.ok + (b.ok or 0), a.failed + (b.failed or 0)
      a.failovers = a.failovers + (b.failovers or 0)
      a.output_tok_s = a.output_tok_s + (b.output_tok_s or 0)
      if k > last then last = k end
    end
  end
  local out = json.array()
  for k = 0, last do
    out[#out + 1] = acc[k] or { t = k, ok = 0, failed = 0, failovers = 0, output_tok_s = 0 }
  end
  return out
end

-- plan(inputs, force) -> groups, warnings | nil, message.
-- inputs: list of {doc, file}. Groups runs by name and refuses (unless
-- force) files that are not one scenario.
function M.plan(inputs, force)
  local warnings, refuse = {}, {}
  local function problem(msg)
    if force then warnings[#warnings + 1] = msg .. " (merged anyway: --force)" else refuse[#refuse + 1] = msg end
  end
  local schema = inputs[1].doc.schema
  for _, x in ipairs(inputs) do
    if x.doc.schema ~= schema then
      problem(string.format("%s has schema %s but %s has %s: different results versions",
        x.file, tostring(x.doc.schema), inputs[1].file, tostring(schema)))
    end
    local v1, v = (inputs[1].doc.tool or {}).version, (x.doc.tool or {}).version
    if v ~= v1 then
      warnings[#warnings + 1] = string.format("%s was written by mlxbench %s, %s by %s",
        x.file, tostring(v), inputs[1].file, tostring(v1))
    end
  end
  -- runs by name, in order of first appearance; the k-th run of a name in
  -- a file goes with the k-th run of that name in the others
  local order, groups = {}, {}
  for _, x in ipairs(inputs) do
    local seen = {}
    for _, run in ipairs(x.doc.runs) do
      seen[run.name] = (seen[run.name] or 0) + 1
      local key = run.name .. "\0" .. seen[run.name]
      if not groups[key] then
        groups[key] = { name = run.name, parts = {} }
        order[#order + 1] = key
      end
      local g = groups[key]
      local tag = run.shard and string.format("shard %d/%d", run.shard.index, run.shard.count) or x.file
      g.parts[#g.parts + 1] = { run = run, doc = x.doc, file = x.file, tag = tag }
    end
  end
  local out = {}
  for _, key in ipairs(order) do
    local g = groups[key]
    local a = g.parts[1]
    for k = 2, #g.parts do
      local b = g.parts[k]
      if not a.run.skipped and not b.run.skipped then
        for _, path in ipairs(SCENARIO) do
          -- runs against their own in-process emulator (--mock) differ in port only
          if path == "target.url" and (a.run.config or {}).mock and (b.run.config or {}).mock then
            goto next_path
          end
          local d = differs(lookup(a.run, path), lookup(b.run, path), path)
          if d then
            problem(string.format("run '%s': %s differs: %s in %s, %s in %s -- not the same scenario",
              g.name, d, show(lookup(a.run, d)), a.file, show(lookup(b.run, d)), b.file))
            break
          end
          ::next_path::
        end
      end
    end
    if #g.parts < #inputs then
      local where = {}
      for _, p in ipairs(g.parts) do where[#where + 1] = p.file end
      problem(string.format("run '%s' is only in %s (%d of %d files): not the same scenario",
        g.name, table.concat(where, ", "), #g.parts, #inputs))
    end
    -- shards: one each, all of one split; say which are missing
    local count, have, tags = nil, {}, {}
    for _, p in ipairs(g.parts) do
      local sh = p.run.shard
      if sh then
        if count and sh.count ~= count then
          problem(string.format("run '%s': %s is a shard of %d but another file is a shard of %d",
            g.name, p.file, sh.count, count))
        end
        count = count or sh.count
        if have[sh.index] then
          problem(string.format("run '%s': shard %d/%d appears twice (%s and %s): it would be counted twice",
            g.name, sh.index, sh.count, have[sh.index], p.file))
        end
        have[sh.index] = p.file
      end
      -- tags name sources uniquely
      local t = p.tag
      if tags[t] then
        local k = 2
        while tags[t .. " #" .. k] do k = k + 1 end
        p.tag = t .. " #" .. k
      end
      tags[p.tag] = true
    end
    if count then
      local missing = {}
      for i = 1, count do if not have[i] then missing[#missing + 1] = i end end
      if #missing > 0 then
        warnings[#warnings + 1] = string.format("run '%s': shard%s %s of %d missing: the merged "
          .. "run is not the whole load", g.name, #missing > 1 and "s" or "", table.concat(missing, ", "), count)
      end
    end
    out[#out + 1] = g
  end
  if #refuse > 0 then
    return nil, table.concat(refuse, "\n") .. "\n(use --force to merge anyway)"
  end
  return out, warnings
end

-- docs(inputs, {force}) -> merged document, warnings | nil, message.
-- inputs: list of {doc = results document, file = name}
function M.docs(inputs, opts)
  opts = opts or {}
  if #inputs == 0 then return nil, "nothing to merge" end
  local groups, warnings = M.plan(inputs, opts.force)
  if not groups then return nil, warnings end
  local doc = results.new()
  local t0, hosts, seen = math.huge, json.array(), {}
  for _, x in ipairs(inputs) do
    if x.doc.started_unix then t0 = math.min(t0, x.doc.started_unix) end
    local h = x.doc.host and x.doc.host.hostname
    if h and not seen[h] then seen[h], hosts[#hosts + 1] = true, h end
  end
  if t0 < math.huge then
    doc.started_unix = t0
    doc.started_at = results.iso8601(t0)
  end
  if inputs[1].doc.host then doc.host = copy(inputs[1].doc.host) end
  for _, g in ipairs(groups) do
    local run = M.runs(g.parts)
    for _, w in ipairs(run.warnings or {}) do warnings[#warnings + 1] = w end
    results.add(doc, run)
  end
  local files = json.array()
  for _, x in ipairs(inputs) do files[#files + 1] = x.file end
  doc.merge = { files = files, hosts = hosts, forced = opts.force or nil,
                warnings = #warnings > 0 and warnings or nil }
  return doc, warnings
end

-- JSON numbers decode as floats: counters come back as integers
local function integers(t)
  for k, v in pairs(t) do
    if type(v) == "table" then
      integers(v)
    elseif math.type(v) == "float" then
      local i = math.tointeger(v)
      if i then t[k] = i end
    end
  end
  return t
end

-- load(path) -> doc | nil, message: any mlxbench results version, so that
-- plan() can say which versions differ.
function M.load(path)
  local results = require "mlxbench.results"
  local doc, err = results.read_json(path)
  if not doc then return nil, err end
  if type(doc) ~= "table" or type(doc.schema) ~= "string" or not doc.schema:match("^mlxbench%.results/") then
    return nil, path .. ": not an mlxbench results file"
  end
  if type(doc.runs) ~= "table" then return nil, path .. ": `runs` is missing" end
  for i, r in ipairs(doc.runs) do
    if type(r) ~= "table" or type(r.name) ~= "string" or type(r.requests) ~= "table" then
      return nil, string.format("%s: run %d has no name or no requests", path, i)
    end
  end
  local ok, verr = results.validate(doc, path)
  if not ok then return nil, verr end
  return integers(doc)
end

return M
