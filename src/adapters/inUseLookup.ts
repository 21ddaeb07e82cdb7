/**
 * In-use protection: the container images deployed in Azure Container Apps and Azure Container Instances
 * within the configured scopes (`ACR_GUARD_INUSE_SCOPES`), read through ARM with the real SDK clients:
 * - `@azure/arm-appcontainers` 3.0.0 (api-version 2025-07-01): `GET …/providers/Microsoft.App/containerApps`
 *   (by subscription or resource group, paged by `nextLink`) or one app, then `GET …/containerApps/<app>/revisions`
 *   (paged); `GET …/providers/Microsoft.App/jobs` likewise.
 * - `@azure/arm-containerinstance` 9.1.0 (api-version 2023-05-01): `GET …/providers/Microsoft.ContainerInstance/containerGroups`
 *   (by subscription or resource group, paged) or one group.
 *
 * What counts as in use (chosen conservatively: an image wrongly kept costs storage, one wrongly deleted
 * breaks a workload):
 * - Container Apps: every revision ARM does not report as inactive (`active: false`), whatever its replica
 *   count or traffic weight (an active revision scaled to zero pulls its image again on the next request),
 *   plus the app's own current template (the revision being provisioned right now). Containers and init
 *   containers alike. Inactive revisions are ignored: re-activating one is an operator's deliberate act.
 * - Container Apps jobs: the job's template (every future execution pulls it).
 * - Container Instances: every container group that exists, whatever its state (a stopped group restarts
 *   from its images), containers and init containers alike.
 *
 * Fail closed: any error (403, 404, 5xx after the SDK's retries, a timeout, a response without the images)
 * throws a GuardError naming the scope; a partial list is never returned.
 */
import type { ContainerAppsAPIClient, ContainerApp, Job, Revision, Template } from '@azure/arm-appcontainers';
import type { ContainerInstanceManagementClient, ContainerGroup } from '@azure/arm-containerinstance';
import { ErrorCodes, GuardError } from '../core/errors';
import { parseInUseScope, type InUseScope } from '../core/inUseScopes';
import { ListingGuard, LISTING_BOUNDS } from '../core/listing';
import { mapLimit } from '../core/mapLimit';
import type { DeployedImage, InUseLookup } from './ports';
import { sdkError } from './sdkErrors';
import {
  armAppContainers,
  armContainerInstance,
  ArmWorkloadClients,
  type ArmWorkloadClientOptions,
} from './armWorkloadClients';

/** Options of {@link ArmInUseLookup}. */
export interface ArmInUseLookupOptions extends ArmWorkloadClientOptions {
  /** Validated scopes (see `parseInUseScopes`). */
  scopes: readonly InUseScope[];
  /** Deadline of one whole lookup (default 120 s); past it the lookup throws `TRANSIENT`. */
  timeoutMs?: number;
  /** Clock for `maxAgeMs` (tests). */
  now?: () => number;
  /** Apps whose revisions are listed at the same time (default 4). */
  concurrency?: number;
}

const SETTING = 'ACR_GUARD_INUSE_SCOPES';

/** What the ARM SDKs' list methods return: the pages (each SDK keeps their `nextLink` for its `getContinuationToken`). */
interface PagedList<T> {
  byPage(): AsyncIterableIterator<T[]>;
}

function roleHint(scope: InUseScope): string {
  return `grant the app's managed identity read access on ${scope.id} (the "acr-guard in-use reader" role of infra/modules/inUseReader.bicep: Microsoft.App/containerApps/read, containerApps/revisions/read, jobs/read, Microsoft.ContainerInstance/containerGroups/read; or Reader), or correct ${SETTING}`;
}

/** Where one image was found, for `DeployedImage.source`. */
function sourceOf(
  resourceId: string,
  kind: 'container' | 'init container',
  name: string | undefined,
  note = '',
): string {
  return `${resourceId}${note}, ${kind} ${name ?? '(unnamed)'}`;
}

/** {@link InUseLookup} over ARM. One SDK client of each kind per subscription. */
export class ArmInUseLookup implements InUseLookup {
  private readonly clients: ArmWorkloadClients;

  constructor(private readonly options: ArmInUseLookupOptions) {
    this.clients = new ArmWorkloadClients(options);
  }

  /** The scopes this lookup reads (for a log line saying what in-use protection covers). */
  get scopes(): readonly InUseScope[] {
    return this.options.scopes;
  }

  private appsClient(subscriptionId: string): ContainerAppsAPIClient {
    return this.clients.containerApps(subscriptionId);
  }

  private instancesClient(subscriptionId: string): ContainerInstanceManagementClient {
    return this.clients.containerGroups(subscriptionId);
  }

  /** The last lookup (running or complete) and when it started; dropped when it fails. */
  private last?: { at: number; answer: Promise<DeployedImage[]> };

  /**
   * Every image deployed in the scopes; throws (never a partial list) when any scope cannot be read completely.
   * With `maxAgeMs`, a lookup started less than that long ago answers again (the nightly purge's repositories
   * share one answer); without it ARM is always asked.
   */
  listDeployedImages(options: { maxAgeMs?: number } = {}): Promise<DeployedImage[]> {
    const now = (this.options.now ?? Date.now)();
    const maxAgeMs = options.maxAgeMs ?? 0;
    if (maxAgeMs > 0 && this.last && now - this.last.at >= 0 && now - this.last.at < maxAgeMs) {
      return this.last.answer.then((list) => list.map((d) => ({ ...d })));
    }
    const entry = { at: now, answer: this.lookUp() };
    this.last = entry;
    entry.answer.catch(() => {
      if (this.last === entry) this.last = undefined;
    });
    return entry.answer;
  }

  private async lookUp(): Promise<DeployedImage[]> {
    const timeoutMs = this.options.timeoutMs ?? 120_000;
    const abortSignal = AbortSignal.timeout(timeoutMs);
    const found: DeployedImage[] = [];
    const seen = new Set<string>();
    const add = (image: DeployedImage): void => {
      const key = `${image.image}\n${image.source}`;
      if (!seen.has(key)) {
        seen.add(key);
        found.push(image);
      }
    };
    // Scopes one after another (each is a handful of list calls); an app's revisions are listed concurrently.
    for (const scope of this.options.scopes) {
      await new ScopeRun({
        scope,
        apps: this.appsClient(scope.subscriptionId),
        instances: this.instancesClient(scope.subscriptionId),
        abortSignal,
        timeoutMs,
        concurrency: Math.max(1, this.options.concurrency ?? 4),
        add,
      }).collect();
    }
    return found;
  }
}

/** What one scope's listing needs. */
interface ScopeRunOptions {
  scope: InUseScope;
  apps: ContainerAppsAPIClient;
  instances: ContainerInstanceManagementClient;
  abortSignal: AbortSignal;
  timeoutMs: number;
  concurrency: number;
  add: (image: DeployedImage) => void;
}

/** One scope's listing: every SDK call goes through {@link ScopeRun.call}, which names the scope on failure. */
class ScopeRun {
  private readonly scope: InUseScope;
  private readonly abortSignal: AbortSignal;

  constructor(private readonly o: ScopeRunOptions) {
    this.scope = o.scope;
    this.abortSignal = o.abortSignal;
  }

  private fail(err: unknown, what: string): GuardError {
    if (this.abortSignal.aborted) {
      return new GuardError(
        ErrorCodes.TRANSIENT,
        `in-use lookup: ${what} in scope ${this.scope.id} did not finish within ${Math.round(this.o.timeoutMs / 1000)} s; nothing is known to be unused, retry later`,
      );
    }
    const e = sdkError(err, `in-use lookup: ${what} in scope ${this.scope.id}`, roleHint(this.scope));
    // A scope that does not exist is a configuration error, not "nothing deployed": fail closed.
    if (e.code === ErrorCodes.NOT_FOUND) {
      return new GuardError(
        ErrorCodes.UPSTREAM,
        `${e.message}; the scope does not exist (or is not visible to the app's identity): correct ${SETTING}`,
        { status: e.status },
      );
    }
    return e;
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.fail(err, what);
    }
  }

  /**
   * Every item of an ARM list, page by page through the shared listing guard (LISTING_BOUNDS.armList): a
   * `nextLink` that repeats, more than 1000 pages or 100,000 items end the lookup with an error (never a partial
   * list). Empty pages that promise more are allowed (ARM answers them while it fans out); the page bound ends
   * an endless run of them, and the lookup's own deadline any slow one.
   */
  private async all<T>(
    what: string,
    pages: PagedList<T>,
    tokenOf: (page: unknown) => string | undefined,
  ): Promise<T[]> {
    return this.call(what, async () => {
      const guard = new ListingGuard(`in-use lookup: ${what} in scope ${this.scope.id}`, LISTING_BOUNDS.armList, {
        allowEmptyPages: true,
      });
      const out: T[] = [];
      guard.beforePage(undefined);
      // Throwing inside the loop ends the SDK's iterator: it asks for no further page.
      for await (const page of pages.byPage()) {
        const next = tokenOf(page);
        guard.afterPage(page.length, next);
        for (const item of page) out.push(item); // no spread: a huge page would overflow the call stack
        if (next === undefined) break;
        guard.beforePage(next);
      }
      return out;
    });
  }

  private malformed(what: string): GuardError {
    return new GuardError(
      ErrorCodes.MALFORMED,
      `in-use lookup: ${what} in scope ${this.scope.id}; the images in use cannot be known, so nothing counts as unused`,
    );
  }

  /** The resource id ARM returned, validated as the expected kind before its names reach another URL. */
  private resource(
    id: string | undefined,
    kind: InUseScope['kind'],
    what: string,
  ): Extract<InUseScope, { name: string }> {
    let parsed: InUseScope | undefined;
    try {
      parsed = id === undefined ? undefined : parseInUseScope(id, 'id');
    } catch {
      parsed = undefined;
    }
    if (!parsed || parsed.kind !== kind || !('name' in parsed))
      throw this.malformed(`${what} has no valid resource id (${JSON.stringify(id?.slice(0, 200))})`);
    return parsed;
  }

  async collect(): Promise<void> {
    const s = this.scope;
    const { apps, instances } = this.o;
    const opts = { abortSignal: this.abortSignal };
    switch (s.kind) {
      case 'subscription':
        await this.containerApps(
          await this.all('listing Container Apps', apps.containerApps.listBySubscription(opts), (page: unknown) =>
            armAppContainers().getContinuationToken(page),
          ),
        );
        this.jobs(
          await this.all('listing Container Apps jobs', apps.jobs.listBySubscription(opts), (page: unknown) =>
            armAppContainers().getContinuationToken(page),
          ),
        );
        await this.groups(
          await this.all('listing container groups', instances.containerGroups.list(opts), (page: unknown) =>
            armContainerInstance().getContinuationToken(page),
          ),
        );
        return;
      case 'resourceGroup':
        await this.containerApps(
          await this.all(
            'listing Container Apps',
            apps.containerApps.listByResourceGroup(s.resourceGroup, opts),
            (page: unknown) => armAppContainers().getContinuationToken(page),
          ),
        );
        this.jobs(
          await this.all(
            'listing Container Apps jobs',
            apps.jobs.listByResourceGroup(s.resourceGroup, opts),
            (page: unknown) => armAppContainers().getContinuationToken(page),
          ),
        );
        await this.groups(
          await this.all(
            'listing container groups',
            instances.containerGroups.listByResourceGroup(s.resourceGroup, opts),
            (page: unknown) => armContainerInstance().getContinuationToken(page),
          ),
        );
        return;
      case 'containerApp':
        await this.containerApps([
          await this.call(`reading Container App ${s.name}`, () =>
            apps.containerApps.get(s.resourceGroup, s.name, opts),
          ),
        ]);
        return;
      case 'containerAppJob':
        this.jobs([
          await this.call(`reading Container Apps job ${s.name}`, () => apps.jobs.get(s.resourceGroup, s.name, opts)),
        ]);
        return;
      case 'containerGroup':
        await this.groups([
          await this.call(`reading container group ${s.name}`, () =>
            instances.containerGroups.get(s.resourceGroup, s.name, opts),
          ),
        ]);
        return;
    }
  }

  private template(resourceId: string, template: Template | undefined, what: string, note = ''): void {
    const containers = template?.containers ?? [];
    if (containers.length === 0) throw this.malformed(`${what} ${resourceId} came without template.containers`);
    for (const [kind, list] of [
      ['container', containers],
      ['init container', template?.initContainers ?? []],
    ] as const) {
      for (const c of list) {
        if (typeof c.image !== 'string' || c.image.trim() === '')
          throw this.malformed(`${what} ${resourceId} has a ${kind} without an image`);
        this.o.add({ image: c.image, source: sourceOf(resourceId, kind, c.name, note) });
      }
    }
  }

  private async containerApps(list: ContainerApp[]): Promise<void> {
    const { apps } = this.o;
    const ids = list.map((app) => this.resource(app.id, 'containerApp', 'a Container App'));
    // The app's current template first: it is the revision being rolled out (or the latest one).
    list.forEach((app, i) => this.template(ids[i].id, app.template, 'Container App', ' (current template)'));
    // At most `concurrency` listings in flight; the first failure rejects (the answer is then incomplete).
    await mapLimit(ids, this.o.concurrency, async (app) => {
      const revisions: Revision[] = await this.all(
        `listing revisions of Container App ${app.name}`,
        apps.containerAppsRevisions.listRevisions(app.resourceGroup, app.name, { abortSignal: this.abortSignal }),
        (page: unknown) => armAppContainers().getContinuationToken(page),
      );
      for (const revision of revisions) {
        if (revision.active === false) continue;
        const revisionId = revision.id ?? `${app.id}/revisions/${revision.name ?? '(unnamed)'}`;
        this.template(revisionId, revision.template, 'revision');
      }
    });
  }

  private jobs(list: Job[]): void {
    for (const job of list)
      this.template(
        this.resource(job.id, 'containerAppJob', 'a Container Apps job').id,
        job.template,
        'Container Apps job',
      );
  }

  private async groups(list: ContainerGroup[]): Promise<void> {
    const { instances } = this.o;
    for (let group of list) {
      const ref = this.resource(group.id, 'containerGroup', 'a container group');
      // A listing should carry the containers; if one comes without, read the group itself rather than guess.
      if (!group.containers?.length)
        group = await this.call(`reading container group ${ref.name}`, () =>
          instances.containerGroups.get(ref.resourceGroup, ref.name, { abortSignal: this.abortSignal }),
        );
      if (!group.containers?.length) throw this.malformed(`container group ${ref.id} came without containers`);
      for (const [kind, list2] of [
        ['container', group.containers],
        ['init container', group.initContainers ?? []],
      ] as const) {
        for (const c of list2) {
          if (typeof c.image !== 'string' || c.image.trim() === '')
            throw this.malformed(`container group ${ref.id} has a ${kind} without an image`);
          this.o.add({ image: c.image, source: sourceOf(ref.id, kind, c.name) });
        }
      }
    }
  }
}
