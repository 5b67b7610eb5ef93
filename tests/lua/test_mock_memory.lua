-- The emulator reads request bodies in place (core/json.c's cursor): an
-- 8 MB body costs about its own bytes, whatever its shape. Its cJSON parse
-- cost ~40x the body for one tiny value per 2 bytes (an 8 MB `prompt` of
-- token ids: 320 MB of peak RSS; issue 15, item 16). Measured in-process
-- as the growth of the peak RSS (platform layer) across one request, each
-- shape in a fresh process so an earlier peak cannot hide a later one.
local T = require "harness"

local SHAPES = {
  -- name, path, body builder (about 8 MB, under the 8 MiB request limit)
  ids = { "/v1/completions", function()
    return '{"model":"m","max_tokens":1,"prompt":[' .. string.rep("1,", 3999000) .. '1]}'
  end },
  messages = { "/v1/chat/completions", function()
    local msg = '{"role":"user","content":"hi there"},'
    return '{"model":"m","max_tokens":1,"messages":[' .. string.rep(msg, 215000) ..
           '{"role":"user","content":"end"}]}'
  end },
}

local SCRIPT = [[
local mock, http, sys = require "mlxbench.mock", require "mlxbench.http", require "mlxbench._sys"
local srv = mock.start{ port = 0, profile = { builtin_models = false, any_model = true,
  models = { m = { ttft_ms = 0, decode_tok_s = 1e6, prefill_tok_s = 0 } } } }
local path, body = ...
collectgarbage(); collectgarbage()
local before = sys.max_rss()
local r = http.request{ url = srv.url .. path, method = "POST", body = body,
                        headers = { ["content-type"] = "application/json" } }
io.write(r.status, " ", sys.max_rss() - before)
srv:stop()
]]

-- Runs SCRIPT in a fresh mlxbench with the body in a file: -> status, growth
local function measure(path, body)
  local script, data = os.tmpname(), os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write('local d = io.open(' .. string.format("%q", data) .. '):read("a")\n',
          'local fn = load(' .. string.format("%q", SCRIPT) .. ')\nfn(' ..
          string.format("%q", path) .. ', d)\n')
  f:close()
  f = assert(io.open(data, "w"))
  f:write(body)
  f:close()
  local p = io.popen(string.format("%q %q 2>&1", os.getenv("MLXBENCH") or "build/mlxbench", script))
  local out = p:read("a")
  p:close()
  os.remove(script)
  os.remove(data)
  local status, growth = out:match("^(%d+) (%d+)$")
  return tonumber(status), tonumber(growth), out
end

for name, s in pairs(SHAPES) do
  T.test(name .. ": an 8 MB body costs less than 3x its size", function()
    local body = s[2]()
    T.ok(#body > 7.5e6 and #body < 8 * 2^20, "body size " .. #body)
    local status, growth, out = measure(s[1], body)
    T.eq(status, 200, out)
    print(string.format("%s: %.1f MB body, peak RSS +%.1f MB (%.1fx)", name, #body / 1e6,
                        growth / 1e6, growth / #body))
    T.ok(growth < 3 * #body, string.format("peak RSS grew by %.1f MB", growth / 1e6))
  end)
end

return T.run()
