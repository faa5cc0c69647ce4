// The official OpenAI Node SDK against sluice: chat, streaming, embeddings, models, errors.
// SLUICE_URL is the gateway; the upstream is a fake OpenAI-compatible provider named "up".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const client = new OpenAI({ baseURL: process.env.SLUICE_URL + '/v1', apiKey: 'unused', maxRetries: 0 });

test('chat completion', async () => {
  const r = await client.chat.completions.create({
    model: 'up/gpt-test', messages: [{ role: 'user', content: 'hello gateway' }],
  });
  assert.equal(r.object, 'chat.completion');
  assert.match(r.choices[0].message.content, /hello gateway/);
  assert.ok(r.usage.total_tokens > 0);
});

test('chat completion with raw response headers', async () => {
  const { response } = await client.chat.completions
    .create({ model: 'up/gpt-test', messages: [{ role: 'user', content: 'hi' }] })
    .withResponse();
  assert.equal(response.headers.get('x-sluice-provider'), 'up');
  assert.ok(response.headers.get('x-request-id'));
});

test('streaming without include_usage gets no usage chunk', async () => {
  const stream = await client.chat.completions.create({
    model: 'up/gpt-test', stream: true, messages: [{ role: 'user', content: 'stream me please' }],
  });
  let text = '';
  let usageChunks = 0;
  let finish = null;
  for await (const chunk of stream) {
    if (chunk.usage) usageChunks++;
    for (const c of chunk.choices) {
      text += c.delta?.content ?? '';
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.match(text, /stream me please/);
  assert.equal(finish, 'stop');
  assert.equal(usageChunks, 0);
});

test('streaming with include_usage keeps the usage chunk', async () => {
  const stream = await client.chat.completions.create({
    model: 'up/gpt-test', stream: true, stream_options: { include_usage: true },
    messages: [{ role: 'user', content: 'count my tokens' }],
  });
  let usage = null;
  for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
  assert.ok(usage && usage.completion_tokens > 0);
});

test('embeddings', async () => {
  const r = await client.embeddings.create({ model: 'up/embed-test', input: ['a', 'b'] });
  assert.equal(r.data.length, 2);
  assert.ok(r.data[0].embedding.length > 0);
});

test('models lists configured models', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.ok(ids.includes('up/gpt-test'), ids.join(','));
  assert.ok(ids.includes('demo/echo'), ids.join(','));
});

test('demo provider streams locally', async () => {
  const stream = await client.chat.completions.create({
    model: 'demo/echo', stream: true, messages: [{ role: 'user', content: 'ping' }],
  });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
  assert.equal(text, 'You said: ping');
});

test('unknown model is a 404 with an OpenAI error', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'nope/model', messages: [{ role: 'user', content: 'x' }] }),
    (err) => err instanceof OpenAI.NotFoundError && err.code === 'model_not_found' && /nope\/model/.test(err.message),
  );
});

test('upstream 400 passes through with its status and message', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'up/reject-400', messages: [{ role: 'user', content: 'x' }] }),
    (err) => err instanceof OpenAI.BadRequestError && /rejected by upstream/.test(err.message),
  );
});

test('unconfigured provider says which key is missing', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }),
    (err) => err.status === 503 && /OPENAI_API_KEY/.test(err.message),
  );
});

test('malformed body is a 400 with an OpenAI error', async () => {
  const r = await fetch(process.env.SLUICE_URL + '/v1/chat/completions', { method: 'POST', body: '{"model":' });
  assert.equal(r.status, 400);
  const body = await r.json();
  assert.equal(body.error.code, 'invalid_json');
});
