// The LLM proxy's part of `npm run bench`: what the gateway adds to a non-streaming chat completion and to the
// time to first token of a streamed one, each against calling the same provider directly in the same run. The
// provider is the scripted OpenAI-compatible fixture (dist/test/fixtures/openai-provider.js) in its own process.
import http from 'node:http';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, ROOT, spawnNode } from './suite.mjs';

const PROVIDER_ENTRY = join(ROOT, 'dist/test/fixtures/openai-provider.js');
export const LLM_MODEL = 'bench-gpt';
/** Targets of issue 10: p50 added by the proxy, at concurrency 1. */
export const TARGET_LLM_ADDED_P50_MS = 2;

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

/** The provider fixture as a separate process; resolves once it listens. */
export async function startProviderProcess() {
  if (!existsSync(PROVIDER_ENTRY)) throw new Error(`${PROVIDER_ENTRY} is missing: run the build first`);
  const port = await freePort();
  const proc = spawnNode('openai-provider', PROVIDER_ENTRY, [], { env: { ...process.env, PORT: String(port) } });
  await proc.waitForLine(/listening \d+/);
  return { url: `http://127.0.0.1:${port}/v1`, stop: () => proc.stop() };
}

/** The model_list entry that points the gateway at the provider fixture. */
export function llmModelList(providerUrl) {
  return [{ model_name: LLM_MODEL, litellm_params: { model: 'openai/scripted', api_base: providerUrl, max_retries: 0 } }];
}

/**
 * One chat completion; resolves with the ms until the whole answer (non-streaming) or until the first content
 * delta arrived (streaming), or throws when the answer is not the scripted one.
 */
function complete(url, headers, model, stream) {
  const payload = Buffer.from(JSON.stringify({ model, stream, messages: [{ role: 'user', content: 'hello bench' }] }));
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const elapsed = () => Number(process.hrtime.bigint() - started) / 1e6;
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': payload.length, ...headers } }, (res) => {
      let text = '';
      let firstToken;
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        text += chunk;
        if (stream && firstToken === undefined && /"content":"[^"]/.test(text)) firstToken = elapsed();
      });
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`${url} answered ${res.statusCode}: ${text.slice(0, 200)}`));
        if (stream) return firstToken === undefined ? reject(new Error(`no content delta in the stream: ${text.slice(0, 200)}`)) : resolve(firstToken);
        const content = JSON.parse(text).choices?.[0]?.message?.content;
        return content === 'You said: hello bench' ? resolve(elapsed()) : reject(new Error(`unexpected answer: ${text.slice(0, 200)}`));
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

function p50(values) {
  const sorted = Float64Array.from(values).sort();
  return sorted.length ? sorted[Math.ceil(sorted.length / 2) - 1] : NaN;
}

/**
 * Sequential requests (concurrency 1), direct and gateway rounds alternating, for non-streaming completions and
 * streamed time to first token. `gateways` maps a name to `{ base, key }` (the edge's base URL and a key).
 */
export async function measureLlm({ providerUrl, gateways, rounds, roundMs, warmupMs, log }) {
  const sides = {
    direct: { url: `${providerUrl}/chat/completions`, headers: {}, model: 'scripted' },
    ...Object.fromEntries(
      Object.entries(gateways).map(([name, { base, key }]) => [name, { url: `${base}/v1/chat/completions`, headers: { authorization: `Bearer ${key}` }, model: LLM_MODEL }]),
    ),
  };
  const results = {};
  for (const stream of [false, true]) {
    const kind = stream ? 'ttft' : 'completion';
    const samples = Object.fromEntries(Object.keys(sides).map((name) => [name, { latencies: [], errors: 0 }]));
    const run = async (name, ms, sink) => {
      const side = sides[name];
      const end = Date.now() + ms;
      while (Date.now() < end) {
        try {
          sink.latencies.push(await complete(side.url, side.headers, side.model, stream));
        } catch (error) {
          if (++sink.errors <= 3) log(`${name} ${kind}: ${error.message}`);
        }
      }
    };
    log(`LLM proxy, ${stream ? 'streamed time to first token' : 'non-streaming completion'}: ${rounds} alternating rounds of ${roundMs / 1000} s per side`);
    for (const name of Object.keys(sides)) await run(name, warmupMs, { latencies: [], errors: 0 });
    for (let r = 0; r < rounds; r++) {
      const names = r % 2 === 0 ? Object.keys(sides) : Object.keys(sides).reverse();
      for (const name of names) await run(name, roundMs, samples[name]);
    }
    results[kind] = Object.fromEntries(Object.entries(samples).map(([name, s]) => [name, { p50: p50(s.latencies), calls: s.latencies.length, errors: s.errors }]));
  }
  return results;
}

/** Report lines: per gateway, the p50 it adds to a completion and to the time to first token, and the targets. */
export function reportLlm(results) {
  const f = (n) => (Number.isFinite(n) ? n.toFixed(2) : '-');
  const gateways = Object.keys(results.completion).filter((name) => name !== 'direct');
  const out = ['LLM proxy (POST /v1/chat/completions to the scripted OpenAI-compatible fixture), concurrency 1, same run:', ''];
  const rows = [['', 'direct p50 ms', ...gateways.map((g) => `${g} p50 ms`), ...gateways.map((g) => `${g} added p50 ms`), 'errors']];
  for (const [kind, label] of [['completion', 'completion'], ['ttft', 'time to first token']]) {
    const r = results[kind];
    rows.push([label, f(r.direct.p50), ...gateways.map((g) => f(r[g].p50)), ...gateways.map((g) => f(r[g].p50 - r.direct.p50)), Object.values(r).reduce((n, s) => n + s.errors, 0).toString()]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  for (const row of rows) out.push(row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  '));
  out.push('');
  for (const g of gateways) {
    for (const [kind, label] of [['completion', 'completion'], ['ttft', 'time to first token']]) {
      const added = results[kind][g].p50 - results[kind].direct.p50;
      out.push(`target: LLM proxy (${g}) adds p50 <= ${TARGET_LLM_ADDED_P50_MS} ms to a ${label}: ${f(added)} ms  ${added <= TARGET_LLM_ADDED_P50_MS ? 'PASS' : 'FAIL'}`);
    }
  }
  return out;
}

export function closeLlmBench() {
  agent.destroy();
}
