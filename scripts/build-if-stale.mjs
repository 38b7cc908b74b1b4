#!/usr/bin/env node
// `npm start` compiles only when the build is out of date: a full `tsc` takes 10-20 s, this check a
// few milliseconds. A build counts once it succeeded: its start is marked (--begin) and the mark
// becomes the stamp when it succeeds (--done; `npm run build` does both through pre/postbuild).
// Any file or folder under src/ (a deletion changes its folder), tsconfig.json or package-lock.json
// changed after that start makes the build stale.
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const started = join(root, 'dist', '.build-started');
const stamp = join(root, 'dist', '.build-stamp');

const mtime = (path) => {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
};

function newestInput() {
  let newest = Math.max(mtime(join(root, 'tsconfig.json')) ?? 0, mtime(join(root, 'package-lock.json')) ?? 0);
  const walk = (dir) => {
    newest = Math.max(newest, mtime(dir) ?? 0);
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else newest = Math.max(newest, mtime(path) ?? 0);
    }
  };
  walk(join(root, 'src'));
  return newest;
}

function begin() {
  mkdirSync(join(root, 'dist'), { recursive: true });
  writeFileSync(started, `${new Date().toISOString()}\n`);
}

function done() {
  try {
    renameSync(started, stamp);
  } catch {
    // A concurrent build already turned the mark into the stamp.
  }
}

const mode = process.argv[2];
if (mode === '--begin') begin();
else if (mode === '--done') done();
else {
  const built = mtime(stamp);
  if (built !== undefined && newestInput() < built && mtime(join(root, 'dist', 'cli', 'main.js')) !== undefined) process.exit(0);
  begin();
  // tsc directly (not `npm run build`), so a signal to `npm start` reaches the compiler too.
  const tsc = spawn(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => tsc.kill(signal));
  tsc.on('exit', (code, signal) => {
    if (code === 0) done();
    process.exit(code ?? (signal ? 1 : 0));
  });
}
