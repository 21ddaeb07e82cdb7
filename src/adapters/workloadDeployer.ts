/**
 * `deploy`'s one write to Azure: the image of one named container of a Container App, a Container Apps job or a
 * Container Instances container group, set to a reference pinned by digest, through ARM with the real SDKs:
 * - Container App (`@azure/arm-appcontainers`, api-version 2025-07-01): `PATCH …/containerApps/<app>` with
 *   `{ location, properties: { template } }` — the app's current template with only that container's image
 *   changed (ARM replaces arrays in a PATCH, so the whole template is sent; configuration, secrets, ingress and
 *   everything else are not sent and stay as they are). A new revision follows; it is polled through
 *   `GET …/revisions/<latestRevisionName>` until `provisioningState` is `Provisioned` and `runningState`
 *   `Running` (done), or either says `Failed`/`Degraded` (failed).
 * - Container Apps job (same SDK): `PATCH …/jobs/<job>` with `{ properties: { template } }`; done when the
 *   long-running operation ends with `provisioningState` `Succeeded`.
 * - Container group (`@azure/arm-containerinstance`, api-version 2023-05-01): ACI has no PATCH for containers,
 *   so the group as read (`GET`) is written back whole (`PUT`) with only that container's image changed, then
 *   polled until `instanceView.state` is `Running` (done) or `Failed`/`Stopped` (failed). A group whose GET hides
 *   values a PUT would need (secure environment variables, registry passwords, Azure Files keys, secret
 *   volumes) is not written at all: the PUT would wipe them.
 *
 * The SDKs poll the long-running operation (`Azure-AsyncOperation`) themselves; the whole update is bounded by
 * `timeoutMs` (`DEPLOY_TIMEOUT`). SDK errors become stable codes (see `sdkErrors.ts`).
 */
import { setMaxListeners } from 'node:events';
import type { ContainerAppsAPIClient, Template } from '@azure/arm-appcontainers';
import type { ContainerGroup, ContainerInstanceManagementClient } from '@azure/arm-containerinstance';
import { ErrorCodes, GuardError } from '../core/errors';
import type { InUseScope } from '../core/inUseScopes';
import { sdkError } from './sdkErrors';
import { ArmWorkloadClients, type ArmWorkloadClientOptions } from './armWorkloadClients';

/** A deploy target: a Container App, a Container Apps job or a container group (see `parseDeployTarget`). */
export type WorkloadTarget = Extract<InUseScope, { kind: 'containerApp' | 'containerAppJob' | 'containerGroup' }>;

/** The containers of a target as ARM reports them now (init containers are never deployed to). */
export interface WorkloadDescription {
  containers: Array<{ name: string; image: string }>;
}

/** How an update ended. */
export interface WorkloadRollout {
  /** `running`: the revision / group runs the new image, or the job's template holds it. */
  status: 'running' | 'failed';
  /** What ARM said last (states, the revision's name). */
  detail: string;
  /** Container Apps: the revision made for the new image. */
  revision?: string;
}

/** Options of one update. */
export interface UpdateOptions {
  /** Deadline of the whole update, writes and waiting (ms). */
  timeoutMs: number;
  /** One line per poll, for stderr. */
  onProgress?: (line: string) => void;
}

/** Reads a target's containers and updates one of them. */
export interface WorkloadDeployer {
  describe(target: WorkloadTarget): Promise<WorkloadDescription>;
  /** Sets `container`'s image to `image` (pinned by digest) and waits until it runs or fails. */
  update(target: WorkloadTarget, container: string, image: string, options: UpdateOptions): Promise<WorkloadRollout>;
}

/** Options of {@link ArmWorkloadDeployer}. */
export interface ArmWorkloadDeployerOptions extends ArmWorkloadClientOptions {
  /** How often the operation and the revision/group are polled (default 5 s). */
  pollIntervalMs?: number;
}

const ROLE_HINT =
  "grant the deploying identity write on the target (Microsoft.App/containerApps/write, jobs/write or Microsoft.ContainerInstance/containerGroups/write; e.g. 'Container Apps Contributor')";

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });

/** Replaces one container's image in a list; throws when the name is not there (checked by the caller first). */
function withImage<T extends { name?: string; image?: string }>(containers: T[], name: string, image: string): T[] {
  if (!containers.some((c) => c.name === name))
    throw new GuardError(ErrorCodes.INVALID_INPUT, `--container: no container named ${name}`, { field: '--container' });
  return containers.map((c) => (c.name === name ? { ...c, image } : c));
}

/** Why a container group cannot be written back from its GET (values ARM does not return), or undefined. */
export function hiddenGroupValues(group: ContainerGroup): string | undefined {
  const hidden: string[] = [];
  for (const c of [...(group.containers ?? []), ...(group.initContainers ?? [])])
    for (const e of c.environmentVariables ?? [])
      if (e.secureValue === undefined && e.value === undefined) hidden.push(`secure environment variable ${e.name}`);
  for (const r of group.imageRegistryCredentials ?? [])
    if (!r.identity && r.password === undefined) hidden.push(`registry credential ${r.server}`);
  for (const v of group.volumes ?? []) {
    if (v.azureFile && v.azureFile.storageAccountKey === undefined) hidden.push(`Azure Files volume ${v.name}`);
    if (v.secret) hidden.push(`secret volume ${v.name}`);
  }
  return hidden.length > 0 ? hidden.slice(0, 5).join(', ') : undefined;
}

/** The group as read, without what ARM reports but never takes (its state). */
function writableGroup(group: ContainerGroup): ContainerGroup {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { instanceView, provisioningState, id, type, ...writable } = group;
  return writable;
}

/** {@link WorkloadDeployer} over ARM. */
export class ArmWorkloadDeployer implements WorkloadDeployer {
  private readonly clients: ArmWorkloadClients;

  constructor(private readonly options: ArmWorkloadDeployerOptions) {
    this.clients = new ArmWorkloadClients(options);
  }

  private apps(target: WorkloadTarget): ContainerAppsAPIClient {
    return this.clients.containerApps(target.subscriptionId);
  }

  private groups(target: WorkloadTarget): ContainerInstanceManagementClient {
    return this.clients.containerGroups(target.subscriptionId);
  }

  private get interval(): number {
    return this.options.pollIntervalMs ?? 5000;
  }

  async describe(target: WorkloadTarget): Promise<WorkloadDescription> {
    const what = `reading ${target.id}`;
    try {
      let containers: Array<{ name?: string; image?: string }>;
      if (target.kind === 'containerApp')
        containers =
          (await this.apps(target).containerApps.get(target.resourceGroup, target.name)).template?.containers ?? [];
      else if (target.kind === 'containerAppJob')
        containers = (await this.apps(target).jobs.get(target.resourceGroup, target.name)).template?.containers ?? [];
      else containers = (await this.groups(target).containerGroups.get(target.resourceGroup, target.name)).containers;
      return { containers: containers.map((c) => ({ name: String(c.name ?? ''), image: String(c.image ?? '') })) };
    } catch (err) {
      throw sdkError(err, what, ROLE_HINT);
    }
  }

  async update(
    target: WorkloadTarget,
    container: string,
    image: string,
    options: UpdateOptions,
  ): Promise<WorkloadRollout> {
    const abortSignal = AbortSignal.timeout(options.timeoutMs);
    // Every SDK request of the wait listens on the one deadline signal: many polls are many listeners, not a leak.
    setMaxListeners(0, abortSignal);
    const progress = options.onProgress ?? (() => undefined);
    const started = Date.now();
    const elapsed = (): string => `${Math.round((Date.now() - started) / 1000)}s`;
    const timedOut = (): GuardError =>
      new GuardError(
        ErrorCodes.DEPLOY_TIMEOUT,
        `${target.id}: not running after ${Math.round(options.timeoutMs / 1000)}s (--timeout); the update was sent and may still complete: check the target before deploying again`,
      );
    try {
      if (target.kind === 'containerApp')
        return await this.updateApp(target, container, image, abortSignal, progress, elapsed);
      if (target.kind === 'containerAppJob')
        return await this.updateJob(target, container, image, abortSignal, progress);
      return await this.updateGroup(target, container, image, abortSignal, progress, elapsed);
    } catch (err) {
      if (abortSignal.aborted) throw timedOut();
      if (err instanceof GuardError) throw err;
      // A long-running operation that ended `Failed` is the deploy failing, not ARM refusing the request. Only
      // the service's error code is kept from core-lro's message (the rest may quote the service at length).
      const failed = /^The long-running operation has failed(?:\. ([A-Za-z_.]{1,60})\.)?/.exec(
        err instanceof Error ? err.message : '',
      );
      if (failed)
        throw new GuardError(
          ErrorCodes.DEPLOY_FAILED,
          `${target.id}: the update's operation ended Failed in ARM${failed[1] ? ` (${failed[1]})` : ''}`,
        );
      throw sdkError(err, `updating ${target.id}`, ROLE_HINT);
    } finally {
      if (abortSignal.aborted) progress(`gave up waiting after ${elapsed()}`);
    }
  }

  private async updateApp(
    target: WorkloadTarget,
    container: string,
    image: string,
    abortSignal: AbortSignal,
    progress: (line: string) => void,
    elapsed: () => string,
  ): Promise<WorkloadRollout> {
    const client = this.apps(target);
    const app = await client.containerApps.get(target.resourceGroup, target.name, { abortSignal });
    const template: Template = {
      ...app.template,
      containers: withImage(app.template?.containers ?? [], container, image),
    };
    progress(`updating ${target.name}: container ${container} → ${image}`);
    const poller = await client.containerApps.beginUpdate(
      target.resourceGroup,
      target.name,
      { location: app.location, template },
      { abortSignal, updateIntervalInMs: this.interval },
    );
    poller.onProgress((state) => progress(`operation ${state.status} (${elapsed()})`));
    const updated = await poller.pollUntilDone({ abortSignal });
    const revision =
      updated.latestRevisionName ??
      (await client.containerApps.get(target.resourceGroup, target.name)).latestRevisionName;
    if (!revision)
      throw new GuardError(ErrorCodes.MALFORMED, `${target.id}: ARM named no latest revision after the update`);
    for (;;) {
      const r = await client.containerAppsRevisions.getRevision(target.resourceGroup, target.name, revision, {
        abortSignal,
      });
      const runsImage = (r.template?.containers ?? []).some((c) => c.name === container && c.image === image);
      const state = `revision ${revision}: provisioningState ${r.provisioningState ?? '?'}, runningState ${r.runningState ?? '?'}`;
      progress(`${state} (${elapsed()})`);
      if (r.provisioningState === 'Failed' || r.runningState === 'Failed' || r.runningState === 'Degraded')
        return { status: 'failed', detail: state, revision };
      if (
        runsImage &&
        r.provisioningState === 'Provisioned' &&
        (r.runningState === 'Running' || r.runningState === 'RunningAtMaxScale')
      )
        return { status: 'running', detail: state, revision };
      await sleep(this.interval, abortSignal);
      if (abortSignal.aborted) throw new Error('aborted');
    }
  }

  private async updateJob(
    target: WorkloadTarget,
    container: string,
    image: string,
    abortSignal: AbortSignal,
    progress: (line: string) => void,
  ): Promise<WorkloadRollout> {
    const client = this.apps(target);
    const job = await client.jobs.get(target.resourceGroup, target.name, { abortSignal });
    const template: Template = {
      ...job.template,
      containers: withImage(job.template?.containers ?? [], container, image),
    };
    progress(`updating job ${target.name}: container ${container} → ${image}`);
    const poller = await client.jobs.beginUpdate(
      target.resourceGroup,
      target.name,
      { properties: { template } },
      { abortSignal, updateIntervalInMs: this.interval },
    );
    poller.onProgress((state) => progress(`operation ${state.status}`));
    const updated = await poller.pollUntilDone({ abortSignal });
    const state = `job template: provisioningState ${updated.provisioningState ?? '?'}`;
    progress(state);
    return { status: updated.provisioningState === 'Succeeded' ? 'running' : 'failed', detail: state };
  }

  private async updateGroup(
    target: WorkloadTarget,
    container: string,
    image: string,
    abortSignal: AbortSignal,
    progress: (line: string) => void,
    elapsed: () => string,
  ): Promise<WorkloadRollout> {
    const client = this.groups(target);
    const group = await client.containerGroups.get(target.resourceGroup, target.name, { abortSignal });
    const hidden = hiddenGroupValues(group);
    if (hidden)
      throw new GuardError(
        ErrorCodes.UNSUPPORTED,
        `${target.id}: ARM does not return ${hidden}, and a container group is updated by writing it whole; nothing was changed. Deploy this group from its template (Bicep) with the pinned image instead`,
      );
    progress(`updating ${target.name}: container ${container} → ${image}`);
    const poller = await client.containerGroups.beginCreateOrUpdate(
      target.resourceGroup,
      target.name,
      { ...writableGroup(group), containers: withImage(group.containers, container, image) },
      { abortSignal, updateIntervalInMs: this.interval },
    );
    poller.onProgress((state) => progress(`operation ${state.status} (${elapsed()})`));
    await poller.pollUntilDone({ abortSignal });
    for (;;) {
      const g = await client.containerGroups.get(target.resourceGroup, target.name, { abortSignal });
      const runsImage = g.containers.some((c) => c.name === container && c.image === image);
      const state = `group ${target.name}: provisioningState ${g.provisioningState ?? '?'}, state ${g.instanceView?.state ?? '?'}`;
      progress(`${state} (${elapsed()})`);
      if (g.provisioningState === 'Failed' || g.instanceView?.state === 'Failed' || g.instanceView?.state === 'Stopped')
        return { status: 'failed', detail: state };
      if (runsImage && (g.instanceView?.state === 'Running' || g.instanceView?.state === 'Succeeded'))
        return { status: 'running', detail: state };
      await sleep(this.interval, abortSignal);
      if (abortSignal.aborted) throw new Error('aborted');
    }
  }
}
