import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Finding } from '../../src/domain/evaluation';
import { DEFAULT_SCAN_POLICY, decide, loadPolicy, PolicyError, type ScanPolicy } from '../../src/scanner';

function finding(ruleId: string, severity: Finding['severity'], line = 1): Finding {
  return { ruleId, severity, message: `${ruleId} message`, line, column: 1 };
}

describe('loadPolicy', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'scan-policy-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function policyFile(name: string, content: string): string {
    const file = path.join(dir, name);
    writeFileSync(file, content);
    return file;
  }

  function loadError(file: string): PolicyError {
    try {
      loadPolicy(file);
    } catch (error) {
      if (error instanceof PolicyError) return error;
      throw error;
    }
    throw new Error('expected a PolicyError');
  }

  it('returns the default policy when no file is configured', () => {
    expect(loadPolicy()).toEqual(DEFAULT_SCAN_POLICY);
    expect(loadPolicy('')).toEqual(DEFAULT_SCAN_POLICY);
    expect(DEFAULT_SCAN_POLICY.severity).toEqual({ critical: 'block', high: 'review', warning: 'allow', info: 'allow' });
  });

  it('accepts a policy that allows everything', () => {
    const file = policyFile('allow-all.json', '{"severity": {"critical": "allow", "high": "allow", "warning": "allow", "info": "allow"}}');
    const policy = loadPolicy(file);
    expect(policy).toEqual({ severity: { critical: 'allow', high: 'allow', warning: 'allow', info: 'allow' }, rules: {} });
    expect(decide([finding('py.call.eval', 'critical')], policy).action).toBe('allow');
  });

  it('accepts rule overrides for known rule ids', () => {
    const file = policyFile(
      'overrides.json',
      JSON.stringify({
        severity: { critical: 'block', high: 'review', warning: 'allow', info: 'allow' },
        rules: { 'py.import.os': 'allow', 'js.import.fs': 'review' },
      }),
    );
    expect(loadPolicy(file).rules).toEqual({ 'py.import.os': 'allow', 'js.import.fs': 'review' });
  });

  it('names the file and the JSON path of an invalid action', () => {
    const file = policyFile('bad-action.json', '{"severity": {"critical": "deny", "high": "allow", "warning": "allow", "info": "allow"}}');
    const error = loadError(file);
    expect(error.file).toBe(file);
    expect(error.message).toContain(file);
    expect(error.message).toContain('$.severity.critical');
    expect(error.message).toContain('"deny"');
  });

  it('names a missing severity', () => {
    const error = loadError(policyFile('missing.json', '{"severity": {"critical": "block", "high": "allow", "warning": "allow"}}'));
    expect(error.message).toMatch(/\$\.severity\.info: missing/);
  });

  it('rejects unknown rule ids and unknown keys instead of ignoring them', () => {
    const typo = loadError(
      policyFile(
        'typo.json',
        '{"severity": {"critical": "block", "high": "review", "warning": "allow", "info": "allow"}, "rules": {"py.call.evl": "allow"}}',
      ),
    );
    expect(typo.message).toContain('$.rules["py.call.evl"]');
    expect(typo.message).toContain('unknown rule id');
    const extra = loadError(
      policyFile('extra.json', '{"severity": {"critical": "block", "high": "review", "warning": "allow", "info": "allow"}, "rule": {}}'),
    );
    expect(extra.message).toMatch(/Unrecognized key.*"rule"/);
  });

  it('reports invalid JSON and unreadable files as PolicyError', () => {
    const broken = loadError(policyFile('broken.json', '{"severity": '));
    expect(broken.message).toMatch(/not valid JSON/);
    expect(broken.message).toContain('broken.json');
    const missing = loadError(path.join(dir, 'does-not-exist.json'));
    expect(missing.message).toMatch(/cannot read scan policy .*does-not-exist\.json/);
  });
});

describe('decide', () => {
  const policy = (overrides: Partial<ScanPolicy> = {}): ScanPolicy => ({ ...DEFAULT_SCAN_POLICY, rules: {}, ...overrides });

  it('allows when there are no findings, with no reasons', () => {
    expect(decide([], DEFAULT_SCAN_POLICY)).toEqual({ action: 'allow', reasons: [] });
  });

  it('maps severities with the default policy', () => {
    expect(decide([finding('py.import.pickle', 'warning')], policy()).action).toBe('allow');
    expect(decide([finding('py.import.os', 'high')], policy()).action).toBe('review');
    expect(decide([finding('py.call.eval', 'critical')], policy()).action).toBe('block');
  });

  it('lets block win over review, and review over allow', () => {
    const findings = [finding('py.import.pickle', 'warning'), finding('py.import.os', 'high'), finding('py.call.eval', 'critical', 3)];
    const decision = decide(findings, policy());
    expect(decision.action).toBe('block');
    expect(decision.reasons).toHaveLength(1);
    expect(decision.reasons[0]).toMatch(/^py\.call\.eval at 3:1: .*\[critical -> block\]$/);
    expect(decide(findings.slice(0, 2), policy()).action).toBe('review');
  });

  it('lets a rule override beat its severity in both directions', () => {
    const overrides = policy({ rules: { 'py.call.eval': 'allow', 'py.import.pickle': 'block' } });
    expect(decide([finding('py.call.eval', 'critical')], overrides).action).toBe('allow');
    const decision = decide([finding('py.import.pickle', 'warning')], overrides);
    expect(decision).toEqual({ action: 'block', reasons: [expect.stringContaining('[rule py.import.pickle -> block]')] });
  });

  it('groups repeated findings of a rule into one reason', () => {
    const decision = decide(
      [finding('py.call.eval', 'critical', 1), finding('py.call.eval', 'critical', 2), finding('py.call.eval', 'critical', 5)],
      policy(),
    );
    expect(decision.reasons).toEqual([expect.stringMatching(/^py\.call\.eval at 1:1: .*\(and 2 more\)$/)]);
  });

  it('ignores inherited object keys as rule ids', () => {
    expect(decide([finding('constructor', 'warning')], policy()).action).toBe('allow');
  });

  it('lives in a module without Node imports, so workflow code can import it', () => {
    const source = readFileSync(path.join(__dirname, '../../src/scanner/decide.ts'), 'utf8');
    const imports = [...source.matchAll(/^import\s.*?from\s+['"]([^'"]+)['"]/gms)].map((match) => [match[0], match[1]]);
    for (const [statement, specifier] of imports) {
      expect(statement).toMatch(/^import type /);
      expect(specifier).toBe('../domain/evaluation');
    }
  });
});
