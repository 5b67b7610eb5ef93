-- mlxbench.cli_run: `mlxbench run` -- one ad-hoc benchmark run.
local args = require "mlxbench.cli_args"
local bench = require "mlxbench.bench"
local target_mod = require "mlxbench.target"
local results = require "mlxbench.results"
local report = require "mlxbench.report"
local checks = require "mlxbench.checks"
local prompts = require "mlxbench.prompts"

local M = {}

M.SPEC = {
  model = { short = "m", arg = "MODEL", help = "model name (required); small|medium|large name the seed tiers" },
  runs = { short = "n", arg = "N", help = "measured requests (default 5)" },
  ["max-tokens"] = { arg = "N", help = "max output tokens per request (default 256)" },
  prompt = { arg = "P", help = "short|medium|long|synthetic:N|TEXT|@FILE[.jsonl] (default medium)" },
  tokenizer = { arg = "T", help = "PATH|MODEL|auto|none: the tokenizer for exact counts (default auto: found on this machine)" },
  ["input-tokens"] = { arg = "N[:SD|,MIN-MAX]", help = "random workload: prompts of N tokens (normal with SD, or uniform in MIN-MAX), seeded" },
  ["output-tokens"] = { arg = "N[:SD|,MIN-MAX]", help = "with --input-tokens: max_tokens drawn the same way" },
  ["prefix-tokens"] = { arg = "N", help = "with --input-tokens: every prompt starts with the same N tokens" },
  warmup = { arg = "N", help = "warm-up requests, not recorded (default 1)" },
  stream = { help = "stream the response (default; --no-stream to disable)" },
  url = { arg = "URL", help = "server base URL (default " .. target_mod.DEFAULT_URL .. ")" },
  api = { arg = "API", help = "openai|anthropic|completions (default: from URL or model)" },
  concurrency = { short = "c", arg = "N", help = "concurrent virtual users (default 1)" },
  duration = { arg = "S", help = "run for S seconds instead of -n requests" },
  seed = { arg = "N", help = "seed for prompts and the emulator (default 1)" },
  slo = { arg = "LIST", help = "per-request SLO, e.g. ttft=0.5,tpot=0.05,e2e=10[,attainment=0.9]" },
  threshold = { arg = "EXPR", multi = true, help = "fail (exit 1) unless EXPR holds, e.g. 'ttft_s.p95<0.5'" },
  timeout = { arg = "S", help = "per-request timeout in seconds (default 600)" },
  ["api-key-env"] = { arg = "VAR", help = "send the key in $VAR (must be set) to the --url host; by default "
    .. "OPENAI_API_KEY/ANTHROPIC_API_KEY go only to api.openai.com/api.anthropic.com" },
  ["allow-http-key"] = { help = "allow sending the key over plain http:// to a host that is not loopback" },
  insecure = { help = "do not verify the server's TLS certificate (warned, recorded in the results)" },
  cacert = { arg = "FILE", help = "trust the CA certificate(s) in FILE (PEM), e.g. a local server's self-signed one" },
  grace = { arg = "S", help = "on Ctrl-C/SIGTERM, seconds in-flight requests get before they are aborted (default 5)" },
  ["max-line"] = { arg = "BYTES", help = "longest SSE line accepted (default 1048576); longer: error kind protocol" },
  ["max-body"] = { arg = "BYTES", help = "largest response accepted (default 67108864); larger: error kind protocol" },
  ["max-request-bytes"] = { arg = "BYTES", help = "largest request body (and prompt) built (default 16777216)" },
  mock = { help = "start the embedded emulator and run against it" },
  ["mock-trace"] = { arg = "FILE", help = "with --mock: write the emulator's ground-truth trace (JSON)" },
  usage = { help = "ask streaming servers for usage (default; --no-usage to count events)" },
  output = { short = "o", arg = "FILE", help = "write the results file (JSON)" },
  format = { arg = "FMT", help = "table|md|csv|json (default table)" },
  verbose = { short = "v", help = "one line per request on stderr" },
  quiet = { short = "q", help = "print nothing but errors" },
  name = { arg = "NAME", help = "run name in the report" },
  rate = { arg = "R", help = "open-loop arrival rate (req/s)" },
  arrival = { arg = "KIND", help = "poisson|constant|gamma (default poisson)" },
  burstiness = { arg = "K", help = "gamma shape: 1 Poisson, <1 burstier, >1 smoother" },
  ["max-inflight"] = { arg = "N", help = "open loop: at most N requests in flight (sends wait, lateness recorded)" },
  threads = { arg = "N", help = "engine threads sharing the load (default 1; see docs/SCALING.md)" },
  shard = { arg = "I/N", help = "run shard I of N: its share of users, requests, arrivals (mlxbench merge)" },
  html = { arg = "FILE", help = "write an HTML report" },
  progress = { arg = "MODE", help = "auto (live line on a terminal) | plain (a line every 10 s) | none" },
  help = { short = "h", help = "show this help" },
}
M.ORDER = { "model", "runs", "max-tokens", "prompt", "input-tokens", "output-tokens", "prefix-tokens",
            "tokenizer", "warmup", "stream", "url", "api",
            "concurrency", "rate", "arrival", "burstiness", "max-inflight", "duration", "seed", "shard", "threads", "slo", "threshold", "timeout", "mock", "mock-trace", "usage", "output", "html",
            "format", "progress", "verbose", "quiet", "name", "help" }

-- reliability options (docs/RELIABILITY.md), listed after --timeout
for i, k in ipairs(M.ORDER) do
  if k == "timeout" then
    table.insert(M.ORDER, i + 1, "max-request-bytes")
    table.insert(M.ORDER, i + 1, "max-body")
    table.insert(M.ORDER, i + 1, "max-line")
    table.insert(M.ORDER, i + 1, "grace")
    break
  end
end
for i, k in ipairs(M.ORDER) do
  if k == "api" then
    for j, extra in ipairs{ "api-key-env", "allow-http-key", "insecure", "cacert" } do
      table.insert(M.ORDER, i + j, extra)
    end
    break
  end
end

local function usage()
  return "usage: mlxbench run -m MODEL [options]\n\n" .. args.help(M.SPEC, M.ORDER) .. "\n"
end

local function die(msg)
  io.stderr:write("mlxbench run: ", msg, "\n", usage())
  return 2
end

-- Prints one line per finished request (stderr) for --verbose.
local function verbose_line(r)
  local ms = function(v) return v and string.format("%.1fms", v * 1000) or "-" end
  io.stderr:write(string.format("[%d] %s %s ttft=%s e2e=%s tokens=%s%s\n", r.i or 0,
    r.ok and "ok" or "FAIL", tostring(r.status), ms(r.ttft_s), ms(r.e2e_s),
    tostring(r.output_tokens or r.tokens_received or 0),
    r.error and (" " .. r.error.kind .. ": " .. tostring(r.error.message)) or
      (r.token_source and (" (" .. r.token_source .. ")") or "")))
end

function M.main(...)
  local o, pos = args.parse({ ... }, M.SPEC)
  if not o then return die(pos) end
  if o.help then io.stdout:write(usage()) return 0 end
  if #pos > 0 then return die("unexpected argument '" .. pos[1] .. "'") end
  if not o.model then return die("-m MODEL is required") end
  if o["mock-trace"] and not o.mock then return die("--mock-trace needs --mock") end
  local err
  local n, c, warm, maxt, seed
  n, err = args.int(o, "runs", 1) if err then return die(err) end
  c, err = args.int(o, "concurrency", 1) if err then return die(err) end
  warm, err = args.int(o, "warmup", 0) if err then return die(err) end
  maxt, err = args.int(o, "max-tokens", 1) if err then return die(err) end
  seed, err = args.int(o, "seed", 0) if err then return die(err) end
  local dur, tmo, rate, burst, maxin
  dur, err = args.num(o, "duration", 0.001) if err then return die(err) end
  rate, err = args.num(o, "rate", 0.000001) if err then return die(err) end
  burst, err = args.num(o, "burstiness", 0.000001) if err then return die(err) end
  maxin, err = args.int(o, "max-inflight", 1) if err then return die(err) end
  if rate and o.concurrency then return die("give --rate (open loop) or -c (closed loop), not both") end
  if o.arrival and not ({ poisson = 1, constant = 1, gamma = 1 })[o.arrival] then
    return die("--arrival must be poisson, constant or gamma")
  end
  if (o.arrival or o.burstiness or maxin) and not rate then
    return die("--arrival, --burstiness and --max-inflight need --rate")
  end
  tmo, err = args.num(o, "timeout", 0.001) if err then return die(err) end
  local grace, max_line, max_body
  grace, err = args.num(o, "grace", 0) if err then return die(err) end
  max_line, err = args.int(o, "max-line", 16) if err then return die(err) end
  max_body, err = args.int(o, "max-body", 1024) if err then return die(err) end
  local max_req
  max_req, err = args.int(o, "max-request-bytes", 1024) if err then return die(err) end
  if max_req then require("mlxbench.limits").MAX_REQUEST_BYTES = max_req end
  if grace then require("mlxbench.interrupt").set_grace(grace) end
  local nthreads
  nthreads, err = args.int(o, "threads", 1) if err then return die(err) end
  if o.verbose and (nthreads or 1) > 1 then
    return die("--verbose prints from the requesting thread: use it with --threads 1")
  end
  local shard
  if o.shard then
    shard, err = require("mlxbench.load").shard(o.shard)
    if not shard then return die("--shard: " .. err) end
    if not rate and (c or 1) < shard.count then
      return die(string.format("--shard %d/%d: -c %d gives some shards no virtual user "
        .. "(the concurrency is split among the shards)", shard.index, shard.count, c or 1))
    end
  end
  local slo
  if o.slo then
    slo, err = args.kv_numbers(o.slo, "--slo")
    if not slo then return die(err) end
  end
  local ths = {}
  for _, e in ipairs(o.threshold or {}) do
    local th, terr = checks.parse_threshold(e)
    if not th then return die(terr) end
    ths[#ths + 1] = th
  end
  local fmt = o.format or "table"
  if not ({ table = 1, md = 1, csv = 1, json = 1 })[fmt] then
    return die("--format must be table, md, csv or json")
  end
  if o.api and not ({ openai = 1, anthropic = 1, completions = 1 })[o.api] then
    return die("--api must be openai, anthropic or completions")
  end
  local model = target_mod.tiers[o.model] or o.model
  local synthetic
  if o["input-tokens"] then
    if o.prompt then return die("give --prompt or --input-tokens, not both") end
    local inl, outl, pre
    inl, err = prompts.parse_length(o["input-tokens"], "--input-tokens")
    if not inl then return die(err) end
    if o["output-tokens"] then
      outl, err = prompts.parse_length(o["output-tokens"], "--output-tokens")
      if not outl then return die(err) end
    end
    pre, err = args.int(o, "prefix-tokens", 1) if err then return die(err) end
    synthetic = { input = inl, output = outl, prefix = pre }
  elseif o["output-tokens"] or o["prefix-tokens"] then
    return die("--output-tokens and --prefix-tokens need --input-tokens")
  end
  if o.progress and not ({ auto = 1, plain = 1, none = 1 })[o.progress] then
    return die("--progress must be auto, plain or none")
  end
  require("mlxbench.progress").set(o.quiet and "none" or o.progress or "auto")

  local srv
  local url = o.url
  if o.mock then
    srv = require("mlxbench.mock").start{ port = 0, seed = seed or 1 }
    url = srv.url
  end
  if o.cacert then
    local f = io.open(o.cacert, "rb")
    if not f then return die("--cacert: cannot read " .. o.cacert) end
    f:close()
  end
  local tok, t = pcall(target_mod.new, { url = url, api = o.api, model = model,
                            name = o.mock and "mock" or nil, api_key_env = o["api-key-env"],
                            allow_http_key = o["allow-http-key"] })
  if not tok then
    if srv then srv:stop() end
    return die((tostring(t):gsub("^mlxbench%.target: ", "")))
  end
  require("mlxbench").on_interrupt(require("mlxbench.interrupt").handler(bench.stop))
  -- a run that cannot start (descriptor limit, bad target) says why in one
  -- line; anything else keeps its traceback
  local bok, run = xpcall(bench.bench, function(e)
    if type(e) == "string" and (e:match("^mlxbench%.bench: ") or e:match("^prompts: ")
        or e:match("^dataset: ") or e:match("^llm%.request: ")) then
      return { msg = e:match("^[^\n]*") }   -- a user's input: the line, not the traceback
    end
    return debug.traceback(e, 2)
  end, {
    target = t, model = model, prompt = (not synthetic) and (o.prompt or "medium") or nil,
    synthetic = synthetic, tokenizer = o.tokenizer, max_tokens = maxt or 256,
    stream = o.stream ~= false, requests = (not dur or o.runs) and (n or 5) or nil, duration = dur,
    warmup = warm or (rate and 0 or 1), concurrency = (not rate) and (c or 1) or nil,
    rate = rate, arrival = o.arrival or (rate and (burst and "gamma" or "poisson")) or nil,
    burstiness = burst, max_inflight = maxin, seed = seed, slo = slo, timeout = tmo, shard = shard,
    threads = nthreads, include_usage = o.usage ~= false, max_line = max_line, max_body = max_body,
    name = o.name, on_result = o.verbose and verbose_line or nil,
    insecure = o.insecure or nil, cacert = o.cacert, max_request_bytes = max_req,
  })
  if not bok then
    if srv then srv:stop() end
    if type(run) == "table" then
      io.stderr:write("mlxbench run: ", (run.msg:gsub("^mlxbench%.bench: ", "")), "\n")
      return 2
    end
    error(run, 0)
  end
  if srv then
    if o["mock-trace"] then
      local trace = srv:trace{ limit = 1000000 }
      local wok, werr = require("mlxbench.json").write_atomic(o["mock-trace"],
        require("mlxbench.json").encode(trace, { indent = "  " }) .. "\n")
      if not wok then io.stderr:write("mlxbench run: ", werr, "\n") end
    end
    srv:stop()
  end
  run.config.mock = o.mock or nil
  local doc = results.new()
  results.add(doc, run)
  local verdict = checks.evaluate(run, slo, ths)
  if #verdict.failures > 0 then run.checks = verdict end
  -- a results file that cannot be written is an error (exit 2) naming the
  -- path, but the figures measured are printed first all the same
  local write_err
  if o.output then
    local ok, werr = pcall(results.write, doc, o.output)
    if not ok then write_err = tostring(werr) end
  end
  if not o.quiet or write_err then
    if run.skipped then io.stderr:write("mlxbench run: skipped: ", run.skipped, "\n") end
    io.stdout:write(report.format(doc, write_err and fmt == "json" and "table" or fmt))
    if o.output and fmt == "table" and not write_err then io.stdout:write("results: ", o.output, "\n") end
  end
  if write_err then
    io.stderr:write("mlxbench run: ", write_err, "\n")
    return 2
  end
  if o.html then
    local hok, herr = require("mlxbench.html").write(doc, o.html)
    if not hok then
      io.stderr:write("mlxbench run: ", herr, "\n")
      return 2
    end
  end
  for _, f in ipairs(verdict.failures) do io.stderr:write("FAILED: ", f, "\n") end
  if bench.stopping() then return 130 end
  if run.requests.total > 0 and run.requests.ok == 0 then
    io.stderr:write("mlxbench run: every request failed\n")
    return 1
  end
  return #verdict.failures > 0 and 1 or 0
end

return M
