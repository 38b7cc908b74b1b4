import type { HttpProviderOptions } from './http-provider-options.js';
import { markStarted } from './stream-guard.js';
import type { ModelProvider, ModelRequest, ModelStreamEvent } from './types.js';

/** What every HTTP streaming provider shares: its identity and the started-output guard. */
export abstract class HttpStreamingProvider implements ModelProvider {
  readonly name: string;
  readonly model: string;
  readonly supportsVision: boolean;
  readonly contextWindow: number;

  constructor(protected readonly options: HttpProviderOptions) {
    this.name = options.name;
    this.model = options.model;
    this.supportsVision = options.supportsVision;
    this.contextWindow = options.contextWindow;
  }

  stream(request: ModelRequest): AsyncIterable<ModelStreamEvent> {
    return markStarted(this.streamTurn(request));
  }

  protected abstract streamTurn(request: ModelRequest): AsyncGenerator<ModelStreamEvent>;
}
