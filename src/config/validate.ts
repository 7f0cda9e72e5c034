// The one validation of the merged configuration: every setting's rule, plus nodeName.

import { invalidInput } from '../common/errors.ts';
import { SETTINGS, SETTING_KEYS, expectOf, shown } from './schema.ts';
import type { Setting } from './schema.ts';
import type { KubeletConfig } from './types.ts';
import { formatGoDuration, isDns1123Subdomain } from './values.ts';
import { thresholdConfigProblem } from '../eviction/thresholds.ts';
import { featureGateProblems } from './features.ts';

/** The problems of a merged configuration, one message each; [] when valid. Pure. */
export function configProblems(config: KubeletConfig): string[] {
  const problems: string[] = [];
  for (const key of SETTING_KEYS) {
    const setting = SETTINGS[key];
    const value: unknown = config[key];
    if (setting.rule !== undefined && !setting.rule.test(value)) {
      problems.push(`${describe(setting)}: must be ${expectOf(setting)}, got ${shown(value)}`);
    }
  }
  // Cross-field, as upstream's validation.
  if (config.imageGCLowThresholdPercent >= config.imageGCHighThresholdPercent) {
    problems.push(`imageGCLowThresholdPercent (${config.imageGCLowThresholdPercent}) must be less than imageGCHighThresholdPercent (${config.imageGCHighThresholdPercent})`);
  }
  if (config.imageMaximumGCAgeMs > 0 && config.imageMaximumGCAgeMs <= config.imageMinimumGCAgeMs) {
    problems.push(`imageMaximumGCAge (${formatGoDuration(config.imageMaximumGCAgeMs)}) must be greater than imageMinimumGCAge (${formatGoDuration(config.imageMinimumGCAgeMs)})`);
  }
  // Upstream featureGate.SetFromMap at start-up: unknown gates and locked ones set otherwise.
  if (SETTINGS.featureGates.rule?.test(config.featureGates)) {
    for (const p of featureGateProblems(config.featureGates)) problems.push(`${describe(SETTINGS.featureGates)}: ${p}`);
  }
  // Every soft threshold needs its grace period (upstream ParseThresholdConfig).
  if (problems.length === 0) {
    const eviction = thresholdConfigProblem(config);
    if (eviction) problems.push(`eviction settings: ${eviction}`);
  }
  if (!isDns1123Subdomain(config.nodeName)) {
    problems.push(
      `nodeName (from --hostname-override or the host name): must be a DNS-1123 subdomain ` +
        `(lower-case letters, digits, '-' and '.', at most 253 characters), got ${shown(config.nodeName)}`,
    );
  }
  return problems;
}

/** Throws invalidInput listing every problem ("invalid configuration: ...") unless valid. */
export function validateConfig(config: KubeletConfig): void {
  const problems = configProblems(config);
  if (problems.length > 0) throw invalidInput(`invalid configuration: ${problems.join('; ')}`);
}

/** `field "healthzPort" (flag --healthz-port)`, `flag --node-labels` or `field "x"`. */
function describe(s: Setting): string {
  const field = s.field !== undefined ? `field "${s.field}"` : undefined;
  const flag = s.flag !== undefined ? `flag --${s.flag}` : undefined;
  if (field !== undefined && flag !== undefined) return `${field} (${flag})`;
  return field ?? flag ?? 'setting';
}
