/**
 * `doctor pull <workload>`: why a Container App or container group cannot pull its images. For each image:
 * the gate's verdict; for each private registry it pulls from: a private endpoint reachable from the
 * workload's virtual network, the privatelink.azurecr.io zone linked to it, both A records equal to the
 * endpoint's addresses; the pull identity assigned and granted pull on the registry; and, when the caller
 * reached the registry, the tag or digest present. Pure: verdicts and presence are looked up by the caller.
 * The network checks are in `pullNetwork.ts`, the identity checks in `pullIdentity.ts`; this module holds the
 * gate's verdict, the image's presence and the walk over the workload's images.
 */
import { parseImageReference } from '../reference';
import type { ImageReference, Verdict } from '../types';
import { fail, pass, sh, unknown, type DoctorCheck, type DoctorReport } from './check';
import { identityChecks } from './pullIdentity';
import { networkChecks } from './pullNetwork';
import { idKey, ofType, str, Types, type ArmResource, type Snapshot } from './snapshot';
import { findWorkload, nameAndGroup, workloadImages } from './workloads';

/** The gate's answer for one image, looked up by the caller (read-only). */
export type VerdictAnswer =
  | {
      status: 'found';
      verdict: Verdict;
      /** The tag was resolved to the verdict's digest by the registry. */ resolved?: boolean;
    }
  | { status: 'none' }
  | { status: 'error'; reason: string };
/** Whether the registry holds the tag or digest, when the caller could ask it. */
export type PresenceAnswer =
  | { status: 'present'; digest?: string }
  | { status: 'absent' }
  | { status: 'unreachable'; reason: string };

/** Inputs of {@link diagnosePull}. */
export interface PullInput {
  snapshot: Snapshot;
  /** The Container App or container group: resource id or name. */
  workload: string;
  /** Gate verdicts by image reference (as written in the workload); missing = not looked up. */
  verdicts?: ReadonlyMap<string, VerdictAnswer>;
  /** Presence by image reference; an image without an entry gets no presence check (registry not asked). */
  presence?: ReadonlyMap<string, PresenceAnswer>;
}

/** The registry resource serving a login server, if in the snapshot. */
export function registryFor(s: Snapshot, host: string): ArmResource | undefined {
  const h = host.toLowerCase();
  return ofType(s, Types.registry).find(
    (r) => (str(r.properties, 'loginServer') ?? `${r.name}.azurecr.io`).toLowerCase() === h,
  );
}

/** The Function App that hosts acr-guard's rescan endpoint, when exactly one is in the snapshot. */
function guardHost(s: Snapshot): string {
  const sites = ofType(s, Types.site).filter((r) => /functionapp/i.test(r.kind ?? ''));
  return (sites.length === 1 && str(sites[0].properties, 'defaultHostName')) || '<acr-guard-function-host>';
}

function rescanFix(s: Snapshot, image: string): string {
  return `az rest --method post --url https://${guardHost(s)}/api/rescan --resource api://<acr-guard-api-client-id> --body ${sh(JSON.stringify({ image }))}`;
}

function verdictCheck(
  s: Snapshot,
  imageText: string,
  ref: ImageReference,
  answer: VerdictAnswer | undefined,
): DoctorCheck {
  const id = 'pull.gate-verdict';
  if (!answer)
    return unknown(
      id,
      imageText,
      "the gate's verdicts were not looked up (no audit store given: --audit-dir, or the configured store)",
    );
  if (answer.status === 'error')
    return unknown(id, imageText, `the gate's verdicts could not be read: ${answer.reason}`);
  const target = ref.digest ? `${ref.registry}/${ref.repository}@${ref.digest}` : imageText;
  if (answer.status === 'none')
    return unknown(
      id,
      imageText,
      `no gate verdict is recorded for ${target}: if quarantine is on, an image never gated stays quarantined`,
      rescanFix(s, target),
    );
  const v = answer.verdict;
  const image = `${v.image.registry}/${v.image.repository}@${v.image.digest}`;
  if (v.decision === 'release')
    return pass(
      id,
      imageText,
      `released by the gate at ${v.decidedAt} (${image})${
        ref.digest === undefined && v.image.digest !== undefined && !answer.resolved
          ? '; by the newest verdict recorded under this tag (--reach-registry checks the tag still points there)'
          : ''
      }`,
    );
  const reasons = v.checks.filter((c) => c.status !== 'pass').map((c) => `${c.name}: ${c.reason}`);
  return fail(
    id,
    imageText,
    `quarantined: the gate blocked ${image} at ${v.decidedAt}: ${v.summary}${reasons.length ? ` [${reasons.join('; ')}]` : ''}`,
    rescanFix(s, image),
  );
}

/** Runs every pull check for the workload. */
export function diagnosePull(input: PullInput): DoctorReport {
  const s = input.snapshot;
  const found = findWorkload(s, input.workload);
  if (!found.workload) {
    const evidence =
      found.candidates.length > 1
        ? `${found.candidates.length} workloads are named ${input.workload}: ${found.candidates.join(', ')}; pass one resource id`
        : `no Container App or container group ${input.workload} is in the snapshot`;
    return { checks: [unknown('pull.workload', input.workload, evidence)] };
  }
  const w = found.workload;
  const checks: DoctorCheck[] = [];
  const images = workloadImages(w);
  if (images.length === 0)
    checks.push(unknown('pull.workload', w.resource.id, 'the workload lists no container images'));
  const registriesDone = new Set<string>();
  for (const image of images) {
    let ref: ImageReference;
    try {
      ref = parseImageReference(image, { field: 'image' });
    } catch (err) {
      checks.push(unknown('pull.image', image, `not an image reference doctor can read: ${(err as Error).message}`));
      continue;
    }
    const registry = registryFor(s, ref.registry);
    if (!registry) {
      checks.push(
        unknown(
          'pull.registry',
          image,
          `${ref.registry} is not a registry in the snapshot; its network, identity and gate are not checked`,
        ),
      );
      continue;
    }
    checks.push(verdictCheck(s, image, ref, input.verdicts?.get(image)));
    if (!registriesDone.has(idKey(registry.id))) {
      registriesDone.add(idKey(registry.id));
      const access = str(registry.properties, 'publicNetworkAccess');
      if (access === undefined)
        checks.push(unknown('pull.public-access', registry.id, 'publicNetworkAccess is not in the snapshot'));
      else if (/^disabled$/i.test(access)) {
        checks.push(
          pass(
            'pull.public-access',
            registry.id,
            'public network access is disabled: the pull goes through a private endpoint',
          ),
        );
        checks.push(...networkChecks(s, w, registry));
      } else
        checks.push(
          pass(
            'pull.public-access',
            registry.id,
            `public network access is ${access}: the pull does not need a private endpoint`,
          ),
        );
      checks.push(...identityChecks(s, w, registry, ref.registry));
    }
    const presence = input.presence?.get(image);
    if (presence?.status === 'present')
      checks.push(
        pass('pull.image-present', image, `the registry holds it${presence.digest ? ` (${presence.digest})` : ''}`),
      );
    else if (presence?.status === 'absent')
      checks.push(
        fail(
          'pull.image-present',
          image,
          `the registry has no ${ref.digest ?? `tag ${ref.tag}`} in ${ref.repository}`,
          `az acr repository show-tags -n ${registry.name} --repository ${ref.repository}  # then deploy an existing tag: ${
            w.kind === 'containerApp'
              ? `az containerapp update ${nameAndGroup(w.resource)} --image <image>`
              : `az container create ${nameAndGroup(w.resource)} --image <image> …  (a container group is recreated to change its image)`
          }`,
        ),
      );
    else if (presence?.status === 'unreachable')
      checks.push(unknown('pull.image-present', image, `the registry could not be asked: ${presence.reason}`));
  }
  return { checks };
}
