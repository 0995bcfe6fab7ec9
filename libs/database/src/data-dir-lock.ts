import { linkSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

/** Who holds a data folder: written into its lock file. */
export interface LockHolder {
  pid: number;
  hostname: string;
  since: string;
  /** Linux's boot id: a lock written before the last reboot is stale whatever its pid names now. */
  boot?: string | null;
}

/** A second opener of an embedded data folder: PGlite serves one process, two would corrupt the files. */
export class DataDirInUseError extends Error {
  override name = 'DataDirInUseError';

  constructor(
    readonly lockPath: string,
    /** null when this very process has the folder open already. */
    readonly holder: LockHolder | null,
  ) {
    super(
      holder
        ? `the data folder is in use by process ${holder.pid} on host ${holder.hostname} (since ${holder.since}); ` +
            `the embedded database serves one process at a time: stop that process, use another SWITCHBOARD_DATA_DIR, or set DATABASE_URL ` +
            `(lock file ${lockPath}; delete it only if that ${holder.hostname === hostname() ? 'process' : 'host'} no longer runs Switchboard)`
        : `the data folder is already open in this process (lock file ${lockPath}): open the embedded database once and share its target`,
    );
  }
}

/** Lock files this process holds: a lock naming our own pid that is not in here was left by an earlier process. */
const heldHere = new Set<string>();

/** A lock file being written by its creator is empty for a moment; older and still unreadable means it was left broken. */
const UNREADABLE_GRACE_MS = 2000;

/**
 * Takes `lockPath` for this process (a file created exclusively, holding our pid). A lock whose process is gone is
 * taken over; a live holder gets DataDirInUseError. Returns the release function.
 */
export async function acquireDataDirLock(lockPath: string): Promise<() => void> {
  if (heldHere.has(lockPath)) throw new DataDirInUseError(lockPath, null);
  const mine = JSON.stringify({ pid: process.pid, hostname: hostname(), since: new Date().toISOString(), boot: bootId() } satisfies LockHolder);
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      writeFileSync(lockPath, mine, { flag: 'wx' });
      heldHere.add(lockPath);
      return () => release(lockPath, mine);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const text = readOrNull(lockPath);
    if (text === null) continue; // released meanwhile
    const holder = parseHolder(text);
    if (holder && isAlive(holder)) throw new DataDirInUseError(lockPath, holder);
    if (!holder && Date.now() - mtimeOr0(lockPath) < UNREADABLE_GRACE_MS) {
      await sleep(50);
      continue;
    }
    takeOver(lockPath, text);
  }
  throw new Error(`could not take the lock file ${lockPath}: it keeps changing`);
}

function release(lockPath: string, mine: string): void {
  heldHere.delete(lockPath);
  if (readOrNull(lockPath) === mine) rmSync(lockPath, { force: true });
}

/**
 * Moves a stale lock aside (rename is atomic). If what was moved is not the stale lock we read, another process took
 * it over in between: put theirs back, so that the next attempt finds them holding it.
 */
function takeOver(lockPath: string, staleText: string): void {
  const aside = `${lockPath}.${process.pid}.stale`;
  try {
    renameSync(lockPath, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (readOrNull(aside) !== staleText) {
    try {
      linkSync(aside, lockPath);
    } catch {
      // a third process holds it now; the next attempt sees that one
    }
  }
  rmSync(aside, { force: true });
}

function isAlive(holder: LockHolder): boolean {
  if (holder.hostname !== hostname()) return true; // another host's process cannot be checked from here
  const boot = bootId();
  if (holder.boot && boot && holder.boot !== boot) return false;
  if (holder.pid === process.pid) return false; // not in heldHere: an earlier process that had our pid
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by another user
  }
}

function bootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return null; // not Linux: pid checks only
  }
}

function parseHolder(text: string): LockHolder | null {
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    return Number.isInteger(value.pid) && typeof value.hostname === 'string' ? (value as LockHolder) : null;
  } catch {
    return null;
  }
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

function mtimeOr0(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}
