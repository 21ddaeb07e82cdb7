/** Validates a body against schemas/result.v1.schema.json (the one result shape, issue 21) with ajv (draft 2020-12). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';

const schema = JSON.parse(readFileSync(join(__dirname, '../../schemas/result.v1.schema.json'), 'utf8')) as object;
const ajv = new Ajv2020({ allErrors: true, strict: false });
const validate = ajv.compile(schema);

/** Throws, naming every schema violation, unless `body` is a valid v1 result envelope. */
export function expectValidResult(body: unknown, label = 'result'): void {
  if (!validate(body))
    throw new Error(`${label}: not a v1 result: ${ajv.errorsText(validate.errors, { separator: '; ' })}`);
}
