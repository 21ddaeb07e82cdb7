import { matchDeployedImages, normaliseDeployedReference } from '../../../../src/core/purge/inUse';
import { planPurge } from '../../../../src/core/purge/plan';
import { MediaTypes } from '../../../../src/core/types';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;

describe('normaliseDeployedReference', () => {
  it.each([
    ['nginx', { registry: 'docker.io', repository: 'library/nginx', tag: 'latest' }],
    ['nginx:1.27', { registry: 'docker.io', repository: 'library/nginx', tag: '1.27' }],
    ['index.docker.io/bitnami/redis:7', { registry: 'docker.io', repository: 'bitnami/redis', tag: '7' }],
    ['registry-1.docker.io/library/nginx@' + D1, { registry: 'docker.io', repository: 'library/nginx', digest: D1 }],
    [
      'Contoso.AzureCR.io:443/team/api:v1@' + D1,
      { registry: 'contoso.azurecr.io', repository: 'team/api', tag: 'v1', digest: D1 },
    ],
    ['127.0.0.1:5000/app:dev', { registry: '127.0.0.1:5000', repository: 'app', tag: 'dev' }],
    ['localhost/app', { registry: 'localhost', repository: 'app', tag: 'latest' }],
  ])('%s', (text, expected) => {
    expect(normaliseDeployedReference(text)).toEqual(expected);
  });

  it.each(['', 'UPPER/Case:1', 'host.io/app@sha256:xyz', 'host.io/app:bad tag', 'host.io/:v1'])(
    'rejects %j',
    (text) => {
      expect(normaliseDeployedReference(text)).toBeUndefined();
    },
  );
});

describe('matchDeployedImages', () => {
  const deployed = [
    { image: 'contoso.azurecr.io/team/api:v1', source: 'ca-web/rev-3/web' },
    { image: 'contoso.azurecr.io/team/api@' + D2, source: 'aci-jobs/worker' },
    { image: 'contoso.azurecr.io/team/api-other:v1', source: 'x/y' },
    { image: 'other.azurecr.io/team/api:v9', source: 'x/z' },
  ];

  it('keeps only references to this registry and repository', () => {
    expect(matchDeployedImages({ deployed, registry: 'CONTOSO.azurecr.io', repository: 'team/api' })).toEqual([
      { tag: 'v1', source: 'ca-web/rev-3/web' },
      { digest: D2, source: 'aci-jobs/worker' },
    ]);
  });

  it('refuses (fail closed) an unparseable reference that may name the repository', () => {
    expect(() =>
      matchDeployedImages({
        deployed: [{ image: 'contoso.azurecr.io/team/api:!!', source: 's' }],
        registry: 'contoso.azurecr.io',
        repository: 'team/api',
      }),
    ).toThrow(expect.objectContaining({ code: 'MALFORMED' }));
    expect(
      matchDeployedImages({
        deployed: [{ image: '???', source: 's' }],
        registry: 'contoso.azurecr.io',
        repository: 'team/api',
      }),
    ).toEqual([]);
  });

  it('a tag deployed protects the digest that tag points at now', () => {
    const inUse = matchDeployedImages({ deployed, registry: 'contoso.azurecr.io', repository: 'team/api' });
    const plan = planPurge({
      repository: 'team/api',
      manifests: [
        { digest: D1, tags: ['v1'], mediaType: MediaTypes.ociManifest, createdMs: 0 },
        { digest: D2, tags: [], mediaType: MediaTypes.ociManifest, createdMs: 0 },
      ],
      rule: { scope: '**', untagged: true, olderThanMs: 1000, protectInUse: true, includeLocked: false, index: 0 },
      inUse,
      nowMs: 10_000_000,
    });
    expect(plan.deletes).toEqual([]);
    expect(plan.keeps.map((k) => k.reason)).toEqual(['in-use', 'in-use']);
  });
});
