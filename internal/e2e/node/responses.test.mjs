// The official OpenAI Node SDK's Responses API (responses.create, responses.stream,
// retrieve, inputItems, delete) against sluice, bridged to a chat-only OpenAI-compatible fake
// and to the Anthropic, Gemini and Bedrock fakes behind their translators, and native to a
// Responses fake where RESPONSES_NATIVE is set. A marker word in the prompt picks the fake's
// behaviour (see translate_test.go).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const client = new OpenAI({ baseURL: process.env.SLUICE_URL + '/v1', apiKey: 'unused', maxRetries: 0 });

const models = {
  chat: 'up/gpt-test',
  anthropic: 'anthropic/claude-haiku-4-5',
  gemini: 'gemini/gemini-2.5-flash',
  bedrock: 'bedrock/anthropic.claude-3-5-haiku-20241022-v1:0',
};
if (process.env.RESPONSES_NATIVE) models.native = process.env.RESPONSES_NATIVE;

// A 1x1 PNG.
const png = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

const tools = [{
  type: 'function',
  name: 'get_weather',
  description: 'Weather for a city',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['c', 'f'] } },
    required: ['city', 'unit'],
    additionalProperties: false,
  },
  strict: true,
}];

function checkSequence(events) {
  events.forEach((e, i) => assert.equal(e.sequence_number, i, `event ${i} (${e.type}) has sequence_number ${e.sequence_number}`));
  assert.equal(events[0].type, 'response.created');
  assert.equal(events[1].type, 'response.in_progress');
  const terminal = events.filter((e) => ['response.completed', 'response.incomplete', 'response.failed'].includes(e.type));
  assert.equal(terminal.length, 1, 'exactly one terminal event');
  assert.equal(events.at(-1), terminal[0]);
}

for (const [name, model] of Object.entries(models)) {
  test(`${name}: text with instructions`, async () => {
    const r = await client.responses.create({ model, instructions: 'You are terse.', input: 'hello responses world' });
    assert.equal(r.object, 'response');
    assert.equal(r.status, 'completed');
    assert.match(r.id, /^resp_/);
    assert.match(r.output_text, /hello responses world/);
    assert.ok(r.usage.input_tokens > 0 && r.usage.output_tokens > 0);
    assert.equal(r.usage.total_tokens, r.usage.input_tokens + r.usage.output_tokens);
  });

  test(`${name}: usage in Responses shape`, async () => {
    const r = await client.responses.create({ model, input: 'marker-usage please' });
    assert.equal(r.output_text, 'counted answer');
    assert.equal(r.usage.input_tokens, 12);
    assert.equal(r.usage.output_tokens, 5);
    assert.equal(typeof r.usage.input_tokens_details.cached_tokens, 'number');
    assert.equal(typeof r.usage.output_tokens_details.reasoning_tokens, 'number');
  });

  test(`${name}: streamed text, every event in order`, async () => {
    const stream = client.responses.stream({ model, input: [{ role: 'user', content: 'stream these five words' }] });
    const events = [];
    let text = '';
    for await (const e of stream) {
      events.push(e);
      if (e.type === 'response.output_text.delta') text += e.delta;
    }
    const final = await stream.finalResponse();
    checkSequence(events);
    assert.equal(text, 'stream these five words');
    assert.equal(final.status, 'completed');
    assert.equal(final.output_text, 'stream these five words');
    const types = new Set(events.map((e) => e.type));
    for (const t of ['response.output_item.added', 'response.content_part.added', 'response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed']) {
      assert.ok(types.has(t), `no ${t} event`);
    }
    // The stored answer equals the streamed one.
    const got = await client.responses.retrieve(final.id);
    assert.equal(got.id, final.id);
    assert.equal(got.output_text, final.output_text);
    assert.deepEqual(got.output.map((o) => o.id), final.output.map((o) => o.id));
    assert.deepEqual(got.usage, final.usage);
  });

  test(`${name}: tool call and function_call_output round trip`, async () => {
    const r = await client.responses.create({ model, tools, input: 'marker-tool: weather in Paris?' });
    const calls = r.output.filter((o) => o.type === 'function_call');
    assert.equal(calls.length, 1, JSON.stringify(r.output));
    assert.equal(calls[0].name, 'get_weather');
    assert.ok(calls[0].call_id);
    assert.deepEqual(JSON.parse(calls[0].arguments), { city: 'Paris', unit: 'c' });
    const r2 = await client.responses.create({
      model, tools, previous_response_id: r.id,
      input: [
        { type: 'function_call_output', call_id: calls[0].call_id, output: '{"temp":21}' },
        { role: 'user', content: 'marker-after-tool: summarise' },
      ],
    });
    assert.equal(r2.status, 'completed');
    assert.match(r2.output_text, /summarise/);
    assert.equal(r2.previous_response_id, r.id);
  });

  test(`${name}: streamed tool call`, async () => {
    const stream = client.responses.stream({ model, tools, input: 'marker-tool: weather in Paris?' });
    const events = [];
    let args = '';
    for await (const e of stream) {
      events.push(e);
      if (e.type === 'response.function_call_arguments.delta') args += e.delta;
    }
    checkSequence(events);
    const final = await stream.finalResponse();
    const call = final.output.find((o) => o.type === 'function_call');
    assert.ok(call, JSON.stringify(final.output));
    assert.equal(call.name, 'get_weather');
    assert.deepEqual(JSON.parse(args), { city: 'Paris', unit: 'c' });
    assert.ok(events.some((e) => e.type === 'response.function_call_arguments.done'));
  });

  test(`${name}: image input`, async () => {
    const r = await client.responses.create({
      model,
      input: [{ role: 'user', content: [{ type: 'input_text', text: 'describe this picture' }, { type: 'input_image', image_url: png, detail: 'auto' }] }],
    });
    assert.match(r.output_text, /describe this picture/);
  });

  test(`${name}: previous_response_id continues the conversation`, async () => {
    const r1 = await client.responses.create({ model, input: 'remember the word alpha' });
    const r2 = await client.responses.create({ model, previous_response_id: r1.id, input: 'what was the word' });
    assert.equal(r2.previous_response_id, r1.id);
    const items = await client.responses.inputItems.list(r2.id);
    assert.equal(items.data.length, 1);
    assert.equal(items.data[0].type, 'message');
    await client.responses.delete(r1.id);
    await assert.rejects(client.responses.retrieve(r1.id), (e) => e instanceof OpenAI.NotFoundError);
    await assert.rejects(
      client.responses.create({ model, previous_response_id: r1.id, input: 'again' }),
      (e) => e instanceof OpenAI.NotFoundError && /not found/.test(e.message));
  });

  test(`${name}: max_output_tokens stop is incomplete`, async () => {
    const r = await client.responses.create({ model, max_output_tokens: 16, input: 'marker-length' });
    assert.equal(r.status, 'incomplete');
    assert.equal(r.incomplete_details.reason, 'max_output_tokens');
  });

  test(`${name}: an upstream 400 keeps its status`, async () => {
    await assert.rejects(
      client.responses.create({ model, input: 'marker-bad' }),
      (e) => e instanceof OpenAI.BadRequestError && /refused this request/.test(e.message));
  });

  if (name !== 'native') {
    test(`${name}: a built-in tool is refused naming tool and target`, async () => {
      await assert.rejects(
        client.responses.create({ model, tools: [{ type: 'web_search' }], input: 'search the web' }),
        (e) => e instanceof OpenAI.BadRequestError && /web_search/.test(e.message) && e.message.includes(model));
    });
  }
}

for (const name of ['chat', 'gemini']) {
  test(`${name}: structured output (json_schema)`, async () => {
    const r = await client.responses.create({
      model: models[name],
      input: 'marker-json: the weather',
      text: { format: { type: 'json_schema', name: 'weather', strict: true, schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false } } },
    });
    assert.equal(r.text.format.type, 'json_schema');
    assert.deepEqual(JSON.parse(r.output_text), { city: 'Paris' });
  });
}

test('unknown previous_response_id is a 404', async () => {
  await assert.rejects(
    client.responses.create({ model: models.chat, previous_response_id: 'resp_does_not_exist', input: 'hi' }),
    (e) => e instanceof OpenAI.NotFoundError && e.param === 'previous_response_id');
});
