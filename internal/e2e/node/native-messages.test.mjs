// The official Anthropic Node SDK against sluice's POST /v1/messages on the native path (an
// Anthropic upstream gets the SDK's body whole): prompt caching and what it costs, thinking
// signatures across a tool loop, document and search_result blocks, count_tokens (forwarded,
// counted by Gemini, estimated) and every error type as the SDK's own error class.
// fidelity_native_test.go starts the fakes and sluice, and checks what the upstreams received
// against the requests this script records in NATIVE_OUT.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import Anthropic from '@anthropic-ai/sdk';

const baseURL = process.env.SLUICE_URL;
const admin = process.env.SLUICE_ADMIN;
const price = JSON.parse(process.env.CACHE_PRICE); // USD per 1M tokens, from host/pricing
const opts = { baseURL, maxRetries: 0 };
const client = new Anthropic({ ...opts, apiKey: 'sk-native-full' });

const ANT = 'anthropic/claude-haiku-4-5';
const CACHED = 'anthropic/claude-sonnet-4-5'; // only the caching test uses it: its cost series is its own
const OAI = 'up/gpt-test';
const GEM = 'gemini/gemini-2.5-flash';

// Requests and answers the Go side compares with what the upstreams received.
const record = {};
after(() => writeFileSync(process.env.NATIVE_OUT, JSON.stringify(record)));

const tools = [{
  name: 'get_weather', description: 'Weather for a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
}];

// sluice_cost_usd_total of one model, summed over its series.
async function spent(model) {
  const text = await (await fetch(admin + '/metrics')).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('sluice_cost_usd_total{') && line.includes(`model="${model}"`)) {
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return sum;
}

// The cost a call adds to the counter; it is recorded just after the answer is written.
async function costOf(model, before) {
  for (let i = 0; i < 60; i++) {
    const now = await spent(model);
    if (now !== before) return now - before;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`no cost recorded for ${model}`);
}

function expectedCost(u) {
  return (u.input_tokens * price.input + u.cache_creation_input_tokens * price.cache_write +
    u.cache_read_input_tokens * price.cached_input + u.output_tokens * price.output) / 1e6;
}

test('prompt caching: three breakpoints write the cache, then read it, and the read costs less', async () => {
  const params = {
    model: CACHED, max_tokens: 64,
    system: [{ type: 'text', text: 'You are a careful assistant with a long stable prompt. '.repeat(60), cache_control: { type: 'ephemeral' } }],
    tools: [{ ...tools[0], cache_control: { type: 'ephemeral', ttl: '1h' } }],
    messages: [{ role: 'user', content: [
      { type: 'text', text: 'marker-native-cache: a long shared document. '.repeat(20) },
      { type: 'text', text: 'What does it say?', cache_control: { type: 'ephemeral' } },
    ] }],
  };
  record.cache = params;
  let before = await spent(CACHED);
  const first = await client.messages.create(params);
  const cost1 = await costOf(CACHED, before);
  assert.ok(first.usage.cache_creation_input_tokens > 0, JSON.stringify(first.usage));
  assert.equal(first.usage.cache_read_input_tokens, 0);

  before = await spent(CACHED);
  const second = await client.messages.create(params);
  const cost2 = await costOf(CACHED, before);
  assert.ok(second.usage.cache_read_input_tokens > 0, JSON.stringify(second.usage));
  assert.equal(second.usage.cache_read_input_tokens, first.usage.cache_creation_input_tokens);
  assert.equal(second.usage.cache_creation_input_tokens, 0);

  // Charged at the model's cache prices (to the micro-dollar the counter keeps), so the read
  // costs less than the write.
  assert.ok(Math.abs(cost1 - expectedCost(first.usage)) < 2e-6, `write cost ${cost1}, want ${expectedCost(first.usage)} for ${JSON.stringify(first.usage)}`);
  assert.ok(Math.abs(cost2 - expectedCost(second.usage)) < 2e-6, `read cost ${cost2}, want ${expectedCost(second.usage)} for ${JSON.stringify(second.usage)}`);
  assert.ok(cost2 < cost1, `cached request cost ${cost2}, uncached ${cost1}`);
});

test('thinking: the signed block goes back whole through a tool loop; an altered signature is refused', async () => {
  const thinking = { type: 'enabled', budget_tokens: 2048 };
  const q = { role: 'user', content: 'marker-think-native: weather in Paris?' };
  const first = await client.messages.create({ model: ANT, max_tokens: 4096, tools, thinking, messages: [q] });
  assert.equal(first.stop_reason, 'tool_use');
  const block = first.content.find((b) => b.type === 'thinking');
  assert.ok(block && block.signature, JSON.stringify(first.content));
  const use = first.content.find((b) => b.type === 'tool_use');
  record.thinkFirst = first.content;

  const turn = (content) => ({
    model: ANT, max_tokens: 4096, tools, thinking,
    messages: [q, { role: 'assistant', content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '18C and sunny' }] }],
  });
  const params = turn(first.content);
  record.thinkSecond = params;
  const next = await client.messages.create(params);
  assert.equal(next.stop_reason, 'end_turn');
  assert.match(next.content[0].text, /18C/);

  const altered = first.content.map((b) => (b.type === 'thinking' ? { ...b, signature: b.signature.slice(0, -1) + 'x' } : b));
  await assert.rejects(client.messages.create(turn(altered)), (err) => {
    assert.ok(err instanceof Anthropic.BadRequestError, err.constructor.name);
    assert.equal(err.status, 400);
    assert.equal(err.error.type, 'error');
    assert.equal(err.error.error.type, 'invalid_request_error');
    assert.match(err.error.error.message, /Invalid `signature` in `thinking` block/);
    return true;
  });
});

test('thinking, streamed: the signature assembled from signature_delta goes back and is accepted', async () => {
  const thinking = { type: 'enabled', budget_tokens: 2048 };
  const q = { role: 'user', content: 'marker-think-native streamed: weather in Paris?' };
  const stream = client.messages.stream({ model: ANT, max_tokens: 4096, tools, thinking, messages: [q] });
  const deltas = new Set();
  for await (const ev of stream) {
    if (ev.type === 'content_block_delta') deltas.add(ev.delta.type);
  }
  const first = await stream.finalMessage();
  assert.ok(deltas.has('thinking_delta') && deltas.has('signature_delta'), [...deltas].join());
  const block = first.content.find((b) => b.type === 'thinking');
  assert.match(block.signature, /^sig_fake_/);
  const use = first.content.find((b) => b.type === 'tool_use');
  const next = await client.messages.create({
    model: ANT, max_tokens: 4096, tools, thinking,
    messages: [q, { role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '19C' }] }],
  });
  assert.equal(next.stop_reason, 'end_turn');
});

test('a base64 PDF document and a search_result block arrive whole', async () => {
  const pdf = Buffer.from('%PDF-1.4\n%native document\n').toString('base64');
  const params = {
    model: ANT, max_tokens: 64,
    messages: [{ role: 'user', content: [
      { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: pdf }, title: 'report.pdf', context: 'quarterly', citations: { enabled: true } },
      { type: 'search_result', source: 'https://docs.example.com/guide', title: 'Guide', content: [{ type: 'text', text: 'Sluice routes calls.' }], citations: { enabled: true } },
      { type: 'text', text: 'marker-native-doc: what do these say?' },
    ] }],
  };
  record.doc = params;
  const m = await client.messages.create(params);
  assert.equal(m.type, 'message');
  assert.match(m.content[0].text, /what do these say/);
});

test('count_tokens: forwarded to Anthropic, counted by Gemini, estimated for OpenAI', async () => {
  const body = (model) => ({ model, system: 'You are terse.', messages: [{ role: 'user', content: 'count my five tokens please' }] });
  record.count = body(ANT);
  let { data, response } = await client.messages.countTokens(body(ANT)).withResponse();
  assert.equal(response.headers.get('x-sluice-token-count'), 'provider');
  assert.equal(response.headers.get('x-sluice-provider'), 'anthropic');
  assert.equal(data.input_tokens, 8); // the fake counts words: 3 + 5

  ({ data, response } = await client.messages.countTokens(body(GEM)).withResponse());
  assert.equal(response.headers.get('x-sluice-token-count'), 'provider');
  assert.equal(response.headers.get('x-sluice-provider'), 'gemini');
  assert.equal(data.input_tokens, 8);

  // A counter failing (Anthropic's or Gemini's) leaves the estimate; a request it refuses is
  // the client's error.
  for (const model of [ANT, GEM]) {
    const failing = { ...body(model), messages: [{ role: 'user', content: 'marker-500 count me' }] };
    ({ data, response } = await client.messages.countTokens(failing).withResponse());
    assert.equal(response.headers.get('x-sluice-token-count'), 'estimate', model);
    assert.ok(data.input_tokens > 0 && data.input_tokens < 50, JSON.stringify(data));
  }
  await refused(client.messages.countTokens({ ...body(ANT), messages: [{ role: 'user', content: 'marker-bad count' }] }),
    Anthropic.BadRequestError, 400, 'invalid_request_error');

  ({ data, response } = await client.messages.countTokens(body(OAI)).withResponse());
  assert.equal(response.headers.get('x-sluice-token-count'), 'estimate');
  assert.equal(response.headers.get('x-sluice-provider'), null);
  assert.ok(data.input_tokens >= 8 && data.input_tokens < 50, JSON.stringify(data));
});

// refused asserts that a call fails with the SDK's own error class, the status and the
// Anthropic error type.
async function refused(call, cls, status, type, check) {
  await assert.rejects(call, (err) => {
    assert.ok(err instanceof cls, `${err.constructor.name} (${err.status}): ${err.message}`);
    assert.equal(err.status, status);
    assert.equal(err.error?.type, 'error', JSON.stringify(err.error));
    assert.equal(err.error?.error?.type, type, JSON.stringify(err.error));
    assert.equal(typeof err.error.error.message, 'string');
    assert.equal(err.type, type);
    check?.(err);
    return true;
  });
}

const ask = (model, text, c = client, extra = {}) => c.messages.create({ model, max_tokens: 32, messages: [{ role: 'user', content: text }], ...extra });

test('errors: 400 invalid_request_error, from the upstream and from sluice', async () => {
  await refused(ask(ANT, 'marker-bad'), Anthropic.BadRequestError, 400, 'invalid_request_error');
  await refused(ask(OAI, 'marker-bad'), Anthropic.BadRequestError, 400, 'invalid_request_error');
  await refused(client.messages.create({ model: OAI, messages: 'not a list' }), Anthropic.BadRequestError, 400, 'invalid_request_error');
});

test('errors: 401 authentication_error for a wrong key', async () => {
  const wrong = new Anthropic({ ...opts, apiKey: 'sk-not-a-key' });
  await refused(ask(ANT, 'hello', wrong), Anthropic.AuthenticationError, 401, 'authentication_error');
  await refused(wrong.messages.countTokens({ model: ANT, messages: [{ role: 'user', content: 'x' }] }), Anthropic.AuthenticationError, 401, 'authentication_error');
});

test('errors: 403 permission_error for a model the key may not use', async () => {
  const haiku = new Anthropic({ ...opts, apiKey: 'sk-native-haiku' });
  await ask(ANT, 'allowed', haiku);
  await refused(ask(OAI, 'not allowed', haiku), Anthropic.PermissionDeniedError, 403, 'permission_error');
});

test('errors: 404 not_found_error for an unknown model', async () => {
  await refused(ask('nosuch/model-x', 'hello'), Anthropic.NotFoundError, 404, 'not_found_error');
  await refused(ask('no-such-router', 'hello'), Anthropic.NotFoundError, 404, 'not_found_error');
});

test('errors: 413 request_too_large over server.max_body_size', async () => {
  await refused(ask(ANT, 'x'.repeat(300 << 10)), Anthropic.ContentTooLargeError, 413, 'request_too_large');
});

test('errors: 429 rate_limit_error with retry-after, from a sluice limit and from the upstream', async () => {
  const limited = new Anthropic({ ...opts, apiKey: 'sk-native-limited' });
  await ask(ANT, 'first is free', limited);
  await refused(ask(ANT, 'second is limited', limited), Anthropic.RateLimitError, 429, 'rate_limit_error', (err) => {
    assert.ok(Number(err.headers.get('retry-after')) > 0, `retry-after ${err.headers.get('retry-after')}`);
  });
  for (const model of [ANT, OAI]) {
    await refused(ask(model, 'marker-429'), Anthropic.RateLimitError, 429, 'rate_limit_error', (err) => {
      assert.equal(err.headers.get('retry-after'), '7');
    });
  }
});

test('errors: 500 api_error from an upstream 500, native and bridged', async () => {
  await refused(ask(ANT, 'marker-500'), Anthropic.InternalServerError, 500, 'api_error');
  await refused(ask(OAI, 'marker-500'), Anthropic.InternalServerError, 500, 'api_error');
});

test('errors: 529 overloaded_error when every target is overloaded', async () => {
  await refused(ask(ANT, 'marker-busy'), Anthropic.OverloadedError, 529, 'overloaded_error');
  await refused(ask(OAI, 'marker-busy'), Anthropic.OverloadedError, 529, 'overloaded_error');
  // A router whose native target answers 529 and whose bridged target answers 503.
  await refused(ask('all-busy', 'marker-busy'), Anthropic.OverloadedError, 529, 'overloaded_error');
  const stream = client.messages.stream({ model: 'all-busy', max_tokens: 32, messages: [{ role: 'user', content: 'marker-busy streamed' }] });
  await refused(stream.finalMessage(), Anthropic.OverloadedError, 529, 'overloaded_error');
});

test('errors: a native upstream error in another shape (a proxy page) still reaches the SDK in Anthropic\'s', async () => {
  await refused(ask(ANT, 'marker-html-502'), Anthropic.InternalServerError, 502, 'api_error', (err) => {
    assert.match(err.error.error.message, /502/);
  });
  await refused(ask(ANT, 'marker-html-503'), Anthropic.OverloadedError, 529, 'overloaded_error');
});

test('errors: a streamed request that fails before its first event throws the same classes', async () => {
  const streamed = (model, text) => client.messages.stream({ model, max_tokens: 32, messages: [{ role: 'user', content: text }] }).finalMessage();
  await refused(streamed('nosuch/model-x', 'hello'), Anthropic.NotFoundError, 404, 'not_found_error');
  await refused(streamed(ANT, 'marker-bad'), Anthropic.BadRequestError, 400, 'invalid_request_error');
  await refused(streamed(ANT, 'marker-429'), Anthropic.RateLimitError, 429, 'rate_limit_error');
  await refused(streamed(OAI, 'marker-500'), Anthropic.InternalServerError, 500, 'api_error');
  await refused(streamed(ANT, 'marker-html-502'), Anthropic.InternalServerError, 502, 'api_error');
});
