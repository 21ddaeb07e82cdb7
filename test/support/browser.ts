/**
 * Debian's headless Chromium for the page tests, driven by playwright-core: where it is, the test block that
 * needs it (skips with one line outside CI, fails under CI), and a fresh persistent context of its own.
 */
import { existsSync } from 'node:fs';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
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
export function launchChromium(profile: string, viewport: { width: number; height: number }): Promise<BrowserContext> {
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
