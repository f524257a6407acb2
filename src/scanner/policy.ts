/**
 * Loads the scan policy file (`SCAN_POLICY`). The file is validated once, at start-up, so a
 * typo is an error that names the file and the JSON path, never a silently ignored setting.
 * Unknown rule ids are rejected for the same reason. Deciding lives in decide.ts (pure).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DEFAULT_SCAN_POLICY, SCAN_ACTIONS, type ScanPolicy } from './decide';
import { isKnownRuleId } from './rule-catalog';

export class PolicyError extends Error {
  override readonly name = 'PolicyError';

  constructor(
    message: string,
    readonly file: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const ACTION_LIST = SCAN_ACTIONS.map((action) => JSON.stringify(action)).join(', ');
const actionSchema = z.enum(SCAN_ACTIONS, {
  error: (issue) =>
    issue.input === undefined
      ? `missing; expected one of ${ACTION_LIST}`
      : `expected one of ${ACTION_LIST}, got ${JSON.stringify(issue.input)}`,
});

export const scanPolicySchema = z.strictObject({
  severity: z.strictObject({ critical: actionSchema, high: actionSchema, warning: actionSchema, info: actionSchema }),
  rules: z.record(z.string().refine(isKnownRuleId, { error: 'unknown rule id (the scanner has no such rule)' }), actionSchema).optional(),
});

/** `$.rules["py.call.eval"]` style paths: rule ids contain dots. */
function jsonPath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>((text, part) => {
    if (typeof part === 'number') return `${text}[${part}]`;
    const name = String(part);
    return /^[A-Za-z_$][\w$]*$/.test(name) ? `${text}.${name}` : `${text}[${JSON.stringify(name)}]`;
  }, '$');
}

/** Validates an already-parsed policy document; `source` names it in errors. */
export function parsePolicy(document: unknown, source: string): ScanPolicy {
  const parsed = scanPolicySchema.safeParse(document);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      // A record key's own problem (unknown rule id) is nested inside zod's "invalid key" issue.
      const message = issue.code === 'invalid_key' ? issue.issues.map((inner) => inner.message).join(', ') : issue.message;
      return `${jsonPath(issue.path)}: ${message}`;
    });
    throw new PolicyError(`invalid scan policy ${source}: ${problems.join('; ')}`, source);
  }
  return { severity: { ...parsed.data.severity }, rules: { ...(parsed.data.rules ?? {}) } };
}

/** The policy in `file`, or the built-in default when no file is configured. */
export function loadPolicy(file?: string): ScanPolicy {
  if (file === undefined || file === '') return DEFAULT_SCAN_POLICY;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new PolicyError(`cannot read scan policy ${file}: ${reason}`, file, { cause: error });
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new PolicyError(`scan policy ${file} is not valid JSON: ${reason}`, file, { cause: error });
  }
  return parsePolicy(document, file);
}
