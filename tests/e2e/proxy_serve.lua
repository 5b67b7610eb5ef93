-- A proxy in the foreground for test_proxy.py's raw-socket checks:
--   mlxbench tests/e2e/proxy_serve.lua UPSTREAM [FAULTS_JSON]
-- prints "URL <url>", serves until SIGTERM/SIGINT, then prints
-- "STATS <json>" and stops the proxy (exit code 130, as for any interrupt).
local mb = require "mlxbench"
local proxy = require "mlxbench.proxy"
local cjson = require "cjson"

local faults = arg[2] and cjson.decode(arg[2]) or nil
local px = proxy.start{ upstream = assert(arg[1], "usage: proxy_serve.lua UPSTREAM [FAULTS_JSON]"),
                        faults = faults }
io.write("URL ", px.url, "\n")
io.stdout:flush()
mb.on_interrupt(function()
  io.write("STATS ", cjson.encode(px:stats()), "\n")
  io.stdout:flush()
  px:stop()
end)
px:wait()
