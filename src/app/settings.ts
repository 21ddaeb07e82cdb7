/**
 * Reading app settings: the `INVALID_CONFIG` error that names the setting and the expected form, comma lists,
 * https URLs without credentials, and the Azure hosts each endpoint setting may name. Shared by the app's
 * configuration (`config.ts`) and the timers' (`timerConfig.ts`).
 */
import { ErrorCodes, GuardError } from '../core/errors';
import { isLoopbackHost } from '../core/loopback';

/** App settings as the host passes them (an env-like record). */
export type Env = Record<string, string | undefined>;

/** The `INVALID_CONFIG` error for a setting: what was expected, and what was got (shortened). */
export function invalid(setting: string, expected: string, got?: string): GuardError {
  const shown = got === undefined ? '' : `, got ${JSON.stringify(got.length > 80 ? `${got.slice(0, 80)}…` : got)}`;
  return new GuardError(ErrorCodes.INVALID_CONFIG, `app setting ${setting}: expected ${expected}${shown}`, {
    field: setting,
  });
}

/** A GUID (client, subscription, workspace ids). */
export const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A comma-separated setting's items, trimmed, empty ones dropped. */
export function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * An absolute https URL without credentials, query or fragment (plain http only for a loopback host when
 * `allowLoopbackHttp`), without its trailing slashes.
 */
export function httpsUrl(setting: string, value: string, allowLoopbackHttp: boolean): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(setting, 'an absolute https URL such as https://<account>.table.core.windows.net', value);
  }
  if (url.username || url.password || url.search || url.hash)
    throw invalid(
      setting,
      'a URL without credentials, query or fragment (no SAS tokens: the app uses its managed identity)',
    );
  if (url.protocol !== 'https:' && !(allowLoopbackHttp && url.protocol === 'http:' && isLoopbackHost(url.host))) {
    throw invalid(setting, 'an https URL (plain http only for a loopback Azurite)', value);
  }
  return value.replace(/\/+$/, '');
}

/**
 * Hosts each Azure endpoint setting may name (public and sovereign clouds), or a loopback stand-in: the app
 * sends its managed identity's tokens there, so a typo must not send them elsewhere.
 */
const ENDPOINT_HOSTS: Record<string, [RegExp, string]> = {
  ACR_GUARD_LOG_ANALYTICS_ENDPOINT: [/^api\.loganalytics\.(io|azure\.cn|us)$/, 'https://api.loganalytics.io/v1'],
  ACR_GUARD_ALERT_EVENTGRID_ENDPOINT: [
    /^[a-z0-9-]+\.[a-z0-9-]+\.eventgrid\.azure\.(net|cn|us)$/,
    'https://<topic>.<region>-1.eventgrid.azure.net/api/events',
  ],
  ACR_GUARD_VERDICT_EVENTGRID_ENDPOINT: [
    /^[a-z0-9-]+\.[a-z0-9-]+\.eventgrid\.azure\.(net|cn|us)$/,
    'https://<topic>.<region>-1.eventgrid.azure.net/api/events',
  ],
  ACR_GUARD_KEY_VAULT_URL: [
    /^[a-z0-9-]{3,24}\.vault\.(azure\.net|azure\.cn|usgovcloudapi\.net)$/,
    'https://<vault>.vault.azure.net',
  ],
  ACR_GUARD_LOG_INGESTION_ENDPOINT: [
    /^[a-z0-9-]+\.[a-z0-9-]+\.ingest\.monitor\.azure\.(com|cn|us)$/,
    'https://<endpoint>.<region>-1.ingest.monitor.azure.com',
  ],
  ACR_GUARD_ARM_ENDPOINT: [
    /^management\.(azure\.com|chinacloudapi\.cn|usgovcloudapi\.net)$/,
    'https://management.azure.com',
  ],
};

/**
 * An optional https endpoint setting (or `fallback`), on the Azure host {@link ENDPOINT_HOSTS} allows for it or a
 * loopback stand-in.
 */
export function optionalHttps(env: Env, setting: string, fallback?: string): string | undefined {
  const value = env[setting]?.trim() || fallback;
  if (value === undefined) return undefined;
  const url = httpsUrl(setting, value, false);
  const host = new URL(url).host.toLowerCase();
  const [allowed, example] = ENDPOINT_HOSTS[setting] ?? [];
  if (allowed && !allowed.test(host) && !isLoopbackHost(host))
    throw invalid(setting, `an https URL on the service's Azure host, like ${example} (or a loopback stand-in)`, value);
  return url;
}
