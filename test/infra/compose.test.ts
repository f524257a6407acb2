/**
 * docker-compose.temporal.yml is valid and has the multi-machine shape. No Docker engine is
 * needed: `docker-compose config` only parses, validates and interpolates the file.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { SEARCH_ATTRIBUTE_CLI_ARGS } from '../../src/workflows/search-attributes';

const projectRoot = path.resolve(__dirname, '../..');
const composeFile = path.join(projectRoot, 'docker-compose.temporal.yml');

function dockerCompose(...args: string[]) {
  return spawnSync('docker-compose', ['-f', composeFile, ...args], { cwd: projectRoot, encoding: 'utf8' });
}

const available = !dockerCompose('version').error;
if (!available) {
  console.warn('compose.test.ts skipped: docker-compose is not installed (Debian: apt-get install docker-compose)');
}
const describeIfCompose = available ? describe : describe.skip;

describeIfCompose('docker-compose.temporal.yml', () => {
  it('is valid for docker-compose', () => {
    const result = dockerCompose('config', '--quiet');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('has PostgreSQL, Temporal, its Web UI, the admin-tools job, api and worker', () => {
    const result = dockerCompose('config', '--services');
    expect(result.status).toBe(0);
    expect(result.stdout.trim().split('\n').sort()).toEqual(
      ['api', 'postgresql', 'temporal', 'temporal-admin-tools', 'temporal-ui', 'worker'].sort(),
    );
  });

  it('registers every search attribute and wires api and worker to PostgreSQL and Temporal', () => {
    const config = dockerCompose('config').stdout;
    for (const pair of SEARCH_ATTRIBUTE_CLI_ARGS) expect(config).toContain(pair);
    expect(config).toContain('search-attribute create');
    expect(config).toContain('TEMPORAL_ADDRESS: temporal:7233');
    expect(config).toMatch(/DATABASE_URL: postgresql:\/\/\S+@postgresql:5432\/crucible/);
    expect(config).toContain('SYS_ADMIN'); // the worker's bubblewrap namespaces
  });
});
