// Fidelity of the two dialect bridges, driven by the official SDKs: the Anthropic SDK's
// Messages requests that only Anthropic models usually get (a role "system" message mid
// conversation, a PDF document block, thinking with signatures, ignored hints) sent to an OpenAI
// upstream, and the OpenAI SDK's chat requests with prompt-cache breakpoints (cache_control
// parts) sent to an Anthropic upstream. fidelity_test.go checks what the fakes received.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';

const anthropic = new Anthropic({ baseURL: process.env.SLUICE_URL, apiKey: 'sk-client-unused', maxRetries: 0 });
const openai = new OpenAI({ baseURL: process.env.SLUICE_URL + '/v1', apiKey: 'unused', maxRetries: 0 });

// The smallest PDF header; the fakes only check it is base64.
const pdf = Buffer.from('%PDF-1.4\n%fidelity\n').toString('base64');

test('messages: a role system message mid-conversation reaches an OpenAI upstream in place', async () => {
  const m = await anthropic.messages.create({
    model: 'up/gpt-test', max_tokens: 64, system: 'Top-level prompt.',
    messages: [
      { role: 'user', content: 'first question' },
      { role: 'system', content: 'marker-midsystem: answer in French.' },
      { role: 'assistant', content: 'premier' },
      { role: 'user', content: 'second question' },
    ],
  });
  assert.equal(m.type, 'message');
  assert.match(m.content[0].text, /second question/);
});

test('messages: a PDF document block reaches an OpenAI upstream as a file part', async () => {
  const m = await anthropic.messages.create({
    model: 'up/gpt-test', max_tokens: 64,
    messages: [{ role: 'user', content: [
      { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: pdf }, title: 'report.pdf' },
      { type: 'text', text: 'marker-document: summarise the report' },
    ] }],
  });
  assert.match(m.content[0].text, /summarise the report/);
});

test('messages: hints without a chat equivalent are named in x-sluice-ignored', async () => {
  const { data, response } = await anthropic.messages.create({
    model: 'up/gpt-test', max_tokens: 64, top_k: 5,
    messages: [{ role: 'user', content: 'with top_k' }],
  }).withResponse();
  assert.match(data.content[0].text, /with top_k/);
  assert.equal(response.headers.get('x-sluice-ignored'), 'top_k');
});

test('messages: a block only Anthropic runs is refused by name', async () => {
  await assert.rejects(anthropic.messages.create({
    model: 'up/gpt-test', max_tokens: 64,
    messages: [
      { role: 'user', content: 'search' },
      { role: 'assistant', content: [{ type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: { query: 'x' } }] },
      { role: 'user', content: 'go on' },
    ],
  }), (err) => {
    assert.equal(err.status, 400);
    assert.equal(err.error?.error?.type, 'invalid_request_error');
    assert.match(err.error.error.message, /messages\[1\]\.content\[0\]: block type "server_tool_use" cannot be sent to a non-Anthropic provider/);
    return true;
  });
});

test('messages: thinking and its signature survive a tool-use round trip through the Anthropic translator', async () => {
  const model = 'antbridge/claude-haiku-4-5'; // bridged: Messages -> chat -> translator -> Messages
  const tools = [{ name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }];
  const first = await anthropic.messages.create({
    model, max_tokens: 4096, tools, thinking: { type: 'enabled', budget_tokens: 2048 },
    messages: [{ role: 'user', content: 'marker-think-tool: weather in Paris?' }],
  });
  const thinking = first.content.find((b) => b.type === 'thinking');
  assert.ok(thinking, JSON.stringify(first.content));
  assert.match(thinking.signature, /^sig_fake_/);
  const use = first.content.find((b) => b.type === 'tool_use');
  assert.ok(use);
  const next = await anthropic.messages.create({
    model, max_tokens: 4096, tools, thinking: { type: 'enabled', budget_tokens: 2048 },
    messages: [
      { role: 'user', content: 'marker-think-tool: weather in Paris?' },
      { role: 'assistant', content: first.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '18C' }] },
    ],
  });
  assert.equal(next.content.at(-1).type, 'text');
});

// A long stable prefix, as coding agents send: cache breakpoints after it.
const system = 'You are a careful assistant. '.repeat(40);

function cachedChat(question) {
  return {
    model: 'anthropic/claude-haiku-4-5', max_tokens: 64,
    messages: [
      { role: 'system', content: [{ type: 'text', text: system, cache_control: { type: 'ephemeral', ttl: '1h' } }] },
      { role: 'user', content: [
        { type: 'text', text: 'marker-cache shared context', cache_control: { type: 'ephemeral' } },
        { type: 'text', text: question },
      ] },
    ],
  };
}

test('chat: cache_control parts reach Anthropic as breakpoints; writes then reads come back in usage', async () => {
  const first = await openai.chat.completions.create(cachedChat('first question'));
  const d1 = first.usage.prompt_tokens_details;
  assert.ok(d1.cache_creation_tokens > 0, JSON.stringify(first.usage));
  assert.equal(d1.cached_tokens, 0);
  const second = await openai.chat.completions.create(cachedChat('second question'));
  const d2 = second.usage.prompt_tokens_details;
  assert.equal(d2.cached_tokens, d1.cache_creation_tokens, JSON.stringify(second.usage));
  assert.equal(d2.cache_creation_tokens, 0);
  // OpenAI counts cached tokens inside prompt_tokens.
  assert.ok(second.usage.prompt_tokens > d2.cached_tokens);
  assert.equal(second.usage.total_tokens, second.usage.prompt_tokens + second.usage.completion_tokens);
});

test('chat: streamed usage carries cached_tokens too', async () => {
  const stream = await openai.chat.completions.create({ ...cachedChat('streamed question'), stream: true, stream_options: { include_usage: true } });
  let usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
  }
  assert.ok(usage, 'no usage chunk');
  assert.ok(usage.prompt_tokens_details.cached_tokens > 0, JSON.stringify(usage));
});
