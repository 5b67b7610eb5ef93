-- mlxbench.cli.probe: `mlxbench probe` -- what a server can do, each
-- capability answered yes / no / unknown with its evidence, and the flags
-- for an exact benchmark of it (mlxbench.probe; docs/SERVERS.md).
local args = require "mlxbench.cli.args"
local target_mod = require "mlxbench.target"
local probe = require "mlxbench.probe"
local view = require "mlxbench.report.probe"
local cost = require "mlxbench.cost"
local json = require "mlxbench.json"

local M = {}

M.SPEC = {
  url = { arg = "URL", help = "the server's base URL (default " .. target_mod.DEFAULT_URL .. ")" },
  model = { short = "m", arg = "MODEL", help = "the model to ask (default: the first /v1/models lists)" },
  api = { arg = "API", help = "openai|anthropic (default: from the URL or the model)" },
  ["api-key-env"] = { arg = "VAR", help = "environment variable holding the API key" },
  header = { arg = "'K: V'", multi = true, help = "an extra request header (repeatable)" },
  concurrency = { short = "c", arg = "N", int = { 2, 64 }, help = "streams of the batching check (default 4)" },
  ["max-tokens"] = { arg = "N", int = { 1, 10000000 }, help = "the limit the suggested run command uses (default 256)" },
  tokenizer = { arg = "T", help = "PATH|MODEL|auto|none: counts tokens where the server sends no usage (default auto)" },
  price = { arg = "IN/OUT", help = "USD per 1M input/output tokens, for the cost warning before a paid API" },
  yes = { short = "y", help = "do not ask before sending requests to a paid cloud API" },
  mock = { help = "probe the embedded emulator (a demonstration)" },
  format = { arg = "FMT", help = "table|json (default table)" },
  output = { short = "o", arg = "FILE", help = "also write the answers as JSON" },
  quiet = { short = "q", help = "no progress on stderr" },
  help = { short = "h", help = "show this help" },
}
M.ORDER = { "url", "model", "api", "api-key-env", "header", "concurrency", "max-tokens", "tokenizer",
            "price", "yes", "mock", "format", "output", "quiet", "help" }

local cmd = args.command{ name = "mlxbench probe", synopsis = "[--url URL] [-m MODEL] [options]",
  about = "Asks a server what it can do -- APIs, streaming, usage, length controls, tokens per\n"
    .. "chunk, reasoning, prefix caching, its own timings, /metrics, keep-alive, HTTP/2,\n"
    .. "batching -- with a short series of requests, and prints the flags for an exact\n"
    .. "benchmark of it (docs/SERVERS.md).",
  spec = M.SPEC, order = M.ORDER }

-- ask(question) -> whether the user typed y (stdin a terminal)
local function ask(question)
  io.stderr:write(question, " [y/N] ")
  io.stderr:flush()
  local line = io.stdin:read("l")
  return line and line:match("^%s*[yY]") ~= nil
end

-- The cost warning before a paid API gets anything: the most the probe
-- sends, and its price at --price or the model's list price.
local function cost_gate(t, model, o)
  if t.backend ~= "openai" and t.backend ~= "anthropic" then return true end
  local plan = probe.plan{ concurrency = 1 }
  local price = o.price and assert(cost.parse_price(o.price)) or cost.lookup(cost.LIST_PRICES, model or "")
  local usd = cost.estimate(price, plan.input_tokens, plan.output_tokens)
  local msg = string.format("mlxbench probe: %s is a paid API: the probe sends up to %d requests, about %d "
    .. "input and %d output tokens%s.", target_mod.redact_url(t.url), plan.requests, plan.input_tokens,
    plan.output_tokens, usd and string.format(" (about $%.4f at %s$%g/$%g per 1M tokens)", usd,
      o.price and "" or "list price ", price.input, price.output) or " (give --price IN/OUT for its cost)")
  io.stderr:write(msg, "\n")
  if o.yes then return true end
  local sys = require "mlxbench._sys"
  if not sys.isatty(0) then
    return nil, "refusing to spend on a paid API without confirmation: add --yes"
  end
  if not ask("send them?") then return nil, "nothing sent" end
  return true
end

function M.main(...)
  local o, pos = cmd:parse({ ... })
  if not o then return pos end
  if #pos > 0 then return cmd:die("unexpected argument '" .. pos[1] .. "'", true) end
  local fmt = o.format or "table"
  if fmt ~= "table" and fmt ~= "json" then return cmd:die("--format must be table or json", true) end
  if o.mock and o.url then return cmd:die("--mock probes the embedded emulator; --url names another server: give one") end
  if o.api and o.api ~= "openai" and o.api ~= "anthropic" then return cmd:die("--api must be openai or anthropic") end
  if o.price then
    local p, perr = cost.parse_price(o.price)
    if not p then return cmd:die(perr) end
  end
  local url = o.url
  if url and not url:match("^https?://[^/]") then
    return cmd:die("--url: '" .. url .. "' is not an http:// or https:// URL")
  end
  local headers = {}
  for _, h in ipairs(o.header or {}) do
    local k, v = h:match("^%s*([!#$%%&'*+%-.^_`|~%w]+)%s*:%s*(.-)%s*$")
    if not k then return cmd:die("--header: '" .. h .. "' is not 'Name: value'") end
    headers[#headers + 1] = k .. ": " .. v
  end
  local srv
  if o.mock then
    srv = require("mlxbench.mock").start{ port = 0, profile = { model_defaults = { timings = true } } }
    url = srv.url
  end
  local model = o.model and (target_mod.tiers[o.model] or o.model) or nil
  local ok, t = pcall(target_mod.new, { url = url or target_mod.DEFAULT_URL, api = o.api, model = model,
                                        api_key_env = o["api-key-env"], headers = headers })
  if not ok then
    if srv then srv:stop() end
    return cmd:die(tostring(t):gsub("^[^:]*:%d+: ", ""))
  end
  if t:needs_key() and not t:has_key() then
    return cmd:die(string.format("%s needs an API key: set %s", target_mod.redact_url(t.url), t.key_env or "its key"))
  end
  local gate, why = cost_gate(t, model, o)
  if not gate then
    if srv then srv:stop() end
    return cmd:die(why)
  end
  local tok
  if model and o.tokenizer ~= "none" then
    local tok_ok, loaded = pcall(require("mlxbench.tokens").resolve, o.tokenizer or "auto", model)
    if tok_ok then tok = loaded elseif o.tokenizer then
      if srv then srv:stop() end
      return cmd:die("--tokenizer: " .. tostring(loaded))
    end
  end
  local progress = not o.quiet and fmt == "table" and require("mlxbench._sys").isatty(2)
  local res = probe.run{ target = t, model = model, tokenizer = tok, concurrency = o.concurrency,
    on_check = progress and function(c)
      io.stderr:write(string.format("\r\27[K  %s: %s", c.title, c.answer))
    end or nil }
  if progress then io.stderr:write("\r\27[K") end
  if srv then srv:stop() end
  local vo = { max_tokens = o["max-tokens"], tokenizer = tok and (o.tokenizer or model) or nil }
  if o.output then
    local wok, werr = json.write_atomic(o.output, view.json(res, vo))
    if not wok then return cmd:die(werr) end
  end
  io.stdout:write(fmt == "json" and view.json(res, vo) or view.text(res, vo))
  return 0
end

return M
