// The official OpenAI Node SDK against sluice's response cache: a miss then a hit, for a plain
// and a streamed completion, read through .withResponse() headers.
// SLUICE_URL is the gateway; the upstream is a fake OpenAI-compatible provider named "up".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const client = new OpenAI({ baseURL: process.env.SLUICE_URL + '/v1', apiKey: 'unused', maxRetries: 0 });

test('chat completion: miss then hit with the same answer', async () => {
  const ask = () => client.chat.completions
    .create({ model: 'up/gpt-test', messages: [{ role: 'user', content: 'cache me via node' }] })
    .withResponse();
  const first = await ask();
  assert.equal(first.response.headers.get('x-sluice-cache'), 'MISS');
  assert.equal(first.response.headers.get('x-sluice-provider'), 'up');
  const second = await ask();
  assert.equal(second.response.headers.get('x-sluice-cache'), 'HIT');
  assert.equal(second.response.headers.get('x-sluice-provider'), 'cache');
  assert.equal(second.response.headers.get('x-sluice-cache-bucket'), '0');
  assert.ok(Number(second.response.headers.get('age')) >= 0);
  assert.deepEqual(second.data, first.data);
});

test('streaming: miss then replayed hit with the same chunks', async () => {
  const ask = async () => {
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'up/gpt-test', stream: true, messages: [{ role: 'user', content: 'stream cache via node' }] })
      .withResponse();
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    return { status: response.headers.get('x-sluice-cache'), chunks };
  };
  const first = await ask();
  assert.equal(first.status, 'MISS');
  const second = await ask();
  assert.equal(second.status, 'HIT');
  assert.deepEqual(second.chunks, first.chunks);
  const text = second.chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
  assert.match(text, /stream cache via node/);
  assert.ok(second.chunks.some((c) => c.choices[0]?.finish_reason === 'stop'));
});
