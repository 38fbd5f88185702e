/**
 * An events-plugin module for the Knative Event Mesh function's
 * announcements: it opens the events HTTP ingress for the topic
 * (events.modules.knativeEventMesh.topic), takes only POSTs with a ServiceAccount
 * token or the shared secret it is configured for (none: it refuses all),
 * and lets the ingress take structured-mode CloudEvents. The ingress
 * publishes each accepted POST on the topic; the catalog module
 * (@knative-eventmesh/plugin-catalog-backend-module-knative-event-mesh)
 * subscribes to it through the events service, and nothing else joins
 * the two.
 *
 * @packageDocumentation
 */

import { coreServices, createBackendModule } from '@backstage/backend-plugin-api';
import { eventsExtensionPoint } from '@backstage/plugin-events-node/alpha';
import { SETTINGS, readIngressSettings } from './config';
import { parseCloudEventsJson } from './cloudevents';
import { HOW_TO_ALLOW, ingressValidator } from './ingress';

export const eventsModuleKnativeEventMesh = createBackendModule({
  pluginId: 'events',
  moduleId: 'knative-event-mesh',
  register(env) {
    env.registerInit({
      deps: { config: coreServices.rootConfig, events: eventsExtensionPoint, logger: coreServices.logger },
      async init({ config, events, logger }) {
        const settings = readIngressSettings(config, message => logger.warn(message));
        events.addHttpPostBodyParser({ contentType: 'application/cloudevents+json', parser: parseCloudEventsJson });
        events.addHttpPostIngress({ topic: settings.topic, validator: ingressValidator(settings) });
        const path = `/api/events/http/${settings.topic}`;
        if (settings.insecureAllowUnauthenticated) {
          logger.warn(`Knative Event Mesh announcements are taken at ${path} from anyone: ${SETTINGS}.insecureAllowUnauthenticated is set`);
        } else if (!settings.serviceAccount && !settings.secret) {
          logger.warn(`Knative Event Mesh announcements to ${path} are refused: ${HOW_TO_ALLOW}`);
        } else {
          const ways = [
            settings.serviceAccount ? `ServiceAccount tokens for audience ${settings.serviceAccount.audience} of ${settings.serviceAccount.subjects.join(', ')}` : '',
            settings.secret ? 'the shared secret' : '',
          ];
          logger.info(`Knative Event Mesh announcements are taken at ${path}, with ${ways.filter(Boolean).join(' or ')}`);
        }
      },
    });
  },
});

export default eventsModuleKnativeEventMesh;
export { parseCloudEventsJson } from './cloudevents';
export { ingressValidator, checker } from './ingress';
export { ClusterKeys, type KeySource } from './keys';
export {
  readIngressSettings,
  DEFAULT_TOPIC,
  SECRET_HEADER,
  SETTINGS,
  OLD_SETTINGS,
  type IngressSettings,
} from './config';
