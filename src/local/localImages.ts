/**
 * The page's image rows on the local host: the latest gate of every image the orchestration host knows, with
 * its verdict from the audit store.
 */
import type { AuditStore } from '../adapters/ports';
import { formatImage } from '../core/reference';
import { verdictPath } from '../app/rescan';
import type { ImageRow } from '../app/images';
import type { GateOutcome, GateProgress } from '../orchestrations/imageGate';
import type { LocalOrchestrationHost } from './orchestrationHost';

/** The latest gate and verdict of every image the host knows (artifacts and ignored pushes left out). */
export async function listImages(host: LocalOrchestrationHost, audit: AuditStore): Promise<ImageRow[]> {
  const rows = new Map<string, ImageRow>();
  for (const instance of host.list()) {
    const input = instance.input;
    if (!input) continue;
    const outcome = instance.output as GateOutcome | undefined;
    if (outcome?.status === 'ignored') continue;
    const progress = instance.customStatus as GateProgress | undefined;
    // A running gate shows up once it is past the manifest (until then it may be an artifact it will ignore).
    if (
      instance.runtimeStatus === 'Running' &&
      (!progress || progress.step === 'loading-policy' || progress.step === 'resolving-manifest')
    )
      continue;
    const key = formatImage(input.image);
    const existing = rows.get(key);
    if (existing) {
      existing.tag ??= input.tag;
      continue;
    }
    rows.set(key, {
      image: key,
      ...input.image,
      ...(input.tag ? { tag: input.tag } : {}),
      gate: {
        id: instance.instanceId,
        runtimeStatus: instance.runtimeStatus,
        trigger: input.trigger,
        progress,
        createdTime: instance.createdTime,
      },
      verdictUrl: verdictPath(input.image),
    });
  }
  for (const row of rows.values()) {
    const verdict = await audit.latestVerdict(row).catch(() => undefined);
    if (verdict) row.verdict = verdict;
  }
  return [...rows.values()].sort(
    (a, b) =>
      a.repository.localeCompare(b.repository) ||
      String(b.gate?.createdTime).localeCompare(String(a.gate?.createdTime)),
  );
}
