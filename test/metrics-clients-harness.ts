// Real clients of the kubelet API for the tests (test/metrics-clients.test.ts):
// - metrics-server, built from its Go module and run on this host by scripts/addons.sh, registered
//   with the cluster's aggregator (APIService v1beta1.metrics.k8s.io), so `kubectl top` works;
// - Prometheus, Debian's package, run here with a config of the test's own (a free loopback port,
//   a temp storage folder) and queried through its HTTP API;
// - plain HTTPS requests to a kubelet, with or without a bearer token.
// Missing pieces fail (never skip) with what to run.
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { access, constants, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { errorMessage } from '../src/common/errors.ts';
import { freePort } from './harness.ts';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const ADDONS_SH = path.join(REPO_ROOT, 'scripts', 'addons.sh');
/** Debian's prometheus package puts the server here. */
export const PROMETHEUS_BIN = '/usr/bin/prometheus';
export const METRICS_SERVER_HINT = 'run bash scripts/addons.sh build (once per machine: builds metrics-server from its Go module, ~2-3 min on 2 cores)';
export const PROMETHEUS_HINT = "run npm run setup as root (it installs Debian's prometheus package)";

/** `metrics-server-up` when it runs already: under a second; a cold start with the cluster check: a few s; allow a loaded machine. */
const METRICS_SERVER_UP_TIMEOUT_MS = 240_000;
/** Prometheus 2.42 opens its TSDB and serves /-/ready within a second or two on an empty folder. */
const PROMETHEUS_READY_TIMEOUT_MS = 30_000;
/** How long Prometheus may take to stop on SIGTERM before SIGKILL, ms. */
const PROMETHEUS_STOP_TIMEOUT_MS = 10_000;
/** Lines of Prometheus' own log kept for failure messages. */
const PROMETHEUS_LOG_LINES = 200;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Prometheus processes of this test process: killed on exit, whatever happens. */
const liveChildren = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
});

/** Runs a command in the repo; resolves to stdout; rejects with stderr in the message. */
export function run(file: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd: REPO_ROOT, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(file)} ${args.join(' ')} failed: ${err.message}\n${stderr}`, { cause: err }));
      else resolve(stdout);
    });
  });
}

/**
 * Calls `check` every `everyMs` until it resolves to a value other than undefined/null/false and
 * resolves to it; a rejection counts as "not yet" (a failed assertion fails at once). For checks
 * that spawn a process (kubectl), which POLL_MS would make too frequent. Throws after `timeoutMs`
 * with the last value or error.
 */
export async function pollEvery<T>(
  check: () => Promise<T | undefined | null | false>,
  everyMs: number,
  timeoutMs: number,
  description: string,
  detail: () => string = () => '',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== null && value !== false) return value;
      last = '';
    } catch (err) {
      if (err instanceof assert.AssertionError) throw err;
      last = errorMessage(err);
    }
    if (Date.now() > deadline) {
      const extra = detail();
      throw new Error(`timed out after ${timeoutMs} ms waiting for: ${description}${last ? `\nlast error: ${last}` : ''}${extra ? `\n${extra}` : ''}`);
    }
    await sleep(everyMs);
  }
}

// --- metrics-server ------------------------------------------------------------------------------------

/**
 * `scripts/addons.sh metrics-server-up`: metrics-server runs on this host and its APIService is
 * Available (it brings the control plane up with current flags first). Idempotent. Fails with
 * METRICS_SERVER_HINT when it is not built, else with the script's message.
 */
export async function metricsServerUp(): Promise<void> {
  try {
    await run('bash', [ADDONS_SH, 'metrics-server-up'], METRICS_SERVER_UP_TIMEOUT_MS);
  } catch (err) {
    const msg = errorMessage(err);
    assert.fail(msg.includes('is not built') ? `metrics-server is not built: ${METRICS_SERVER_HINT}\n${msg}` : `metrics-server could not be started: ${msg}`);
  }
}

/** `scripts/addons.sh metrics-server-down`: stops it and deletes its APIService, Service, EndpointSlice and RBAC. */
export async function metricsServerDown(): Promise<void> {
  await run('bash', [ADDONS_SH, 'metrics-server-down'], 60_000);
}

/** The last lines of metrics-server's log (scripts/addons.sh keeps it with the cluster's logs). */
export async function metricsServerLogTail(lines = 30): Promise<string> {
  return run('tail', ['-n', String(lines), '/var/lib/tskubelet-cluster/logs/metrics-server.log'], 5_000).catch((err: unknown) => errorMessage(err));
}

// --- the kubelet API over HTTPS ------------------------------------------------------------------------------

export interface HttpsResult {
  status: number;
  body: string;
}

/**
 * GET `url` on a kubelet (its serving certificate is not verified: tskubelet's is self-signed),
 * with `Authorization: Bearer <token>` when a token is given. Resolves to the status and body.
 */
export function kubeletGet(url: string, token?: string, timeoutMs = 15_000): Promise<HttpsResult> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', rejectUnauthorized: false, headers: token ? { Authorization: `Bearer ${token}` } : {}, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

// --- Prometheus ------------------------------------------------------------------------------------------------

/** Fails (never skips) with PROMETHEUS_HINT unless Debian's prometheus is installed. */
export async function assertPrometheusInstalled(): Promise<void> {
  try {
    await access(PROMETHEUS_BIN, constants.X_OK);
  } catch {
    assert.fail(`${PROMETHEUS_BIN} is missing: ${PROMETHEUS_HINT}`);
  }
}

/** The kubelet endpoints Prometheus scrapes, by job name (upstream's paths). */
export const KUBELET_METRICS_PATHS: Readonly<Record<string, string>> = {
  kubelet: '/metrics',
  'kubelet-cadvisor': '/metrics/cadvisor',
  'kubelet-probes': '/metrics/probes',
  'kubelet-resource': '/metrics/resource',
};

export interface KubeletScrapeOptions {
  /** host:port of the kubelet API. */
  target: string;
  /** A file holding the bearer token Prometheus sends. */
  tokenFile: string;
  /** Extra labels on every series (e.g. { node }). */
  labels?: Record<string, string>;
  /** Scrape interval, s. */
  intervalS?: number;
}

/**
 * A Prometheus configuration scraping one kubelet's metrics endpoints (KUBELET_METRICS_PATHS)
 * over HTTPS with a bearer token (credentials_file) and without verifying its self-signed
 * certificate, as the usual kubelet scrape jobs do. Pure.
 */
export function kubeletScrapeConfig(o: KubeletScrapeOptions): string {
  const interval = o.intervalS ?? 3;
  return stringify({
    global: { scrape_interval: `${interval}s`, scrape_timeout: `${Math.max(1, interval - 1)}s`, evaluation_interval: `${interval}s` },
    scrape_configs: Object.entries(KUBELET_METRICS_PATHS).map(([job, metricsPath]) => ({
      job_name: job,
      scheme: 'https',
      metrics_path: metricsPath,
      authorization: { type: 'Bearer', credentials_file: o.tokenFile },
      tls_config: { insecure_skip_verify: true },
      static_configs: [{ targets: [o.target], labels: o.labels ?? {} }],
    })),
  });
}

/** One of Prometheus' active targets (/api/v1/targets). */
export interface PromTarget {
  labels: Record<string, string>;
  scrapeUrl: string;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
  lastScrape: string;
}

/** One sample of an instant vector (/api/v1/query). */
export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

/**
 * A Prometheus server of a test: Debian's binary with its own config, on a free loopback port,
 * storage in a temp folder. start() resolves once /-/ready answers; stop() ends it and removes
 * the folder (call it in a finally).
 */
export class Prometheus {
  readonly url: string;
  readonly workDir: string;
  private readonly child: ChildProcess;
  private readonly log: string[] = [];
  private exitInfo: string | null = null;
  private readonly exited: Promise<void>;

  private constructor(child: ChildProcess, url: string, workDir: string) {
    this.child = child;
    this.url = url;
    this.workDir = workDir;
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) => {
        this.log.push(line);
        if (this.log.length > PROMETHEUS_LOG_LINES) this.log.shift();
      });
    }
    liveChildren.add(child);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        liveChildren.delete(child);
        this.exitInfo = signal ? `killed by ${signal}` : `exited with code ${code}`;
        resolve();
      });
      child.once('error', (err) => {
        liveChildren.delete(child);
        this.exitInfo = `could not be spawned: ${err.message}`;
        resolve();
      });
    });
  }

  /**
   * Writes `config` (YAML) into a new temp folder and starts Prometheus on it; `files` are
   * written there too (mode 0600) first, e.g. a token file the config names. Resolves once ready;
   * throws with its log when it exits or is not ready in time.
   */
  static async start(config: (workDir: string) => string, files: Record<string, string> = {}): Promise<Prometheus> {
    await assertPrometheusInstalled();
    const workDir = await mkdtemp(path.join(tmpdir(), 'tskubelet-prometheus-'));
    for (const [name, content] of Object.entries(files)) await writeFile(path.join(workDir, name), content, { mode: 0o600 });
    const configFile = path.join(workDir, 'prometheus.yml');
    await writeFile(configFile, config(workDir));
    const port = await freePort();
    const child = spawn(
      PROMETHEUS_BIN,
      [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${path.join(workDir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--storage.tsdb.retention.time=1h',
        '--log.level=info',
      ],
      { cwd: workDir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const prom = new Prometheus(child, `http://127.0.0.1:${port}`, workDir);
    const deadline = Date.now() + PROMETHEUS_READY_TIMEOUT_MS;
    for (;;) {
      if (prom.exitInfo !== null) {
        await rm(workDir, { recursive: true, force: true });
        throw new Error(`prometheus ${prom.exitInfo} during start-up\n${prom.logTail()}`);
      }
      const ready = await fetch(`${prom.url}/-/ready`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.ok).catch(() => false);
      if (ready) return prom;
      if (Date.now() > deadline) {
        await prom.stop();
        throw new Error(`prometheus was not ready within ${PROMETHEUS_READY_TIMEOUT_MS} ms\n${prom.logTail()}`);
      }
      await sleep(200);
    }
  }

  get running(): boolean {
    return this.exitInfo === null;
  }

  /** GET an API path; resolves to its `data`; throws on an HTTP or API error. */
  private async api<T>(apiPath: string, query: Record<string, string> = {}): Promise<T> {
    const u = new URL(apiPath, this.url);
    for (const [k, v] of Object.entries(query)) u.searchParams.set(k, v);
    const res = await fetch(u, { signal: AbortSignal.timeout(10_000) });
    const body = (await res.json()) as { status?: string; data?: T; error?: string };
    if (!res.ok || body.status !== 'success') throw new Error(`prometheus ${u.pathname}: HTTP ${res.status} ${body.error ?? ''}`);
    return body.data as T;
  }

  /** The active scrape targets with their health and last error. */
  async targets(): Promise<PromTarget[]> {
    return (await this.api<{ activeTargets: PromTarget[] }>('/api/v1/targets', { state: 'active' })).activeTargets;
  }

  /** An instant query; resolves to its vector's samples. */
  async query(expr: string): Promise<PromSample[]> {
    const data = await this.api<{ resultType: string; result: PromSample[] }>('/api/v1/query', { query: expr });
    assert.equal(data.resultType, 'vector', `${expr} is an instant vector`);
    return data.result;
  }

  logTail(lines = 40): string {
    return `--- prometheus log (last ${lines} lines) ---\n${this.log.slice(-lines).join('\n')}`;
  }

  /** SIGTERM, SIGKILL after 10 s; removes the work folder. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.exitInfo === null) {
      this.child.kill('SIGTERM');
      const killer = setTimeout(() => this.child.kill('SIGKILL'), PROMETHEUS_STOP_TIMEOUT_MS);
      await this.exited;
      clearTimeout(killer);
    }
    await rm(this.workDir, { recursive: true, force: true });
  }
}
