/**
 * Promotion writes a release tag only when the source repository's tag still points at the gated digest when
 * the verdict is applied. The real `imageGate` orchestrator replayed by the real durable-functions engine
 * (local driver), the real activities and adapters, a real docker-registry on loopback; the tag is moved in
 * the registry while the gate runs (between the push the event reported and the apply step).
 */
import type { ImageId } from '../../src/core/types';
import { MemoryAuditStore } from '../../src/adapters/auditStore';
import { composeGateServices } from '../../src/app/compose';
import { gateActivities } from '../../src/orchestrations/activities';
import type { GateInput, GateOutcome } from '../../src/orchestrations/imageGate';
import { Activities } from '../../src/orchestrations/names';
import { replayGate } from '../support/localGate';
import { pushWithReport, reportsGatePolicy } from '../support/pushSamples';
import { useRegistry } from '../support/registry';

const reg = useRegistry();

/** Runs the gate for `image` (with the tag its event named); `beforeDecide` runs inside the gate, before its apply step. */
async function gate(image: ImageId, tag: string, beforeDecide?: () => Promise<void>): Promise<GateOutcome> {
  const policy = reportsGatePolicy(reg.registry.host, 'promote');
  const real = gateActivities(
    composeGateServices({ policy: () => policy, audit: new MemoryAuditStore(), plainHttpHosts: [reg.registry.host] }),
  );
  const apply = real[Activities.applyVerdict];
  const applyAndRecord = real[Activities.applyAndRecord];
  const prepareAndFinish = real[Activities.prepareAndFinish];
  const activities = {
    ...real,
    // The tag moves before the apply step reads the registry: after the decision for version 1's applyVerdict and
    // version 2's applyAndRecord; before version 3's prepareAndFinish, which reads, decides and applies in one call
    // (the gate reads by digest, so only the apply step sees the tag).
    [Activities.applyVerdict]: async (...args: Parameters<typeof apply>) => {
      await beforeDecide?.();
      return apply(...args);
    },
    [Activities.applyAndRecord]: async (...args: Parameters<typeof applyAndRecord>) => {
      await beforeDecide?.();
      return applyAndRecord(...args);
    },
    [Activities.prepareAndFinish]: async (...args: Parameters<typeof prepareAndFinish>) => {
      await beforeDecide?.();
      return prepareAndFinish(...args);
    },
  };
  const input: GateInput = { image, tag, trigger: 'push' };
  return replayGate(activities, input, `gate-release-tag-${image.digest.slice(7, 19)}`);
}

async function tagOf(repository: string, tag: string): Promise<string | undefined> {
  return reg.client.resolveTag(repository, tag).catch(() => undefined);
}

/** Points `repository:tag` at `digest` (a push of an existing manifest under another tag). */
async function retag(repository: string, digest: string, tag: string): Promise<void> {
  const manifest = await reg.client.getManifest(repository, digest);
  await reg.client.putManifest(repository, tag, manifest.bytes, manifest.mediaType);
}

describe('release tag at apply time', () => {
  it('writes the release tag when the source tag still points at the gated digest', async () => {
    const a = await pushWithReport(reg.client, 'team/steady', '1.0', false);
    const outcome = await gate(a, '1.0');
    expect(outcome.verdict?.decision).toBe('release');
    expect(outcome.apply).toMatchObject({ mode: 'promote', ok: true, releaseTag: { tag: '1.0', written: true } });
    expect(await tagOf('release/team/steady', '1.0')).toBe(a.digest);
  });

  it('promotes by digest only when the tag moved to another digest between the push and the apply', async () => {
    const a = await pushWithReport(reg.client, 'team/moved', '2.0', false);
    let b: ImageId | undefined;
    // Another push takes the tag while A's gate runs (its event still says 2.0).
    const outcome = await gate(a, '2.0', async () => {
      b = await pushWithReport(reg.client, 'team/moved', '2.0-b', false);
      await retag('team/moved', b.digest, '2.0');
    });
    expect(b && b.digest).not.toBe(a.digest);
    expect(await tagOf('team/moved', '2.0')).toBe(b?.digest);
    expect(outcome.verdict?.decision).toBe('release');
    expect(await tagOf('release/team/moved', '2.0')).toBeUndefined();
    expect(outcome.apply?.ok).toBe(true);
    expect(outcome.apply?.ok ? outcome.apply.releaseTag : undefined).toMatchObject({ tag: '2.0', written: false });
    expect((outcome.apply?.ok ? outcome.apply.releaseTag : undefined)?.reason).toContain(`now points at ${b?.digest}`);
    expect(outcome.apply?.detail).toContain('by digest only');
    // The digest is in the release repository; the tag is not given to it.
    expect((await reg.client.getManifest('release/team/moved', a.digest)).digest).toBe(a.digest);
    expect(await tagOf('release/team/moved', '2.0')).toBeUndefined();
  });

  it('never rolls a release tag back: a late gate of an older digest leaves the release tag on the newer one', async () => {
    const old = await pushWithReport(reg.client, 'team/roll', '3.0', false);
    // A newer clean build under the same tag, released.
    const newer = await pushWithReport(reg.client, 'team/roll', '3.0-b', false);
    await retag('team/roll', newer.digest, '3.0');
    await gate(newer, '3.0');
    expect(await tagOf('release/team/roll', '3.0')).toBe(newer.digest);
    // The old digest's gate (an event, a replayed notification, a rescan) names tag 3.0: the tag stays.
    const late = await gate(old, '3.0');
    expect(await tagOf('release/team/roll', '3.0')).toBe(newer.digest);
    expect(late.apply).toMatchObject({ ok: true, releaseTag: { tag: '3.0', written: false } });
  });

  it('skips the tag when it no longer exists in the source repository', async () => {
    const a = await pushWithReport(reg.client, 'team/gone', '4.0', false);
    const outcome = await gate(a, 'never-pushed');
    expect(await tagOf('release/team/gone', 'never-pushed')).toBeUndefined();
    expect(outcome.apply?.ok ? outcome.apply.releaseTag : undefined).toMatchObject({
      tag: 'never-pushed',
      written: false,
    });
    expect((outcome.apply?.ok ? outcome.apply.releaseTag : undefined)?.reason).toContain('no longer exists');
  });
});
