// Shared by the k6 scripts: target checks, the inference/admin clients, Punica's adapter popularity mixes, and the
// request every script sends. Settings come from environment variables (k6 run -e NAME=value); see loadtest/README.md.
import grpc from 'k6/net/grpc';
import exec from 'k6/execution';

export const TARGET = __ENV.TARGET || '127.0.0.1:50051';
export const ADAPTERS = parseInt(__ENV.ADAPTERS || '100', 10);
export const ADAPTER_PREFIX = __ENV.ADAPTER_PREFIX || 'a';
export const ADAPTER_OFFSET = parseInt(__ENV.ADAPTER_OFFSET || '0', 10);
export const POPULARITY = (__ENV.POPULARITY || 'uniform').toLowerCase();
export const ZIPF_ALPHA = parseFloat(__ENV.ZIPF_ALPHA || '1.2');
export const MAX_NEW_TOKENS = parseInt(__ENV.MAX_NEW_TOKENS || '32', 10);
export const PROMPT_WORDS = parseInt(__ENV.PROMPT_WORDS || '16', 10);
export const API_KEY = __ENV.API_KEY || '';

// A load generator pointed at someone else's server by a typo is an attack: only loopback unless ALLOW_REMOTE=1.
const host = TARGET.startsWith('[') ? TARGET.slice(1, TARGET.indexOf(']')) : TARGET.split(':')[0];
if (!['127.0.0.1', 'localhost', '::1'].includes(host) && !host.startsWith('127.') && __ENV.ALLOW_REMOTE !== '1') {
  throw new Error(`refusing non-loopback TARGET ${TARGET}; set ALLOW_REMOTE=1 only for a server you own and may load`);
}

/** A client with the InferServer contract loaded (init context only). */
export function newClient() {
  const client = new grpc.Client();
  client.load([__ENV.PROTO_ROOT || '../../protos'], 'inferserver/v1/inference.proto', 'inferserver/v1/admin.proto');
  return client;
}

/** Connects on a VU's first iteration; later iterations reuse the connection. */
export function ensureConnected(client) {
  if (exec.vu.iterationInScenario === 0) {
    client.connect(TARGET, { plaintext: true, timeout: '10s' });
  }
}

/** Call metadata: the API key when one is set. */
export function params() {
  return API_KEY ? { metadata: { authorization: `Bearer ${API_KEY}` }, timeout: '120s' } : { timeout: '120s' };
}

export function adapterName(index) {
  return ADAPTER_PREFIX + String(ADAPTER_OFFSET + index).padStart(3, '0');
}

// Zipf over ranks 0..n-1, P(k) ∝ (k+1)^-α, sampled by inverse CDF: cumulative weights once, binary search per draw.
function zipfCumulative(n, alpha) {
  const cumulative = new Array(n);
  let total = 0;
  for (let k = 0; k < n; k++) {
    total += Math.pow(k + 1, -alpha);
    cumulative[k] = total;
  }
  for (let k = 0; k < n; k++) cumulative[k] /= total;
  cumulative[n - 1] = 1;
  return cumulative;
}

const ZIPF = zipfCumulative(ADAPTERS, ZIPF_ALPHA);

/** The Zipf rank whose CDF interval [F(k-1), F(k)) holds u in [0, 1). */
export function zipfRank(u) {
  let low = 0;
  let high = ZIPF.length - 1;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (ZIPF[mid] > u) high = mid;
    else low = mid + 1;
  }
  return low;
}

/**
 * The adapter of this iteration under Punica's popularity mixes (Chen et al., MLSys 2024): distinct (every request a
 * different adapter, wrapping after ADAPTERS), uniform, zipf (α = ZIPF_ALPHA), identical (one adapter), base (none).
 */
export function pickAdapter() {
  switch (POPULARITY) {
    case 'base': return '';
    case 'identical': return adapterName(0);
    case 'distinct': return adapterName(exec.scenario.iterationInTest % ADAPTERS);
    case 'uniform': return adapterName(Math.floor(Math.random() * ADAPTERS));
    case 'zipf': return adapterName(zipfRank(Math.random()));
    default: throw new Error(`POPULARITY ${POPULARITY}: expected base, distinct, uniform, zipf or identical`);
  }
}

const WORDS = ['the', 'quick', 'brown', 'fox', 'jumps', 'over', 'a', 'lazy', 'dog', 'and', 'then', 'runs', 'to', 'see', 'what',
  'is', 'in', 'house', 'of', 'his', 'old', 'friend', 'who', 'said', 'that', 'it', 'was', 'time', 'for', 'water'];

/** The prompt of iteration i: the word list rotated by i, so prompts differ (as the C# load generator's do). */
export function prompt(i) {
  const words = [];
  for (let w = 0; w < PROMPT_WORDS; w++) words.push(WORDS[(i * 7 + w) % WORDS.length]);
  // Leading space: GPT-2's BPE gives " word" an id below 32,000 for every word here, but not always "word".
  return ' ' + words.join(' ');
}

/** A GenerateRequest: greedy, EOS ignored, so every request generates exactly MAX_NEW_TOKENS tokens. */
export function generateRequest(adapter) {
  return {
    adapter,
    text: prompt(exec.scenario.iterationInTest),
    params: { sampling: { temperature: 0 }, maxNewTokens: MAX_NEW_TOKENS, ignoreEos: true },
  };
}

/**
 * Scenario options from MODE: "closed" = VUS virtual users sharing REQUESTS iterations (bounded by MAX_DURATION);
 * "open" = arrivals at a constant RATE/s (k6 has no Poisson executor; the C# load generator has) for DURATION, at most MAX_VUS in flight.
 */
export function scenarioOptions(execName) {
  const mode = (__ENV.MODE || 'closed').toLowerCase();
  if (mode === 'open') {
    return {
      executor: 'constant-arrival-rate',
      exec: execName,
      rate: parseFloat(__ENV.RATE || '4'),
      timeUnit: '1s',
      duration: __ENV.DURATION || '60s',
      preAllocatedVUs: parseInt(__ENV.VUS || '8', 10),
      maxVUs: parseInt(__ENV.MAX_VUS || '64', 10),
    };
  }
  if (mode !== 'closed') throw new Error(`MODE ${mode}: expected closed or open`);
  return {
    executor: 'shared-iterations',
    exec: execName,
    vus: parseInt(__ENV.VUS || '8', 10),
    iterations: parseInt(__ENV.REQUESTS || '200', 10),
    maxDuration: __ENV.MAX_DURATION || '5m',
  };
}
