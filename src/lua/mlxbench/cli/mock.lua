-- mlxbench.cli.mock: `mlxbench mock` -- the emulated LLM server in the
-- foreground. Prints the URL it listens on as the first line of stdout (so
-- `--port 0` is usable from scripts and tests), logs one line per request on
-- stderr when that is a terminal, and stops cleanly on SIGINT/SIGTERM.
local mock = require "mlxbench.mock"
local sched = require "mlxbench._sched"

local M = {}

local args = require "mlxbench.cli.args"

M.SPEC = {
  host = { arg = "H", help = "address to bind (default 127.0.0.1)" },
  port = { short = "p", arg = "P", int = { 0, 65535 }, help = "port (default 10242; 0 picks a free one)" },
  profile = { arg = "F", help = "JSON profile: models, timing, faults (docs/MOCK.md)" },
  seed = { arg = "N", int = { 0 }, help = "seed of the generated text and of the fault draws" },
  ["api-key"] = { arg = "K", help = "require this key (Bearer for OpenAI, x-api-key for Anthropic)" },
  faults = { arg = "JSON", help = "initial faults, e.g. '{\"error_rate\":0.1,\"status\":503}'" },
  ["control-token"] = { arg = "T", help = "require T (header X-Mock-Token) on /mock/...; without it they "
    .. "answer only when --host is a loopback address (also MLXBENCH_MOCK_CONTROL_TOKEN, "
    .. "\"control_token\" in the profile)" },
  log = { help = "log one line per request on stderr (default: if a TTY)" },
  quiet = { short = "q", help = "never log requests" },
  help = { short = "h", help = "show this help" },
}
M.ORDER = { "host", "port", "profile", "seed", "api-key", "faults", "control-token", "log", "quiet", "help" }

local cmd = args.command{ name = "mlxbench mock",
  synopsis = "[--host 127.0.0.1] [--port 10242] [--profile FILE]\n"
    .. "                     [--seed N] [--api-key KEY] [--faults JSON] [--log|--quiet]\n"
    .. "                     [--control-token TOKEN]",
  about = "The emulated LLM server: OpenAI /v1/chat/completions, /v1/completions,\n"
    .. "/v1/models and Anthropic /v1/messages, with a timing model per model, faults\n"
    .. "(POST /mock/faults) and ground truth (GET /mock/trace, GET /mock/stats).\n"
    .. "The first line on stdout is the URL. Ctrl-C (or SIGTERM) stops the server.",
  spec = M.SPEC, order = M.ORDER }

function M.main(...)
  local o, pos = cmd:parse({ ... })
  if not o then return pos end
  if #pos > 0 then return cmd:die("unexpected argument '" .. pos[1] .. "'", true) end
  local opts = { host = o.host, port = o.port or 10242, profile = o.profile, seed = o.seed,
                 api_key = o["api-key"], faults = o.faults, control_token = o["control-token"],
                 log = o.quiet and false or o.log and true or "auto" }

  local ok, srv = pcall(mock.start, {
    host = opts.host, port = opts.port, profile = opts.profile, seed = opts.seed,
    api_key = opts.api_key, faults = opts.faults, log = opts.log,
    control_token = opts.control_token or (os.getenv("MLXBENCH_MOCK_CONTROL_TOKEN") or "") ~= ""
      and os.getenv("MLXBENCH_MOCK_CONTROL_TOKEN") or nil,
  })
  if not ok then return cmd:die((tostring(srv):gsub("^mock%.start: ", ""))) end
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
