// The processes `npm run bench` measures: CPU time read from /proc, private brokers (NATS, Redis) whose CPU is the
// gateway's alone, the heap after a forced GC of a Node process through its inspector (a process started with
// --inspect=127.0.0.1:0), and the child processes of a process (a connector's stdio servers).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { freePort } from './suite.mjs';

const CLK_TCK = (() => {
  const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(out.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** utime + stime of a process (all its threads), in µs; undefined once it is gone. */
export function cpuMicros(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may hold spaces and parentheses: count fields after its closing parenthesis
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): utime is field 14, stime field 15
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** The resolution of cpuMicros, in µs. */
export const CPU_TICK_US = 1e6 / CLK_TCK;

/**
 * CPU time of a fixed set of processes ({name, pid}), read before and after each measured stretch and summed per
 * process: `µs per call` is that sum over the calls made in those stretches.
 */
export class CpuMeter {
  constructor(processes) {
    this.processes = processes.filter((p) => p.pid);
  }

  read() {
    return this.processes.map((p) => cpuMicros(p.pid) ?? NaN);
  }

  /** A new accumulator: {name: µs}. */
  empty() {
    return Object.fromEntries(this.processes.map((p) => [p.name, 0]));
  }

  /** Adds after - before to `into`. */
  add(into, before, after) {
    this.processes.forEach((p, i) => {
      into[p.name] += after[i] - before[i];
    });
  }
}

/** The load average as printed with the figures. */
export function loadAverage() {
  return os
    .loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');
}

/**
 * A broker of the bench's own on a free port of 127.0.0.1, so that its CPU time is the gateway's alone (the
 * machine's shared NATS and Redis serve other work too). `kind`: 'nats' or 'redis'.
 */
export async function startPrivateBroker(kind) {
  const port = await freePort();
  const [command, args, url] =
    kind === 'nats'
      ? ['nats-server', ['-a', '127.0.0.1', '-p', String(port)], `nats://127.0.0.1:${port}`]
      : ['redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], `redis://127.0.0.1:${port}`];
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const output = [];
  const keep = (chunk) => {
    output.push(chunk.toString('utf8'));
    if (output.length > 100) output.shift();
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${command} exited: ${output.join('').slice(-1000)}`);
    if (await portOpen(port)) break;
    if (Date.now() - started > 15_000) {
      kill();
      throw new Error(`${command} did not listen on ${port} within 15 s`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    kind,
    url,
    port,
    pid: child.pid,
    async stop() {
      process.off('exit', kill);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(kill, 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function portOpen(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** used_memory of a Redis (INFO memory), in bytes. */
export function redisUsedMemory(port) {
  const out = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'info', 'memory'], { encoding: 'utf8' });
  const match = /used_memory:(\d+)/.exec(out.stdout ?? '');
  return match ? Number(match[1]) : NaN;
}

/** The pids whose parent is `pid`, with their command lines. */
export function childrenOf(pid) {
  const children = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== pid) continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim();
      children.push({ pid: Number(entry), cmdline });
    } catch {
      /* gone meanwhile */
    }
  }
  return children;
}

/** The inspector's WebSocket URL a process printed at start (`--inspect=127.0.0.1:0`), or undefined. */
export function inspectorUrlOf(proc) {
  for (const line of proc.output) {
    const match = /Debugger listening on (ws:\/\/\S+)/.exec(line);
    if (match) return match[1];
  }
  return undefined;
}

/**
 * A Chrome DevTools Protocol session over the inspector's WebSocket (a minimal client: text frames, masked as a
 * client must). `send(method, params)` resolves with the result.
 */
export async function openInspector(wsUrl) {
  const url = new URL(wsUrl);
  const socket = net.connect(Number(url.port), url.hostname);
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const key = randomBytes(16).toString('base64');
  socket.write(`GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  let buffer = Buffer.alloc(0);
  let upgraded = false;
  let fragments = [];
  const pending = new Map();
  let nextId = 0;
  let failed;
  const fail = (error) => {
    failed = error;
    for (const { reject } of pending.values()) reject(error);
    pending.clear();
  };
  // bytes received and not parsed yet: concatenated only once a whole frame can be there (a profile is megabytes)
  let waiting = [];
  let waitingLength = 0;
  let needed = 0;
  const onUpgrade = new Promise((resolve, reject) => {
    socket.on('data', (chunk) => {
      waiting.push(chunk);
      waitingLength += chunk.length;
      if (waitingLength < needed) return;
      buffer = Buffer.concat([buffer, ...waiting]);
      waiting = [];
      waitingLength = 0;
      needed = 0;
      if (!upgraded) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buffer.subarray(0, end).toString('latin1');
        if (!/^HTTP\/1\.1 101/.test(head)) return reject(new Error(`inspector refused the upgrade: ${head.split('\r\n')[0]}`));
        upgraded = true;
        buffer = buffer.subarray(end + 4);
        resolve();
      }
      // frames from the server: never masked
      for (;;) {
        if (buffer.length < 2) return;
        const fin = (buffer[0] & 0x80) !== 0;
        const opcode = buffer[0] & 0x0f;
        let length = buffer[1] & 0x7f;
        let offset = 2;
        if (length === 126) {
          if (buffer.length < 4) return;
          length = buffer.readUInt16BE(2);
          offset = 4;
        } else if (length === 127) {
          if (buffer.length < 10) return;
          length = Number(buffer.readBigUInt64BE(2));
          offset = 10;
        }
        if (buffer.length < offset + length) {
          needed = offset + length - buffer.length;
          return;
        }
        const payload = buffer.subarray(offset, offset + length);
        buffer = buffer.subarray(offset + length);
        if (opcode === 0x8) return socket.end();
        if (opcode !== 0x1 && opcode !== 0x0) continue;
        fragments.push(payload);
        if (!fin) continue;
        const text = Buffer.concat(fragments).toString('utf8');
        fragments = [];
        const message = JSON.parse(text);
        const call = message.id !== undefined ? pending.get(message.id) : undefined;
        if (!call) continue;
        pending.delete(message.id);
        if (message.error) call.reject(new Error(`${call.method}: ${message.error.message}`));
        else call.resolve(message.result);
      }
    });
    socket.once('error', (error) => {
      reject(error);
      fail(error);
    });
    socket.once('close', () => fail(new Error('inspector connection closed')));
  });
  await onUpgrade;
  const frame = (text) => {
    const payload = Buffer.from(text, 'utf8');
    const mask = randomBytes(4);
    let header;
    if (payload.length < 126) {
      header = Buffer.from([0x81, 0x80 | payload.length]);
    } else if (payload.length < 65536) {
      header = Buffer.from([0x81, 0x80 | 126, 0, 0]);
      header.writeUInt16BE(payload.length, 2);
    } else {
      header = Buffer.alloc(10);
      header[0] = 0x81;
      header[1] = 0x80 | 127;
      header.writeBigUInt64BE(BigInt(payload.length), 2);
    }
    for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
    return Buffer.concat([header, mask, payload]);
  };
  return {
    send(method, params = {}) {
      if (failed) return Promise.reject(failed);
      const id = ++nextId;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject, method });
        socket.write(frame(JSON.stringify({ id, method, params })));
      });
    },
    close() {
      socket.end();
      socket.destroy();
    },
  };
}

/** The V8 heap in use after full garbage collections, in bytes, of the process behind an inspector URL. */
export async function heapAfterGc(wsUrl) {
  const inspector = await openInspector(wsUrl);
  try {
    // twice: what the first one's weak callbacks and finalizers let go is collected by the second
    await inspector.send('HeapProfiler.collectGarbage');
    await inspector.send('HeapProfiler.collectGarbage');
    const usage = await inspector.send('Runtime.getHeapUsage');
    return usage.usedSize;
  } finally {
    inspector.close();
  }
}
