// Adapter churn while serving: generation traffic (POPULARITY mix) in one scenario, and in another the admin API
// unloading and reloading adapters a000..a(CHURN_ADAPTERS-1) every CHURN_INTERVAL_MS milliseconds. The server must run with admin
// access (an admin API_KEY, or Security:AllowUnauthenticatedAdmin=true on loopback). Example:
//   k6 run -e POPULARITY=uniform -e ADAPTERS=100 -e CHURN_ADAPTERS=4 -e CHURN_INTERVAL_MS=500 churn.js
import grpc from 'k6/net/grpc';
import { check, sleep } from 'k6';
import { Rate, Trend } from 'k6/metrics';
import exec from 'k6/execution';
import { adapterName, ensureConnected, generateRequest, newClient, params, pickAdapter, scenarioOptions } from './lib/common.js';

const CHURN_ADAPTERS = parseInt(__ENV.CHURN_ADAPTERS || '4', 10);
const CHURN_CYCLES = parseInt(__ENV.CHURN_CYCLES || '100', 10);
const CHURN_INTERVAL_MS = parseInt(__ENV.CHURN_INTERVAL_MS || '500', 10);

const client = newClient();
const failed = new Rate('inferserver_failed');
const adminFailed = new Rate('inferserver_admin_failed');
const unloadLatency = new Trend('inferserver_unload', true);
const loadLatency = new Trend('inferserver_load', true);

export const options = {
  scenarios: {
    traffic: scenarioOptions('traffic'),
    churn: {
      executor: 'shared-iterations',
      exec: 'churn',
      vus: 1,
      iterations: CHURN_CYCLES,
      maxDuration: __ENV.MAX_DURATION || '5m',
    },
  },
  thresholds: {
    // Requests racing an unload may fail NOT_FOUND by design; the threshold bounds how many.
    inferserver_failed: [`rate<${__ENV.MAX_ERROR_RATE || '0.05'}`],
    inferserver_admin_failed: ['rate<0.01'],
  },
};

export function traffic() {
  ensureConnected(client);
  const response = client.invoke('inferserver.v1.Inference/Generate', generateRequest(pickAdapter()), params());
  failed.add(!check(response, { 'generate OK': (r) => r && r.status === grpc.StatusOK }), { status: String(response && response.status) });
}

export function churn() {
  ensureConnected(client);
  sleep(CHURN_INTERVAL_MS / 1000);
  const name = adapterName(exec.scenario.iterationInTest % CHURN_ADAPTERS);
  let started = Date.now();
  const unload = client.invoke('inferserver.v1.Admin/UnloadAdapter', { name }, params());
  unloadLatency.add(Date.now() - started);
  adminFailed.add(!check(unload, { 'unload OK': (r) => r && r.status === grpc.StatusOK }));
  started = Date.now();
  const load = client.invoke('inferserver.v1.Admin/LoadAdapter', { name }, params());
  loadLatency.add(Date.now() - started);
  adminFailed.add(!check(load, { 'load OK': (r) => r && r.status === grpc.StatusOK }));
}
