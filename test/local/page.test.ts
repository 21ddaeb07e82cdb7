/**
 * The local service's page in a real headless Chromium (Debian's `chromium`, driven by playwright-core):
 * an image pushed to the loopback registry appears with its verdict, failed check, signature badge and every
 * finding (below the block threshold too) in its findings table; the filters and search narrow it; a click on
 * its rescan button brings a new verdict. Screenshots at 1280 px and 390 px go to test-artifacts/ (git-ignored),
 * and neither width scrolls sideways.
 * In CI (CI=true) the test runs or fails; elsewhere it skips with one line when chromium is absent.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describeWithChromium as maybe, horizontalOverflow, useStackInChromium } from '../support/browser';
import { pushVulnerable } from '../support/pushSamples';

const ARTIFACTS = join(__dirname, '../../test-artifacts');

maybe('local service page in headless Chromium', () => {
  const fixture = useStackInChromium({ prefix: 'acr-guard-page-', viewport: { width: 1400, height: 800 } });

  it('shows a pushed image with its verdict, failed check and findings; a rescan brings a new verdict', async () => {
    const { stack, browser } = fixture;
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`${stack.service.url}/`);
    await page.waitForSelector('#empty:not([hidden])');

    const image = await pushVulnerable(stack.registry.host, 'demo/web', '1');
    const row = page.locator(`article[data-image="${image.registry}/${image.repository}@${image.digest}"]`);
    await row.locator('[data-verdict="block"]').waitFor({ timeout: 20_000 });
    await expectText(row.locator('ul.checks'), 'CVE-2024-6119');
    await expectText(row.locator('[data-severity="critical"]'), 'critical 1');
    await expectText(row.locator('[data-severity="low"]'), 'low 1');
    await expectText(row.locator('[data-signature]'), 'audit only');
    // The findings table lists every finding, the one below the block threshold too, in Trivy's columns.
    await row.locator('details.findings-box > summary').click();
    const critical = row.locator('tr[data-finding="CVE-2024-6119"]');
    await expectText(critical.locator('td[data-label="Library"]'), 'openssl');
    await expectText(critical.locator('td[data-label="Installed"]'), '3.0.13');
    await expectText(critical.locator('td[data-label="Fixed"]'), '3.0.14');
    await expectText(critical.locator('td[data-label="Status"]'), 'blocking');
    await expectText(critical.locator('td[data-label="Source"]'), 'sarif:sha256:');
    await expectText(row.locator('tr[data-finding="CVE-2011-3374"] td[data-label="Status"]'), 'below threshold');
    await expectText(row.locator('[data-slot="release-carries"]'), 'What this release carries');
    await expectText(row.locator('a[data-action="verdict-json"]'), 'verdict JSON');
    expect(await row.locator('time').first().innerText()).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    // Filters: severity "high or worse" keeps the image but hides the low finding; a search for another CVE
    // hides the image; clearing brings both back.
    await page.selectOption('#f-severity', 'high');
    await row.locator('tr[data-finding="CVE-2011-3374"]').waitFor({ state: 'detached' });
    expect(await row.locator('tr[data-finding="CVE-2024-6119"]').count()).toBe(1);
    await page.selectOption('#f-severity', '');
    await page.fill('#f-search', 'CVE-1999-0001');
    await row.waitFor({ state: 'detached' });
    await page.fill('#f-search', 'openssl');
    await row.waitFor();
    expect(await row.locator('tr[data-finding]').count()).toBe(1);
    await page.fill('#f-search', '');
    await page.selectOption('#f-decision', 'release');
    await row.waitFor({ state: 'detached' });
    await page.selectOption('#f-decision', '');
    await row.waitFor();

    const firstDecidedAt = await row.getAttribute('data-decided-at');
    expect(firstDecidedAt).toMatch(/^\d{4}-/);
    await expectText(page.locator('#purge'), 'no purge yet');

    await row.locator('button[data-action="rescan"]').click();
    await page.waitForFunction(
      ({ selector, before }) => {
        // Runs in the page; the test's TypeScript has no DOM types.
        const tr = (globalThis as any).document.querySelector(selector) as {
          getAttribute(n: string): string | null;
          querySelector(s: string): unknown;
        } | null;
        return (
          tr !== null &&
          tr.getAttribute('data-decided-at') !== before &&
          tr.querySelector('[data-verdict="block"]') !== null
        );
      },
      {
        selector: `article[data-image="${image.registry}/${image.repository}@${image.digest}"]`,
        before: firstDecidedAt,
      },
      { timeout: 20_000 },
    );
    expect(Date.parse(String(await row.getAttribute('data-decided-at')))).toBeGreaterThan(
      Date.parse(String(firstDecidedAt)),
    );
    await expectText(row, 'rescan');

    // Retention preview: the real registryPurge runs as a dry run and its summary replaces "no purge yet".
    await page.locator('#purge-preview').click();
    await page.waitForFunction(
      () => /^dry run of /.test(String((globalThis as any).document.getElementById('purge').textContent)),
      undefined,
      { timeout: 20_000 },
    );
    await expectText(page.locator('#purge'), 'would be deleted');
    await expectText(page.locator('#purge'), 'kept: ');

    mkdirSync(ARTIFACTS, { recursive: true });
    await row.locator('details.findings-box[open]').waitFor();
    for (const width of [1280, 390]) {
      await page.setViewportSize({ width, height: 900 });
      await page.waitForTimeout(200);
      expect(await horizontalOverflow(page)).toEqual({ scrollWidth: expect.any(Number), overflow: false });
      await page.screenshot({ path: join(ARTIFACTS, `local-service-page-${width}.png`), fullPage: true });
    }
    expect(errors).toEqual([]);
  }, 60_000);
});

async function expectText(locator: import('playwright-core').Locator, text: string): Promise<void> {
  await locator.first().waitFor({ timeout: 10_000 });
  expect(await locator.first().innerText()).toContain(text);
}
