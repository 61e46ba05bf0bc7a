// Tool calling with the official openai Node client. OpenAiNodeClientToolTests (xunit) starts a server on the demo Llama
// (its 512-token context holds the tool instructions; llama-tiny's 128 does not) and sets INFERSERVER_TOOLS_BASE_URL,
// INFERSERVER_TOOLS_MODEL and INFERSERVER_TOOLS_ADAPTER; without them (the plain client run) these tests skip.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const baseURL = process.env.INFERSERVER_TOOLS_BASE_URL;
const model = process.env.INFERSERVER_TOOLS_MODEL;
const adapter = process.env.INFERSERVER_TOOLS_ADAPTER;
const skip = baseURL && model && adapter ? false : 'INFERSERVER_TOOLS_BASE_URL, INFERSERVER_TOOLS_MODEL and INFERSERVER_TOOLS_ADAPTER are not set';
const client = new OpenAI({ baseURL: baseURL ?? 'http://unused', apiKey: 'unused', maxRetries: 0, timeout: 120_000 });

// Tool calling round trip: the model is forced to call the tool (random weights: the grammar makes the call valid), the
// tool's result goes back as a `tool` message, and the model answers; unary, and streamed through the client's own
// accumulator (which joins the tool-call deltas), on the base and on an adapter.
const weatherTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string', maxLength: 12 } }, required: ['city'], additionalProperties: false },
  },
};

async function roundTrip(name, streamed) {
  const messages = [{ role: 'user', content: 'What is the weather in Paris?' }];
  const ask = { model: name, messages, tools: [weatherTool], tool_choice: 'required', max_tokens: 120, temperature: 0.8, seed: 7 };
  const usage = { stream_options: { include_usage: true } };
  const first = streamed
    ? await client.chat.completions.stream({ ...ask, ...usage }).finalChatCompletion()
    : await client.chat.completions.create(ask);
  const choice = first.choices[0];
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.equal(choice.message.tool_calls.length, 1);
  const call = choice.message.tool_calls[0];
  assert.equal(call.type, 'function');
  assert.equal(call.function.name, 'get_weather');
  assert.equal(typeof JSON.parse(call.function.arguments).city, 'string');
  assert.ok(call.id.length > 0);

  messages.push(choice.message);
  messages.push({ role: 'tool', tool_call_id: call.id, content: JSON.stringify({ temperature: 21, sky: 'clear' }) });
  const answer = { model: name, messages, tools: [weatherTool], tool_choice: 'none', max_tokens: 8, temperature: 0, ignore_eos: true };
  const final = streamed
    ? await client.chat.completions.stream({ ...answer, ...usage }).finalChatCompletion()
    : await client.chat.completions.create(answer);
  assert.equal(final.choices[0].finish_reason, 'length');
  assert.equal(typeof final.choices[0].message.content, 'string');
  assert.ok(!final.choices[0].message.tool_calls || final.choices[0].message.tool_calls.length === 0);
  assert.ok(final.usage.prompt_tokens > first.usage.prompt_tokens, 'the call and its result are part of the next prompt');
}

test('tools: forced call, tool result, final answer (unary, base model)', { skip }, () => roundTrip(model, false));
test('tools: forced call, tool result, final answer (streamed, base model)', { skip }, () => roundTrip(model, true));
test('tools: forced call, tool result, final answer (unary and streamed, adapter)', { skip }, async () => {
  await roundTrip(adapter, false);
  await roundTrip(adapter, true);
});
