// The playground's state in the URL fragment, so a reviewer can link a case in a PR comment.
//
// The fragment is written by whoever sends the link, so reading it is reading untrusted input:
// it is decompressed with a cap (1 MiB of JSON; a small link cannot inflate into gigabytes),
// checked field by field, and only ever shown as text (the page never uses innerHTML).

/** Decompressed state larger than this is refused. */
export const MAX_STATE_BYTES = 1024 * 1024;

export interface State {
  policies: { name: string; text: string }[];
  schema: string;
  entities: string;
  request: string;
  workflow: string;
  requests: string;
  at: string;
}

const KEYS: (keyof State)[] = ['policies', 'schema', 'entities', 'request', 'workflow', 'requests', 'at'];
const NAME = /^[A-Za-z0-9_.\-/]{1,128}$/;

/** `#s=<base64url of deflate-raw(JSON)>`. */
export async function encodeState(state: State): Promise<string> {
  const json = new TextEncoder().encode(JSON.stringify(state));
  const stream = new Blob([json]).stream().pipeThrough(new CompressionStream('deflate-raw'));
  const bytes = new Uint8Array(await new Response(stream).arrayBuffer());
  return `s=${toBase64Url(bytes)}`;
}

/** The state in `fragment` (without `#`), or `null` when there is none; throws on a bad one. */
export async function decodeState(fragment: string): Promise<State | null> {
  if (!fragment.startsWith('s=')) return null;
  const bytes = fromBase64Url(fragment.slice(2));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > MAX_STATE_BYTES) {
      await reader.cancel();
      throw new Error(`the link's state is over ${MAX_STATE_BYTES} bytes once decompressed`);
    }
    chunks.push(value);
  }
  const all = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return checkState(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(all)));
}

function checkState(value: unknown): State {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error('the link\'s state is not an object');
  }
  const v = value as Record<string, unknown>;
  for (const key of Object.keys(v)) {
    if (!(KEYS as string[]).includes(key)) throw new Error(`the link's state has an unknown field \`${key}\``);
  }
  const text = (key: keyof State): string => {
    const x = v[key];
    if (typeof x !== 'string') throw new Error(`the link's state: \`${key}\` must be text`);
    return x;
  };
  const policies = v.policies;
  if (!Array.isArray(policies) || policies.length === 0 || policies.length > 64) {
    throw new Error('the link\'s state: `policies` must list 1 to 64 files');
  }
  const files = policies.map((p, i) => {
    if (typeof p !== 'object' || p === null) throw new Error(`the link's state: policies[${i}] is not a file`);
    const { name, text: body } = p as Record<string, unknown>;
    if (typeof name !== 'string' || !NAME.test(name) || typeof body !== 'string') {
      throw new Error(`the link's state: policies[${i}] needs a name (letters, digits, . _ - /) and a text`);
    }
    return { name, text: body };
  });
  return {
    policies: files,
    schema: text('schema'),
    entities: text('entities'),
    request: text('request'),
    workflow: text('workflow'),
    requests: text('requests'),
    at: text('at'),
  };
}

function toBase64Url(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(text: string): Uint8Array<ArrayBuffer> {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error('the link\'s state is not base64url');
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4);
  const raw = atob(b64);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}
