// `npm run bench -- --profile`: summaries of V8 CPU profiles (.cpuprofile, as `node --cpu-prof` writes them) over
// a window of time: the functions with the most self time, mapped back to the TypeScript sources through the
// build's source maps, and the self time per package (our code, node_modules packages, Node internals, GC).
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const maps = new Map();

/** The source map of a built file (`<file>.map`), or undefined. */
function sourceMapOf(file) {
  if (!maps.has(file)) {
    let map;
    try {
      if (existsSync(`${file}.map`)) map = new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')));
    } catch {
      map = undefined;
    }
    maps.set(file, map);
  }
  return maps.get(file);
}

/** `path:line` of a call frame, in the TypeScript source when the build has a map for it. */
function locationOf(callFrame, root) {
  const { url, lineNumber, columnNumber } = callFrame;
  if (!url) return '';
  if (!url.startsWith('file://')) return `${url}:${lineNumber + 1}`;
  const file = fileURLToPath(url);
  const map = file.includes('/node_modules/') ? undefined : sourceMapOf(file);
  const entry = map?.findEntry(lineNumber, columnNumber);
  if (entry && entry.originalSource) {
    const source = entry.originalSource.startsWith('file://') ? fileURLToPath(entry.originalSource) : new URL(entry.originalSource, url).pathname;
    return `${relative(root, source)}:${entry.originalLine + 1}`;
  }
  return `${relative(root, file)}:${lineNumber + 1}`;
}

/** Which part of the process a frame belongs to: a node_modules package, Node itself, V8's pseudo-frames, or ours. */
function packageOf(callFrame) {
  const { url, functionName } = callFrame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native / V8 builtins)';
  if (url.startsWith('node:')) return 'node: internals';
  if (url.startsWith('wasm://')) return '(wasm: the embedded database)';
  const at = url.lastIndexOf('/node_modules/');
  if (at >= 0) {
    const rest = url.slice(at + '/node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const match = /\/dist\/(services\/[^/]+|libs\/[^/]+|test\/fixtures)\//.exec(url);
  return match ? match[1] : 'other';
}

/**
 * Self time per function and per package of one profile, over the samples taken between `fromUs` and `toUs` when
 * given (the profile's clock: microseconds of the monotonic clock, as process.hrtime.bigint() / 1000n); for the
 * native functions with the most self time, which of our (or a package's) functions called them (the nearest caller
 * outside Node's own modules); and the functions
 * of our code (services/, libs/) with the most total time (self and callees).
 */
export function summarizeProfile(path, { fromUs, toUs, root, top = 20 }) {
  const profile = JSON.parse(readFileSync(path, 'utf8'));
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parents = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const windowed = fromUs !== undefined && toUs !== undefined;
  const selfByNode = new Map();
  let t = profile.startTime;
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    if (windowed && (t < fromUs || t > toUs)) continue;
    const weight = profile.timeDeltas[i + 1] ?? 0;
    selfByNode.set(profile.samples[i], (selfByNode.get(profile.samples[i]) ?? 0) + weight);
    total += weight;
  }
  const keyOf = (callFrame) => `${callFrame.functionName}\u0000${callFrame.url}\u0000${callFrame.lineNumber}\u0000${callFrame.columnNumber}`;
  const byFunction = new Map();
  const byPackage = new Map();
  const totalByFunction = new Map();
  const callersOf = new Map();
  let idle = 0;
  for (const [id, us] of selfByNode) {
    const { callFrame } = nodes.get(id);
    if (callFrame.functionName === '(idle)') {
      idle += us;
      continue;
    }
    const key = keyOf(callFrame);
    const entry = byFunction.get(key) ?? { callFrame, us: 0 };
    entry.us += us;
    byFunction.set(key, entry);
    const pkg = packageOf(callFrame);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
    // total time: once per function on the stack of this sample
    const seen = new Set();
    let nearestWithUrl;
    for (let at = id; at !== undefined; at = parents.get(at)) {
      const frame = nodes.get(at).callFrame;
      const k = keyOf(frame);
      if (at !== id && frame.url && !frame.url.startsWith('node:') && nearestWithUrl === undefined) nearestWithUrl = frame;
      if (seen.has(k)) continue;
      seen.add(k);
      const sum = totalByFunction.get(k) ?? { callFrame: frame, us: 0 };
      sum.us += us;
      totalByFunction.set(k, sum);
    }
    if (!callFrame.url) {
      const callers = callersOf.get(key) ?? new Map();
      const caller = nearestWithUrl ? `${nearestWithUrl.functionName || '(anonymous)'} ${locationOf(nearestWithUrl, root)}` : '(none)';
      callers.set(caller, (callers.get(caller) ?? 0) + us);
      callersOf.set(key, callers);
    }
  }
  const busy = total - idle;
  const describe = ({ callFrame, us }) => ({
    name: callFrame.functionName || '(anonymous)',
    location: locationOf(callFrame, root),
    package: packageOf(callFrame),
    ms: us / 1000,
    share: us / busy,
    callers: callersOf.has(keyOf(callFrame))
      ? [...callersOf.get(keyOf(callFrame)).entries()]
          .sort((a, b) => b[1] - a[1])
          .slice(0, 4)
          .map(([caller, cus]) => ({ caller, share: cus / us }))
      : undefined,
  });
  const functions = [...byFunction.values()].sort((a, b) => b.us - a.us).slice(0, top).map(describe);
  const ours = [...totalByFunction.values()]
    .filter(({ callFrame }) => /^(services|libs)\//.test(packageOf(callFrame)))
    .sort((a, b) => b.us - a.us)
    .slice(0, 15)
    .map(describe);
  const packages = [...byPackage.entries()].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ name, ms: us / 1000, share: us / busy }));
  return { windowed, busyMs: busy / 1000, idleMs: idle / 1000, functions, ours, packages };
}

/** Report lines for one summary. */
export function reportProfile(title, summary, { packages = 12 } = {}) {
  const pct = (x) => `${(x * 100).toFixed(1)}%`.padStart(6);
  const out = [`${title}: ${summary.busyMs.toFixed(0)} ms busy, ${summary.idleMs.toFixed(0)} ms idle`];
  out.push('  self time by package (native: V8 builtins and C++ bindings, e.g. socket writes; their callers below):');
  for (const p of summary.packages.slice(0, packages)) out.push(`    ${pct(p.share)}  ${p.ms.toFixed(0).padStart(6)} ms  ${p.name}`);
  out.push('  top functions by self time:');
  for (const f of summary.functions) {
    out.push(`    ${pct(f.share)}  ${f.ms.toFixed(0).padStart(6)} ms  ${f.name}  ${f.location || `[${f.package}]`}`);
    if (f.callers && f.share >= 0.02) out.push(`             called from: ${f.callers.map((c) => `${c.caller} (${(c.share * 100).toFixed(0)}%)`).join('; ')}`);
  }
  out.push('  our functions by total time (self and callees):');
  for (const f of summary.ours) out.push(`    ${pct(f.share)}  ${f.ms.toFixed(0).padStart(6)} ms  ${f.name}  ${f.location}`);
  return out;
}
