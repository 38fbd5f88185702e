import type { LoggerService, SchedulerServiceTaskRunner } from '@backstage/backend-plugin-api';
import type { EntityProvider, EntityProviderConnection } from '@backstage/plugin-catalog-node';
import type { EventParams, EventsService } from '@backstage/plugin-events-node';
import { EVENT_TYPE, quote, readAnnouncement } from './announcement';
import { readDefinitions, withDefinitions } from './asyncapi';
import { Coalescer } from './coalesce';
import { routes, type EventSettings, type ProviderConfig } from './config';
import { meshEntities } from './entities';
import { parseEventMesh } from './mesh';

/** How long one read of the mesh may take. */
const READ_TIMEOUT_MS = 60_000;

/** What a KnativeEventMeshProvider needs. */
export interface KnativeEventMeshProviderOptions {
  config: ProviderConfig;
  logger: LoggerService;
  /** Runs the scheduled reads (scheduler.createScheduledTaskRunner). */
  taskRunner: SchedulerServiceTaskRunner;
  /** With events and eventSettings, announcements make the provider read the mesh at once. */
  events?: EventsService;
  eventSettings?: EventSettings;
}

/** The outcome of one read, for tests and logs. */
export type ReadResult = { ok: true; entities: number } | { ok: false; error: string };

/**
 * The Knative Event Mesh entity provider: reads GET {baseUrl}/v1/getEventMesh
 * with its token on its schedule and whenever the function announces a
 * change, and replaces its entities with the mesh's. A failed read is
 * logged and changes nothing: the catalog keeps the last good entities.
 */
export class KnativeEventMeshProvider implements EntityProvider {
  private readonly config: ProviderConfig;
  private readonly logger: LoggerService;
  private readonly taskRunner: SchedulerServiceTaskRunner;
  private readonly events?: EventsService;
  private readonly eventSettings?: EventSettings;
  private readonly coalescer: Coalescer | undefined;
  private readonly abort = new AbortController();
  private connection: EntityProviderConnection | undefined;
  /** The read under way, if any: reads of one provider never overlap. */
  private running: Promise<unknown> = Promise.resolve();
  /** How many entities the last good read applied. */
  private lastGood: number | undefined;

  constructor(options: KnativeEventMeshProviderOptions) {
    this.config = options.config;
    this.taskRunner = options.taskRunner;
    this.events = options.events;
    this.eventSettings = options.eventSettings;
    this.logger = options.logger.child({ target: this.getProviderName() });
    if (this.events && this.eventSettings) {
      this.coalescer = new Coalescer(async () => {
        await this.read('announcement');
      }, this.eventSettings.minIntervalMs);
    }
  }

  /** The name 1.21.0 gives its provider: the catalog tracks entities by it. */
  getProviderName(): string {
    return `knative-event-mesh-provider-${this.config.id}`;
  }

  async connect(connection: EntityProviderConnection): Promise<void> {
    this.connection = connection;
    if (this.events && this.eventSettings) {
      await this.events.subscribe({
        id: this.getProviderName(),
        topics: [this.eventSettings.topic],
        onEvent: event => this.onEvent(event),
      });
    }
    await this.taskRunner.run({
      id: `${this.getProviderName()}:run`,
      fn: async () => {
        await this.read('schedule');
      },
    });
  }

  /** Stops reading on announcements and aborts a read under way. */
  stop(): void {
    this.coalescer?.stop();
    this.abort.abort();
  }

  /** Takes an event of the topic: an announcement for this provider asks for a read. */
  async onEvent(event: EventParams): Promise<void> {
    const announcement = readAnnouncement(event);
    const settings = this.eventSettings;
    if (!this.coalescer || !settings) {
      return;
    }
    if ('problem' in announcement) {
      this.logger.info(`Ignored an event on topic ${settings.topic}: ${announcement.problem}`);
      return;
    }
    if (announcement.type !== EVENT_TYPE) {
      this.logger.info(`Ignored an event of type ${quote(announcement.type)} on topic ${settings.topic}: only ${EVENT_TYPE} refreshes the catalog`);
      return;
    }
    const what = `cluster ${quote(announcement.subject)} (id ${quote(announcement.id)})`;
    if (!routes(settings, announcement.subject, this.config.id)) {
      if (!settings.clusters?.has(announcement.subject)) {
        // No provider takes it: each provider says so once.
        this.logger.info(`Ignored a mesh change announced for ${what}: knativeEventMesh.events.clusters routes it to no provider`);
      } else {
        this.logger.debug(`Mesh change announced for ${what}: routed to other providers than ${this.config.id}`);
      }
      return;
    }
    this.logger.info(`Mesh change announced for ${what}: refreshing provider ${this.config.id}`);
    this.coalescer.request();
  }

  /**
   * Reads the mesh and applies its entities. It never throws: a failure is
   * logged with the provider id and what went wrong, and the catalog keeps
   * the entities of the last good read.
   */
  read(reason: 'schedule' | 'announcement' | 'test'): Promise<ReadResult> {
    const next = this.running.then(() => this.readOnce(reason));
    this.running = next;
    return next;
  }

  private async readOnce(reason: string): Promise<ReadResult> {
    const result = await this.fetchAndApply();
    if (result.ok) {
      this.lastGood = result.entities;
      this.logger.info(`Read ${result.entities} entities of the Knative Event Mesh (${reason})`);
    } else {
      const kept = this.lastGood === undefined ? 'no read has succeeded yet' : `the catalog keeps the ${this.lastGood} entities of the last good read`;
      this.logger.error(`Knative Event Mesh provider ${this.config.id}: ${result.error}; ${kept}`);
    }
    return result;
  }

  private async fetchAndApply(): Promise<ReadResult> {
    if (!this.connection) {
      return { ok: false, error: 'not connected to the catalog yet' };
    }
    const url = `${this.config.baseUrl.replace(/\/$/, '')}/v1/getEventMesh`;
    // apiType asyncapi: the EventTypes' documents, read beside the mesh.
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(READ_TIMEOUT_MS)]);
    const definitions = this.config.apiType === 'asyncapi' ? readDefinitions(this.config, signal) : undefined;
    let response: Response;
    try {
      response = await fetch(url, {
        headers: { Authorization: `Bearer ${this.config.token}`, Accept: 'application/json' },
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(READ_TIMEOUT_MS)]),
      });
    } catch (err) {
      return { ok: false, error: `could not reach ${url}: ${describe(err)}; check baseUrl and that the function is up` };
    }
    let text: string;
    try {
      text = await response.text();
    } catch (err) {
      return { ok: false, error: `reading the answer of ${url}: ${describe(err)}` };
    }
    if (!response.ok) {
      return { ok: false, error: `GET ${url} answered ${response.status} ${response.statusText}${errorOf(text)}${hint(response.status, this.config.id)}` };
    }
    let entities;
    try {
      const mesh = parseEventMesh(JSON.parse(text), problem => {
        this.logger.warn(`Knative Event Mesh provider ${this.config.id}: GET ${url}: ${problem}`);
      });
      entities = meshEntities(mesh, this.config);
    } catch (err) {
      return { ok: false, error: `GET ${url} answered ${response.status} with a body that is not an event mesh: ${describe(err)}` };
    }
    const read = await definitions;
    if (read && !read.ok) {
      return read;
    }
    if (read) {
      entities = withDefinitions(entities, read.documents, problem => this.logger.warn(`Knative Event Mesh provider ${this.config.id}: ${problem}`));
    }
    try {
      await this.connection.applyMutation({
        type: 'full',
        entities: entities.map(entity => ({ entity, locationKey: this.getProviderName() })),
      });
    } catch (err) {
      return { ok: false, error: `the catalog did not take the mesh's ${entities.length} entities: ${describe(err)}` };
    }
    return { ok: true, entities: entities.length };
  }
}

export function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? ` (${err.cause.message})` : '';
    return `${err.message}${cause}`;
  }
  return String(err);
}

/** The function's JSON error message, if the body holds one. */
export function errorOf(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    if (typeof parsed.error === 'string') {
      return `: ${quote(parsed.error)}`;
    }
  } catch {
    // not JSON
  }
  return '';
}

/** What to do about a status. */
export function hint(status: number, id: string): string {
  switch (status) {
    case 401:
      return `. The function rejected the token of catalog.providers.knativeEventMesh.${id}.token: set a valid ServiceAccount token (see the function's rbac/)`;
    case 403:
      return `. The token of catalog.providers.knativeEventMesh.${id}.token may not read the mesh: bind its ServiceAccount to the function's reader ClusterRole`;
    default:
      return '';
  }
}
