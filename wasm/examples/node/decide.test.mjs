// node --test wasm/examples/node/decide.test.mjs
//
// Runs the example script on the README's request, and checks that misuse of the ABI gives
// error results (never a crash) and leaves the module usable. Needs the module
// (wasm/build.sh); without it the tests are skipped with the reason, unless
// TOLLGATE_REQUIRE_WASM is set (CI), when they fail. The Rust test tests/wasm/node.rs runs this
// file with TOLLGATE_EXPECTED_DECISION set to the native engine's decision JSON, which the
// example's output must equal byte for byte.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tollgate, TollgateError } from './tollgate.mjs';
import { defaultWasmPath, readPack } from './decide.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../../..');
const wasmPath = defaultWasmPath();
const missing = !existsSync(wasmPath);
if (missing && process.env.TOLLGATE_REQUIRE_WASM) {
  throw new Error(`TOLLGATE_REQUIRE_WASM is set, but there is no module at ${wasmPath}`);
}
const skip = missing ? `no module at ${wasmPath}: build it with wasm/build.sh` : false;
if (skip) console.log(`skipping: ${skip}`);

const AT = '2026-06-01T12:00:00Z';
const example = (name) => JSON.parse(readFileSync(join(repo, 'examples', name), 'utf8'));

async function loaded() {
  const tollgate = await Tollgate.instantiate(readFileSync(wasmPath));
  const pack = tollgate.load(readPack(join(repo, 'policies'), join(repo, 'schemas')));
  return { tollgate, handle: pack.handle, pack };
}

function errorKind(fn) {
  try {
    fn();
  } catch (e) {
    if (e instanceof TollgateError) return e.kind;
    throw e;
  }
  assert.fail('expected an error result');
}

test('the example script decides the README request', { skip }, () => {
  const out = execFileSync(process.execPath, [join(here, 'decide.mjs'), '--wasm', wasmPath, '--at', AT], {
    encoding: 'utf8',
  });
  const decision = JSON.parse(out);
  assert.equal(decision.tier, 'single');
  assert.equal(decision.approvals_required, 1);
  assert.deepEqual(
    decision.determining.map((p) => [p.id, p.effect, p.tier, p.source]),
    [['token-scope-single', 'permit', 'single', 'tokens.cedar:3']],
  );
  assert.deepEqual(decision.errors, []);
  assert.match(decision.request, /^sha256:[0-9a-f]{64}$/);
  assert.match(decision.policy_set, /^sha256:[0-9a-f]{64}$/);
  if (process.env.TOLLGATE_EXPECTED_DECISION) {
    assert.equal(out.trimEnd(), process.env.TOLLGATE_EXPECTED_DECISION);
  }
});

test('the script fails with a message, not a stack trace, when the time is not RFC 3339', { skip }, () => {
  assert.throws(
    () => execFileSync(process.execPath, [join(here, 'decide.mjs'), '--wasm', wasmPath, '--at', 'noon'], { stdio: 'pipe' }),
    (e) => e.status === 2 && /bad_input: `at`/.test(e.stderr.toString()),
  );
});

test('a pack is loaded once and decides many requests', { skip }, async () => {
  const { tollgate, handle, pack } = await loaded();
  assert.ok(pack.policies > 10);
  const first = tollgate.decide(handle, { request: example('request.json'), entities: example('entities.json'), at: AT });
  const deploy = tollgate.decide(handle, { request: example('deploy-request.json'), entities: example('entities.json'), at: AT });
  assert.equal(first.tier, 'single');
  assert.equal(deploy.tier, 'dual');
  assert.equal(first.policy_set, pack.policy_set);
});

test('misuse of the ABI is an error result and the module stays usable', { skip }, async () => {
  const { tollgate, handle } = await loaded();
  const good = JSON.stringify({ request: example('request.json'), entities: example('entities.json'), at: AT });
  const deep = `{"request": ${'['.repeat(10000)}${']'.repeat(10000)}}`;
  assert.equal(errorKind(() => tollgate.decideJson(handle + 1000, good)), 'bad_handle');
  assert.equal(errorKind(() => tollgate.decideJson(handle, '')), 'bad_input');
  assert.equal(errorKind(() => tollgate.decideJson(handle, new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]))), 'bad_input');
  assert.equal(errorKind(() => tollgate.decideJson(handle, good.slice(0, good.length / 2))), 'bad_input');
  assert.equal(errorKind(() => tollgate.decideJson(handle, deep)), 'too_deep');
  assert.equal(errorKind(() => tollgate.decideJson(handle, ' '.repeat(50 * 1024 * 1024))), 'too_large');
  const noTime = JSON.stringify({ request: example('request.json'), entities: example('entities.json') });
  assert.equal(errorKind(() => tollgate.decideJson(handle, noTime)), 'missing_at');
  assert.equal(errorKind(() => tollgate.lintJson(JSON.stringify({ policies: [] }))), 'missing_at');
  assert.equal(tollgate.info.lint, true);

  // Raw exports: a pointer the module never handed out, a double free, a zero-size allocation.
  const e = tollgate.exports;
  const take = (packed) => {
    const ptr = Number(packed >> 32n);
    const len = Number(packed & 0xffffffffn);
    const text = new TextDecoder().decode(new Uint8Array(e.memory.buffer, ptr, len));
    assert.equal(e.tollgate_free(ptr, len), 1);
    assert.equal(e.tollgate_free(ptr, len), 0, 'a second free is refused');
    return JSON.parse(text);
  };
  assert.equal(take(e.tollgate_decide(handle, 8, 64)).error.kind, 'bad_input');
  assert.equal(e.tollgate_alloc(0), 0);
  assert.equal(e.tollgate_unload(handle + 1000), 0);

  // Still usable, and deciding as before.
  assert.equal(tollgate.decideJson(handle, good), tollgate.decideJson(handle, good));
  assert.equal(JSON.parse(tollgate.decideJson(handle, good)).tier, 'single');
  assert.equal(tollgate.unload(handle), true);
  assert.equal(errorKind(() => tollgate.decideJson(handle, good)), 'bad_handle');
});
