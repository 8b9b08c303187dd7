// tollgate's WebAssembly module through the standard WebAssembly API (wasm/ABI.md): JSON in,
// JSON out. For each call the input is copied into a buffer the module allocates, the export
// runs, the input is freed, and the result is read at the packed (ptr << 32 | len) and freed.

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export interface Problem {
  code: string;
  file: string;
  line: number;
  column: number;
  policy?: string | null;
  message: string;
  help?: string | null;
}

/** A refusal of the module: `kind` is stable (wasm/ABI.md), `message` is for people. */
export class TollgateError extends Error {
  readonly kind: string;
  readonly problems: Problem[];
  constructor(kind: string, message: string, problems: Problem[] = []) {
    super(message);
    this.name = 'TollgateError';
    this.kind = kind;
    this.problems = problems;
  }
}

export interface DeterminingPolicy {
  id: string;
  effect: string;
  tier: string;
  reason: string | null;
  source: string;
  controls: string[];
}

export interface Decision {
  tier: 'auto' | 'single' | 'dual' | 'deny';
  approvals_required: number | null;
  determining: DeterminingPolicy[];
  errors: { policy: string; message: string }[];
  request: string;
  policy_set: string;
}

export interface Finding {
  rule: string;
  severity: string;
  message: string;
  file: string;
  line: number;
  column: number;
  policies: string[];
  hint?: string | null;
}

export interface Source {
  name: string;
  text: string;
}

interface Exports {
  memory: WebAssembly.Memory;
  tollgate_alloc(len: number): number;
  tollgate_free(ptr: number, len: number): number;
  tollgate_version(): bigint;
  tollgate_load(ptr: number, len: number): bigint;
  tollgate_decide(handle: number, ptr: number, len: number): bigint;
  tollgate_lint(ptr: number, len: number): bigint;
  tollgate_unload(handle: number): number;
  tollgate_prepare_entities?(handle: number, ptr: number, len: number): bigint;
  tollgate_release_entities?(set: number): number;
}

/** One instance of the module. A trap leaves it unusable: make a new one (`Tollgate.create`). */
export class Tollgate {
  private readonly x: Exports;
  readonly info: { tollgate: string; abi: number; max_input_bytes: number };
  dead = false;

  private constructor(instance: WebAssembly.Instance) {
    this.x = instance.exports as unknown as Exports;
    this.info = JSON.parse(this.take(this.x.tollgate_version()));
    if (this.info.abi !== 1) {
      throw new Error(`the module speaks ABI ${this.info.abi}; this page speaks 1`);
    }
  }

  static async create(module: WebAssembly.Module): Promise<Tollgate> {
    return new Tollgate(await WebAssembly.instantiate(module, {}));
  }

  get preparesEntities(): boolean {
    return typeof this.x.tollgate_prepare_entities === 'function';
  }

  load(policies: Source[], schemas: Source[]): { handle: number; policy_set: string; policies: number; warnings: Problem[] } {
    return JSON.parse(this.call((p, n) => this.x.tollgate_load(p, n), { policies, schemas }));
  }

  unload(handle: number): void {
    this.guard(() => this.x.tollgate_unload(handle));
  }

  /** Entities parsed and validated once, or `null` when the module cannot keep them. */
  prepareEntities(handle: number, entities: unknown): number | null {
    const prepare = this.x.tollgate_prepare_entities;
    if (!prepare) return null;
    const out = JSON.parse(this.call((p, n) => prepare(handle, p, n), { entities }));
    return out.entity_set as number;
  }

  releaseEntities(set: number): void {
    const release = this.x.tollgate_release_entities;
    if (release) this.guard(() => release(set));
  }

  decide(handle: number, input: Record<string, unknown>): Decision {
    return JSON.parse(this.call((p, n) => this.x.tollgate_decide(handle, p, n), input));
  }

  lint(input: Record<string, unknown>): Finding[] {
    return JSON.parse(this.call((p, n) => this.x.tollgate_lint(p, n), input));
  }

  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      // A trap (a RuntimeError): the instance's state is unknown from here on.
      this.dead = true;
      throw new TollgateError('trap', `the module trapped (${(e as Error).message}); it is started again`);
    }
  }

  private call(fn: (ptr: number, len: number) => bigint, input: unknown): string {
    const bytes = encoder.encode(JSON.stringify(input));
    if (bytes.length > this.info.max_input_bytes) {
      throw new TollgateError('too_large', `input is ${bytes.length} bytes; the module accepts at most ${this.info.max_input_bytes}`);
    }
    const packed = this.guard(() => {
      let ptr = 0;
      if (bytes.length > 0) {
        ptr = this.x.tollgate_alloc(bytes.length) >>> 0;
        if (ptr === 0) throw new TollgateError('too_large', 'the module could not allocate the input');
        // A fresh view: memory.buffer is replaced whenever the module's memory grows.
        new Uint8Array(this.x.memory.buffer, ptr, bytes.length).set(bytes);
      }
      try {
        return fn(ptr, bytes.length);
      } finally {
        if (ptr !== 0) this.x.tollgate_free(ptr, bytes.length);
      }
    });
    return this.take(packed);
  }

  private take(packed: bigint): string {
    if (packed === 0n) {
      this.dead = true;
      throw new TollgateError('poisoned', 'the module returned no result; it is started again');
    }
    const ptr = Number(packed >> 32n);
    const len = Number(packed & 0xffffffffn);
    const text = decoder.decode(new Uint8Array(this.x.memory.buffer, ptr, len));
    this.guard(() => this.x.tollgate_free(ptr, len));
    if (text.startsWith('{"error":')) {
      const { kind, message, problems } = JSON.parse(text).error;
      if (kind === 'poisoned') this.dead = true;
      throw new TollgateError(kind, message, problems ?? []);
    }
    return text;
  }
}
