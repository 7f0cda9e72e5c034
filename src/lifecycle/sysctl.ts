// Pod sysctls (upstream pkg/kubelet/sysctl): the safe sysctls are always allowed, others only
// when the node's allowedUnsafeSysctls lists them (names or prefixes ending in '*'), and only
// sysctls known to be namespaced at all; a namespaced sysctl of a namespace the pod shares with
// the node (hostNetwork: net.*, hostIPC: kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*) is
// refused. A pod asking for a forbidden one is rejected at admission: SysctlForbidden. Pure.

/** upstream sysctl.ForbiddenReason. */
export const SYSCTL_FORBIDDEN_REASON = 'SysctlForbidden';

/** Safe sysctls every kernel has namespaced (upstream legacySafeSysctls). */
export const LEGACY_SAFE_SYSCTLS: readonly string[] = [
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
];

/** Safe sysctls only from the kernel version that namespaced them (upstream newerSysctls, pkg/util/kernel). */
export const NEWER_SAFE_SYSCTLS: readonly { name: string; kernel: string }[] = [
  { name: 'net.ipv4.ip_local_reserved_ports', kernel: '3.16' },
  { name: 'net.ipv4.tcp_rmem', kernel: '4.15' },
  { name: 'net.ipv4.tcp_wmem', kernel: '4.15' },
];

/** major.minor of a kernel release string ('6.1.0-18-amd64' -> [6, 1]); null when unreadable. */
function kernelVersion(release: string): [number, number] | null {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m ? [Number(m[1]), Number(m[2])] : null;
}

function atLeast(have: [number, number], want: string): boolean {
  const w = kernelVersion(want)!;
  return have[0] > w[0] || (have[0] === w[0] && have[1] >= w[1]);
}

/**
 * upstream SafeSysctlAllowlist: the legacy list, plus the newer safe sysctls the running kernel
 * (os.release()) namespaces; only the legacy list when the version cannot be read.
 */
export function safeSysctls(kernelRelease: string): string[] {
  const out = [...LEGACY_SAFE_SYSCTLS];
  const v = kernelVersion(kernelRelease);
  if (!v) return out;
  for (const s of NEWER_SAFE_SYSCTLS) if (atLeast(v, s.kernel)) out.push(s.name);
  return out;
}

/**
 * upstream sysctl NormalizeName: a name written with '/' separators
 * (`net/ipv4/conf/eno2.100/rp_filter`) in the dotted form (`net.ipv4.conf.eno2/100.rp_filter`).
 */
export function normalizeSysctlName(name: string): string {
  const first = name.search(/[./]/);
  if (first === -1 || name[first] === '.') return name;
  return name.replace(/[./]/g, (c) => (c === '.' ? '/' : '.'));
}

export type SysctlNamespace = 'ipc' | 'net';

/** The kernel namespace a sysctl belongs to, or null when it is not known to be namespaced (upstream NamespacedBy). */
export function sysctlNamespace(name: string): SysctlNamespace | null {
  if (name === 'kernel.sem') return 'ipc';
  if (name.startsWith('kernel.shm') || name.startsWith('kernel.msg') || name.startsWith('fs.mqueue.')) return 'ipc';
  if (name.startsWith('net.')) return 'net';
  return null;
}

const SEGMENT = '[a-z0-9]([-_a-z0-9]*[a-z0-9])?';
const SYSCTL_PATTERN = new RegExp(`^(${SEGMENT}[./])*(${SEGMENT}\\*?|\\*)$`);
/** upstream validation.SysctlMaxLength. */
const SYSCTL_MAX_LENGTH = 253;

/** A sysctl name or pattern (ending in '*') as allowedUnsafeSysctls may hold (upstream IsValidSysctlPattern). */
export function isValidSysctlPattern(s: string): boolean {
  return s.length <= SYSCTL_MAX_LENGTH && SYSCTL_PATTERN.test(s);
}

/**
 * Why an allowedUnsafeSysctls entry is refused (upstream NewAllowlist, which stops the kubelet),
 * or null when it is fine.
 */
export function allowlistEntryProblem(pattern: string): string | null {
  if (!isValidSysctlPattern(pattern)) return `sysctl ${JSON.stringify(pattern)} must have at most ${SYSCTL_MAX_LENGTH} characters and be a dotted name, optionally ending in '*'`;
  const s = normalizeSysctlName(pattern);
  const name = s.endsWith('*') ? s.slice(0, -1) : s;
  if (sysctlNamespace(name) === null) return s.endsWith('*') ? `the sysctls ${JSON.stringify(s)} are not known to be namespaced` : `the sysctl ${JSON.stringify(s)} are not known to be namespaced`;
  return null;
}

/** The sysctls a node allows (upstream patternAllowlist): exact names and prefixes, each with its namespace. */
export class SysctlAllowlist {
  private readonly names = new Map<string, SysctlNamespace>();
  private readonly prefixes = new Map<string, SysctlNamespace>();

  /** Throws (with upstream's message) on an entry that is not a valid, namespaced sysctl name or pattern. */
  constructor(patterns: readonly string[]) {
    for (const p of patterns) {
      const problem = allowlistEntryProblem(p);
      if (problem) throw new Error(problem);
      const s = normalizeSysctlName(p);
      if (s.endsWith('*')) this.prefixes.set(s.slice(0, -1), sysctlNamespace(s.slice(0, -1))!);
      else this.names.set(s, sysctlNamespace(s)!);
    }
  }

  /** The allowlist of a node: the safe sysctls of its kernel plus allowedUnsafeSysctls. */
  static forNode(kernelRelease: string, allowedUnsafeSysctls: readonly string[]): SysctlAllowlist {
    return new SysctlAllowlist([...safeSysctls(kernelRelease), ...allowedUnsafeSysctls]);
  }

  /** Why the sysctl is forbidden for a pod with these host namespaces, or null when allowed (upstream validateSysctl). */
  check(sysctl: string, hostNetwork: boolean, hostIPC: boolean): string | null {
    const name = normalizeSysctlName(sysctl);
    let ns = this.names.get(name);
    if (ns === undefined) {
      for (const [p, pns] of this.prefixes) {
        if (name.startsWith(p)) {
          ns = pns;
          break;
        }
      }
    }
    if (ns === undefined) return `${JSON.stringify(name)} not allowlisted`;
    if ((ns === 'ipc' && hostIPC) || (ns === 'net' && hostNetwork)) return `${JSON.stringify(name)} not allowed with host ${ns} enabled`;
    return null;
  }

  /** upstream patternAllowlist.Admit: the first forbidden sysctl of the pod as `forbidden sysctl: ...`, or null. */
  admit(pod: { spec?: { hostNetwork?: boolean; hostIPC?: boolean; securityContext?: { sysctls?: { name: string }[] } } }): string | null {
    for (const s of pod.spec?.securityContext?.sysctls ?? []) {
      const why = this.check(s.name, pod.spec?.hostNetwork ?? false, pod.spec?.hostIPC ?? false);
      if (why) return `forbidden sysctl: ${why}`;
    }
    return null;
  }
}
