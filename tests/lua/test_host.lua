-- The client machine in a results file: mlxbench._sys.host() (from
-- src/platform), results.host() and its one-line form for reports. On a
-- Mac with Apple silicon: the chip ("Apple M3 Max"), its performance and
-- efficiency cores and the unified memory MLX users compare; elsewhere
-- those fields are absent, never guessed.
local T = require "harness"
local sys = require "mlxbench._sys"
local results = require "mlxbench.results"
local html = require "mlxbench.report.html"

T.test("_sys.host: what this system tells, in the documented types", function()
  local h = sys.host()
  T.ok(type(h.os) == "string" and h.os == h.os:lower(), tostring(h.os))
  T.ok(math.type(h.cpus) == "integer" and h.cpus >= 1)
  T.ok(h.memory_bytes == nil or math.type(h.memory_bytes) == "integer")
  if sys.platform == "linux" then
    T.eq(h.os, "linux")
    T.ok(h.memory_bytes > 0)
  end
  if h.os == "darwin" then
    T.ok(h.os_release:match("^macOS %d"), tostring(h.os_release))
    if h.unified_memory then T.ok(h.chip:match("^Apple M"), tostring(h.chip)) end
  else
    T.eq(h.chip, nil)
    T.eq(h.unified_memory, nil)
  end
  local f = io.open("/etc/os-release")
  if f then   -- the os-release name, quotes removed
    local want
    for l in f:lines() do want = want or l:match('^PRETTY_NAME="?([^"]*)"?$') end
    f:close()
    if want then T.eq(h.os_release, want) end
  end
end)

T.test("results.host: the recorded fields", function()
  local h, s = results.host(), sys.host()
  T.eq(h.os, s.os)
  T.eq(h.os_release, s.os_release)
  T.eq(h.chip, s.chip)
  T.eq(h.cpus, s.cpus)
  if s.memory_bytes then T.eq(h.memory_gib, math.floor(s.memory_bytes / 2^30 * 10 + 0.5) / 10) end
  T.eq(results.new().host.os, s.os)
end)

T.test("host_line: an Apple silicon Mac and a Linux box", function()
  local mac = { os = "darwin", os_release = "macOS 15.1", kernel = "24.1.0",
                cpu_model = "Apple M3 Max", chip = "Apple M3 Max", machine = "Mac15,9", cpus = 16,
                perf_cores = 12, efficiency_cores = 4, memory_gib = 128, unified_memory = true }
  T.eq(results.host_line(mac), "Apple M3 Max (12P+4E), 128 GiB unified memory, macOS 15.1")
  local intel_mac = { os = "darwin", os_release = "macOS 13.6", cpu_model = "Intel(R) Core(TM) i9",
                      cpus = 16, memory_gib = 32 }
  T.eq(results.host_line(intel_mac), "Intel(R) Core(TM) i9, 16 CPUs, 32 GiB, macOS 13.6")
  local linux = { os = "linux", kernel = "6.1.0", cpu_model = "AMD EPYC", cpus = 2.0, memory_gib = 23.5 }
  T.eq(results.host_line(linux), "AMD EPYC, 2 CPUs, 23.5 GiB, linux 6.1.0")
  T.eq(results.host_line({}), "")
  T.eq(results.host_line(nil), "")
end)

T.test("the HTML report names the chip and its unified memory", function()
  local page = html.render({ schema = results.SCHEMA, runs = {}, started_at = "x",
    host = { chip = "Apple M3 Max", cpu_model = "Apple M3 Max", perf_cores = 12,
             efficiency_cores = 4, memory_gib = 128, unified_memory = true, os_release = "macOS 15.1" } })
  T.ok(page:find("host Apple M3 Max (12P+4E), 128 GiB unified memory, macOS 15.1", 1, true))
end)

return T.run()
