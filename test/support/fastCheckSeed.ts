/**
 * Every property-based test runs from one fixed seed, so a run (CI's above all) is reproducible: a property that
 * fails fails every time, with its counterexample. `FC_SEED=<n> npx jest …` explores another part of the space.
 */
import fc from 'fast-check';

const seed = Number(process.env.FC_SEED ?? 20261204);
fc.configureGlobal({ ...fc.readConfigureGlobal(), seed: Number.isSafeInteger(seed) ? seed : 20261204 });
