// Builds the playground into dist/: static files that work offline from any local web server.
//
//   node build.mjs            build
//   node build.mjs --serve    build, then serve dist/ on http://127.0.0.1:8000 (PORT to change)
//
// The module is $TOLLGATE_WASM when set, else what ../wasm/build.sh builds. The editors start
// with the reference pack, its schema, the example entities, request and a workflow, and the
// first requests of examples/requests.jsonl.

import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..');
const dist = join(here, 'dist');

function cedarFiles(dir) {
  const out = [];
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      if (name.startsWith('.')) continue;
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.cedar')) out.push(path);
    }
  };
  walk(dir);
  return out
    .map((path) => ({ name: relative(dir, path).split(sep).join('/'), text: readFileSync(path, 'utf8') }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}

function defaults() {
  const read = (rel) => readFileSync(join(repo, rel), 'utf8');
  return {
    policies: cedarFiles(join(repo, 'policies')),
    schema: read('schemas/agents.cedarschema'),
    entities: read('examples/entities.json'),
    request: read('examples/request.json'),
    workflow: read('policies/workflows/staging-maintenance.yaml'),
    requests: read('examples/requests.jsonl').split('\n').slice(0, 200).join('\n') + '\n',
    at: '2026-06-01T12:00:00Z',
  };
}

function modulePath() {
  if (process.env.TOLLGATE_WASM) return process.env.TOLLGATE_WASM;
  const out = execFileSync('bash', [join(repo, 'wasm', 'build.sh'), '--locked'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return out.toString().trim().split('\n').pop();
}

rmSync(dist, { recursive: true, force: true });
mkdirSync(join(here, 'build'), { recursive: true });
mkdirSync(dist, { recursive: true });
writeFileSync(join(here, 'build', 'defaults.json'), JSON.stringify(defaults()));
copyFileSync(modulePath(), join(dist, 'tollgate.wasm'));
for (const file of ['index.html', 'style.css']) copyFileSync(join(here, file), join(dist, file));
await esbuild.build({
  entryPoints: [join(here, 'src', 'main.ts')],
  bundle: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  outfile: join(dist, 'app.js'),
  logLevel: 'warning',
});
console.error(`built ${relative(process.cwd(), dist) || '.'}`);

if (process.argv.includes('--serve')) {
  const ctx = await esbuild.context({});
  const { hosts, port } = await ctx.serve({ servedir: dist, host: '127.0.0.1', port: Number(process.env.PORT ?? 8000) });
  console.log(`playground on http://${hosts[0]}:${port}/`);
}
