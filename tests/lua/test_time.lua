-- mlxbench.time and the task scheduler basics.
local T = require "harness"
local mb = require "mlxbench"
local time = require "mlxbench.time"

T.test("now is monotonic and in seconds; wall is unix time", function()
  local a = time.now()
  local b = time.now()
  T.ok(b >= a)
  T.ok(math.abs(time.wall() - os.time()) < 2)
  T.ok(math.type(time.now_ns()) == "integer")
end)

T.test("sleep suspends the task for the given time", function()
  local t0 = time.now()
  time.sleep(0.05)
  local dt = time.now() - t0
  T.ok(dt >= 0.05 and dt < 0.2, "slept " .. dt)
end)

T.test("tasks run concurrently: 20 x sleep(0.1) take ~0.1 s", function()
  local t0 = time.now()
  local tasks = {}
  for i = 1, 20 do tasks[i] = mb.spawn(function(x) time.sleep(0.1) return x * 2 end, i) end
  local r = mb.wait(tasks)
  local dt = time.now() - t0
  T.ok(dt < 0.25, "took " .. dt)
  for i = 1, 20 do T.eq(r[i], i * 2) end
end)

T.test("wait returns all results of one task and re-raises its error", function()
  local t = mb.spawn(function() return 1, "two", nil, 4 end)
  local a, b, c, d = mb.wait(t)
  T.eq(a, 1) T.eq(b, "two") T.eq(c, nil) T.eq(d, 4)
  local bad = mb.spawn(function() error("kaput") end)
  local err = T.raises(mb.wait, "kaput", bad)
  T.ok(err:find("stack traceback"), "traceback attached")
  T.eq(bad:status(), "failed")
end)

T.test("cancel a sleeping task; joiners see it", function()
  local t = mb.spawn(function() time.sleep(30) end)
  time.sleep(0.01)
  T.eq(t:status(), "waiting")
  T.eq(t:cancel(), true)
  T.eq(t:status(), "cancelled")
  T.raises(mb.wait, "cancelled", t)
  T.eq(t:cancel(), false)
end)

T.test("a task waiting on a task waits until it ends", function()
  local inner = mb.spawn(function() time.sleep(0.03) return "inner" end)
  local outer = mb.spawn(function() return mb.wait(inner) .. "+outer" end)
  T.eq(mb.wait(outer), "inner+outer")
end)

T.test("coroutine.yield inside a task just lets others run", function()
  local order = {}
  local a = mb.spawn(function() order[#order + 1] = "a1" coroutine.yield() order[#order + 1] = "a2" end)
  local b = mb.spawn(function() order[#order + 1] = "b1" end)
  mb.wait(a, b)
  T.eq(table.concat(order, ","), "a1,b1,a2")
end)

T.test("sleep outside a task is a clear error", function()
  T.raises(function() table.sort({ 3, 2, 1 }, function(x, y) time.sleep(0) return x < y end) end,
    "must be called from a task")
end)

T.test("sleep rejects bad arguments", function()
  T.raises(time.sleep, "seconds >= 0", -1)
  T.raises(time.sleep, "number expected", "x")
end)

T.test("a failed task is forgotten once joined; an unjoined one is kept to report", function()
  local failed = function() return debug.getregistry()["mlxbench.failed"] or {} end
  local n0 = 0
  for _ in pairs(failed()) do n0 = n0 + 1 end
  for _ = 1, 500 do
    local t = mb.spawn(function() error("boom", 0) end)
    local ok, err = pcall(mb.wait, { t })
    T.ok(not ok and tostring(err):find("boom", 1, true), tostring(err))
  end
  local n = 0
  for _ in pairs(failed()) do n = n + 1 end
  T.eq(n, n0, "joined failures are not kept")
  local lost = mb.spawn(function() error("nobody joins me", 0) end)
  time.sleep(0)
  local msg = failed()[lost]
  T.ok(msg and msg:find("nobody joins me", 1, true), "an unjoined failure is kept with its message")
  T.ok(pcall(mb.wait, { lost }) == false)
  T.eq(failed()[lost], nil, "and forgotten once joined")
end)

return T.run()
