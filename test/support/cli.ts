/**
 * Runs the acr-guard CLI in-process, capturing what it prints and its exit code; the promote policy and the
 * DeployResult envelope reader the deploy tests share.
 */
import { main } from '../../src/cli/main';

/** `main(argv)` with stdout and stderr captured. */
export async function runCli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => (out += `${s}\n`), err: (s) => (err += `${s}\n`) });
  return { code, out, err };
}

/**
 * A policy (YAML) for the registry `host`, promote mode: `app/**` is gated on its attached reports (a `block`
 * finding blocks; signatures not required) and a release is copied into `release/{repository}`.
 */
export function promotePolicyYaml(host: string, block = 'critical, high'): string {
  return `version: 1
registries: [{ host: "${host}", apply: promote }]
gate:
  - scope: "app/**"
    vulnerabilities: { block: [${block}], maxReportAge: 7d, sources: [reports], scanDeadline: 0s }
    signatures: { required: false }
    promote: { repository: "release/{repository}" }
`;
}

/**
 * The deploy's own fields (`data`) of the DeployResult envelope `deploy --output json` printed, after checking the
 * envelope: its kind, the exit code it reports (`code`), and the decision also at the top. Undefined when the
 * command printed nothing.
 */
export function deployResultData(out: string, code: number): any {
  if (!out) return undefined;
  const result = JSON.parse(out);
  expect(result).toMatchObject({ apiVersion: 'acr-guard.io/v1', kind: 'DeployResult', exitCode: code });
  expect(result.decision).toBe(result.data.decision);
  return result.data;
}
