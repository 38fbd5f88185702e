// Runs the published Backstage Knative Event Mesh entity provider once
// against the function, the way Backstage's catalog drives it: connect() with
// a connection, and a task runner that runs the scheduled task right away.
//
// Usage: KNATIVE_EVENT_MESH_TOKEN=<token> node provider.mjs <baseUrl>
//
// Prints the mutation the provider applied to the connection (the entities
// it would write into the catalog) as JSON on stdout. When the provider
// fails, prints its error on stderr and exits 1.
//
// The token is read from the environment, not argv, so that it does not
// show in process listings.
import { KnativeEventMeshProvider } from '@knative-extensions/plugin-knative-event-mesh-backend';

const baseUrl = process.argv[2] ?? process.env.KNATIVE_EVENT_MESH_BASE_URL;
const token = process.env.KNATIVE_EVENT_MESH_TOKEN ?? '';
const id = process.env.KNATIVE_EVENT_MESH_ID ?? 'e2e';
if (!baseUrl) {
  console.error('usage: KNATIVE_EVENT_MESH_TOKEN=<token> node provider.mjs <baseUrl>');
  process.exit(2);
}

// The provider catches what its run throws and logs it with logger.error
// (Backstage's scheduler never sees it), so errors are caught here.
const errors = [];
const logger = {
  child() { return this; },
  debug() {},
  info() {},
  warn(message, meta) { console.error('provider warning:', message, meta ?? ''); },
  error(message, meta) { errors.push({ message, meta }); },
};
const taskRunner = { async run({ fn }) { await fn(); } };

const mutations = [];
const connection = {
  async applyMutation(mutation) { mutations.push(mutation); },
  async refresh() {},
};

const provider = new KnativeEventMeshProvider({ id, baseUrl, token }, logger, taskRunner);
try {
  await provider.connect(connection);
} catch (err) {
  errors.push({ message: 'connect threw', meta: { name: err.name, message: err.message, stack: err.stack } });
}

if (errors.length > 0) {
  for (const { message, meta } of errors) {
    console.error(`provider error: ${message}: ${meta?.name ?? 'Error'}: ${meta?.message ?? ''}`);
  }
  process.exit(1);
}
if (mutations.length !== 1) {
  console.error(`provider applied ${mutations.length} mutations, want 1`);
  process.exit(1);
}
process.stdout.write(JSON.stringify(mutations[0], null, 2) + '\n');
