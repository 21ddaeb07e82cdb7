/**
 * The verdicts page (plain HTML, CSS and browser JavaScript in `src/app/page/`, no build step), served by both
 * hosts from these handlers: the local service at `/` (its API under `/api`), the Functions app at `/api/ui/`
 * (its API under `/api/ui`, behind App Service authentication). The HTML names its API base in
 * `<html data-api-base>`, so one page works under both.
 *
 * Who may read it: with Easy Auth, a caller holding `Verdicts.Read` (or `Rescan.Request`, which implies it);
 * without a principal the answer is a 401 page saying where to sign in, without the role a 403 page.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { AppRoles, HttpRefusal, requireRole, type ClientPrincipal, type HttpAuthMode } from './http';

/** The page's files by request name (`''` and `index.html` are the page). */
export const PAGE_FILES: Readonly<Record<string, string>> = {
  '': 'index.html',
  'index.html': 'index.html',
  'app.js': 'app.js',
  'style.css': 'style.css',
};

const PAGE_TYPES: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};

/** The page's own files only; no inline script or style, no third-party origin, never framed. */
export const PAGE_CSP =
  "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/** Roles that may read the page (and the images list behind it). */
export const PAGE_READ_ROLES = [AppRoles.read, AppRoles.rescan] as const;

/**
 * Where the page's files are: beside this module in the sources (`src/app/page`), or where the build copies them
 * beside the bundles (`dist/src/app/page`, next to `dist/src/functions` and `dist/src/cli`).
 */
export function pageDir(): string | undefined {
  const candidates = [
    join(__dirname, 'page'),
    join(__dirname, '..', 'app', 'page'),
    join(__dirname, '..', '..', '..', 'src', 'app', 'page'),
    join(process.cwd(), 'src', 'app', 'page'),
  ];
  return candidates.find((dir) => existsSync(join(dir, 'index.html')));
}

/** Dependencies of {@link handlePageFile}. */
export interface PageDeps {
  auth: HttpAuthMode;
  /** Where the page's API answers: `/api` (local service) or `/api/ui` (Functions app). */
  apiBase: string;
  /** Where a signed-out browser signs in (Easy Auth's login path), named on the 401 page. */
  loginUrl?: string;
  /** The directory of the page's files (default {@link pageDir}). */
  dir?: string;
}

const cache = new Map<string, string>();

function readPageFile(dir: string, name: string): string {
  const key = join(dir, name);
  let text = cache.get(key);
  if (text === undefined) {
    text = readFileSync(key, 'utf8');
    cache.set(key, text);
  }
  return text;
}

function pageHeaders(type: string): Record<string, string> {
  return {
    'content-type': type,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'content-security-policy': PAGE_CSP,
  };
}

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

/** A small self-contained HTML answer (401, 403, 404): no script, no external style. */
export function messagePage(status: number, title: string, lines: string[]): HttpResponseInit {
  const body = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>acr-guard — ${escapeHtml(title)}</title></head>
<body><main id="refusal" data-status="${status}"><h1>${escapeHtml(title)}</h1>
${lines.map((l) => `<p>${escapeHtml(l)}</p>`).join('\n')}
</main></body></html>
`;
  return { status, body, headers: pageHeaders(PAGE_TYPES.html) };
}

/** The refusal of a page request as a page (the API routes answer JSON instead). */
function refusalPage(refusal: HttpRefusal, deps: PageDeps): HttpResponseInit {
  const status = refusal.response.status ?? 403;
  const message = (refusal.response.jsonBody as { error?: { message?: string } } | undefined)?.error?.message ?? '';
  if (status === 401)
    return messagePage(401, 'Sign in to see acr-guard verdicts', [
      message,
      deps.loginUrl ? `Sign in at ${deps.loginUrl}, then open this page again.` : '',
    ]);
  return messagePage(status, 'You cannot see acr-guard verdicts', [
    message,
    'The page needs the app role Verdicts.Read on the acr-guard API (Rescan.Request includes it). Nothing was shown or changed.',
  ]);
}

/**
 * `GET <base>/` and `GET <base>/{index.html,app.js,style.css}`: the page's files, the HTML with its API base.
 * `request.params.file` names the file (`''` for the page).
 */
export async function handlePageFile(
  request: HttpRequest,
  deps: PageDeps,
  context: Pick<InvocationContext, 'warn'>,
): Promise<HttpResponseInit> {
  const name = PAGE_FILES[request.params.file ?? ''];
  if (!name) return messagePage(404, 'Not found', ['The page has index.html, app.js and style.css only.']);
  try {
    requireRole(request, deps.auth, PAGE_READ_ROLES);
  } catch (err) {
    if (err instanceof HttpRefusal) return refusalPage(err, deps);
    throw err;
  }
  // `<base>` without its slash: the page's relative links (style.css, app.js) need `<base>/`.
  const path = new URL(request.url).pathname;
  if (name === 'index.html' && !path.endsWith('/') && !path.endsWith('.html'))
    return { status: 308, headers: { location: `${path}/`, 'cache-control': 'no-cache' } };
  const dir = deps.dir ?? pageDir();
  if (!dir) {
    context.warn('page: the page files (src/app/page) are not installed beside this build');
    return messagePage(500, 'The page is not installed', [
      'The page files (src/app/page) are not beside this build; run npm run build, which copies them to dist/src/app/page.',
    ]);
  }
  let text = readPageFile(dir, name);
  if (name === 'index.html') text = text.replace('data-api-base="/api"', `data-api-base="${escapeHtml(deps.apiBase)}"`);
  return { status: 200, body: text, headers: pageHeaders(PAGE_TYPES[name.split('.').pop() as string]) };
}

/** What the caller may do on the page: the buttons it shows (a host without the action never shows it). */
export function pageAbilities(
  principal: ClientPrincipal | undefined,
  auth: HttpAuthMode,
  host: { rescan: boolean; purge: boolean },
): { rescan: boolean; purge: boolean; name?: string } {
  const has = (role: string): boolean => auth === 'off' || (principal?.roles.includes(role) ?? false);
  return {
    rescan: host.rescan && has(AppRoles.rescan),
    purge: host.purge && has(AppRoles.purge),
    ...(principal?.name ? { name: principal.name } : {}),
  };
}
