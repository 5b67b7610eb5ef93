-- mlxbench.progress: shows that a long run is alive, on stderr only (the
-- report owns stdout). Modes:
--   auto   on a terminal: a live status line per run, refreshed ~4x/s, and
--          a final line; off a terminal (CI logs): as plain
--   plain  one plain line every `every` seconds (10 by default) and a final
--          line
--   none   nothing (also what --quiet selects)
-- A run shows its warm-up first ("warm-up 2/4, not measured"); the counts,
-- tok/s and the final line are the measured part's only. tok/s counts the
-- tokens received so far, those of requests still in flight included.
local sched = require "mlxbench._sched"
local time = require "mlxbench.time"
local sys = require "mlxbench._sys"

local M = { mode = "auto", every = 10 }

-- set(mode [, every]) -- the CLI's --progress / --quiet
function M.set(mode, every)
  if mode ~= "auto" and mode ~= "plain" and mode ~= "none" then
    error("progress mode must be auto, plain or none", 2)
  end
  M.mode = mode
  M.every = every or M.every
end

local function live() return M.mode == "auto" and sys.isatty(2) end

-- active() -> whether runs print progress at all in the current mode
function M.active() return M.mode ~= "none" end

-- notices() -> whether side notices (a missing tokenizer...) also go to
-- stderr: on a terminal, or when plain lines were asked for; off a
-- terminal by default they are in the report's notes only, said once
function M.notices() return M.mode == "plain" or live() end

-- say(text): one line on stderr when progress is shown (the configuration
-- banner before a run, the suite's section titles)
function M.say(text)
  if M.active() then
    io.stderr:write(text, "\n")
    io.stderr:flush()
  end
end

local function fmt_eta(s)
  if not s or s ~= s or s < 0 or s == math.huge then return "-" end
  if s >= 60 then return string.format("%dm%02ds", s // 60, math.floor(s % 60)) end
  return string.format("%.0fs", s)
end

-- status text of a run in progress; st = {name, done, total|nil,
-- duration|nil, inflight, errors, tokens, ttft_p50, t0, warm}
local function line(st, final)
  local now = time.now()
  local el = now - st.t0
  if st.warm then
    local w = st.warm
    local prog = w.total and string.format("%d/%d", w.done(), w.total)
      or string.format("%.0f/%.0fs", math.min(el, w.secs or 0), w.secs or 0)
    return string.format("%s  warm-up %s (not measured)  in-flight %d", st.name, prog, st.inflight())
  end
  local done = st.done()
  local prog
  if st.total then
    prog = string.format("%d/%d", done, st.total)
  elseif st.duration then
    prog = string.format("%.0f/%.0fs", math.min(el, st.duration), st.duration)
  else
    prog = tostring(done)
  end
  local eta
  if st.total and done > 0 then
    eta = el / done * (st.total - done)
  elseif st.duration then
    eta = st.duration - el
  end
  local p50 = st.ttft_p50()
  local s = string.format("%s  %s  in-flight %d  errors %d  %.1f tok/s  TTFT p50 %s",
    st.name, prog, st.inflight(), st.errors(), el > 0 and st.tokens() / el or 0,
    p50 and string.format("%.0fms", p50 * 1000) or "-")
  if final then return s .. string.format("  done in %.1fs", el) end
  return s .. "  ETA " .. fmt_eta(eta)
end

-- start(st) -> handle with :warmup(total, secs, done), :measure() and
-- :finish(); runs a ticker task while the run lasts
function M.start(st)
  local h = { st = st }
  st.t0 = st.t0 or time.now()
  -- the warm-up phase: its own count, nothing of it in the figures
  function h.warmup(total, secs, done)
    st.warm = { total = total, secs = secs, done = done }
    st.t0 = time.now()
  end
  -- the measured part starts now: elapsed time and rates from here
  function h.measure()
    st.warm = nil
    st.t0 = time.now()
  end
  -- stop the ticker without a final line (a run that raised)
  function h.cancel()
    if h.task then h.task:cancel() h.task = nil end
  end
  if M.mode == "none" then
    function h.finish() end
    return h
  end
  local tty = live()
  h.task = sched.spawn(function()
    local last = time.now()
    while true do
      time.sleep(tty and 0.25 or 1)
      if tty then
        io.stderr:write("\r\27[K", line(st))
      elseif time.now() - last >= M.every then
        last = time.now()
        io.stderr:write(line(st), "\n")
      end
    end
  end)
  function h.finish()
    h.cancel()
    st.warm = nil
    io.stderr:write(tty and "\r\27[K" or "", line(st, true), "\n")
  end
  return h
end

return M
