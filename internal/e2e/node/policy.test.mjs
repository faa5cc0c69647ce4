// The official OpenAI Node SDK against output policies: a streamed answer a policy blocks is an
// error in the client, never a quietly truncated answer. SLUICE_URL is the gateway (held
// streams), SLUICE_INCREMENTAL_URL one whose policy checks streams incrementally.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const ask = { model: 'up/gpt-test', stream: true, messages: [{ role: 'user', content: 'tell me about animals' }] };

test('held stream: the blocked answer is an APIError before any chunk', async () => {
  const client = new OpenAI({ baseURL: process.env.SLUICE_URL + '/v1', apiKey: 'unused', maxRetries: 0 });
  await assert.rejects(client.chat.completions.create(ask), (err) => {
    assert.ok(err instanceof OpenAI.APIError);
    assert.equal(err.status, 403);
    assert.equal(err.code, 'content_blocked');
    return true;
  });
});

test('incremental stream: a late rejection raises while iterating', async () => {
  const client = new OpenAI({ baseURL: process.env.SLUICE_INCREMENTAL_URL + '/v1', apiKey: 'unused', maxRetries: 0 });
  const stream = await client.chat.completions.create(ask);
  let text = '';
  await assert.rejects(async () => {
    for await (const chunk of stream) {
      for (const c of chunk.choices) text += c.delta?.content ?? '';
    }
  }, (err) => {
    assert.ok(err instanceof OpenAI.APIError, String(err));
    assert.match(err.message, /blocked by policy/);
    return true;
  });
  assert.ok(!text.includes('zebra'), text);
});
