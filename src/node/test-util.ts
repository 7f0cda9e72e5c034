// For unit tests only: drives async code that waits on a FakeClock, and a sample machine.
import type { FakeClock } from '../common/clock.ts';
import type { MachineInfo } from './machine.ts';

/** Lets pending promise chains (several hops of async functions) run. */
export async function settle(rounds = 8): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

/** Advances the clock in `stepMs` steps, settling after each, until `ms` have passed. */
export async function advance(clock: FakeClock, ms: number, stepMs = 100): Promise<void> {
  await settle();
  for (let done = 0; done < ms; done += stepMs) {
    clock.advance(Math.min(stepMs, ms - done));
    await settle();
  }
}

/** A machine description for status tests: 2 cores, 24684084 KiB, 100 GiB disk, two huge page sizes, none reserved. */
export const MACHINE: MachineInfo = {
  numCores: 2,
  memoryCapacityBytes: 24_684_084 * 1024,
  ephemeralStorageCapacityBytes: 100 * 2 ** 30,
  hugePages: [
    { pageSizeKiB: 2048, numPages: 0 },
    { pageSizeKiB: 1048576, numPages: 0 },
  ],
  machineID: 'mid',
  systemUUID: '',
  bootID: 'boot-1',
  kernelVersion: '6.1.0-test',
  osImage: 'Debian GNU/Linux 12 (bookworm)',
  operatingSystem: 'linux',
  architecture: 'amd64',
};
