-- harness: a tiny assert-based test runner for Lua tests run by the engine.
--   local T = require "harness"
--   T.test("name", function() T.eq(1+1, 2) end)
--   return T.run()
local T = {}
local cases = {}

local function fmt(v)
  if type(v) == "string" then return string.format("%q", v) end
  return tostring(v)
end

local function fail(msg, level)
  error(msg, (level or 1) + 2)
end

function T.test(name, fn) cases[#cases + 1] = { name = name, fn = fn } end

function T.ok(v, msg) if not v then fail(msg or "expected a true value") end return v end

function T.eq(a, b, msg)
  if a ~= b then fail((msg and msg .. ": " or "") .. fmt(a) .. " ~= " .. fmt(b)) end
end

function T.near(a, b, tol, msg)
  if type(a) ~= "number" or math.abs(a - b) > tol then
    fail((msg and msg .. ": " or "") .. fmt(a) .. " not within " .. tol .. " of " .. fmt(b))
  end
end

function T.rel(a, b, rtol, msg)
  if type(a) ~= "number" or math.abs(a - b) > math.abs(b) * rtol then
    fail((msg and msg .. ": " or "") .. fmt(a) .. " not within " .. (rtol * 100) .. "% of " .. fmt(b))
  end
end

-- T.raises(fn, pattern): fn must raise an error whose message matches.
function T.raises(fn, pattern, ...)
  local ok, err = pcall(fn, ...)
  if ok then fail("expected an error matching " .. fmt(pattern)) end
  if pattern and not tostring(err):find(pattern) then
    fail("error " .. fmt(tostring(err)) .. " does not match " .. fmt(pattern))
  end
  return err
end

-- deep equality for plain tables
function T.same(a, b, path)
  path = path or "value"
  if type(a) ~= type(b) then fail(path .. ": " .. fmt(a) .. " ~= " .. fmt(b)) end
  if type(a) ~= "table" then
    if a ~= b then fail(path .. ": " .. fmt(a) .. " ~= " .. fmt(b)) end
    return
  end
  for k, v in pairs(a) do T.same(v, b[k], path .. "." .. tostring(k)) end
  for k in pairs(b) do
    if a[k] == nil then fail(path .. "." .. tostring(k) .. " missing") end
  end
end

-- Runs every case (in a task each, so they may sleep and do I/O); exits 1 on
-- any failure. Set TEST_FILTER to run a subset.
function T.run()
  local filter = os.getenv("TEST_FILTER")
  local failed, ran = 0, 0
  for _, c in ipairs(cases) do
    if not filter or c.name:find(filter, 1, true) then
      ran = ran + 1
      local ok, err = xpcall(c.fn, debug.traceback)
      if ok then
        io.write("ok   ", c.name, "\n")
      else
        failed = failed + 1
        io.write("FAIL ", c.name, "\n  ", tostring(err):gsub("\n", "\n  "), "\n")
      end
    end
  end
  io.write(string.format("%d tests, %d failed\n", ran, failed))
  io.stdout:flush()
  if failed > 0 then os.exit(1) end
end

-- Path to a fixture file.
function T.fixture(name)
  return (os.getenv("MB_FIXTURES") or "tests/fixtures/wire") .. "/" .. name
end

function T.slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

return T
