/**
 * `${env:NAME}` in an MCP server's `env` or `headers` values takes NAME from the TokenDance
 * server's environment (the syntax of Cursor's and VS Code's mcp.json), so a token can be passed
 * to one MCP server without writing it into the config file. Nothing else is interpolated.
 */
const REFERENCE = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g;

export class MissingEnvironmentVariable extends Error {
  constructor(readonly variable: string, where: string) {
    super(`environment variable ${variable} (referenced by ${where}) is not set`);
    this.name = 'MissingEnvironmentVariable';
  }
}

/** Resolves every value of `values`; a missing variable throws rather than sending an empty credential. */
export function resolveEnvReferences(values: Record<string, string>, env: NodeJS.ProcessEnv, what: string): Record<string, string> {
  const resolved: Record<string, string> = {};
  for (const [key, value] of Object.entries(values)) {
    resolved[key] = value.replace(REFERENCE, (_match, variable: string) => {
      const found = env[variable];
      if (found === undefined) throw new MissingEnvironmentVariable(variable, `${what}.${key}`);
      return found;
    });
  }
  return resolved;
}
