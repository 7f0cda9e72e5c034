// npm run bench: both benchmarks, one after the other, each a child process with its own report:
//   bench/static-pods.ts   static pods, tskubelet standalone (npm run bench:static)
//   bench/cluster-pods.ts  pods through the API server, tskubelet as a cluster node (npm run bench:cluster)
// Before each, waits until no other tskubelet and no `node --test` run runs (the static bench
// refuses to start otherwise). Flags for both (--rounds, --pods, --check, --kubelet, --out) go to
// both; any other flag goes to the one bench that knows it (--remove-foreign-pods: static;
// --variants, --wait: cluster). --timeout goes to both (each bench's own deadline).
// Exit: the first non-zero exit code of the two (both always run), 2 on bad arguments, 130 on Ctrl-C.
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitForQuietMachine } from './lib/quiet.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Flags (with a value unless listed in SWITCHES) and which bench takes them. */
const FLAGS: Record<string, ('static' | 'cluster')[]> = {
  '--rounds': ['static', 'cluster'],
  '--pods': ['static', 'cluster'],
  '--timeout': ['static', 'cluster'],
  '--check': ['static', 'cluster'],
  '--kubelet': ['static', 'cluster'],
  '--out': ['static', 'cluster'],
  '--remove-foreign-pods': ['static'],
  '--variants': ['cluster'],
  '--wait': ['cluster'],
};
const SWITCHES = new Set(['--check', '--remove-foreign-pods']);
/** How long to wait for a quiet machine before each bench, ms. */
const QUIET_WAIT_MS = 30 * 60_000;

const USAGE = `Usage: npm run bench -- [options]
Runs bench/static-pods.ts, then bench/cluster-pods.ts (npm run bench:static, npm run bench:cluster).
  ${Object.keys(FLAGS).map((f) => `${f} (${(FLAGS[f] ?? []).join(', ')})`).join('\n  ')}
`;

function split(argv: readonly string[]): { static: string[]; cluster: string[] } | string {
  const out = { static: [] as string[], cluster: [] as string[] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const flag = a.includes('=') ? a.slice(0, a.indexOf('=')) : a;
    const to = FLAGS[flag];
    if (!to) return flag === '-h' || flag === '--help' ? '' : `unknown argument ${a}`;
    const words = a.includes('=') || SWITCHES.has(flag) ? [a] : [a, argv[++i] ?? ''];
    for (const b of to) out[b].push(...words);
  }
  return out;
}

/** Runs one bench as a child (stdio inherited; Ctrl-C reaches it through the terminal's process group). */
function runChild(script: string, args: string[]): Promise<number> {
  return new Promise((resolveExit) => {
    const child = spawn(process.execPath, [join(ROOT, script), ...args], { cwd: ROOT, stdio: 'inherit' });
    child.once('error', (err) => {
      process.stderr.write(`bench: cannot start ${script}: ${err.message}\n`);
      resolveExit(1);
    });
    child.once('exit', (code, signal) => resolveExit(code ?? (signal ? 130 : 1)));
  });
}

async function main(): Promise<number> {
  const args = split(process.argv.slice(2));
  if (typeof args === 'string') {
    process.stderr.write(args ? `bench: ${args}\n${USAGE}` : USAGE);
    return args ? 2 : 0;
  }
  // The children get the terminal's Ctrl-C themselves and clean up; this process only waits.
  let interrupted = false;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => (interrupted = true));
  const codes: number[] = [];
  for (const [name, script] of [['static', 'bench/static-pods.ts'], ['cluster', 'bench/cluster-pods.ts']] as const) {
    if (interrupted) break;
    const wait = new AbortController();
    const onSig = (): void => wait.abort(new Error('interrupted'));
    process.once('SIGINT', onSig);
    try {
      await waitForQuietMachine(QUIET_WAIT_MS, (m) => process.stderr.write(`bench: ${m}\n`), wait.signal);
    } catch (err) {
      process.stderr.write(`bench: ${(err as Error).message}\n`);
      codes.push(interrupted ? 130 : 1);
      continue;
    } finally {
      process.removeListener('SIGINT', onSig);
    }
    process.stderr.write(`bench: running the ${name} benchmark (${script})\n`);
    codes.push(await runChild(script, args[name]));
  }
  return codes.find((c) => c !== 0) ?? (interrupted ? 130 : 0);
}

process.exitCode = await main();
