// Drives a running `amusd serve` with the official OpenAI Node.js SDK: models, completions and chat completions,
// streamed and not, every strategy, errors and an aborted stream.
// Usage: node openai_client.mjs BASE_URL (e.g. http://127.0.0.1:8080/v1)
// Exits 0 when every check passed.
import OpenAI from 'openai';

const baseURL = process.argv[2];
const client = new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 0, timeout: 60_000 });
const failures = [];
const check = (cond, what) => {
  if (!cond) {
    failures.push(what);
    console.log(`FAIL: ${what}`);
  }
};

async function completions() {
  const models = await client.models.list();
  check(models.data.length === 1 && models.data[0].id === 'stories260K', `models: ${JSON.stringify(models.data)}`);

  const texts = {};
  for (const strategy of ['ar', 'sd', 'amusd']) {
    const req = { model: 'stories260K', prompt: 'Once upon a time', max_tokens: 48, temperature: 0, strategy };
    const r = await client.completions.create(req);
    check(r.object === 'text_completion' && r.choices.length === 1, `${strategy}: shape ${JSON.stringify(r)}`);
    check(r.usage.completion_tokens > 0 && r.usage.total_tokens === r.usage.prompt_tokens + r.usage.completion_tokens,
      `${strategy}: usage ${JSON.stringify(r.usage)}`);
    check(r.speculative?.strategy === strategy, `${strategy}: speculative ${JSON.stringify(r.speculative)}`);
    texts[strategy] = r.choices[0].text;

    const stream = await client.completions.create({ ...req, stream: true });
    let streamed = '';
    let finish = null;
    for await (const chunk of stream) {
      for (const c of chunk.choices) {
        streamed += c.text ?? '';
        finish = c.finish_reason ?? finish;
      }
    }
    check(streamed === texts[strategy], `${strategy}: streamed text differs: ${JSON.stringify(streamed)}`);
    check(finish === r.choices[0].finish_reason, `${strategy}: streamed finish_reason ${finish}`);
  }
  check(texts.ar === texts.sd && texts.ar === texts.amusd, `strategies differ: ${JSON.stringify(texts)}`);
}

async function chat() {
  const messages = [
    { role: 'system', content: 'You tell stories.' },
    { role: 'user', content: 'Tell me about a dog.' },
  ];
  for (const strategy of ['ar', 'amusd']) {
    const req = { model: 'x', messages, max_tokens: 32, temperature: 0, strategy };
    const r = await client.chat.completions.create(req);
    check(r.object === 'chat.completion' && r.choices[0].message.role === 'assistant', `chat ${strategy}: shape`);
    const text = r.choices[0].message.content;
    const stream = await client.chat.completions.create(
      { ...req, stream: true, stream_options: { include_usage: true } });
    let streamed = '';
    let usage = null;
    for await (const chunk of stream) {
      check(chunk.object === 'chat.completion.chunk', `chat ${strategy}: chunk object ${chunk.object}`);
      for (const c of chunk.choices) streamed += c.delta?.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    check(streamed === text, `chat ${strategy}: streamed ${JSON.stringify(streamed)} vs ${JSON.stringify(text)}`);
    check(usage && usage.completion_tokens === r.usage.completion_tokens,
      `chat ${strategy}: usage ${JSON.stringify(usage)}`);
  }
}

async function errors() {
  for (const [req, param] of [
    [{ model: 'x', prompt: 'Once', max_tokens: 0 }, 'max_tokens'],
    [{ model: 'x', prompt: 'Once', strategy: 'nope' }, 'strategy'],
    [{ model: 'x', prompt: 'Once', temperature: 9 }, 'temperature'],
  ]) {
    try {
      await client.completions.create(req);
      check(false, `no error for ${JSON.stringify(req)}`);
    } catch (e) {
      check(e instanceof OpenAI.APIError && e.status === 400, `status ${e.status} for ${JSON.stringify(req)}: ${e}`);
      check(e.param === param && e.type === 'invalid_request_error', `param ${e.param} / type ${e.type}`);
    }
  }
  // Aborting a stream mid-way (the SDK's way to cancel) must leave the server serving.
  const controller = new AbortController();
  const stream = await client.completions.create(
    { model: 'x', prompt: 'Once', max_tokens: 1500, temperature: 0, ignore_eos: true, stream: true },
    { signal: controller.signal });
  let n = 0;
  try {
    for await (const chunk of stream) {
      if (++n === 3) controller.abort();
    }
  } catch (e) {
    check(e.name === 'AbortError' || e instanceof OpenAI.APIUserAbortError, `abort: ${e}`);
  }
  const r = await client.completions.create({ model: 'x', prompt: 'Once', max_tokens: 4, temperature: 0 });
  check(r.usage.completion_tokens === 4, 'serving after an aborted stream');
}

try {
  await completions();
  await chat();
  await errors();
} catch (e) {
  failures.push(String(e));
  console.log(`FAIL: ${e?.stack ?? e}`);
}
if (failures.length) {
  console.log(`${failures.length} check(s) failed`);
  process.exit(1);
}
console.log('openai client: all checks passed');
