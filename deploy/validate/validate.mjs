// Validates every manifest in deploy/*.yaml (node validate.mjs; exit 0 = all valid):
// - Kubernetes kinds with kubernetes-models and Gateway API kinds with @kubernetes-models/gateway-api (their generated
//   validators check types, required fields and enums; they do not reject unknown fields);
// - Inference Extension / llm-d kinds with ajv against the openAPIV3Schema of the vendored CRDs (schemas/SOURCE.md),
//   made strict (additionalProperties: false wherever properties are listed), as `kubectl apply --validate=strict` is.
// Before that it checks itself: a known-bad object of each family must be rejected, so a validator that accepts
// everything fails here instead of passing silently.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import Ajv from 'ajv';
import * as apps from 'kubernetes-models/apps/v1';
import * as core from 'kubernetes-models/v1';
import * as gateway from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1';

const here = dirname(fileURLToPath(import.meta.url));
const deployDirectory = join(here, '..');

const builtIn = {
  'v1/ServiceAccount': core.ServiceAccount,
  'v1/Service': core.Service,
  'v1/PersistentVolumeClaim': core.PersistentVolumeClaim,
  'v1/Secret': core.Secret,
  'apps/v1/Deployment': apps.Deployment,
  'gateway.networking.k8s.io/v1/Gateway': gateway.Gateway,
  'gateway.networking.k8s.io/v1/HTTPRoute': gateway.HTTPRoute,
};

// Strict like the API server's field validation: no field outside the schema, except where the schema preserves unknowns.
function strict(schema) {
  if (Array.isArray(schema)) return schema.map(strict);
  if (schema === null || typeof schema !== 'object') return schema;
  const copy = Object.fromEntries(Object.entries(schema).map(([key, value]) => [key, strict(value)]));
  if (copy.properties && copy.additionalProperties === undefined && !copy['x-kubernetes-preserve-unknown-fields']) copy.additionalProperties = false;
  return copy;
}

const ajv = new Ajv({ allErrors: true, strict: false });
// The OpenAPI formats these CRDs use (CEL rules, x-kubernetes-validations, are the API server's and are not run here).
ajv.addFormat('int32', { type: 'number', validate: (value) => Number.isInteger(value) && value >= -(2 ** 31) && value < 2 ** 31 });
ajv.addFormat('int64', { type: 'number', validate: (value) => Number.isInteger(value) });
ajv.addFormat('date-time', { type: 'string', validate: (value) => !Number.isNaN(Date.parse(value)) });
const crdValidators = {};
for (const file of readdirSync(join(here, 'schemas')).filter((name) => name.endsWith('.yaml'))) {
  const crd = parseAllDocuments(readFileSync(join(here, 'schemas', file), 'utf8'))[0].toJS();
  for (const version of crd.spec.versions) {
    const schema = strict(version.schema.openAPIV3Schema);
    // metadata is the API server's ObjectMeta, not part of the CRD schema.
    schema.properties.metadata = { type: 'object' };
    crdValidators[`${crd.spec.group}/${version.name}/${crd.spec.names.kind}`] = ajv.compile(schema);
  }
}

function problems(object) {
  const key = `${object.apiVersion}/${object.kind}`;
  if (!object.metadata?.name) return ['metadata.name is required'];
  if (builtIn[key]) {
    try {
      new builtIn[key](object).validate();
      return [];
    } catch (error) {
      return [error.message];
    }
  }
  const validate = crdValidators[key];
  if (!validate) return [`no schema for ${key}: add it to validate.mjs (a kind nobody validates must not pass)`];
  return validate(object) ? [] : validate.errors.map((error) => `${error.instancePath || '/'} ${error.message} ${JSON.stringify(error.params)}`);
}

let failed = 0;
const selfChecks = [
  { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'bad' }, spec: { selector: {}, template: { spec: { containers: [{ image: 'x' }] } } } },
  { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'bad' }, spec: { rules: [{ backendRefs: [{ port: 'eighty' }] }] } },
  { apiVersion: 'inference.networking.k8s.io/v1', kind: 'InferencePool', metadata: { name: 'bad' }, spec: { selector: { matchLabels: { app: 'x' } }, targetPort: 8000 } },
  { apiVersion: 'llm-d.ai/v1alpha2', kind: 'InferenceObjective', metadata: { name: 'bad' }, spec: { priority: 'high' } },
];
for (const bad of selfChecks) {
  if (problems(bad).length === 0) {
    console.log(`not ok - self-check: a broken ${bad.kind} was accepted`);
    failed++;
  }
}

let checked = 0;
for (const file of readdirSync(deployDirectory).filter((name) => name.endsWith('.yaml')).sort()) {
  for (const document of parseAllDocuments(readFileSync(join(deployDirectory, file), 'utf8'))) {
    if (document.errors.length > 0) {
      console.log(`not ok - ${file}: YAML: ${document.errors.map(String).join('; ')}`);
      failed++;
      continue;
    }
    const object = document.toJS();
    if (object === null) continue;
    checked++;
    const found = problems(object);
    const name = `${file}: ${object.kind} ${object.metadata?.name}`;
    if (found.length === 0) {
      console.log(`ok - ${name}`);
    } else {
      failed++;
      console.log(`not ok - ${name}`);
      for (const problem of found) console.log(`    ${problem}`);
    }
  }
}
console.log(`${checked - failed >= 0 ? checked - failed : 0} passed, ${failed} failed`);
process.exit(failed === 0 && checked > 0 ? 0 : 1);
