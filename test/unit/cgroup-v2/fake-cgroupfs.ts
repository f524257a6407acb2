/**
 * A fake cgroup v2 host in a temp dir, for unit tests of the v2 backend's file protocol: a fake
 * /proc/self (mountinfo, cgroup) and a cgroupfs tree under <root>/sys/fs/cgroup, with the kernel
 * rules the backend depends on: interface files appear on mkdir (per enabled controller, and per
 * kernel feature), a file that does not exist cannot be created, writing a pid to cgroup.procs
 * moves it, a non-root group with processes cannot enable controllers for children (and one with
 * controllers enabled cannot take processes), rmdir of a populated group is EBUSY, cgroup.kill
 * empties the group. Pids are only numbers here: nothing is signalled through cgroup.kill.
 */
import { mkdirSync, mkdtempSync, promises as fs, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CgroupFiles } from '../../../src/sandbox/host/cgroup-v2-files';

export interface FakeKernel {
  /** memory.peak exists (Linux 5.19+). */
  memoryPeak: boolean;
  /** cgroup.kill exists (Linux 5.14+). */
  cgroupKill: boolean;
  /** memory.swap.max exists (swap accounting). */
  swap: boolean;
}

export const MODERN_KERNEL: FakeKernel = { memoryPeak: true, cgroupKill: true, swap: true };

const ALL_CONTROLLERS = 'cpuset cpu io memory hugetlb pids rdma misc';

export const MOUNTINFO = {
  v2: '24 1 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n',
  v1: [
    '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
    '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
    '39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids',
    '',
  ].join('\n'),
  hybrid: [
    '31 23 0:28 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755',
    '32 31 0:29 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate',
    '35 31 0:32 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,memory',
    '39 31 0:36 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:18 - cgroup cgroup rw,pids',
    '',
  ].join('\n'),
};

function errno(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

export class FakeCgroupHost {
  readonly root = mkdtempSync(path.join(tmpdir(), 'crucible-fake-cgroupfs-'));
  readonly mountDir = path.posix.join(this.root, 'sys/fs/cgroup');
  readonly procDir = path.posix.join(this.root, 'proc');
  /** Refuse every write and mkdir with this errno (a read-only mount: EROFS; no delegation: EACCES). */
  refuseWrites: 'EROFS' | 'EACCES' | null = null;
  /** Pids cgroup.kill does not remove (a task that would survive its run). */
  readonly unkillable = new Set<number>();
  /** Every write the backend made, in order: [path relative to the mount, content]. */
  readonly writes: Array<[string, string]> = [];
  /** Called before each write takes effect (to inject a race, or a failure by throwing). */
  beforeWrite: (relative: string, content: string) => void = () => {};

  constructor(
    readonly kernel: FakeKernel = MODERN_KERNEL,
    mountinfo: string = MOUNTINFO.v2,
  ) {
    mkdirSync(path.posix.join(this.procDir, 'self'), { recursive: true });
    writeFileSync(path.posix.join(this.procDir, 'self/mountinfo'), mountinfo);
    mkdirSync(this.mountDir, { recursive: true });
    // The root group: no cgroup.type, every controller, all enabled for children.
    this.writeGroupFiles(this.mountDir, {
      'cgroup.controllers': ALL_CONTROLLERS,
      'cgroup.subtree_control': 'cpu io memory pids',
      'cgroup.procs': '1\n',
    });
  }

  /** This process's membership as /proc/self/cgroup shows it. */
  setOwnGroup(groupPath: string): void {
    writeFileSync(path.posix.join(this.procDir, 'self/cgroup'), `0::${groupPath}\n`);
  }

  /** A group made by someone else (systemd, the container runtime), with what it was given. */
  addGroup(groupPath: string, options: { controllers: string; procs?: number[]; type?: string }): string {
    const directory = path.posix.join(this.mountDir, groupPath);
    mkdirSync(directory, { recursive: true });
    this.writeGroupFiles(directory, {
      ...this.interfaceFiles(options.controllers.split(' ').filter(Boolean)),
      'cgroup.controllers': options.controllers,
      'cgroup.type': `${options.type ?? 'domain'}\n`,
      'cgroup.procs': (options.procs ?? []).map((pid) => `${pid}\n`).join(''),
    });
    return directory;
  }

  read(directory: string, file: string): string {
    return readFileSync(path.posix.join(directory, file), 'utf8');
  }

  set(directory: string, file: string, content: string): void {
    writeFileSync(path.posix.join(directory, file), content);
  }

  procs(directory: string): number[] {
    return this.read(directory, 'cgroup.procs').split('\n').filter(Boolean).map(Number);
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }

  readonly files: CgroupFiles = {
    read: (file) => fs.readFile(file, 'utf8'),
    exists: async (file) => existsSync(file),
    subdirectories: async (directory) =>
      readdirSync(directory, { withFileTypes: true })
        .filter((entry) => entry.isDirectory())
        .map((entry) => entry.name),
    mkdir: async (directory) => {
      if (this.refuseWrites) throw errno(this.refuseWrites, `mkdir ${directory}`);
      await fs.mkdir(directory); // EEXIST as the kernel says it
      const parentEnabled = this.read(path.posix.dirname(directory), 'cgroup.subtree_control').split(/\s+/).filter(Boolean);
      this.writeGroupFiles(directory, {
        ...this.interfaceFiles(parentEnabled),
        'cgroup.controllers': parentEnabled.join(' '),
        'cgroup.type': 'domain\n',
        'cgroup.procs': '',
      });
    },
    rmdir: async (directory) => {
      if (this.procs(directory).length > 0) throw errno('EBUSY', `rmdir ${directory}: tasks remain`);
      const entries = readdirSync(directory, { withFileTypes: true });
      if (entries.some((entry) => entry.isDirectory())) throw errno('EBUSY', `rmdir ${directory}: child groups remain`);
      rmSync(directory, { recursive: true }); // the interface files go with the group
    },
    write: async (file, content) => {
      const relative = path.posix.relative(this.mountDir, file);
      if (this.refuseWrites) throw errno(this.refuseWrites, `write ${relative}`);
      if (!existsSync(file)) throw errno('ENOENT', `${relative} does not exist (cgroupfs files cannot be created)`);
      this.beforeWrite(relative, content);
      this.writes.push([relative, content]);
      const directory = path.posix.dirname(file);
      switch (path.posix.basename(file)) {
        case 'cgroup.procs':
          return this.movePid(Number(content.trim()), directory);
        case 'cgroup.subtree_control':
          return this.enableControllers(directory, content);
        case 'cgroup.kill':
          this.set(
            directory,
            'cgroup.procs',
            this.procs(directory)
              .filter((pid) => this.unkillable.has(pid))
              .map((pid) => `${pid}\n`)
              .join(''),
          );
          return;
        default:
          writeFileSync(file, content);
      }
    },
  };

  private movePid(pid: number, target: string): void {
    const isRoot = target === this.mountDir;
    if (!isRoot && this.read(target, 'cgroup.subtree_control').trim() !== '') {
      throw errno('EBUSY', `${target} has controllers enabled for children: no internal processes`);
    }
    for (const group of this.allGroups()) {
      const pids = this.procs(group);
      if (pids.includes(pid))
        this.set(
          group,
          'cgroup.procs',
          pids
            .filter((other) => other !== pid)
            .map((other) => `${other}\n`)
            .join(''),
        );
    }
    this.set(target, 'cgroup.procs', [...this.procs(target), pid].map((other) => `${other}\n`).join(''));
  }

  private enableControllers(directory: string, content: string): void {
    const available = this.read(directory, 'cgroup.controllers').split(/\s+/);
    const enabled = new Set(this.read(directory, 'cgroup.subtree_control').split(/\s+/).filter(Boolean));
    for (const token of content.trim().split(/\s+/)) {
      const controller = token.slice(1);
      if (!available.includes(controller)) throw errno('ENOENT', `${controller} is not available in ${directory}`);
      if (token.startsWith('+')) enabled.add(controller);
      else enabled.delete(controller);
    }
    if (directory !== this.mountDir && this.procs(directory).length > 0) throw errno('EBUSY', `${directory} has processes`);
    this.set(directory, 'cgroup.subtree_control', [...enabled].join(' '));
  }

  private allGroups(directory = this.mountDir): string[] {
    const children = readdirSync(directory, { withFileTypes: true }).filter((entry) => entry.isDirectory());
    return [directory, ...children.flatMap((child) => this.allGroups(path.posix.join(directory, child.name)))];
  }

  /** The interface files a group gets for its enabled controllers on this kernel. */
  private interfaceFiles(controllers: string[]): Record<string, string> {
    const files: Record<string, string> = {
      'cgroup.subtree_control': '',
      'cgroup.events': 'populated 0\nfrozen 0\n',
      // A core file: present whether or not the cpu controller is enabled.
      'cpu.stat': 'usage_usec 0\nuser_usec 0\nsystem_usec 0\n',
    };
    if (this.kernel.cgroupKill) files['cgroup.kill'] = '';
    if (controllers.includes('memory')) {
      Object.assign(files, {
        'memory.max': 'max\n',
        'memory.current': '0\n',
        'memory.events': 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n',
      });
      if (this.kernel.memoryPeak) files['memory.peak'] = '0\n';
      if (this.kernel.swap) files['memory.swap.max'] = 'max\n';
    }
    if (controllers.includes('pids')) Object.assign(files, { 'pids.max': 'max\n', 'pids.current': '0\n', 'pids.events': 'max 0\n' });
    return files;
  }

  private writeGroupFiles(directory: string, files: Record<string, string>): void {
    for (const [name, content] of Object.entries(files)) writeFileSync(path.posix.join(directory, name), content);
  }
}
