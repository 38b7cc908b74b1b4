import BetterSqlite3 from 'better-sqlite3';
import { isBusy } from './event-store.js';

const DEFAULT_LOCK_WAIT_MS = 5_000;

/**
 * One process writes a SQLite database's event log: it numbers cursors in memory, and it alone
 * revokes tokens (auth/family-cache.ts), so a second server on the same file would hand out the
 * same cursors and miss the first one's logouts. The writer holds an exclusive transaction on a
 * small database of its own next to the main one (`<file>-writer.lock`) for its whole life: a
 * SQLite file lock, which the system drops when the process dies, kill -9 included, so a crash
 * leaves nothing stale behind. The main database stays open to other connections (the
 * checkpointer, `tokendance user create`).
 */
export async function takeSqliteWriterLock(databasePath: string, options: { waitMs?: number } = {}): Promise<{ release(): void }> {
  const lock = new BetterSqlite3(`${databasePath}-writer.lock`, { timeout: 0 });
  const deadline = Date.now() + (options.waitMs ?? DEFAULT_LOCK_WAIT_MS);
  try {
    for (;;) {
      try {
        // Nothing is ever written: no journal file beside it. Setting it reads the file, so it waits for the lock too.
        lock.pragma('journal_mode = MEMORY');
        lock.exec('begin exclusive');
        break;
      } catch (error) {
        if (!isBusy(error)) throw error;
      }
      // A restart's new process may start while the old one finishes its shutdown.
      if (Date.now() > deadline) {
        throw new Error(
          `another TokenDance process is writing this SQLite database (${databasePath}): stop it first; several processes need scale-out mode (PostgreSQL + redis.url, SPEC §11)`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } catch (error) {
    lock.close();
    throw error;
  }
  return { release: () => lock.close() };
}
