import type { FastifySchemaCompiler } from 'fastify';

type Schema = Record<string, unknown>;

/** The keywords a REST path or query parameter schema may use (any other is refused at startup). */
const PARAMETER_KEYWORDS = new Set([
  'type',
  'minimum',
  'maximum',
  'maxLength',
  'default',
  'description',
]);

/**
 * Compiles the querystring and path schemas of the REST routes into validators that read
 * parameters as the API always has: a repeated parameter counts once (its first value),
 * an empty value is absent, booleans are `true`/`false` in any case, and integers are
 * plain digits within the schema's minimum and maximum. Values are checked, never
 * rewritten: the handlers parse them again with the app's own parsers, so `default`
 * documents what they apply when a parameter is absent. A value that breaks its schema
 * is a 400 whose message names the parameter, what it accepts and what it got (the REST
 * error handler renders it as `invalid_request`).
 *
 * Query strings are flat, so only the keywords in PARAMETER_KEYWORDS are understood: a
 * schema with any other is refused when the route is declared, not ignored at run time.
 */
export const restValidatorCompiler: FastifySchemaCompiler<Schema> = ({
  schema,
  method,
  url,
  httpPart,
}) => {
  const where = `${method} ${url} ${httpPart ?? ''}`.trim();
  if (httpPart !== 'querystring' && httpPart !== 'params')
    throw new Error(`${where}: the REST API validates only querystring and path parameters`);
  if (schema['type'] !== 'object')
    throw new Error(`${where}: a parameter schema is an object of parameters`);
  const properties = (schema['properties'] ?? {}) as Record<string, Schema>;
  const required = new Set((schema['required'] ?? []) as string[]);
  for (const key of Object.keys(schema))
    if (!['type', 'properties', 'required'].includes(key))
      throw new Error(`${where}: the keyword "${key}" is not supported on a parameter list`);
  const checks = Object.entries(properties).map(([name, property]) =>
    parameterCheck(`${where} ${name}`, name, property, required.has(name)),
  );
  return (data: unknown) => {
    const values = (data ?? {}) as Record<string, unknown>;
    for (const check of checks) {
      const message = check(values);
      if (message !== undefined) return { error: badParameter(message) };
    }
    return true;
  };
};

function parameterCheck(
  where: string,
  name: string,
  schema: Schema,
  required: boolean,
): (values: Record<string, unknown>) => string | undefined {
  for (const key of Object.keys(schema))
    if (!PARAMETER_KEYWORDS.has(key))
      throw new Error(`${where}: the keyword "${key}" is not supported on a parameter`);
  const type = schema['type'];
  const check = valueCheck(where, name, schema);
  return (values) => {
    const raw = first(values[name]);
    // An empty value is an absent one, as the handlers read it, except for strings
    // (an empty cursor is a bad cursor, which the handler says).
    if (raw === undefined || (raw === '' && type !== 'string'))
      return required ? `${name} is required` : undefined;
    return check(raw);
  };
}

function valueCheck(
  where: string,
  name: string,
  schema: Schema,
): (raw: string) => string | undefined {
  switch (schema['type']) {
    case 'integer': {
      const min = schema['minimum'] ?? 0;
      const max = schema['maximum'] ?? Number.MAX_SAFE_INTEGER;
      if (typeof min !== 'number' || typeof max !== 'number' || min < 0 || max < min)
        throw new Error(`${where}: an integer parameter is non-negative, from minimum to maximum`);
      return (raw) => {
        const value = /^\d{1,16}$/.test(raw) ? Number(raw) : NaN;
        return Number.isSafeInteger(value) && value >= min && value <= max
          ? undefined
          : `${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`;
      };
    }
    case 'boolean':
      return (raw) =>
        /^(true|false)$/i.test(raw)
          ? undefined
          : `${name} must be true or false, got ${JSON.stringify(raw)}`;
    case 'string': {
      const maxLength = schema['maxLength'];
      if (maxLength !== undefined && typeof maxLength !== 'number')
        throw new Error(`${where}: maxLength is a number`);
      return (raw) =>
        maxLength === undefined || raw.length <= maxLength
          ? undefined
          : `${name} must be at most ${maxLength} characters long`;
    }
    default:
      throw new Error(`${where}: a parameter is a string, an integer or a boolean`);
  }
}

/** Repeated query parameters arrive as arrays; the first one counts. */
function first(value: unknown): string | undefined {
  if (Array.isArray(value)) return typeof value[0] === 'string' ? value[0] : undefined;
  return typeof value === 'string' ? value : undefined;
}

/** A client error (status 400), which the REST error handler renders as `invalid_request`. */
function badParameter(message: string): Error {
  return Object.assign(new Error(message), { statusCode: 400 });
}
