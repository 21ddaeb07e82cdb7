// Cold start of the Functions bundle: how long `node` takes to load dist/src/functions/index.js (every
// registration included) against a bare `node -e ""`, both measured in the same run, alternating, median of
// BENCH_RUNS runs each (default 21). Run through `npm run bench:coldstart`, which builds first.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const bundle = join(root, 'dist/src/functions/index.js');
const stub = join(root, 'bench/functionsCoreStub.cjs');
const runsText = process.env.BENCH_RUNS ?? '21';
const runs = Number(runsText);
if (!Number.isInteger(runs) || runs < 1 || runs > 1000)
  throw new Error(`BENCH_RUNS: expected an integer 1..1000, got ${JSON.stringify(runsText)}`);
if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run npm run build (npm run bench:coldstart does)`);

/** Wall time of one `node <args>` in milliseconds; throws with the child's stderr when it fails. */
function timeNode(args, env) {
  const start = process.hrtime.bigint();
  const child = spawnSync(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (child.status !== 0) throw new Error(`node ${args.join(' ')} exited ${child.status}: ${child.stderr}`);
  return { ms, stdout: child.stdout };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const loadArgs = ['-r', stub, '-e', `require(${JSON.stringify(bundle)})`];
// One warm-up of each (file system cache), then alternate so both see the same machine load.
timeNode(['-e', '']);
const { stdout } = timeNode(loadArgs, { ACR_GUARD_PRINT_REGISTRATIONS: '1' });
const registered = JSON.parse(stdout);
const bare = [];
const load = [];
for (let i = 0; i < runs; i++) {
  bare.push(timeNode(['-e', '']).ms);
  load.push(timeNode(loadArgs).ms);
}
const cpu = cpus();
console.log(
  `machine: ${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown'}), node ${process.version}, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
console.log(`bundle: ${bundle} registers ${registered.length} functions`);
console.log(
  `bare node -e "":          median ${median(bare).toFixed(1)} ms of ${runs} runs (min ${Math.min(...bare).toFixed(1)})`,
);
console.log(
  `load the Functions bundle: median ${median(load).toFixed(1)} ms of ${runs} runs (min ${Math.min(...load).toFixed(1)})`,
);
console.log(`ratio: ${(median(load) / median(bare)).toFixed(2)}x (target: at most 3x)`);
