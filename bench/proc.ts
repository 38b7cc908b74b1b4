/**
 * Per-process resource readings from /proc (Linux only), for processes the bench did not write:
 * CPU time and resident memory of a child are read from outside, so the child needs no
 * instrumentation and the same method measures the bare relay and the real server.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

let clockTicks: number | undefined;

/** `getconf CLK_TCK` (the unit of utime/stime in /proc/<pid>/stat), usually 100. */
export function clkTck(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

export interface CpuReading {
  /** utime + stime of all threads (dead ones included), in ms; resolution 1000/CLK_TCK ms. */
  tickMs: number;
  /** Sum of sum_exec_runtime over live threads (/proc/<pid>/task/<tid>/schedstat), in ms; ns resolution. */
  schedMs: number | null;
}

export function readCpu(pid: number): CpuReading {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after "(comm) ": state is field 3, utime field 14, stime field 15 (1-based).
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(rest[11]) + Number(rest[12]);
  return { tickMs: (ticks * 1000) / clkTck(), schedMs: readSchedMs(pid) };
}

function readSchedMs(pid: number): number | null {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // The thread exited between readdir and read.
      }
    }
    return ns / 1e6;
  } catch {
    return null;
  }
}

/** CPU ms between two readings: schedstat when both have it (precise), else ticks. */
export function cpuDeltaMs(before: CpuReading, after: CpuReading): number {
  if (before.schedMs !== null && after.schedMs !== null && after.schedMs >= before.schedMs) return after.schedMs - before.schedMs;
  return after.tickMs - before.tickMs;
}

/** VmRSS and VmHWM of a process in bytes (0 when unreadable). */
export function readMemory(pid: number): { rss: number; hwm: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return { rss: 0, hwm: 0 };
  }
}

/** Resets VmHWM to the current RSS (Linux ≥ 4.0, same user); false when not permitted. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Samples VmRSS every `intervalMs` until stopped; reports the peak sample and the VmHWM at stop. */
export function sampleMemory(pid: number, intervalMs = 50): { stop(): { peakRss: number; hwm: number; hwmReset: boolean } } {
  const hwmReset = resetPeakRss(pid);
  let peakRss = readMemory(pid).rss;
  const timer = setInterval(() => {
    peakRss = Math.max(peakRss, readMemory(pid).rss);
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      const last = readMemory(pid);
      return { peakRss: Math.max(peakRss, last.rss), hwm: last.hwm, hwmReset };
    },
  };
}

/** Bytes the process passed to write()-family syscalls (sockets and files: wchar) and to storage (write_bytes). */
export function readIo(pid: number): { wchar: number; syscw: number; writeBytes: number } | null {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const field = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(io)?.[1] ?? 0);
    return { wchar: field('wchar'), syscw: field('syscw'), writeBytes: field('write_bytes') };
  } catch {
    return null;
  }
}
