#!/usr/bin/env node
// Decides the README's example request with tollgate's WebAssembly module, in-process:
//
//   wasm/build.sh                      # builds target/wasm/tollgate.wasm
//   node wasm/examples/node/decide.mjs
//
// Options (all optional): --wasm PATH (default $TOLLGATE_WASM, else target/wasm/tollgate.wasm),
// --policies DIR (policies), --schema DIR (schemas), --request FILE (examples/request.json),
// --entities FILE (examples/entities.json), --at RFC3339 (default: this machine's clock — the
// module has none). Paths are relative to the repository root. Prints the decision JSON.

import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tollgate, TollgateError } from './tollgate.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** Named texts the way the CLI names them: paths relative to `dir` with `/`, dot entries skipped. */
export function readFiles(dir, keep) {
  return readdirSync(dir, { recursive: true })
    .map((rel) => rel.split(sep).join('/'))
    .filter((rel) => !rel.split('/').some((part) => part.startsWith('.')))
    .filter((rel) => keep(rel) && statSync(join(dir, rel)).isFile())
    .sort()
    .map((name) => ({ name, text: readFileSync(join(dir, name), 'utf8') }));
}

export function readPack(policiesDir, schemaDir) {
  return {
    policies: readFiles(policiesDir, (n) => n.endsWith('.cedar')),
    schemas: readFiles(schemaDir, (n) => n.endsWith('.cedarschema') || n.endsWith('.cedarschema.json')),
  };
}

export function defaultWasmPath() {
  if (process.env.TOLLGATE_WASM) return resolve(process.env.TOLLGATE_WASM);
  return join(resolve(repo, process.env.CARGO_TARGET_DIR ?? 'target'), 'wasm', 'tollgate.wasm');
}

function parseArgs(argv) {
  const options = {
    wasm: defaultWasmPath(),
    policies: 'policies',
    schema: 'schemas',
    request: 'examples/request.json',
    entities: 'examples/entities.json',
    at: new Date().toISOString(),
  };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in options) || argv[i + 1] === undefined) {
      throw new Error(`unknown option or missing value: ${argv[i]}`);
    }
    options[key] = argv[i + 1];
  }
  return options;
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const tollgate = await Tollgate.instantiate(readFileSync(options.wasm));
  // Load once; decide as often as needed with the handle.
  const pack = tollgate.load(readPack(resolve(repo, options.policies), resolve(repo, options.schema)));
  const input = {
    request: JSON.parse(readFileSync(resolve(repo, options.request), 'utf8')),
    entities: JSON.parse(readFileSync(resolve(repo, options.entities), 'utf8')),
    at: options.at,
  };
  process.stdout.write(tollgate.decideJson(pack.handle, JSON.stringify(input)) + '\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    const what = e instanceof TollgateError ? `${e.kind}: ${e.message}` : e.message;
    process.stderr.write(`decide.mjs: ${what}\n`);
    process.exitCode = 2;
  });
}
