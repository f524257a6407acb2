/**
 * Where the worker's CPU group goes, read from /proc/self/mountinfo and /proc/self/cgroup as
 * hosts write them (the move itself is tested for real in test/e2e/one-command-start.test.ts).
 */
import { WORKER_CPU_GROUP, workerCpuGroupDirectory } from '../../src/main/worker-cpu-group';

const mount = (id: number, root: string, mountPoint: string, controllers: string) =>
  `${id} 25 0:${id} ${root} ${mountPoint} rw,relatime shared:${id} - cgroup cgroup rw,${controllers}`;
const CGROUP2_ONLY = '30 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate';

describe('workerCpuGroupDirectory', () => {
  it('puts the group below the process own group in a cpu hierarchy of its own', () => {
    const mountinfo = [mount(31, '/', '/sys/fs/cgroup/cpu', 'cpu'), mount(32, '/', '/sys/fs/cgroup/cpuacct', 'cpuacct')].join('\n');
    expect(workerCpuGroupDirectory(mountinfo, '2:cpuacct:/\n1:cpu:/\n0::/\n')).toBe(`/sys/fs/cgroup/cpu/${WORKER_CPU_GROUP}`);
    expect(workerCpuGroupDirectory(mountinfo, '1:cpu:/services/eval\n')).toBe(`/sys/fs/cgroup/cpu/services/eval/${WORKER_CPU_GROUP}`);
  });

  it('finds cpu mounted together with cpuacct, and a container whose hierarchy is mounted from its own group', () => {
    const mountinfo = mount(33, '/docker/abc', '/sys/fs/cgroup/cpu,cpuacct', 'cpu,cpuacct');
    expect(workerCpuGroupDirectory(mountinfo, '4:cpu,cpuacct:/docker/abc\n')).toBe(`/sys/fs/cgroup/cpu,cpuacct/${WORKER_CPU_GROUP}`);
  });

  it('stays in a worker group it already is in, rather than nesting another', () => {
    const mountinfo = mount(31, '/', '/sys/fs/cgroup/cpu', 'cpu');
    expect(workerCpuGroupDirectory(mountinfo, `1:cpu:/${WORKER_CPU_GROUP}\n`)).toBe(`/sys/fs/cgroup/cpu/${WORKER_CPU_GROUP}`);
  });

  it('says why when there is no cgroup v1 cpu hierarchy, or the group is outside the one mounted', () => {
    expect(workerCpuGroupDirectory(CGROUP2_ONLY, '0::/user.slice/session-1.scope\n')).toEqual({
      reason: 'no cgroup v1 cpu hierarchy is mounted',
    });
    expect(workerCpuGroupDirectory(mount(31, '/docker/abc', '/sys/fs/cgroup/cpu', 'cpu'), '1:cpu:/other\n')).toEqual({
      reason: "this process's cpu group /other is outside the mounted hierarchy",
    });
  });
});
