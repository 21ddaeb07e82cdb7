/**
 * The verdicts page hosted by the Functions app: the HTTP functions src/functions/index.ts registers, driven
 * through a stand-in of the host's HTTP side (test/support/functionsHttp.ts) behind an Easy Auth stand-in that
 * signs users in with chosen app roles, in a real headless Chromium. The app reads the verdicts the local service
 * recorded (ACR_GUARD_AUDIT_DIR), so both pages must show the same rows. Screenshots at 1280 px and 390 px go to
 * test-artifacts/, and neither width scrolls sideways.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import type { ImageId } from '../../src/core/types';
import { AppRoles } from '../../src/app/http';
import { createRegistryClient } from '../../src/adapters/registry';
import { pushIndex } from '../../src/local/ociPush';
import type { LocalStack } from '../../src/local/stack';
import { describeWithChromium as maybe, horizontalOverflow, useStackInChromium } from '../support/browser';
import { registeredFunctions } from '../support/functionsCore';
import { pushVulnerable } from '../support/pushSamples';
import {
  easyAuthPrincipal,
  startEasyAuthStandIn,
  startFunctionsHttp,
  type EasyAuthStandIn,
  type FunctionsHttp,
} from '../support/functionsHttp';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- jest.mock factories cannot use imports
jest.mock('@azure/functions-core', () => require('../support/functionsCore').recordingFunctionsCore(), {
  virtual: true,
});

const ARTIFACTS = join(__dirname, '../../test-artifacts');
const USERS = {
  reader: [AppRoles.read],
  operator: [AppRoles.read, AppRoles.rescan],
  stranger: [] as string[],
};

/** A two-platform index over a vulnerable amd64 image and another arm64 one, each with its report. */
async function pushMultiPlatform(host: string, repository: string): Promise<ImageId> {
  const client = createRegistryClient({ host, plainHttp: true });
  const amd64 = await pushVulnerable(host, repository, 'amd64');
  const arm64 = await pushVulnerable(host, repository, 'arm64');
  const descriptor = async (digest: string, architecture: string) => {
    const m = await client.getManifest(repository, digest);
    return { mediaType: m.mediaType, digest: m.digest, size: m.size, platform: { os: 'linux', architecture } };
  };
  const index = await pushIndex(client, repository, {
    tag: '3',
    manifests: [await descriptor(amd64.digest, 'amd64'), await descriptor(arm64.digest, 'arm64')],
  });
  return { registry: host, repository, digest: index.digest };
}

/** The rows a page shows: image and decision, in page order. */
async function rows(page: Page): Promise<string[]> {
  return page.$$eval('article[data-image]', (nodes) =>
    nodes.map((n: any) => `${n.getAttribute('data-image')} ${n.getAttribute('data-decision')}`),
  );
}

maybe('the verdicts page in the Functions app, behind Easy Auth', () => {
  const fixture = useStackInChromium({ prefix: 'acr-guard-azpage-', viewport: { width: 1280, height: 900 } });
  let stack: LocalStack;
  let browser: BrowserContext;
  let functions: FunctionsHttp;
  let easyAuth: EasyAuthStandIn;
  const images: ImageId[] = [];
  const saved = { ...process.env };

  beforeAll(async () => {
    ({ stack, browser } = fixture);
    images.push(await pushVulnerable(stack.registry.host, 'demo/web', '1'));
    images.push(await pushVulnerable(stack.registry.host, 'team/api', '2'));
    images.push(await pushMultiPlatform(stack.registry.host, 'demo/multi'));
    // The app's settings: the verdicts the local service records, the same registry allowlisted, Easy Auth on.
    process.env.WEBSITE_AUTH_ENABLED = 'True';
    process.env.ACR_GUARD_AUDIT_DIR = join(fixture.stateDir, 'audit');
    process.env.ACR_GUARD_POLICY = `version: 1\nregistries: ["${stack.registry.host}"]\ngate: []\n`;
    process.env.ACR_GUARD_PLAIN_HTTP_REGISTRIES = stack.registry.host;
    await jest.isolateModulesAsync(async () => {
      await import('../../src/functions/index');
    });
    functions = await startFunctionsHttp(registeredFunctions(), { functionKey: 'test-function-key' });
    easyAuth = await startEasyAuthStandIn(functions.url, USERS);
  }, 90_000);
  afterAll(async () => {
    process.env = saved;
    await easyAuth?.stop();
    await functions?.stop();
  });

  it('registers the page routes anonymous at the Functions level (Easy Auth and the app roles guard them)', () => {
    const ui = registeredFunctions().filter((f) => f.name.startsWith('ui'));
    const levels = Object.fromEntries(
      ui.map((f) => [f.name, Object.values(f.bindings).find((b) => b.type === 'httpTrigger')?.authLevel]),
    );
    expect(levels).toEqual({
      uiPage: 'anonymous',
      uiImages: 'anonymous',
      uiRescan: 'anonymous',
      uiRescanStatus: 'anonymous',
      uiVerdicts: 'anonymous',
      uiRuntime: 'anonymous',
    });
  });

  it('a reader signs in and sees the same rows as the local page, read-only, at 1280 and 390 px', async () => {
    const local = await browser.newPage();
    await local.goto(`${stack.service.url}/`);
    for (const image of images)
      await local
        .locator(`article[data-image="${image.registry}/${image.repository}@${image.digest}"][data-decision="block"]`)
        .waitFor({ timeout: 30_000 });
    // A multi-platform push also gates each platform manifest on its own: wait until no row is still pending,
    // so both pages are compared on decided rows only.
    const settled = Date.now() + 30_000;
    while ((await rows(local)).some((r) => r.endsWith(' pending')) && Date.now() < settled)
      await local.waitForTimeout(200);
    const localRows = await rows(local);
    await local.close();

    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(easyAuth.loginUrl('reader', '/api/ui/'));
    await page.waitForSelector('article[data-image]');
    expect(await page.locator('#host').innerText()).toContain('Azure');
    expect((await rows(page)).sort()).toEqual([...localRows].sort());
    expect(localRows.length).toBeGreaterThanOrEqual(3);
    // The index row nests its two platform manifests, each with the checks that stop it.
    const index = page.locator(
      `article[data-image="${images[2].registry}/${images[2].repository}@${images[2].digest}"]`,
    );
    expect(await index.locator('ul.children > li').count()).toBe(2);
    expect(await index.locator('ul.children .platform').allInnerTexts()).toEqual(['linux/amd64', 'linux/arm64']);
    // Read-only: no rescan button and no purge for a reader.
    expect(await page.locator('button[data-action="rescan"]').count()).toBe(0);
    expect(await page.locator('#purge-section').isVisible()).toBe(false);
    expect(await page.locator('#status').innerText()).toContain('signed in as reader@contoso.com');

    // The findings table and the verdict JSON behind the link, through the same sign-in.
    const row = page.locator(`article[data-image="${images[0].registry}/${images[0].repository}@${images[0].digest}"]`);
    await row.locator('details.findings-box > summary').click();
    await row.locator('tr[data-finding="CVE-2011-3374"]').waitFor();
    const href = (await row.locator('a[data-action="verdict-json"]').getAttribute('href')) as string;
    expect(href.startsWith('/api/ui/verdicts/')).toBe(true);
    const verdict = (await page.evaluate(async (u) => (await fetch(u)).json(), href)) as any;
    const vuln = verdict.checks.find((c: { name: string }) => c.name === 'vulnerabilities');
    expect(vuln.details.findings.map((f: { id: string }) => f.id)).toEqual(['CVE-2024-6119', 'CVE-2011-3374']);

    mkdirSync(ARTIFACTS, { recursive: true });
    for (const width of [1280, 390]) {
      await page.setViewportSize({ width, height: 900 });
      await page.waitForTimeout(200);
      expect((await horizontalOverflow(page)).overflow).toBe(false);
      await page.screenshot({ path: join(ARTIFACTS, `functions-page-${width}.png`), fullPage: true });
    }
    expect(errors).toEqual([]);
    await page.close();
  }, 90_000);

  it('a caller with Rescan.Request gets the rescan button', async () => {
    const page = await browser.newPage();
    await page.goto(easyAuth.loginUrl('operator', '/api/ui/'));
    await page.locator('button[data-action="rescan"]').first().waitFor();
    expect(await page.locator('button[data-action="rescan"]').count()).toBe(
      await page.locator('article[data-image]').count(),
    );
    await page.close();
  }, 60_000);

  it('a signed-in caller without the role gets the 403 page, and its API calls 403', async () => {
    const page = await browser.newPage();
    const answer = await page.goto(easyAuth.loginUrl('stranger', '/api/ui/'));
    expect(answer?.status()).toBe(403);
    expect(await page.locator('#refusal[data-status="403"]').innerText()).toContain('Verdicts.Read');
    expect(await page.locator('article[data-image]').count()).toBe(0);
    const images403 = await page.evaluate(async () => {
      const res = await fetch('/api/ui/images');
      return { status: res.status, body: await res.json() };
    });
    expect(images403).toMatchObject({
      status: 403,
      body: { error: { code: 'FORBIDDEN' }, outcome: 'error', errors: [{ code: 'FORBIDDEN', field: 'roles' }] },
    });
    await page.close();
  }, 60_000);

  it('without a session Easy Auth answers 401; without Easy Auth the app trusts no principal', async () => {
    expect((await fetch(`${easyAuth.url}/api/ui/`)).status).toBe(401);
    // A forged principal sent straight to the app (Easy Auth off): refused, nothing listed.
    delete process.env.WEBSITE_AUTH_ENABLED;
    try {
      const forged = { 'x-ms-client-principal': easyAuthPrincipal('mallory', [AppRoles.read, AppRoles.rescan]) };
      const page = await fetch(`${functions.url}/api/ui/`, { headers: forged });
      expect(page.status).toBe(401);
      expect(await page.text()).toContain('Sign in');
      const list = await fetch(`${functions.url}/api/ui/images`, { headers: forged });
      expect(list.status).toBe(401);
    } finally {
      process.env.WEBSITE_AUTH_ENABLED = 'True';
    }
    // The function-key API is not the page's: a browser without the key gets the host's 401.
    const image = images[0];
    expect(
      (await fetch(`${functions.url}/api/verdicts/${image.registry}/${image.repository}@${image.digest}`)).status,
    ).toBe(401);
    // Only the page's three files: no other name, no path outside them.
    const signedIn = { headers: { cookie: 'AppServiceAuthSession=reader' } };
    for (const path of ['/api/ui/..%2F..%2Fpackage.json', '/api/ui/page.ts', '/api/ui/%2e%2e'])
      expect({ path, status: (await fetch(`${easyAuth.url}${path}`, signedIn)).status }).toEqual({ path, status: 404 });
    // The page's base without its slash redirects, so its relative links resolve under /api/ui/.
    const bare = await fetch(`${easyAuth.url}/api/ui`, {
      redirect: 'manual',
      headers: { cookie: 'AppServiceAuthSession=reader' },
    });
    expect(bare.status).toBe(308);
    expect(bare.headers.get('location')).toBe('/api/ui/');
  });
});
