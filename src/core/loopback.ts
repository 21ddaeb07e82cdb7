/**
 * Loopback detection for hosts that may be reached over plain http (tests, the local demo).
 */

/** True for `127.0.0.0/8`, `localhost` and `[::1]` hosts, with or without a port. */
export function isLoopbackHost(host: string): boolean {
  const lower = host.toLowerCase();
  const name = lower.startsWith('[') ? lower.slice(0, lower.indexOf(']') + 1) : lower.replace(/:\d+$/, '');
  if (name === 'localhost' || name === '[::1]') return true;
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(name);
  return m !== null && m.slice(1).every((octet) => Number(octet) <= 255);
}
