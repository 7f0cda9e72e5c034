// Structured logs (pino, JSON lines on stderr). Fixed keys: component, pod, podUID, container.
// `--v` maps to pino levels: 0-1 info, 2-3 debug, 4+ trace. Never log a token or a secret's value.
import { pino, type Logger } from 'pino';

export type { Logger };

export function levelForVerbosity(v: number): pino.Level {
  if (v >= 4) return 'trace';
  if (v >= 2) return 'debug';
  return 'info';
}

export function createLogger(verbosity = 0, destination: pino.DestinationStream = pino.destination(2)): Logger {
  return pino(
    {
      level: levelForVerbosity(verbosity),
      base: { component: 'tskubelet' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['token', '*.token', 'password', '*.password', 'auth', '*.auth'], censor: '[redacted]' },
    },
    destination,
  );
}

/** A logger that drops everything, for tests. */
export const silentLogger: Logger = pino({ level: 'silent' });
