/**
 * The doctor's input: ARM resource objects exactly as ARM's REST GET (or Resource Graph's `resources` and
 * `authorizationresources` tables) return them, `{"resources": [{id, name, type, location, sku?, identity?,
 * properties}]}`, validated (bounded) and indexed by id and by type. Pure: no I/O.
 */
import { ErrorCodes, GuardError } from '../errors';
import { findJsonNestingExcess } from '../jsonNesting';
import { JsonReader, isJsonObject } from '../jsonReader';

/** Largest snapshot file read (bytes), checked before parsing. */
export const MAX_SNAPSHOT_BYTES = 64 * 1024 * 1024;
/** Most resources one snapshot may hold, checked before indexing. */
export const MAX_SNAPSHOT_RESOURCES = 200_000;
/**
 * Deepest JSON nesting of a snapshot file (the document's object is level 1), checked before parsing. Real ARM
 * resources stay far under it; the deepest a check reads is an assigned policy rule, whose `MAX_RULE_DEPTH` (64)
 * levels of conditions take at most 2 JSON levels each (`{"allOf": [ … ]}`) below the 6 levels that hold the
 * rule, so every rule the evaluator can read still reaches it (a deeper one fails that check, as before).
 */
export const MAX_SNAPSHOT_DEPTH = 256;

/**
 * Most objects and arrays in a snapshot file, counted in the same pass before parsing: the byte bound alone lets
 * 64 MiB of `[]` become 32 million objects before the resource bound is read. Two million is ten per resource at
 * the resource bound, and about 90 per resource for a file of 22,000 resources of 3 KB (ARM's largest common
 * shapes: networks with subnets, role definitions with permissions hold 30 to 80).
 */
export const MAX_SNAPSHOT_CONTAINERS = 2_000_000;

/** One ARM resource as ARM returns it (only the fields the checks read are typed). */
export interface ArmResource {
  id: string;
  name: string;
  type: string;
  location?: string;
  kind?: string;
  sku?: { name?: string; tier?: string };
  identity?: ArmIdentity;
  properties: Record<string, unknown>;
}

/** The `identity` block of a workload. */
export interface ArmIdentity {
  type?: string;
  principalId?: string;
  userAssignedIdentities?: Record<string, { principalId?: string; clientId?: string } | null>;
}

/** A validated snapshot with its indexes (ids and types compared case-insensitively, as ARM does). */
export interface Snapshot {
  resources: readonly ArmResource[];
  byId: ReadonlyMap<string, ArmResource>;
  byType: ReadonlyMap<string, readonly ArmResource[]>;
}

/** Resource types the checks read (lower case, as indexed). */
export const Types = {
  registry: 'microsoft.containerregistry/registries',
  containerApp: 'microsoft.app/containerapps',
  job: 'microsoft.app/jobs',
  managedEnvironment: 'microsoft.app/managedenvironments',
  containerGroup: 'microsoft.containerinstance/containergroups',
  site: 'microsoft.web/sites',
  userIdentity: 'microsoft.managedidentity/userassignedidentities',
  roleAssignment: 'microsoft.authorization/roleassignments',
  roleDefinition: 'microsoft.authorization/roledefinitions',
  privateEndpoint: 'microsoft.network/privateendpoints',
  dnsZone: 'microsoft.network/privatednszones',
  dnsLink: 'microsoft.network/privatednszones/virtualnetworklinks',
  dnsA: 'microsoft.network/privatednszones/a',
  dnsResolver: 'microsoft.network/dnsresolvers',
  dnsInboundEndpoint: 'microsoft.network/dnsresolvers/inboundendpoints',
  dnsForwardingRuleset: 'microsoft.network/dnsforwardingrulesets',
  dnsForwardingRule: 'microsoft.network/dnsforwardingrulesets/forwardingrules',
  dnsRulesetLink: 'microsoft.network/dnsforwardingrulesets/virtualnetworklinks',
  vnet: 'microsoft.network/virtualnetworks',
  keyVault: 'microsoft.keyvault/vaults',
  pricing: 'microsoft.security/pricings',
  diagnosticSetting: 'microsoft.insights/diagnosticsettings',
  workspace: 'microsoft.operationalinsights/workspaces',
  policyAssignment: 'microsoft.authorization/policyassignments',
  policyDefinition: 'microsoft.authorization/policydefinitions',
  policyExemption: 'microsoft.authorization/policyexemptions',
} as const;

/** Lower-case key of an ARM id (ARM ids are case-insensitive). */
export function idKey(id: string): string {
  return id.toLowerCase().replace(/\/+$/, '');
}

const RESOURCE_FORM =
  'an ARM resource object {id: "/subscriptions/…", name, type: "<Namespace>/<type>", properties: {…}}';

/** The path that stands for the whole snapshot document. */
const DOCUMENT = '(document)';

/**
 * The core JSON reader over one snapshot: `INVALID_INPUT`, the file name (when there is one) before the path, so a
 * bad entry reads `s.json: resources[3].id: expected an ARM resource id …, got "x"` as every other bad input does.
 */
function snapshotReader(source: string | undefined): JsonReader {
  return new JsonReader({ source, root: DOCUMENT });
}

/** Validates entry `i` of `list` (at `path`, e.g. `resources`); errors name the entry and field (`resources[3].id`). */
function validateResource(read: JsonReader, list: readonly unknown[], i: number, path: string): ArmResource {
  const field = read.join(path, i);
  const raw = list[i];
  if (!isJsonObject(raw)) throw read.fail(field, RESOURCE_FORM, raw);
  const r = raw;
  if (typeof r.id !== 'string' || !r.id.startsWith('/') || r.id.length > 2048)
    throw read.fail(read.join(field, 'id'), 'an ARM resource id starting with "/" (at most 2048 chars)', r.id);
  if (typeof r.type !== 'string' || !/^[A-Za-z0-9.]+\/[A-Za-z0-9./]+$/.test(r.type))
    throw read.fail(read.join(field, 'type'), 'a resource type like Microsoft.ContainerRegistry/registries', r.type);
  if (r.name !== undefined && typeof r.name !== 'string') throw read.fail(read.join(field, 'name'), 'a string', r.name);
  const name = typeof r.name === 'string' ? r.name : (r.id.split('/').pop() ?? '');
  const properties = read.optionalObject(r, 'properties', field);
  const sku = read.optionalObject(r, 'sku', field);
  const identity = read.optionalObject(r, 'identity', field);
  return {
    id: r.id,
    name,
    type: r.type,
    ...(typeof r.location === 'string' ? { location: r.location } : {}),
    ...(typeof r.kind === 'string' ? { kind: r.kind } : {}),
    ...(sku ? { sku: sku as ArmResource['sku'] } : {}),
    ...(identity ? { identity: identity as ArmIdentity } : {}),
    properties: properties ?? {},
  };
}

/**
 * Builds the snapshot from already-parsed resources (bounded by {@link MAX_SNAPSHOT_RESOURCES}, counted before any
 * entry is read); an id named twice throws `SNAPSHOT_DUPLICATE_ID`. `source` (a file name) goes before every path
 * in errors; the resources are at `resources`.
 */
export function buildSnapshot(resources: readonly unknown[], source?: string): Snapshot {
  const read = snapshotReader(source);
  const field = 'resources';
  if (resources.length > MAX_SNAPSHOT_RESOURCES) {
    throw new GuardError(
      ErrorCodes.SNAPSHOT_TOO_MANY_RESOURCES,
      `${read.where(field)}: expected at most ${MAX_SNAPSHOT_RESOURCES} resources, got ${resources.length}; capture a narrower --scope`,
      { field },
    );
  }
  const list = resources.map((_, i) => validateResource(read, resources, i, field));
  const byId = new Map<string, ArmResource>();
  const byType = new Map<string, ArmResource[]>();
  const index = new Map<string, number>();
  for (const [i, r] of list.entries()) {
    const key = idKey(r.id);
    // Two entries for one id: which one ARM holds is not knowable, and reading either would let a second entry
    // (appended to a file, or a page answered twice) decide a check. Refused, naming both entries.
    const first = index.get(key);
    if (first !== undefined) {
      const at = read.join(read.join(field, i), 'id');
      throw new GuardError(
        ErrorCodes.SNAPSHOT_DUPLICATE_ID,
        `${read.where(at)}: ${JSON.stringify(r.id.slice(0, 300))} is already ${read.join(field, first)} (ids compare case-insensitively, as in ARM); nothing was checked: capture the snapshot again or remove one entry`,
        { field: at },
      );
    }
    index.set(key, i);
    byId.set(key, r);
    const type = r.type.toLowerCase();
    let bucket = byType.get(type);
    if (!bucket) byType.set(type, (bucket = []));
    bucket.push(r);
  }
  return { resources: [...byId.values()], byId, byType };
}

/**
 * Parses a snapshot file's text: `{"resources": [...]}`. Throws `SNAPSHOT_TOO_LARGE` past {@link MAX_SNAPSHOT_BYTES}
 * `SNAPSHOT_TOO_DEEP` past {@link MAX_SNAPSHOT_DEPTH} and `SNAPSHOT_TOO_MANY_VALUES` past {@link MAX_SNAPSHOT_CONTAINERS} (all checked before parsing), `SNAPSHOT_TOO_MANY_RESOURCES`, or `INVALID_INPUT` naming the entry and field after
 * `source` (`s.json: resources[3].id: expected …, got …`).
 */
export function parseSnapshot(text: string | Buffer, source = 'snapshot'): Snapshot {
  const read = snapshotReader(source);
  const bytes = typeof text === 'string' ? Buffer.byteLength(text) : text.length;
  if (bytes > MAX_SNAPSHOT_BYTES) {
    throw new GuardError(
      ErrorCodes.SNAPSHOT_TOO_LARGE,
      `${read.where(DOCUMENT)}: expected at most ${MAX_SNAPSHOT_BYTES} bytes, got ${bytes} bytes; capture a narrower --scope`,
      { field: DOCUMENT },
    );
  }
  const json = typeof text === 'string' ? text : text.toString('utf8');
  // Nesting is bounded before JSON.parse builds anything: a document of `[[[[…` would otherwise be built whole
  // and then walked by checks that recurse.
  const excess = findJsonNestingExcess(json, { maxDepth: MAX_SNAPSHOT_DEPTH, maxContainers: MAX_SNAPSHOT_CONTAINERS });
  if (excess?.bound === 'containers') {
    throw new GuardError(
      ErrorCodes.SNAPSHOT_TOO_MANY_VALUES,
      `${read.where(DOCUMENT)}: expected at most ${MAX_SNAPSHOT_CONTAINERS} objects and arrays, got more (the one past the bound at offset ${excess.offset}); nothing was checked: capture a narrower --scope`,
      { field: DOCUMENT },
    );
  }
  if (excess) {
    throw new GuardError(
      ErrorCodes.SNAPSHOT_TOO_DEEP,
      `${read.where(DOCUMENT)}: expected JSON nested at most ${MAX_SNAPSHOT_DEPTH} levels deep, got deeper nesting at offset ${excess.offset}; nothing was checked: capture the snapshot again with \`acr-guard doctor snapshot\``,
      { field: DOCUMENT },
    );
  }
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch (err) {
    throw new GuardError(
      ErrorCodes.INVALID_INPUT,
      `${read.where(DOCUMENT)}: expected JSON {"resources": [ARM resource objects]}, got a syntax error (${(err as Error).message.slice(0, 120)})`,
      { field: DOCUMENT },
    );
  }
  if (!isJsonObject(doc)) throw read.fail(DOCUMENT, 'an object {"resources": [ARM resource objects]}', doc);
  const resources = doc.resources;
  if (!Array.isArray(resources))
    throw read.fail('resources', 'an array of ARM resource objects in {"resources": [...]}', resources);
  return buildSnapshot(resources, source);
}

/** Resources of one type (lower-cased type). */
export function ofType(s: Snapshot, type: string): readonly ArmResource[] {
  return s.byType.get(type.toLowerCase()) ?? [];
}

/** The resource with this id, if in the snapshot. */
export function byId(s: Snapshot, id: string | undefined): ArmResource | undefined {
  return id ? s.byId.get(idKey(id)) : undefined;
}

/** Reads a nested property path (`a.b.c`) from an object; undefined when any step is missing. */
export function prop(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const key of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/** An array property, or [] when absent or not an array. */
export function arr(obj: unknown, path: string): unknown[] {
  const v = prop(obj, path);
  return Array.isArray(v) ? v : [];
}

/** A string property, or undefined. */
export function str(obj: unknown, path: string): string | undefined {
  const v = prop(obj, path);
  return typeof v === 'string' ? v : undefined;
}

/** Parts of an ARM id: subscription, resource group, and the id of the parent `n` segments up. */
export function parseArmId(id: string): { subscriptionId?: string; resourceGroup?: string; name: string } {
  const m = /^\/subscriptions\/([^/]+)(?:\/resourceGroups\/([^/]+))?/i.exec(id);
  return { subscriptionId: m?.[1], resourceGroup: m?.[2], name: id.split('/').filter(Boolean).pop() ?? '' };
}

/** The virtual network id of a subnet id (`…/virtualNetworks/<v>/subnets/<s>` → `…/virtualNetworks/<v>`). */
export function vnetOfSubnet(subnetId: string | undefined): string | undefined {
  if (!subnetId) return undefined;
  const m = /^(.*\/providers\/Microsoft\.Network\/virtualNetworks\/[^/]+)\/subnets\/[^/]+$/i.exec(subnetId);
  return m?.[1];
}

/** True when `scope` is `id` itself or an ancestor of it (ARM scope inheritance; `/` is the root). */
export function scopeCovers(scope: string, id: string): boolean {
  const s = idKey(scope);
  const i = idKey(id);
  return s === '' || s === i || i.startsWith(`${s}/`);
}
