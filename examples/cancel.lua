-- cancel.lua: users who stop a generation. A quarter of the requests are
-- cancelled mid-stream -- the client closes the connection -- after 0.5 s
-- (or --after tokens:N); the rest run to their end. Cancelled requests are
-- their own outcome (neither successes nor errors); the server should stop
-- generating for them and spend the capacity on the others. Against the
-- embedded emulator (the default) its trace shows each cancelled stream as
-- closed by the client, with the tokens it had sent by then.
--   mlxbench -I examples examples/cancel.lua [--url URL --model NAME]
--       [--rate 0.25] [--after 0.5|tokens:N] [-o results.json]
local mb = require "mlxbench"
local common = require "common"
local results = require "mlxbench.results"

local target, srv, opts = common.target({ ... }, {
  spec = {
    rate = { arg = "P", num = { 0, 1 }, help = "share of requests to cancel (default 0.25)" },
    after = { arg = "S|tokens:N", help = "when to cancel: seconds after the send, or after N streamed chunks (default 0.5)" },
    output = { short = "o", arg = "FILE", help = "write the results file" },
  },
  order = { "rate", "after", "output" },
})
local after = opts.after and (tonumber(opts.after) or opts.after) or 0.5

local run = mb.bench{
  name = "cancel " .. tostring(after), target = target, model = opts.model, prompt = "long",
  max_tokens = 128, ignore_eos = srv and true or nil, requests = 40, concurrency = 8, warmup = 0, seed = 21,
  cancel_rate = opts.rate or 0.25, cancel_after = after,
}
common.check({ run }, srv)
local rq = run.requests
print(string.format("%d requests: %d completed, %d cancelled by the client (%.0f%%), %d failed", rq.total, rq.ok,
  rq.cancelled or 0, 100 * (rq.cancelled or 0) / rq.total, rq.failed))
local cut = {}
for _, q in ipairs(run.per_request) do
  if q.cancelled then cut[#cut + 1] = q end
end
if #cut > 0 then
  local got, at = 0, 0
  for _, q in ipairs(cut) do got, at = got + (q.tokens_received or 0), at + q.cancel_s end
  print(string.format("cancelled after %.2f s on average, %.1f content events received each", at / #cut, got / #cut))
end
print(string.format("completed requests: TTFT p50 %s ms, E2E p50 %s ms, %.1f out tok/s",
  common.ms(run.metrics.ttft_s and run.metrics.ttft_s.p50), common.ms(run.metrics.e2e_s and run.metrics.e2e_s.p50),
  run.throughput.output_tok_s))
if srv then
  -- the server's side: streams it saw closed mid-way, and what it had sent
  local closed, sent = 0, 0
  for _, r in ipairs(srv:trace{ limit = 100000 }.requests) do
    if r.outcome == "client_closed" then closed, sent = closed + 1, sent + r.output_tokens end
  end
  print(string.format("emulator trace: %d streams closed by the client, after %.1f tokens each", closed,
    closed > 0 and sent / closed or 0))
  run.emulator = { client_closed = closed }
end
if opts.output then
  local doc = results.new()
  results.add(doc, run)
  results.write(doc, opts.output)
end
if srv then srv:stop() end
