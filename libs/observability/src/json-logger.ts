import type { LoggerService } from '@nestjs/common';
import { pino, type Logger as Pino } from 'pino';
import { currentRequestId, currentTraceIds } from './tracing.js';

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
export type LogLevel = keyof typeof LEVELS;

/** Key-shaped strings are cut before they reach a log line: secrets never appear in logs. */
const SECRET_PATTERNS: RegExp[] = [/\bsk-[A-Za-z0-9_-]{6,}/g, /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{6,}/gi];

export function redact(text: string): string {
  return SECRET_PATTERNS.reduce((out, pattern) => out.replace(pattern, (m) => `${m.slice(0, m.indexOf(' ') > 0 ? m.indexOf(' ') + 1 : 3)}[redacted]`), text);
}

/** Fields never logged in clear, wherever they appear in a structured entry. */
const REDACTED_PATHS = ['key', 'api_key', 'auth_value', 'authorization', 'headers.authorization', 'headers["x-litellm-api-key"]', 'env', 'password', 'token'];

export interface JsonLoggerOptions {
  /** Where lines go (tests); stdout by default. */
  write?: (line: string) => void;
  /** Human-readable lines instead of JSON; by default when stdout is a terminal. */
  pretty?: boolean;
}

/**
 * Structured logs (pino), one JSON object a line, for every service, through Nest's logger interface. Each line
 * carries the service, and the trace, span and request ids of the active context when there are any; messages are
 * redacted of key-shaped strings and structured fields of secrets. On a terminal, lines are printed for people.
 */
export class JsonLogger implements LoggerService {
  private readonly threshold: number;
  private readonly pino: Pino;

  constructor(
    private readonly service: string,
    level: LogLevel = 'info',
    options: JsonLoggerOptions = {},
  ) {
    this.threshold = LEVELS[level];
    const pretty = options.pretty ?? (options.write === undefined && process.stdout.isTTY === true);
    const write = options.write ?? toStdout;
    this.pino = pino(
      {
        level: level === 'debug' ? 'debug' : level,
        base: { service },
        messageKey: 'msg',
        timestamp: pino.stdTimeFunctions.isoTime,
        formatters: { level: (label) => ({ level: label === 'trace' ? 'debug' : label }) },
        redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
        mixin: () => ({ ...currentTraceIds(), ...(currentRequestId() ? { request_id: currentRequestId() } : {}) }),
      },
      { write: (line: string) => write(pretty ? forPeople(line) : line.replace(/\n$/, '')) },
    );
  }

  log(message: unknown, ...rest: unknown[]): void {
    this.emit('info', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.emit('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.emit('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.emit('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.emit('debug', message, rest);
  }

  /** A structured entry (e.g. the access log): `fields` are logged as they are, secrets redacted by path. */
  entry(level: LogLevel, fields: Record<string, unknown>, message: string): void {
    if (LEVELS[level] < this.threshold) return;
    this.pino[level](fields, redact(message));
  }

  private emit(level: LogLevel, message: unknown, rest: unknown[]): void {
    if (LEVELS[level] < this.threshold) return;
    const context = typeof rest[rest.length - 1] === 'string' ? (rest[rest.length - 1] as string) : undefined;
    const text = message instanceof Error ? message.message : typeof message === 'string' ? message : JSON.stringify(message);
    this.pino[level](context ? { context } : {}, redact(text));
  }
}

/**
 * Lines for stdout, written together: at most 50 ms after the first pending one, or at once past 16 KB. Under
 * load (an access-log line per request) one write carries many lines; a write to a pipe wakes its reader, which on
 * a virtual machine cost more than the request that logged. Whatever is pending when the process exits is written
 * then (stdout writes to files and pipes are synchronous there).
 */
const FLUSH_AFTER_MS = 50;
const FLUSH_AT_CHARS = 16_384;
let pendingLines: string[] = [];
let pendingChars = 0;
let flushTimer: NodeJS.Timeout | undefined;
function toStdout(line: string): void {
  pendingLines.push(line);
  pendingChars += line.length + 1;
  if (pendingChars >= FLUSH_AT_CHARS) flushStdout();
  else if (!flushTimer) (flushTimer = setTimeout(flushStdout, FLUSH_AFTER_MS)).unref();
}
function flushStdout(): void {
  clearTimeout(flushTimer);
  flushTimer = undefined;
  if (pendingLines.length === 0) return;
  const text = `${pendingLines.join('\n')}\n`;
  pendingLines = [];
  pendingChars = 0;
  process.stdout.write(text);
}
process.once('exit', flushStdout);

/** `HH:MM:SS level [context] msg` from a JSON line. */
function forPeople(line: string): string {
  const entry = JSON.parse(line) as { time?: string; level?: string; context?: string; msg?: string; service?: string };
  const time = (entry.time ?? '').slice(11, 19);
  return `${time} ${entry.service ?? ''} ${String(entry.level ?? 'info').padEnd(5)} ${entry.context ? `[${entry.context}] ` : ''}${entry.msg ?? ''}`;
}
