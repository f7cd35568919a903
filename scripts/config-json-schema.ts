import { z } from 'zod';
import { commonRuleShape, configSchemaFor } from '../src/policy/config-schema.js';
import type { StoreKind } from '../src/stores/store-kind.js';

/**
 * The JSON Schema of a config file (docs/retention.schema.json), built from the zod schemas
 * the loader validates with: `configSchemaFor` for the top level and the fields every rule
 * has, and each store kind's own `configSchema` and `targetSchema`. An editor checks a
 * config against it as it is typed; `retention check` stays the judge.
 *
 * It must never reject a config the loader accepts (a red squiggle under a valid config
 * teaches people to ignore the squiggles), so where it cannot say exactly what the loader
 * says it says less:
 *
 * - **Rules.** A rule names its store, not its kind, and a JSON Schema cannot look the store
 *   up. A rule is valid if it is valid for some kind: `anyOf` one variant per kind, each
 *   the common fields plus that kind's fields, no other key. The loader accepts a rule only
 *   when it fits its store's kind, which is one of the variants, so this never rejects
 *   what it accepts; it accepts a rule that fits another kind than its store's (`keys:` on
 *   a rule whose store is PostgreSQL, if the rule is otherwise a valid Redis rule).
 * - **`${VAR}` interpolation.** Strings are interpolated after parsing, so a string that
 *   holds a `${VAR}` reference may become any value: wherever a string is constrained (a
 *   pattern, an enum), such a string is accepted too.
 * - **Checks in code.** Refinements (durations, time zones, globs, cron patterns, "exactly
 *   one of table, keys or root") and cross-field checks (a rule's store exists, ids are
 *   unique) have no JSON Schema form; `format` is dropped, since a validator's idea of a
 *   URI need not be zod's. They are left to `retention check`.
 *
 * Store entries are exact: `kind:` is in the file, so `if kind is X then X's fields` holds.
 */

type Json = Record<string, unknown>;

/** The description of the whole file, and of what the JSON Schema leaves to `check`. */
const FILE_DESCRIPTION =
  'A retention config: stores, and rules that delete or anonymize what is past its period. ' +
  'Generated from the zod schemas the loader validates with (npm run schema); `retention check` ' +
  'also checks what a JSON Schema cannot (durations, time zones, cron patterns, that a rule\'s store ' +
  'exists and its fields fit that store\'s kind, the live tables).';

/** A `${VAR}` or `${VAR:-default}` reference, as src/policy/interpolate.ts reads it. */
export const INTERPOLATED_PATTERN = '\\$\\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\\}';

const INTERPOLATED_REF = { $ref: '#/definitions/interpolated' };

/** Keys that annotate a schema rather than constrain it: kept on the outside when it is wrapped. */
const ANNOTATIONS = ['title', 'description', 'default', 'examples'] as const;

/** A zod schema as draft-07 JSON Schema of its input (defaults make fields optional). */
export function zodToJson(schema: z.ZodType): Json {
  const { $schema: _ignored, ...json } = z.toJSONSchema(schema, { io: 'input', target: 'draft-7' }) as Json;
  return json;
}

/**
 * What a config may hold, for the store kinds `kinds` (the registry's `STORE_KINDS`).
 * Deterministic: the same schemas give the same document, byte for byte once stringified.
 */
export function buildConfigJsonSchema(kinds: readonly StoreKind[]): Json {
  const targetKeys = [...new Set(kinds.flatMap((k) => k.targetKeys))];
  const top = objectParts(zodToJson(configSchemaFor(targetKeys)), 'the config');
  const common = objectParts(zodToJson(z.strictObject(commonRuleShape)), 'the common rule fields');
  const definitions: Json = {
    interpolated: {
      description: 'A string holding a ${VAR} or ${VAR:-default} reference, replaced from the environment after the file is parsed: it may become any value.',
      type: 'string',
      pattern: INTERPOLATED_PATTERN,
    },
  };
  const names = kinds.map((k) => k.kind);
  for (const kind of kinds) {
    const config = objectParts(zodToJson(kind.configSchema), `stores.NAME of kind ${kind.kind}`);
    definitions[`store-${kind.kind}`] = {
      ...(config.description ? { description: config.description } : {}),
      type: 'object',
      properties: { kind: { const: kind.kind }, ...mapValues(config.properties, loosen) },
      required: ['kind', ...config.required],
      additionalProperties: false,
    };
    const target = objectParts(zodToJson(kind.targetSchema), `the rule fields of kind ${kind.kind}`);
    const properties: Json = mapValues(common.properties, loosen);
    for (const [key, value] of Object.entries(target.properties)) {
      // A key both the common fields and the kind parse must satisfy both.
      properties[key] = key in properties ? { allOf: [properties[key], loosen(value)] } : loosen(value);
    }
    // The loader refuses an action the kind cannot take, so the variant may too.
    const action = common.properties.action ?? {};
    properties.action = wrapInterpolated({
      ...Object.fromEntries(ANNOTATIONS.filter((a) => a in action).map((a) => [a, action[a]])),
      type: 'string',
      enum: [...kind.capabilities.actions],
    });
    definitions[`rule-${kind.kind}`] = {
      description: `A rule on a store of kind ${kind.kind}${target.description ? `: ${target.description.replace(/\.$/, '')}` : ''}. Actions: ${kind.capabilities.actions.join(', ')}.`,
      type: 'object',
      properties,
      required: [...new Set([...common.required, ...target.required])],
      additionalProperties: false,
    };
  }
  definitions.store = {
    description: 'A store: where data lives (a database, a Redis, a directory, a bucket, a module of your own); its kind says which other fields it takes.',
    type: 'object',
    properties: { kind: wrapInterpolated({ description: `The kind of store: ${names.join(', ')}.`, enum: names }) },
    required: ['kind'],
    allOf: names.map((name) => ({
      if: { properties: { kind: { const: name } }, required: ['kind'] },
      then: { $ref: `#/definitions/store-${name}` },
    })),
  };
  definitions.rule = {
    description:
      'A retention rule. Which fields it takes besides the common ones depends on the kind of the store it names; ' +
      'this schema accepts a rule that is valid for at least one kind, and `retention check` checks it against its store\'s kind.',
    anyOf: names.map((name) => ({ $ref: `#/definitions/rule-${name}` })),
  };

  const properties = mapValues(top.properties, loosen);
  const stores = properties.stores as Json | undefined;
  const rules = properties.rules as Json | undefined;
  if (!stores || stores.type !== 'object' || !rules || rules.type !== 'array') throw new Error('config schema: expected stores (a mapping) and rules (a list) at the top level');
  properties.stores = { ...stores, additionalProperties: { $ref: '#/definitions/store' } };
  properties.rules = { ...rules, items: { $ref: '#/definitions/rule' } };
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $comment: 'Generated by scripts/gen-schema.ts (npm run schema) from the zod schemas in src/; do not edit.',
    title: 'retention config',
    description: FILE_DESCRIPTION,
    type: 'object',
    properties,
    required: top.required,
    additionalProperties: false,
    definitions,
  };
}

/** A JSON Schema object's parts; anything else is a shape this builder does not know how to merge. */
function objectParts(json: Json, what: string): { properties: Record<string, Json>; required: string[]; description?: string } {
  if (json.type !== 'object' || typeof json.properties !== 'object' || json.additionalProperties !== false) {
    throw new Error(`config schema: ${what} is not a strict object in JSON Schema (${JSON.stringify(json).slice(0, 200)}); teach scripts/config-json-schema.ts its shape`);
  }
  const out: { properties: Record<string, Json>; required: string[]; description?: string } = {
    properties: json.properties as Record<string, Json>,
    required: (json.required as string[] | undefined) ?? [],
  };
  if (typeof json.description === 'string') out.description = json.description;
  return out;
}

function mapValues(record: Record<string, Json>, f: (value: Json) => Json): Record<string, Json> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, f(v)]));
}

/**
 * The schema made no stricter than the loader: `format` dropped, and every constrained
 * string also accepting a `${VAR}` reference. Object keys (`propertyNames`) are never
 * interpolated and stay as they are.
 */
export function loosen(schema: Json): Json {
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Json = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'format') continue;
    if (key === 'not') {
      // Only `z.never()` (`not: {}`, "never allowed") is expected; loosening inside a `not` would tighten it.
      if (JSON.stringify(value) !== '{}') throw new Error(`config schema: a "not" other than {} (${JSON.stringify(value)}) cannot be loosened soundly`);
      out[key] = value;
    } else if (key === 'properties' || key === 'definitions' || key === '$defs') {
      out[key] = mapValues(value as Record<string, Json>, loosen);
    } else if ((key === 'additionalProperties' || key === 'items') && typeof value === 'object' && value !== null && !Array.isArray(value)) {
      out[key] = loosen(value as Json);
    } else if (key === 'oneOf' && Array.isArray(value)) {
      // anyOf accepts all oneOf does, and a ${VAR} string may match two branches once loosened.
      out.anyOf = (value as Json[]).map(loosen);
    } else if ((key === 'anyOf' || key === 'allOf' || key === 'items') && Array.isArray(value)) {
      out[key] = (value as Json[]).map(loosen);
    } else {
      out[key] = value;
    }
  }
  return constrainedString(out) ? wrapInterpolated(out) : out;
}

/** A string schema a `${VAR}` string could fail: it has a pattern, an enum, a constant or a maximum length. */
function constrainedString(schema: Json): boolean {
  const type = schema.type;
  const values = (schema.enum as unknown[] | undefined) ?? ('const' in schema ? [schema.const] : undefined);
  if (values !== undefined) return values.some((v) => typeof v === 'string');
  const isString = type === 'string' || (Array.isArray(type) && type.includes('string'));
  return isString && ('pattern' in schema || 'maxLength' in schema);
}

/** `schema`, or a `${VAR}` string; annotations stay outside, where an editor shows them. */
function wrapInterpolated(schema: Json): Json {
  const outside: Json = {};
  const inside: Json = {};
  for (const [key, value] of Object.entries(schema)) {
    if ((ANNOTATIONS as readonly string[]).includes(key)) outside[key] = value;
    else inside[key] = value;
  }
  return { ...outside, anyOf: [inside, INTERPOLATED_REF] };
}
