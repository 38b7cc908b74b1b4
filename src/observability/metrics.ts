import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RunObserver } from '../agent/run-observer.js';

/**
 * Prometheus metrics of one server process. Gauges that mirror live state are read at scrape
 * time through callbacks, so nothing on the hot path has to keep them in sync.
 */
export class Metrics implements RunObserver {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly modelTokens: Counter<'direction'>;
  readonly runDuration: Histogram<'outcome'>;
  readonly toolDuration: Histogram<'tool' | 'success'>;
  private live: { activeRuns: () => number; sseConnections: () => number; pendingApprovals: () => Promise<number> };

  constructor(live: { activeRuns: () => number; sseConnections: () => number; pendingApprovals: () => Promise<number> }) {
    collectDefaultMetrics({ register: this.registry, prefix: 'tokendance_' });
    this.httpDuration = new Histogram({
      name: 'tokendance_http_request_duration_seconds',
      help: 'HTTP request latency (SSE streams are counted when they end)',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [this.registry],
    });
    this.modelTokens = new Counter({ name: 'tokendance_model_tokens_total', help: 'Model tokens by direction (input/output)', labelNames: ['direction'], registers: [this.registry] });
    this.runDuration = new Histogram({
      name: 'tokendance_run_duration_seconds',
      help: 'Run duration by outcome (model latency included)',
      labelNames: ['outcome'],
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 1800],
      registers: [this.registry],
    });
    this.toolDuration = new Histogram({
      name: 'tokendance_tool_duration_seconds',
      help: 'Tool execution time',
      labelNames: ['tool', 'success'],
      buckets: [0.001, 0.01, 0.1, 0.5, 1, 5, 30, 120],
      registers: [this.registry],
    });
    this.live = live;
    new Gauge({ name: 'tokendance_active_runs', help: 'Runs executing in this process', registers: [this.registry], collect() { this.set(live.activeRuns()); } });
    new Gauge({ name: 'tokendance_sse_connections', help: 'Open SSE connections', registers: [this.registry], collect() { this.set(live.sseConnections()); } });
    new Gauge({
      name: 'tokendance_approvals_pending',
      help: 'Approval requests waiting for an answer',
      registers: [this.registry],
      async collect() {
        this.set(await live.pendingApprovals());
      },
    });
  }

  runFinished(outcome: string, durationMs: number, usage: { inputTokens: number; outputTokens: number }): void {
    this.runDuration.observe({ outcome }, durationMs / 1000);
    this.modelTokens.inc({ direction: 'input' }, usage.inputTokens);
    this.modelTokens.inc({ direction: 'output' }, usage.outputTokens);
  }

  toolFinished(tool: string, success: boolean, durationMs: number): void {
    this.toolDuration.observe({ tool, success: String(success) }, durationMs / 1000);
  }
}
