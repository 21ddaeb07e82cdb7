/**
 * The one nesting check over untrusted JSON text, run before `JSON.parse` builds anything: one linear pass that
 * counts open objects and arrays outside strings. Vulnerability reports (`reports/shared.ts`) and the doctor's
 * snapshot (`doctor/snapshot.ts`) both use it; each words the refusal with its own code. Pure: no I/O.
 */

/** The bounds one scan holds a text to. */
export interface JsonNestingLimits {
  /** Deepest nesting of objects and arrays accepted (the document's own object is level 1). */
  maxDepth: number;
  /** Most objects and arrays in the whole text; unbounded when absent. */
  maxContainers?: number;
}

/** Where a text first passes a bound: which bound, and the offset (UTF-16 code unit) of the bracket that did. */
export interface JsonNestingExcess {
  bound: 'depth' | 'containers';
  offset: number;
}

/**
 * The first place `text` nests deeper than `limits.maxDepth` or opens more than `limits.maxContainers` objects
 * and arrays, or undefined when it stays within both. Brackets inside strings (escapes included) do not count;
 * the text need not be valid JSON (the parse that follows says so).
 */
export function findJsonNestingExcess(text: string, limits: JsonNestingLimits): JsonNestingExcess | undefined {
  const maxContainers = limits.maxContainers ?? Infinity;
  let depth = 0;
  let containers = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (++containers > maxContainers) return { bound: 'containers', offset: i };
      if (depth > limits.maxDepth) return { bound: 'depth', offset: i };
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return undefined;
}
