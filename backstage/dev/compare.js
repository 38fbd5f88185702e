'use strict';

// Runs the published provider 1.21.0 and this package's provider once each
// against the same function, the way the catalog drives a provider
// (connect(), then the scheduled task at once), and prints the two
// mutations they apply as JSON: {"published": ..., "ours": ...}. The
// comparison itself is tests/catalog/compare_test.go.
//
// Usage: KNATIVE_EVENT_MESH_TOKEN=<token> node dev/compare.js <id> <baseUrl>
// (the token comes from the environment, not argv, to stay out of process
// listings).
const published = require('@knative-extensions/plugin-knative-event-mesh-backend');
const ours = require('@knative-eventmesh/plugin-catalog-backend-module-knative-event-mesh');

const [id, baseUrl] = process.argv.slice(2);
const token = process.env.KNATIVE_EVENT_MESH_TOKEN ?? '';
if (!id || !baseUrl) {
  console.error('usage: KNATIVE_EVENT_MESH_TOKEN=<token> node dev/compare.js <id> <baseUrl>');
  process.exit(2);
}

const errors = [];
function logger(who) {
  const l = {
    child: () => l,
    debug() {},
    info() {},
    warn(message) { console.error(`${who} warning: ${message}`); },
    error(message, meta) { errors.push(`${who}: ${message}${meta ? ` ${JSON.stringify(meta)}` : ''}`); },
  };
  return l;
}
const taskRunner = { async run({ fn }) { await fn(); } };

async function mutationOf(who, provider) {
  const mutations = [];
  await provider.connect({
    async applyMutation(m) { mutations.push(m); },
    async refresh() {},
  });
  if (mutations.length !== 1) {
    errors.push(`${who}: applied ${mutations.length} mutations, want 1`);
  }
  return mutations[0];
}

(async () => {
  const result = {
    published: await mutationOf('published', new published.KnativeEventMeshProvider({ id, baseUrl, token }, logger('published'), taskRunner)),
    ours: await mutationOf('ours', new ours.KnativeEventMeshProvider({
      config: { id, baseUrl, token, schedule: ours.DEFAULT_SCHEDULE },
      logger: logger('ours'),
      taskRunner,
    })),
  };
  if (errors.length > 0) {
    console.error(errors.join('\n'));
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
})();
