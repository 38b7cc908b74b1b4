/**
 * Writes bench/RESULTS.md. The file is regenerated on every run, except for a section headed
 * exactly "## CPU profile": that one is written by hand (before/after profile summaries) and is
 * carried over verbatim into the new file.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const KEPT_HEADING = /^## CPU profile\s*$/;

/** The hand-written section of an existing file (heading to the next `## ` heading), outside code fences. */
export function keptSection(markdown: string): string | undefined {
  const lines = markdown.split('\n');
  let inFence = false;
  let start = -1;
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!;
    if (/^\s*(```|~~~)/.test(line)) inFence = !inFence;
    if (inFence) continue;
    if (start < 0 && KEPT_HEADING.test(line)) start = index;
    else if (start >= 0 && /^## /.test(line)) return lines.slice(start, index).join('\n').trimEnd();
  }
  return start >= 0 ? lines.slice(start).join('\n').trimEnd() : undefined;
}

export interface ResultsDocument {
  header: string;
  /** Sections in order, each starting with its `## ` heading; the kept section goes before `tail`. */
  sections: string[];
  /** Sections after the kept one (failures, every sample). */
  tail: string[];
}

export function writeResultsFile(path: string, document: ResultsDocument): void {
  const kept = existsSync(path) ? keptSection(readFileSync(path, 'utf8')) : undefined;
  const parts = [document.header, ...document.sections, ...(kept ? [kept] : []), ...document.tail];
  writeFileSync(path, `${parts.map((part) => part.trimEnd()).join('\n\n')}\n`);
}
