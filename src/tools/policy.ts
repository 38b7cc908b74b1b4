import type { ToolPolicy } from './types.js';

/** Tool-name pattern (`*` matches any run of characters, dots included) → policy, from `[tools.policy]`. */
export type ToolPolicyOverrides = Readonly<Record<string, ToolPolicy>>;

const STRICTNESS: Record<ToolPolicy, number> = { allow: 0, ask: 1, deny: 2 };

export function matchesPattern(pattern: string, name: string): boolean {
  if (!pattern.includes('*')) return pattern === name;
  const source = pattern
    .split('*')
    .map((literal) => literal.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`).test(name);
}

export function matchesAnyPattern(patterns: readonly string[], name: string): boolean {
  return patterns.some((pattern) => matchesPattern(pattern, name));
}

/**
 * The most specific matching override wins: most non-wildcard characters, then an exact name over
 * a wildcard. Remaining ties go to the stricter policy so ambiguous config never widens access.
 */
export function resolvePolicy(name: string, overrides: ToolPolicyOverrides, fallback: ToolPolicy): ToolPolicy {
  let best: { specificity: number; exact: boolean; policy: ToolPolicy } | undefined;
  for (const [pattern, policy] of Object.entries(overrides)) {
    if (!matchesPattern(pattern, name)) continue;
    const candidate = { specificity: pattern.replaceAll('*', '').length, exact: !pattern.includes('*'), policy };
    if (!best || isMoreSpecific(candidate, best)) best = candidate;
  }
  return best?.policy ?? fallback;
}

function isMoreSpecific(
  a: { specificity: number; exact: boolean; policy: ToolPolicy },
  b: { specificity: number; exact: boolean; policy: ToolPolicy },
): boolean {
  if (a.specificity !== b.specificity) return a.specificity > b.specificity;
  if (a.exact !== b.exact) return a.exact;
  return STRICTNESS[a.policy] > STRICTNESS[b.policy];
}

/**
 * `[tools.policy]` layered with a workspace's own policy: a workspace pattern that matches wins,
 * except that it can never lift a `deny` set by the server's operator.
 */
export function layeredPolicy(name: string, server: ToolPolicyOverrides, workspace: ToolPolicyOverrides | null | undefined, fallback: ToolPolicy): ToolPolicy {
  const serverPolicy = resolvePolicy(name, server, fallback);
  if (!workspace || serverPolicy === 'deny') return serverPolicy;
  return resolvePolicy(name, workspace, serverPolicy);
}

/** A workspace's stored policy (JSON); a corrupt value counts as none, so the server's policy still applies. */
export function parsePolicyJson(json: string | null | undefined): ToolPolicyOverrides | null {
  if (!json) return null;
  try {
    return JSON.parse(json) as ToolPolicyOverrides;
  } catch {
    return null;
  }
}
