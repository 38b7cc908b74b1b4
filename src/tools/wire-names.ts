/**
 * Model APIs only accept tool names matching `^[A-Za-z0-9_-]{1,64}$`, while product names are
 * dotted (`mcp.server.tool`). Dots become `__`; `toolNameProblem` rejects names for which that
 * mapping would not be reversible or would exceed the limit.
 */
export const WIRE_NAME_MAX_LENGTH = 64;

const SEGMENT = /^[A-Za-z0-9-]+(?:_[A-Za-z0-9-]+)*$/;

export function wireName(name: string): string {
  return name.split('.').join('__');
}

export function fromWireName(wire: string): string {
  return wire.split('__').join('.');
}

/** Why `name` cannot be a tool name, or undefined when it can. */
export function toolNameProblem(name: string): string | undefined {
  const badSegment = name.split('.').find((segment) => !SEGMENT.test(segment));
  if (badSegment !== undefined) {
    return `tool name "${name}" must be dot-separated segments of letters, digits, "-" and single inner "_"`;
  }
  if (wireName(name).length > WIRE_NAME_MAX_LENGTH) {
    return `tool name "${name}" is longer than ${WIRE_NAME_MAX_LENGTH} characters on the wire`;
  }
  return undefined;
}
