-- mlxbench.split: a request's time to first token, split between the
-- server and the rest, when the server reported its own timings (r.server,
-- read in C from llama.cpp's `timings`, Ollama's *_duration, LM Studio's
-- `stats`, Cerebras/Groq `time_info`, TGI and Server-Timing headers):
--
--   server_queue_s    what the server waited before working on it: its
--                     queue, and a model load it waited for
--   server_prefill_s  its prompt processing up to the first token
--   ttft_rest_s       TTFT - (queue + prefill): the network both ways, the
--                     server's HTTP layer and the client's own part
--
-- The three add up to the measured TTFT by construction; how small the
-- rest is answers "is it the client?" (compare it with the floor
-- `mlxbench calibrate` measures). A part the server did not report is
-- absent and counts as 0 in the rest's sum; a server that reports more
-- than the client measured (its clock and ours disagree, or it counts
-- differently) gives a negative rest, recorded as such per request and
-- counted per run. docs/METRICS.md, "Client vs server timing".
local M = {}

-- apply(r, stream): sets r.ttft_split = {server_queue_s, server_prefill_s,
-- ttft_rest_s} for a successful streamed request whose server reported a
-- queue or prefill time.
function M.apply(r, stream)
  local sv = r.server
  if not (r.ok and stream and sv and r.ttft_s) then return end
  if not sv.prefill_s and not sv.queue_s and not sv.load_s then return end
  local queue = (sv.queue_s or 0) + (sv.load_s or 0)
  local prefill = sv.prefill_s
  local split = {
    server_queue_s = (sv.queue_s or sv.load_s) and queue or nil,
    server_prefill_s = prefill,
  }
  split.ttft_rest_s = r.ttft_s - queue - (prefill or 0)
  r.ttft_split = split
end

return M
