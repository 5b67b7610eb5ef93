-- The server's side of a run, piece by piece: mlxbench._cmd (a command on
-- the loop: output, exit status, timeout, output cap, cancellation, the
-- loop never blocked), mlxbench.cost (prices, watts parsing, the cost and
-- energy of a run), mlxbench.split (the TTFT split of one request),
-- mlxbench.scrape against the emulator's /metrics (mapped gauges and a
-- counter's rate, raw series, a failing URL) and mlxbench.observe's pid
-- resolution.
local T = require "harness"
local mb = require "mlxbench"
local time = require "mlxbench.time"
local cmd = require "mlxbench._cmd"
local cost = require "mlxbench.cost"
local split = require "mlxbench.split"
local scrape = require "mlxbench.scrape"
local observe = require "mlxbench.observe"
local sys = require "mlxbench._sys"

T.test("cmd.run: output, status, the loop goes on meanwhile", function()
  local ticks = 0
  local ticker = mb.spawn(function() for _ = 1, 20 do time.sleep(0.01) ticks = ticks + 1 end end)
  local t0 = time.now()
  local r = cmd.run("sleep 0.15; echo 42.5; echo oops >&2; exit 3")
  T.eq(r.status, 3)
  T.eq(r.signal, 0)
  T.eq(r.stdout, "42.5\n")
  T.eq(r.stderr, "oops\n")
  T.eq(r.timed_out, false)
  T.ok(time.now() - t0 >= 0.15)
  T.ok(ticks >= 8, "the loop ran while the command did: " .. ticks .. " ticks")
  mb.wait(ticker)
end)

T.test("cmd.run: timeout kills, output is capped, a missing command is 127", function()
  local t0 = time.now()
  local r = cmd.run("sleep 5", { timeout = 0.2 })
  T.eq(r.timed_out, true)
  T.eq(r.signal, 9)
  T.ok(time.now() - t0 < 2)
  r = cmd.run("head -c 300000 /dev/zero", { max_output = 1000 })
  T.eq(#r.stdout, 1000)
  T.eq(r.status, 0)
  r = cmd.run("no_such_command_anywhere_x")
  T.eq(r.status, 127)
  T.raises(cmd.run, "timeout must be", "true", { timeout = -1 })
end)

T.test("cmd.run: a cancelled task kills its command", function()
  local t = mb.spawn(function() return cmd.run("sleep 30") end)
  time.sleep(0.05)
  local t0 = time.now()
  T.ok(t:cancel())
  T.ok(time.now() - t0 < 0.5)
  T.raises(mb.wait, "cancelled", t)
end)

T.test("cost: prices, watts, files", function()
  local p = assert(cost.parse_price("0.15/0.60"))
  T.eq(p.input, 0.15)
  T.eq(p.output, 0.60)
  T.eq(p.cached_input, nil)
  T.eq(assert(cost.parse_price("1/2/0.5")).cached_input, 0.5)
  for _, bad in ipairs{ "1", "1/2/3/4", "a/b", "-1/2", "1//2" } do
    T.eq(cost.parse_price(bad), nil, bad)
  end
  T.eq(cost.read_watts("45.30\n"), 45.3)
  T.eq(cost.read_watts("Combined Power (CPU + GPU + ANE): 1234 mW"), 1.234)
  T.eq(cost.read_watts("power: 1.5 kW"), 1500)
  T.eq(cost.read_watts("no number"), nil)
  local prices = { ["gpt-4o-mini"] = { input = 1, output = 2 }, ["Qwen2.5-7B"] = { input = 3, output = 4 },
                   ["*"] = { input = 5, output = 6 } }
  T.eq(cost.lookup(prices, "gpt-4o-mini").input, 1)
  T.eq(cost.lookup(prices, "mlx-community/Qwen2.5-7B").input, 3, "without the organisation")
  T.eq(cost.lookup(prices, "qwen2.5-7b").input, 3, "case-insensitive")
  T.eq(cost.lookup(prices, "other").input, 5, "the * entry")
end)

T.test("cost.apply: dollars and joules of a run", function()
  local run = { model = "m", window = { start_s = 0, end_s = 2 }, duration_s = 2,
                tokens = { input = 1000, output = 500, cached = 400 }, requests = { ok = 5 },
                power = { samples = 3, t = { 0.5, 1.0, 1.5 }, watts = { 10, 20, 30 } } }
  cost.apply(run, { price = { input = 1, output = 2, cached_input = 0.5 }, kwh_price = 0.36 })
  T.near(run.cost.usd, (600 * 1 + 400 * 0.5 + 500 * 2) / 1e6, 1e-15)
  T.near(run.cost.usd_per_1m_output, run.cost.usd / 500 * 1e6, 1e-12)
  T.eq(run.cost.cached_tokens, 400)
  -- held 10 W over [0, 0.5], trapezoids 15 and 25 W over 0.5 s each, held 30 W over [1.5, 2]
  T.near(run.energy.joules, 5 + 7.5 + 12.5 + 15, 1e-12)
  T.near(run.energy.avg_watts, 40 / 2, 1e-12)
  T.near(run.energy.j_per_output_token, 40 / 500, 1e-12)
  T.near(run.energy.usd, 40 / 3.6e6 * 0.36, 1e-18)
  local r2 = { model = "m", window = { start_s = 0, end_s = 4 }, duration_s = 4, tokens = { output = 100 },
               requests = { ok = 1 } }
  cost.apply(r2, { watts = 25 })
  T.eq(r2.energy.joules, 100)
  T.eq(r2.energy.source, "watts")
  T.eq(r2.cost, nil, "no price: no cost")
end)

T.test("split.apply: the parts add up to TTFT", function()
  local r = { ok = true, ttft_s = 0.250, server = { queue_s = 0.1, load_s = 0.02, prefill_s = 0.12, source = "x" } }
  split.apply(r, true)
  T.near(r.ttft_split.server_queue_s, 0.12, 1e-15)
  T.eq(r.ttft_split.server_prefill_s, 0.12)
  T.near(r.ttft_split.server_queue_s + r.ttft_split.server_prefill_s + r.ttft_split.ttft_rest_s, 0.25, 1e-15)
  local nq = { ok = true, ttft_s = 0.1, server = { prefill_s = 0.08 } }
  split.apply(nq, true)
  T.eq(nq.ttft_split.server_queue_s, nil, "no queue reported: no queue part")
  T.near(nq.ttft_split.ttft_rest_s, 0.02, 1e-15)
  local ns = { ok = true, ttft_s = 0.1, server = { prefill_s = 0.08 } }
  split.apply(ns, false)
  T.eq(ns.ttft_split, nil, "not streamed: TTFT is the whole body")
  local only_decode = { ok = true, ttft_s = 0.1, server = { decode_s = 1 } }
  split.apply(only_decode, true)
  T.eq(only_decode.ttft_split, nil, "nothing before the first token reported")
end)

T.test("scrape: the emulator's /metrics, mapped and raw", function()
  local srv = mb.mock.start{ port = 0, profile = { model_defaults = { max_running = 1 } } }
  local s = scrape.start{ url = srv.url .. "/metrics", interval = 0.05,
                          keep = "vllm:request_success_total" }
  local tasks = {}
  for i = 1, 3 do
    tasks[i] = mb.spawn(function()
      return mb.llm.request{ target = { url = srv.url }, model = "mlx-community/Llama-3.2-3B-Instruct-4bit",
                             prompt = "hi " .. i, max_tokens = 12, stream = true }
    end)
  end
  local out = 0
  for i = 1, 3 do out = out + mb.wait(tasks[i]).output_tokens end
  local t0 = time.now()
  local m = s:finish(t0 - 10)
  srv:stop()
  T.eq(m.server, "vllm")
  T.eq(m.failed, 0)
  T.ok(#m.t >= 3 and m.t[1] >= 9 and m.t[#m.t] <= 10.5, "times relative to the zero given")
  T.eq(m.mapped.running.max, 1, "one slot: at most one running (summed over the models)")
  T.ok(m.mapped.waiting.max >= 1, "the others waited")
  -- the counter's rate integrates to the tokens generated meanwhile
  local total = 0
  for i = 2, #m.t do
    local v = m.mapped.generation_tok_s.values[i]
    if type(v) == "number" then total = total + v * (m.t[i] - m.t[i - 1]) end
  end
  T.near(total, out, 1e-6)
  local kept = 0
  for _, ser in ipairs(m.series) do
    T.eq(ser.name, "vllm:request_success_total")
    T.ok(ser.labels.finished_reason and ser.labels.model_name)
    kept = kept + 1
  end
  T.eq(kept, 3 * 8, "3 reasons x 8 built-in models")
end)

T.test("scrape: a URL that fails is counted, never fatal", function()
  local s = scrape.start{ url = "http://127.0.0.1:9/metrics", interval = 0.02 }
  time.sleep(0.1)
  local m = s:finish(time.now())
  T.ok(m.scrapes >= 2)
  T.eq(m.failed, m.scrapes)
  T.ok(m.first_error:match("^connect"), m.first_error)
  T.eq(m.mapped, nil)
  T.eq(scrape.matcher("a("), nil)
end)

T.test("observe.resolve_pid", function()
  local srv = mb.mock.start{ port = 0 }
  if sys.platform == "posix" then
    -- the portable layer cannot ask: one line that says so, both ways
    for _, spec in ipairs{ "auto", tostring(sys.getpid()) } do
      local pid, err = observe.resolve_pid(spec, srv.url)
      T.eq(pid, nil)
      T.ok(err:find("platform layer (posix) cannot read another process", 1, true), err)
    end
  else
    T.eq(observe.resolve_pid("auto", srv.url), sys.getpid(), "the emulator runs in this process")
    T.eq(observe.resolve_pid("auto", "http://localhost:" .. srv.port .. "/v1"), sys.getpid())
    T.eq(observe.resolve_pid(tostring(sys.getpid()), "http://x"), sys.getpid())
  end
  srv:stop()
  local pid, err = observe.resolve_pid("auto", "https://api.openai.com")
  T.eq(pid, nil)
  T.ok(err:find("not this machine", 1, true), err)
  T.eq(observe.port_of("http://[::1]:8080/v1"), 8080)
  T.eq(observe.port_of("https://host/v1"), 443)
  T.eq(observe.port_of("http://u:p@host:81"), 81)
end)

return T.run()
