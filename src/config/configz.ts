// /configz: the configuration in effect, as upstream serves it ({"kubeletconfig": {...}}): every
// KubeletConfiguration field tskubelet implements with its merged value (durations as Go
// strings, nested fields nested), plus the accepted fields it keeps but does not act on. Pure.
import { SETTINGS, SETTING_KEYS } from './schema.ts';
import type { KubeletConfig } from './types.ts';
import { formatGoDuration } from './values.ts';

export function configzView(config: KubeletConfig): { kubeletconfig: Record<string, unknown> } {
  const out: Record<string, unknown> = { ...structuredClone(config.passThrough) };
  for (const key of SETTING_KEYS) {
    const { field, kind } = SETTINGS[key];
    if (field === undefined) continue;
    const value: unknown = config[key];
    const parts = field.split('.');
    let node = out;
    for (const p of parts.slice(0, -1)) {
      const next = node[p];
      node = (node[p] = typeof next === 'object' && next !== null ? next : {}) as Record<string, unknown>;
    }
    node[parts.at(-1)!] = kind === 'duration' && typeof value === 'number' ? formatGoDuration(value) : value;
  }
  return { kubeletconfig: out };
}
