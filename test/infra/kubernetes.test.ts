/**
 * deploy/ validates offline (deploy/validate.py: the Kubernetes API's schemas through PyPI
 * kubernetes-validate, KEDA's ScaledObject through the committed schema, and the metric names
 * the alert rules and the dashboard query), and the validation catches a misspelt field.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');
const validate = (deployDir: string) => spawnSync('python3', [path.join(deployDir, 'validate.py')], { encoding: 'utf8' });

test('the manifests, the alert rules and the dashboard validate', () => {
  const result = validate(path.join(root, 'deploy'));
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  for (const kind of [
    'Deployment crucible-api',
    'Deployment crucible-worker',
    'PodDisruptionBudget crucible-worker',
    'ScaledObject crucible-worker',
    'RuntimeClass gvisor',
  ]) {
    expect(result.stdout).toContain(kind);
  }
});

describe('a copy with one mistake fails', () => {
  let copy: string;
  beforeEach(() => {
    copy = fs.mkdtempSync(path.join(os.tmpdir(), 'crucible-deploy-'));
    fs.cpSync(path.join(root, 'deploy'), path.join(copy, 'deploy'), { recursive: true });
    fs.mkdirSync(path.join(copy, 'src/metrics'), { recursive: true });
    fs.copyFileSync(path.join(root, 'src/metrics/metrics.ts'), path.join(copy, 'src/metrics/metrics.ts'));
  });
  afterEach(() => fs.rmSync(copy, { recursive: true, force: true }));

  const edit = (file: string, from: string, to: string) => {
    const full = path.join(copy, 'deploy', file);
    const text = fs.readFileSync(full, 'utf8');
    expect(text).toContain(from);
    fs.writeFileSync(full, text.replace(from, to));
  };

  it.each([
    ['kubernetes/base/worker.yaml', 'livenessProbe:', 'livenesProbe:', 'Deployment crucible-worker'],
    ['kubernetes/base/worker-scaledobject.yaml', 'targetQueueSize:', 'targetQueSize:', 'ScaledObject crucible-worker'],
    ['kubernetes/base/api.yaml', 'minAvailable: 1', 'minAvailable: [1]', 'PodDisruptionBudget crucible-api'],
    ['monitoring/alerts.yaml', 'crucible_task_queue_backlog)', 'crucible_task_queue_backlogs)', 'alerts.yaml'],
  ])('%s: %s -> %s', (file, from, to, named) => {
    edit(file, from, to);
    const result = validate(path.join(copy, 'deploy'));
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(named);
  });
});
