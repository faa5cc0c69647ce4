// The official OpenAI Node SDK against sluice's rate limits. SLUICE_URL is the gateway; key
// "sk-node-secret" may make 2 requests an hour, "sk-budget-secret" 1 a day.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const base = process.env.SLUICE_URL + '/v1';
const params = { model: 'up/gpt-test', messages: [{ role: 'user', content: 'hello limits' }] };

test('success carries x-ratelimit headers; the third request is a RateLimitError', async () => {
  const client = new OpenAI({ baseURL: base, apiKey: 'sk-node-secret', maxRetries: 0 });
  for (const left of ['1', '0']) {
    const { data, response } = await client.chat.completions.create(params).withResponse();
    assert.match(data.choices[0].message.content, /hello limits/);
    assert.equal(response.headers.get('x-ratelimit-limit-requests'), '2');
    assert.equal(response.headers.get('x-ratelimit-remaining-requests'), left);
    assert.match(response.headers.get('x-ratelimit-reset-requests'), /^[0-9.]+(ms|s|m)/);
    assert.equal(response.headers.get('x-ratelimit-limit-tokens'), '100000');
    assert.ok(Number(response.headers.get('x-ratelimit-remaining-tokens')) < 100000);
  }
  const err = await client.chat.completions.create(params).then(
    () => assert.fail('the third request was admitted'),
    (e) => e,
  );
  assert.ok(err instanceof OpenAI.RateLimitError, `got ${err?.constructor?.name}: ${err}`);
  assert.equal(err.status, 429);
  assert.equal(err.code, 'rate_limit_exceeded');
  assert.match(err.message, /key:node-key/);
  assert.match(err.message, /requests/);
  assert.ok(Number(err.headers.get('retry-after')) >= 1);
  assert.equal(err.headers.get('x-ratelimit-limit-requests'), '2');
  assert.equal(err.headers.get('x-ratelimit-remaining-requests'), '0');
  assert.ok(err.headers.get('x-ratelimit-remaining-tokens'));
});

test('an exhausted budget is a RateLimitError with code insufficient_quota', async () => {
  const client = new OpenAI({ baseURL: base, apiKey: 'sk-budget-secret', maxRetries: 0 });
  await client.chat.completions.create(params);
  await assert.rejects(client.chat.completions.create(params), (e) => {
    assert.ok(e instanceof OpenAI.RateLimitError);
    assert.equal(e.code, 'insufficient_quota');
    assert.match(e.message, /key:budget-key/);
    assert.ok(Number(e.headers.get('retry-after')) >= 1);
    return true;
  });
});
