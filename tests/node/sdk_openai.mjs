// The official openai-node SDK against the emulated server: streamed and
// non-streamed chat completions with and without usage, the stream helper,
// legacy completions, reasoning deltas, models, and typed errors.
import OpenAI from "openai";
import { URL, KEY, expect, expectThrows, faults, words, done } from "./common.mjs";

const SMALL = "mlx-community/Llama-3.2-3B-Instruct-4bit";
const client = new OpenAI({ baseURL: `${URL}/v1`, apiKey: KEY || "sk-none", maxRetries: 0 });
const messages = [{ role: "system", content: "You are terse." }, { role: "user", content: "Tell me a story." }];
const promptTokens = Math.ceil(("You are terse." + "Tell me a story.").length / 4);

await faults({ reset: true });

// models
const models = [];
for await (const m of client.models.list()) models.push(m.id);
expect("models.list has the three tiers", [SMALL, "mlx-community/Llama-3.1-8B-Instruct-4bit",
  "mlx-community/Llama-3.3-70B-Instruct-4bit"].every((m) => models.includes(m)), models);
const one = await client.models.retrieve(SMALL);
expect("models.retrieve", one.id === SMALL && one.object === "model");

// streamed with usage
let stream = await client.chat.completions.create({
  model: SMALL, messages, max_tokens: 20, stream: true, stream_options: { include_usage: true },
});
let text = "", contentChunks = 0, finish = null, usage = null, first = null;
for await (const chunk of stream) {
  if (!first) first = chunk;
  if (chunk.usage) usage = chunk.usage;
  const c = chunk.choices[0];
  if (!c) continue;
  if (c.delta.content) { text += c.delta.content; contentChunks++; }
  if (c.finish_reason) finish = c.finish_reason;
}
expect("stream: role chunk first", first.choices[0].delta.role === "assistant");
expect("stream: 20 content chunks", contentChunks === 20, contentChunks);
expect("stream: 20 words", words(text) === 20, text);
expect("stream: finish_reason length", finish === "length", finish);
expect("stream: usage exact", usage && usage.completion_tokens === 20 && usage.prompt_tokens === promptTokens &&
  usage.total_tokens === promptTokens + 20, usage);

// streamed without usage
stream = await client.chat.completions.create({ model: SMALL, messages, max_tokens: 20, stream: true });
let text2 = "", n2 = 0, usage2 = null;
for await (const chunk of stream) {
  if (chunk.usage) usage2 = chunk.usage;
  if (chunk.choices[0]?.delta.content) { text2 += chunk.choices[0].delta.content; n2++; }
}
expect("stream without usage: no usage, 20 events", usage2 === null && n2 === 20, { usage2, n2 });
expect("stream without usage: same text", text2 === text);

// non-streamed
const cc = await client.chat.completions.create({ model: SMALL, messages, max_tokens: 20 });
expect("create: parses", cc.object === "chat.completion" && cc.choices[0].message.role === "assistant");
expect("create: same text as the stream", cc.choices[0].message.content === text);
expect("create: usage", cc.usage.completion_tokens === 20 && cc.usage.prompt_tokens === promptTokens);
expect("create: finish_reason", cc.choices[0].finish_reason === "length");
const natural = await client.chat.completions.create({ model: SMALL, messages: [{ role: "user", content: "hi" }] });
expect("create without max_tokens: finish stop", natural.choices[0].finish_reason === "stop" &&
  natural.usage.completion_tokens === words(natural.choices[0].message.content));

// the SDK's stream helper accumulates a final completion
const helper = client.chat.completions.stream({ model: SMALL, messages, max_completion_tokens: 12,
  stream_options: { include_usage: true } });
let deltas = 0;
helper.on("content", () => deltas++);
const final = await helper.finalChatCompletion();
expect("stream helper: final message", words(final.choices[0].message.content) === 12 &&
  final.choices[0].finish_reason === "length" && final.usage.completion_tokens === 12, final.usage);
expect("stream helper: content events", deltas === 12, deltas);

// reasoning deltas (vLLM/llama.cpp-style reasoning_content) pass through
stream = await client.chat.completions.create({ model: "mock-reasoning", messages, max_tokens: 40, stream: true,
  stream_options: { include_usage: true } });
let reasoning = 0, content = 0, rusage = null;
for await (const chunk of stream) {
  if (chunk.usage) rusage = chunk.usage;
  const d = chunk.choices[0]?.delta;
  if (d?.reasoning_content) reasoning++;
  if (d?.content) content++;
}
expect("reasoning: 32 reasoning + 8 content deltas", reasoning === 32 && content === 8, { reasoning, content });
expect("reasoning: usage counts both", rusage.completion_tokens === 40 &&
  rusage.completion_tokens_details.reasoning_tokens === 32, rusage);

// legacy completions
const lc = await client.completions.create({ model: SMALL, prompt: "Once upon a time", max_tokens: 5 });
expect("completions.create", lc.object === "text_completion" && words(lc.choices[0].text) === 5 &&
  lc.usage.completion_tokens === 5);
let ltext = "", lusage = null;
for await (const c of await client.completions.create({ model: SMALL, prompt: "Once upon a time", max_tokens: 5,
  stream: true, stream_options: { include_usage: true } })) {
  if (c.usage) lusage = c.usage;
  if (c.choices[0]) ltext += c.choices[0].text;
}
expect("completions stream", ltext === lc.choices[0].text && lusage.completion_tokens === 5);

// typed errors
if (KEY) {
  const bad = new OpenAI({ baseURL: `${URL}/v1`, apiKey: "wrong", maxRetries: 0 });
  await expectThrows("wrong key", OpenAI.AuthenticationError,
    () => bad.chat.completions.create({ model: SMALL, messages, max_tokens: 2 }), (e) => e.status === 401);
}
await expectThrows("unknown model", OpenAI.NotFoundError,
  () => client.chat.completions.create({ model: "gpt-nope", messages, max_tokens: 2 }),
  (e) => e.status === 404 && e.code === "model_not_found");
await faults({ error_rate: 1, status: 429, retry_after: 0 });
await expectThrows("429", OpenAI.RateLimitError,
  () => client.chat.completions.create({ model: SMALL, messages, max_tokens: 2 }), (e) => e.status === 429);
await faults({ status: 503 });
await expectThrows("503", OpenAI.InternalServerError,
  () => client.chat.completions.create({ model: SMALL, messages, max_tokens: 2, stream: true }),
  (e) => e.status === 503);
await faults({ status: 500 });
await expectThrows("500", OpenAI.InternalServerError,
  () => client.chat.completions.create({ model: SMALL, messages, max_tokens: 2 }), (e) => e.status === 500);
await faults({ error_rate: 0, stream_error_rate: 1, stream_error_after: 3 });
let seen = 0;
await expectThrows("mid-stream error event", OpenAI.APIError, async () => {
  for await (const c of await client.chat.completions.create({ model: SMALL, messages, max_tokens: 10, stream: true })) {
    if (c.choices[0]?.delta.content) seen++;
  }
});
expect("mid-stream error after 3 tokens", seen === 3, seen);
await faults({ stream_error_rate: 0, disconnect_rate: 1, disconnect_after: 2 });
await expectThrows("disconnect mid-stream", Error, async () => {
  for await (const c of await client.chat.completions.create({ model: SMALL, messages, max_tokens: 10, stream: true })) {
    void c;
  }
});
await faults({ reset: true });
const again = await client.chat.completions.create({ model: SMALL, messages, max_tokens: 3 });
expect("faults off: next request ok", again.usage.completion_tokens === 3);

done();
