import { describe, expect, it } from 'vitest';
import { runPipeline, type PipelineStep } from '../../src/gateway/pipeline.js';

type Log = string[];
const step = (name: string, run: (log: Log) => void | 'stop' | Promise<void | 'stop'>): PipelineStep<Log> => ({ name, fails: [], run });

describe('runPipeline', () => {
  it('runs synchronous and asynchronous steps in order, a synchronous one without waiting a turn', async () => {
    const log: Log = [];
    const done = runPipeline(
      [
        step('a', (l) => void l.push('a')),
        step('b', async (l) => {
          await Promise.resolve();
          l.push('b');
        }),
        step('c', (l) => void l.push('c')),
        step('d', (l) => Promise.resolve().then(() => void l.push('d'))),
      ],
      log,
    );
    // The first step ran before runPipeline returned; the rest wait for b.
    expect(log).toEqual(['a']);
    await done;
    expect(log).toEqual(['a', 'b', 'c', 'd']);
  });

  it('stops at a step that returns or resolves to stop', async () => {
    for (const stop of [() => 'stop' as const, async () => 'stop' as const]) {
      const log: Log = [];
      await runPipeline([step('a', (l) => void l.push('a')), step('stop', stop), step('never', (l) => void l.push('never'))], log);
      expect(log).toEqual(['a']);
    }
  });

  it('rejects with what a step throws, synchronously or not, and runs nothing after it', async () => {
    for (const fail of [
      () => {
        throw new Error('sync');
      },
      async () => {
        throw new Error('async');
      },
    ]) {
      const log: Log = [];
      await expect(runPipeline([step('fail', fail), step('never', (l) => void l.push('never'))], log)).rejects.toThrow(/sync/);
      expect(log).toEqual([]);
    }
  });
});
