// Classify traffic against an encoder model with classifier adapters (KIND=embed: Embed calls instead). Examples:
//   k6 run -e POPULARITY=uniform -e ADAPTERS=2 -e ADAPTER_PREFIX=qv-r -e TEXTS=4 classify.js
//   all-MiniLM-L6-v2 (make-demo --kind minilm writes cls000..cls003):
//   k6 run -e POPULARITY=uniform -e ADAPTERS=4 -e ADAPTER_PREFIX=cls -e TEXTS=64 classify.js
//   k6 run -e POPULARITY=base -e KIND=embed -e TEXTS=64 classify.js
import grpc from 'k6/net/grpc';
import { check } from 'k6';
import { Rate } from 'k6/metrics';
import exec from 'k6/execution';
import { ensureConnected, newClient, params, pickAdapter, prompt, scenarioOptions } from './lib/common.js';

const TEXTS = parseInt(__ENV.TEXTS || '4', 10);
const METHOD = (__ENV.KIND || 'classify').toLowerCase() === 'embed' ? 'Embed' : 'Classify';
const client = newClient();
const failed = new Rate('inferserver_failed');

export const options = {
  scenarios: { classify: scenarioOptions('classify') },
  thresholds: {
    inferserver_failed: [`rate<${__ENV.MAX_ERROR_RATE || '0.01'}`],
    grpc_req_duration: [`p(95)<${__ENV.CLASSIFY_P95_MS || '1000'}`],
  },
};

export function classify() {
  ensureConnected(client);
  const texts = [];
  for (let i = 0; i < TEXTS; i++) texts.push(prompt(exec.scenario.iterationInTest + i));
  const response = client.invoke(`inferserver.v1.Inference/${METHOD}`, { adapter: pickAdapter(), texts }, params());
  const ok = check(response, {
    'status is OK': (r) => r && r.status === grpc.StatusOK,
    'one result per text': (r) => r && r.message && r.message.results.length === TEXTS,
  });
  failed.add(!ok, { status: String(response && response.status) });
}
