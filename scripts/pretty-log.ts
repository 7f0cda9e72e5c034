// Turns tskubelet's JSON log lines (stdin) into short human lines (stdout), for `npm start`.
// Pod status changes print as `kubectl get pods` would show them. Lines that are not JSON pass through.
import { createInterface } from 'node:readline';

const RESERVED = new Set(['level', 'time', 'msg', 'component', 'pid', 'hostname']);
const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };

// Ctrl-C reaches the whole process group: this printer keeps going until tskubelet, shutting
// down, closes the pipe, so that its last lines are shown too.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});

for await (const line of createInterface({ input: process.stdin })) {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    process.stdout.write(`${line}\n`);
    continue;
  }
  const time = String(rec.time ?? '').slice(11, 23);
  if (rec.msg === 'pod status') {
    const cols = [String(rec.pod).padEnd(34), String(rec.ready).padEnd(5), String(rec.status).padEnd(22), `restarts=${String(rec.restarts)}`.padEnd(12), String(rec.podIP ?? '')];
    process.stdout.write(`${time} POD   ${cols.join(' ')}\n`);
    continue;
  }
  const extra = Object.entries(rec)
    .filter(([k]) => !RESERVED.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  const level = LEVELS[Number(rec.level)] ?? String(rec.level);
  const component = rec.component && rec.component !== 'tskubelet' ? `[${String(rec.component)}] ` : '';
  process.stdout.write(`${time} ${level} ${component}${String(rec.msg ?? '')}${extra ? `  ${extra}` : ''}\n`);
}
