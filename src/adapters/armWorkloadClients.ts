/**
 * The ARM SDK clients for the two workload platforms (Container Apps and jobs, container groups), one per
 * subscription, with the one client configuration both workload adapters use: endpoint, retries and a test CA.
 * The in-use lookup (`inUseLookup.ts`) reads through them; `acr-guard deploy` (`workloadDeployer.ts`) writes.
 */
import type { TokenCredential } from '@azure/identity';
import type * as ArmAppContainers from '@azure/arm-appcontainers';
import type { ContainerAppsAPIClient } from '@azure/arm-appcontainers';
import type * as ArmContainerInstance from '@azure/arm-containerinstance';
import type { ContainerInstanceManagementClient } from '@azure/arm-containerinstance';

/** `@azure/arm-appcontainers`, loaded on first use: a cold start that does not reach a workload adapter does not pay for it. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const armAppContainers = (): typeof ArmAppContainers => require('@azure/arm-appcontainers');
/** `@azure/arm-containerinstance`, loaded on first use: a cold start that does not reach a workload adapter does not pay for it. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const armContainerInstance = (): typeof ArmContainerInstance => require('@azure/arm-containerinstance');

/** How the workload clients reach ARM. */
export interface ArmWorkloadClientOptions {
  credential: TokenCredential;
  /** ARM endpoint; default `https://management.azure.com` (tests: a loopback server). */
  endpoint?: string;
  /** Extra CA (PEM) to trust, for tests against a loopback HTTPS server. */
  ca?: string;
  /** SDK retries of a failed request (default 3), the first after `retryDelayMs` (default 1000). */
  maxRetries?: number;
  retryDelayMs?: number;
}

/** Container Apps and container-group clients, built once per subscription. */
export class ArmWorkloadClients {
  private readonly apps = new Map<string, ContainerAppsAPIClient>();
  private readonly groups = new Map<string, ContainerInstanceManagementClient>();
  private readonly clientOptions: {
    endpoint: string;
    retryOptions: { maxRetries: number; retryDelayInMs: number; maxRetryDelayInMs: number };
    tlsOptions?: { ca: string };
  };

  constructor(private readonly options: ArmWorkloadClientOptions) {
    this.clientOptions = {
      endpoint: (options.endpoint ?? 'https://management.azure.com').replace(/\/+$/, ''),
      retryOptions: {
        maxRetries: options.maxRetries ?? 3,
        retryDelayInMs: options.retryDelayMs ?? 1000,
        maxRetryDelayInMs: 30_000,
      },
      ...(options.ca ? { tlsOptions: { ca: options.ca } } : {}),
    };
  }

  /** The Container Apps client (apps and jobs) of a subscription. */
  containerApps(subscriptionId: string): ContainerAppsAPIClient {
    let client = this.apps.get(subscriptionId);
    if (!client) {
      client = new (armAppContainers().ContainerAppsAPIClient)(
        this.options.credential,
        subscriptionId,
        this.clientOptions,
      );
      this.apps.set(subscriptionId, client);
    }
    return client;
  }

  /** The container-group client of a subscription. */
  containerGroups(subscriptionId: string): ContainerInstanceManagementClient {
    let client = this.groups.get(subscriptionId);
    if (!client) {
      client = new (armContainerInstance().ContainerInstanceManagementClient)(
        this.options.credential,
        subscriptionId,
        this.clientOptions,
      );
      this.groups.set(subscriptionId, client);
    }
    return client;
  }
}
