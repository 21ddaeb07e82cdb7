/** Runs the acr-guard CLI in-process, capturing what it prints and its exit code. */
import { main } from '../../src/cli/main';

/** `main(argv)` with stdout and stderr captured. */
export async function runCli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => (out += `${s}\n`), err: (s) => (err += `${s}\n`) });
  return { code, out, err };
}
