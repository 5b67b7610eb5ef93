-- common: what every example shares -- the target (`--url URL` for a real
-- server, else the embedded emulator, also with `--mock`), the model
-- (`--model NAME`, default the small tier; `--models S,M,L` for the tier
-- sweep) and the verdict: an example whose runs got nothing through says
-- why and exits 1.
local mb = require "mlxbench"
local tiers = require("mlxbench.target").tiers
local args = require "mlxbench.cli.args"

local M = {}

local SPEC = {
  url = { arg = "URL", help = "a real server (default: the embedded emulator)" },
  mock = { help = "the embedded emulator (the default)" },
  model = { short = "m", arg = "NAME", help = "model (default the small tier)" },
  models = { arg = "S,M,L", help = "the three tiers, for the tier sweep" },
  help = { short = "h", help = "show this help" },
}

-- target(argv) -> target, server|nil, options. options.model is the model
-- to use (--model, default the small tier); options.models the three
-- tiers (--models S,M,L, default the seed's).
function M.target(argv)
  local cmd = args.command{ name = arg and arg[0] or "example", synopsis = "[--url URL | --mock] [--model NAME]",
                            spec = SPEC, order = { "url", "mock", "model", "models", "help" }, exit = true }
  local opts, pos = cmd:parse(argv)
  if #pos > 0 then cmd:die("unexpected argument '" .. pos[1] .. "'", true) end
  local url = not opts.mock and opts.url or nil
  if url and not url:match("^https?://[^/]") then
    cmd:die("--url: '" .. url .. "' is not an http(s) URL (did you mean http://" .. url .. " ?)")
  end
  opts.model = tiers[opts.model or "small"] or opts.model
  local list = { tiers.small, tiers.medium, tiers.large }
  if opts.models then
    list = {}
    for m in opts.models:gmatch("[^,%s]+") do list[#list + 1] = tiers[m] or m end
    if #list == 0 then cmd:die("--models wants a list of model names, e.g. --models a,b,c") end
  end
  opts.models = list
  local srv
  if not url then
    srv = mb.mock.start{ port = 0, seed = 1 }
    url = srv.url
  end
  return mb.target{ name = srv and "emulated" or "local", url = url }, srv, opts
end

-- check(runs [, srv]) -> runs: exits 1 (after stopping the emulator) when
-- some run had requests and none succeeded, naming it and the server's
-- first error message; also when there is no run at all.
function M.check(runs, srv)
  local dead = {}
  for _, r in ipairs(runs) do
    if not r.skipped and (r.requests.total or 0) > 0 and (r.requests.ok or 0) == 0 then
      local m = r.requests.error_messages and r.requests.error_messages[1]
      dead[#dead + 1] = string.format("%s: no request succeeded (%s)", r.name,
        m and (m.error .. ": " .. m.message) or "no message")
    end
  end
  if #runs == 0 then dead[1] = "no run was made" end
  if #dead > 0 then
    if srv then srv:stop() end
    io.stdout:flush()
    for _, d in ipairs(dead) do io.stderr:write(d, "\n") end
    os.exit(1)
  end
  return runs
end

-- ms(v) -> "12.3" or "-" (a metric a run has no sample of)
function M.ms(v) return v and string.format("%.1f", v * 1000) or "-" end

return M
