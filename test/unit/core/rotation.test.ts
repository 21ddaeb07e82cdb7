/**
 * Rotation schedule: which slot to regenerate, when, with which expiry; flags for tokens that need a human.
 */
import { isGuardError } from '../../../src/core/errors';
import {
  parseTokenId,
  planRotation,
  secretNameFor,
  tokenFlags,
  validateRotationSettings,
  type TokenInfo,
} from '../../../src/core/rotation';

const DAY = 86_400_000;
const NOW = Date.parse('2026-11-22T12:00:00Z');
const SETTINGS = { validityMs: 30 * DAY, renewBeforeMs: 7 * DAY };
const ID =
  '/subscriptions/1f4b2c3d-5e6f-4a7b-8c9d-0e1f2a3b4c5d/resourceGroups/rg-1/providers/Microsoft.ContainerRegistry/registries/contoso/tokens/ci-pull';

function token(passwords: TokenInfo['passwords'], status: TokenInfo['status'] = 'enabled'): TokenInfo {
  return { id: ID, registry: 'contoso', name: 'ci-pull', status, passwords };
}

describe('planRotation', () => {
  it('nothing published: fills an empty slot with now + validity', () => {
    const plan = planRotation(token([{ name: 'password1', expiry: NOW + 20 * DAY }]), undefined, SETTINGS, NOW);
    expect(plan).toMatchObject({ action: 'rotate', slot: 'password2', expiry: new Date(NOW + 30 * DAY).toISOString() });
    expect(planRotation(token([]), undefined, SETTINGS, NOW).slot).toBe('password1');
  });

  it('nothing published and both slots used: regenerates an expired one, never a valid one someone may use', () => {
    const plan = planRotation(
      token([
        { name: 'password1', expiry: NOW - 2 * DAY },
        { name: 'password2', expiry: NOW - DAY },
      ]),
      undefined,
      SETTINGS,
      NOW,
    );
    expect(plan).toMatchObject({ action: 'rotate', slot: 'password1' });
    const adopt = planRotation(
      token([{ name: 'password1', expiry: NOW + 9 * DAY }, { name: 'password2' }]),
      undefined,
      SETTINGS,
      NOW,
    );
    expect(adopt.action).toBe('skip');
    expect(adopt.flags.map((f) => f.code)).toEqual(['no-expiry', 'unmanaged-passwords']);
  });

  it('keeps a published password far from expiry, and never touches the published slot', () => {
    const t = token([
      { name: 'password1', expiry: NOW + 10 * DAY },
      { name: 'password2', expiry: NOW - DAY },
    ]);
    expect(planRotation(t, { slot: 'password1', enabled: true }, SETTINGS, NOW)).toMatchObject({
      action: 'keep',
      publishedSlot: 'password1',
    });
    const due = planRotation(t, { slot: 'password1', enabled: true }, SETTINGS, NOW + 3 * DAY);
    expect(due).toMatchObject({ action: 'rotate', slot: 'password2', publishedSlot: 'password1' });
  });

  it('the boundary: rotates exactly renewBefore ahead of expiry, not a millisecond earlier', () => {
    const t = token([{ name: 'password2', expiry: NOW + 7 * DAY }]);
    expect(planRotation(t, { slot: 'password2', enabled: true }, SETTINGS, NOW).action).toBe('rotate');
    expect(planRotation(t, { slot: 'password2', enabled: true }, SETTINGS, NOW - 1).action).toBe('keep');
  });

  it('overlap: the new password outlives the published one, which stays valid until its own expiry', () => {
    const t = token([{ name: 'password1', expiry: NOW + 5 * DAY }]);
    const plan = planRotation(t, { slot: 'password1', enabled: true }, SETTINGS, NOW);
    expect(Date.parse(plan.expiry!)).toBeGreaterThan(NOW + 5 * DAY);
  });

  it('a published password without expiry rotates by age (creation + validity) and is flagged', () => {
    const t = token([{ name: 'password1', creationTime: NOW - 25 * DAY }]);
    const plan = planRotation(t, { slot: 'password1', enabled: true }, SETTINGS, NOW);
    expect(plan).toMatchObject({ action: 'rotate', slot: 'password2' });
    expect(plan.flags.map((f) => f.code)).toEqual(['no-expiry']);
  });

  it('a published slot the token no longer has, or a disabled secret, rotates into the other slot', () => {
    expect(planRotation(token([]), { slot: 'password2', enabled: true }, SETTINGS, NOW)).toMatchObject({
      action: 'rotate',
      slot: 'password1',
    });
    expect(
      planRotation(
        token([{ name: 'password1', expiry: NOW + 20 * DAY }]),
        { slot: 'password1', enabled: false },
        SETTINGS,
        NOW,
      ).slot,
    ).toBe('password2');
  });

  it('a disabled token is skipped and flagged when still published', () => {
    const plan = planRotation(
      token([{ name: 'password1', expiry: NOW - DAY }], 'disabled'),
      { slot: 'password1', enabled: true },
      SETTINGS,
      NOW,
    );
    expect(plan.action).toBe('skip');
    expect(plan.flags.map((f) => f.code).sort()).toEqual(['disabled-but-published', 'expired']);
  });

  it('flags expired passwords, naming the published one', () => {
    const flags = tokenFlags(token([{ name: 'password1', expiry: NOW }]), { slot: 'password1', enabled: true }, NOW);
    expect(flags).toEqual([{ code: 'expired', detail: expect.stringContaining('is the published one') }]);
  });
});

describe('settings and names', () => {
  it('validity must be at least twice renewBefore', () => {
    expect(validateRotationSettings(SETTINGS)).toBe(SETTINGS);
    expect(() =>
      validateRotationSettings({ validityMs: 10 * DAY, renewBeforeMs: 6 * DAY }, 'ACR_GUARD_ROTATION_VALIDITY'),
    ).toThrow(/at least twice/);
  });

  it('parses token ids and refuses anything else, naming the field', () => {
    expect(parseTokenId(ID, 'x')).toMatchObject({ resourceGroup: 'rg-1', registry: 'contoso', token: 'ci-pull' });
    for (const bad of [`${ID}/../x`, ID.replace('tokens', 'scopeMaps'), ID.replace('contoso', 'con/toso'), '']) {
      try {
        parseTokenId(bad, 'ACR_GUARD_ROTATION_TOKENS[0]');
        throw new Error('accepted');
      } catch (err) {
        expect(isGuardError(err) && err.field).toBe('ACR_GUARD_ROTATION_TOKENS[0]');
      }
    }
    expect(secretNameFor('Contoso', 'ci-pull')).toBe('acr-contoso-ci-pull');
  });
});
