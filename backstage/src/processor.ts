import type { AuthService, LoggerService } from '@backstage/backend-plugin-api';
import {
  RELATION_API_CONSUMED_BY,
  RELATION_CONSUMES_API,
  RELATION_DEPENDENCY_OF,
  RELATION_DEPENDS_ON,
  type Entity,
} from '@backstage/catalog-model';
import {
  processingResult,
  type CatalogProcessor,
  type CatalogProcessorEmit,
  type CatalogService,
  type LocationSpec,
} from '@backstage/plugin-catalog-node';
import { isEventTypeApi } from './asyncapi';
import { ANNOTATION_ALLOWED_SENDER_IDS, ANNOTATION_KUBERNETES_ID } from './entities';

/** From an addressable to a Component an EventPolicy allows to send to it. */
export const RELATION_HAS_ALLOWED_SENDER = 'hasAllowedSender';
/** The reverse of hasAllowedSender: from the sender to the addressable. */
export const RELATION_ALLOWED_SENDER_OF = 'allowedSenderOf';

/** How many Components one catalog query returns at most. */
const PAGE = 1000;

type Ref = { kind: string; namespace: string; name: string };

/**
 * Relates the mesh's entities to the Components named by Backstage id
 * (their backstage.io/kubernetes-id annotation), querying the catalog with
 * the module's own service credentials, which Backstage's default auth
 * policy accepts:
 *
 * - an EventType's API to the Components of its namespace in its
 *   metadata.consumedBy: apiConsumedBy, and consumesApi back, as 1.21.0
 *   meant to;
 * - a flow's Component to the Components of its namespace in its
 *   metadata.consumedBy, what it calls: dependsOn, and dependencyOf back;
 * - an addressable's Component to the Components its
 *   knative.dev/allowed-sender-ids annotation names ("<namespace>/<id>"):
 *   hasAllowedSender, and allowedSenderOf back.
 *
 * It relates only the entities the providers made: those whose location
 * is one of the providers' baseUrls. The catalog sets the location of an
 * entity read from a file or URL itself, so a team's catalog-info.yaml
 * cannot claim relations through these annotations.
 */
export class KnativeEventMeshProcessor implements CatalogProcessor {
  private readonly logger: LoggerService;
  private readonly baseUrls: ReadonlySet<string>;

  /** baseUrls are the providers' configured baseUrls, as written. */
  constructor(
    private readonly catalog: CatalogService,
    private readonly auth: AuthService,
    logger: LoggerService,
    baseUrls: string[],
  ) {
    this.logger = logger.child({ target: this.getProcessorName() });
    this.baseUrls = new Set(baseUrls);
  }

  getProcessorName(): string {
    return 'knative-event-mesh-processor';
  }

  async preProcessEntity(entity: Entity, location: LocationSpec, emit: CatalogProcessorEmit): Promise<Entity> {
    if (location.type !== 'url' || !this.baseUrls.has(location.target)) {
      return entity; // not a provider's entity
    }
    const namespace = entity.metadata.namespace ?? 'default';
    const self = { kind: entity.kind, namespace, name: entity.metadata.name };
    const relate = async (ids: string[], ns: string, type: string, reverse: string) => {
      for (const component of await this.components(ns, ids)) {
        if (component.kind === self.kind && component.namespace === self.namespace && component.name === self.name) {
          continue; // never to itself
        }
        emit(processingResult.relation({ type, source: self, target: component }));
        emit(processingResult.relation({ type: reverse, source: component, target: self }));
      }
    };
    if (isEventTypeApi(entity)) {
      await relate(idsOf(entity.metadata.consumedBy), namespace, RELATION_API_CONSUMED_BY, RELATION_CONSUMES_API);
    }
    if (entity.kind !== 'Component') {
      return entity;
    }
    await relate(idsOf(entity.metadata.consumedBy), namespace, RELATION_DEPENDS_ON, RELATION_DEPENDENCY_OF);
    for (const [ns, ids] of senderIds(entity.metadata.annotations?.[ANNOTATION_ALLOWED_SENDER_IDS])) {
      await relate(ids, ns, RELATION_HAS_ALLOWED_SENDER, RELATION_ALLOWED_SENDER_OF);
    }
    return entity;
  }

  /** The Components of namespace whose kubernetes-id is one of ids. A failed query is logged, and relates nothing. */
  private async components(namespace: string, ids: string[]): Promise<Ref[]> {
    if (ids.length === 0) {
      return [];
    }
    const found: Ref[] = [];
    try {
      const credentials = await this.auth.getOwnServiceCredentials();
      const fields = ['kind', 'metadata.namespace', 'metadata.name'];
      let response = await this.catalog.queryEntities(
        {
          filter: { kind: 'Component', 'metadata.namespace': namespace, [`metadata.annotations.${ANNOTATION_KUBERNETES_ID}`]: ids },
          fields,
          limit: PAGE,
        },
        { credentials },
      );
      for (;;) {
        for (const item of response.items) {
          found.push({ kind: 'Component', namespace: item.metadata.namespace ?? namespace, name: item.metadata.name });
        }
        const cursor = response.pageInfo.nextCursor;
        if (!cursor) {
          break;
        }
        response = await this.catalog.queryEntities({ cursor, fields, limit: PAGE }, { credentials });
      }
    } catch (err) {
      this.logger.error(`Could not find the Components of namespace ${namespace} with ${ANNOTATION_KUBERNETES_ID} ${ids.join(', ')}: ${err}`);
      return [];
    }
    return found;
  }
}

/** The distinct non-empty strings of a metadata.consumedBy. */
function idsOf(consumedBy: unknown): string[] {
  if (!Array.isArray(consumedBy)) {
    return [];
  }
  return [...new Set(consumedBy.filter((id): id is string => typeof id === 'string' && id !== ''))];
}

/** The ids of a knative.dev/allowed-sender-ids annotation, by namespace. */
function senderIds(annotation: string | undefined): Map<string, string[]> {
  const byNamespace = new Map<string, string[]>();
  for (const entry of (annotation ?? '').split(',')) {
    const slash = entry.indexOf('/');
    if (slash <= 0 || slash === entry.length - 1) {
      continue;
    }
    const ns = entry.slice(0, slash);
    byNamespace.set(ns, [...new Set([...(byNamespace.get(ns) ?? []), entry.slice(slash + 1)])]);
  }
  return byNamespace;
}
