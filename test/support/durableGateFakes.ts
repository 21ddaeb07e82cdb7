/**
 * Small in-memory stand-ins for the ports the gate's activities use, for the orchestration tests: the control
 * flow is under test there, not the adapters (those have their own tests against real servers). The registry
 * stores real manifest bytes addressed by their real sha256 digests.
 */
import type { OrchestrationStarter, InstanceState } from '../../src/app/orchestrationStarter';
import type { PurgeSummary } from '../../src/core/purge/summary';
import type { Policy } from '../../src/core/policyTypes';
import type { GateServices } from '../../src/orchestrations/services';
import { createHash } from 'node:crypto';
import { ErrorCodes, GuardError } from '../../src/core/errors';
import {
  MediaTypes,
  type Descriptor,
  type FindingsResult,
  type FindingsSourceName,
  type ImageId,
  type SignatureResult,
  type Verdict,
} from '../../src/core/types';
import type {
  AuditStore,
  FetchedManifest,
  FindingsQuery,
  FindingsSource,
  ManifestAttributes,
  Page,
  RegistryClient,
} from '../../src/adapters/ports';

export function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

interface StoredManifest {
  bytes: Buffer;
  mediaType: string;
}

/** A registry in memory; `failures` makes chosen calls throw (each entry consumed once). */
export class MemoryRegistry implements RegistryClient {
  readonly manifests = new Map<string, StoredManifest>(); // `${repo}@${ref}`
  readonly blobs = new Map<string, Buffer>(); // `${repo}@${digest}`
  readonly attributes = new Map<string, ManifestAttributes>(); // `${repo}@${digest}`
  readonly calls: string[] = [];
  readonly failures: Array<{ method: string; error: Error }> = [];

  constructor(
    readonly host: string,
    private readonly acr: boolean,
  ) {}

  private maybeFail(method: string): void {
    this.calls.push(method);
    const i = this.failures.findIndex((f) => f.method === method);
    if (i >= 0) throw this.failures.splice(i, 1)[0].error;
  }

  /** Stores a blob and returns its descriptor. */
  addBlob(repository: string, bytes: Buffer, mediaType: string): Descriptor {
    const digest = sha256(bytes);
    this.blobs.set(`${repository}@${digest}`, bytes);
    return { mediaType, digest, size: bytes.length };
  }

  /** Stores a manifest document (by digest, and by tag when given) and returns its descriptor. */
  addManifest(repository: string, doc: Record<string, unknown>, tag?: string): Descriptor {
    const bytes = Buffer.from(JSON.stringify(doc));
    const digest = sha256(bytes);
    const mediaType = String(doc.mediaType);
    this.manifests.set(`${repository}@${digest}`, { bytes, mediaType });
    if (tag) this.manifests.set(`${repository}@${tag}`, { bytes, mediaType });
    return { mediaType, digest, size: bytes.length };
  }

  /** An image: config + one layer. */
  addImage(
    repository: string,
    options: { content: string; tag?: string; platform?: Descriptor['platform'] },
  ): Descriptor {
    const config = this.addBlob(
      repository,
      Buffer.from(
        JSON.stringify({
          architecture: options.platform?.architecture ?? 'amd64',
          os: 'linux',
          content: options.content,
        }),
      ),
      MediaTypes.ociConfig,
    );
    const layer = this.addBlob(
      repository,
      Buffer.from(`layer of ${options.content}`),
      'application/vnd.oci.image.layer.v1.tar+gzip',
    );
    const d = this.addManifest(
      repository,
      { schemaVersion: 2, mediaType: MediaTypes.ociManifest, config, layers: [layer] },
      options.tag,
    );
    return options.platform ? { ...d, platform: options.platform } : d;
  }

  /** An index over `children` (descriptors with platform or annotations). */
  addIndex(repository: string, children: Descriptor[], tag?: string): Descriptor {
    return this.addManifest(repository, { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: children }, tag);
  }

  /** A referrer artifact (e.g. a SARIF report) attached to `subject`. */
  addReferrer(repository: string, subject: Descriptor, artifactType: string): Descriptor {
    const empty = this.addBlob(repository, Buffer.from('{}'), MediaTypes.ociEmpty);
    const report = this.addBlob(repository, Buffer.from('{"runs":[]}'), artifactType);
    return this.addManifest(repository, {
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      artifactType,
      config: empty,
      layers: [report],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    });
  }

  async resolveTag(repository: string, tag: string): Promise<string> {
    const m = this.manifests.get(`${repository}@${tag}`);
    if (!m) throw new GuardError(ErrorCodes.NOT_FOUND, `${repository}:${tag} not found`);
    return sha256(m.bytes);
  }

  async getManifest(repository: string, reference: string): Promise<FetchedManifest> {
    this.maybeFail('getManifest');
    const m = this.manifests.get(`${repository}@${reference}`);
    if (!m)
      throw new GuardError(ErrorCodes.NOT_FOUND, `manifest ${repository}@${reference} not found`, { status: 404 });
    const json = JSON.parse(m.bytes.toString('utf8')) as Record<string, unknown>;
    const config = json.config as Descriptor | undefined;
    const layers = (json.layers as Descriptor[] | undefined) ?? [];
    return {
      digest: sha256(m.bytes),
      mediaType: m.mediaType,
      children: (json.manifests as Descriptor[] | undefined) ?? [],
      blobs: config ? [config, ...layers] : layers,
      artifactType: json.artifactType as string | undefined,
      subject: json.subject as Descriptor | undefined,
      annotations: json.annotations as Record<string, string> | undefined,
      size: m.bytes.length,
      bytes: m.bytes,
      json,
    };
  }

  async putManifest(repository: string, reference: string, bytes: Buffer, mediaType: string): Promise<string> {
    this.maybeFail('putManifest');
    const json = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
    // A registry refuses a manifest whose blobs or children it does not have.
    const needed = [
      ...((json.manifests as Descriptor[]) ?? []).map((d) => `m:${d.digest}`),
      ...[json.config as Descriptor, ...((json.layers as Descriptor[]) ?? [])]
        .filter(Boolean)
        .map((d) => `b:${d.digest}`),
    ];
    for (const n of needed) {
      const [kind, digest] = [n.slice(0, 1), n.slice(2)];
      const present =
        kind === 'm' ? this.manifests.has(`${repository}@${digest}`) : this.blobs.has(`${repository}@${digest}`);
      if (!present)
        throw new GuardError(
          ErrorCodes.REGISTRY_REJECTED,
          `${repository}: manifest refers to unknown ${kind === 'm' ? 'manifest' : 'blob'} ${digest}`,
          { status: 400 },
        );
    }
    const digest = sha256(bytes);
    this.manifests.set(`${repository}@${reference}`, { bytes, mediaType });
    this.manifests.set(`${repository}@${digest}`, { bytes, mediaType });
    return digest;
  }

  async deleteManifest(repository: string, digest: string): Promise<boolean> {
    return this.manifests.delete(`${repository}@${digest}`);
  }

  async getBlob(repository: string, digest: string): Promise<Buffer> {
    const b = this.blobs.get(`${repository}@${digest}`);
    if (!b) throw new GuardError(ErrorCodes.NOT_FOUND, `blob ${digest} not found`);
    return b;
  }

  async putBlob(repository: string, bytes: Buffer): Promise<string> {
    return this.addBlob(repository, bytes, 'application/octet-stream').digest;
  }

  async mountBlob(targetRepository: string, digest: string, fromRepository: string): Promise<void> {
    this.maybeFail('mountBlob');
    const b = this.blobs.get(`${fromRepository}@${digest}`);
    if (!b) throw new GuardError(ErrorCodes.NOT_FOUND, `blob ${digest} not found in ${fromRepository}`);
    this.blobs.set(`${targetRepository}@${digest}`, b);
  }

  async listReferrers(): Promise<Descriptor[]> {
    return [];
  }

  async listTags(): Promise<Page<string>> {
    return { items: [] };
  }

  async listRepositories(): Promise<Page<string>> {
    return { items: [] };
  }

  supportsAcrAttributes(): boolean {
    return this.acr;
  }

  async getManifestAttributes(repository: string, digest: string): Promise<ManifestAttributes> {
    if (!this.acr) throw new GuardError(ErrorCodes.UNSUPPORTED, 'no ACR attributes here');
    return this.attributes.get(`${repository}@${digest}`) ?? { quarantineState: 'Quarantined' };
  }

  async setManifestAttributes(repository: string, digest: string, attributes: ManifestAttributes): Promise<void> {
    this.maybeFail('setManifestAttributes');
    if (!this.acr) throw new GuardError(ErrorCodes.UNSUPPORTED, `${this.host} has no ACR quarantine attributes`);
    this.attributes.set(`${repository}@${digest}`, {
      ...this.attributes.get(`${repository}@${digest}`),
      ...attributes,
    });
  }
}

/** One scripted answer: a result, or an error to throw. */
export type Scripted = FindingsResult | Error;

/**
 * A findings source that answers from a script per manifest digest: each call takes the next entry, the last
 * entry repeats. Digests without a script answer `pending`.
 */
export class ScriptedSource implements FindingsSource {
  readonly queries: FindingsQuery[] = [];
  private readonly scripts = new Map<string, Scripted[]>();

  constructor(readonly name: FindingsSourceName) {}

  script(digest: string, ...answers: Scripted[]): this {
    this.scripts.set(digest, answers);
    return this;
  }

  callsFor(digest: string): number {
    return this.queries.filter((q) => q.image.digest === digest).length;
  }

  async collect(query: FindingsQuery): Promise<FindingsResult> {
    this.queries.push(query);
    const script = this.scripts.get(query.image.digest);
    if (!script || script.length === 0) return { source: this.name, status: 'pending', detail: 'no results yet' };
    const answer = script.length > 1 ? script.shift()! : script[0];
    if (answer instanceof Error) throw answer;
    return answer;
  }
}

/** An append-only audit store in memory. */
export class MemoryAudit implements AuditStore {
  readonly verdicts: Verdict[] = [];
  readonly purgeSummaries: PurgeSummary[] = [];

  async recordPurgeSummary(summary: PurgeSummary): Promise<void> {
    this.purgeSummaries.push(structuredClone(summary));
  }

  async latestPurgeSummary(registry: string): Promise<PurgeSummary | undefined> {
    return [...this.purgeSummaries].reverse().find((s) => s.registry === registry);
  }

  async recordVerdict(verdict: Verdict): Promise<void> {
    this.verdicts.push(structuredClone(verdict));
  }

  async latestVerdict(image: ImageId): Promise<Verdict | undefined> {
    return [...this.verdicts]
      .reverse()
      .find(
        (v) =>
          v.image.digest === image.digest &&
          v.image.repository === image.repository &&
          v.image.registry === image.registry,
      );
  }

  async listVerdicts(registry: string, repository: string, limit = 100): Promise<Verdict[]> {
    return this.verdicts
      .filter((v) => v.image.registry === registry && v.image.repository === repository)
      .reverse()
      .slice(0, limit);
  }
}

/** A `ready` result. */
export function ready(
  source: FindingsSourceName,
  findings: Array<{
    id: string;
    severity: 'critical' | 'high' | 'medium' | 'low';
    package?: string;
    fixedVersion?: string;
  }>,
): FindingsResult {
  return {
    source,
    status: 'ready',
    findings: findings.map((f) => ({
      ...f,
      installedVersion: '1.0.0',
      source: source === 'defender' ? 'defender' : 'sarif:sha256:test',
    })),
    detail: `${findings.length} finding(s)`,
  };
}

/** A `pending` result. */
export function pending(source: FindingsSourceName): FindingsResult {
  return { source, status: 'pending', detail: 'no results yet' };
}

/**
 * A signature verifier that answers inconclusive for every image: for orchestration tests that are not about
 * signatures (the app's verifier is `adapters/signatureVerifier.ts`, wired by `app/compose.ts`).
 */
export async function inconclusiveSignatures(): Promise<SignatureResult> {
  return { status: 'inconclusive', reason: 'no signature verifier in this test', signatures: [] };
}

/**
 * The gate's services over these fakes: `policy`, the one in-memory registry (any other host is refused, as the
 * allowlist would), the findings `sources`, the in-memory audit store, and signatures that are inconclusive.
 */
export function memoryGateServices(
  policy: Policy,
  registry: MemoryRegistry,
  sources: FindingsSource[],
  audit: MemoryAudit,
): GateServices {
  return {
    policy: () => policy,
    registry: (host) => {
      if (host !== registry.host) throw new GuardError(ErrorCodes.REGISTRY_NOT_ALLOWED, `unexpected host ${host}`);
      return registry;
    },
    sources,
    audit,
    verifySignatures: inconclusiveSignatures,
  };
}

/** A starter that keeps instances in memory, as the durable client's store would (every start is Running). */
export class MemoryStarter implements OrchestrationStarter {
  readonly instances = new Map<string, { orchestrator: string; input: unknown; state: InstanceState }>();
  async getState(instanceId: string): Promise<InstanceState | undefined> {
    return this.instances.get(instanceId)?.state;
  }
  async start(orchestrator: string, instanceId: string, input: unknown): Promise<void> {
    this.instances.set(instanceId, { orchestrator, input, state: 'Running' });
  }
}
