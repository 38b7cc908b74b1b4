import type { Config } from '../../config/schema.js';
import { DEFAULT_BWRAP_PATH, probeBubblewrap } from './bubblewrap.js';
import { type CommandSandbox, createUnsandboxed } from './command-sandbox.js';

export interface ShellSandboxChoice {
  /** Undefined: the `shell` tool is not offered. */
  sandbox?: CommandSandbox;
  /** One start-up log line saying which mode is in force. */
  log: { level: 'info' | 'warn'; message: string };
}

export interface ShellSandboxOptions {
  /** Host paths to keep invisible inside the sandbox (the data directory). */
  hiddenPaths: string[];
  bwrapPath?: string;
}

/** Decides at start-up how `shell` runs: in a working bubblewrap sandbox, unsandboxed by explicit choice, or not at all. */
export async function selectShellSandbox(config: Config['tools']['shell'], options: ShellSandboxOptions): Promise<ShellSandboxChoice> {
  if (config.sandbox === 'none') {
    return {
      sandbox: createUnsandboxed(),
      log: { level: 'warn', message: 'shell tool: NO SANDBOX (tools.shell.sandbox = "none"); commands run as the server user with full file-system and network access' },
    };
  }
  const bwrapPath = options.bwrapPath ?? DEFAULT_BWRAP_PATH;
  const probe = await probeBubblewrap({ bwrapPath, network: config.network, hiddenPaths: options.hiddenPaths });
  if (!probe.ok) {
    return {
      log: {
        level: 'warn',
        message: `shell tool disabled: bubblewrap is not usable (${probe.reason}). Install bubblewrap, or set tools.shell.sandbox = "none" to run commands unsandboxed`,
      },
    };
  }
  return {
    sandbox: probe.sandbox,
    log: { level: 'info', message: `shell tool: bubblewrap sandbox (${bwrapPath}), network ${config.network ? 'on' : 'off'}` },
  };
}
