/** The example trust policy shipped in policy/ (named by policy/acr-guard.yaml) is valid. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseTrustPolicyDocument, selectTrustPolicy } from '../../../../src/core/signatures';
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
