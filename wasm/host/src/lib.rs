//! Run tollgate's WebAssembly module in-process on wasmtime.
//!
//! ```no_run
//! use tollgate_wasm_host::{Limits, WasmEngine};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let wasm = std::fs::read("target/wasm/tollgate.wasm")?;
//! let mut engine = WasmEngine::new(&wasm, Limits::default())?;
//! let pack = engine.load(r#"{"policies": [{"name": "p.cedar",
//!     "text": "@tier(\"auto\") permit(principal, action, resource);"}]}"#)?;
//! let decision = engine.decide(pack.handle, r#"{"request": {"principal": "Agent::\"a\"",
//!     "action": "Action::\"go\"", "resource": "R::\"r\""}, "at": "2026-06-01T12:00:00Z"}"#)?;
//! assert!(decision.starts_with(r#"{"tier":"auto""#));
//! # Ok(()) }
//! ```
//!
//! Entities that many decisions share are parsed and validated once with
//! [`WasmEngine::prepare_entities`]; [`WasmEngine::decide_prepared`] then sends only the request.
//!
//! The module runs in a sandbox with a memory cap and a fuel budget per call, so a hostile or
//! huge input costs an error, never a crash or a hang of the host. A call that traps (fuel
//! exhausted, memory cap hit, a panic inside the module) discards the instance; the next call
//! gets a fresh one, and packs are loaded (and entity sets prepared) into it again from the
//! inputs the host keeps, so pack and entity set handles stay valid.
//!
//! Compiling the module with Cranelift takes seconds (tens of seconds on a busy machine);
//! [`WasmModule`] holds a compiled module (`InstancePre`: imports resolved, exports
//! type-checked) from which engines are created in a fraction of a millisecond.
//! [`WasmEngine::new`] compiles once per distinct module bytes per process.
#![deny(missing_docs)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tollgate_wasm_contract::{ErrorKind, ErrorResult, LoadOutput, PreparedOutput};
use wasmtime::{
    Config, Engine, Instance, InstancePre, Linker, Memory, Module, ResourceLimiter, Store,
    StoreLimits, StoreLimitsBuilder, Trap, TypedFunc,
};

/// The ABI version this host speaks (`tollgate_version().abi`), the problems of a pack that does
/// not load, and what the module says about itself: defined once, with the module.
pub use tollgate_wasm_contract::{ABI_VERSION, ModuleInfo, Problem};

/// What one engine's module may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory cap in bytes. Growth beyond it fails inside the module, which then traps;
    /// the call returns [`HostError::MemoryLimit`].
    pub max_memory_bytes: usize,
    /// Fuel (roughly, WebAssembly instructions) for one call into the module. A call that needs
    /// more stops with [`HostError::FuelExhausted`]. Deterministic: the same input always passes
    /// or always fails, whatever the machine's load. Reloading a pack into a fresh instance
    /// after a trap is a call of its own, with its own budget.
    pub fuel_per_call: u64,
}

impl Default for Limits {
    /// 256 MiB of memory and 20 billion units of fuel per call (several seconds): loading the
    /// reference pack takes about 1% of that, a decision well under 0.1%.
    fn default() -> Self {
        Self {
            max_memory_bytes: 256 * 1024 * 1024,
            fuel_per_call: 20_000_000_000,
        }
    }
}

/// Why a call gave no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// The bytes are not a WebAssembly module wasmtime can compile.
    #[error("cannot compile the WebAssembly module: {0}")]
    Compile(String),
    /// The module lacks an export of the ABI, or could not be instantiated.
    #[error("cannot instantiate the tollgate module: {0}")]
    Instantiate(String),
    /// The module speaks another ABI version.
    #[error("the module speaks ABI version {found}; this host speaks {ABI_VERSION}")]
    AbiMismatch {
        /// The module's version.
        found: u32,
    },
    /// The input is over the module's cap; nothing was sent.
    #[error("input is {len} bytes; the module accepts at most {max}")]
    InputTooLarge {
        /// Its length.
        len: usize,
        /// The module's cap (`max_input_bytes`).
        max: usize,
    },
    /// The module could not allocate room for the input (memory cap reached).
    #[error("the module could not allocate {len} bytes for the input (memory limit)")]
    GuestAlloc {
        /// The input's length.
        len: usize,
    },
    /// The call used up its fuel. The instance was discarded.
    #[error("the call ran out of fuel ({limit} per call) and was stopped; the instance was reset")]
    FuelExhausted {
        /// The budget.
        limit: u64,
    },
    /// The module trapped after its memory reached the cap. The instance was discarded.
    #[error(
        "the module reached its memory limit ({limit} bytes) and stopped; the instance was reset"
    )]
    MemoryLimit {
        /// The cap.
        limit: usize,
    },
    /// The module trapped (a panic, a stack overflow on pathological input). The instance was
    /// discarded.
    #[error("the module trapped ({0}); the instance was reset")]
    Trap(String),
    /// The handle is not one this engine returned, or was unloaded.
    #[error("no pack is loaded under this handle in this engine")]
    UnknownPack,
    /// The entity set is not one this engine prepared, or was released (or its pack unloaded).
    #[error("no entity set is prepared under this handle in this engine")]
    UnknownEntitySet,
    /// The entities given to [`WasmEngine::prepare_entities`] are not one JSON value.
    #[error("the entities are not one JSON value: {0}")]
    EntitiesNotJson(String),
    /// The module answered `{"error": ...}`: the input was refused (see `kind`).
    #[error("{message}")]
    Guest {
        /// Stable kind: one of [`ErrorKind`](tollgate_wasm_contract::ErrorKind) as the module
        /// spells it (`bad_input`, `load`, `input`, ...; see `wasm/ABI.md`), kept as a string
        /// so that a kind a newer module adds still reads.
        kind: String,
        /// What was wrong.
        message: String,
        /// For `load`: every problem, with its file and position.
        problems: Vec<Problem>,
    },
    /// The module returned something outside the ABI (a bad pointer, not UTF-8, not JSON).
    #[error("the module returned a malformed result: {0}")]
    BadResult(String),
}

impl HostError {
    /// The module's error kind, for [`HostError::Guest`].
    pub fn guest_kind(&self) -> Option<&str> {
        match self {
            HostError::Guest { kind, .. } => Some(kind),
            _ => None,
        }
    }
}

/// A loaded pack, as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedPack {
    /// Pass this to [`WasmEngine::decide`] and [`WasmEngine::verify`].
    pub handle: PackHandle,
    /// `sha256:` of the canonical pack, as in every decision.
    pub policy_set: String,
    /// Number of policies.
    pub policies: usize,
    /// Cedar validation warnings (the pack loaded despite them).
    pub warnings: Vec<Problem>,
}

/// A pack loaded into one [`WasmEngine`]; meaningless to any other engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PackHandle {
    engine: u64,
    id: u32,
}

/// Entities prepared for one pack of one [`WasmEngine`], as the engine reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntitySet {
    /// Pass this to [`WasmEngine::decide_prepared`] and [`WasmEngine::verify_prepared`].
    pub handle: EntitySetHandle,
    /// How many entities were given.
    pub entities: usize,
}

/// Entities prepared for one pack of one [`WasmEngine`]; meaningless to any other engine, and
/// bound to the pack they were validated against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EntitySetHandle {
    engine: u64,
    pack: u32,
    id: u32,
}

impl EntitySetHandle {
    /// The pack the entities were prepared for.
    pub fn pack(&self) -> PackHandle {
        PackHandle {
            engine: self.engine,
            id: self.pack,
        }
    }
}

/// A compiled module, ready to instantiate. Cheap to clone; share it between threads and
/// create one [`WasmEngine`] per thread from it.
#[derive(Clone)]
pub struct WasmModule {
    pre: InstancePre<GuestState>,
}

impl std::fmt::Debug for WasmModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmModule").finish_non_exhaustive()
    }
}

/// A compiled module with the hash and the bytes it was compiled from.
struct Compiled {
    hash: u64,
    wasm: Arc<[u8]>,
    module: WasmModule,
}

/// Compiled modules by content, so that `WasmEngine::new` compiles each module once per process.
static COMPILED: Mutex<Vec<Compiled>> = Mutex::new(Vec::new());
/// Keep a handful: a process embeds one module, perhaps a few versions during a rollout.
const COMPILED_KEPT: usize = 4;

impl WasmModule {
    /// Compiles `wasm` (a `.wasm` binary) with fuel metering, and checks that it has the ABI's
    /// exports with the right signatures and imports nothing.
    pub fn compile(wasm: &[u8]) -> Result<Self, HostError> {
        let mut config = Config::new();
        config.consume_fuel(true);
        let engine = Engine::new(&config).map_err(|e| HostError::Compile(format!("{e:#}")))?;
        let module =
            Module::new(&engine, wasm).map_err(|e| HostError::Compile(format!("{e:#}")))?;
        // The module must be self-contained: wasm32-unknown-unknown imports nothing, and a
        // module that asks for host functions is not one of ours.
        let linker = Linker::new(&engine);
        let pre = linker
            .instantiate_pre(&module)
            .map_err(|e| HostError::Instantiate(format!("{e:#}")))?;
        for (name, ty) in EXPORTS {
            let found = module.get_export(name).and_then(|e| e.func().cloned());
            let ok = found.is_some_and(|f| {
                let params: Vec<String> = f.params().map(|p| p.to_string()).collect();
                let results: Vec<String> = f.results().map(|p| p.to_string()).collect();
                format!("({}) -> ({})", params.join(", "), results.join(", ")) == *ty
            });
            if !ok {
                return Err(HostError::Instantiate(format!(
                    "it does not export `{name}: {ty}`; is this tollgate's module?"
                )));
            }
        }
        Ok(Self { pre })
    }

    /// The compiled wasmtime module (fuel metering on), for hosts that drive the exports
    /// themselves. Stores made for it must be given fuel (`Store::set_fuel`) before any call.
    pub fn wasmtime_module(&self) -> &Module {
        self.pre.module()
    }

    /// The compiled module for `wasm`, compiling it only the first time these bytes are seen
    /// in this process.
    pub fn cached(wasm: &[u8]) -> Result<Self, HostError> {
        let mut hasher = DefaultHasher::new();
        wasm.hash(&mut hasher);
        let key = hasher.finish();
        let lookup = |cache: &[Compiled]| {
            cache
                .iter()
                .find(|c| c.hash == key && *c.wasm == *wasm)
                .map(|c| c.module.clone())
        };
        if let Some(found) = lookup(&COMPILED.lock().unwrap_or_else(|p| p.into_inner())) {
            return Ok(found);
        }
        // Compile without holding the lock; two threads racing compile twice, harmlessly.
        let module = Self::compile(wasm)?;
        let mut cache = COMPILED.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(found) = lookup(&cache) {
            return Ok(found);
        }
        if cache.len() >= COMPILED_KEPT {
            cache.remove(0);
        }
        cache.push(Compiled {
            hash: key,
            wasm: Arc::from(wasm),
            module: module.clone(),
        });
        Ok(module)
    }
}

const EXPORTS: [(&str, &str); 10] = [
    ("tollgate_alloc", "(i32) -> (i32)"),
    ("tollgate_free", "(i32, i32) -> (i32)"),
    ("tollgate_load", "(i32, i32) -> (i64)"),
    ("tollgate_decide", "(i32, i32, i32) -> (i64)"),
    ("tollgate_verify", "(i32, i32, i32) -> (i64)"),
    ("tollgate_lint", "(i32, i32) -> (i64)"),
    ("tollgate_unload", "(i32) -> (i32)"),
    ("tollgate_prepare_entities", "(i32, i32, i32) -> (i64)"),
    ("tollgate_release_entities", "(i32) -> (i32)"),
    ("tollgate_version", "() -> (i64)"),
];

/// The store's data: the memory cap, and whether the module was refused memory during the
/// current call (to tell a memory-limit trap from other traps).
struct GuestState {
    limits: StoreLimits,
    refused_growth: bool,
}

impl ResourceLimiter for GuestState {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.limits.memory_growing(current, desired, maximum)?;
        self.refused_growth |= !allowed;
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }
    fn tables(&self) -> usize {
        self.limits.tables()
    }
    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

/// One live instance of the module, the packs loaded into it and the entity sets prepared in it
/// (host id → module handle).
struct Live {
    store: Store<GuestState>,
    memory: Memory,
    alloc: TypedFunc<u32, u32>,
    free: TypedFunc<(u32, u32), u32>,
    load: TypedFunc<(u32, u32), u64>,
    decide: TypedFunc<(u32, u32, u32), u64>,
    verify: TypedFunc<(u32, u32, u32), u64>,
    lint: TypedFunc<(u32, u32), u64>,
    unload: TypedFunc<u32, u32>,
    prepare: TypedFunc<(u32, u32, u32), u64>,
    release: TypedFunc<u32, u32>,
    version: TypedFunc<(), u64>,
    loaded: BTreeMap<u32, u32>,
    prepared: BTreeMap<u32, u32>,
}

#[derive(Clone, Copy)]
enum Call {
    Load,
    Decide(u32),
    Verify(u32),
    Lint,
    Prepare(u32),
}

/// What an entity set was prepared from, to prepare it again in a fresh instance.
struct PreparedSource {
    pack: u32,
    input: Arc<[u8]>,
}

/// Engine ids, so that a handle from one engine is refused by another.
static NEXT_ENGINE: AtomicU64 = AtomicU64::new(1);

/// tollgate's module instantiated under limits, with the packs loaded into it.
///
/// Calls take `&mut self`: an engine serves one call at a time. For concurrency, create one
/// engine per thread from a shared [`WasmModule`] (well under a millisecond each).
pub struct WasmEngine {
    module: WasmModule,
    limits: Limits,
    id: u64,
    info: ModuleInfo,
    instance: Option<Live>,
    /// Every loaded pack's load input, to load it again into a fresh instance after a trap.
    packs: BTreeMap<u32, Arc<[u8]>>,
    last_pack: u32,
    /// Every prepared entity set's input and pack, to prepare it again after a trap.
    entity_sets: BTreeMap<u32, PreparedSource>,
    last_entity_set: u32,
    last_fuel_used: Option<u64>,
}

impl std::fmt::Debug for WasmEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmEngine")
            .field("limits", &self.limits)
            .field("info", &self.info)
            .field("packs", &self.packs.len())
            .field("entity_sets", &self.entity_sets.len())
            .finish_non_exhaustive()
    }
}

impl WasmEngine {
    /// Compiles `wasm` (once per process for the same bytes, see [`WasmModule::cached`]) and
    /// instantiates it under `limits`.
    pub fn new(wasm: &[u8], limits: Limits) -> Result<Self, HostError> {
        Self::from_module(&WasmModule::cached(wasm)?, limits)
    }

    /// Instantiates an already compiled module under `limits`: no compilation, well under a
    /// millisecond.
    pub fn from_module(module: &WasmModule, limits: Limits) -> Result<Self, HostError> {
        let mut instance = instantiate(module, limits)?;
        instance
            .store
            .set_fuel(limits.fuel_per_call)
            .map_err(|e| HostError::Instantiate(format!("{e:#}")))?;
        let raw = instance
            .call_version()
            .map_err(|e| trap_error(e, &instance, limits))??;
        let info: ModuleInfo = serde_json::from_slice(&raw)
            .map_err(|e| HostError::BadResult(format!("tollgate_version: {e}")))?;
        if info.abi != ABI_VERSION {
            return Err(HostError::AbiMismatch { found: info.abi });
        }
        Ok(Self {
            module: module.clone(),
            limits,
            id: NEXT_ENGINE.fetch_add(1, Ordering::Relaxed),
            info,
            instance: Some(instance),
            packs: BTreeMap::new(),
            last_pack: 0,
            entity_sets: BTreeMap::new(),
            last_entity_set: 0,
            last_fuel_used: None,
        })
    }

    /// What the module says about itself: versions, input caps, whether lint is built in.
    pub fn info(&self) -> &ModuleInfo {
        &self.info
    }

    /// The limits this engine runs under.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Fuel the last call into the module used, to size
    /// [`Limits::fuel_per_call`] from real inputs (for a call that trapped: until it stopped).
    pub fn last_fuel_used(&self) -> Option<u64> {
        self.last_fuel_used
    }

    /// Loads a pack: `{"policies": [{"name", "text"}], "schemas": [{"name", "text"}]}`, names
    /// relative to the policies folder (or the schema folder), as the CLI names them.
    pub fn load(&mut self, pack_json: &str) -> Result<LoadedPack, HostError> {
        let id = self.last_pack.checked_add(1).ok_or(HostError::Guest {
            kind: ErrorKind::Internal.as_str().into(),
            message: "every pack handle has been used; create a new engine".into(),
            problems: vec![],
        })?;
        let input: Arc<[u8]> = Arc::from(pack_json.as_bytes());
        let out = self.call(Call::Load, &input)?;
        let out: LoadOutput = serde_json::from_slice(&out)
            .map_err(|e| HostError::BadResult(format!("tollgate_load: {e}")))?;
        if let Some(instance) = &mut self.instance {
            instance.loaded.insert(id, out.handle);
        }
        self.last_pack = id;
        self.packs.insert(id, input);
        Ok(LoadedPack {
            handle: PackHandle {
                engine: self.id,
                id,
            },
            policy_set: out.policy_set,
            policies: out.policies,
            warnings: out.warnings,
        })
    }

    /// Decides `{"request", "entities", "at"}` with `pack`. Returns the decision JSON exactly as
    /// the module wrote it (compact; the native engine's `serde_json::to_string(&decision)`).
    pub fn decide(&mut self, pack: PackHandle, input_json: &str) -> Result<String, HostError> {
        let handle = self.guest_handle(pack)?;
        self.call(Call::Decide(handle), input_json.as_bytes())
            .and_then(into_string)
    }

    /// Verifies approvals: `{"request", "entities", "approvals", "keyring", "at"}` with `pack`.
    /// Returns the verification JSON (the CLI's `verify --format json`, compact).
    pub fn verify(&mut self, pack: PackHandle, input_json: &str) -> Result<String, HostError> {
        let handle = self.guest_handle(pack)?;
        self.call(Call::Verify(handle), input_json.as_bytes())
            .and_then(into_string)
    }

    /// Parses and validates `entities_json` (Cedar's entities JSON, an array; `null` for none)
    /// once against `pack`'s schema, for many [`WasmEngine::decide_prepared`] calls.
    ///
    /// The engine keeps the JSON until the set is released, to prepare it again in a fresh
    /// instance after a trap. Errors: the module's (`input` when the entities do not fit the
    /// pack, `too_deep`, `too_large`), or [`HostError::EntitiesNotJson`].
    pub fn prepare_entities(
        &mut self,
        pack: PackHandle,
        entities_json: &str,
    ) -> Result<EntitySet, HostError> {
        // Checked here so that the text wrapped below is one value, not fields spliced in.
        serde_json::from_str::<serde::de::IgnoredAny>(entities_json)
            .map_err(|e| HostError::EntitiesNotJson(e.to_string()))?;
        let id = self
            .last_entity_set
            .checked_add(1)
            .ok_or(HostError::Guest {
                kind: ErrorKind::Internal.as_str().into(),
                message: "every entity set handle has been used; create a new engine".into(),
                problems: vec![],
            })?;
        let input: Arc<[u8]> = Arc::from(format!("{{\"entities\":{entities_json}}}").as_bytes());
        let handle = self.guest_handle(pack)?;
        let out = self.prepare_in_instance(id, handle, &input)?;
        self.last_entity_set = id;
        self.entity_sets.insert(
            id,
            PreparedSource {
                pack: pack.id,
                input,
            },
        );
        Ok(EntitySet {
            handle: EntitySetHandle {
                engine: self.id,
                pack: pack.id,
                id,
            },
            entities: out.entities,
        })
    }

    /// Decides `{"request", "at"}` with the pack and entities of `entities`: as
    /// [`WasmEngine::decide`] with the entities inline, without parsing them again.
    pub fn decide_prepared(
        &mut self,
        entities: EntitySetHandle,
        input_json: &str,
    ) -> Result<String, HostError> {
        let (handle, set) = self.guest_entity_set(entities)?;
        let input = with_entity_set(input_json, set);
        self.call(Call::Decide(handle), input.as_bytes())
            .and_then(into_string)
    }

    /// Verifies `{"request", "approvals", "keyring", "at"}` with the pack and entities of
    /// `entities`: as [`WasmEngine::verify`] with the entities inline.
    pub fn verify_prepared(
        &mut self,
        entities: EntitySetHandle,
        input_json: &str,
    ) -> Result<String, HostError> {
        let (handle, set) = self.guest_entity_set(entities)?;
        let input = with_entity_set(input_json, set);
        self.call(Call::Verify(handle), input.as_bytes())
            .and_then(into_string)
    }

    /// Forgets a prepared entity set. Returns whether it was prepared (and not yet released).
    pub fn release_entities(&mut self, entities: EntitySetHandle) -> bool {
        if entities.engine != self.id || self.entity_sets.remove(&entities.id).is_none() {
            return false;
        }
        if let Some(set) = self
            .instance
            .as_mut()
            .and_then(|i| i.prepared.remove(&entities.id))
        {
            self.forget_in_guest(|i| i.release.clone(), set);
        }
        true
    }

    /// How many entity sets are prepared (not released, their packs loaded).
    pub fn entity_sets(&self) -> usize {
        self.entity_sets.len()
    }

    /// Lints pack sources: `{"policies", "schemas", "workflows", "at"}`; returns the findings
    /// array of `tollgate lint --format json` (see `wasm/ABI.md`).
    pub fn lint(&mut self, input_json: &str) -> Result<String, HostError> {
        self.call(Call::Lint, input_json.as_bytes())
            .and_then(into_string)
    }

    /// Forgets `pack` and the entity sets prepared for it. Returns whether it was loaded.
    pub fn unload(&mut self, pack: PackHandle) -> bool {
        if pack.engine != self.id || self.packs.remove(&pack.id).is_none() {
            return false;
        }
        // The module releases the pack's sets with it.
        let sets = &mut self.entity_sets;
        let released: Vec<u32> = sets
            .iter()
            .filter(|(_, s)| s.pack == pack.id)
            .map(|(&id, _)| id)
            .collect();
        for id in &released {
            sets.remove(id);
            if let Some(instance) = &mut self.instance {
                instance.prepared.remove(id);
            }
        }
        if let Some(handle) = self
            .instance
            .as_mut()
            .and_then(|i| i.loaded.remove(&pack.id))
        {
            self.forget_in_guest(|i| i.unload.clone(), handle);
        }
        true
    }

    /// Calls a forgetting export (`tollgate_unload`, `tollgate_release_entities`) on `handle`
    /// with a fresh fuel budget. Forgetting costs next to nothing; if it traps, the instance is
    /// dropped as after any trap.
    fn forget_in_guest(&mut self, export: fn(&Live) -> TypedFunc<u32, u32>, handle: u32) {
        let Some(instance) = &mut self.instance else {
            return;
        };
        let func = export(instance);
        let forgotten = instance
            .store
            .set_fuel(self.limits.fuel_per_call)
            .and_then(|()| func.call(&mut instance.store, handle));
        if forgotten.is_err() {
            self.instance = None;
        }
    }

    /// The module's handle for `pack` in the current instance, loading it again first if the
    /// instance is new since a trap.
    fn guest_handle(&mut self, pack: PackHandle) -> Result<u32, HostError> {
        if pack.engine != self.id {
            return Err(HostError::UnknownPack);
        }
        let source = self
            .packs
            .get(&pack.id)
            .cloned()
            .ok_or(HostError::UnknownPack)?;
        if let Some(handle) = self
            .instance
            .as_ref()
            .and_then(|i| i.loaded.get(&pack.id).copied())
        {
            return Ok(handle);
        }
        let out = self.call(Call::Load, &source)?;
        let out: LoadOutput = serde_json::from_slice(&out)
            .map_err(|e| HostError::BadResult(format!("tollgate_load: {e}")))?;
        if let Some(instance) = &mut self.instance {
            instance.loaded.insert(pack.id, out.handle);
        }
        Ok(out.handle)
    }

    /// The module's handles for the pack of `entities` and for the set itself in the current
    /// instance, loading the pack and preparing the set again first if the instance is new
    /// since a trap.
    fn guest_entity_set(&mut self, entities: EntitySetHandle) -> Result<(u32, u32), HostError> {
        if entities.engine != self.id {
            return Err(HostError::UnknownEntitySet);
        }
        let input = self
            .entity_sets
            .get(&entities.id)
            .filter(|s| s.pack == entities.pack)
            .map(|s| Arc::clone(&s.input))
            .ok_or(HostError::UnknownEntitySet)?;
        let handle = self.guest_handle(entities.pack())?;
        if let Some(set) = self
            .instance
            .as_ref()
            .and_then(|i| i.prepared.get(&entities.id).copied())
        {
            return Ok((handle, set));
        }
        let out = self.prepare_in_instance(entities.id, handle, &input)?;
        Ok((handle, out.entity_set))
    }

    /// Prepares `input` for the module's pack `handle` in the current instance and records the
    /// module's handle for it under the host's `id`.
    fn prepare_in_instance(
        &mut self,
        id: u32,
        handle: u32,
        input: &[u8],
    ) -> Result<PreparedOutput, HostError> {
        let out = self.call(Call::Prepare(handle), input)?;
        let out: PreparedOutput = serde_json::from_slice(&out)
            .map_err(|e| HostError::BadResult(format!("tollgate_prepare_entities: {e}")))?;
        if let Some(instance) = &mut self.instance {
            instance.prepared.insert(id, out.entity_set);
        }
        Ok(out)
    }

    /// One call with a fresh fuel budget: copies `input` in, runs the export, copies the result
    /// out and frees both buffers. An `{"error": ...}` result becomes [`HostError::Guest`]. A
    /// trap discards the instance.
    fn call(&mut self, call: Call, input: &[u8]) -> Result<Vec<u8>, HostError> {
        if input.len() > self.info.max_input_bytes {
            return Err(HostError::InputTooLarge {
                len: input.len(),
                max: self.info.max_input_bytes,
            });
        }
        let limits = self.limits;
        let instance = match &mut self.instance {
            Some(instance) => instance,
            empty => empty.insert(instantiate(&self.module, limits)?),
        };
        instance.store.data_mut().refused_growth = false;
        let result = instance
            .store
            .set_fuel(limits.fuel_per_call)
            .map_err(|e| HostError::Trap(format!("{e:#}")))
            .and_then(|()| {
                instance
                    .call(call, input)
                    .map_err(|e| trap_error(e, instance, limits))
            });
        self.last_fuel_used = instance
            .store
            .get_fuel()
            .ok()
            .map(|left| limits.fuel_per_call.saturating_sub(left));
        // Results are `{"tier"...}`, `{"handle"...}`, `{"outcome"...}` or `{"error":...}`: the
        // module writes compact JSON with `error` as the only key of an error result.
        let result = match result {
            Ok(Ok(out)) if out.starts_with(br#"{"error":"#) => Err(guest_error(&out)),
            Ok(result) => result,
            Err(trap) => Err(trap),
        };
        if let Err(e) = &result
            && !matches!(e, HostError::Guest { kind, .. } if kind != ErrorKind::Poisoned.as_str())
            && !matches!(
                e,
                HostError::GuestAlloc { .. } | HostError::InputTooLarge { .. }
            )
        {
            // A trap, a result outside the ABI, or a module that says its state is unusable:
            // start afresh on the next call.
            self.instance = None;
        }
        result
    }
}

/// `input` with `"entity_set": set` as its first field. Anything the module would refuse stays
/// refused: input that is not an object is passed unchanged, and an input that already names
/// `entities` or `entity_set` is refused by the module (both sources, or a duplicate key).
fn with_entity_set(input: &str, set: u32) -> String {
    let Some(rest) = input.trim_start().strip_prefix('{') else {
        return input.to_string();
    };
    let separator = if rest.trim_start().starts_with('}') {
        ""
    } else {
        ","
    };
    format!("{{\"entity_set\":{set}{separator}{rest}")
}

fn into_string(bytes: Vec<u8>) -> Result<String, HostError> {
    String::from_utf8(bytes).map_err(|e| HostError::BadResult(format!("not UTF-8: {e}")))
}

fn guest_error(out: &[u8]) -> HostError {
    match serde_json::from_slice::<ErrorResult>(out) {
        Ok(ErrorResult { error }) => HostError::Guest {
            kind: error.kind,
            message: error.message,
            problems: error.problems,
        },
        Err(e) => HostError::BadResult(format!("error result: {e}")),
    }
}

/// Classifies a wasmtime error from a call: fuel, memory cap, or another trap.
fn trap_error(e: wasmtime::Error, instance: &Live, limits: Limits) -> HostError {
    match e.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => HostError::FuelExhausted {
            limit: limits.fuel_per_call,
        },
        _ if instance.store.data().refused_growth => HostError::MemoryLimit {
            limit: limits.max_memory_bytes,
        },
        _ => HostError::Trap(format!("{e:#}")),
    }
}

fn instantiate(module: &WasmModule, limits: Limits) -> Result<Live, HostError> {
    let failed = |e: wasmtime::Error| HostError::Instantiate(format!("{e:#}"));
    let state = GuestState {
        limits: StoreLimitsBuilder::new()
            .memory_size(limits.max_memory_bytes)
            .instances(1)
            .memories(1)
            .tables(4)
            .table_elements(100_000)
            .build(),
        refused_growth: false,
    };
    let mut store = Store::new(module.pre.module().engine(), state);
    store.limiter(|s| s);
    store.set_fuel(limits.fuel_per_call).map_err(failed)?;
    let instance: Instance = module.pre.instantiate(&mut store).map_err(failed)?;
    let memory = instance
        .get_memory(&mut store, "memory")
        .ok_or_else(|| HostError::Instantiate("it exports no `memory`".into()))?;
    Ok(Live {
        alloc: instance
            .get_typed_func(&mut store, "tollgate_alloc")
            .map_err(failed)?,
        free: instance
            .get_typed_func(&mut store, "tollgate_free")
            .map_err(failed)?,
        load: instance
            .get_typed_func(&mut store, "tollgate_load")
            .map_err(failed)?,
        decide: instance
            .get_typed_func(&mut store, "tollgate_decide")
            .map_err(failed)?,
        verify: instance
            .get_typed_func(&mut store, "tollgate_verify")
            .map_err(failed)?,
        lint: instance
            .get_typed_func(&mut store, "tollgate_lint")
            .map_err(failed)?,
        unload: instance
            .get_typed_func(&mut store, "tollgate_unload")
            .map_err(failed)?,
        prepare: instance
            .get_typed_func(&mut store, "tollgate_prepare_entities")
            .map_err(failed)?,
        release: instance
            .get_typed_func(&mut store, "tollgate_release_entities")
            .map_err(failed)?,
        version: instance
            .get_typed_func(&mut store, "tollgate_version")
            .map_err(failed)?,
        memory,
        store,
        loaded: BTreeMap::new(),
        prepared: BTreeMap::new(),
    })
}

impl Live {
    /// `Err` is a trap (the instance is then unusable); `Ok(Err)` a result outside the ABI.
    fn call_version(&mut self) -> wasmtime::Result<Result<Vec<u8>, HostError>> {
        let packed = self.version.call(&mut self.store, ())?;
        self.take_result(packed)
    }

    /// `Err` is a trap (the instance is then unusable); `Ok(Err)` an ABI-level failure.
    fn call(&mut self, call: Call, input: &[u8]) -> wasmtime::Result<Result<Vec<u8>, HostError>> {
        let (ptr, len) = if input.is_empty() {
            (0, 0)
        } else {
            // The host checked the length against the module's cap, which fits in 32 bits.
            let Ok(len) = u32::try_from(input.len()) else {
                return Ok(Err(HostError::InputTooLarge {
                    len: input.len(),
                    max: u32::MAX as usize,
                }));
            };
            let ptr = self.alloc.call(&mut self.store, len)?;
            if ptr == 0 {
                return Ok(Err(HostError::GuestAlloc { len: input.len() }));
            }
            if self
                .memory
                .write(&mut self.store, ptr as usize, input)
                .is_err()
            {
                return Ok(Err(HostError::BadResult(
                    "tollgate_alloc returned a buffer outside memory".into(),
                )));
            }
            (ptr, len)
        };
        let packed = match call {
            Call::Load => self.load.call(&mut self.store, (ptr, len))?,
            Call::Decide(h) => self.decide.call(&mut self.store, (h, ptr, len))?,
            Call::Verify(h) => self.verify.call(&mut self.store, (h, ptr, len))?,
            Call::Lint => self.lint.call(&mut self.store, (ptr, len))?,
            Call::Prepare(h) => self.prepare.call(&mut self.store, (h, ptr, len))?,
        };
        if len != 0 {
            self.free.call(&mut self.store, (ptr, len))?;
        }
        self.take_result(packed)
    }

    /// Copies the result `(ptr << 32) | len` out of the module's memory and frees it.
    fn take_result(&mut self, packed: u64) -> wasmtime::Result<Result<Vec<u8>, HostError>> {
        if packed == 0 {
            return Ok(Err(HostError::Guest {
                kind: ErrorKind::Poisoned.as_str().into(),
                message: "the module returned no result; its state is unusable".into(),
                problems: vec![],
            }));
        }
        let (ptr, len) = ((packed >> 32) as u32, packed as u32);
        let start = ptr as usize;
        let Some(out) = self
            .memory
            .data(&self.store)
            .get(start..start.saturating_add(len as usize))
            .map(<[u8]>::to_vec)
        else {
            return Ok(Err(HostError::BadResult(
                "result pointer outside the module's memory".into(),
            )));
        };
        self.free.call(&mut self.store, (ptr, len))?;
        Ok(Ok(out))
    }
}

#[cfg(test)]
mod tests {
    use super::with_entity_set;

    #[test]
    fn the_entity_set_is_spliced_in_as_the_first_field() {
        assert_eq!(with_entity_set("{}", 3), r#"{"entity_set":3}"#);
        assert_eq!(with_entity_set(" { } ", 3), r#"{"entity_set":3 } "#);
        assert_eq!(
            with_entity_set(r#"  {"request": {}, "at": "x"}"#, 12),
            r#"{"entity_set":12,"request": {}, "at": "x"}"#
        );
        // Not an object: passed as it is, for the module to refuse.
        assert_eq!(with_entity_set("[1]", 3), "[1]");
        assert_eq!(with_entity_set("", 3), "");
    }
}
