package plugintool

// AssemblyScript scaffolds (`plugin new --lang as`): route, cache_key and policy. The SDK
// (sdk/as/assembly) is copied into the plugin as sluice-sdk-as/; the compiler is the pinned
// assemblyscript npm package in the plugin's package.json.

// ASVersion is the assemblyscript release the SDK is built and tested with.
const ASVersion = "0.28.20"

// ASSDKDir is where `plugin new --lang as` writes the AssemblyScript SDK inside a plugin.
const ASSDKDir = "sluice-sdk-as"

// ascFlags build a sluice reactor: the start function exported as _initialize (the host calls
// it), no env.abort import (a trap instead; the host allows no env imports), the incremental
// collector so memory stays flat across calls.
var ascFlags = []string{"--optimize", "--exportStart", "_initialize", "--use", "abort=", "--runtime", "incremental"}

const asHead = `// {{.Name}}: a sluice plugin ({{.Hook}} hook) written with the AssemblyScript SDK.
// The SDK's ABI exports are re-exported here; handlers are registered at top level, which runs
// from _initialize.
export * from "../` + ASSDKDir + `/abi";
`

var asScaffolds = map[string]scaffold{
	"route": {call: "route", input: `{"meta":{"model":"gpt-4o-mini"},"candidates":[{"id":"a","healthy":true,"ewma_ms":30},{"id":"b","healthy":false,"ewma_ms":1},{"id":"c","healthy":true,"ewma_ms":10}]}`,
		logic: asHead + `import { RouteInput, RouteOutput, Candidate, handleRoute } from "../` + ASSDKDir + `/sluice";

// route orders the candidates: healthy ones first, fastest (lowest EWMA latency) first.
// Candidates left out of the order are dropped; an empty order keeps the host's order.
function route(input: RouteInput): RouteOutput {
  const healthy: Candidate[] = [];
  const sick: Candidate[] = [];
  for (let i = 0; i < input.candidates.length; i++) {
    const c = input.candidates[i];
    if (c.healthy) healthy.push(c);
    else sick.push(c);
  }
  healthy.sort((a: Candidate, b: Candidate): i32 => (a.ewmaMs < b.ewmaMs ? -1 : a.ewmaMs > b.ewmaMs ? 1 : 0));
  const o = new RouteOutput();
  for (let i = 0; i < healthy.length; i++) o.order.push(healthy[i].id);
  for (let i = 0; i < sick.length; i++) o.order.push(sick[i].id);
  return o;
}

handleRoute(route);
`},
	"cache_key": {call: "cache_key", input: `{"meta":{"model":"gpt-4o-mini"},"key":"k","last_user":"Hello   World","system":"be brief"}`,
		logic: asHead + `import { CacheKeyInput, CacheKeyOutput, handleCacheKey } from "../` + ASSDKDir + `/sluice";

// isSpace is Unicode White_Space, as Go's unicode.IsSpace.
function isSpace(c: i32): bool {
  return (c >= 9 && c <= 13) || c == 32 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

// key makes requests that differ only in case and spacing of the last user message share a
// cache entry. Set skip to not cache a request.
function key(input: CacheKeyInput): CacheKeyOutput {
  const s = input.lastUser.toLowerCase();
  const words: string[] = [];
  let start = -1;
  for (let i = 0; i <= s.length; i++) {
    const space = i == s.length || isSpace(s.charCodeAt(i));
    if (space && start >= 0) {
      words.push(s.substring(start, i));
      start = -1;
    } else if (!space && start < 0) {
      start = i;
    }
  }
  const o = new CacheKeyOutput();
  o.key = input.meta.model + "\u0000" + input.system + "\u0000" + words.join(" ");
  return o;
}

handleCacheKey(key);
`},
	"policy": {call: "on_request", input: `{"meta":{"model":"gpt-4o-mini","user":"eve"},"body":{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}}`,
		logic: asHead + `import { RequestInput, Decision, allow, reject, handleRequest } from "../` + ASSDKDir + `/sluice";

const blocked = ["eve"];

// check rejects requests from blocked users with 403; rewrite(body) changes a request.
function check(input: RequestInput): Decision {
  if (blocked.includes(input.meta.user)) {
    return reject(403, "user_blocked", "user " + input.meta.user + " is blocked");
  }
  return allow();
}

handleRequest(check);
`},
}

const asPackageTmpl = `{
  "name": "{{.Name}}",
  "version": "0.1.0",
  "private": true,
  "description": "A sluice plugin ({{.Hook}} hook) in AssemblyScript",
  "devDependencies": {
    "assemblyscript": "` + ASVersion + `"
  }
}
`

const asReadmeTmpl = `# {{.Name}}

A sluice plugin on the ` + "`{{.Hook}}`" + ` hook, written with the AssemblyScript SDK
(` + "`" + ASSDKDir + "/`" + `, a copy of sluice's sdk/as; the ABI is in sluice's sdk/ABI.md).

- ` + "`assembly/index.ts`" + `: the plugin; it re-exports the SDK's ABI exports and registers its handler.
- ` + "`input.json`" + `: a sample input for the ` + "`{{.Call}}`" + ` hook.

Install the compiler (assemblyscript ` + ASVersion + `, pinned in package.json), build, then call the
hook with the sample input and run the plugin checks (edge-case and fuzzed inputs, memory
growth, state kept between calls, latency in the default sandbox); that is the plugin's test:

    npm install
    sluice plugin build .
    sluice plugin test {{.Name}}.wasm --hook {{.Call}} --input input.json

Load it from the gateway config:

    [plugins.{{.Name}}]
    path = "{{.Name}}.wasm"
`
