#!/usr/bin/env node
// Decision latency of tollgate's WebAssembly module in Node, on the same files as the native
// `tollgate bench`:
//
//   node wasm/examples/node/bench.mjs [MODULE]
//   tollgate bench --requests examples/requests.jsonl --entities examples/entities.json --at 2026-06-01T12:00:00Z
//
// Loads the pack (--policies policies, --schema schemas) and prepares the entities
// (--entities examples/entities.json) once, then decides every line of --requests
// (examples/requests.jsonl: one Cedar request per line, blank lines skipped) at the fixed --at
// (2026-06-01T12:00:00Z), round after round for --time seconds (3) after a warm-up round.
// Each decision is one `decide` call of the wrapper: the input object serialised, the call, the
// decision parsed. For scale, the same requests with the entities inline (parsed and validated
// on every call, as before prepared sets) are timed for a third of the time.
//
// The module is MODULE, else --wasm, else $TOLLGATE_WASM, else target/wasm/tollgate.wasm.
// Prints one JSON object: {"decisions", "decide_us_p50", "decide_us_mean", "decide_us_p90",
// "decide_us_p99", "requests", "skipped", "inline_decide_us_p50", "inline_decide_us_mean"}.
// Requests the module refuses are counted in "skipped" and not timed.

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tollgate, TollgateError } from './tollgate.mjs';
import { defaultWasmPath, readPack } from './decide.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

function parseArgs(argv) {
  const options = {
    wasm: defaultWasmPath(),
    policies: 'policies',
    schema: 'schemas',
    requests: 'examples/requests.jsonl',
    entities: 'examples/entities.json',
    at: '2026-06-01T12:00:00Z',
    time: '3',
  };
  for (let i = 0; i < argv.length; i += 1) {
    if (!argv[i].startsWith('--')) {
      options.wasm = resolve(argv[i]);
      continue;
    }
    const key = argv[i].slice(2);
    if (!(key in options) || argv[i + 1] === undefined) {
      throw new Error(`unknown option or missing value: ${argv[i]}`);
    }
    options[key] = argv[i + 1];
    i += 1;
  }
  const time = Number(options.time);
  if (!(time > 0)) throw new Error(`--time: expected a positive number of seconds, got ${options.time}`);
  return { ...options, time };
}

/** Times `one(i)` for i cycling over 0..n for `seconds`, after one warm-up round. */
function measure(n, seconds, one) {
  for (let i = 0; i < n; i += 1) one(i);
  const samples = [];
  const end = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  for (let i = 0; ; i = (i + 1) % n) {
    const start = process.hrtime.bigint();
    one(i);
    const stop = process.hrtime.bigint();
    samples.push(Number(stop - start) / 1000);
    if (stop >= end) break;
  }
  samples.sort((a, b) => a - b);
  const pct = (p) => samples[Math.min(samples.length - 1, Math.max(0, Math.ceil(samples.length * p) - 1))];
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
  const round = (x) => Math.round(x * 10) / 10;
  return { decisions: samples.length, p50: round(pct(0.5)), mean: round(mean), p90: round(pct(0.9)), p99: round(pct(0.99)) };
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const tollgate = await Tollgate.instantiate(readFileSync(options.wasm));
  const { handle } = tollgate.load(readPack(resolve(repo, options.policies), resolve(repo, options.schema)));
  const entities = JSON.parse(readFileSync(resolve(repo, options.entities), 'utf8'));
  const entitySet = tollgate.prepareEntities(handle, entities);
  const lines = readFileSync(resolve(repo, options.requests), 'utf8').split('\n');
  const requests = [];
  let skipped = 0;
  for (const line of lines) {
    if (line.trim() === '') continue;
    try {
      const request = JSON.parse(line);
      tollgate.decide(handle, { request, entitySet, at: options.at });
      requests.push(request);
    } catch (e) {
      if (!(e instanceof TollgateError || e instanceof SyntaxError)) throw e;
      skipped += 1;
    }
  }
  if (requests.length === 0) throw new Error(`${options.requests}: no request could be decided`);
  const at = options.at;
  const prepared = measure(requests.length, options.time, (i) => tollgate.decide(handle, { request: requests[i], entitySet, at }));
  const inline = measure(requests.length, options.time / 3, (i) => tollgate.decide(handle, { request: requests[i], entities, at }));
  const result = {
    decisions: prepared.decisions,
    decide_us_p50: prepared.p50,
    decide_us_mean: prepared.mean,
    decide_us_p90: prepared.p90,
    decide_us_p99: prepared.p99,
    requests: requests.length,
    skipped,
    inline_decide_us_p50: inline.p50,
    inline_decide_us_mean: inline.mean,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((e) => {
  const what = e instanceof TollgateError ? `${e.kind}: ${e.message}` : e.message;
  process.stderr.write(`bench.mjs: ${what}\n`);
  process.exitCode = 2;
});
