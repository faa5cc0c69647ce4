// The AssemblyScript SDK for sluice plugins: typed views of the route, cache_key and on_request
// (policy) hook inputs, their outputs, and handler registration. The ABI exports are in abi.ts;
// a plugin's entry file re-exports them (`export * from ".../abi"`) and registers its handlers
// at top level (that code runs from _initialize). Same JSON rules as the Go SDK (json.ts).

import { Reader, Writer } from "./json";

export class Meta {
  requestId: string = "";
  endpoint: string = "";
  model: string = "";
  router: string = "";
  user: string = "";
  team: string = "";
  keyId: string = "";
  stream: bool = false;
  tokenEstimate: i64 = 0;
  maxTokens: i64 = 0;
  hasTemperature: bool = false;
  temperature: f64 = 0;
  headers: Map<string, string> = new Map<string, string>();
  nowMs: i64 = 0;

  // header returns the allow-listed request header name (lower case) or "".
  header(name: string): string {
    return this.headers.has(name) ? this.headers.get(name) : "";
  }
}

export class Candidate {
  id: string = "";
  provider: string = "";
  model: string = "";
  weight: f64 = 0;
  priority: i64 = 0;
  healthy: bool = false;
  ewmaMs: f64 = 0;
  inFlight: i64 = 0;
  errorRate: f64 = 0;
  priceIn: f64 = 0;
  priceOut: f64 = 0;
}

export class RouteInput {
  meta: Meta = new Meta();
  candidates: Candidate[] = [];
}

export class RouteOutput {
  // order lists candidate ids, best first; candidates left out are dropped, an empty order
  // keeps the host's order.
  order: string[] = [];
}

export class CacheKeyInput {
  meta: Meta = new Meta();
  key: string = "";
  lastUser: string = "";
  system: string = "";
}

export class CacheKeyOutput {
  key: string = "";
  skip: bool = false;
  buckets: i32 = 0;
}

export class RequestInput {
  meta: Meta = new Meta();
  bodyPtr: usize = 0;
  bodyLen: i32 = 0;

  // body is the request body's raw JSON text.
  body(): string {
    return String.UTF8.decodeUnsafe(this.bodyPtr, <usize>this.bodyLen);
  }
}

export class Decision {
  action: string = "allow";
  status: i32 = 0;
  code: string = "";
  message: string = "";
  body: string = ""; // raw JSON, for a rewrite
}

export function allow(): Decision {
  return new Decision();
}

export function reject(status: i32, code: string, message: string): Decision {
  const d = new Decision();
  d.action = "reject";
  d.status = status;
  d.code = code;
  d.message = message;
  return d;
}

export function rewrite(body: string): Decision {
  const d = new Decision();
  d.action = "rewrite";
  d.body = body;
  return d;
}

// HookError is returned by a handler (through fail) to answer with an error payload.
let failStatus: i32 = 0;
let failCode = "";
let failMessage = "";

// fail makes the current call answer with an error payload instead of its output.
export function fail(status: i32, code: string, message: string): void {
  failStatus = status;
  failCode = code;
  failMessage = message;
}

let routeFn: (i: RouteInput) => RouteOutput = (i: RouteInput): RouteOutput => new RouteOutput();
let cacheKeyFn: (i: CacheKeyInput) => CacheKeyOutput = (i: CacheKeyInput): CacheKeyOutput => new CacheKeyOutput();
let requestFn: (i: RequestInput) => Decision = (i: RequestInput): Decision => new Decision();
let registered: string[] = [];

export function handleRoute(fn: (i: RouteInput) => RouteOutput): void {
  routeFn = fn;
  registered.push("route");
}

export function handleCacheKey(fn: (i: CacheKeyInput) => CacheKeyOutput): void {
  cacheKeyFn = fn;
  registered.push("cache_key");
}

export function handleRequest(fn: (i: RequestInput) => Decision): void {
  requestFn = fn;
  registered.push("on_request");
}

export function isRegistered(hook: string): bool {
  return registered.includes(hook);
}

export const out = new Writer();

export function hooksJSON(): void {
  out.reset();
  out.byte(0x5b);
  for (let i = 0; i < registered.length; i++) {
    if (i > 0) out.byte(0x2c);
    out.string(registered[i]);
  }
  out.byte(0x5d);
}

// errorJSON writes the error payload and reports true.
export function errorJSON(status: i32, code: string, message: string): bool {
  out.reset();
  out.ascii('{"status":');
  out.int(status);
  out.ascii(status >= 500 ? ',"type":"api_error","code":' : ',"type":"invalid_request_error","code":');
  out.string(code);
  out.ascii(',"message":');
  out.string(message);
  out.byte(0x7d);
  return true;
}

// Known keys of each object, for duplicate detection (a bit per key) and dispatch.
const metaKeys = ["request_id", "endpoint", "model", "router", "user", "team", "key_id", "stream",
  "token_estimate", "max_tokens", "temperature", "headers", "now_ms"];
const candKeys = ["id", "provider", "model", "weight", "priority", "healthy", "ewma_ms", "in_flight",
  "error_rate", "price_in", "price_out"];

class Seen {
  known: u64 = 0;
  unknown: string[] = [];

  // dup records key and reports whether the object had it already.
  dup(idx: i32, key: string): bool {
    if (idx >= 0) {
      const bit = (<u64>1) << <u64>idx;
      const d = (this.known & bit) != 0;
      this.known |= bit;
      return d;
    }
    if (this.unknown.includes(key)) return true;
    this.unknown.push(key);
    return false;
  }
}

function member(r: Reader, n: i32, keys: string[], seen: Seen): i32 {
  const k = r.key();
  if (!r.ok()) return -2;
  const idx = keys.indexOf(k);
  if (seen.dup(idx, k)) {
    r.fail("duplicate key " + k);
    return -2;
  }
  return idx;
}

function readMeta(r: Reader, m: Meta): void {
  if (r.isNull()) return;
  if (!r.open(0x7b)) return;
  const seen = new Seen();
  for (let n = 0; r.next(n, 0x7d); n++) {
    const idx = member(r, n, metaKeys, seen);
    if (idx == -2) return;
    if (idx == 0) m.requestId = r.str();
    else if (idx == 1) m.endpoint = r.str();
    else if (idx == 2) m.model = r.str();
    else if (idx == 3) m.router = r.str();
    else if (idx == 4) m.user = r.str();
    else if (idx == 5) m.team = r.str();
    else if (idx == 6) m.keyId = r.str();
    else if (idx == 7) m.stream = r.bool();
    else if (idx == 8) m.tokenEstimate = r.int();
    else if (idx == 9) m.maxTokens = r.int();
    else if (idx == 10) {
      if (r.isNull()) {
        m.hasTemperature = false;
      } else {
        m.temperature = r.float();
        m.hasTemperature = true;
      }
    } else if (idx == 11) {
      if (r.isNull() || !r.open(0x7b)) continue;
      for (let hn = 0; r.next(hn, 0x7d); hn++) {
        const k = r.key();
        if (!r.ok()) return;
        if (m.headers.has(k)) {
          r.fail("duplicate key " + k);
          return;
        }
        m.headers.set(k, r.str());
      }
    } else if (idx == 12) m.nowMs = r.int();
    else r.skip();
  }
}

function readCandidate(r: Reader, c: Candidate): void {
  if (r.isNull()) return;
  if (!r.open(0x7b)) return;
  const seen = new Seen();
  for (let n = 0; r.next(n, 0x7d); n++) {
    const idx = member(r, n, candKeys, seen);
    if (idx == -2) return;
    if (idx == 0) c.id = r.str();
    else if (idx == 1) c.provider = r.str();
    else if (idx == 2) c.model = r.str();
    else if (idx == 3) c.weight = r.float();
    else if (idx == 4) c.priority = r.int();
    else if (idx == 5) c.healthy = r.bool();
    else if (idx == 6) c.ewmaMs = r.float();
    else if (idx == 7) c.inFlight = r.int();
    else if (idx == 8) c.errorRate = r.float();
    else if (idx == 9) c.priceIn = r.float();
    else if (idx == 10) c.priceOut = r.float();
    else r.skip();
  }
}

const routeKeys = ["meta", "candidates"];
const cacheKeyKeys = ["meta", "key", "last_user", "system"];
const requestKeys = ["meta", "body"];

function reset(): void {
  failStatus = 0;
  failCode = "";
  failMessage = "";
}

// The run functions decode the input at ptr, call the handler and leave the output (or the
// error payload, returning true) in out.

export function runRoute(ptr: usize, n: i32): bool {
  const r = new Reader(ptr, <usize>n);
  const input = new RouteInput();
  if (r.open(0x7b)) {
    const seen = new Seen();
    for (let i = 0; r.next(i, 0x7d); i++) {
      const idx = member(r, i, routeKeys, seen);
      if (idx == -2) break;
      if (idx == 0) readMeta(r, input.meta);
      else if (idx == 1) {
        if (r.isNull() || !r.open(0x5b)) continue;
        for (let j = 0; r.next(j, 0x5d); j++) {
          const c = new Candidate();
          readCandidate(r, c);
          input.candidates.push(c);
        }
      } else r.skip();
    }
  }
  const err = r.finish();
  if (err !== null) return errorJSON(400, "invalid_hook_input", "route: " + err);
  reset();
  const o = routeFn(input);
  if (failStatus != 0) return errorJSON(failStatus, failCode, failMessage);
  out.reset();
  out.ascii('{"order":[');
  for (let i = 0; i < o.order.length; i++) {
    if (i > 0) out.byte(0x2c);
    out.string(o.order[i]);
  }
  out.ascii("]}");
  return false;
}

export function runCacheKey(ptr: usize, n: i32): bool {
  const r = new Reader(ptr, <usize>n);
  const input = new CacheKeyInput();
  if (r.open(0x7b)) {
    const seen = new Seen();
    for (let i = 0; r.next(i, 0x7d); i++) {
      const idx = member(r, i, cacheKeyKeys, seen);
      if (idx == -2) break;
      if (idx == 0) readMeta(r, input.meta);
      else if (idx == 1) input.key = r.str();
      else if (idx == 2) input.lastUser = r.str();
      else if (idx == 3) input.system = r.str();
      else r.skip();
    }
  }
  const err = r.finish();
  if (err !== null) return errorJSON(400, "invalid_hook_input", "cache_key: " + err);
  reset();
  const o = cacheKeyFn(input);
  if (failStatus != 0) return errorJSON(failStatus, failCode, failMessage);
  out.reset();
  if (o.skip) {
    out.ascii('{"skip":true}');
    return false;
  }
  out.ascii('{"key":');
  out.string(o.key);
  if (o.buckets > 0) {
    out.ascii(',"buckets":');
    out.int(o.buckets);
  }
  out.byte(0x7d);
  return false;
}

export function runRequest(ptr: usize, n: i32): bool {
  const r = new Reader(ptr, <usize>n);
  const input = new RequestInput();
  if (r.open(0x7b)) {
    const seen = new Seen();
    for (let i = 0; r.next(i, 0x7d); i++) {
      const idx = member(r, i, requestKeys, seen);
      if (idx == -2) break;
      if (idx == 0) readMeta(r, input.meta);
      else if (idx == 1) {
        const start = r.raw();
        input.bodyPtr = start;
        input.bodyLen = <i32>(r.p - start);
      } else r.skip();
    }
  }
  const err = r.finish();
  if (err !== null) return errorJSON(400, "invalid_hook_input", "on_request: " + err);
  reset();
  const d = requestFn(input);
  if (failStatus != 0) return errorJSON(failStatus, failCode, failMessage);
  out.reset();
  if (d.action == "reject") {
    out.ascii('{"action":"reject","status":');
    out.int(d.status == 0 ? 400 : d.status);
    out.ascii(',"code":');
    out.string(d.code);
    out.ascii(',"message":');
    out.string(d.message);
    out.byte(0x7d);
  } else if (d.action == "rewrite") {
    out.ascii('{"action":"rewrite","body":');
    out.ascii(d.body.length == 0 ? "null" : "");
    if (d.body.length > 0) {
      const b = String.UTF8.encode(d.body);
      out.bytes(changetype<usize>(b), b.byteLength);
    }
    out.byte(0x7d);
  } else {
    out.ascii('{"action":"allow"}');
  }
  return false;
}
