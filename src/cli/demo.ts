/**
 * `acr-guard demo`: loopback registry, sample images, verdict table, in one shot (`npm start` runs `serve`).
 */
import { runDemoWithRegistry } from '../local/demo';
import { ExitCodes, outputFormat, parseCommandArgs } from './args';
import { renderVerdictTable } from './render';
import { plural, type Terminal } from './term';
import { demoResult } from './results';

export const DEMO_USAGE = `usage: acr-guard demo [--output json|table] [--keep-data] [-v|--verbose]
  Starts Debian's docker-registry on loopback, pushes sample images with attached vulnerability reports
  (clean, vulnerable, excepted CVE, expired exception, unparseable report, unscanned, multi-arch), gates
  each through the imageGate orchestration and prints the verdicts. Embedded defaults; nothing in Azure.
  -v, --verbose  print a reason several images share under each of them (default: once, as a numbered note)`;

/** Runs the demo; exit 0 when every sample got a verdict (blocked samples are expected). */
export async function demoCommand(
  argv: string[],
  io: { out: (s: string) => void; err: (s: string) => void; term?: Terminal },
): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    output: { type: 'string' },
    'keep-data': { type: 'boolean' },
    verbose: { type: 'boolean', short: 'v' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.out(DEMO_USAGE);
    return ExitCodes.OK;
  }
  const format = outputFormat(values.output);
  const { rows, registryHost } = await runDemoWithRegistry({
    log: (line) => io.err(line),
    keepData: values['keep-data'] === true,
  });
  if (format === 'json') {
    io.out(JSON.stringify(demoResult(registryHost, rows), null, 2));
  } else {
    io.out('');
    io.out(
      renderVerdictTable(
        rows.map((r) => ({ label: r.sample, verdict: r.verdict, apply: r.apply })),
        { details: true, verbose: values.verbose === true, term: io.term },
      ),
    );
    const released = rows.filter((r) => r.verdict.decision === 'release').length;
    io.out(`\n${plural(rows.length, 'image')} gated: ${released} released, ${rows.length - released} blocked.`);
  }
  return ExitCodes.OK;
}
