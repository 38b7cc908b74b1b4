#!/usr/bin/env node
// `npm start` compiles only when the build is out of date: a full `tsc` takes 10-20 s, this check a
// few milliseconds. A build counts once it succeeded: `prebuild` marks its start (--begin) and
// `postbuild`, which npm runs only after a successful build, makes that mark the stamp (--done).
// Any file or folder under src/ (a deletion changes its folder), tsconfig.json or package-lock.json
// changed after that start makes the build stale.
import { spawnSync } from 'node:child_process';
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

const mode = process.argv[2];
if (mode === '--begin') {
  mkdirSync(join(root, 'dist'), { recursive: true });
  writeFileSync(started, `${new Date().toISOString()}\n`);
} else if (mode === '--done') {
  try {
    renameSync(started, stamp);
  } catch {
    // A concurrent build already turned the mark into the stamp.
  }
} else {
  const built = mtime(stamp);
  if (built !== undefined && newestInput() < built && mtime(join(root, 'dist', 'cli', 'main.js')) !== undefined) process.exit(0);
  const result = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  process.exit(result.status ?? 1);
}
