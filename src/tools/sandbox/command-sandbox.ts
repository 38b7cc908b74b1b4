import type { ProcessLaunch } from './process-tree.js';

export type SandboxMode = 'bubblewrap' | 'none';

/** Turns a shell command into a program launch confined (as far as the mode allows) to a workspace. */
export interface CommandSandbox {
  readonly mode: SandboxMode;
  /** How commands are confined, for the tool description the model reads. */
  readonly confinement: string;
  launch(workspaceDir: string, command: string): ProcessLaunch;
}

const SEARCH_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The whole environment a command gets: nothing from the server (no secrets, no provider keys). */
export function minimalEnv(home: string): Record<string, string> {
  return { PATH: SEARCH_PATH, HOME: home, LANG: 'C.UTF-8' };
}

/**
 * `/bin/sh` argv running `command` with stderr joined to stdout, so the two stay in the order
 * they were written. The command is passed as an argument, never spliced into script text.
 */
export function shellArgv(command: string): string[] {
  return ['/bin/sh', '-c', 'exec 2>&1; exec /bin/sh -c "$1"', 'sh', command];
}

/** `tools.shell.sandbox = "none"`: the command runs as the server's user, in the workspace, with a cleared environment. */
export function createUnsandboxed(): CommandSandbox {
  return {
    mode: 'none',
    confinement: 'in the workspace directory (its working directory)',
    launch: (workspaceDir, command) => {
      const [file, ...args] = shellArgv(command);
      return { file: file!, args, cwd: workspaceDir, env: minimalEnv(workspaceDir) };
    },
  };
}
