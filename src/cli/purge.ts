/**
 * `acr-guard purge --registry <host> --policy <file> [--dry-run] [--plain-http] [--output json]
 *                  [--repository <name>] [--deployed <file>] [--concurrency <n>] [--allow-over-cap]`
 *
 * Plans the retention of every repository a retention rule covers (or one), prints every manifest's fate and
 * why, and, unless `--dry-run`, deletes exactly what it printed. Exit 0 when the plan was carried out (or
 * printed), 1 when some deletes failed or a repository could not be purged, 2 for usage or configuration errors,
 * 3 when a plan was held past the deletion cap (`maxDeletes`, PURGE_CAP_EXCEEDED).
 */
import { DefaultAzureCredential } from '@azure/identity';
import { loadPolicy } from '../core/policy';
import { findRetentionRule, isRegistryAllowed } from '../core/policyLookup';
import { readBoundedTextSync } from '../adapters/boundedFile';
import { isGuardError } from '../core/errors';
import { validateRegistryHost, validateRepository } from '../core/reference';
import { isAcrHost } from '../core/acrHost';
import type { Policy, RetentionRule } from '../core/policyTypes';
import { summarisePurge, type RepositoryOutcome } from '../core/purge/summary';
import { purgeResultOf } from '../core/result';
import type { DeployedImage, InUseLookup } from '../adapters/ports';
import { allowlistedRegistryFactory } from '../app/compose';
import { isLoopbackHost } from '../core/loopback';
import { purgeRepository, repositoriesToPurge, type PurgeRepositoryResult } from '../jobs/purge';
import { ExitCodes, UsageError, outputFormat, parseCommandArgs, readPolicyFile } from './args';
import { PLAIN, colorsOf, plural, renderTable, type Terminal } from './term';
import { printFailureHints } from './hints';

export const PURGE_USAGE = `usage: acr-guard purge --registry <host> --policy <file> [--dry-run] [--plain-http]
                        [--output json|table] [--repository <name>] [--deployed <file>] [--concurrency <n>]
                        [--allow-over-cap]
  Applies the policy's retention rules: every manifest is kept or deleted, with the reason.
  --dry-run            print the plan; delete nothing (a real run deletes exactly what the dry run prints)
  --repository <name>  only this repository (default: every repository a retention rule covers)
  --deployed <file>    JSON list of deployed images [{"image": "<host>/<repo>:<tag>|@<digest>", "source": "…"}];
                       needed when a rule protects images in use (protectInUse, the default), unless
                       ACR_GUARD_INUSE_SCOPES names the Container Apps / Container Instances scopes to ask ARM
  --concurrency <n>    most deletes in flight, 1-32 (default 32; adapts down on 429)
  --allow-over-cap     carry out plans past their rule's deletion cap (maxDeletes, default 25% of a repository's
                       tagged manifests); without it such a repository is held (nothing of it deleted), exit 3
  --plain-http         talk http to a loopback registry (127.0.0.0/8, localhost, [::1] only)
  exit codes: 0 plan carried out (or printed), 1 some deletes failed, 2 usage or configuration error, 3 a plan was held`;

/** What the command needs from outside (tests pass their own; the in-use lookup is optional). */
export interface PurgeIo {
  out: (s: string) => void;
  err: (s: string) => void;
  /** Progress on a terminal (stderr, rewritten in place); absent when not a TTY. */
  progress?: (s: string) => void;
  /** Deployed-image lookup (Container Apps / ACI) when configured; `--deployed` takes precedence. */
  inUse?: InUseLookup;
  /** Epoch ms "now"; default the clock. */
  now?: () => number;
  /** Colour and width of stdout (default: plain, as piped). */
  term?: Terminal;
}

/** Most bytes of a `--deployed` file (a JSON list of image references). */
export const MAX_DEPLOYED_FILE_BYTES = 4 * 1024 * 1024;

/** Reads a `--deployed` file: a JSON list of `{"image", "source"}` (shared with `acr-guard runtime`). */
export function readDeployed(path: string): DeployedImage[] {
  let value: unknown;
  try {
    value = JSON.parse(
      readBoundedTextSync(path, {
        maxBytes: MAX_DEPLOYED_FILE_BYTES,
        field: '--deployed',
        what: 'deployed-images file',
      }),
    );
  } catch (err) {
    if (err instanceof UsageError || isGuardError(err)) throw err;
    throw new UsageError(`--deployed: ${path} is not JSON`);
  }
  if (!Array.isArray(value)) throw new UsageError(`--deployed: expected a JSON list of {"image", "source"} in ${path}`);
  return value.map((item, i) => {
    const v = item as { image?: unknown; source?: unknown } | null;
    if (!v || typeof v.image !== 'string' || (v.source !== undefined && typeof v.source !== 'string'))
      throw new UsageError(`--deployed: [${i}] expected {"image": "<reference>", "source": "<where>"} in ${path}`);
    return { image: v.image, source: typeof v.source === 'string' ? v.source : path };
  });
}

function concurrency(value: string | boolean | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== 'string' || !Number.isInteger(n) || n < 1 || n > 32)
    throw new UsageError(`--concurrency: expected a whole number 1-32, got ${JSON.stringify(value)}`);
  return n;
}

/** Runs the `purge` command; returns the exit code. */
export async function purgeCommand(argv: string[], io: PurgeIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    registry: { type: 'string' },
    policy: { type: 'string' },
    'dry-run': { type: 'boolean' },
    'plain-http': { type: 'boolean' },
    output: { type: 'string' },
    repository: { type: 'string' },
    deployed: { type: 'string' },
    concurrency: { type: 'string' },
    'allow-over-cap': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.out(PURGE_USAGE);
    return ExitCodes.OK;
  }
  if (positionals.length > 0)
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}\n${PURGE_USAGE}`);
  if (typeof values.registry !== 'string') throw new UsageError(`--registry <host> is required\n${PURGE_USAGE}`);
  if (typeof values.policy !== 'string') throw new UsageError(`--policy <file> is required\n${PURGE_USAGE}`);
  const format = outputFormat(values.output);
  const host = validateRegistryHost(values.registry, '--registry');
  const policy: Policy = loadPolicy(readPolicyFile(values.policy), values.policy);
  if (!isRegistryAllowed(policy, host))
    throw new UsageError(
      `registry ${host} is not in the policy's registries allowlist (${values.policy}); no request was made`,
    );
  const plainHttp = values['plain-http'] === true;
  if (plainHttp && !isLoopbackHost(host))
    throw new UsageError(
      `--plain-http is allowed only for loopback registries (127.0.0.0/8, localhost, [::1]), not ${host}`,
    );
  const dryRun = values['dry-run'] === true;
  const maxConcurrency = concurrency(values.concurrency);
  const deployed = typeof values.deployed === 'string' ? readDeployed(values.deployed) : undefined;
  const only =
    typeof values.repository === 'string' ? validateRepository(values.repository, '--repository') : undefined;

  const client = allowlistedRegistryFactory({
    policy: () => policy,
    credential: isAcrHost(host) ? new DefaultAzureCredential() : undefined,
    plainHttpHosts: plainHttp ? [host] : [],
  })(host);
  let targets: Array<{ repository: string; rule: RetentionRule }>;
  if (only) {
    const rule = findRetentionRule(policy, only);
    targets = rule ? [{ repository: only, rule }] : [];
    if (!rule) io.err(`no retention rule of ${values.policy} covers ${only}; nothing to purge`);
  } else {
    targets = await repositoriesToPurge(client, policy);
  }
  if (!deployed && !io.inUse && targets.some((t) => t.rule.protectInUse)) {
    throw new UsageError(
      'a retention rule protects images in use (protectInUse), but no deployed-image list was given: pass --deployed <file> ' +
        '(e.g. from `az containerapp list` and `az container list`), or set protectInUse: false on the rule. Nothing was deleted',
    );
  }

  // One lookup for the whole run: every repository is planned against the same answer.
  let shared: readonly DeployedImage[] | undefined = deployed;
  let lookupError: Error | undefined;
  if (!shared && io.inUse && targets.some((t) => t.rule.protectInUse)) {
    try {
      shared = await io.inUse.listDeployedImages();
    } catch (err) {
      lookupError = err as Error;
    }
  }
  const failing: InUseLookup | undefined = lookupError
    ? { listDeployedImages: () => Promise.reject(lookupError) }
    : undefined;

  const startedAt = new Date(io.now?.() ?? Date.now()).toISOString();
  const results: Array<PurgeRepositoryResult & { repository: string }> = [];
  for (const [i, t] of targets.entries()) {
    const label = `${i + 1}/${targets.length} ${t.repository}`;
    io.progress?.(`${label}: listing and planning…`);
    const result = await purgeRepository({
      client,
      repository: t.repository,
      rule: t.rule,
      ...(failing ? { inUse: failing } : shared ? { deployed: shared } : {}),
      nowMs: io.now?.() ?? Date.now(),
      dryRun,
      allowOverCap: values['allow-over-cap'] === true,
      listing: { onProgress: (found) => io.progress?.(`${label}: ${found} manifests found`) },
      execute: {
        ...(maxConcurrency ? { maxConcurrency, initialConcurrency: Math.min(8, maxConcurrency) } : {}),
        onProgress: ({ done, total, concurrency: c }) =>
          io.progress?.(`${label}: deleted ${done}/${total} (${c} in flight)`),
      },
    });
    results.push({ ...result, repository: t.repository });
  }
  io.progress?.('');
  const summary = summarisePurge({
    registry: host,
    trigger: 'cli',
    dryRun,
    startedAt,
    finishedAt: new Date(io.now?.() ?? Date.now()).toISOString(),
    outcomes: results.map((r) => r.outcome),
  });

  const result = purgeResultOf([summary], purgeJson(results, summary, dryRun));
  if (format === 'json') io.out(JSON.stringify(result, null, 2));
  else {
    io.out(purgeTable(results, summary.outcomes, dryRun, io.term));
    // A repository that could not be listed or looked up is reported in the result, not thrown: same hints.
    printFailureHints(
      io,
      results.map((r) => r.outcome.error),
      argv,
    );
  }
  // Deletes that failed or a repository not purged: 1; a plan held past its cap (nothing of it deleted): 3.
  return result.exitCode;
}

/**
 * The purge's `data`: the run's totals (`deleted`, `failed`, … numbers), `repositories` (always the list of
 * per-repository outcomes), and the manifests by fate: `deletedManifests`, `keptManifests`, `failedManifests`,
 * `heldManifests` (each with repository, digest, tags, reason or code, and detail).
 */
export function purgeJson(
  results: ReadonlyArray<PurgeRepositoryResult & { repository: string }>,
  summary: ReturnType<typeof summarisePurge>,
  dryRun: boolean,
): Record<string, unknown> {
  const entry = (
    repository: string,
    e: { digest: string; tags: string[]; reason?: string; detail: string },
  ): Record<string, unknown> => ({ repository, digest: e.digest, tags: e.tags, reason: e.reason, detail: e.detail });
  const deleted: Array<Record<string, unknown>> = [];
  const kept: Array<Record<string, unknown>> = [];
  const failed: Array<Record<string, unknown>> = [];
  // Plans past the deletion cap: what they would delete (nothing of them was, unless allowed).
  const held: Array<Record<string, unknown>> = [];
  for (const r of results) {
    for (const k of r.plan?.keeps ?? []) kept.push(entry(r.repository, k));
    if (r.cap?.held) for (const d of r.plan?.deletes ?? []) held.push(entry(r.repository, d));
    if (dryRun || !r.execution) {
      if (dryRun) for (const d of r.plan?.deletes ?? []) deleted.push(entry(r.repository, d));
      continue;
    }
    for (const d of [...r.execution.deleted, ...r.execution.alreadyGone]) deleted.push(entry(r.repository, d));
    for (const f of [...r.execution.failed, ...r.execution.notAttempted])
      failed.push({ repository: r.repository, digest: f.digest, tags: f.tags, code: f.code, detail: f.detail });
  }
  const { outcomes, ...totals } = summary;
  return {
    ...totals,
    repositories: outcomes,
    deletedManifests: deleted,
    keptManifests: kept,
    failedManifests: failed,
    heldManifests: held,
  };
}

/**
 * A tag as a person scans it: cosign's `sha256-<64 hex>.sig|.att|.sbom` tags (71+ characters) shortened to their
 * first 12 hex digits, so they do not push every other column out of line.
 */
export function displayTag(tag: string): string {
  const m = /^sha256-([0-9a-f]{12})[0-9a-f]{52}(\..+)?$/.exec(tag);
  return m ? `sha256-${m[1]}…${m[2] ?? ''}` : tag;
}

/** One table per repository (ACTION, DIGEST, TAGS, REASON): fitted to a terminal, aligned when piped. */
function purgeTable(
  results: ReadonlyArray<PurgeRepositoryResult & { repository: string }>,
  outcomes: readonly RepositoryOutcome[],
  dryRun: boolean,
  term: Terminal = PLAIN,
): string {
  const c = colorsOf(term);
  const lines: string[] = [];
  const short = (d: string): string => d.slice(0, 19);
  const tags = (t: readonly string[]): string => t.map(displayTag).join(', ') || '<untagged>';
  for (const r of results) {
    const o = outcomes.find((x) => x.repository === r.repository) as RepositoryOutcome;
    lines.push(
      `${c.bold(r.repository)}  (${o.rule}): ${o.status}${o.error ? ` — ${o.error.code}: ${o.error.detail}` : ''}`,
    );
    const failed = new Set([...(r.execution?.failed ?? []), ...(r.execution?.notAttempted ?? [])].map((f) => f.digest));
    const rows: string[][] = [];
    for (const d of r.plan?.deletes ?? []) {
      const action = dryRun
        ? r.cap?.held
          ? 'held: would delete'
          : 'would delete'
        : r.cap?.held
          ? 'HELD, kept'
          : failed.has(d.digest)
            ? c.red('NOT deleted')
            : c.yellow('deleted');
      rows.push([action, short(d.digest), tags(d.tags), `${d.reason}: ${d.detail}`]);
    }
    for (const k of r.plan?.keeps ?? [])
      rows.push([c.green('keep'), short(k.digest), tags(k.tags), `${k.reason}: ${k.detail}`]);
    if (rows.length > 0)
      lines.push(
        renderTable(['ACTION', 'DIGEST', 'TAGS', 'REASON'], rows, term, { shrinkFirst: [3, 2] })
          .split('\n')
          .map((l) => (term.columns ? l : `  ${l}`))
          .join('\n'),
      );
  }
  const total = outcomes.reduce((n, o) => n + o.deleted, 0);
  lines.push(
    `${dryRun ? 'dry run: would delete' : 'deleted'} ${plural(total, 'manifest')} in ${plural(outcomes.length, 'repository', 'repositories')}`,
  );
  return lines.join('\n');
}
