-- Shards: the split rule (interleaving; remainder to the first shards),
-- option checking, and bench{shard=} against the emulator: three shards of
-- a closed loop with a ramp of users and of an open loop together send the
-- single process's requests, prompts and schedule.
local T = require "harness"
local mb = require "mlxbench"
local load = require "mlxbench.load"

T.test("shard specs: 'i/n', {i, n}, {index=, count=}; bad ones refused", function()
  local s = load.shard("2/3")
  T.eq(s.index, 2) T.eq(s.count, 3)
  s = load.shard({ 1, 4 })
  T.eq(s.index, 1) T.eq(s.count, 4)
  s = load.shard({ index = 5, count = 5 })
  T.eq(s.index, 5)
  for _, bad in ipairs{ "0/3", "4/3", "1/0", "a/b", "1", "1/2/3", { 2 }, { 1.5, 2 }, 7 } do
    local v, err = load.shard(bad)
    T.eq(v, nil)
    T.ok(err and err:find("1 <= I <= N", 1, true), tostring(err))
  end
  T.raises(function() mb.bench{ model = "m", shard = "3/2" } end, "shard must be I/N")
  T.raises(function() mb.bench{ model = "m", concurrency = 2, shard = "1/3" } end, "some would get no virtual user")
end)

T.test("share and mine: interleaved, even, remainder to the first shards, union exact", function()
  for total = 0, 40 do
    for n = 1, 7 do
      local seen, sum = {}, 0
      for i = 1, n do
        local sh = { index = i, count = n }
        local share = load.share(total, sh)
        T.ok(share == total // n or share == total // n + 1)
        if i > 1 then T.ok(share <= load.share(total, { index = i - 1, count = n }), "first shards get more") end
        local mine = 0
        for k = 1, total do
          if load.mine(k, sh) then
            mine = mine + 1
            T.eq(seen[k], nil, "item in two shards")
            seen[k] = i
            T.eq(load.global(mine, sh), k, "global number of the shard's j-th item")
          end
        end
        T.eq(mine, share)
        sum = sum + share
      end
      T.eq(sum, total)
      for k = 1, total do T.ok(seen[k], "item " .. k .. " in no shard") end
    end
  end
  T.eq(load.share(10, nil), 10)
  T.ok(load.mine(5, nil))
end)

local srv = mb.mock.start{ port = 0, seed = 3, profile = {
  builtin_models = false, any_model = true, default_model = "f",
  models = { f = { ttft_ms = 2, prefill_tok_s = 0, decode_tok_s = 1000 } } } }
local target = mb.target{ name = "emulated", url = srv.url }

local function ids(run)
  local out = {}
  for _, q in ipairs(run.per_request) do out[#out + 1] = q.i end
  table.sort(out)
  return out
end

T.test("closed loop: 3 shards send the single run's request numbers and prompts", function()
  local prompts = { "alpha", "beta beta", "gamma gamma gamma", "delta", "epsilon epsilon" }
  local function bench(shard)
    return mb.bench{ target = target, model = "f", prompts = prompts, max_tokens = 3,
                     requests = 17, concurrency = 4, warmup = 2, shard = shard }
  end
  local single = bench(nil)
  local all, inputs = {}, 0
  for i = 1, 3 do
    local run = bench(i .. "/3")
    T.eq(run.shard.requests, ({ 6, 6, 5 })[i])
    T.eq(run.shard.concurrency, ({ 2, 1, 1 })[i])
    T.eq(run.requests.warmup, 2, "each shard warms its own connections")
    for _, k in ipairs(ids(run)) do all[#all + 1] = k end
    inputs = inputs + run.tokens.input
  end
  table.sort(all)
  local want = ids(single)
  T.eq(#all, #want)
  for k = 1, #want do T.eq(all[k], want[k]) end
  T.eq(inputs, single.tokens.input, "the same prompts went out")
  T.eq(single.shard, nil)
  T.ok(type(single.started_unix) == "number" and single.started_at:match("^%d+%-%d+%-%d+T.*Z$"))
  T.ok(single.window.end_s > single.window.start_s)
end)

T.test("closed loop with a ramp of users: shards share the ramp", function()
  local function bench(shard)
    return mb.bench{ target = target, model = "f", prompt = "short", max_tokens = 2,
                     stages = { { duration = 0.6, concurrency = 5 } }, shard = shard }
  end
  local runs, total = {}, 0
  for i = 1, 2 do
    runs[i] = bench({ i, 2 })
    total = total + runs[i].requests.total
  end
  T.ok(runs[1].requests.total > 0 and runs[2].requests.total > 0)
  -- 3 of the 5 users are shard 1's: it sends more
  T.ok(runs[1].requests.total > runs[2].requests.total,
       runs[1].requests.total .. " vs " .. runs[2].requests.total)
end)

T.test("open loop: shards keep every n-th arrival; the union is the schedule", function()
  local plan = load.schedule{ rate = 50, arrival = "gamma", burstiness = 0.5, requests = 25, seed = 9 }
  local got = {}
  for i = 1, 4 do
    local run = mb.bench{ target = target, model = "f", prompt = "short", max_tokens = 2,
                          rate = 50, arrival = "gamma", burstiness = 0.5, requests = 25, seed = 9,
                          max_inflight = 5, shard = i .. "/4" }
    T.eq(run.shard.scheduled, load.share(25, { index = i, count = 4 }))
    T.eq(run.shard.schedule_total, 25)
    for _, q in ipairs(run.per_request) do
      T.eq((q.i - 1) % 4, i - 1)
      got[q.i] = q.scheduled_s
    end
  end
  for k = 1, #plan do T.near(got[k], plan[k], 1e-9, "arrival " .. k) end
end)

T.run()
srv:stop()
