import { readFileSync } from 'node:fs';
import path from 'node:path';
import { buildDefenderQuery, kqlString, mapDefenderRows } from '../../../src/core/defender';
import type { Finding, FindingsResult, ImageId } from '../../../src/core/types';

const FIXTURES = path.join(__dirname, '../../fixtures/defender');
/** Rows of a recorded Resource Graph page (`objectArray` result format). */
const rowsOf = (name: string): Array<Record<string, any>> =>
  JSON.parse(readFileSync(path.join(FIXTURES, name), 'utf8')).data;

const IMAGE: ImageId = {
  registry: 'contoso.azurecr.io',
  repository: 'contoso/api',
  digest: 'sha256:5b0ad3ed1e4d8e1e2a6f8d07c3a3a3f7f8d5b5e4c1d6a2b9e8f7c6d5a4b3c2d1',
};

function ready(result: FindingsResult): Extract<FindingsResult, { status: 'ready' }> {
  if (result.status !== 'ready') throw new Error(`expected ready, got ${JSON.stringify(result)}`);
  return result;
}
const byId = (findings: Finding[]) => Object.fromEntries(findings.map((f) => [f.id, f]));

describe('buildDefenderQuery', () => {
  it('asks for both row shapes of this digest and nothing else', () => {
    const { query } = buildDefenderQuery(IMAGE);
    expect(query).toMatch(/^securityresources\n/);
    expect(query).toContain('type == "microsoft.security/assessments"');
    expect(query).toContain('=~ ".containerimage"');
    expect(query).toContain('Source) =~ "Azure"');
    expect(query).toContain('type == "microsoft.security/assessments/subassessments"');
    expect(query).toContain(`properties.additionalData.artifactDetails.digest) == "${IMAGE.digest}"`);
    expect(query).toContain(`.Digest) == "${IMAGE.digest}"`);
    expect(query).toContain('| project id, type, name, properties');
  });

  it.each<[string, Partial<ImageId>, string]>([
    ['a quote in the digest', { digest: 'sha256:abc" or 1==1 //' }, 'image.digest'],
    ['an upper-case digest', { digest: IMAGE.digest.toUpperCase() }, 'image.digest'],
    ['a short digest', { digest: 'sha256:abcd' }, 'image.digest'],
    ['a KQL pipe in the repository', { repository: 'contoso/api | take 1' }, 'image.repository'],
    ['a quote in the repository', { repository: 'contoso/"api' }, 'image.repository'],
    ['an upper-case repository', { repository: 'Contoso/API' }, 'image.repository'],
    ['a newline in the registry', { registry: 'contoso.azurecr.io\n| take 1' }, 'image.registry'],
    ['a path in the registry', { registry: 'contoso.azurecr.io/x' }, 'image.registry'],
  ])('refuses %s before building anything', (_label, over, field) => {
    expect(() => buildDefenderQuery({ ...IMAGE, ...over })).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT', field }),
    );
  });

  it.each([
    ['plain', '"plain"'],
    ['with "quotes"', '"with \\"quotes\\""'],
    ['back\\slash', '"back\\\\slash"'],
  ])('kqlString(%p) = %p', (value, literal) => expect(kqlString(value)).toBe(literal));

  it('kqlString refuses control characters', () => {
    expect(() => kqlString('a\nb')).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
  });
});

describe('mapDefenderRows: individual recommendations', () => {
  it('maps CvesDetails (array or JSON string) to findings; ignores rows of other images', () => {
    const result = ready(mapDefenderRows(rowsOf('individual-unhealthy.json'), IMAGE));
    const f = byId(result.findings);
    expect(Object.keys(f).sort()).toEqual(['CVE-2023-50495', 'CVE-2023-5363', 'CVE-2023-5678', 'CVE-2024-45490']);
    expect(f['CVE-2023-5363']).toEqual({
      id: 'CVE-2023-5363',
      severity: 'high',
      package: 'openssl',
      installedVersion: '3.0.9-1',
      fixedVersion: '3.0.11-1~deb12u2',
      source: 'defender',
    });
    expect(f['CVE-2023-5678'].severity).toBe('medium');
    expect(f['CVE-2024-45490']).toMatchObject({
      severity: 'critical',
      package: 'expat',
      fixedVersion: '2.5.0-1+deb12u1',
    });
    // CVE severity "Unknown" and no CVSS: the recommendation's severity applies; no fix known.
    expect(f['CVE-2023-50495']).toMatchObject({ severity: 'medium', package: 'ncurses' });
    expect(f['CVE-2023-50495'].fixedVersion).toBeUndefined();
    expect(result.findings.find((x) => x.id === 'CVE-2022-37434')).toBeUndefined();
    expect(result.detail).toContain('individual recommendations');
  });

  it('a Healthy row for the digest is ready with zero findings', () => {
    const result = ready(mapDefenderRows(rowsOf('individual-healthy.json'), IMAGE));
    expect(result.findings).toEqual([]);
    expect(result.detail).toContain('1 healthy');
  });

  it('a Healthy row for another digest is not evidence about ours', () => {
    const rows = rowsOf('individual-healthy.json');
    const other = { ...IMAGE, digest: `sha256:${'1'.repeat(64)}` };
    expect(mapDefenderRows(rows, other).status).toBe('pending');
  });

  it('a row of another registry or repository with the same digest is ignored', () => {
    expect(
      mapDefenderRows(rowsOf('individual-healthy.json'), { ...IMAGE, registry: 'fabrikam.azurecr.io' }).status,
    ).toBe('pending');
    expect(mapDefenderRows(rowsOf('individual-healthy.json'), { ...IMAGE, repository: 'contoso/other' }).status).toBe(
      'pending',
    );
  });

  it('an Unhealthy row without CvesDetails falls back to a CVE display name, else is MALFORMED', () => {
    const [row] = rowsOf('individual-unhealthy.json');
    delete row.properties.additionalData.CvesDetails;
    row.properties.displayName = 'CVE-2026-1111';
    expect(ready(mapDefenderRows([row], IMAGE)).findings).toEqual([
      expect.objectContaining({ id: 'CVE-2026-1111', severity: 'high', package: 'openssl' }),
    ]);
    row.properties.displayName = 'Container image vulnerabilities in openssl should be remediated';
    expect(mapDefenderRows([row], IMAGE)).toMatchObject({
      status: 'error',
      code: 'MALFORMED',
      detail: expect.stringContaining('rows[0].properties.additionalData.CvesDetails'),
    });
  });
});

describe('mapDefenderRows: grouped sub-assessments (fallback)', () => {
  it('maps the documented sub-assessment row; NotApplicable (exempt in Defender) still counts', () => {
    const result = ready(mapDefenderRows(rowsOf('grouped.json'), IMAGE));
    expect(result.findings).toEqual([
      {
        id: 'CVE-2023-5363',
        severity: 'high',
        package: 'libssl3',
        installedVersion: '3.0.9-1',
        fixedVersion: '3.0.11-1~deb12u2',
        source: 'defender',
      },
      {
        id: 'CVE-2024-45490',
        severity: 'critical',
        package: 'libexpat1',
        installedVersion: '2.5.0-1',
        fixedVersion: '2.5.0-1+deb12u1',
        source: 'defender',
      },
    ]);
    expect(result.detail).toContain('grouped');
    expect(result.detail).toContain('exempted in Defender');
  });

  it('individual rows win over grouped rows for the same digest', () => {
    const result = ready(mapDefenderRows(rowsOf('mixed.json'), IMAGE));
    expect(result.findings.map((f) => f.id).sort()).toEqual(['CVE-2023-5363', 'CVE-2023-5678']);
    expect(result.findings.every((f) => f.package === 'openssl')).toBe(true);
  });
});

describe('mapDefenderRows: no rows and bad rows', () => {
  it('zero rows is pending ("not known yet"), never clean', () => {
    const result = mapDefenderRows([], IMAGE);
    expect(result).toEqual({ source: 'defender', status: 'pending', detail: expect.stringContaining('not known yet') });
  });

  it('rows only about other images is pending', () => {
    const rows = rowsOf('individual-unhealthy.json').slice(3);
    expect(mapDefenderRows(rows, IMAGE).status).toBe('pending');
  });

  const individual = () => rowsOf('individual-unhealthy.json')[0];
  const grouped = () => rowsOf('grouped.json')[0];
  it.each<[string, () => unknown, string]>([
    ['a row that is not an object', () => 'row', 'rows[0]: expected an object, got "row"'],
    ['an unknown row type', () => ({ ...individual(), type: 'microsoft.security/alerts' }), 'rows[0].type'],
    [
      'no properties',
      () => ({ ...individual(), properties: undefined }),
      'rows[0].properties: expected an object, got nothing',
    ],
    [
      'no status',
      () => {
        const r = individual();
        delete r.properties.status;
        return r;
      },
      'rows[0].properties.status',
    ],
    [
      'an unknown status code',
      () => {
        const r = individual();
        r.properties.status.code = 'Broken';
        return r;
      },
      'rows[0].properties.status.code: expected Healthy, Unhealthy or NotApplicable, got "Broken"',
    ],
    [
      'resourceAdditionalData not JSON',
      () => {
        const r = individual();
        r.properties.resourceAdditionalData = '{oops';
        return r;
      },
      'rows[0].properties.resourceAdditionalData: expected JSON, got "{oops"',
    ],
    [
      'CvesDetails entry without CveId',
      () => {
        const r = individual();
        r.properties.additionalData.CvesDetails[0].CveId = '';
        return r;
      },
      'CvesDetails[0].CveId',
    ],
    [
      'CvesDetails a number',
      () => {
        const r = individual();
        r.properties.additionalData.CvesDetails = 5;
        return r;
      },
      'CvesDetails',
    ],
    [
      'grouped row without artifactDetails',
      () => {
        const r = grouped();
        delete r.properties.additionalData.artifactDetails;
        return r;
      },
      'artifactDetails',
    ],
    [
      'grouped digest a number',
      () => {
        const r = grouped();
        r.properties.additionalData.artifactDetails.digest = 1;
        return r;
      },
      'artifactDetails.digest',
    ],
  ])('%s is an error MALFORMED naming the field', (_label, make, field) => {
    const result = mapDefenderRows([make()], IMAGE);
    expect(result).toMatchObject({ source: 'defender', status: 'error', code: 'MALFORMED' });
    expect((result as { detail: string }).detail).toContain(field);
  });

  it('refuses an invalid image before mapping', () => {
    expect(() => mapDefenderRows([], { ...IMAGE, digest: 'latest' })).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT' }),
    );
  });
});
