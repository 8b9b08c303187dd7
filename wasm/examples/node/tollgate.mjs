// tollgate's WebAssembly module through the standard WebAssembly API: no glue code, no
// dependencies. Works in Node (>= 18) and, given the module's bytes, in browsers.
//
// The ABI (wasm/ABI.md): JSON in, JSON out. For each call the host allocates an input buffer in
// the module (tollgate_alloc), writes the UTF-8 JSON into it, calls the export, frees the input,
// reads the result at the packed (ptr << 32 | len) the export returned, and frees the result.

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** An `{"error": {"kind", "message", "problems"?}}` result of the module. */
export class TollgateError extends Error {
  constructor({ kind, message, problems }) {
    super(message);
    this.name = 'TollgateError';
    this.kind = kind;
    this.problems = problems ?? [];
  }
}

/**
 * Entities parsed and validated once for one pack (`Tollgate#prepareEntities`). Pass it as
 * `entitySet` to `decide` or `verify` on that pack instead of `entities`; release it when done.
 */
export class EntitySet {
  constructor(tollgate, handle, id, entities) {
    this.tollgate = tollgate;
    /** The pack it was prepared for. */
    this.handle = handle;
    /** The module's handle for the set. */
    this.id = id;
    /** How many entities were given. */
    this.entities = entities;
  }

  /** Forgets the set in the module; false if it was already released (or its pack unloaded). */
  release() {
    return this.tollgate.releaseEntities(this);
  }
}

/** `input` as the module reads it: `entitySet` (an EntitySet or its id) becomes `entity_set`. */
function withEntitySet(input) {
  if (input === null || typeof input !== 'object' || !('entitySet' in input)) return input;
  const { entitySet, ...rest } = input;
  return { ...rest, entity_set: entitySet instanceof EntitySet ? entitySet.id : entitySet };
}

export class Tollgate {
  /** Compiles and instantiates the module's bytes. */
  static async instantiate(bytes) {
    const { instance } = await WebAssembly.instantiate(bytes, {});
    return new Tollgate(instance);
  }

  constructor(instance) {
    this.exports = instance.exports;
    /** `{tollgate, abi, max_input_bytes, max_json_depth, max_text_depth, max_hierarchy_depth, lint, prepared_entities}` */
    this.info = JSON.parse(this.#take(this.exports.tollgate_version()));
    if (this.info.abi !== 1) {
      throw new Error(`the module speaks ABI ${this.info.abi}; this wrapper speaks 1`);
    }
  }

  /** Loads `{policies: [{name, text}], schemas: [{name, text}]}`; returns `{handle, policy_set, policies, warnings}`. */
  load(pack) {
    return JSON.parse(this.loadJson(JSON.stringify(pack)));
  }

  /**
   * Parses and validates `entities` (Cedar's entities JSON; null for none) once against the pack
   * under `handle`; returns an EntitySet for many decisions with that pack.
   */
  prepareEntities(handle, entities) {
    const out = JSON.parse(this.prepareEntitiesJson(handle, JSON.stringify({ entities: entities ?? null })));
    return new EntitySet(this, handle, out.entity_set, out.entities);
  }

  /** Forgets an EntitySet (or a set's id); false if there was none. */
  releaseEntities(set) {
    const id = set instanceof EntitySet ? set.id : set;
    return this.exports.tollgate_release_entities(id) === 1;
  }

  /**
   * Decides `{request, entities, at}` — or `{request, entitySet, at}` with an EntitySet of this
   * pack — with the pack under `handle`; returns the decision.
   */
  decide(handle, input) {
    return JSON.parse(this.decideJson(handle, JSON.stringify(withEntitySet(input))));
  }

  /** Verifies `{request, entities or entitySet, approvals, keyring, at}`; returns the verification. */
  verify(handle, input) {
    return JSON.parse(this.verifyJson(handle, JSON.stringify(withEntitySet(input))));
  }

  /** Forgets the pack under `handle` and the entity sets prepared for it; false if there was none. */
  unload(handle) {
    return this.exports.tollgate_unload(handle) === 1;
  }

  // The *Json forms take and return JSON text (a string, or bytes for the input), exactly as the
  // module reads and writes it.
  loadJson(input) {
    return this.#call((p, n) => this.exports.tollgate_load(p, n), input);
  }
  prepareEntitiesJson(handle, input) {
    return this.#call((p, n) => this.exports.tollgate_prepare_entities(handle, p, n), input);
  }
  decideJson(handle, input) {
    return this.#call((p, n) => this.exports.tollgate_decide(handle, p, n), input);
  }
  verifyJson(handle, input) {
    return this.#call((p, n) => this.exports.tollgate_verify(handle, p, n), input);
  }
  lintJson(input) {
    return this.#call((p, n) => this.exports.tollgate_lint(p, n), input);
  }

  #call(fn, input) {
    const bytes = typeof input === 'string' ? encoder.encode(input) : input;
    if (bytes.length > this.info.max_input_bytes) {
      throw new TollgateError({
        kind: 'too_large',
        message: `input is ${bytes.length} bytes; the module accepts at most ${this.info.max_input_bytes}`,
      });
    }
    let ptr = 0;
    if (bytes.length > 0) {
      // Addresses are unsigned 32-bit; JavaScript sees an i32 result as signed.
      ptr = this.exports.tollgate_alloc(bytes.length) >>> 0;
      if (ptr === 0) {
        throw new TollgateError({ kind: 'too_large', message: 'the module could not allocate the input' });
      }
      // A fresh view: memory.buffer is replaced whenever the module's memory grows.
      new Uint8Array(this.exports.memory.buffer, ptr, bytes.length).set(bytes);
    }
    let packed;
    try {
      packed = fn(ptr, bytes.length);
    } finally {
      if (ptr !== 0) this.exports.tollgate_free(ptr, bytes.length);
    }
    return this.#take(packed);
  }

  /** Reads the result at `packed` (a BigInt: ptr << 32 | len), frees it, throws on `{"error"}`. */
  #take(packed) {
    if (packed === 0n) {
      throw new TollgateError({ kind: 'poisoned', message: 'the module returned no result; instantiate it again' });
    }
    const ptr = Number(packed >> 32n);
    const len = Number(packed & 0xffffffffn);
    const text = decoder.decode(new Uint8Array(this.exports.memory.buffer, ptr, len));
    this.exports.tollgate_free(ptr, len);
    if (text.startsWith('{"error":')) {
      throw new TollgateError(JSON.parse(text).error);
    }
    return text;
  }
}
