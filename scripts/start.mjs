#!/usr/bin/env node
// `npm start`: builds if needed, then runs the gateway with one log stream:
//   - by default ONE process holding all five services (services/one-process), with the in-process bus, the
//     embedded database and memory stores unless NATS_URL, DATABASE_URL or REDIS_URL say otherwise;
//   - with --distributed, the five services as separate processes (NATS_URL, DATABASE_URL and REDIS_URL required).
//
//   node scripts/start.mjs [--distributed] [--config PATH] [--json]
//
// Settings come from the environment (PORT, NATS_URL, DATABASE_URL, REDIS_URL, MASTER_KEY, LOG_LEVEL, ...),
// which every child inherits. SIGINT, SIGTERM or SIGHUP stops them all: SIGTERM first, SIGKILL after a grace
// period. Children also stop by themselves when this supervisor dies (their IPC channel closes).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { build, needsBuild } from './lib/build.mjs';
import { formatLine } from './lib/log-format.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DISTRIBUTED_SERVICES = ['registry', 'auth', 'connector', 'llm-proxy', 'edge'];
const DEV_MASTER_KEY = 'sk-1234';
/** The children's own grace (SHUTDOWN_GRACE_MS, 3 s by default) plus time to close connections. */
const STOP_GRACE_MS = Number(process.env.SHUTDOWN_GRACE_MS || 3000) + 4000;
const MAX_BACKOFF_MS = 30_000;

const argv = process.argv.slice(2);
const json = argv.includes('--json');
const distributed = argv.includes('--distributed');
const SERVICES = distributed ? DISTRIBUTED_SERVICES : ['one-process'];
const colour = !json && process.stdout.isTTY === true && !process.env.NO_COLOR;

function argValue(name) {
  const i = argv.indexOf(name);
  if (i >= 0) return argv[i + 1];
  const inline = argv.find((a) => a.startsWith(`${name}=`));
  return inline?.slice(name.length + 1);
}

function say(msg, level = 'info') {
  if (json) process.stdout.write(JSON.stringify({ time: new Date().toISOString(), level, service: 'supervisor', msg }) + '\n');
  else process.stdout.write(formatLine('supervisor', JSON.stringify({ level, msg }), { colour }) + '\n');
}

function fail(msg) {
  process.stderr.write(`switchboard: ${msg}\n`);
  process.exit(1);
}

// ---- settings ------------------------------------------------------------------------------------------
const configPath = resolve(argValue('--config') ?? process.env.SWITCHBOARD_CONFIG ?? join(ROOT, 'config.example.yaml'));
if (!existsSync(configPath)) fail(`config file ${configPath} does not exist (pass --config PATH or set SWITCHBOARD_CONFIG)`);
if (distributed) {
  // SWITCHBOARD_SALT_KEY too: upstream credentials in Postgres are encrypted with it, and no data folder keeps one.
  const missing = ['NATS_URL', 'DATABASE_URL', 'REDIS_URL', 'SWITCHBOARD_SALT_KEY'].filter((name) => !process.env[name]);
  if (missing.length) fail(`--distributed runs each service as its own process, joined by NATS, Postgres and Redis: set ${missing.join(', ')} (or start without --distributed: one process, nothing else needed)`);
}
const port = Number(process.env.PORT || 4000);
if (!Number.isInteger(port) || port <= 0 || port > 65535) fail(`PORT must be a port number, got "${process.env.PORT}"`);

/** The master key comes from MASTER_KEY, else general_settings.master_key, else the local-development default. */
function masterKeySource() {
  if (process.env.MASTER_KEY) return 'env';
  let document;
  try {
    document = parseYaml(readFileSync(configPath, 'utf8'));
  } catch {
    return 'unknown'; // the services report a broken file themselves, one line per problem
  }
  return document?.general_settings?.master_key ? 'config' : 'none';
}
const keySource = masterKeySource();
const env = { ...process.env, PORT: String(port) };
if (keySource === 'none') env.MASTER_KEY = DEV_MASTER_KEY;

// ---- the edge's port -----------------------------------------------------------------------------------
/** Resolves with the error code that binding `p` gives, or undefined when it is free. */
function bindError(p) {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', (error) => done(error.code ?? 'EUNKNOWN'));
    server.listen({ port: p }, () => server.close(() => done(undefined)));
  });
}
const portProblem = await bindError(port);
if (portProblem === 'EADDRINUSE') {
  fail(`port ${port} is already in use, so the edge cannot listen on it. Stop whatever holds it (another Switchboard?) or start with PORT=<other port>.`);
} else if (portProblem === 'EACCES') {
  fail(`this user may not listen on port ${port}; start with PORT=<port above 1023>.`);
}

// ---- build ---------------------------------------------------------------------------------------------
if (needsBuild(ROOT)) {
  say('building (tsc -p tsconfig.build.json, and the admin UI when ui/ changed) ...');
  const started = Date.now();
  const status = build(ROOT);
  // tsc exits 2 when it found type errors but still wrote the JavaScript; 1 when it wrote nothing.
  if (status === 2) say('the build reported type errors (above); starting with the JavaScript it emitted', 'warn');
  else if (status !== 0) fail('the build failed (see the compiler output above)');
  say(`built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
for (const name of SERVICES) {
  const main = join(ROOT, 'dist/services', name, 'src/main.js');
  if (!existsSync(main)) fail(`${main} is missing after the build: does services/${name}/src/main.ts exist?`);
}

// ---- children ------------------------------------------------------------------------------------------
const children = new Map(); // name -> { child, startedAt, backoff, timer }
let stopping = false;
/** Set once /health/readiness first answers 200. */
let ready = false;
let bindFailed = false;
let configInvalid = false;
let readinessTimer;

function pipeLines(name, stream, streamName) {
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  rl.on('line', (line) => {
    if (!line.trim()) return;
    if ((name === 'edge' || name === 'one-process') && /EADDRINUSE|address already in use/i.test(line)) bindFailed = true;
    if (/configuration is invalid/.test(line)) configInvalid = true;
    if (json) process.stdout.write(line + '\n');
    else process.stdout.write(formatLine(name, line, { colour, stream: streamName }) + '\n');
  });
}


function startChild(name) {
  const state = children.get(name) ?? { backoff: 1000 };
  // The IPC channel is never used for messages: when this supervisor dies, even by SIGKILL, it closes and the
  // child stops by itself instead of living on with the port taken.
  const child = spawn(process.execPath, [join(ROOT, 'dist/services', name, 'src/main.js'), '--config', configPath], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  state.child = child;
  state.startedAt = Date.now();
  children.set(name, state);
  pipeLines(name, child.stdout, 'stdout');
  pipeLines(name, child.stderr, 'stderr');
  child.on('exit', (code, signal) => {
    state.child = undefined;
    if (stopping) return maybeDone();
    if ((name === 'edge' || name === 'one-process') && bindFailed) {
      say(`the edge cannot listen on port ${port}: it is already in use. Stop whatever holds it or start with PORT=<other port>.`, 'error');
      return shutdown(1);
    }
    if (configInvalid) {
      say(`${name} rejected the configuration (problems above, one per line): fix ${configPath} or the environment and start again.`, 'error');
      return shutdown(1);
    }
    if (!ready) {
      // Failing before the gateway was ever ready is a problem of the setup (a data folder in use, a database that
      // refuses us, ...): restarting in a loop would only repeat the message above.
      say(`${name} stopped before the gateway was ready (${signal ? `signal ${signal}` : `code ${code}`}); the reason is above.`, 'error');
      return shutdown(1);
    }
    if (Date.now() - state.startedAt > 30_000) state.backoff = 1000; // it ran for a while: start the backoff over
    say(`${name} exited unexpectedly (${signal ? `signal ${signal}` : `code ${code}`}); restarting in ${state.backoff / 1000} s`, 'error');
    state.timer = setTimeout(() => {
      state.timer = undefined;
      if (!stopping) startChild(name);
    }, state.backoff);
    state.backoff = Math.min(state.backoff * 2, MAX_BACKOFF_MS);
  });
}

let exitCode = 0;
let killTimer;
function maybeDone() {
  if ([...children.values()].some((s) => s.child)) return;
  clearTimeout(killTimer);
  say('stopped');
  process.exit(exitCode);
}

function shutdown(code = 0) {
  if (stopping) {
    // A second Ctrl-C: do not wait for the grace period.
    for (const s of children.values()) s.child?.kill('SIGKILL');
    return;
  }
  stopping = true;
  exitCode = code;
  clearInterval(readinessTimer);
  say('stopping all services ...');
  for (const s of children.values()) {
    clearTimeout(s.timer);
    s.child?.kill('SIGTERM');
  }
  killTimer = setTimeout(() => {
    for (const [name, s] of children) {
      if (s.child) {
        say(`${name} did not stop within ${STOP_GRACE_MS / 1000} s: killing it`, 'warn');
        s.child.kill('SIGKILL');
      }
    }
  }, STOP_GRACE_MS);
  maybeDone();
}

process.on('SIGINT', () => shutdown(0));
process.on('SIGTERM', () => shutdown(0));
process.on('SIGHUP', () => shutdown(0));
// `npm start & kill $!` signals npm, which may end without passing the signal on: when whoever started this
// supervisor goes away, stop as if signalled rather than live on as an orphan holding the port.
const parentAtStart = process.ppid;
setInterval(() => {
  if (process.ppid !== parentAtStart) {
    say(`the process that started this one (pid ${parentAtStart}) is gone: stopping`, 'warn');
    shutdown(0);
  }
}, 250).unref();

say(`config ${configPath}`);
if (keySource === 'none') say(`MASTER_KEY is not set and the config sets no master_key: using "${DEV_MASTER_KEY}" for local development`, 'warn');
for (const name of SERVICES) startChild(name);

// ---- readiness -----------------------------------------------------------------------------------------
const readinessUrl = `http://127.0.0.1:${port}/health/readiness`;
const startedAt = Date.now();
let warnedSlow = false;
readinessTimer = setInterval(async () => {
  if (ready || stopping) return;
  let status = 0;
  let body = '';
  try {
    const response = await fetch(readinessUrl, { signal: AbortSignal.timeout(2000) });
    status = response.status;
    body = await response.text();
  } catch (error) {
    body = error.cause?.code ?? error.message;
  }
  if (ready || stopping) return;
  if (status === 200) {
    ready = true;
    clearInterval(readinessTimer);
    const key =
      keySource === 'none' ? `${DEV_MASTER_KEY} (local-development default; set MASTER_KEY to change it)` : keySource === 'env' ? 'the value of MASTER_KEY' : 'general_settings.master_key of the config';
    say(`ready in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
    say(`MCP endpoint: http://localhost:${port}/mcp   (one server: http://localhost:${port}/mcp/<server>)`);
    say(`master key:   ${key}; send it as "x-litellm-api-key: Bearer <key>" or "Authorization: Bearer <key>"`);
  } else if (!warnedSlow && Date.now() - startedAt > 60_000) {
    warnedSlow = true;
    say(`not ready after 60 s: ${readinessUrl} answers ${status || 'nothing'} ${body.slice(0, 300)}`, 'warn');
  }
}, 500);
