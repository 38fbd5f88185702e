'use strict';

// A Backstage backend with the catalog, the events plugin, this package's
// catalog module (the Knative Event Mesh provider) and the events module
// of events-module/ (the ingress for the function's announcements): what `make
// run-backstage` runs and the end-to-end tests (tests/catalog) start.
//
// Usage: npm run build && node dev/backend.js --config app-config.yaml
//
// The configuration (port, database, providers, tokens) comes from the
// --config files; see tests/catalog for the one the tests write.
// EVENTMESH_PROVIDER=published runs the published provider 1.21.0 instead.
const { createBackend } = require('@backstage/backend-defaults');

const backend = createBackend();
backend.add(import('@backstage/plugin-catalog-backend'));
backend.add(import('@backstage/plugin-events-backend'));
if (process.env.EVENTMESH_PROVIDER === 'published') {
  backend.add(import('@knative-extensions/plugin-knative-event-mesh-backend/alpha'));
} else {
  // As a Backstage app adds them, by their package names (this package
  // refers to itself; the events module is linked by the npm workspace).
  backend.add(import('@knative-eventmesh/plugin-catalog-backend-module-knative-event-mesh'));
  backend.add(import('@knative-eventmesh/plugin-events-backend-module-knative-event-mesh'));
}
backend.start().catch(err => {
  console.error(`The Backstage backend did not start: ${err.stack || err}`);
  process.exit(1);
});
