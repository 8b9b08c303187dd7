//! The exported functions: the C-style ABI of `wasm/ABI.md`.
//!
//! Memory rules, enforced here rather than trusted:
//! - Every buffer the host may touch comes from this module: inputs from `tollgate_alloc`,
//!   results from the calls. All of them are recorded in `BUFFERS` (address → length) until
//!   `tollgate_free`.
//! - A call reads its input only if `[ptr, ptr + len)` lies inside a recorded buffer, so a
//!   wrong, stale or forged pointer is an error result, never a read of freed or foreign memory.
//! - `tollgate_free` frees only an exact `(ptr, len)` it recorded and forgets it, so a double
//!   or partial free is a no-op that returns 0.
//! - Buffers are zeroed when allocated, so an input the host did not fully write is still
//!   initialised memory.
//!
//! The module is single-threaded (wasm32-unknown-unknown has no threads), and no export calls
//! back into the host, so no call runs while another is in progress.

use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::api::{Guest, lint, version};
use crate::error::AbiError;
use crate::limits::MAX_INPUT_BYTES;

thread_local! {
    static GUEST: RefCell<Guest> = const { RefCell::new(Guest::new()) };
    /// Live buffers handed to the host: address → length.
    static BUFFERS: RefCell<BTreeMap<usize, usize>> = const { RefCell::new(BTreeMap::new()) };
}

/// Allocates `len` zeroed bytes for an input and returns their address; 0 when `len` is 0 or
/// over the input cap, or memory is exhausted. Free with `tollgate_free(ptr, len)`.
#[unsafe(no_mangle)]
pub extern "C" fn tollgate_alloc(len: usize) -> usize {
    if len == 0 || len > MAX_INPUT_BYTES {
        return 0;
    }
    let Ok(layout) = Layout::array::<u8>(len) else {
        return 0;
    };
    // SAFETY: `layout` has a non-zero size (len > 0 above), which is all `alloc_zeroed` requires.
    let ptr = unsafe { alloc_zeroed(layout) };
    if ptr.is_null() {
        return 0;
    }
    let address = ptr as usize;
    if record(address, len) {
        address
    } else {
        // SAFETY: `ptr` was allocated just above with `layout` and was never handed out.
        unsafe { dealloc(ptr, layout) };
        0
    }
}

/// Frees a buffer from `tollgate_alloc` or a call's result. Returns 1 if freed, 0 if
/// `(ptr, len)` is not a live buffer of this module (nothing is freed then).
#[unsafe(no_mangle)]
pub extern "C" fn tollgate_free(ptr: usize, len: usize) -> u32 {
    let removed = BUFFERS.with(|buffers| match buffers.try_borrow_mut() {
        Ok(mut buffers) if buffers.get(&ptr) == Some(&len) => buffers.remove(&ptr).is_some(),
        _ => false,
    });
    let Ok(layout) = Layout::array::<u8>(len) else {
        return 0;
    };
    if !removed {
        return 0;
    }
    // SAFETY: `(ptr, len)` was in BUFFERS, which holds exactly the buffers this module
    // allocated with `Layout::array::<u8>(len)` (in `tollgate_alloc`, or as a boxed slice of
    // that layout in `into_result`) and has not freed. It was removed above, so it cannot be
    // freed twice, and no call is using it (calls do not overlap).
    unsafe { dealloc(ptr as *mut u8, layout) };
    1
}

/// Loads a pack: input `{"policies": [{"name", "text"}], "schemas": [...]}`. Returns the packed
/// result `{"handle", "policy_set", "policies", "warnings"}` or `{"error": ...}`.
#[unsafe(no_mangle)]
pub extern "C" fn tollgate_load(ptr: usize, len: usize) -> u64 {
    with_input(ptr, len, |input| {
        GUEST.with(|guest| match guest.try_borrow_mut() {
            Ok(mut guest) => guest.load(input),
            Err(_) => AbiError::Poisoned.to_json(),
        })
    })
}

/// Parses and validates entities once for the pack under `handle`: input `{"entities": [...]}`.
/// Returns the packed result `{"entity_set", "entities"}` or `{"error": ...}`.
#[unsafe(no_mangle)]
pub extern "C" fn tollgate_prepare_entities(handle: u32, ptr: usize, len: usize) -> u64 {
    with_input(ptr, len, |input| {
        GUEST.with(|guest| match guest.try_borrow_mut() {
            Ok(mut guest) => guest.prepare_entities(handle, input),
            Err(_) => AbiError::Poisoned.to_json(),
        })
    })
}

/// Forgets a prepared entity set. Returns 1 if there was one, 0 otherwise.
#[unsafe(no_mangle)]
pub extern "C" fn tollgate_release_entities(entity_set: u32) -> u32 {
    GUEST.with(|guest| match guest.try_borrow_mut() {
        Ok(mut guest) => u32::from(guest.release_entities(entity_set)),
        Err(_) => 0,
    })
}

/// Decides with the pack under `handle`: input `{"request", "entities" or "entity_set", "at"}`.
/// Returns the packed result: the decision JSON or `{"error": ...}`.
#[unsafe(no_mangle)]
pub extern "C" fn tollgate_decide(handle: u32, ptr: usize, len: usize) -> u64 {
    with_input(ptr, len, |input| {
        GUEST.with(|guest| match guest.try_borrow() {
            Ok(guest) => guest.decide(handle, input),
            Err(_) => AbiError::Poisoned.to_json(),
        })
    })
}

/// Verifies approvals with the pack under `handle`: input `{"request", "entities" or
/// "entity_set", "approvals", "keyring", "at"}`. Returns the packed result: the verification JSON or
/// `{"error": ...}`.
#[unsafe(no_mangle)]
pub extern "C" fn tollgate_verify(handle: u32, ptr: usize, len: usize) -> u64 {
    with_input(ptr, len, |input| {
        GUEST.with(|guest| match guest.try_borrow() {
            Ok(guest) => guest.verify(handle, input),
            Err(_) => AbiError::Poisoned.to_json(),
        })
    })
}

/// Lints pack sources: input `{"policies", "schemas", "workflows", "at"}`. Returns the packed
/// result: the findings array of `tollgate lint --format json`.
#[unsafe(no_mangle)]
pub extern "C" fn tollgate_lint(ptr: usize, len: usize) -> u64 {
    with_input(ptr, len, lint)
}

/// Forgets the pack under `handle` and the entity sets prepared for it. Returns 1 if there was
/// one, 0 otherwise.
#[unsafe(no_mangle)]
pub extern "C" fn tollgate_unload(handle: u32) -> u32 {
    GUEST.with(|guest| match guest.try_borrow_mut() {
        Ok(mut guest) => u32::from(guest.unload(handle)),
        Err(_) => 0,
    })
}

/// The packed result `{"tollgate", "abi", "max_input_bytes", "max_json_depth",
/// "max_text_depth", "max_hierarchy_depth", "lint", "prepared_entities"}`.
#[unsafe(no_mangle)]
pub extern "C" fn tollgate_version() -> u64 {
    into_result(version())
}

/// Runs `call` on the input bytes if `(ptr, len)` lies inside a live buffer (or `len` is 0),
/// and hands its output to the host.
fn with_input(ptr: usize, len: usize, call: impl FnOnce(&[u8]) -> Vec<u8>) -> u64 {
    let output = if len == 0 {
        call(&[])
    } else if inside_live_buffer(ptr, len) {
        // SAFETY: `[ptr, ptr + len)` lies inside a buffer this module allocated (zeroed, so
        // initialised) and has not freed (checked just above against BUFFERS). Nothing frees
        // or writes it while `call` runs: calls do not overlap and `call` does not free inputs.
        let input = unsafe { std::slice::from_raw_parts(ptr as *const u8, len) };
        call(input)
    } else {
        AbiError::BadPointer.to_json()
    };
    into_result(output)
}

fn inside_live_buffer(ptr: usize, len: usize) -> bool {
    BUFFERS.with(|buffers| {
        let Ok(buffers) = buffers.try_borrow() else {
            return false;
        };
        let Some((&start, &size)) = buffers.range(..=ptr).next_back() else {
            return false;
        };
        match (ptr.checked_add(len), start.checked_add(size)) {
            (Some(end), Some(buffer_end)) => end <= buffer_end,
            _ => false,
        }
    })
}

fn record(address: usize, len: usize) -> bool {
    BUFFERS.with(|buffers| match buffers.try_borrow_mut() {
        Ok(mut buffers) => {
            buffers.insert(address, len);
            true
        }
        Err(_) => false,
    })
}

/// Hands `output` to the host as `(address << 32) | length`; the host frees it. 0 only when
/// the buffer table is unusable after a trap (results are never empty).
fn into_result(output: Vec<u8>) -> u64 {
    let boxed = output.into_boxed_slice();
    let len = boxed.len();
    if len == 0 {
        return 0;
    }
    let ptr = Box::into_raw(boxed).cast::<u8>();
    let address = ptr as usize;
    if !record(address, len) {
        // SAFETY: `ptr` and `len` come from `Box::into_raw` of a boxed slice just above and
        // were never handed out; rebuilding the box frees it exactly once.
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len)) });
        return 0;
    }
    // wasm32: addresses and lengths are 32-bit, so both halves fit.
    ((address as u64) << 32) | len as u64
}
