// The playground: edit a pack, a request, entities and a workflow; see the tier, the lint
// findings and what a batch of requests would need, all computed in the page by tollgate's
// WebAssembly module. No server: the page is static files.

import { defaultKeymap, history, historyKeymap } from '@codemirror/commands';
import { json } from '@codemirror/lang-json';
import { yaml } from '@codemirror/lang-yaml';
import { defaultHighlightStyle, syntaxHighlighting } from '@codemirror/language';
import { EditorSelection, EditorState, type Extension } from '@codemirror/state';
import { EditorView, highlightActiveLine, keymap, lineNumbers } from '@codemirror/view';

import defaults from '../build/defaults.json';
import { cedar } from './cedar';
import { append, fill, h } from './dom';
import { decodeState, encodeState, type State } from './share';
import { type Decision, type Finding, type Source, Tollgate, TollgateError } from './tollgate';

const SCHEMA_NAME = 'agents.cedarschema';
const WORKFLOW_NAME = 'workflow.yaml';
const DEBOUNCE_MS = 300;

type EditorKind = 'policy' | 'schema' | 'entities' | 'request' | 'workflow' | 'requests';

interface Editor {
  name: string;
  kind: EditorKind;
  view: EditorView;
  /** The editor's tab; `null` for the requests editor, which lives in its own panel. */
  tab: HTMLButtonElement | null;
}

const $ = (id: string): HTMLElement => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el;
};

let module: WebAssembly.Module;
let engine: Tollgate;
const editors: Editor[] = [];
let current: Editor | undefined;
let pack: { key: string; handle: number; error?: TollgateError } | undefined;
let prepared: { key: string; set: number | null; inline: unknown } | undefined;
let timer: number | undefined;

function language(kind: EditorKind): Extension {
  if (kind === 'policy' || kind === 'schema') return cedar;
  if (kind === 'workflow') return yaml();
  if (kind === 'requests') return [];
  return json();
}

function addEditor(name: string, kind: EditorKind, text: string, tabs: HTMLElement | null, into = $('editors')): Editor {
  const host = h('div', { class: 'editor', 'data-editor': name, hidden: tabs !== null });
  into.append(host);
  const view = new EditorView({
    parent: host,
    state: EditorState.create({
      doc: text,
      extensions: [
        lineNumbers(),
        history(),
        highlightActiveLine(),
        keymap.of([...defaultKeymap, ...historyKeymap]),
        syntaxHighlighting(defaultHighlightStyle),
        language(kind),
        EditorView.lineWrapping,
        EditorView.updateListener.of((u) => {
          if (u.docChanged) schedule();
        }),
      ],
    }),
  });
  const tab = tabs ? h('button', { class: `tab tab-${kind}`, role: 'tab', 'data-tab': name, onclick: () => show(editor) }, name) : null;
  if (tab) tabs?.append(tab);
  const editor: Editor = { name, kind, view, tab };
  editors.push(editor);
  return editor;
}

function show(editor: Editor): void {
  for (const e of editors) {
    if (!e.tab) continue;
    const active = e === editor;
    e.tab.setAttribute('aria-selected', String(active));
    (e.view.dom.parentElement as HTMLElement).hidden = !active;
  }
  current = editor;
}

function text(kind: EditorKind): string {
  return editors.find((e) => e.kind === kind)?.view.state.doc.toString() ?? '';
}

function policies(): Source[] {
  return editors.filter((e) => e.kind === 'policy').map((e) => ({ name: e.name, text: e.view.state.doc.toString() }));
}

/** Shows `file` (a tab's name) with `line` selected: the links of decisions and findings. */
function jump(file: string, line: number): void {
  const editor = editors.find((e) => e.name === file) ?? (file.endsWith('.cedarschema') ? editors.find((e) => e.kind === 'schema') : undefined);
  if (!editor) return;
  show(editor);
  const doc = editor.view.state.doc;
  const at = doc.line(Math.min(Math.max(1, line), doc.lines));
  editor.view.dispatch({ selection: EditorSelection.single(at.from, at.to), scrollIntoView: true });
  editor.view.focus();
}

function sourceLink(source: string): HTMLElement {
  const m = /^(.*):(\d+)$/.exec(source);
  if (!m) return h('span', {}, source);
  const [, file, line] = m;
  return h('a', { href: '#', class: 'source', 'data-source': source, onclick: (e: Event) => { e.preventDefault(); jump(file!, Number(line)); } }, source);
}

function schedule(): void {
  window.clearTimeout(timer);
  $('status').textContent = 'editing…';
  timer = window.setTimeout(() => void recompute(), DEBOUNCE_MS);
}

async function fresh(): Promise<void> {
  engine = await Tollgate.create(module);
  pack = undefined;
  prepared = undefined;
}

/** The pack loaded from the editors, loading it again only when its text changed. */
function loadPack(): { handle: number } | TollgateError {
  const sources = policies();
  const schemas = [{ name: SCHEMA_NAME, text: text('schema') }];
  const key = JSON.stringify([sources, schemas]);
  if (pack?.key !== key) {
    if (pack && !pack.error) engine.unload(pack.handle);
    prepared = undefined;
    try {
      pack = { key, handle: engine.load(sources, schemas).handle };
    } catch (e) {
      pack = { key, handle: 0, error: asError(e) };
    }
  }
  return pack.error ?? { handle: pack.handle };
}

function asError(e: unknown): TollgateError {
  return e instanceof TollgateError ? e : new TollgateError('input', String((e as Error)?.message ?? e));
}

function parseJson(kind: EditorKind): unknown {
  try {
    return JSON.parse(text(kind));
  } catch (e) {
    throw new TollgateError('bad_input', `${kind}: not JSON: ${(e as Error).message}`);
  }
}

/** `{entity_set}` when the module keeps prepared sets, else `{entities}` inline. */
function entitiesInput(handle: number): Record<string, unknown> {
  const raw = text('entities');
  const key = `${handle}\n${raw}`;
  if (prepared?.key !== key) {
    if (prepared?.set) engine.releaseEntities(prepared.set);
    prepared = undefined;
    const inline = parseJson('entities');
    prepared = { key, set: engine.prepareEntities(handle, inline), inline };
  }
  return prepared.set !== null ? { entity_set: prepared.set } : { entities: prepared.inline };
}

function at(): string {
  return ($('at') as HTMLInputElement).value.trim();
}

async function recompute(): Promise<void> {
  if (engine.dead) await fresh();
  $('status').textContent = '';
  try {
    renderDecision(decide());
  } catch (e) {
    renderDecision(asError(e));
  }
  try {
    renderFindings(lint());
  } catch (e) {
    renderFindings(asError(e));
  }
  if (!$('panel-simulate').hidden) simulate();
  if (engine.dead) await fresh();
}

function decide(): Decision {
  const loaded = loadPack();
  if (loaded instanceof TollgateError) throw loaded;
  const request = parseJson('request');
  return engine.decide(loaded.handle, { request, at: at(), ...entitiesInput(loaded.handle) });
}

function lint(): Finding[] {
  let entities: unknown = [];
  try {
    entities = JSON.parse(text('entities'));
  } catch {
    // The decision panel says what is wrong with the entities.
  }
  return engine.lint({
    policies: policies(),
    schemas: [{ name: SCHEMA_NAME, text: text('schema') }],
    workflows: text('workflow').trim() ? [{ name: WORKFLOW_NAME, text: text('workflow'), entities }] : [],
    at: at(),
  });
}

function renderDecision(d: Decision | TollgateError): void {
  const panel = $('decision');
  const badge = $('tier-badge');
  if (d instanceof TollgateError) {
    badge.className = 'badge badge-error';
    badge.textContent = 'error';
    fill(panel,
      h('p', { class: 'error', 'data-testid': 'decision-error' }, `${d.kind}: ${d.message}`),
      d.problems.length ? h('ul', { class: 'problems' }, ...d.problems.map((p) =>
        h('li', {}, sourceLink(`${p.file}:${p.line}`), ` ${p.code}: ${p.message}`, p.help ? h('div', { class: 'help' }, p.help) : null))) : null);
    return;
  }
  badge.className = `badge badge-${d.tier}`;
  badge.textContent = d.tier;
  const needs = d.approvals_required === null ? 'never allowed' : d.approvals_required === 0 ? 'runs without approval' : `${d.approvals_required} human approval${d.approvals_required > 1 ? 's' : ''} required`;
  fill(panel,
    h('p', { class: 'needs', 'data-testid': 'approvals' }, needs),
    h('h3', {}, 'Determining policies'),
    d.determining.length
      ? h('ul', { class: 'determining', 'data-testid': 'determining' }, ...d.determining.map((p) =>
        h('li', { 'data-policy': p.id },
          h('span', { class: `pill pill-${p.tier}` }, `${p.effect} · ${p.tier}`), ' ',
          h('strong', { class: 'policy-id' }, p.id), ' ', sourceLink(p.source),
          p.reason ? h('div', { class: 'reason', 'data-testid': 'reason' }, p.reason) : null,
          p.controls.length ? h('div', { class: 'controls' }, p.controls.join(' · ')) : null)))
      : h('p', { class: 'muted' }, 'No policy matched: denied by default.'),
    d.errors.length ? h('h3', {}, 'Errors (counted as applying: fail closed)') : null,
    d.errors.length ? h('ul', { class: 'errors' }, ...d.errors.map((e) => h('li', {}, h('strong', {}, e.policy), `: ${e.message}`))) : null,
    h('p', { class: 'hashes' }, h('span', {}, `request ${d.request}`), h('br'), h('span', {}, `policy set ${d.policy_set}`)),
  );
}

function renderFindings(findings: Finding[] | TollgateError): void {
  const panel = $('findings');
  const count = $('lint-count');
  if (findings instanceof TollgateError) {
    count.textContent = '!';
    fill(panel, h('p', { class: 'error' }, `${findings.kind}: ${findings.message}`),
      ...findings.problems.map((p) => h('p', {}, sourceLink(`${p.file}:${p.line}`), ` ${p.message}`)));
    return;
  }
  count.textContent = String(findings.length);
  if (findings.length === 0) {
    fill(panel, h('p', { class: 'muted', 'data-testid': 'lint-clean' }, 'No findings.'));
    return;
  }
  fill(panel, h('table', { class: 'findings', 'data-testid': 'lint-findings' },
    h('thead', {}, h('tr', {}, h('th', {}, 'severity'), h('th', {}, 'rule'), h('th', {}, 'where'), h('th', {}, 'message'))),
    h('tbody', {}, ...findings.map((f) => h('tr', { class: `sev-${f.severity}`, 'data-rule': f.rule },
      h('td', {}, f.severity),
      h('td', { class: 'rule' }, f.rule),
      h('td', {}, sourceLink(`${f.file}:${f.line}`)),
      h('td', {}, f.message, f.hint ? h('div', { class: 'help' }, f.hint) : null))))));
}

/** "What would require approval?": every line of the requests editor, counted by tier. */
function simulate(): void {
  const out = $('simulation');
  const loaded = loadPack();
  if (loaded instanceof TollgateError) {
    fill(out, h('p', { class: 'error' }, `${loaded.kind}: ${loaded.message}`));
    return;
  }
  let ents: Record<string, unknown>;
  try {
    ents = entitiesInput(loaded.handle);
  } catch (e) {
    fill(out, h('p', { class: 'error' }, asError(e).message));
    return;
  }
  const tiers = ['auto', 'single', 'dual', 'deny', 'error'] as const;
  const total: Record<string, number> = Object.fromEntries(tiers.map((t) => [t, 0]));
  const byAction = new Map<string, Record<string, number>>();
  const problems: HTMLElement[] = [];
  const lines = text('requests').split('\n');
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    let tier: string;
    let action = '(unreadable)';
    try {
      const request = JSON.parse(line);
      action = typeof request?.action === 'string' ? request.action : JSON.stringify(request?.action ?? null);
      tier = engine.decide(loaded.handle, { request, at: at(), ...ents }).tier;
    } catch (e) {
      tier = 'error';
      if (problems.length < 20) problems.push(h('li', {}, `line ${i + 1}: ${asError(e).message}`));
    }
    total[tier] = (total[tier] ?? 0) + 1;
    const row = byAction.get(action) ?? Object.fromEntries(tiers.map((t) => [t, 0]));
    row[tier] = (row[tier] ?? 0) + 1;
    byAction.set(action, row);
  });
  const n = tiers.reduce((s, t) => s + (total[t] ?? 0), 0);
  const pct = (k: number) => (n ? `${((100 * k) / n).toFixed(1)}%` : '—');
  fill(out,
    h('table', { class: 'summary', 'data-testid': 'simulation-summary' },
      h('thead', {}, h('tr', {}, h('th', {}, 'tier'), h('th', {}, 'requests'), h('th', {}, 'share'))),
      h('tbody', {}, ...tiers.map((t) => h('tr', { 'data-tier': t }, h('td', {}, h('span', { class: `pill pill-${t}` }, t)), h('td', { class: 'num' }, total[t] ?? 0), h('td', { class: 'num' }, pct(total[t] ?? 0)))),
        h('tr', { class: 'total' }, h('td', {}, 'all'), h('td', { class: 'num' }, n), h('td', {}, '')))),
    h('p', { class: 'muted' }, `Humans would approve ${total.single} request(s) once and ${total.dual} twice: ${(total.single ?? 0) + 2 * (total.dual ?? 0)} approvals in all.`),
    h('h3', {}, 'By action'),
    h('table', { class: 'summary' },
      h('thead', {}, h('tr', {}, h('th', {}, 'action'), ...tiers.map((t) => h('th', {}, t)))),
      h('tbody', {}, ...[...byAction.entries()].sort((a, b) => a[0].localeCompare(b[0])).map(([action, row]) =>
        h('tr', {}, h('td', {}, action), ...tiers.map((t) => h('td', { class: 'num' }, row[t] ?? 0)))))),
    problems.length ? h('ul', { class: 'errors' }, ...problems) : null,
  );
}

function state(): State {
  return {
    policies: policies(),
    schema: text('schema'),
    entities: text('entities'),
    request: text('request'),
    workflow: text('workflow'),
    requests: text('requests'),
    at: at(),
  };
}

async function share(): Promise<void> {
  const fragment = await encodeState(state());
  window.history.replaceState(null, '', `#${fragment}`);
  const link = location.href;
  $('status').textContent = `link in the address bar (${link.length} characters)`;
  try {
    await navigator.clipboard.writeText(link);
    $('status').textContent += ', copied';
  } catch {
    // No clipboard permission: the address bar has it.
  }
}

function addPolicyFile(): void {
  const name = window.prompt('File name', 'new.cedar');
  if (!name || !/^[A-Za-z0-9_.\-/]{1,128}$/.test(name) || editors.some((e) => e.name === name)) return;
  show(addEditor(name.endsWith('.cedar') ? name : `${name}.cedar`, 'policy', '', $('policy-tabs')));
  schedule();
}

function panel(name: 'decision' | 'lint' | 'simulate'): void {
  for (const p of ['decision', 'lint', 'simulate'] as const) {
    $(`panel-${p}`).hidden = p !== name;
    $(`show-${p}`).setAttribute('aria-selected', String(p === name));
  }
  if (name === 'simulate') simulate();
}

async function main(): Promise<void> {
  let initial: State = defaults as State;
  try {
    initial = (await decodeState(location.hash.slice(1))) ?? initial;
  } catch (e) {
    $('notice').textContent = `The link's state was not used: ${(e as Error).message}`;
    $('notice').hidden = false;
  }
  ($('at') as HTMLInputElement).value = initial.at;
  const policyTabs = $('policy-tabs');
  for (const p of initial.policies) addEditor(p.name, 'policy', p.text, policyTabs);
  const other = $('other-tabs');
  addEditor(SCHEMA_NAME, 'schema', initial.schema, other);
  addEditor('entities.json', 'entities', initial.entities, other);
  const request = addEditor('request.json', 'request', initial.request, other);
  addEditor(WORKFLOW_NAME, 'workflow', initial.workflow, other);
  // Edited in the "What would require approval?" panel, beside its results.
  addEditor('requests.jsonl', 'requests', initial.requests, null, $('requests-editor'));
  show(request);

  $('at').addEventListener('input', schedule);
  $('share').addEventListener('click', () => void share());
  $('add-policy').addEventListener('click', addPolicyFile);
  $('show-decision').addEventListener('click', () => panel('decision'));
  $('show-lint').addEventListener('click', () => panel('lint'));
  $('show-simulate').addEventListener('click', () => panel('simulate'));
  $('run-simulation').addEventListener('click', simulate);

  $('status').textContent = 'loading the module…';
  module = await WebAssembly.compileStreaming(fetch('tollgate.wasm'));
  await fresh();
  append($('version'), [`tollgate ${engine.info.tollgate}`]);
  await recompute();
  document.body.dataset.ready = 'true';
}

main().catch((e) => {
  $('status').textContent = `The playground could not start: ${(e as Error).message}`;
});
