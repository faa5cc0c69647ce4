// The sluice ABI v1 exports (sdk/ABI.md). A plugin's entry file re-exports this module.

import { out, hooksJSON, isRegistered, errorJSON, runRoute, runCacheKey, runRequest } from "./sluice";

const ERROR_FLAG: u64 = 0x80000000;

// The reusable input buffer handed out by sluice_alloc (a global, so the collector keeps it).
let inBuf = new ArrayBuffer(0);

function pack(isErr: bool): u64 {
  const v = ((<u64>changetype<usize>(out.buf)) << 32) | <u64>out.n;
  return isErr ? v | ERROR_FLAG : v;
}

export function sluice_abi_version(): i32 {
  return 1;
}

export function sluice_alloc(size: i32): u32 {
  if (size < 0) return 0;
  if (size > inBuf.byteLength || inBuf.byteLength == 0) {
    let n = 1024;
    while (n < size) n <<= 1;
    inBuf = new ArrayBuffer(n);
  }
  return <u32>changetype<usize>(inBuf);
}

export function sluice_hooks(): u64 {
  hooksJSON();
  return pack(false);
}

function checkInput(ptr: u32, n: u32): bool {
  const base = <u32>changetype<usize>(inBuf);
  if (ptr != base || n > <u32>inBuf.byteLength) {
    errorJSON(500, "abi_violation", "input outside the sluice_alloc buffer");
    return false;
  }
  return true;
}

function notRegistered(hook: string): u64 {
  errorJSON(500, "hook_not_registered", "hook " + hook + " is not registered");
  return pack(true);
}

export function sluice_init(ptr: u32, n: u32): u64 {
  out.reset();
  out.ascii("{}");
  return pack(false);
}

export function sluice_route(ptr: u32, n: u32): u64 {
  if (!isRegistered("route")) return notRegistered("route");
  if (!checkInput(ptr, n)) return pack(true);
  return pack(runRoute(<usize>ptr, <i32>n));
}

export function sluice_cache_key(ptr: u32, n: u32): u64 {
  if (!isRegistered("cache_key")) return notRegistered("cache_key");
  if (!checkInput(ptr, n)) return pack(true);
  return pack(runCacheKey(<usize>ptr, <i32>n));
}

export function sluice_on_request(ptr: u32, n: u32): u64 {
  if (!isRegistered("on_request")) return notRegistered("on_request");
  if (!checkInput(ptr, n)) return pack(true);
  return pack(runRequest(<usize>ptr, <i32>n));
}
