/**
 * `npm run bench:runtime`: classifies N running containers (default 10,000) against N recorded verdicts (in the
 * JSON-lines audit store the CLI uses, over 100 repositories) and compares it with reading those verdicts alone
 * (the batched read, the floor of any classification). Containers are pinned by digest (tag resolution is
 * network time, not classification); a tenth run from registries outside the allowlist.
 *
 *   BENCH_CONTAINERS=10000 npm run bench:runtime
 */
import { tmpdir } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadPolicy } from '../src/core/policy';
import type { ImageId, Verdict } from '../src/core/types';
import { FileAuditStore } from '../src/adapters/auditStore';
import { assessRuntime } from '../src/jobs/runtimeAssessment';
import type { RegistryClientFactory } from '../src/adapters/ports';
import { intFromEnv, machineLine, median } from './benchEnv';

const HOST = 'contoso.azurecr.io';
const REPOSITORIES = 100;

function digest(i: number): string {
  return `sha256:${i.toString(16).padStart(64, '0')}`;
}

async function main(): Promise<void> {
  const n = intFromEnv('BENCH_CONTAINERS', 10_000, 100_000);
  const policy = loadPolicy(`version: 1\nregistries: [${HOST}]\ngate:\n  - scope: "**"\n`, 'bench policy');
  const dir = mkdtempSync(join(tmpdir(), 'acr-guard-runtime-bench-'));
  try {
    console.log(machineLine());
    const audit = new FileAuditStore(dir);
    const images: ImageId[] = [];
    const now = Date.now();
    for (let i = 0; i < n; i++) {
      const image = { registry: HOST, repository: `team/app${i % REPOSITORIES}`, digest: digest(i) };
      images.push(image);
      const verdict: Verdict = {
        image,
        decision: i % 7 === 0 ? 'block' : 'release',
        summary: i % 7 === 0 ? 'blocked: CVE-2024-6119 (critical)' : 'released',
        checks:
          i % 7 === 0
            ? [
                {
                  name: 'vulnerabilities',
                  status: 'fail',
                  reason: 'CVE-2024-6119',
                  details: { blocking: [{ id: 'CVE-2024-6119', severity: 'critical' }] },
                },
              ]
            : [],
        findingCounts: i % 7 === 0 ? { critical: 1 } : {},
        rule: 'gate[0] scope "**"',
        policy: { version: 1, hash: policy.hash },
        decidedAt: new Date(now - (i % 48) * 3_600_000).toISOString(),
      };
      await audit.recordVerdict(verdict);
    }
    const containers = images.map((image, i) =>
      i % 10 === 9
        ? { image: `docker.io/library/nginx:1.${i}`, source: `aci-${i}, container main` }
        : { image: `${image.registry}/${image.repository}@${image.digest}`, source: `ca-${i}, container main` },
    );
    const noRegistry: RegistryClientFactory = () => {
      throw new Error('the benchmark resolves no tags');
    };
    const readOnly: number[] = [];
    const classify: number[] = [];
    let summary = '';
    for (let run = 0; run < 7; run++) {
      let start = performance.now();
      const read = await audit.latestVerdicts(images);
      readOnly.push(performance.now() - start);
      if (read.size !== n) throw new Error(`read ${read.size} verdicts, expected ${n}`);
      start = performance.now();
      const { classification } = await assessRuntime({
        containers,
        policy,
        registry: noRegistry,
        audit,
        graceState: {},
        nowMs: now,
      });
      classify.push(performance.now() - start);
      summary = Object.entries(classification.summary)
        .filter(([, c]) => c > 0)
        .map(([s, c]) => `${c} ${s}`)
        .join(', ');
    }
    const r = median(readOnly);
    const c = median(classify);
    const best = (xs: number[]): number => Math.min(...xs);
    console.log(
      `${n} running containers against ${n} recorded verdicts (${REPOSITORIES} repositories, JSON-lines audit store): ${summary}`,
    );
    console.log(`reading the verdicts alone (batched): median ${r.toFixed(0)} ms of 7 runs`);
    console.log(
      `classifying (plan + batched read + classify + re-gate selection): median ${c.toFixed(0)} ms of 7 runs`,
    );
    console.log(
      `ratio classify / read alone: ${(c / r).toFixed(2)} (medians); ${(best(classify) / best(readOnly)).toFixed(2)} (best runs: ${best(classify).toFixed(0)} / ${best(readOnly).toFixed(0)} ms)`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
