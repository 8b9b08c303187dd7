// The built playground in real Chromium (Debian's, driven by playwright-core): the tier badge
// follows the request, a late gate in a workflow shows up as a lint finding, every
// policies/tests case is decided as the CLI decides it, the batch table counts as `tollgate
// simulate` does, and a shared link can neither inject markup nor inflate without bound.
//
// Needs: `npm run build` (dist/), Chromium ($CHROMIUM, default /usr/bin/chromium) and the
// tollgate binary ($TOLLGATE_BIN, default ../target/debug/tollgate). Run: `npm test`.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { deflateRawSync } from 'node:zlib';
import * as esbuild from 'esbuild';
import { chromium } from 'playwright-core';
import YAML from 'yaml';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const repo = join(root, '..');
const dist = join(root, 'dist');
const results = join(root, 'test-results');
const tollgate = process.env.TOLLGATE_BIN ?? join(repo, 'target', 'debug', 'tollgate');
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';

let server;
let browser;
let base;

before(async () => {
  for (const [what, path] of [['the built playground (npm run build)', join(dist, 'index.html')], ['Chromium', executablePath], ['the tollgate binary', tollgate]]) {
    assert.ok(existsSync(path), `${what} is missing: ${path}`);
  }
  mkdirSync(results, { recursive: true });
  server = await esbuild.context({});
  const { port } = await server.serve({ servedir: dist, host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${port}/`;
  browser = await chromium.launch({ executablePath, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
});

after(async () => {
  await browser?.close();
  await server?.dispose();
});

/** A page of the playground, ready, failing the test on any dialog (an `alert` from injected markup). */
async function open(fragment = '') {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on('dialog', async (d) => {
    page.dialogSeen = `${d.type()}: ${d.message()}`;
    await d.dismiss();
  });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.errors = errors;
  await page.goto(base + fragment);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
  return page;
}

async function setEditor(page, name, text) {
  await page.click(`[data-tab="${name}"]`);
  const content = page.locator(`[data-editor="${name}"] .cm-content`);
  await content.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(text);
}

async function setAt(page, at) {
  await page.fill('#at', at);
}

/** The decision panel once it shows the request whose hash is `hash`. */
async function decisionFor(page, hash) {
  await page.waitForFunction((h) => document.querySelector('#decision .hashes')?.textContent?.includes(h), hash, { timeout: 15_000 });
  return page.evaluate(() => ({
    tier: document.querySelector('[data-testid="tier-badge"]').textContent,
    approvals: document.querySelector('[data-testid="approvals"]').textContent,
    determining: [...document.querySelectorAll('[data-testid="determining"] li')].map((li) => li.dataset.policy),
  }));
}

function cli(args, input) {
  try {
    return execFileSync(tollgate, args, { cwd: repo, input, encoding: 'utf8' });
  } catch (e) {
    if (e.status === 1 && e.stdout) return e.stdout; // decided, not auto
    throw e;
  }
}

function cliDecide(request, at) {
  return JSON.parse(cli(['decide', '--request', '-', '--entities', 'examples/entities.json', '--at', at, '--format', 'json'], JSON.stringify(request)));
}

function fragmentOf(state) {
  return '#s=' + deflateRawSync(Buffer.from(JSON.stringify(state))).toString('base64url');
}

function defaults() {
  return JSON.parse(readFileSync(join(root, 'build', 'defaults.json'), 'utf8'));
}

test('the tier badge follows the request, and a late gate in a workflow is a lint finding', async () => {
  const page = await open();
  const example = JSON.parse(readFileSync(join(repo, 'examples', 'request.json'), 'utf8'));
  assert.equal((await decisionFor(page, cliDecide(example, '2026-06-01T12:00:00Z').request)).tier, 'single');
  assert.equal(await page.textContent('[data-testid="lint-count"]'), '0');

  const read = { principal: 'Agent::"helper-bot"', action: 'Action::"summarize"', resource: 'Document::"incident-123"', context: { request_id: 'p1' } };
  await setEditor(page, 'request.json', JSON.stringify(read, null, 2));
  const auto = await decisionFor(page, cliDecide(read, '2026-06-01T12:00:00Z').request);
  assert.equal(auto.tier, 'auto');
  assert.equal(auto.approvals, 'runs without approval');

  // The workflow extends the session (auto, a privilege expansion), then deploys to production
  // (dual): the human gate comes after the privileges grew.
  const workflow = readFileSync(join(repo, 'policies', 'workflows', 'staging-maintenance.yaml'), 'utf8')
    .replace(`resource: 'Environment::"staging"'`, `resource: 'Environment::"prod"'`);
  await setEditor(page, 'workflow.yaml', workflow);
  await page.click('#show-lint');
  await page.waitForSelector('tr[data-rule="gate-after-expansion"]', { timeout: 15_000 });
  const where = await page.textContent('tr[data-rule="gate-after-expansion"] a.source');
  assert.match(where, /^workflow\.yaml:\d+$/);
  await page.click('tr[data-rule="gate-after-expansion"] a.source');
  assert.equal(await page.getAttribute('[data-tab="workflow.yaml"]', 'aria-selected'), 'true');
  await page.screenshot({ path: join(results, 'playground.png'), fullPage: true });
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('every policies/tests case is decided as the CLI decides it', async () => {
  const page = await open();
  let compared = 0;
  for (const file of readdirSync(join(repo, 'policies', 'tests')).filter((f) => f.endsWith('.yaml')).sort()) {
    const doc = YAML.parse(readFileSync(join(repo, 'policies', 'tests', file), 'utf8'));
    assert.equal(doc.entities, '../../examples/entities.json', `${file}: the playground's entities are the example's`);
    for (const c of doc.cases) {
      const at = String(c.at ?? doc.at);
      let expected;
      try {
        expected = cliDecide(c.request, at);
      } catch {
        continue; // a case whose request the CLI refuses: the page shows an error, nothing to compare
      }
      await setAt(page, at);
      await setEditor(page, 'request.json', JSON.stringify(c.request));
      const shown = await decisionFor(page, expected.request);
      assert.equal(shown.tier, expected.tier, `${file}: ${c.name}`);
      assert.deepEqual(shown.determining, expected.determining.map((d) => d.id), `${file}: ${c.name}`);
      compared += 1;
    }
  }
  assert.ok(compared >= 35, `compared ${compared} cases`);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('the batch table counts tiers as tollgate simulate does', async () => {
  const page = await open();
  await page.click('#show-simulate');
  await page.click('#run-simulation');
  const rows = await page.$$eval('[data-testid="simulation-summary"] tr[data-tier]', (trs) =>
    Object.fromEntries(trs.map((tr) => [tr.dataset.tier, Number(tr.children[1].textContent)])));
  const simulated = JSON.parse(cli(['simulate', '--requests', '-', '--entities', 'examples/entities.json', '--at', '2026-06-01T12:00:00Z', '--format', 'json'], defaults().requests));
  const s = simulated.summary.overall;
  assert.deepEqual(rows, { auto: s.auto, single: s.single, dual: s.dual, deny: s.deny, error: s.errors });
  assert.equal(s.total, 200);
  await page.close();
});

test('a shared link restores the case, and its text is shown as text', async () => {
  const state = defaults();
  const xss = '<img src=x onerror=alert(1)>';
  state.policies.push({
    name: 'xss.cedar',
    text: `@id("xss") @tier("dual") @reason("${xss}")\nforbid (principal, action == Action::"add_token_scope", resource);\n`,
  });
  const page = await open(fragmentOf(state));
  assert.equal(await page.isHidden('#notice'), true, await page.textContent('#notice'));
  await page.waitForSelector('[data-policy="xss"]');
  const reasons = await page.$$eval('[data-testid="reason"]', (els) => els.map((e) => e.textContent));
  assert.ok(reasons.includes(xss), JSON.stringify(reasons));
  assert.equal(await page.locator('#decision img').count(), 0);
  assert.equal(await page.textContent('[data-testid="tier-badge"]'), 'dual');
  assert.equal(page.dialogSeen, undefined);
  assert.equal(await page.locator('[data-tab="xss.cedar"]').count(), 1);
  // Sharing writes the same state back into the link.
  await page.click('#share');
  await page.waitForFunction(() => location.hash.startsWith('#s='));
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('a link that inflates past 1 MiB, or is not a state, is refused and the defaults load', async () => {
  const huge = { ...defaults(), request: 'x'.repeat(2 * 1024 * 1024) };
  for (const fragment of [fragmentOf(huge), '#s=not*base64', fragmentOf({ policies: [], extra: 1 })]) {
    const page = await open(fragment);
    assert.match(await page.textContent('#notice'), /was not used/);
    assert.equal(await page.textContent('[data-testid="tier-badge"]'), 'single');
    await page.close();
  }
});
