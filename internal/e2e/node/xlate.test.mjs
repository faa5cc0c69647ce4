// The official OpenAI Node SDK against the Anthropic, Gemini and Bedrock translators: structured
// output, a three-turn tool loop with reasoning (the assistant messages and Responses output
// items echoed as returned, so each provider's reasoning signature goes back), a PDF, and the
// parameter rules (ignored hints named in x-sluice-ignored, unsupported parameters refused).
// SLUICE_URL is the gateway; the fakes' script is in xlate_fidelity_test.go.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const client = new OpenAI({ baseURL: process.env.SLUICE_URL + '/v1', apiKey: 'unused', maxRetries: 0 });

const models = {
  anthropic: 'anthropic/claude-haiku-4-5',
  gemini: 'gemini/gemini-2.5-flash',
  bedrock: 'bedrock/anthropic.claude-3-5-haiku-20241022-v1:0',
};
// A minimal PDF, as a client would read it from disk.
const pdf = 'data:application/pdf;base64,' + Buffer.from('%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n').toString('base64');
const schema = {
  type: 'object',
  properties: { colour: { type: 'string' } },
  required: ['colour'],
  additionalProperties: false,
};
const params = (props) => ({ type: 'object', properties: props });
const chatTools = [
  { type: 'function', function: { name: 'get_weather', parameters: params({ city: { type: 'string' } }) } },
  { type: 'function', function: { name: 'get_time', parameters: params({ tz: { type: 'string' } }) } },
];
const responsesTools = chatTools.map((t) => ({ type: 'function', name: t.function.name, parameters: t.function.parameters }));
const question = 'marker-loop: weather and time in Paris and Rome?';
const answer = 'Paris 18C, Rome 24C, 14:00.';
// Which hints each provider has no slot for (see docs/parameters.md).
const ignoredHints = { anthropic: ['seed'], gemini: ['user'], bedrock: ['seed', 'user'] };

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

for (const [name, model] of Object.entries(models)) {
  const structured = {
    model,
    messages: [{ role: 'user', content: 'marker-structured: name one colour' }],
    response_format: { type: 'json_schema', json_schema: { name: 'colour', strict: true, schema } },
  };

  test(`${name}: structured output comes back as the message content`, async () => {
    const r = await client.chat.completions.create(structured);
    const m = r.choices[0].message;
    assert.deepEqual(JSON.parse(m.content), { colour: 'blue' });
    assert.equal(m.tool_calls, undefined);
    assert.equal(r.choices[0].finish_reason, 'stop');
  });

  test(`${name}: structured output streamed`, async () => {
    const msg = await streamedMessage(await client.chat.completions.create({ ...structured, stream: true }));
    assert.deepEqual(JSON.parse(msg.content), { colour: 'blue' });
    assert.equal(msg.tool_calls, undefined);
  });

  test(`${name}: json_object comes back as the message content`, async () => {
    const r = await client.chat.completions.create({
      model, messages: [{ role: 'user', content: 'marker-jsonobject: name one colour as JSON' }],
      response_format: { type: 'json_object' },
    });
    assert.deepEqual(JSON.parse(r.choices[0].message.content), { colour: 'blue' });
    assert.equal(r.choices[0].message.tool_calls, undefined);
  });

  test(`${name}: structured output through the Responses API`, async () => {
    const res = await client.responses.create({
      model, input: 'marker-structured: name one colour',
      text: { format: { type: 'json_schema', name: 'colour', strict: true, schema } },
    });
    assert.deepEqual(JSON.parse(res.output_text), { colour: 'blue' });
    assert.equal(res.output.filter((it) => it.type === 'function_call').length, 0);
  });

  for (const stream of [false, true]) {
    test(`${name}: three-turn tool loop with reasoning, stream ${stream}`, async () => {
      const messages = [{ role: 'user', content: question }];
      for (const want of [2, 1, 0]) {
        const req = { model, messages, tools: chatTools, reasoning_effort: 'low' };
        let msg;
        if (stream) {
          msg = await streamedMessage(await client.chat.completions.create({ ...req, stream: true }));
        } else {
          const r = await client.chat.completions.create(req);
          msg = r.choices[0].message;
          assert.ok(r.usage.completion_tokens > 0);
        }
        assert.ok(msg.reasoning_content, 'reasoning_content');
        if (want === 0) {
          assert.equal(msg.content, answer);
          return;
        }
        assert.equal(msg.tool_calls.length, want);
        // Gemini signs the steps that call tools; Claude signs every thinking block.
        assert.ok(msg.reasoning_signature, 'reasoning_signature');
        messages.push(msg);
        for (const tc of msg.tool_calls) messages.push({ role: 'tool', tool_call_id: tc.id, content: 'ok ' + tc.function.arguments });
      }
    });
  }

  test(`${name}: three-turn tool loop with reasoning through the Responses API`, async () => {
    const input = [{ role: 'user', content: question }];
    for (const want of [2, 1, 0]) {
      const res = await client.responses.create({ model, input, tools: responsesTools, reasoning: { effort: 'low' }, store: false });
      const reasoning = res.output.find((it) => it.type === 'reasoning');
      assert.ok(reasoning, 'a reasoning item');
      if (want === 0) {
        assert.equal(res.output_text, answer);
        return;
      }
      assert.ok(reasoning.encrypted_content, 'its signature');
      const calls = res.output.filter((it) => it.type === 'function_call');
      assert.equal(calls.length, want);
      input.push(...res.output, ...calls.map((c) => ({ type: 'function_call_output', call_id: c.call_id, output: 'ok ' + c.arguments })));
    }
  });

  test(`${name}: a PDF`, async () => {
    const r = await client.chat.completions.create({
      model,
      messages: [{ role: 'user', content: [
        { type: 'text', text: 'summarise the attached report' },
        { type: 'file', file: { file_data: pdf, filename: 'report.pdf' } },
      ] }],
    });
    assert.match(r.choices[0].message.content, /summarise the attached report/);
  });

  test(`${name}: a PDF through the Responses API`, async () => {
    const res = await client.responses.create({
      model,
      input: [{ role: 'user', content: [
        { type: 'input_text', text: 'summarise the attached report' },
        { type: 'input_file', file_data: pdf, filename: 'report.pdf' },
      ] }],
    });
    assert.match(res.output_text, /summarise the attached report/);
  });

  test(`${name}: a file_id is refused, naming it`, async () => {
    await assert.rejects(client.chat.completions.create({
      model,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }, { type: 'file', file: { file_id: 'file-abc' } }] }],
    }), (e) => e.status === 400 && /file_id/.test(e.message));
  });

  test(`${name}: hints without a slot are named in x-sluice-ignored`, async () => {
    const { data, response } = await client.chat.completions.create({
      model, messages: [{ role: 'user', content: 'hello hints' }], seed: 7, user: 'u-1',
    }).withResponse();
    assert.match(data.choices[0].message.content, /hello hints/);
    const got = (response.headers.get('x-sluice-ignored') ?? '').split(',').filter(Boolean).sort();
    assert.deepEqual(got, ignoredHints[name]);
  });

  test(`${name}: an unsupported parameter is refused, naming it`, async () => {
    await assert.rejects(client.chat.completions.create({
      model, messages: [{ role: 'user', content: 'x' }], logprobs: true,
    }), (e) => e.status === 400 && /logprobs/.test(e.message) && new RegExp(name).test(e.message));
  });
}

test('anthropic: a refusal comes back as the refusal member', async () => {
  const r = await client.chat.completions.create({
    model: models.anthropic, messages: [{ role: 'user', content: 'marker-refuse' }],
    response_format: { type: 'json_schema', json_schema: { name: 'colour', schema } },
  });
  assert.equal(r.choices[0].message.content, null);
  assert.equal(r.choices[0].message.refusal, 'I cannot help with that.');
});
