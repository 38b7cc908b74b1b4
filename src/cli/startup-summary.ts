import type { RunningServer } from '../server.js';

export interface SummaryInput {
  server: RunningServer;
  version: string;
  /** The config file read, or null when only defaults and env were used. */
  configSource: string | null;
  colors: boolean;
}

/** The few lines a person at a terminal needs after `tokendance serve`: where it is and what it runs on. */
export function startupSummary({ server, version, configSource, colors }: SummaryInput): string {
  const bold = (text: string) => (colors ? `\x1b[1m${text}\x1b[22m` : text);
  const dim = (text: string) => (colors ? `\x1b[2m${text}\x1b[22m` : text);
  const { store } = server.context;
  const database = store.handle.dialect === 'sqlite' ? `SQLite ${store.handle.location}` : `PostgreSQL ${store.handle.location}`;
  const rows: Array<[string, string]> = [
    ['App', `${server.url}/`],
    ['API docs', `${server.url}/docs`],
    ['Config', configSource ?? 'none (built-in defaults; see tokendance.example.toml)'],
    ['Database', database],
    ['Model', describeModel(server)],
  ];
  const lines = rows.map(([label, value]) => `  ${dim(label.padEnd(9))}${value}`);
  return [`${bold(`TokenDance ${version}`)} is running ${dim('(Ctrl+C stops it)')}`, ...lines, ''].join('\n');
}

function describeModel({ models, context }: RunningServer): string {
  if (models.offline) {
    return 'offline demo model (canned answers): set SPARK_API_KEY, OPENAI_API_KEY or ANTHROPIC_API_KEY, or [providers.*] in the config';
  }
  const provider = models.providers.get(models.defaultName);
  const fallback = context.config.model.fallback;
  return `${models.defaultName}${provider ? ` (${provider.model})` : ''}${fallback.length ? `, fallback ${fallback.join(', ')}` : ''}`;
}
