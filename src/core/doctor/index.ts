/**
 * acr-guard doctor: pure checks over a snapshot of ARM resources (see `snapshot.ts`): `diagnosePull`,
 * `diagnoseIdentities`, `diagnosePlatform`.
 */
export * from './check';
export * from './snapshot';
export * from './roles';
export * from './abac';
export * from './glob';
export * from './workloads';
export * from './pull';
export * from './pullNetwork';
export * from './pullIdentity';
export * from './identities';
export * from './platform';
export * from './road';
export * from './policyRule';
