// The official OpenAI Node SDK against sluice with translated providers: Anthropic, Gemini and
// Bedrock fakes behind the embedded WebAssembly translators. SLUICE_URL is the gateway. A
// marker word in the prompt picks the fake's behaviour (see translate_test.go).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const client = new OpenAI({ baseURL: process.env.SLUICE_URL + '/v1', apiKey: 'unused', maxRetries: 0 });

const models = {
  anthropic: 'anthropic/claude-haiku-4-5',
  gemini: 'gemini/gemini-2.5-flash',
  bedrock: 'bedrock/anthropic.claude-3-5-haiku-20241022-v1:0',
};
const busyStatus = { anthropic: 529, gemini: 503, bedrock: 503 };

// A 1x1 PNG.
const png = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

const tools = [{
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['c', 'f'] } },
      required: ['city'],
      additionalProperties: false,
    },
  },
}];

async function collect(stream) {
  let text = '';
  let finish = null;
  let usage = null;
  const calls = [];
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      text += c.delta?.content ?? '';
      for (const tc of c.delta?.tool_calls ?? []) {
        const cur = calls[tc.index] ?? (calls[tc.index] = { id: '', name: '', args: '', deltas: 0 });
        if (tc.id) cur.id = tc.id;
        if (tc.function?.name) cur.name += tc.function.name;
        cur.args += tc.function?.arguments ?? '';
        cur.deltas++;
      }
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  return { text, finish, usage, calls, chunks };
}

for (const [name, model] of Object.entries(models)) {
  test(`${name}: text with a system message`, async () => {
    const r = await client.chat.completions.create({
      model,
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'hello translated world' },
      ],
    });
    assert.equal(r.object, 'chat.completion');
    assert.equal(r.choices[0].message.role, 'assistant');
    assert.match(r.choices[0].message.content, /hello translated world/);
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.equal(r.model, model.slice(model.indexOf('/') + 1));
  });

  test(`${name}: usage`, async () => {
    const r = await client.chat.completions.create({
      model, messages: [{ role: 'user', content: 'marker-usage please' }],
    });
    assert.equal(r.choices[0].message.content, 'counted answer');
    assert.equal(r.usage.prompt_tokens, 12);
    assert.equal(r.usage.completion_tokens, 5);
    assert.equal(r.usage.total_tokens, 17);
  });

  test(`${name}: streamed text with usage`, async () => {
    const stream = await client.chat.completions.create({
      model, stream: true, stream_options: { include_usage: true },
      messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'stream these five words' }],
    });
    const got = await collect(stream);
    assert.equal(got.text, 'stream these five words');
    assert.equal(got.finish, 'stop');
    assert.ok(got.chunks >= 3, `only ${got.chunks} chunks`);
    assert.ok(got.usage && got.usage.completion_tokens > 0 && got.usage.prompt_tokens > 0);
    assert.equal(got.usage.total_tokens, got.usage.prompt_tokens + got.usage.completion_tokens);
  });

  test(`${name}: tool call`, async () => {
    const r = await client.chat.completions.create({
      model, tools, tool_choice: 'auto',
      messages: [{ role: 'user', content: 'marker-tool: weather in Paris?' }],
    });
    const c = r.choices[0];
    assert.equal(c.finish_reason, 'tool_calls');
    assert.equal(c.message.tool_calls.length, 1);
    const call = c.message.tool_calls[0];
    assert.equal(call.type, 'function');
    assert.ok(call.id);
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris', unit: 'c' });
  });

  test(`${name}: streamed tool call deltas`, async () => {
    const stream = await client.chat.completions.create({
      model, tools, stream: true,
      messages: [{ role: 'user', content: 'marker-tool: weather in Paris?' }],
    });
    const got = await collect(stream);
    assert.equal(got.finish, 'tool_calls');
    assert.equal(got.calls.length, 1);
    assert.ok(got.calls[0].id);
    assert.equal(got.calls[0].name, 'get_weather');
    assert.deepEqual(JSON.parse(got.calls[0].args), { city: 'Paris', unit: 'c' });
  });

  test(`${name}: tool result round trip`, async () => {
    const r = await client.chat.completions.create({
      model, tools,
      messages: [
        { role: 'user', content: 'weather in Paris?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: '{"temp":21}' },
        { role: 'user', content: 'and now summarise' },
      ],
    });
    assert.match(r.choices[0].message.content, /and now summarise/);
  });

  test(`${name}: image as a data URI`, async () => {
    const r = await client.chat.completions.create({
      model,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'describe this picture' }, { type: 'image_url', image_url: { url: png } }] }],
    });
    assert.match(r.choices[0].message.content, /describe this picture/);
  });

  test(`${name}: image by URL`, async () => {
    const req = client.chat.completions.create({
      model,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'look at the cat' }, { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] }],
    });
    if (name === 'bedrock') {
      // Converse takes image bytes only: a clear client error, not an upstream failure.
      await assert.rejects(req, (e) => e instanceof OpenAI.BadRequestError && /data URI/.test(e.message));
      return;
    }
    const r = await req;
    assert.match(r.choices[0].message.content, /look at the cat/);
  });

  test(`${name}: stop at max_tokens is length`, async () => {
    const r = await client.chat.completions.create({
      model, max_tokens: 3, messages: [{ role: 'user', content: 'marker-length' }],
    });
    assert.equal(r.choices[0].finish_reason, 'length');
    assert.equal(r.choices[0].message.content, 'cut short here');
  });

  test(`${name}: a 400 from the provider`, async () => {
    await assert.rejects(
      client.chat.completions.create({ model, messages: [{ role: 'user', content: 'marker-bad' }] }),
      (e) => {
        assert.ok(e instanceof OpenAI.BadRequestError, `got ${e.constructor.name} ${e.status}`);
        assert.equal(e.status, 400);
        assert.match(e.message, /refused this request/);
        assert.ok(e.error && typeof e.error.message === 'string');
        return true;
      });
  });

  test(`${name}: an overloaded provider`, async () => {
    await assert.rejects(
      client.chat.completions.create({ model, messages: [{ role: 'user', content: 'marker-busy' }] }),
      (e) => {
        assert.ok(e instanceof OpenAI.APIError, `got ${e.constructor.name}`);
        assert.equal(e.status, busyStatus[name]);
        assert.match(e.message, /overloaded/);
        return true;
      });
  });
}

test('gemini: a safety stop is content_filter', async () => {
  const r = await client.chat.completions.create({
    model: models.gemini, messages: [{ role: 'user', content: 'marker-safety' }],
  });
  assert.equal(r.choices[0].finish_reason, 'content_filter');
  const stream = await client.chat.completions.create({
    model: models.gemini, stream: true, messages: [{ role: 'user', content: 'marker-safety' }],
  });
  const got = await collect(stream);
  assert.equal(got.finish, 'content_filter');
});
