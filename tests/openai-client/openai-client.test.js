// The official openai Node client against a running InferServer. OpenAiNodeClientTests (xunit) starts the server and
// sets INFERSERVER_OPENAI_BASE_URL (…/v1) and INFERSERVER_MODEL (the base model's served name).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI, { NotFoundError, BadRequestError } from 'openai';

const baseURL = process.env.INFERSERVER_OPENAI_BASE_URL;
const model = process.env.INFERSERVER_MODEL;
const adapter = process.env.INFERSERVER_ADAPTER; // an adapter under the server's adapter root (the xunit runner sets it)
if (!baseURL || !model) throw new Error('INFERSERVER_OPENAI_BASE_URL and INFERSERVER_MODEL must be set (run through OpenAiNodeClientTests)');

const client = new OpenAI({ baseURL, apiKey: process.env.INFERSERVER_API_KEY ?? 'unused', maxRetries: 0, timeout: 60_000 });
const greedy = { temperature: 0, max_tokens: 6, ignore_eos: true };

test('completion returns text and usage', async () => {
  const completion = await client.completions.create({ model, prompt: 'a b c', ...greedy });
  assert.equal(completion.object, 'text_completion');
  assert.equal(completion.choices.length, 1);
  assert.equal(completion.choices[0].finish_reason, 'length');
  assert.equal(completion.usage.completion_tokens, 6);
  assert.equal(completion.usage.total_tokens, completion.usage.prompt_tokens + 6);
});

test('streamed completion joins to the unary text and ends with usage', async () => {
  const unary = await client.completions.create({ model, prompt: 'a b c', ...greedy });
  const stream = await client.completions.create({ model, prompt: 'a b c', ...greedy, stream: true, stream_options: { include_usage: true } });
  let text = '';
  let usage;
  for await (const chunk of stream) {
    for (const choice of chunk.choices) text += choice.text;
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, unary.choices[0].text);
  assert.equal(usage.completion_tokens, 6);
});

test('chat completion returns an assistant message and usage', async () => {
  const chat = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Say hello.' }], ...greedy });
  assert.equal(chat.object, 'chat.completion');
  assert.equal(chat.choices[0].message.role, 'assistant');
  assert.equal(typeof chat.choices[0].message.content, 'string');
  assert.equal(chat.usage.completion_tokens, 6);
});

test('streamed chat joins to the unary message', async () => {
  const messages = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hello.' }];
  const unary = await client.chat.completions.create({ model, messages, ...greedy });
  const stream = await client.chat.completions.create({ model, messages, ...greedy, stream: true, stream_options: { include_usage: true } });
  let content = '';
  let usage;
  let finish;
  for await (const chunk of stream) {
    for (const choice of chunk.choices) {
      content += choice.delta.content ?? '';
      finish = choice.finish_reason ?? finish;
    }
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(content, unary.choices[0].message.content);
  assert.equal(finish, 'length');
  assert.equal(usage.completion_tokens, unary.usage.completion_tokens);
});

test('models lists the base model', async () => {
  const ids = [];
  for await (const card of client.models.list()) ids.push(card.id);
  assert.equal(ids[0], model);
});

test('an unknown adapter is a NotFoundError naming the model parameter', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'no-such-adapter', messages: [{ role: 'user', content: 'hi' }] }),
    (error) => error instanceof NotFoundError && error.status === 404 && error.param === 'model' && error.code === 'model_not_found');
});

test('an unsupported parameter is a BadRequestError naming it', async () => {
  await assert.rejects(
    client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }], logit_bias: { '1': 5 } }),
    (error) => error instanceof BadRequestError && error.param === 'logit_bias');
});

test('a json_schema response format gives JSON of that schema', async () => {
  const schema = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'], additionalProperties: false };
  const completion = await client.chat.completions.create({
    model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 32, temperature: 0,
    response_format: { type: 'json_schema', json_schema: { name: 'answer', schema, strict: true } },
  });
  assert.equal(completion.choices[0].finish_reason, 'stop');
  assert.equal(typeof JSON.parse(completion.choices[0].message.content).ok, 'boolean');
});

test('a schema keyword the server cannot enforce is a BadRequestError naming the schema', async () => {
  await assert.rejects(
    client.chat.completions.create({
      model, messages: [{ role: 'user', content: 'hi' }],
      response_format: { type: 'json_schema', json_schema: { name: 'zip', schema: { type: 'string', pattern: '^[0-9]{5}$' } } },
    }),
    (error) => error instanceof BadRequestError && error.param === 'response_format.json_schema.schema' && /pattern/.test(error.message));
});

test('an adapter is served by name', { skip: adapter ? false : 'INFERSERVER_ADAPTER is not set' }, async () => {
  const [base, tuned] = await Promise.all([
    client.completions.create({ model, prompt: 'a b c', ...greedy }),
    client.completions.create({ model: adapter, prompt: 'a b c', ...greedy }),
  ]);
  assert.equal(tuned.model, adapter);
  assert.equal(tuned.usage.completion_tokens, 6);
  assert.notEqual(tuned.choices[0].text, base.choices[0].text);
});

test('a tool without a name is a BadRequestError naming it', async () => {
  await assert.rejects(
    client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'function', function: { description: 'x' } }] }),
    (error) => error instanceof BadRequestError && error.param === 'tools[0].function.name');
});
