/**
 * The Azure Policy rule evaluator the infra tests use: the pure one in src/core/doctor/policyRule.ts (doctor
 * probes assigned definitions with the same code), re-exported where the tests look for their support code.
 */
export {
  ALIASES,
  assignmentParameters,
  evaluatePolicyRule,
  type PolicyResource,
} from '../../src/core/doctor/policyRule';
