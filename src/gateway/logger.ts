import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];
export type { Logger };

/**
 * JSON lines (for machines) or short text lines (for a person at a terminal). Callers pass only
 * metadata: route, target id, status, timings. Bodies, headers and keys are never given to the logger.
 */
export function createLogger(level: LogLevel, format: 'json' | 'text' = process.stderr.isTTY ? 'text' : 'json', stream: NodeJS.WritableStream = process.stderr): Logger {
  const destination = format === 'json' ? stream : textStream(stream);
  return pino({ level, base: { name: 'kt' }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const SKIP = new Set(['level', 'time', 'msg', 'name', 'pid', 'hostname']);

function textStream(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        try {
          const rec = JSON.parse(line) as Record<string, unknown>;
          const time = typeof rec.time === 'string' ? rec.time.slice(11, 23) : '';
          const fields = Object.entries(rec)
            .filter(([k]) => !SKIP.has(k))
            .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
            .join(' ');
          out.write(`${time} ${(LEVEL_NAMES[rec.level as number] ?? 'LOG').padEnd(5)} ${String(rec.msg ?? '')}${fields ? `  ${fields}` : ''}\n`);
        } catch {
          out.write(`${line}\n`);
        }
      }
      done();
    },
  });
}
