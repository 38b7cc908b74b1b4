import { Ajv, type ErrorObject, type Options, type ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { z } from 'zod';

export type ToolArguments = Record<string, unknown>;

export interface ArgumentsSchema {
  /** Validates an arguments object against the tool's JSON Schema, with one zod issue per Ajv error. */
  schema: z.ZodType<ToolArguments>;
  /** Why the JSON Schema could not be compiled; then only "is an object" is checked here and the MCP server validates. */
  problem?: string;
}

// Formats are not checked (that would need ajv-formats); unknown keywords are ignored, not fatal.
const AJV_OPTIONS: Options = { strict: false, allErrors: true, validateFormats: false, validateSchema: false };

const isArgumentsObject = (value: unknown): value is ToolArguments =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * A zod schema for a tool whose arguments are described by JSON Schema (MCP `inputSchema`), so
 * that the registry rejects bad arguments with the same kind of message as for built-in tools.
 * Each tool gets its own Ajv instance: schemas may carry `$id`s that would clash in a shared one,
 * and a dropped tool takes its compiled code with it.
 */
export function argumentsSchemaOf(jsonSchema: Record<string, unknown>): ArgumentsSchema {
  let validate: ValidateFunction | undefined;
  let problem: string | undefined;
  try {
    validate = ajvFor(jsonSchema).compile(jsonSchema);
  } catch (error) {
    problem = error instanceof Error ? error.message : String(error);
  }
  const schema = z.unknown().superRefine((value, ctx) => {
    if (!isArgumentsObject(value)) {
      ctx.addIssue({ code: 'custom', message: 'arguments must be a JSON object' });
      return;
    }
    if (!validate || validate(value)) return;
    for (const error of validate.errors ?? []) ctx.addIssue({ code: 'custom', message: messageOf(error), path: pathOf(error) });
  }) as unknown as z.ZodType<ToolArguments>;
  return problem === undefined ? { schema } : { schema, problem };
}

function ajvFor(jsonSchema: Record<string, unknown>): Ajv {
  const dialect = typeof jsonSchema.$schema === 'string' ? jsonSchema.$schema : '';
  if (dialect.includes('2020-12')) return new Ajv2020(AJV_OPTIONS);
  if (dialect.includes('2019-09')) return new Ajv2019(AJV_OPTIONS);
  return new Ajv(AJV_OPTIONS);
}

/** `/items/0/name` → `['items', 0, 'name']`; a missing property is reported at its own path. */
function pathOf(error: ErrorObject): (string | number)[] {
  const path: (string | number)[] = error.instancePath
    .split('/')
    .slice(1)
    .map((segment) => segment.replaceAll('~1', '/').replaceAll('~0', '~'))
    .map((segment) => (/^(0|[1-9][0-9]*)$/.test(segment) ? Number(segment) : segment));
  if (error.keyword === 'required' && typeof error.params.missingProperty === 'string') path.push(error.params.missingProperty);
  return path;
}

function messageOf(error: ErrorObject): string {
  if (error.keyword === 'required') return 'is required';
  if (error.keyword === 'additionalProperties' && typeof error.params.additionalProperty === 'string') {
    return `unknown property "${error.params.additionalProperty}"`;
  }
  if (error.keyword === 'enum' && Array.isArray(error.params.allowedValues)) {
    return `must be one of ${error.params.allowedValues.map((value: unknown) => JSON.stringify(value)).join(', ')}`;
  }
  return error.message ?? `fails "${error.keyword}"`;
}
