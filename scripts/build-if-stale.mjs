#!/usr/bin/env node
// `npm start` compiles only when the build is out of date: a full `tsc` takes 10-20 s, this check a
// few milliseconds. A build counts once it succeeded: its start is marked (--begin) and the mark
// becomes the stamp when it succeeds (--done; `npm run build` does both through pre/postbuild).
// Any file or folder under src/ (a deletion changes its folder), tsconfig.json or package-lock.json
// changed after that start makes the server build stale; any under web/ (or package-lock.json),
// the web app's (vite, into dist/web). Each part is rebuilt only when it is stale.
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

function newestIn(files, dirs) {
  let newest = Math.max(0, ...files.map((file) => mtime(join(root, file)) ?? 0));
  const walk = (dir) => {
    newest = Math.max(newest, mtime(dir) ?? 0);
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else newest = Math.max(newest, mtime(path) ?? 0);
    }
  };
  for (const dir of dirs) if (mtime(join(root, dir)) !== undefined) walk(join(root, dir));
  return newest;
}

/** Runs a node script as a child; a signal to `npm start` reaches it too. Resolves with its exit code. */
function run(script, args) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { cwd: root, stdio: 'inherit' });
    const forward = (signal) => child.kill(signal);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.on('exit', (code, signal) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(code ?? (signal ? 1 : 0));
    });
  });
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
  const built = mtime(stamp) ?? 0;
  const serverStale = newestIn(['tsconfig.json', 'package-lock.json'], ['src']) >= built || mtime(join(root, 'dist', 'cli', 'main.js')) === undefined;
  const webStale = newestIn(['package-lock.json'], ['web']) >= built || mtime(join(root, 'dist', 'web', 'index.html')) === undefined;
  // Vite is a development dependency: an install without them (--omit=dev) serves the API only.
  const vite = join(root, 'node_modules', 'vite', 'bin', 'vite.js');
  const hasWeb = mtime(join(root, 'web')) !== undefined;
  const canBuildWeb = hasWeb && mtime(vite) !== undefined;
  if (webStale && hasWeb && !canBuildWeb) console.error('build-if-stale: the web app is not built and vite is not installed (npm ci without --omit=dev builds it); serving the API only');
  if (!serverStale && !(webStale && canBuildWeb)) process.exit(0);
  begin();
  // tsc and vite directly (not `npm run build`), so a signal to `npm start` reaches them too.
  let code = 0;
  if (serverStale) code = await run(join(root, 'node_modules', 'typescript', 'bin', 'tsc'), ['-p', 'tsconfig.json']);
  if (code === 0 && webStale && canBuildWeb) code = await run(vite, ['build', '--config', 'web/vite.config.ts', '--logLevel', 'warn']);
  if (code === 0) done();
  process.exit(code);
}
