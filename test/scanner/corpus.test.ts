/**
 * Table-driven corpus: every program under test/fixtures/scanner/<language>/ with the exact set
 * of rule ids it must raise and the action the default policy must take. Benign programs
 * (ordinary algorithms, string processing, stdin) must never raise a high or critical finding.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Language } from '../../src/domain/evaluation';
import { DEFAULT_SCAN_POLICY, decide, scanCode, type ScanAction } from '../../src/scanner';
import { ruleIdsOf } from './helpers';

interface CorpusEntry {
  file: string;
  rules: string[];
  action: ScanAction;
  syntaxError?: boolean;
}

const FIXTURES = path.join(__dirname, '../fixtures/scanner');
const MINIMUM_PROGRAMS = 60;

function loadCorpus(language: Language): CorpusEntry[] {
  const manifest = JSON.parse(readFileSync(path.join(FIXTURES, language, 'manifest.json'), 'utf8')) as { programs: CorpusEntry[] };
  return manifest.programs;
}

function filesOnDisk(language: Language): string[] {
  return ['benign', 'malicious'].flatMap((folder) => readdirSync(path.join(FIXTURES, language, folder)).map((name) => `${folder}/${name}`));
}

describe.each<Language>(['python', 'javascript'])('%s corpus', (language) => {
  const corpus = loadCorpus(language);

  it(`has at least ${MINIMUM_PROGRAMS} programs, and the manifest lists every file`, () => {
    expect(corpus.length).toBeGreaterThanOrEqual(MINIMUM_PROGRAMS);
    expect(corpus.map((entry) => entry.file).sort()).toEqual(filesOnDisk(language).sort());
  });

  it.concurrent.each(corpus.map((entry) => [entry.file, entry] as const))('%s', async (file, entry) => {
    const report = await scanCode(language, readFileSync(path.join(FIXTURES, language, file)));
    expect({
      rules: ruleIdsOf(report),
      action: decide(report.findings, DEFAULT_SCAN_POLICY).action,
      syntaxError: report.syntaxError !== null,
    }).toEqual({ rules: entry.rules, action: entry.action, syntaxError: entry.syntaxError ?? false });
    if (file.startsWith('benign/')) {
      expect(report.findings.filter((finding) => finding.severity === 'high' || finding.severity === 'critical')).toEqual([]);
    }
  });
});
