-- http_get_loop.lua: N tasks doing GET in a loop on one URL until a deadline;
-- prints how many requests completed. Used by bench/http_vs_wrk.sh.
--   mlxbench bench/http_get_loop.lua URL [TASKS=50] [SECONDS=10]
local mb = require "mlxbench"
local http = require "mlxbench.http"
local time = require "mlxbench.time"

local url = assert(arg[1], "usage: http_get_loop.lua URL [TASKS] [SECONDS]")
local tasks = tonumber(arg[2] or "50")
local seconds = tonumber(arg[3] or "10")

local ok, failed, kinds = 0, 0, {}
local opts = { url = url, timeout = 10 }   -- one options table, reused
local t0 = time.now()
local deadline = t0 + seconds
local vus = {}
for i = 1, tasks do
  vus[i] = mb.spawn(function()
    while time.now() < deadline do
      local r = http.request(opts)
      if r.ok then
        ok = ok + 1
      else
        failed = failed + 1
        local k = r.error.kind
        kinds[k] = (kinds[k] or 0) + 1
      end
    end
  end)
end
mb.wait(vus)
local wall = time.now() - t0
local ks = {}
for k, n in pairs(kinds) do ks[#ks + 1] = k .. "=" .. n end
print(("requests=%d failed=%d seconds=%.3f rps=%.1f %s"):format(ok, failed, wall, ok / wall,
                                                               table.concat(ks, " ")))
