/**
 * The example trust policy shipped in policy/ (named by policy/acr-guard.yaml) is valid, and so is the cosign
 * keys file beside it (acr-guard's own format: notation's has no place for cosign keys).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  enforcesAuthenticity,
  parseCosignKeysDocument,
  parseTrustPolicyDocument,
  selectTrustPolicy,
  type TrustPolicy,
} from '../../../../src/core/signatures';
import { loadPolicy } from '../../../../src/core/policy';

test('policy/trustpolicy.json is valid and defines every trust policy policy/acr-guard.yaml names', () => {
  const root = join(__dirname, '../../../..');
  const doc = parseTrustPolicyDocument(JSON.parse(readFileSync(join(root, 'policy/trustpolicy.json'), 'utf8')));
  const gate = loadPolicy(readFileSync(join(root, 'policy/acr-guard.yaml'), 'utf8'), 'policy/acr-guard.yaml');
  for (const rule of gate.gate)
    if (rule.signatures.trustPolicy)
      expect(selectTrustPolicy(doc, '', rule.signatures.trustPolicy)?.name).toBe(rule.signatures.trustPolicy);
  expect(selectTrustPolicy(doc, 'contosoacrprod.azurecr.io/other')?.name).toBe('everything-else');
});

test('policy/cosign-keys.json adds its cosign stores to the entries it names; notation stays free of cosign stores', () => {
  const root = join(__dirname, '../../../..');
  const doc = parseTrustPolicyDocument(JSON.parse(readFileSync(join(root, 'policy/trustpolicy.json'), 'utf8')));
  expect(doc.trustPolicies.flatMap((p) => p.trustStores).filter((s) => s.type === 'cosign')).toEqual([]);
  const merged = parseCosignKeysDocument(JSON.parse(readFileSync(join(root, 'policy/cosign-keys.json'), 'utf8')), doc);
  expect(selectTrustPolicy(merged, '', 'contoso-images')?.trustStores).toContainEqual({
    type: 'cosign',
    name: 'contoso',
  });
  // Every entry that requires signatures in the example names a level that can satisfy `required: true`.
  const gate = loadPolicy(readFileSync(join(root, 'policy/acr-guard.yaml'), 'utf8'), 'policy/acr-guard.yaml');
  for (const rule of gate.gate.filter((r) => r.signatures.required && r.signatures.trustPolicy))
    expect(enforcesAuthenticity(selectTrustPolicy(doc, '', rule.signatures.trustPolicy) as TrustPolicy)).toBe(true);
  expect(enforcesAuthenticity(selectTrustPolicy(doc, 'contosoacrprod.azurecr.io/other') as TrustPolicy)).toBe(false);
});

describe('cosign-keys.json', () => {
  const doc = parseTrustPolicyDocument({
    version: '1.0',
    trustPolicies: [
      {
        name: 'acme',
        registryScopes: ['*'],
        signatureVerification: { level: 'strict' },
        trustStores: ['ca:acme', 'cosign:old'],
        trustedIdentities: ['*'],
      },
      { name: 'off', registryScopes: ['r.example/skip'], signatureVerification: { level: 'skip' } },
    ],
  });
  it('merges with the older cosign: store form without listing a store twice', () => {
    const merged = parseCosignKeysDocument(
      { version: '1.0', cosignKeys: [{ trustPolicy: 'acme', stores: ['old', 'new'] }] },
      doc,
    );
    expect(merged.trustPolicies[0].trustStores).toEqual([
      { type: 'ca', name: 'acme' },
      { type: 'cosign', name: 'old' },
      { type: 'cosign', name: 'new' },
    ]);
    expect(merged.trustPolicies[1]).toBe(doc.trustPolicies[1]);
  });
  it.each<[unknown, RegExp]>([
    [[], /cosign keys file: \$: expected a JSON object/],
    [{ version: '2', cosignKeys: [] }, /version: expected "1.0"/],
    [{ version: '1.0', cosignKeys: [], extra: 1 }, /extra: expected only "version" and "cosignKeys"/],
    [{ version: '1.0', cosignKeys: {} }, /cosignKeys: expected an array/],
    [
      { version: '1.0', cosignKeys: [{ trustPolicy: 'nope', stores: ['a'] }] },
      /cosignKeys\[0\]\.trustPolicy: expected the name of an entry of trustpolicy.json \(acme, off\)/,
    ],
    [{ version: '1.0', cosignKeys: [{ trustPolicy: 'off', stores: ['a'] }] }, /level is not skip/],
    [
      { version: '1.0', cosignKeys: [{ trustPolicy: 'acme', stores: [] }] },
      /cosignKeys\[0\]\.stores: expected a non-empty array/,
    ],
    [
      { version: '1.0', cosignKeys: [{ trustPolicy: 'acme', stores: ['../x'] }] },
      /cosignKeys\[0\]\.stores\[0\]: expected a name/,
    ],
    [
      { version: '1.0', cosignKeys: [{ trustPolicy: 'acme', stores: ['a', 'a'] }] },
      /stores\[1\]: expected each store once/,
    ],
    [
      {
        version: '1.0',
        cosignKeys: [
          { trustPolicy: 'acme', stores: ['a'] },
          { trustPolicy: 'acme', stores: ['b'] },
        ],
      },
      /cosignKeys\[1\]\.trustPolicy: expected each entry once/,
    ],
    [{ version: '1.0', cosignKeys: [{ trustPolicy: 'acme', stores: ['a'], level: 'x' }] }, /cosignKeys\[0\]\.level/],
  ])('refuses %j naming the field', (json, message) => {
    expect(() => parseCosignKeysDocument(json, doc)).toThrow(message);
  });
});
