/**
 * The page's Running section in a real headless Chromium (Debian's `chromium`, driven by playwright-core): the
 * stack `npm start` runs seeds the demo images and the demo's deployed list, runs the real `runtimeReconcile`, and
 * the page shows workload → image → status for every runtime status, with the reason and the grace left.
 * In CI (CI=true) the test runs or fails; elsewhere it skips with one line when chromium is absent.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { RUNTIME_STATUSES } from '../../src/core/runtime/classify';

import { describeWithChromium as maybe, useStackInChromium } from '../support/browser';

const ARTIFACTS = join(__dirname, '../../test-artifacts');

maybe("the page's Running section in headless Chromium", () => {
  const fixture = useStackInChromium({
    prefix: 'acr-guard-page-running-',
    viewport: { width: 1400, height: 900 },
    seed: true,
  });

  it('shows every runtime status of the seeded deployed list, with reasons and grace', async () => {
    const { stack, browser } = fixture;
    await stack.seeded;
    const res = await fetch(`${stack.service.url}/api/runtime`);
    expect(res.status).toBe(200);
    const report = (await res.json()) as { images: Array<{ status: string }> };
    expect(new Set(report.images.map((i) => i.status))).toEqual(new Set(RUNTIME_STATUSES));

    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`${stack.service.url}/`);
    for (const status of RUNTIME_STATUSES)
      await page.locator(`#running [data-runtime-status="${status}"]`).first().waitFor({ timeout: 15_000 });
    const blocked = page.locator('#running tr[data-status="blocked"]').first();
    expect(await blocked.innerText()).toMatch(
      /containerApps\/checkout[\s\S]*demo\/vulnerable:1\.0[\s\S]*grace left: [23]d/,
    );
    expect(await page.locator('#running tr[data-status="overdue"]').first().innerText()).toContain('grace ended');
    expect(await page.locator('#running tr[data-status="outside-allowlist"]').first().innerText()).toContain(
      'docker.io/library/nginx:latest',
    );
    expect(await page.locator('#running tr[data-status="released"]').first().innerText()).not.toContain(
      'pin by digest',
    );
    expect(await page.locator('#running-meta').innerText()).toContain('demo deployed list');

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'local-service-running.png'), fullPage: true });
    expect(errors).toEqual([]);
  }, 90_000);
});
