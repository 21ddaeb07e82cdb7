/**
 * One ACR host check for the whole code base (src/core/acrHost.ts): the login-server suffixes Azure documents
 * (public, China, US Government), nothing that merely contains them, and the same answer from the policy's
 * re-export and from every caller (no other `.azurecr.` test left in src/ or bin/).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { ACR_LOGIN_SERVER_SUFFIXES, isAcrHost } from '../../../src/core/acrHost';
import { loadPolicy } from '../../../src/core/policy';
import { applyModeFor, isAcrHost as policyIsAcrHost } from '../../../src/core/policyLookup';

const ROOT = join(__dirname, '..', '..', '..');

describe('isAcrHost', () => {
  it.each([
    ['contoso.azurecr.io', true],
    ['contoso.azurecr.cn', true],
    ['contoso.azurecr.us', true],
    ['Contoso.AzureCR.US', true],
    ['contoso.azurecr.us:443', true],
    ['contoso-prod01.azurecr.io', true],
    ['azurecr.io', false],
    ['.azurecr.io', false],
    ['contoso..azurecr.io', false],
    ['contoso.azurecr.de', false],
    ['contoso.azurecr.io.example.com', false],
    ['contosoazurecr.io', false],
    ['contoso.azurecr.io.', false],
    ['127.0.0.1:5000', false],
    ['ghcr.io', false],
  ])('%s → %s', (host, expected) => {
    expect(isAcrHost(host)).toBe(expected);
  });

  it('lists exactly the suffixes Azure documents today', () => {
    expect([...ACR_LOGIN_SERVER_SUFFIXES]).toEqual(['.azurecr.io', '.azurecr.cn', '.azurecr.us']);
  });

  it('the policy answers with the same function', () => {
    expect(policyIsAcrHost).toBe(isAcrHost);
  });

  it('property: <label>.azurecr.<io|cn|us>[:port] is ACR; the same with any other top-level suffix appended is not', () => {
    let runs = 0;
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,20}[a-z0-9])?$/),
        fc.constantFrom(...ACR_LOGIN_SERVER_SUFFIXES),
        fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
        fc.stringMatching(/^[a-z]{1,10}$/),
        (label, suffix, port, tail) => {
          runs++;
          const host = `${label}${suffix}${port === undefined ? '' : `:${port}`}`;
          expect(isAcrHost(host)).toBe(true);
          expect(isAcrHost(`${label}${suffix}.${tail}`)).toBe(false);
          expect(isAcrHost(`${label}${suffix}${tail}`)).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
    expect(runs).toBe(300);
  });

  it('a sovereign-cloud registry gets quarantine from the policy (the mode the credential is then needed for)', () => {
    const policy = loadPolicy(
      'version: 1\ngate: []\nregistries:\n  - host: contoso.azurecr.us\n  - host: contoso.azurecr.cn\n',
      'inline',
    );
    expect(policy.registries.map((r) => applyModeFor(policy, r.host, undefined))).toEqual(['quarantine', 'quarantine']);
  });
});

describe('no second ACR host check', () => {
  it('src/ and bin/ test for ACR only through isAcrHost', () => {
    const offenders: string[] = [];
    for (const dir of ['src', 'bin']) {
      for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })) {
        if (!e.isFile() || !/\.(ts|js)$/.test(e.name)) continue;
        const rel = join(e.parentPath, e.name).slice(ROOT.length + 1);
        if (rel === join('src', 'core', 'acrHost.ts')) continue;
        const text = readFileSync(join(ROOT, rel), 'utf8');
        // A string test of the suffix in code (comments and examples such as "contoso.azurecr.io" are fine).
        if (/(endsWith|includes|test|match)\([^)]*azurecr/.test(text) || /\/[^/\n]*\\\.azurecr[^/\n]*\//.test(text))
          offenders.push(rel);
      }
    }
    expect(offenders).toEqual([]);
  });
});
