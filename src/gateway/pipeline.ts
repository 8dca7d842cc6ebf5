/**
 * The request pipeline of an inference call, named once, in order. Each step either lets the request go on or
 * throws the GatewayError the client gets, in its own API's error shape (docs/architecture.md draws this list
 * with the same statuses). The steps run in `Gateway.runInference`; the output path after `relay` is its own
 * list of stages (src/gateway/reply/stages.ts).
 */
export interface PipelineStep<S> {
  readonly name: string;
  /** The HTTP statuses this step can answer with instead of going on (as docs/architecture.md draws them). */
  readonly fails: readonly number[];
  run(state: S): void | Promise<void> | 'stop' | Promise<'stop' | void>;
}

/**
 * Run the steps in order; a step returning 'stop' ends the request there (the client went away). A step that
 * finished synchronously is not awaited: each await is a trip through the microtask queue, on every request.
 */
export async function runPipeline<S>(steps: ReadonlyArray<PipelineStep<S>>, state: S): Promise<void> {
  for (const step of steps) {
    const ran = step.run(state);
    if ((ran instanceof Promise ? await ran : ran) === 'stop') return;
  }
}
