/**
 * The cgroup v2 backend's file protocol against a fake cgroupfs (fake-cgroupfs.ts): detection on
 * each kind of host, the move into a leaf before controllers are enabled, limits written, usage
 * parsed, kill, and removal that refuses to hide a surviving task. Real enforcement is in
 * test/sandbox/cgroup-backends.test.ts (skipped where the host has no delegated cgroup v2).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { SandboxInfrastructureError } from '../../../src/sandbox/engine';
import { detectCgroupV2 } from '../../../src/sandbox/host/cgroup-v2-detect';
import { CgroupV2Backend, CgroupV2RunGroup, openCgroupV2Backend } from '../../../src/sandbox/host/cgroup-v2';
import { FakeCgroupHost, MODERN_KERNEL, MOUNTINFO, type FakeKernel } from './fake-cgroupfs';

const SERVICE = '/system.slice/crucible.service';
const LIMITS = { memoryBytes: 32 * 1024 * 1024, maxTasks: 20 };

let hosts: FakeCgroupHost[] = [];
afterEach(() => {
  hosts.forEach((host) => host.cleanup());
  hosts = [];
});

function fakeHost(kernel: FakeKernel = MODERN_KERNEL, mountinfo: string = MOUNTINFO.v2): FakeCgroupHost {
  const host = new FakeCgroupHost(kernel, mountinfo);
  hosts.push(host);
  return host;
}

/** A systemd unit with Delegate=yes: its group has every controller and our processes. */
function systemdDelegated(kernel: FakeKernel = MODERN_KERNEL, procs = [4242, 4243]): { host: FakeCgroupHost; serviceDir: string } {
  const host = fakeHost(kernel);
  host.setOwnGroup(SERVICE);
  host.addGroup('system.slice', { controllers: 'cpu io memory pids' });
  const serviceDir = host.addGroup(SERVICE, { controllers: 'cpu io memory pids', procs });
  return { host, serviceDir };
}

function open(host: FakeCgroupHost) {
  return openCgroupV2Backend({ files: host.files, paths: { procDir: host.procDir, rootDir: host.root } });
}

async function openV2(host: FakeCgroupHost): Promise<CgroupV2Backend> {
  const backend = await open(host);
  expect(backend.describe()).toMatch(/^cgroup v2 at /);
  return backend as CgroupV2Backend;
}

describe('cgroup v2 detection', () => {
  test('a cgroup v1 host has no v2 backend, and says so', async () => {
    const host = fakeHost(MODERN_KERNEL, MOUNTINFO.v1);
    host.setOwnGroup('/');
    expect(await detectCgroupV2(host.files, { procDir: host.procDir, rootDir: host.root })).toEqual({
      state: 'absent',
      reason: 'no cgroup2 filesystem is mounted (a cgroup v1 host)',
    });
    const backend = await open(host);
    expect(backend.kind).toBe('rlimits');
    expect(backend.describe()).toBe(
      'no per-run cgroups (no cgroup v2 controllers: no cgroup2 filesystem is mounted (a cgroup v1 host)): memory, processes and CPU are per-process rlimits',
    );
    expect(await backend.createRun(LIMITS)).toBeNull();
  });

  test('a hybrid host (cgroup2 mounted, controllers on v1) is not a v2 host', async () => {
    const host = fakeHost(MODERN_KERNEL, MOUNTINFO.hybrid);
    host.setOwnGroup(SERVICE);
    const backend = await open(host);
    expect(backend.kind).toBe('rlimits');
    expect(backend.describe()).toBe(
      'no per-run cgroups (no cgroup v2 controllers: a hybrid host: memory, pids are cgroup v1 controllers): memory, processes and CPU are per-process rlimits',
    );
  });

  test('systemd Delegate=yes: the service moves into its leaf, then the controllers are enabled, then the runs parent is made', async () => {
    const { host, serviceDir } = systemdDelegated();
    const backend = await openV2(host);
    const runsDir = path.posix.join(serviceDir, 'crucible-runs');
    expect(backend.kind).toBe('v2');
    expect(backend.describe()).toBe(`cgroup v2 at ${runsDir}: memory, pids, cpu`);
    expect(host.procs(serviceDir)).toEqual([]);
    expect(host.procs(path.posix.join(serviceDir, 'crucible-service'))).toEqual([4242, 4243]);
    expect(host.read(serviceDir, 'cgroup.subtree_control')).toBe('memory pids cpu');
    expect(host.read(runsDir, 'cgroup.subtree_control')).toBe('memory pids cpu');
    const service = 'system.slice/crucible.service';
    expect(host.writes).toEqual([
      [`${service}/crucible-service/cgroup.procs`, '4242'],
      [`${service}/crucible-service/cgroup.procs`, '4243'],
      [`${service}/cgroup.subtree_control`, '+memory +pids +cpu'],
      [`${service}/crucible-runs/cgroup.subtree_control`, '+memory +pids +cpu'],
    ]);
  });

  test('a process forked into the group while moving: the move is repeated', async () => {
    const { host, serviceDir } = systemdDelegated();
    let forked = false;
    host.beforeWrite = (file) => {
      if (!forked && file.endsWith('crucible-service/cgroup.procs')) {
        forked = true;
        host.set(serviceDir, 'cgroup.procs', `${host.read(serviceDir, 'cgroup.procs')}5000\n`);
      }
    };
    await openV2(host);
    expect(host.procs(serviceDir)).toEqual([]);
    expect(host.procs(path.posix.join(serviceDir, 'crucible-service')).sort()).toEqual([4242, 4243, 5000]);
  });

  test('a container with a private cgroup namespace: its "/" is its own group, and gets the same layout', async () => {
    const host = fakeHost();
    host.setOwnGroup('/');
    // Inside the namespace, the container's group is the mount's root, but not the real root: it has a cgroup.type.
    host.set(host.mountDir, 'cgroup.type', 'domain\n');
    host.set(host.mountDir, 'cgroup.subtree_control', '');
    host.set(host.mountDir, 'cgroup.procs', '1\n7\n');
    const backend = await openV2(host);
    expect(backend.describe()).toBe(`cgroup v2 at ${host.mountDir}/crucible-runs: memory, pids, cpu`);
    expect(host.procs(path.posix.join(host.mountDir, 'crucible-service'))).toEqual([1, 7]);
  });

  test('a later process of the service, started in crucible-service, uses the runs parent already there', async () => {
    const { host, serviceDir } = systemdDelegated();
    await openV2(host);
    host.setOwnGroup(`${SERVICE}/crucible-service`);
    host.writes.length = 0;
    const second = await openV2(host);
    expect(second.runsDir).toBe(path.posix.join(serviceDir, 'crucible-runs'));
    expect(existsSync(path.posix.join(serviceDir, 'crucible-service/crucible-service'))).toBe(false);
    expect(host.procs(path.posix.join(serviceDir, 'crucible-service'))).toEqual([4242, 4243]);
  });

  test('controllers not delegated: rlimits, with the missing ones named, and nothing moved', async () => {
    const host = fakeHost();
    host.setOwnGroup(SERVICE);
    const serviceDir = host.addGroup(SERVICE, { controllers: 'cpu memory', procs: [4242] });
    const backend = await open(host);
    expect(backend.kind).toBe('rlimits');
    expect(backend.describe()).toBe(
      `no per-run cgroups (cgroup v2 present but not delegated: pids not delegated to ${serviceDir} (its cgroup.controllers: cpu memory)): memory, processes and CPU are per-process rlimits`,
    );
    expect(host.writes).toEqual([]);
  });

  test.each([
    ['EROFS', 'a read-only cgroup mount (an unprivileged container)'],
    ['EACCES', 'a group owned by someone else (no Delegate=yes)'],
  ] as const)('%s, %s: rlimits, with the reason', async (code, _situation) => {
    const { host, serviceDir } = systemdDelegated();
    host.refuseWrites = code;
    const backend = await open(host);
    expect(backend.kind).toBe('rlimits');
    expect(backend.describe()).toMatch(
      new RegExp(
        `^no per-run cgroups \\(cgroup v2 present but not delegated: ${code}: mkdir .*crucible-service\\): memory, processes and CPU are per-process rlimits$`,
      ),
    );
    expect(host.procs(serviceDir)).toEqual([4242, 4243]);
  });

  test('a threaded group cannot hold run groups', async () => {
    const host = fakeHost();
    host.setOwnGroup(SERVICE);
    host.addGroup(SERVICE, { controllers: 'cpu memory pids', procs: [4242], type: 'threaded' });
    expect((await open(host)).describe()).toMatch(
      /^no per-run cgroups \(cgroup v2 present but not delegated: .* is a threaded group, not a domain\): memory, processes and CPU are per-process rlimits$/,
    );
  });

  test("run groups of a dead process are removed at start; a live process's stay", async () => {
    const { host, serviceDir } = systemdDelegated();
    const backend = await openV2(host);
    const live = await backend.createRun(LIMITS);
    const stale = path.posix.join(serviceDir, 'crucible-runs', 'crucible-999999999-1-abc');
    await host.files.mkdir(stale);
    await openV2(host);
    expect(existsSync(stale)).toBe(false);
    expect(existsSync((live as CgroupV2RunGroup).directory)).toBe(true);
  });
});

describe('cgroup v2 run groups', () => {
  test('limits are written: memory.max, memory.swap.max = 0, pids.max; the launcher joins cgroup.procs', async () => {
    const { host } = systemdDelegated();
    const group = (await (await openV2(host)).createRun(LIMITS)) as CgroupV2RunGroup;
    expect(host.read(group.directory, 'memory.max')).toBe(String(32 * 1024 * 1024));
    expect(host.read(group.directory, 'memory.swap.max')).toBe('0');
    expect(host.read(group.directory, 'pids.max')).toBe('20');
    expect(group.procsFiles).toEqual([path.posix.join(group.directory, 'cgroup.procs')]);
    expect(path.posix.dirname(group.directory)).toMatch(/\/crucible-runs$/);
  });

  test('without swap accounting there is no memory.swap.max to write', async () => {
    const { host } = systemdDelegated({ ...MODERN_KERNEL, swap: false });
    const group = (await (await openV2(host)).createRun(LIMITS)) as CgroupV2RunGroup;
    expect(host.read(group.directory, 'memory.max')).toBe(String(32 * 1024 * 1024));
    expect(existsSync(path.posix.join(group.directory, 'memory.swap.max'))).toBe(false);
  });

  test('a limit that cannot be written is an infrastructure error, and the group is removed', async () => {
    const { host } = systemdDelegated();
    const backend = await openV2(host);
    host.beforeWrite = (file) => {
      if (file.endsWith('pids.max')) throw Object.assign(new Error('EINVAL: pids.max'), { code: 'EINVAL' });
    };
    await expect(backend.createRun(LIMITS)).rejects.toMatchObject({
      name: 'SandboxInfrastructureError',
      message: "cannot set up the run's cgroup: EINVAL: pids.max",
    });
    expect(await host.files.subdirectories(backend.runsDir)).toEqual([]);
  });

  test('usage: memory.peak, memory.events oom_kill, pids.events max, cpu.stat usage_usec', async () => {
    const { host } = systemdDelegated();
    const group = (await (await openV2(host)).createRun(LIMITS)) as CgroupV2RunGroup;
    host.set(group.directory, 'memory.peak', '52428800\n');
    host.set(group.directory, 'memory.events', 'low 0\nhigh 0\nmax 40\noom 2\noom_kill 2\noom_group_kill 0\n');
    host.set(group.directory, 'pids.events', 'max 7\n');
    host.set(group.directory, 'cpu.stat', 'usage_usec 1234567\nuser_usec 1000000\nsystem_usec 234567\nnr_periods 0\n');
    expect(await group.cpuTimeMs()).toBe(1235);
    expect(await group.usage()).toEqual({ cpuTimeMs: 1235, peakMemoryKb: 51200, oomKills: 2, pidsLimitHits: 7 });
  });

  test('before Linux 5.19 (no memory.peak), the peak is the highest memory.current seen at each poll', async () => {
    const { host } = systemdDelegated({ ...MODERN_KERNEL, memoryPeak: false });
    const group = (await (await openV2(host)).createRun(LIMITS)) as CgroupV2RunGroup;
    for (const kb of [1000, 5000, 2000]) {
      host.set(group.directory, 'memory.current', `${kb * 1024}\n`);
      await group.cpuTimeMs();
    }
    host.set(group.directory, 'memory.current', '0\n');
    expect((await group.usage()).peakMemoryKb).toBe(5000);
  });

  test('killAll writes cgroup.kill and returns the pids that were there; destroy then removes the group', async () => {
    const { host } = systemdDelegated();
    const group = (await (await openV2(host)).createRun(LIMITS)) as CgroupV2RunGroup;
    host.set(group.directory, 'cgroup.procs', '111\n222\n');
    expect(await group.killAll()).toEqual([111, 222]);
    expect(host.writes.at(-1)).toEqual([path.posix.relative(host.mountDir, path.posix.join(group.directory, 'cgroup.kill')), '1']);
    expect(host.procs(group.directory)).toEqual([]);
    expect(await group.killAll()).toEqual([]);
    await group.destroy();
    expect(existsSync(group.directory)).toBe(false);
  });

  test('before Linux 5.14 (no cgroup.kill), every pid in cgroup.procs gets SIGKILL', async () => {
    const { host } = systemdDelegated({ ...MODERN_KERNEL, cgroupKill: false });
    const group = (await (await openV2(host)).createRun(LIMITS)) as CgroupV2RunGroup;
    const sleeper = spawn('/bin/sleep', ['30'], { stdio: 'ignore' });
    const ended = new Promise<NodeJS.Signals | null>((resolve) => sleeper.on('exit', (_code, signal) => resolve(signal)));
    host.set(group.directory, 'cgroup.procs', `${sleeper.pid}\n`);
    expect(await group.killAll()).toEqual([sleeper.pid]);
    expect(await ended).toBe('SIGKILL');
  });

  test('destroy refuses (infrastructure error) while a task survives, and leaves the group in place', async () => {
    const { host } = systemdDelegated();
    const group = (await (await openV2(host)).createRun(LIMITS)) as CgroupV2RunGroup;
    host.set(group.directory, 'cgroup.procs', '999999999\n');
    host.unkillable.add(999999999);
    await expect(group.destroy(50)).rejects.toThrow(SandboxInfrastructureError);
    await expect(group.destroy(50)).rejects.toThrow('tasks 999999999 survived their sandboxed run');
    expect(existsSync(group.directory)).toBe(true);
  });
});
