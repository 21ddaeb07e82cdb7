/**
 * Debian's headless Chromium for the page tests, driven by playwright-core: where it is, the test block that
 * needs it (skips with one line outside CI, fails under CI), a fresh persistent context of its own, and the local
 * stack with a chromium for a test file.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startLocalStack, type LocalStack } from '../../src/local/stack';
import { describeRequiring } from './required';

/** Debian's chromium (scripts/ensure-tools.sh installs it when run as root). */
export const CHROMIUM = '/usr/bin/chromium';

/** `describe` for a block that needs chromium. */
export const describeWithChromium = describeRequiring({
  present: existsSync(CHROMIUM),
  what: CHROMIUM,
  how: "scripts/ensure-tools.sh installs Debian's chromium when run as root",
});

/** A headless chromium with a fresh `--user-data-dir` (`profile`): a persistent context is how playwright takes one. */
function launchChromium(profile: string, viewport: { width: number; height: number }): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    chromiumSandbox: false,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport,
  });
}

/** Whether the page scrolls sideways at the current width (document.documentElement.scrollWidth > innerWidth). */
export async function horizontalOverflow(page: Page): Promise<{ scrollWidth: number; overflow: boolean }> {
  return page.evaluate(() => {
    const doc = (globalThis as any).document.documentElement as { scrollWidth: number };
    const inner = (globalThis as any).innerWidth as number;
    return { scrollWidth: doc.scrollWidth, overflow: doc.scrollWidth > inner };
  });
}

/** What {@link useStackInChromium} gives a test file; read its fields inside tests (they are set in `beforeAll`). */
export interface StackInChromium {
  /** The local stack (loopback registry and service). */
  readonly stack: LocalStack;
  /** The stack's state directory. */
  readonly stateDir: string;
  /** A headless chromium of its own. */
  readonly browser: BrowserContext;
}

/**
 * Jest helper for the page tests: `beforeAll` starts the local stack (`npm start`'s, on free ports, in a fresh
 * state directory named after `prefix`; unseeded unless `seed`) and a headless chromium at `viewport`;
 * `afterAll` closes both and removes their directories. Call it inside the `describeWithChromium` block.
 */
export function useStackInChromium(options: {
  prefix: string;
  viewport: { width: number; height: number };
  seed?: boolean;
}): StackInChromium {
  let stack: LocalStack | undefined;
  let stateDir: string | undefined;
  let profile: string | undefined;
  let browser: BrowserContext | undefined;
  const started = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`useStackInChromium: the ${what} is started in beforeAll`);
    return value;
  };
  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), options.prefix));
    profile = mkdtempSync(join(tmpdir(), 'acr-guard-chromium-'));
    stack = await startLocalStack({
      stateDir,
      port: 0,
      registryPort: 0,
      ...(options.seed ? {} : { seed: false }),
      env: {},
    });
    browser = await launchChromium(profile, options.viewport);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
    if (profile) rmSync(profile, { recursive: true, force: true });
  });
  return {
    get stack() {
      return started(stack, 'stack');
    },
    get stateDir() {
      return started(stateDir, 'state directory');
    },
    get browser() {
      return started(browser, 'browser');
    },
  };
}
