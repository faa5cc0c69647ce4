// The official Anthropic Node SDK against sluice's POST /v1/messages, routed to the demo
// provider, to a fake OpenAI upstream (Anthropic shape in, OpenAI shape inside, Anthropic shape
// out), to a fake Anthropic upstream and to Claude on a fake Bedrock through InvokeModel (both
// native: the Messages body passes whole).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';

const client = new Anthropic({ baseURL: process.env.SLUICE_URL, apiKey: 'sk-client-unused', maxRetries: 0 });

const targets = {
  demo: 'demo/echo',
  openai: 'up/gpt-test',
  anthropic: 'anthropic/claude-haiku-4-5',
  bedrock: 'bedrock/anthropic.claude-3-5-haiku-20241022-v1:0',
};

const tools = [{
  name: 'get_weather',
  description: 'Weather for a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string' } }, required: ['city'] },
}];

for (const [name, model] of Object.entries(targets)) {
  test(`${name}: message`, async () => {
    const m = await client.messages.create({
      model, max_tokens: 64, system: 'You are terse.',
      messages: [{ role: 'user', content: 'hello messages api' }],
    });
    assert.equal(m.type, 'message');
    assert.equal(m.role, 'assistant');
    assert.equal(m.content[0].type, 'text');
    assert.match(m.content[0].text, /hello messages api/);
    assert.equal(m.stop_reason, 'end_turn');
    assert.ok(m.usage.input_tokens > 0 && m.usage.output_tokens > 0);
  });

  test(`${name}: streamed message`, async () => {
    const stream = client.messages.stream({
      model, max_tokens: 64,
      messages: [{ role: 'user', content: 'stream messages please' }],
    });
    const seen = new Set();
    let text = '';
    for await (const ev of stream) {
      seen.add(ev.type);
      if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') text += ev.delta.text;
    }
    const m = await stream.finalMessage();
    for (const t of ['message_start', 'content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']) {
      assert.ok(seen.has(t), `no ${t} event`);
    }
    assert.match(text, /stream messages please/);
    assert.equal(m.content[0].text, text);
    assert.equal(m.stop_reason, 'end_turn');
  });
}

for (const name of ['openai', 'anthropic', 'bedrock']) {
  const model = targets[name];
  test(`${name}: tool use`, async () => {
    const m = await client.messages.create({
      model, max_tokens: 64, tools,
      messages: [{ role: 'user', content: 'marker-tool: weather in Paris?' }],
    });
    assert.equal(m.stop_reason, 'tool_use');
    const use = m.content.find((b) => b.type === 'tool_use');
    assert.ok(use && use.id, JSON.stringify(m.content));
    assert.equal(use.name, 'get_weather');
    assert.deepEqual(use.input, { city: 'Paris', unit: 'c' });

    // The answer goes back as a tool_result block.
    const next = await client.messages.create({
      model, max_tokens: 64, tools,
      messages: [
        { role: 'user', content: 'weather in Paris?' },
        { role: 'assistant', content: m.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '21 degrees' }, { type: 'text', text: 'thanks, summarise' }] },
      ],
    });
    assert.match(next.content[0].text, /summarise/);
  });

  test(`${name}: streamed tool use`, async () => {
    const stream = client.messages.stream({
      model, max_tokens: 64, tools,
      messages: [{ role: 'user', content: 'marker-tool: weather in Paris?' }],
    });
    let json = '';
    for await (const ev of stream) {
      if (ev.type === 'content_block_delta' && ev.delta.type === 'input_json_delta') json += ev.delta.partial_json;
    }
    const m = await stream.finalMessage();
    assert.equal(m.stop_reason, 'tool_use');
    const use = m.content.find((b) => b.type === 'tool_use');
    assert.equal(use.name, 'get_weather');
    assert.deepEqual(use.input, { city: 'Paris', unit: 'c' });
    assert.deepEqual(JSON.parse(json), { city: 'Paris', unit: 'c' });
  });
}
