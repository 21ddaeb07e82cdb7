/**
 * Jest helper: a real Debian docker-registry on loopback for the tests of one file, with a client for it.
 *
 *   const reg = useRegistry();
 *   it('…', async () => { await pushImage(reg.client, 'app', { tag: 'v1' }); reg.requests … });
 *
 * `beforeAll` starts it, `afterAll` stops it. Every request the client makes is recorded in `requests`
 * (`METHOD path?query`), so a test can assert that nothing reached the registry.
 */
import { createRegistryClient, type RegistryClientOptions } from '../../src/adapters/registry';
import type { RegistryClient } from '../../src/adapters/ports';
import { startRegistry, type RunningRegistry, type StartRegistryOptions } from '../../src/local/registryServer';

/** What {@link useRegistry} gives a test file; read its fields inside tests (they are set in `beforeAll`). */
export interface RegistryFixture {
  readonly registry: RunningRegistry;
  /** A plain-http client for the registry, recording its requests. */
  readonly client: RegistryClient;
  /** `METHOD /path?query` of every request `client` made, in order. */
  readonly requests: string[];
  /** Another client for the same registry (other options, same request log). */
  newClient(options?: Partial<RegistryClientOptions>): RegistryClient;
}

/** Starts a registry before the file's tests and stops it after them. */
export function useRegistry(options: StartRegistryOptions = {}): RegistryFixture {
  let registry: RunningRegistry | undefined;
  let client: RegistryClient | undefined;
  const requests: string[] = [];
  const recording: typeof fetch = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    requests.push(`${init?.method ?? 'GET'} ${url.pathname}${url.search}`);
    return fetch(input, init);
  };
  const fixture: RegistryFixture = {
    get registry(): RunningRegistry {
      if (!registry) throw new Error('useRegistry: the registry is started in beforeAll; use it inside a test');
      return registry;
    },
    get client(): RegistryClient {
      if (!client) throw new Error('useRegistry: the client exists after beforeAll; use it inside a test');
      return client;
    },
    requests,
    newClient(extra = {}) {
      return createRegistryClient({ host: fixture.registry.host, plainHttp: true, fetch: recording, ...extra });
    },
  };
  beforeAll(async () => {
    registry = await startRegistry(options);
    client = fixture.newClient();
  });
  afterAll(async () => {
    await registry?.stop();
  });
  return fixture;
}
