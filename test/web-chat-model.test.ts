import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

// The web app's conversation model is plain TypeScript over signals: it runs in Node too. Its
// text buffers publish once per animation frame, which Node does not have.
globalThis.requestAnimationFrame ??= ((callback: FrameRequestCallback) => setTimeout(() => callback(performance.now()), 0)) as typeof requestAnimationFrame;

const { ChatModel } = await import('../web/src/state/chat-model.js');
type StreamEvent = { id: number | null; event: string; data: any };

function model() {
  const calls: string[] = [];
  const chat = new ChatModel({
    promptNeeded: () => calls.push('promptNeeded'),
    workingMemoryChanged: () => calls.push('workingMemoryChanged'),
    artifactsChanged: () => calls.push('artifactsChanged'),
    runStarted: (runId: string, after: number) => calls.push(`runStarted ${runId} ${after}`),
    sessionStatusChanged: (status: string) => calls.push(`status ${status}`),
  });
  let cursor = 0;
  const emit = (event: string, data: Record<string, unknown>): StreamEvent => ({ id: ++cursor, event, data });
  return { chat, calls, emit };
}

const answerOf = (chat: InstanceType<typeof ChatModel>) =>
  chat.turns.value
    .at(-1)!
    .blocks.value.filter((block) => block.kind === 'text')
    .map((block) => (block.kind === 'text' ? block.buffer.raw : ''))
    .join('|');

describe('web app: the conversation model', () => {
  test('a sent prompt takes the next run; deltas build the answer; a tool call splits it into turns', () => {
    const { chat, calls, emit } = model();
    chat.reset([], null);
    chat.addSentPrompt('hello');
    for (const event of [
      emit('status', { run_id: 'r1', state: 'running', kind: 'chat' }),
      emit('content', { run_id: 'r1', text: 'Let me ', iteration: 1 }),
      emit('content', { run_id: 'r1', text: 'look.', iteration: 1 }),
      emit('tool_call', { run_id: 'r1', tool: 'file_list', args: {}, call_id: 'c1', iteration: 1 }),
      emit('tool_result', { run_id: 'r1', tool: 'file_list', result: '(empty)', success: true, call_id: 'c1', duration_ms: 3 }),
      emit('content', { run_id: 'r1', text: 'Nothing there.', iteration: 2 }),
      emit('done', { run_id: 'r1', content: 'Nothing there.', iterations: 2, artifacts: [] }),
    ]) chat.apply(event);
    const turn = chat.turns.value.at(-1)!;
    assert.equal(turn.prompt.value, 'hello');
    assert.equal(turn.runId, 'r1');
    assert.equal(turn.state.value, 'completed');
    assert.equal(answerOf(chat), 'Let me look.|Nothing there.');
    const tool = turn.blocks.value.find((block) => block.kind === 'tool');
    assert.equal(tool?.kind === 'tool' && tool.result.value?.durationMs, 3);
    assert.ok(calls.includes('runStarted r1 0'), calls.join());
  });

  test('a resumed run drops the text of its interrupted model turn, and only that', () => {
    const { chat, emit } = model();
    chat.reset([], { runId: 'r1', state: 'running', prompt: 'count', replayFromStart: true });
    for (const event of [
      emit('status', { run_id: 'r1', state: 'running', kind: 'chat' }),
      emit('content', { run_id: 'r1', text: 'Checking. ', iteration: 1 }),
      emit('tool_call', { run_id: 'r1', tool: 'file_list', args: {}, call_id: 'c1', iteration: 1 }),
      emit('tool_result', { run_id: 'r1', tool: 'file_list', result: '', success: true, call_id: 'c1', duration_ms: 1 }),
      emit('content', { run_id: 'r1', text: 'one two', iteration: 2 }),
      // The server restarted here: the turn streams again from its start.
      emit('status', { run_id: 'r1', state: 'running', resumed: true }),
      emit('content', { run_id: 'r1', text: 'one two three', iteration: 2 }),
      emit('done', { run_id: 'r1', content: 'one two three', iterations: 2 }),
    ]) chat.apply(event);
    assert.equal(answerOf(chat), 'Checking. |one two three');
  });

  test('replaying from the start of the log skips the runs the stored messages already show', () => {
    const { chat, emit } = model();
    chat.reset(
      [
        { id: 'm1', role: 'user', content: 'first', created_at: '2026-01-01T00:00:00.000Z' },
        { id: 'm2', role: 'assistant', content: 'first answer', created_at: '2026-01-01T00:00:01.000Z' },
      ],
      { runId: 'r2', state: 'running', prompt: 'second', replayFromStart: true },
    );
    for (const event of [
      emit('status', { run_id: 'r1', state: 'running', kind: 'chat' }),
      emit('content', { run_id: 'r1', text: 'first answer', iteration: 1 }),
      emit('done', { run_id: 'r1', content: 'first answer', iterations: 1 }),
      emit('status', { run_id: 'r2', state: 'running', kind: 'chat' }),
      emit('content', { run_id: 'r2', text: 'second ', iteration: 1 }),
      emit('content', { run_id: 'r2', text: 'answer', iteration: 1 }),
    ]) chat.apply(event);
    const turns = chat.turns.value;
    assert.equal(turns.length, 2);
    assert.equal(turns[0]!.prompt.value, 'first');
    assert.equal(turns[1]!.prompt.value, 'second');
    assert.equal(answerOf(chat), 'second answer');
  });

  test('approvals: pending from the list and from events, once each; resolved ones leave', () => {
    const { chat, emit } = model();
    chat.reset([], { runId: 'r1', state: 'waiting_approval', prompt: 'delete it', replayFromStart: true });
    const pending = { id: 'a1', runId: 'r1', callId: 'c1', tool: 'file_delete', args: { path: 'x' }, operation: 'file_delete', description: 'Delete file x', risk: 'high' as const, expiresAt: '2099-01-01T00:00:00Z' };
    chat.setPendingApprovals([pending]);
    for (const event of [
      emit('status', { run_id: 'r1', state: 'running', kind: 'chat' }),
      emit('tool_call', { run_id: 'r1', tool: 'file_delete', args: { path: 'x' }, call_id: 'c1', iteration: 1 }),
      emit('confirm_required', { run_id: 'r1', action_id: 'a1', tool: 'file_delete', args: { path: 'x' }, call_id: 'c1', risk_level: 'high', expires_at: '2099-01-01T00:00:00Z' }),
    ]) chat.apply(event);
    assert.deepEqual(chat.approvals.value.map((approval) => approval.id), ['a1']);
    const tool = chat.turns.value.at(-1)!.blocks.value.find((block) => block.kind === 'tool');
    assert.equal(tool?.kind === 'tool' && tool.approval.value, 'pending');
    chat.apply(emit('confirm_resolved', { run_id: 'r1', action_id: 'a1', call_id: 'c1', approved: true }));
    assert.deepEqual(chat.approvals.value, []);
    assert.equal(tool?.kind === 'tool' && tool.approval.value, 'approved');
  });

  test('a run whose early events were lost (compacted) takes its final answer from done', () => {
    const { chat, emit } = model();
    chat.reset([], { runId: 'r1', state: 'running', prompt: 'long', replayFromStart: false });
    chat.apply(emit('content', { run_id: 'r1', text: 'tail only', iteration: 1 }));
    chat.apply(emit('done', { run_id: 'r1', content: 'the whole answer, tail only', iterations: 1 }));
    assert.equal(answerOf(chat), 'the whole answer, tail only');
  });
});
