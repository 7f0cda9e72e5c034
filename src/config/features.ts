// Kubelet feature gates (upstream k8s.io/component-base/featuregate over pkg/features): the
// gates tskubelet knows, their defaults, and the checks upstream's SetFromMap makes at start-up.
// Pure.
import { parseGoBool } from './values.ts';

/** Upstream prerelease stages (only what the table uses). */
export type PreRelease = 'Alpha' | 'Beta' | 'GA';

export interface FeatureSpec {
  readonly default: boolean;
  readonly preRelease: PreRelease;
  /** GA gates upstream keeps only so that old configurations load: they cannot be turned off. */
  readonly lockToDefault?: true;
}

/**
 * The gates tskubelet recognises. Upstream knows hundreds; a gate tskubelet does not have is
 * refused as upstream refuses one it does not have ("unrecognized feature gate"), so that a
 * configuration never silently asks for a behaviour that is not there.
 */
export const FEATURE_GATES: Readonly<Record<string, FeatureSpec>> = Object.freeze({
  /** Per-QoS memory limits from qosReserved (upstream alpha since 1.8, off by default). */
  QOSReserved: { default: false, preRelease: 'Alpha' },
  /** Restartable init containers: GA and locked since 1.33; tskubelet always has them. */
  SidecarContainers: { default: true, preRelease: 'GA', lockToDefault: true },
});

export const QOS_RESERVED = 'QOSReserved';

/** Whether `name` is on: the configured value, else the gate's default (false when unknown). */
export function featureEnabled(gates: Readonly<Record<string, boolean>>, name: string): boolean {
  if (Object.hasOwn(gates, name)) return gates[name] === true;
  return Object.hasOwn(FEATURE_GATES, name) ? FEATURE_GATES[name]!.default : false;
}

/**
 * Upstream featureGate.SetFromMap's refusals, one message each ([] when the map is accepted):
 * "unrecognized feature gate: X" and "cannot set feature gate X to false, feature is locked to true".
 */
export function featureGateProblems(gates: Readonly<Record<string, boolean>>): string[] {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(gates)) {
    const spec = Object.hasOwn(FEATURE_GATES, name) ? FEATURE_GATES[name] : undefined;
    if (spec === undefined) problems.push(`unrecognized feature gate: ${name}`);
    else if (spec.lockToDefault && value !== spec.default) {
      problems.push(`cannot set feature gate ${name} to ${value}, feature is locked to ${spec.default}`);
    }
  }
  return problems;
}

/**
 * `A=true,B=false` (upstream cliflag.MapStringBool, values as strconv.ParseBool) -> record;
 * undefined when a pair lacks '=' or its value is not a boolean.
 */
export function parseFeatureGatePairs(text: string): Record<string, boolean> | undefined {
  const out: Record<string, boolean> = {};
  for (const pair of text.split(',')) {
    if (pair.trim() === '') continue;
    const eq = pair.indexOf('=');
    if (eq < 0) return undefined;
    const value = parseGoBool(pair.slice(eq + 1).trim());
    if (value === undefined) return undefined;
    out[pair.slice(0, eq).trim()] = value;
  }
  return out;
}
