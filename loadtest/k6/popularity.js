// Generation traffic under one of Punica's adapter popularity mixes, unary (KIND=unary) or streamed (KIND=stream,
// with time to first token as a custom Trend). Example (server on 127.0.0.1:50051, adapters a000..a099):
//   k6 run -e POPULARITY=zipf -e ZIPF_ALPHA=1.2 -e ADAPTERS=100 -e KIND=stream -e VUS=8 -e REQUESTS=200 popularity.js
import grpc from 'k6/net/grpc';
import { check } from 'k6';
import { Counter, Rate, Trend } from 'k6/metrics';
import { ensureConnected, generateRequest, newClient, params, pickAdapter, POPULARITY, scenarioOptions } from './lib/common.js';

const KIND = (__ENV.KIND || 'stream').toLowerCase();
if (KIND !== 'unary' && KIND !== 'stream') throw new Error(`KIND ${KIND}: expected unary or stream`);

const client = newClient();
const timeToFirstToken = new Trend('inferserver_ttft', true);
const timePerOutputToken = new Trend('inferserver_tpot', true);
const serverTimeToFirstToken = new Trend('inferserver_server_ttft', true);
const outputTokens = new Counter('inferserver_output_tokens');
const failed = new Rate('inferserver_failed');

export const options = {
  scenarios: { [`${POPULARITY}_${KIND}`]: scenarioOptions(KIND) },
  thresholds: {
    // Service-level objectives for a run to pass; tune them to your model and hardware (README).
    inferserver_failed: [`rate<${__ENV.MAX_ERROR_RATE || '0.01'}`],
    inferserver_ttft: [`p(95)<${__ENV.TTFT_P95_MS || '2000'}`],
    inferserver_tpot: [`p(95)<${__ENV.TPOT_P95_MS || '500'}`],
  },
};

export function unary() {
  ensureConnected(client);
  const started = Date.now();
  const response = client.invoke('inferserver.v1.Inference/Generate', generateRequest(pickAdapter()), params());
  const ended = Date.now();
  const ok = check(response, { 'status is OK': (r) => r && r.status === grpc.StatusOK });
  failed.add(!ok, { status: String(response && response.status) });
  if (!ok) return;
  const message = response.message;
  const tokens = (message.usage && message.usage.completionTokens) || 0;
  outputTokens.add(tokens);
  // A unary call never shows the client its first token; the server's own TTFT is the closest measure.
  const serverTtft = message.timing ? message.timing.timeToFirstTokenMs : undefined;
  if (serverTtft !== undefined) {
    serverTimeToFirstToken.add(serverTtft);
    timeToFirstToken.add(serverTtft);
    if (tokens > 1) timePerOutputToken.add((ended - started - serverTtft) / (tokens - 1));
  }
}

export function stream() {
  ensureConnected(client);
  const started = Date.now();
  let firstToken = 0;
  const call = new grpc.Stream(client, 'inferserver.v1.Inference/GenerateStream', params());
  call.on('data', (frame) => {
    if (frame.delta && !firstToken && frame.delta.tokenIds && frame.delta.tokenIds.length > 0) {
      firstToken = Date.now();
      timeToFirstToken.add(firstToken - started);
    }
    if (frame.final) {
      const ended = Date.now();
      const tokens = (frame.final.usage && frame.final.usage.completionTokens) || 0;
      outputTokens.add(tokens);
      if (frame.final.timing) serverTimeToFirstToken.add(frame.final.timing.timeToFirstTokenMs);
      if (firstToken && tokens > 1) timePerOutputToken.add((ended - firstToken) / (tokens - 1));
      failed.add(false);
    }
  });
  call.on('error', (error) => {
    failed.add(true, { status: String(error && error.code) });
  });
  // Server streaming: one request message, then half-close; the iteration ends when the stream does.
  call.write(generateRequest(pickAdapter()));
  call.end();
}
