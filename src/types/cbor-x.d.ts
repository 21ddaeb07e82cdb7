/**
 * cbor-x's no-eval decoder (`cbor-x/decode-no-eval`, a CommonJS build) has the same API as the package root;
 * TypeScript's "node" module resolution cannot see package subpath exports, so it is declared here.
 */
declare module 'cbor-x/decode-no-eval' {
  export { Decoder, Tag } from 'cbor-x';
}
