import type { Agent } from 'node:http';
import { isIP } from 'node:net';
import { RequestFilteringHttpAgent, RequestFilteringHttpsAgent } from 'request-filtering-agent';

/**
 * Chooses the http(s) Agent for each hop of a fetch. The agents check the address at connect
 * time, after DNS resolution, so a name that resolves (or re-resolves, DNS rebinding) to a
 * loopback, private, link-local, CGNAT, unique-local, IPv4-mapped or unspecified address is
 * refused before any connection is made.
 *
 * request-filtering-agent refuses every address that ipaddr.js does not classify as public
 * `unicast`; that covers 100.64/10 (carrierGradeNat), ::ffff:0:0/96 (ipv4Mapped), NAT64 and 6to4
 * forms too, so no extra deny list is needed (test/web-tools.test.ts checks each range).
 */
export class AddressGuard {
  private readonly allowed: ReadonlySet<string>;
  private readonly guardedHttp = new RequestFilteringHttpAgent();
  private readonly guardedHttps = new RequestFilteringHttpsAgent();
  // Hosts an operator listed may resolve to private addresses, but never to 0.0.0.0 / ::.
  private readonly trustedHttp = new RequestFilteringHttpAgent({ allowPrivateIPAddress: true });
  private readonly trustedHttps = new RequestFilteringHttpsAgent({ allowPrivateIPAddress: true });

  /** `allowHosts` are exact host names or IP addresses (`tools.web_fetch.allow_hosts`); no wildcards, no ports. */
  constructor(allowHosts: readonly string[]) {
    this.allowed = new Set(allowHosts.map(normalizeHost).filter((host) => host !== ''));
  }

  /**
   * Whether the URL's own host is exempt. Matched on the name in the URL, not on the address it
   * resolves to: allowing `127.0.0.1` does not allow `localhost` or a public name pointing there.
   */
  isAllowed(url: URL): boolean {
    return this.allowed.has(normalizeHost(url.hostname));
  }

  agentFor(url: URL): Agent {
    const trusted = this.isAllowed(url);
    if (url.protocol === 'https:') return trusted ? this.trustedHttps : this.guardedHttps;
    return trusted ? this.trustedHttp : this.guardedHttp;
  }
}

/** The refused address when `error` is request-filtering-agent's refusal, else undefined. */
export function blockedAddressOf(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const match = /^DNS lookup (\S+?)\(family:.*\) is not allowed\. Because/.exec(error.message);
  return match?.[1];
}

/**
 * Canonical form for comparing hosts: lower case, no IPv6 brackets, no trailing dot, IP literals
 * in the WHATWG URL parser's spelling (so `::FFFF:127.0.0.1` matches `[::ffff:7f00:1]`).
 */
export function normalizeHost(host: string): string {
  let bare = host.trim().toLowerCase();
  if (bare.startsWith('[') && bare.endsWith(']')) bare = bare.slice(1, -1);
  bare = bare.replace(/\.+$/, '');
  if (bare === '') return '';
  try {
    const hostname = new URL(`http://${isIP(bare) === 6 ? `[${bare}]` : bare}/`).hostname;
    return hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  } catch {
    return bare;
  }
}
