import { CompiledQuery, type Kysely } from 'kysely';
import { BatchQueue } from '../../core/batch-queue.js';
import { MESSAGE_COLUMNS, NEW_MESSAGE_COLUMNS, type NewMessage } from '../repositories/messages.js';
import { ACTIVE_RUN_STATES } from '../repositories/run-states.js';
import type { Completion, StartAttempt } from '../repositories/runs.js';
import { withRole } from '../repositories/sessions.js';
import type { Database, MessageRow, RunRow } from '../schema.js';

/** Every column of a run, with its PostgreSQL type: the starts' arrays are cast to these. */
const RUN_COLUMN_TYPES: Record<keyof RunRow, 'text' | 'integer' | 'bigint'> = {
  id: 'text',
  session_id: 'text',
  user_id: 'text',
  kind: 'text',
  state: 'text',
  prompt: 'text',
  input: 'text',
  answer: 'text',
  error: 'text',
  error_code: 'text',
  iterations: 'integer',
  input_tokens: 'bigint',
  output_tokens: 'bigint',
  checkpoint: 'text',
  owner_id: 'text',
  lease_expires_at: 'text',
  created_at: 'text',
  started_at: 'text',
  finished_at: 'text',
};
const RUN_COLUMNS = Object.keys(RUN_COLUMN_TYPES) as Array<keyof RunRow>;
/** A message's columns where a statement has the run's columns too. */
const MESSAGE_INPUTS = NEW_MESSAGE_COLUMNS.map((column) => `message_${column}`);
/** The next position in the session of a message being inserted: read inside the INSERT, guarded by the unique index. */
const nextPosition = (sessionId: string) => `(select coalesce(max(position), 0) + 1 from messages where messages.session_id = ${sessionId})`;

/** `unnest` of one array parameter per column, numbered from $1, with the types given. */
function unnestOf(types: string[], names: string[], ordinality = false): string {
  const arrays = types.map((type, index) => `$${index + 1}::${type}[]`).join(', ');
  return `unnest(${arrays})${ordinality ? ' with ordinality' : ''} as r(${[...names, ...(ordinality ? ['ord'] : [])].join(', ')})`;
}

/**
 * Starts, each on the terms of RunsRepository.startUnlessBusy: the session read with the user's
 * role (access), and the run, its user message and the session's `running` written only for a
 * member whose session has no live or queued run. Every row of the answer is a session found,
 * numbered by its start (`ord`), with the conversation before the start if the run was created.
 * Two starts of one session never share a batch (both would pass the busy check): see BatchQueue.
 */
const START = `
with input as (
  select * from ${unnestOf([...RUN_COLUMNS.map((column) => RUN_COLUMN_TYPES[column]), ...NEW_MESSAGE_COLUMNS.map(() => 'text')], [...RUN_COLUMNS, ...MESSAGE_INPUTS], true)}
), access as (
  select input.ord, sessions.*, workspace_members.role as member_role, workspaces.tool_policy as workspace_tool_policy
  from input
  join sessions on sessions.id = input.session_id
  join workspaces on workspaces.id = sessions.workspace_id
  left join workspace_members on workspace_members.workspace_id = sessions.workspace_id and workspace_members.user_id = input.user_id
), allowed as (
  select input.* from input join access on access.ord = input.ord
  where access.member_role is not null
    and not exists (select 1 from runs where runs.session_id = input.session_id and runs.state in (${ACTIVE_RUN_STATES.map((state) => `'${state}'`).join(', ')}))
), created as (
  insert into runs (${RUN_COLUMNS.join(', ')}) select ${RUN_COLUMNS.join(', ')} from allowed
), message as (
  insert into messages (${NEW_MESSAGE_COLUMNS.join(', ')}, position)
  select ${MESSAGE_INPUTS.join(', ')}, ${nextPosition('allowed.session_id')} from allowed
), session as (
  update sessions set status = 'running', updated_at = coalesce(allowed.started_at, allowed.created_at) from allowed where sessions.id = allowed.session_id
)
select access.*, allowed.id as created_run_id, ${MESSAGE_COLUMNS.map((column) => `messages.${column} as message_${column}`).join(', ')}
from access
left join allowed on allowed.ord = access.ord
left join messages on messages.session_id = allowed.session_id
order by access.ord, messages.position`;

/** The values a completed run is finished with, after its id, with their PostgreSQL types. */
const COMPLETION_COLUMN_TYPES: Record<keyof Completion, 'text' | 'integer' | 'bigint'> = {
  iterations: 'integer',
  input_tokens: 'bigint',
  output_tokens: 'bigint',
  finished_at: 'text',
};
const COMPLETION_COLUMNS = Object.keys(COMPLETION_COLUMN_TYPES) as Array<keyof Completion>;
/** How the run's session is settled: each value's column in the statement, its PostgreSQL type and where it comes from. */
const SETTLE_COLUMNS: Array<[name: string, type: 'text' | 'bigint', of: (settle: FinishRequest['settle']) => unknown]> = [
  ['session_id', 'text', (settle) => settle.sessionId],
  ['usage_input', 'bigint', (settle) => settle.usage.inputTokens],
  ['usage_output', 'bigint', (settle) => settle.usage.outputTokens],
  ['outcome', 'text', (settle) => settle.outcome],
  ['settled_at', 'text', (settle) => settle.at],
];

/**
 * Completions, each on the terms of RunsRepository.finish: the run, if still `running`, becomes
 * `completed` with its final message, and its session is settled (usage added; `running` while a
 * run of it is queued, else the outcome, as settledSession in repositories/sessions.ts). Only the
 * runs that were finished here come back, with their session's new status.
 */
const FINISH = `
with input as (
  select * from ${unnestOf(
    ['text', ...COMPLETION_COLUMNS.map((column) => COMPLETION_COLUMN_TYPES[column]), ...SETTLE_COLUMNS.map(([, type]) => type), ...NEW_MESSAGE_COLUMNS.map(() => 'text')],
    ['run_id', ...COMPLETION_COLUMNS, ...SETTLE_COLUMNS.map(([name]) => name), ...MESSAGE_INPUTS],
  )}
), finished as (
  update runs set state = 'completed', ${COMPLETION_COLUMNS.map((column) => `${column} = input.${column}`).join(', ')}
  from input where runs.id = input.run_id and runs.state = 'running'
  returning runs.id
), message as (
  insert into messages (${NEW_MESSAGE_COLUMNS.join(', ')}, position)
  select ${MESSAGE_INPUTS.map((column) => `input.${column}`).join(', ')}, ${nextPosition('input.message_session_id')}
  from input join finished on finished.id = input.run_id
), settled as (
  update sessions set
    input_tokens = sessions.input_tokens + input.usage_input,
    output_tokens = sessions.output_tokens + input.usage_output,
    status = case when exists (select 1 from runs where runs.session_id = sessions.id and runs.state = 'queued') then 'running' else input.outcome end,
    updated_at = input.settled_at
  from input join finished on finished.id = input.run_id
  where sessions.id = input.session_id
  returning sessions.id, sessions.status
)
select input.run_id, settled.status from input join settled on settled.id = input.session_id`;

/** Runs started or finished in one statement. A statement's rows grow with its runs: this bounds its size and latency. */
const MAX_BATCH = 200;

interface StartRequest {
  run: RunRow;
  message: NewMessage;
}

export interface FinishRequest {
  runId: string;
  completion: Completion;
  settle: { sessionId: string; usage: { inputTokens: number; outputTokens: number }; outcome: 'completed' | 'error'; at: string };
  message: NewMessage;
}

type StartRow = Record<string, unknown> & { ord: string; created_run_id: string | null; message_id: string | null };

/**
 * A run's start and its completion on PostgreSQL, each one statement for as many runs as are
 * starting (finishing) at the same moment (core/batch-queue.ts): the two statements every chat
 * message costs the pool. A hundred streams starting at once go in a few round trips, not a
 * hundred.
 */
export class PostgresRunBatches {
  private readonly starts = new BatchQueue<StartRequest, StartAttempt>((requests) => this.startAll(requests), MAX_BATCH, ({ run }) => run.session_id);
  private readonly finishes = new BatchQueue<FinishRequest, 'lost' | 'settled' | 'queued'>((requests) => this.finishAll(requests), MAX_BATCH, ({ settle }) => settle.sessionId);

  constructor(private readonly db: Kysely<Database>) {}

  start(run: RunRow, message: NewMessage): Promise<StartAttempt> {
    return this.starts.submit({ run, message });
  }

  finish(request: FinishRequest): Promise<'lost' | 'settled' | 'queued'> {
    return this.finishes.submit(request);
  }

  private async startAll(requests: StartRequest[]): Promise<StartAttempt[]> {
    const parameters = [
      ...RUN_COLUMNS.map((column) => requests.map(({ run }) => run[column])),
      ...NEW_MESSAGE_COLUMNS.map((column) => requests.map(({ message }) => message[column] ?? null)),
    ];
    const { rows } = await this.db.executeQuery<StartRow>(CompiledQuery.raw(START, parameters));
    const attempts: StartAttempt[] = requests.map(() => ({ access: undefined, history: null }));
    for (const row of rows) {
      const index = Number(row.ord) - 1;
      const attempt = attempts[index]!;
      if (!attempt.access) {
        attempt.access = withRole(sessionOfStartRow(row));
        if (row.created_run_id !== null) attempt.history = [];
      }
      if (row.message_id !== null) attempt.history!.push(messageOfStartRow(row));
    }
    return attempts.map((attempt, index) => {
      if (!attempt.history) return attempt;
      // The statement's snapshot predates its own writes: the conversation before this start's message.
      const { message } = requests[index]!;
      const position = attempt.history.length === 0 ? 1 : Number(attempt.history.at(-1)!.position) + 1;
      attempt.history.push({ ...message, attachments: message.attachments ?? null, position });
      return attempt;
    });
  }

  private async finishAll(requests: FinishRequest[]): Promise<Array<'lost' | 'settled' | 'queued'>> {
    const parameters = [
      requests.map((request) => request.runId),
      ...COMPLETION_COLUMNS.map((column) => requests.map(({ completion }) => completion[column] ?? null)),
      ...SETTLE_COLUMNS.map(([, , of]) => requests.map(({ settle }) => of(settle))),
      ...NEW_MESSAGE_COLUMNS.map((column) => requests.map(({ message }) => message[column] ?? null)),
    ];
    const { rows } = await this.db.executeQuery<{ run_id: string; status: string }>(CompiledQuery.raw(FINISH, parameters));
    const settled = new Map(rows.map((row) => [row.run_id, row.status]));
    // settledSession keeps a session `running` exactly when a run of it is queued.
    return requests.map(({ runId }) => {
      const status = settled.get(runId);
      return status === undefined ? 'lost' : status === 'running' ? 'queued' : 'settled';
    });
  }
}

/** The session's columns of a row of the start statement (the message columns are prefixed `message_`). */
function sessionOfStartRow(row: StartRow) {
  const session: Record<string, unknown> = {};
  for (const key in row) if (key !== 'ord' && key !== 'created_run_id' && !key.startsWith('message_')) session[key] = row[key];
  return session as Parameters<typeof withRole>[0];
}

function messageOfStartRow(row: StartRow): MessageRow {
  const message: Record<string, unknown> = {};
  for (const column of MESSAGE_COLUMNS) message[column] = row[`message_${column}`];
  return message as unknown as MessageRow;
}
