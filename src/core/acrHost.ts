/**
 * Which registry hosts are Azure Container Registry login servers. One answer for the whole code base: the
 * policy's apply mode (quarantine or not), the findings sources (Defender or not), the registry client's ACR
 * extensions and Entra ID token exchange, and whether the hosts give a client an Entra ID credential at all.
 * When these disagreed, a registry in a sovereign cloud got quarantine chosen by the policy and then no
 * credential to apply it with.
 */

/**
 * The login-server suffixes Azure documents today: public cloud (`azurecr.io`), Azure operated by 21Vianet
 * (`azurecr.cn`) and Azure Government (`azurecr.us`). Azure Germany's `azurecr.de` closed with that cloud
 * in 2021 and is not listed.
 */
export const ACR_LOGIN_SERVER_SUFFIXES: readonly string[] = Object.freeze([
  '.azurecr.io',
  '.azurecr.cn',
  '.azurecr.us',
]);

/**
 * True for an ACR login server `<name>.azurecr.<io|cn|us>` (any case, with or without `:port`). The name
 * before the suffix must be non-empty and must not end in a dot; anything else (`azurecr.io` alone,
 * `contoso.azurecr.io.example.com`) is not ACR.
 */
export function isAcrHost(host: string): boolean {
  const name = host.toLowerCase().replace(/:\d+$/, '');
  return ACR_LOGIN_SERVER_SUFFIXES.some(
    (suffix) => name.length > suffix.length && name.endsWith(suffix) && name[name.length - suffix.length - 1] !== '.',
  );
}

/** The part of an ACR host name before its login-server suffix (`contoso.westeurope.data` for `contoso.westeurope.data.azurecr.io`), or undefined when the host is not ACR. */
export function acrHostName(host: string): string | undefined {
  if (!isAcrHost(host)) return undefined;
  const name = host.toLowerCase().replace(/:\d+$/, '');
  const suffix = ACR_LOGIN_SERVER_SUFFIXES.find((x) => name.endsWith(x)) as string;
  return name.slice(0, -suffix.length);
}
