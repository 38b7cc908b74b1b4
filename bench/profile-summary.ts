/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`, e.g. the server started by
 * `BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=bench/profiles" npm run bench`, or the one
 * the bench's profile scenario takes through the inspector with BENCH_PROFILE=1):
 *   - self time by function (file:line)
 *   - self time charged to the nearest project frame (src/ or dist/) on the stack, so time spent
 *     inside libraries (kysely, better-sqlite3, fastify, undici) lands on the line that called them
 *   - inclusive time of project functions
 *
 *   node --import tsx bench/profile-summary.ts bench/profiles/CPU.*.cpuprofile [top=25]
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
export interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** The summary as text; `top` rows per table. */
export function summarizeProfile(profile: Profile, source: string, top = 25): string {
  const out: string[] = [];
  const log = (line = '') => out.push(line);
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, index) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)));
  const totalUs = [...selfUs.values()].reduce((sum, value) => sum + value, 0);

  const shortUrl = (url: string): string => {
    const path = url.replace(/^file:\/\//, '');
    if (path.includes('/node_modules/')) return path.replace(/^.*\/node_modules\//, '');
    return path.replace(/^.*\/(dist|src)\//, '$1/');
  };
  const label = (frame: CallFrame): string => {
    const where = frame.url ? `${shortUrl(frame.url)}:${frame.lineNumber + 1}` : '(native)';
    return `${frame.functionName || '(anonymous)'} ${where}`;
  };
  const isProject = (frame: CallFrame): boolean => /\/(dist|src)\//.test(frame.url) && !frame.url.includes('node_modules');

  const bump = (map: Map<string, number>, key: string, value: number) => map.set(key, (map.get(key) ?? 0) + value);
  const selfByFunction = new Map<string, number>();
  const chargedToProject = new Map<string, number>();
  const inclusiveProject = new Map<string, number>();
  const byPackage = new Map<string, number>();

  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    bump(selfByFunction, label(node.callFrame), us);
    const url = node.callFrame.url;
    const pkg = url.includes('node_modules/')
      ? url.replace(/^.*node_modules\/((@[^/]+\/)?[^/]+).*$/, '$1')
      : url.startsWith('node:')
        ? 'node: (core)'
        : isProject(node.callFrame)
          ? 'project (dist/)'
          : node.callFrame.functionName.startsWith('(') ? node.callFrame.functionName : '(native/vm)';
    bump(byPackage, pkg, us);
    // Walk up: nearest project frame gets the self time; every distinct project frame gets inclusive.
    let charged = false;
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!.callFrame;
      if (!isProject(frame)) continue;
      const key = label(frame);
      if (!charged) {
        bump(chargedToProject, key, us);
        charged = true;
      }
      if (!seen.has(key)) {
        seen.add(key);
        bump(inclusiveProject, key, us);
      }
    }
    if (!charged) bump(chargedToProject, `(no project frame) ${label(node.callFrame)}`, us);
  }

  /** Coarse buckets: the first frame from the leaf up that matches a rule decides. */
  const BUCKETS: Array<[string, RegExp]> = [
    ['database (Kysely, better-sqlite3/pg, src/store)', /kysely|better-sqlite3|node_modules\/pg|pg-protocol|pg-pool|\/store\//],
    // appender, group-commit, write-behind, event-store: the event pipeline as rewritten for issue 8.
    ['event log queue + bus (src/events/log, bus, appender, commit queues, agent/recorder)', /events\/(log|bus|appender|group-commit|write-behind|event-store)|agent\/recorder/],
    ['SSE out to clients (sse-writer, replay/live stream)', /events\/(sse-writer|socket-writer|session-follower|stream|projections)|http\/streams/],
    ['model stream in (fetch/undici, SSE parse, provider + loop generators)', /undici|eventsource-parser|agent\/providers|agent\/loop/],
    ['run start/finish bookkeeping (run-manager, tools specs, workspace dir)', /agent\/run-manager|tools\/|sessions\/|agent\/workspace-tools/],
    ['HTTP, auth, validation (fastify, jose, zod, routes)', /fastify|find-my-way|jose|zod|avvio|\/http\/|\/auth\/|light-my-request|pino/],
  ];
  const buckets = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const leaf = byId.get(id)!.callFrame;
    let bucket: string | undefined;
    if (leaf.functionName === '(idle)') bucket = '(idle)';
    else if (leaf.functionName === '(garbage collector)') bucket = 'garbage collector';
    for (let at: number | undefined = id; !bucket && at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!.callFrame;
      bucket = BUCKETS.find(([, pattern]) => pattern.test(frame.url))?.[0];
    }
    bump(buckets, bucket ?? 'other (node core, native, startup)', us);
  }
  const busyUs = totalUs - (buckets.get('(idle)') ?? 0);

  const print = (title: string, map: Map<string, number>) => {
    log(`\n## ${title}\n`);
    for (const [key, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      log(`${(us / 1000).toFixed(0).padStart(7)} ms ${((100 * us) / totalUs).toFixed(1).padStart(5)}%  ${key}`);
    }
  };

  log(`profile: ${source}; sampled ${(totalUs / 1000).toFixed(0)} ms over ${((profile.endTime - profile.startTime) / 1000).toFixed(0)} ms wall`);
  log('\n## Buckets (share of non-idle time)\n');
  for (const [key, us] of [...buckets].sort((a, b) => b[1] - a[1])) {
    const share = key === '(idle)' ? '' : `${((100 * us) / busyUs).toFixed(1).padStart(5)}%`;
    log(`${(us / 1000).toFixed(0).padStart(7)} ms ${share.padStart(6)}  ${key}`);
  }
  print('Self time by package', byPackage);
  print('Self time by function', selfByFunction);
  print('Self time charged to the nearest project frame', chargedToProject);
  print('Inclusive time of project functions', inclusiveProject);
  return out.join('\n');
}

// Run as a script: summarise the file named on the command line.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [path, topArg] = process.argv.slice(2);
  if (!path) {
    console.error('usage: profile-summary.ts <file.cpuprofile> [top]');
    process.exit(2);
  }
  console.log(summarizeProfile(JSON.parse(readFileSync(path, 'utf8')) as Profile, path, Number(topArg ?? 25)));
}
