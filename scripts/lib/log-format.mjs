// Turns the services' JSON log lines into one readable stream: `HH:MM:SS service level msg`.

const COLOURS = { edge: 36, registry: 35, auth: 33, connector: 32, 'llm-proxy': 34, supervisor: 37 };
const LEVEL_COLOURS = { error: 31, warn: 33, debug: 90 };

const paint = (code, text, colour) => (colour && code ? `\x1b[${code}m${text}\x1b[0m` : text);

function clock(time) {
  const date = time ? new Date(time) : new Date();
  const valid = Number.isNaN(date.getTime()) ? new Date() : date;
  return [valid.getHours(), valid.getMinutes(), valid.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/**
 * Formats one line a service wrote. JSON lines ({time, level, service, msg, context, ...}) become
 * `HH:MM:SS service level msg`; anything else (a stack trace, an upstream's chatter) is kept as the message.
 * @param {string} service the child that wrote the line
 * @param {string} line
 * @param {{ colour?: boolean, stream?: 'stdout' | 'stderr' }} [options]
 * @returns {string}
 */
export function formatLine(service, line, options = {}) {
  const colour = options.colour ?? false;
  let entry;
  if (line.startsWith('{')) {
    try {
      entry = JSON.parse(line);
    } catch {
      entry = undefined;
    }
  }
  const name = paint(COLOURS[service] ?? 37, service.padEnd(10), colour);
  if (!entry || typeof entry !== 'object') {
    const level = options.stream === 'stderr' ? 'warn' : 'info';
    return `${clock()} ${name} ${paint(LEVEL_COLOURS[level], level.padEnd(5), colour)} ${line}`;
  }
  const level = String(entry.level ?? 'info');
  let msg = typeof entry.msg === 'string' ? entry.msg : typeof entry.message === 'string' ? entry.message : JSON.stringify(entry.msg ?? entry);
  if (entry.context) msg = `${paint(90, `[${entry.context}]`, colour)} ${msg}`;
  return `${clock(entry.time)} ${name} ${paint(LEVEL_COLOURS[level], level.padEnd(5), colour)} ${msg}`;
}
