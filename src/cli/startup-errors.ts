import { InvalidArgumentError } from 'commander';
import { ConfigError } from '../config/load.js';
import { AppError } from '../core/errors.js';
import { StartupError } from '../server.js';

/** Where the server tried to listen and what it tried to open, to word the fix. */
export interface StartupTarget {
  host?: string;
  port?: number;
  databaseUrl?: string;
}

interface SystemError extends Error {
  code?: string;
  syscall?: string;
  address?: string;
  port?: number;
}

/**
 * One line that says what went wrong at start-up and how to fix it. `expected` is false for
 * failures nobody anticipated, whose stack trace (`--verbose`) may be worth reading.
 */
export function describeStartupError(error: unknown, target: StartupTarget = {}): { message: string; expected: boolean } {
  if (error instanceof ConfigError || error instanceof StartupError || error instanceof AppError || error instanceof InvalidArgumentError) {
    return { message: oneLine(error.message), expected: true };
  }
  const system = error as SystemError;
  const where = `${system.address ?? target.host ?? '127.0.0.1'}:${system.port ?? target.port ?? ''}`;
  if (system.syscall === 'listen' || system.code === 'EADDRINUSE') {
    switch (system.code) {
      case 'EADDRINUSE':
        return {
          message: `${where} is already in use (another TokenDance or other server?): stop it, or choose another port with --port <n> (or PORT, or server.port in the config)`,
          expected: true,
        };
      case 'EACCES':
        return { message: `not allowed to listen on ${where}: ports below 1024 need privileges; use --port 8000 or another port above 1023`, expected: true };
      case 'EADDRNOTAVAIL':
        return { message: `cannot listen on ${where}: that address does not belong to this machine; use --host 127.0.0.1 (or 0.0.0.0 for every interface)`, expected: true };
    }
  }
  if (system.code === 'ENOTFOUND' && system.syscall === 'getaddrinfo') {
    return { message: `cannot resolve host "${(system as { hostname?: string }).hostname ?? target.host}": check --host / server.host (or the host in database.url)`, expected: true };
  }
  if (system.code === 'ECONNREFUSED' && target.databaseUrl?.startsWith('postgres')) {
    return { message: `cannot connect to the database at ${where} (connection refused): start PostgreSQL there or fix database.url`, expected: true };
  }
  if (error instanceof Error) {
    // Model provider and database drivers word their own problems well (`providers.spark: no API key … (set SPARK_API_KEY …)`).
    return { message: oneLine(error.message) || error.name, expected: false };
  }
  return { message: String(error), expected: false };
}

const oneLine = (text: string) => text.replace(/\s*\n\s*/g, ' ').trim();
