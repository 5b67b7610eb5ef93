-- mlxbench.cli_mock: `mlxbench mock` -- the emulated LLM server in the
-- foreground. Prints the URL it listens on as the first line of stdout (so
-- `--port 0` is usable from scripts and tests), logs one line per request on
-- stderr when that is a terminal, and stops cleanly on SIGINT/SIGTERM.
local mock = require "mlxbench.mock"
local sched = require "mlxbench._sched"

local M = {}

local usage = [[
usage: mlxbench mock [--host 127.0.0.1] [--port 10242] [--profile FILE]
                     [--seed N] [--api-key KEY] [--faults JSON] [--log|--quiet]
                     [--control-token TOKEN]

The emulated LLM server: OpenAI /v1/chat/completions, /v1/completions,
/v1/models and Anthropic /v1/messages, with a timing model per model, faults
(POST /mock/faults) and ground truth (GET /mock/trace, GET /mock/stats).

  --host H       address to bind (default 127.0.0.1)
  --port P       port (default 10242; 0 picks a free one)
  --profile F    JSON profile: models, timing, faults (docs/MOCK.md)
  --seed N       seed of the generated text and of the fault draws
  --api-key K    require this key (Bearer for OpenAI, x-api-key for Anthropic)
  --faults JSON  initial faults, e.g. '{"error_rate":0.1,"status":503}'
  --control-token T  require T (header X-Mock-Token) on /mock/...; without
                 it they answer only when --host is a loopback address
                 (also: MLXBENCH_MOCK_CONTROL_TOKEN, "control_token" in the profile)
  --log          log one line per request on stderr (default: if a TTY)
  --quiet        never log requests
The first line on stdout is the URL. Ctrl-C (or SIGTERM) stops the server.
]]

local function fail(msg)
  io.stderr:write("mlxbench mock: ", msg, "\n")
  return 2
end

function M.main(...)
  local args = { ... }
  local opts = { port = 10242, log = "auto" }
  local i = 1
  while i <= #args do
    local a = args[i]
    local function value()
      i = i + 1
      if args[i] == nil then error({ usage = a .. " needs a value" }) end
      return args[i]
    end
    local ok, err = pcall(function()
      if a == "-h" or a == "--help" then
        opts.help = true
      elseif a == "--host" then
        opts.host = value()
      elseif a == "--port" or a == "-p" then
        local v = value()
        local n = math.tointeger(tonumber(v))
        if not n or n < 0 or n > 65535 then error({ usage = "--port needs an integer 0..65535, got '" .. v .. "'" }) end
        opts.port = n
      elseif a == "--profile" then
        opts.profile = value()
      elseif a == "--seed" then
        local v = value()
        local n = math.tointeger(tonumber(v))
        if not n or n < 0 then error({ usage = "--seed needs a non-negative integer, got '" .. v .. "'" }) end
        opts.seed = n
      elseif a == "--api-key" then
        opts.api_key = value()
      elseif a == "--control-token" then
        opts.control_token = value()
      elseif a == "--faults" then
        opts.faults = value()
      elseif a == "--log" then
        opts.log = true
      elseif a == "--quiet" or a == "-q" then
        opts.log = false
      else
        error({ usage = "unknown option '" .. a .. "'" })
      end
    end)
    if not ok then
      if type(err) == "table" then
        io.stderr:write("mlxbench mock: ", err.usage, "\n(mlxbench mock --help lists the options)\n")
        return 2
      end
      error(err, 0)
    end
    i = i + 1
  end
  if opts.help then
    io.stdout:write(usage)
    return 0
  end

  local ok, srv = pcall(mock.start, {
    host = opts.host, port = opts.port, profile = opts.profile, seed = opts.seed,
    api_key = opts.api_key, faults = opts.faults, log = opts.log,
    control_token = opts.control_token or (os.getenv("MLXBENCH_MOCK_CONTROL_TOKEN") or "") ~= ""
      and os.getenv("MLXBENCH_MOCK_CONTROL_TOKEN") or nil,
  })
  if not ok then
    return fail((tostring(srv):gsub("^mock%.start: ", "")))
  end
  io.stdout:write(srv.url, "\n")
  io.stdout:flush()
  io.stderr:write("mlxbench mock: listening on ", srv.url,
                  " (OpenAI base ", srv.url, "/v1, Anthropic base ", srv.url, "); Ctrl-C stops\n")
  local h = opts.host or "127.0.0.1"
  local loopback = h:match("^127%.") or h == "::1" or h == "localhost"
  if not loopback and not (opts.control_token or os.getenv("MLXBENCH_MOCK_CONTROL_TOKEN")) then
    io.stderr:write("mlxbench mock: control endpoints (/mock/...) are off on a non-loopback ",
                    "address; give --control-token to use them\n")
  end
  io.stderr:flush()
  sched.on_interrupt(function() srv:stop() end)
  srv:wait()
  io.stderr:write("mlxbench mock: stopped\n")
  return 0
end

return M
