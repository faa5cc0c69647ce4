// The official OpenAI Node SDK runs a three-turn tool loop with reasoning against a Gemini fake
// that refuses a step whose thought signature did not come back. The client echoes what it got:
// the assistant message as returned (reasoning_content and reasoning_signature included), a
// stream's deltas concatenated, the Responses output items. SLUICE_URL is the gateway; the fake
// plays two weather calls, one time call, then the answer (see gemini_thinking_test.go).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const client = new OpenAI({ baseURL: process.env.SLUICE_URL + '/v1', apiKey: 'unused', maxRetries: 0 });
const model = 'gemini/gemini-2.5-flash';
const question = 'Weather and time in Paris and Rome?';
const answer = 'Paris 18C, Rome 24C, 14:00.';
const params = (props) => ({ type: 'object', properties: props });
const chatTools = [
  { type: 'function', function: { name: 'get_weather', parameters: params({ city: { type: 'string' } }) } },
  { type: 'function', function: { name: 'get_time', parameters: params({ tz: { type: 'string' } }) } },
];
const responsesTools = chatTools.map((t) => ({ type: 'function', name: t.function.name, parameters: t.function.parameters }));

// streamedMessage rebuilds the assistant message from chunks, extension members included.
async function streamedMessage(stream) {
  const msg = { role: 'assistant', content: '', reasoning_content: '', reasoning_signature: '' };
  const calls = [];
  for await (const chunk of stream) {
    const d = chunk.choices[0]?.delta ?? {};
    msg.content += d.content ?? '';
    msg.reasoning_content += d.reasoning_content ?? '';
    msg.reasoning_signature += d.reasoning_signature ?? '';
    for (const tc of d.tool_calls ?? []) {
      calls[tc.index] ??= { id: '', type: 'function', function: { name: '', arguments: '' } };
      if (tc.id) calls[tc.index].id = tc.id;
      calls[tc.index].function.name += tc.function?.name ?? '';
      calls[tc.index].function.arguments += tc.function?.arguments ?? '';
    }
  }
  if (calls.length) msg.tool_calls = calls;
  return msg;
}

for (const stream of [false, true]) {
  test(`chat completions, stream ${stream}: the assistant messages echoed as returned`, async () => {
    const messages = [{ role: 'user', content: question }];
    for (const want of [2, 1, 0]) {
      const req = { model, messages, tools: chatTools, reasoning_effort: 'low' };
      const msg = stream
        ? await streamedMessage(await client.chat.completions.create({ ...req, stream: true }))
        : (await client.chat.completions.create(req)).choices[0].message;
      assert.ok(msg.reasoning_content, 'reasoning_content');
      if (want === 0) {
        assert.equal(msg.content, answer);
        return;
      }
      assert.equal(msg.tool_calls.length, want);
      assert.match(msg.reasoning_signature, /^gemini:/);
      messages.push(msg);
      for (const tc of msg.tool_calls) messages.push({ role: 'tool', tool_call_id: tc.id, content: 'ok ' + tc.function.arguments });
    }
  });
}

const outputsFor = (res) => res.output.filter((it) => it.type === 'function_call')
  .map((it) => ({ type: 'function_call_output', call_id: it.call_id, output: 'ok ' + it.arguments }));

test('responses, chained with previous_response_id', async () => {
  let input = question;
  let prev;
  for (const want of [2, 1, 0]) {
    const res = await client.responses.create({ model, input, tools: responsesTools, reasoning: { effort: 'low' }, previous_response_id: prev });
    if (want === 0) {
      assert.equal(res.output_text, answer);
      return;
    }
    assert.equal(res.output[0].type, 'reasoning');
    assert.match(res.output[0].encrypted_content, /^gemini:/);
    input = outputsFor(res);
    assert.equal(input.length, want);
    prev = res.id;
  }
});

test('responses, streamed, the output items echoed in input', async () => {
  const input = [{ role: 'user', content: question }];
  for (const want of [2, 1, 0]) {
    const res = await client.responses.stream({ model, input, tools: responsesTools, reasoning: { effort: 'low' }, store: false }).finalResponse();
    if (want === 0) {
      assert.equal(res.output_text, answer);
      return;
    }
    assert.match(res.output[0].encrypted_content, /^gemini:/);
    const outs = outputsFor(res);
    assert.equal(outs.length, want);
    input.push(...res.output, ...outs);
  }
});
