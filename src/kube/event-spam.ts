// The client-side event spam filter of upstream's event recorder (client-go tools/record
// EventSourceObjectSpamFilter): each (source, involved object) pair has a token bucket of 25
// events that refills one token every 5 minutes; an event without a token is not sent to the API
// server (it is still logged). A crash-looping or probe-failing pod thus writes at most 25 events
// and then about one every 5 minutes, whatever its reasons. Pure apart from the injected time.

/** Upstream defaultSpamBurst and defaultSpamQPS (1/300 per second), and its LRU size. */
export const SPAM_BURST = 25;
export const SPAM_REFILL_MS = 300_000;
export const SPAM_MAX_KEYS = 4096;

interface Bucket {
  tokens: number;
  atMs: number;
}

export class EventSpamFilter {
  /** Insertion order is recency order (a hit moves the key to the end): the first key is the LRU one. */
  private readonly buckets = new Map<string, Bucket>();

  /** Whether an event about `key` (source + involved object) may be sent at `nowMs`; takes its token. */
  allow(key: string, nowMs: number): boolean {
    const b = this.buckets.get(key) ?? { tokens: SPAM_BURST, atMs: nowMs };
    this.buckets.delete(key);
    b.tokens = Math.min(SPAM_BURST, b.tokens + Math.max(0, nowMs - b.atMs) / SPAM_REFILL_MS);
    b.atMs = nowMs;
    const ok = b.tokens >= 1;
    if (ok) b.tokens -= 1;
    this.buckets.set(key, b);
    if (this.buckets.size > SPAM_MAX_KEYS) this.buckets.delete(this.buckets.keys().next().value as string);
    return ok;
  }
}
