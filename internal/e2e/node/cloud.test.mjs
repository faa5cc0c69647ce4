// The official OpenAI Node SDK against Vertex AI (service-account tokens), Bedrock (credentials
// from web identity) and embeddings on every provider. SLUICE_URL is the gateway; EMBED lists
// {model, dimensions} to embed; the vectors each format returned are written to OUT for the Go
// side to compare with the fakes' (see cloud_test.go).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import OpenAI from 'openai';

const client = new OpenAI({ baseURL: process.env.SLUICE_URL + '/v1', apiKey: 'unused', maxRetries: 0 });
const texts = ['the quick brown fox', 'jumps over', 'the lazy dog'];

for (const model of JSON.parse(process.env.CHAT)) {
  test(`chat ${model}, whole and streamed`, async () => {
    const messages = [{ role: 'user', content: 'hello from node' }];
    const whole = await client.chat.completions.create({ model, messages, max_tokens: 64 });
    assert.equal(whole.choices[0].message.content, 'hello from node');
    assert.ok(whole.usage.prompt_tokens > 0);
    let text = '';
    for await (const c of await client.chat.completions.create({ model, messages, max_tokens: 64, stream: true })) {
      text += c.choices[0]?.delta?.content ?? '';
    }
    assert.equal(text, 'hello from node');
  });
}

const out = {};
for (const { model, dimensions } of JSON.parse(process.env.EMBED)) {
  test(`embeddings ${model}: the SDK's default (base64, decoded), float and base64 agree`, async () => {
    const extra = dimensions ? { dimensions } : {};
    const dflt = await client.embeddings.create({ model, input: texts, ...extra });
    const float = await client.embeddings.create({ model, input: texts, encoding_format: 'float', ...extra });
    const b64 = await client.embeddings.create({ model, input: texts, encoding_format: 'base64', ...extra });
    const one = await client.embeddings.create({ model, input: texts[0], encoding_format: 'float', ...extra });
    assert.equal(dflt.object, 'list');
    assert.equal(dflt.data.length, texts.length);
    const decoded = b64.data.map((d) => {
      assert.equal(typeof d.embedding, 'string');
      const buf = Buffer.from(d.embedding, 'base64');
      return Array.from(new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4));
    });
    for (let i = 0; i < texts.length; i++) {
      assert.equal(dflt.data[i].index, i);
      assert.deepEqual(dflt.data[i].embedding, float.data[i].embedding.map((x) => Math.fround(x)));
      assert.deepEqual(decoded[i], dflt.data[i].embedding);
    }
    assert.deepEqual(one.data[0].embedding, float.data[0].embedding);
    assert.ok(dflt.usage.prompt_tokens > 0 && dflt.usage.total_tokens === dflt.usage.prompt_tokens);
    out[model] = { vectors: float.data.map((d) => d.embedding), usage: dflt.usage };
  });
}

test('anthropic has no embeddings: a 400 that says so', async () => {
  await assert.rejects(client.embeddings.create({ model: 'anthropic/claude-haiku-4-5', input: 'x' }), (e) => {
    assert.equal(e.status, 400);
    assert.match(e.message, /embeddings/);
    return true;
  });
});

test('write results', () => writeFileSync(process.env.OUT, JSON.stringify({ texts, out })));
