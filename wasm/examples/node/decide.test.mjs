// node --test wasm/examples/node/decide.test.mjs
//
// Runs the example script on the README's request, and checks that misuse of the ABI gives
// error results (never a crash) and leaves the module usable. Needs the module
// (wasm/build.sh); without it the tests are skipped with the reason, unless
// TOLLGATE_REQUIRE_WASM is set (CI), when they fail. The Rust test tests/wasm/node.rs runs this
// file with TOLLGATE_EXPECTED_DECISION set to the native engine's decision JSON, which the
// example's output must equal byte for byte, and TOLLGATE_CASES to a JSON file of every case of
// policies/tests (Node has no YAML reader): `[{file, entities, cases: [{name, request, at}]}]`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EntitySet, Tollgate, TollgateError } from './tollgate.mjs';
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

/** The policies/tests cases from TOLLGATE_CASES, or the README's two requests without it. */
function caseFiles() {
  if (process.env.TOLLGATE_CASES) return JSON.parse(readFileSync(process.env.TOLLGATE_CASES, 'utf8'));
  return [
    {
      file: 'examples',
      entities: example('entities.json'),
      cases: ['request.json', 'deploy-request.json'].map((name) => ({ name, request: example(name), at: AT })),
    },
  ];
}

/** A call's JSON result, or its error as `kind: message`. */
function outcome(fn) {
  try {
    return fn();
  } catch (e) {
    if (e instanceof TollgateError) return `${e.kind}: ${e.message}`;
    throw e;
  }
}

test('prepared entities decide as the same entities inline, byte for byte', { skip }, async () => {
  const { tollgate, handle } = await loaded();
  let compared = 0;
  let decisions = 0;
  for (const file of caseFiles()) {
    // Entities that do not fit the pack are refused when prepared, with the message a decision
    // with them inline gives.
    const set = outcome(() => tollgate.prepareEntities(handle, file.entities));
    for (const c of file.cases) {
      const inline = outcome(() =>
        tollgate.decideJson(handle, JSON.stringify({ request: c.request, entities: file.entities, at: c.at })),
      );
      const prepared =
        set instanceof EntitySet
          ? outcome(() => tollgate.decideJson(handle, JSON.stringify({ request: c.request, entity_set: set.id, at: c.at })))
          : set;
      assert.equal(prepared, inline, `${file.file}: ${c.name}`);
      compared += 1;
      if (inline.startsWith('{"tier":')) decisions += 1;
    }
    if (set instanceof EntitySet) assert.equal(set.release(), true);
  }
  assert.ok(decisions >= 2, `only ${decisions} decisions compared`);
  if (process.env.TOLLGATE_CASES) assert.ok(compared >= 20, `only ${compared} cases compared`);
  // The object form: an EntitySet as `entitySet`, for decide and verify alike.
  const set = tollgate.prepareEntities(handle, example('entities.json'));
  const request = example('deploy-request.json');
  assert.deepEqual(
    tollgate.decide(handle, { request, entitySet: set, at: AT }),
    tollgate.decide(handle, { request, entities: example('entities.json'), at: AT }),
  );
  const approvals = { request, approvals: [], keyring: {}, at: AT };
  const verified = tollgate.verify(handle, { ...approvals, entitySet: set });
  assert.equal(verified.tier, 'dual');
  assert.deepEqual(verified, tollgate.verify(handle, { ...approvals, entities: example('entities.json') }));
});

test('an entity set belongs to its pack and ends with release or unload', { skip }, async () => {
  const { tollgate, handle } = await loaded();
  assert.equal(tollgate.info.prepared_entities, true);
  const other = tollgate.load(readPack(join(repo, 'policies'), join(repo, 'schemas'))).handle;
  const set = tollgate.prepareEntities(handle, example('entities.json'));
  assert.equal(set.entities, example('entities.json').length);
  const input = { request: example('request.json'), entitySet: set, at: AT };
  assert.equal(tollgate.decide(handle, input).tier, 'single');
  // Another pack, a set never prepared, both inline and prepared entities.
  assert.equal(errorKind(() => tollgate.decide(other, input)), 'bad_handle');
  assert.equal(errorKind(() => tollgate.decide(handle, { ...input, entitySet: set.id + 1000 })), 'bad_handle');
  assert.equal(errorKind(() => tollgate.decide(handle, { ...input, entities: [] })), 'bad_input');
  assert.equal(errorKind(() => tollgate.decide(handle, { ...input, entitySet: null })), 'bad_input');
  // Preparing for no pack, or entities that do not fit.
  assert.equal(errorKind(() => tollgate.prepareEntities(handle + 1000, [])), 'bad_handle');
  assert.equal(errorKind(() => tollgate.prepareEntities(handle, [{ uid: 1 }])), 'input');
  // Released: refused afterwards, released once; its id is not given out again.
  assert.equal(set.release(), true);
  assert.equal(set.release(), false);
  assert.equal(errorKind(() => tollgate.decide(handle, input)), 'bad_handle');
  const again = tollgate.prepareEntities(handle, example('entities.json'));
  assert.ok(again.id > set.id);
  // Unloading the pack releases its sets.
  assert.equal(tollgate.unload(handle), true);
  assert.equal(again.release(), false);
  assert.equal(tollgate.decide(other, { request: example('request.json'), entities: example('entities.json'), at: AT }).tier, 'single');
});
