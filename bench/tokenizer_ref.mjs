// bench/tokenizer_ref.mjs: the references' side of bench/tokenizer.sh, with
// the packages of tests/node.
//   node tokenizer_ref.mjs load FILE RUNS
//   node tokenizer_ref.mjs hf|tiktoken FILE CORPUS.jsonl RUNS
// Hugging Face tokenizers: encode() of the whole text, encodeBatch() of the
// texts (run with RAYON_NUM_THREADS=1: one thread, the Rust core's own
// loop); tiktoken: encode_ordinary() of the whole text, then of each text.
import { createRequire } from 'module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'tests', 'node', 'package.json'));
const [mode, file, corpus, runsArg] = process.argv.slice(2);

if (mode === 'load') {
  const { Tokenizer } = require('tokenizers');
  for (let r = 0; r < Number(corpus); r++) {
    const t0 = performance.now();
    Tokenizer.fromFile(file);
    console.log((performance.now() - t0).toFixed(1));
  }
  process.exit(0);
}
const texts = fs.readFileSync(corpus, 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l));
const whole = texts.join('\n');
const wholeBytes = Buffer.byteLength(whole);
const bytes = texts.reduce((a, t) => a + Buffer.byteLength(t), 0);
if (mode === 'hf') {
  const { Tokenizer } = require('tokenizers');
  const tok = Tokenizer.fromFile(file);
  for (let r = 0; r < Number(runsArg); r++) {
    const t0 = performance.now();
    const n = (await tok.encode(whole, null, { addSpecialTokens: false })).getIds().length;
    const t1 = performance.now();
    const enc = await tok.encodeBatch(texts, { addSpecialTokens: false });
    const t2 = performance.now();
    let m = 0;
    for (const e of enc) m += e.getIds().length;
    console.log((wholeBytes / 1e3 / (t1 - t0)).toFixed(3), (bytes / 1e3 / (t2 - t1)).toFixed(3), n, m);
  }
} else {
  const { Tiktoken } = require('tiktoken/lite');
  const j = JSON.parse(fs.readFileSync(file, 'utf8'));
  const enc = new Tiktoken(j.bpe_ranks, j.special_tokens, j.pat_str);
  for (let r = 0; r < Number(runsArg); r++) {
    const t0 = performance.now();
    const n = enc.encode_ordinary(whole).length;
    const t1 = performance.now();
    let m = 0;
    for (const t of texts) m += enc.encode_ordinary(t).length;
    const t2 = performance.now();
    console.log((wholeBytes / 1e3 / (t1 - t0)).toFixed(3), (bytes / 1e3 / (t2 - t1)).toFixed(3), n, m);
  }
  enc.free();
}
