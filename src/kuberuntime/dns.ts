// The pod's DNS settings for the sandbox, by dnsPolicy (upstream pkg/kubelet/network/dns).
// Pure: the host's resolv.conf content is passed in.

export interface DnsSettings {
  servers: string[];
  searches: string[];
  options: string[];
}

export interface DnsInputs {
  clusterDNS: string[];
  clusterDomain: string;
  hostResolvConf: string; // content of --resolv-conf ('' when none)
}

/** Upstream limits: at most 32 search domains, 2048 characters in all (validation.MaxDNSSearchPaths etc.). */
const MAX_DNS_SEARCH_PATHS = 32;
const MAX_DNS_SEARCH_CHARS = 2048;
const MAX_NAMESERVERS = 3;

export function parseResolvConf(content: string): DnsSettings {
  const out: DnsSettings = { servers: [], searches: [], options: [] };
  for (const raw of content.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [key, ...fields] = line.split(/\s+/);
    if (key === 'nameserver' && fields[0]) out.servers.push(fields[0]);
    else if (key === 'search') out.searches = fields.filter((f) => f !== '.');
    else if (key === 'options') out.options.push(...fields);
  }
  return out;
}

function clampSearches(searches: string[]): string[] {
  const out: string[] = [];
  let chars = 0;
  for (const s of searches) {
    if (out.length >= MAX_DNS_SEARCH_PATHS || chars + s.length + 1 > MAX_DNS_SEARCH_CHARS) break;
    out.push(s);
    chars += s.length + 1;
  }
  return out;
}

interface PodDnsSpec {
  namespace: string;
  dnsPolicy: string; // ClusterFirst | ClusterFirstWithHostNet | Default | None
  hostNetwork: boolean;
  dnsConfig?: { nameservers?: string[]; searches?: string[]; options?: { name?: string; value?: string }[] } | undefined;
}

/**
 * DNS for a pod. ClusterFirst falls back to the host's settings when no cluster DNS is
 * configured (as upstream does, with a warning left to the caller); host-network pods use the
 * host's settings unless the policy is ClusterFirstWithHostNet.
 */
export function podDnsSettings(pod: PodDnsSpec, inputs: DnsInputs): DnsSettings {
  const host = parseResolvConf(inputs.hostResolvConf);
  let policy = pod.dnsPolicy || 'ClusterFirst';
  if (policy === 'ClusterFirst' && pod.hostNetwork) policy = 'Default';
  if (policy === 'ClusterFirstWithHostNet') policy = 'ClusterFirst';
  if ((policy === 'ClusterFirst') && inputs.clusterDNS.length === 0) policy = 'Default';

  let settings: DnsSettings;
  if (policy === 'None') settings = { servers: [], searches: [], options: [] };
  else if (policy === 'Default') settings = host;
  else {
    const d = inputs.clusterDomain;
    const searches = d ? [`${pod.namespace}.svc.${d}`, `svc.${d}`, d, ...host.searches] : host.searches;
    settings = { servers: inputs.clusterDNS, searches, options: ['ndots:5'] };
  }
  const extra = pod.dnsConfig;
  if (extra) {
    settings = {
      servers: [...settings.servers, ...(extra.nameservers ?? [])],
      searches: [...settings.searches, ...(extra.searches ?? [])],
      options: mergeOptions(settings.options, (extra.options ?? []).map((o) => (o.value !== undefined ? `${o.name}:${o.value}` : `${o.name ?? ''}`))),
    };
  }
  return {
    servers: [...new Set(settings.servers)].slice(0, MAX_NAMESERVERS),
    searches: clampSearches([...new Set(settings.searches)]),
    options: settings.options,
  };
}

/** Options from dnsConfig override same-named options (name before ':'). */
function mergeOptions(base: string[], extra: string[]): string[] {
  const byName = new Map<string, string>();
  for (const o of [...base, ...extra]) if (o) byName.set(o.split(':')[0]!, o);
  return [...byName.values()];
}
