import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { goArch, parseMemTotal, parsePrettyName, readMachineInfo } from './machine.ts';
import { formatQuantity } from './quantity.ts';

test('parseMemTotal: kB to bytes', () => {
  assert.equal(parseMemTotal('MemTotal:       24684084 kB\nMemFree:  1 kB\n'), 24684084 * 1024);
  assert.equal(parseMemTotal('MemFree: 1 kB\n'), undefined);
});

test("parsePrettyName: unquoted; 'Linux' when absent", () => {
  assert.equal(parsePrettyName('NAME="Debian"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n'), 'Debian GNU/Linux 12 (bookworm)');
  assert.equal(parsePrettyName("PRETTY_NAME='Alpine'\n"), 'Alpine');
  assert.equal(parsePrettyName('PRETTY_NAME=Plain\n'), 'Plain');
  assert.equal(parsePrettyName('NAME=x\n'), 'Linux');
});

test('goArch: Node arch names to GOARCH', () => {
  assert.equal(goArch('x64'), 'amd64');
  assert.equal(goArch('arm64'), 'arm64');
  assert.equal(goArch('ia32'), '386');
  assert.equal(goArch('s390x'), 's390x');
});

test('readMachineInfo: from a fake /proc, /sys and /etc', async (t) => {
  const root = await mkdtemp(path.join(tmpdir(), 'machine-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const put = async (rel: string, text: string): Promise<void> => {
    await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await writeFile(path.join(root, rel), text);
  };
  await put('proc/meminfo', 'MemTotal:        2048 kB\n');
  await put('proc/sys/kernel/random/boot_id', 'boot-id\n');
  await put('etc/machine-id', 'machine-id\n');
  await put('etc/os-release', 'PRETTY_NAME="Test OS 1"\n');
  await put('sys/class/dmi/id/product_uuid', 'UUID-1\n');
  await put('sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages', '3\n');
  await put('sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages', '0\n');
  const m = await readMachineInfo(path.join(root, 'no/such/dir'), { fsRoot: root });
  assert.equal(m.memoryCapacityBytes, 2048 * 1024);
  assert.equal(m.bootID, 'boot-id');
  assert.equal(m.machineID, 'machine-id');
  assert.equal(m.systemUUID, 'UUID-1');
  assert.equal(m.osImage, 'Test OS 1');
  assert.deepEqual(m.hugePages, [
    { pageSizeKiB: 2048, numPages: 3 },
    { pageSizeKiB: 1048576, numPages: 0 },
  ]);
  assert.ok(m.ephemeralStorageCapacityBytes! > 0, 'statfs of the nearest existing parent');
  assert.equal(m.operatingSystem, 'linux');
  assert.ok(m.numCores >= 1);
});

test('readMachineInfo: missing identity files give empty strings; no meminfo is an error', async (t) => {
  const root = await mkdtemp(path.join(tmpdir(), 'machine-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  await assert.rejects(readMachineInfo(root, { fsRoot: root }), /meminfo/);
  await mkdir(path.join(root, 'proc'));
  await writeFile(path.join(root, 'proc/meminfo'), 'MemTotal: 1024 kB\n');
  const m = await readMachineInfo(root, { fsRoot: root });
  assert.deepEqual([m.machineID, m.systemUUID, m.bootID, m.osImage, m.hugePages.length], ['', '', '', 'Linux', 0]);
});

test('readMachineInfo: this machine', async () => {
  const m = await readMachineInfo('/var/lib/kubelet');
  assert.ok(m.memoryCapacityBytes > 0 && m.memoryCapacityBytes % 1024 === 0);
  assert.match(m.bootID, /^[0-9a-f-]{36}$/);
  assert.ok(m.kernelVersion.length > 0);
  assert.ok(m.ephemeralStorageCapacityBytes! > 0);
});

test('formatQuantity: canonical forms as the API server prints them', () => {
  assert.equal(formatQuantity(0, 'BinarySI'), '0');
  assert.equal(formatQuantity(110, 'DecimalSI'), '110');
  assert.equal(formatQuantity(2000, 'DecimalSI'), '2k');
  assert.equal(formatQuantity(1500, 'DecimalSI'), '1500');
  assert.equal(formatQuantity(1000, 'BinarySI'), '1k'); // below 1024: written as DecimalSI
  assert.equal(formatQuantity(1023, 'BinarySI'), '1023');
  assert.equal(formatQuantity(2048 * 1024, 'BinarySI'), '2Mi');
  assert.equal(formatQuantity(1025 * 1024, 'BinarySI'), '1025Ki');
  assert.equal(formatQuantity(1025, 'BinarySI'), '1025');
  assert.equal(formatQuantity(107374182400n, 'BinarySI'), '100Gi');
});
