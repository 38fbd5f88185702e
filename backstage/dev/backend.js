'use strict';

// A Backstage backend with the catalog, the events plugin and its HTTP
// ingress, the published Knative Event Mesh provider, and this module: what
// `make run-backstage` runs and the end-to-end tests (tests/catalog) start.
//
// Usage: node dev/backend.js --config app-config.yaml
//
// The configuration (port, database, providers, tokens) comes from the
// --config files; see tests/backstage for the one the tests write.
const { createBackend } = require('@backstage/backend-defaults');

const backend = createBackend();
backend.add(import('@backstage/plugin-catalog-backend'));
backend.add(import('@backstage/plugin-events-backend'));
backend.add(import('@knative-extensions/plugin-knative-event-mesh-backend/alpha'));
// As a Backstage app adds it (the package refers to itself by its name).
backend.add(import('@knative-eventmesh/plugin-catalog-backend-module-refresh'));
backend.add(import('@knative-eventmesh/plugin-catalog-backend-module-refresh').then(m => m.eventsModuleCloudEventsJson));
backend.start().catch(err => {
  console.error(`The Backstage backend did not start: ${err.stack || err}`);
  process.exit(1);
});
