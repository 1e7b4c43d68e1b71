/**
 * A strict RFC 7643 validator for tests: it reads Roster's answers the way a
 * schema-validating SCIM client does (python-scim2-models, for one) and lists
 * every departure from the RFC's definitions. It is written from the RFC's
 * tables (§4–§8.7), not from Roster's own schema code, so the two cannot agree
 * on a mistake.
 *
 * Rules: no key that the declared schemas do not define, at any level (a
 * resource may carry an extension object only under a URN listed in its
 * `schemas`); every value of the declared type (string, boolean, integer,
 * dateTime in xsd:dateTime form, reference, binary as base64, complex as an
 * object, multi-valued as an array); no `null`; required attributes present;
 * `returned: never` attributes absent; at most one `primary: true` element;
 * `schemas` exact for discovery documents and messages.
 */

type AttrType =
  'string' | 'boolean' | 'decimal' | 'integer' | 'dateTime' | 'reference' | 'complex' | 'binary';

export interface RfcAttribute {
  readonly name: string;
  readonly type: AttrType;
  readonly multiValued?: boolean;
  readonly required?: boolean;
  readonly returnedNever?: boolean;
  readonly canonicalValues?: readonly string[];
  readonly subAttributes?: readonly RfcAttribute[];
}

const s = (name: string, extra: Partial<RfcAttribute> = {}): RfcAttribute => ({
  name,
  type: 'string',
  ...extra,
});
const b = (name: string, extra: Partial<RfcAttribute> = {}): RfcAttribute => ({
  name,
  type: 'boolean',
  ...extra,
});
const i = (name: string, extra: Partial<RfcAttribute> = {}): RfcAttribute => ({
  name,
  type: 'integer',
  ...extra,
});
const r = (name: string, extra: Partial<RfcAttribute> = {}): RfcAttribute => ({
  name,
  type: 'reference',
  ...extra,
});
const c = (
  name: string,
  subAttributes: readonly RfcAttribute[],
  extra: Partial<RfcAttribute> = {},
): RfcAttribute => ({ name, type: 'complex', subAttributes, ...extra });
/** RFC 7643 §2.4: value, display, type, primary. */
const mv = (name: string, value: RfcAttribute = s('value')): RfcAttribute =>
  c(name, [value, s('display'), s('type'), b('primary')], { multiValued: true });

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const SPC_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig';
const RESOURCE_TYPE_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ResourceType';
const SCHEMA_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Schema';
const LIST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

/** RFC 7643 §3.1: on every resource. */
const META = c('meta', [
  s('resourceType'),
  { name: 'created', type: 'dateTime' },
  { name: 'lastModified', type: 'dateTime' },
  r('location'),
  s('version'),
]);
const COMMON: readonly RfcAttribute[] = [s('id', { required: true }), s('externalId'), META];

/** RFC 7643 §4.1 and §8.7.1. */
export const RFC_USER: readonly RfcAttribute[] = [
  s('userName', { required: true }),
  c('name', [
    s('formatted'),
    s('familyName'),
    s('givenName'),
    s('middleName'),
    s('honorificPrefix'),
    s('honorificSuffix'),
  ]),
  s('displayName'),
  s('nickName'),
  r('profileUrl'),
  s('title'),
  s('userType'),
  s('preferredLanguage'),
  s('locale'),
  s('timezone'),
  b('active'),
  s('password', { returnedNever: true }),
  mv('emails'),
  mv('phoneNumbers'),
  mv('ims'),
  mv('photos', r('value')),
  c(
    'addresses',
    [
      s('formatted'),
      s('streetAddress'),
      s('locality'),
      s('region'),
      s('postalCode'),
      s('country'),
      s('type'),
      b('primary'),
    ],
    { multiValued: true },
  ),
  c('groups', [s('value'), r('$ref'), s('display'), s('type')], { multiValued: true }),
  mv('entitlements'),
  mv('roles'),
  mv('x509Certificates', { name: 'value', type: 'binary' }),
];

/** RFC 7643 §4.2 (members' `display` is the §2.4 sub-attribute every client reads). */
export const RFC_GROUP: readonly RfcAttribute[] = [
  s('displayName', { required: true }),
  c('members', [s('value'), r('$ref'), s('type'), s('display')], { multiValued: true }),
];

/** RFC 7643 §4.3. */
export const RFC_ENTERPRISE: readonly RfcAttribute[] = [
  s('employeeNumber'),
  s('costCenter'),
  s('organization'),
  s('division'),
  s('department'),
  c('manager', [s('value'), r('$ref'), s('displayName')]),
];

/** RFC 7643 §5. */
const RFC_SERVICE_PROVIDER_CONFIG: readonly RfcAttribute[] = [
  r('documentationUri'),
  c('patch', [b('supported', { required: true })], { required: true }),
  c('bulk', [b('supported', { required: true }), i('maxOperations'), i('maxPayloadSize')], {
    required: true,
  }),
  c('filter', [b('supported', { required: true }), i('maxResults')], { required: true }),
  c('changePassword', [b('supported', { required: true })], { required: true }),
  c('sort', [b('supported', { required: true })], { required: true }),
  c('etag', [b('supported', { required: true })], { required: true }),
  c(
    'authenticationSchemes',
    [
      s('type', { required: true }),
      s('name', { required: true }),
      s('description', { required: true }),
      r('specUri'),
      r('documentationUri'),
      // In the RFC's §8.5 example and in every client's model.
      b('primary'),
    ],
    { multiValued: true, required: true },
  ),
  META,
];

/** RFC 7643 §6. */
const RFC_RESOURCE_TYPE: readonly RfcAttribute[] = [
  s('id'),
  s('name', { required: true }),
  s('description'),
  r('endpoint', { required: true }),
  r('schema', { required: true }),
  c('schemaExtensions', [r('schema', { required: true }), b('required', { required: true })], {
    multiValued: true,
  }),
  META,
];

const ATTRIBUTE_CHARACTERISTICS: readonly RfcAttribute[] = [
  s('name', { required: true }),
  s('type', {
    required: true,
    canonicalValues: [
      'string',
      'boolean',
      'decimal',
      'integer',
      'dateTime',
      'reference',
      'complex',
      'binary',
    ],
  }),
  b('multiValued', { required: true }),
  s('description'),
  b('required', { required: true }),
  s('canonicalValues', { multiValued: true }),
  b('caseExact'),
  s('mutability', { canonicalValues: ['readOnly', 'readWrite', 'immutable', 'writeOnly'] }),
  s('returned', { canonicalValues: ['always', 'never', 'default', 'request'] }),
  s('uniqueness', { canonicalValues: ['none', 'server', 'global'] }),
  s('referenceTypes', { multiValued: true }),
];

/** RFC 7643 §7: sub-attributes carry the same characteristics, one level down. */
const RFC_SCHEMA: readonly RfcAttribute[] = [
  r('id', { required: true }),
  s('name'),
  s('description'),
  c(
    'attributes',
    [
      ...ATTRIBUTE_CHARACTERISTICS,
      c('subAttributes', ATTRIBUTE_CHARACTERISTICS, { multiValued: true }),
    ],
    { multiValued: true, required: true },
  ),
  META,
];

const RFC_SCHEMAS: Readonly<Record<string, readonly RfcAttribute[]>> = {
  [USER_SCHEMA]: RFC_USER,
  [GROUP_SCHEMA]: RFC_GROUP,
  [ENTERPRISE_SCHEMA]: RFC_ENTERPRISE,
};

export interface ResourceOptions {
  /** The answer to a request with `attributes`/`excludedAttributes`: required attributes may be left out. */
  readonly projected?: boolean;
}

/** Collects problems as `path: message` lines; empty when the document is valid. */
class Checker {
  readonly problems: string[] = [];

  fail(where: string, message: string): void {
    this.problems.push(`${where}: ${message}`);
  }

  /** Checks the keys and values of an object against attribute definitions. */
  object(
    value: Record<string, unknown>,
    attributes: readonly RfcAttribute[],
    where: string,
    options: { required: boolean; allowed?: (key: string) => boolean },
  ): void {
    const byName = new Map(attributes.map((a) => [a.name, a]));
    for (const [key, inner] of Object.entries(value)) {
      const def = byName.get(key);
      if (def === undefined) {
        if (options.allowed?.(key) !== true) {
          const near = attributes.find((a) => a.name.toLowerCase() === key.toLowerCase());
          this.fail(
            `${where}.${key}`,
            near !== undefined
              ? `not the declared name "${near.name}"`
              : 'undeclared key (no declared schema defines it)',
          );
        }
        continue;
      }
      this.value(def, inner, `${where}.${key}`);
    }
    if (options.required) {
      for (const def of attributes) {
        if (def.required === true && value[def.name] === undefined)
          this.fail(`${where}.${def.name}`, 'required attribute missing');
      }
    }
  }

  value(def: RfcAttribute, value: unknown, where: string): void {
    if (def.returnedNever === true) {
      this.fail(where, 'returned "never" but present');
      return;
    }
    if (value === null) {
      this.fail(where, 'null (an unassigned attribute is left out)');
      return;
    }
    if (def.multiValued === true) {
      if (!Array.isArray(value)) {
        this.fail(where, `multi-valued but ${describe(value)}`);
        return;
      }
      value.forEach((element, index) => this.single(def, element, `${where}[${index}]`));
      const primaries = value.filter((element) => isRecord(element) && element['primary'] === true);
      if (primaries.length > 1) this.fail(where, `${primaries.length} elements are primary`);
      return;
    }
    if (Array.isArray(value)) {
      this.fail(where, 'single-valued but an array');
      return;
    }
    this.single(def, value, where);
  }

  private single(def: RfcAttribute, value: unknown, where: string): void {
    if (value === null) {
      this.fail(where, 'null element');
      return;
    }
    switch (def.type) {
      case 'complex':
        if (!isRecord(value)) this.fail(where, `complex but ${describe(value)}`);
        else this.object(value, def.subAttributes ?? [], where, { required: true });
        return;
      case 'boolean':
        if (typeof value !== 'boolean') this.fail(where, `boolean but ${describe(value)}`);
        return;
      case 'integer':
        if (typeof value !== 'number' || !Number.isInteger(value))
          this.fail(where, `integer but ${describe(value)}`);
        return;
      case 'decimal':
        if (typeof value !== 'number') this.fail(where, `decimal but ${describe(value)}`);
        return;
      case 'dateTime':
        if (typeof value !== 'string' || !XSD_DATE_TIME.test(value))
          this.fail(where, `xsd:dateTime but ${describe(value)}`);
        return;
      case 'binary':
        if (typeof value !== 'string' || !BASE64.test(value))
          this.fail(where, `base64 binary but ${describe(value)}`);
        return;
      case 'reference':
        if (typeof value !== 'string' || value === '')
          this.fail(where, `reference but ${describe(value)}`);
        return;
      default:
        if (typeof value !== 'string') this.fail(where, `string but ${describe(value)}`);
        else if (def.canonicalValues !== undefined && !def.canonicalValues.includes(value))
          this.fail(where, `"${value}" is not one of ${def.canonicalValues.join(', ')}`);
    }
  }

  schemasExactly(body: Record<string, unknown>, expected: readonly string[], where: string): void {
    const schemas = body['schemas'];
    if (JSON.stringify(schemas) !== JSON.stringify(expected))
      this.fail(
        `${where}.schemas`,
        `expected ${JSON.stringify(expected)}, got ${JSON.stringify(schemas)}`,
      );
  }

  meta(
    body: Record<string, unknown>,
    resourceType: string,
    where: string,
    required: boolean,
  ): void {
    const meta = body['meta'];
    if (meta === undefined) {
      if (required) this.fail(`${where}.meta`, 'missing');
      return;
    }
    if (!isRecord(meta)) return; // reported by the type check
    if (meta['resourceType'] !== undefined && meta['resourceType'] !== resourceType)
      this.fail(
        `${where}.meta.resourceType`,
        `expected "${resourceType}", got ${describe(meta['resourceType'])}`,
      );
    const location = meta['location'];
    if (typeof location === 'string' && !isAbsoluteUrl(location))
      this.fail(`${where}.meta.location`, `not an absolute URI: "${location}"`);
  }
}

const XSD_DATE_TIME =
  /^-?\d{4,}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)?$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isAbsoluteUrl(text: string): boolean {
  try {
    return new URL(text).protocol.length > 0;
  } catch {
    return false;
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${JSON.stringify(value)}`;
}

function done(checker: Checker): string[] {
  return checker.problems;
}

/** RFC 7643 §5. */
export function validateServiceProviderConfig(body: unknown): string[] {
  const checker = new Checker();
  if (!isRecord(body)) return [`ServiceProviderConfig: ${describe(body)}`];
  checker.schemasExactly(body, [SPC_SCHEMA], 'ServiceProviderConfig');
  checker.object(body, RFC_SERVICE_PROVIDER_CONFIG, 'ServiceProviderConfig', {
    required: true,
    allowed: (key) => key === 'schemas',
  });
  checker.meta(body, 'ServiceProviderConfig', 'ServiceProviderConfig', false);
  return done(checker);
}

/** RFC 7643 §6. */
export function validateResourceType(body: unknown, where = 'ResourceType'): string[] {
  const checker = new Checker();
  if (!isRecord(body)) return [`${where}: ${describe(body)}`];
  checker.schemasExactly(body, [RESOURCE_TYPE_SCHEMA], where);
  checker.object(body, RFC_RESOURCE_TYPE, where, {
    required: true,
    allowed: (key) => key === 'schemas',
  });
  checker.meta(body, 'ResourceType', where, false);
  return done(checker);
}

/**
 * RFC 7643 §7, and for the three schemas the RFC defines, that what is served
 * declares exactly the RFC's attributes with the RFC's types (a client builds
 * its model from these).
 */
export function validateSchema(body: unknown, where = 'Schema'): string[] {
  const checker = new Checker();
  if (!isRecord(body)) return [`${where}: ${describe(body)}`];
  checker.schemasExactly(body, [SCHEMA_SCHEMA], where);
  checker.object(body, RFC_SCHEMA, where, {
    required: true,
    allowed: (key) => key === 'schemas',
  });
  checker.meta(body, 'Schema', where, false);
  const rfc = typeof body['id'] === 'string' ? RFC_SCHEMAS[body['id']] : undefined;
  const served = body['attributes'];
  if (rfc !== undefined && Array.isArray(served)) {
    compareDefinitions(checker, rfc, served, `${where}(${String(body['id'])})`);
  }
  return done(checker);
}

function compareDefinitions(
  checker: Checker,
  rfc: readonly RfcAttribute[],
  served: readonly unknown[],
  where: string,
): void {
  const byName = new Map(served.filter(isRecord).map((a) => [String(a['name']), a] as const));
  for (const def of rfc) {
    const got = byName.get(def.name);
    if (got === undefined) {
      checker.fail(`${where}.${def.name}`, 'defined by the RFC but not served');
      continue;
    }
    if (got['type'] !== def.type)
      checker.fail(`${where}.${def.name}`, `type ${String(got['type'])}, the RFC says ${def.type}`);
    if (got['multiValued'] !== (def.multiValued === true))
      checker.fail(`${where}.${def.name}`, `multiValued ${String(got['multiValued'])}`);
    if (def.subAttributes !== undefined) {
      const subs = Array.isArray(got['subAttributes']) ? got['subAttributes'] : [];
      compareDefinitions(checker, def.subAttributes, subs, `${where}.${def.name}`);
    }
  }
  for (const name of byName.keys()) {
    if (!rfc.some((d) => d.name === name))
      checker.fail(`${where}.${name}`, 'served but not defined by the RFC');
  }
}

export interface ResourceTypeShape {
  readonly name: 'User' | 'Group';
  readonly core: string;
  readonly coreAttributes: readonly RfcAttribute[];
  readonly extensions: Readonly<Record<string, readonly RfcAttribute[]>>;
}

export const USER_SHAPE: ResourceTypeShape = {
  name: 'User',
  core: USER_SCHEMA,
  coreAttributes: RFC_USER,
  extensions: { [ENTERPRISE_SCHEMA]: RFC_ENTERPRISE },
};

export const GROUP_SHAPE: ResourceTypeShape = {
  name: 'Group',
  core: GROUP_SCHEMA,
  coreAttributes: RFC_GROUP,
  extensions: {},
};

/**
 * A User or Group as returned. Extension objects of a known extension are
 * checked attribute by attribute; an extension the RFC does not define (an
 * identity provider's own, kept as sent) must at least be listed in `schemas`.
 */
export function validateResource(
  body: unknown,
  shape: ResourceTypeShape,
  options: ResourceOptions = {},
  where: string = shape.name,
): string[] {
  const checker = new Checker();
  if (!isRecord(body)) return [`${where}: ${describe(body)}`];
  const schemas = body['schemas'];
  if (!Array.isArray(schemas) || !schemas.every((x) => typeof x === 'string')) {
    checker.fail(`${where}.schemas`, `an array of URNs expected, got ${describe(schemas)}`);
    return done(checker);
  }
  if (!schemas.includes(shape.core))
    checker.fail(`${where}.schemas`, `does not list the core schema ${shape.core}`);
  if (new Set(schemas).size !== schemas.length) checker.fail(`${where}.schemas`, 'duplicates');
  for (const urn of schemas) {
    if (urn !== shape.core && !isRecord(body[urn]))
      checker.fail(
        `${where}.schemas`,
        `lists ${urn} but the resource has no such extension object`,
      );
  }
  checker.object(body, [...COMMON, ...shape.coreAttributes], where, {
    required: options.projected !== true,
    allowed: (key) => key === 'schemas' || (key.startsWith('urn:') && schemas.includes(key)),
  });
  for (const urn of schemas) {
    const extension = shape.extensions[urn];
    const value = body[urn];
    if (extension !== undefined && isRecord(value))
      checker.object(value, extension, `${where}.${urn}`, { required: options.projected !== true });
  }
  checker.meta(body, shape.name, where, options.projected !== true);
  return done(checker);
}

/** RFC 7644 §3.4.2: a ListResponse whose Resources are each checked by `each`. */
export function validateListResponse(
  body: unknown,
  each: (resource: unknown, where: string) => string[],
  where = 'ListResponse',
): string[] {
  const checker = new Checker();
  if (!isRecord(body)) return [`${where}: ${describe(body)}`];
  checker.schemasExactly(body, [LIST_SCHEMA], where);
  checker.object(
    body,
    [i('totalResults', { required: true }), i('startIndex'), i('itemsPerPage')],
    where,
    { required: true, allowed: (key) => key === 'schemas' || key === 'Resources' },
  );
  const resources = body['Resources'];
  if (resources !== undefined && !Array.isArray(resources))
    checker.fail(`${where}.Resources`, `an array expected, got ${describe(resources)}`);
  if (resources === undefined && body['totalResults'] !== 0)
    checker.fail(`${where}.Resources`, 'missing while totalResults is not 0');
  if (Array.isArray(resources))
    resources.forEach((resource, index) =>
      checker.problems.push(...each(resource, `${where}.Resources[${index}]`)),
    );
  return done(checker);
}

const SCIM_TYPES = [
  'invalidFilter',
  'tooMany',
  'uniqueness',
  'mutability',
  'invalidSyntax',
  'invalidPath',
  'noTarget',
  'invalidValue',
  'invalidVers',
  'sensitive',
];

/** RFC 7644 §3.12. */
export function validateError(body: unknown, status: number, where = 'Error'): string[] {
  const checker = new Checker();
  if (!isRecord(body)) return [`${where}: ${describe(body)}`];
  checker.schemasExactly(body, [ERROR_SCHEMA], where);
  checker.object(
    body,
    [s('status', { required: true }), s('scimType', { canonicalValues: SCIM_TYPES }), s('detail')],
    where,
    { required: true, allowed: (key) => key === 'schemas' },
  );
  if (body['status'] !== String(status))
    checker.fail(`${where}.status`, `"${String(body['status'])}" but the HTTP status is ${status}`);
  return done(checker);
}

/**
 * Validates one SCIM answer by what was asked: the method, the path relative to
 * the tenant URL (with its query) and the status. Returns the problems found.
 */
export function validateAnswer(
  method: string,
  path: string,
  status: number,
  body: unknown,
): string[] {
  if (body === undefined) return [];
  const where = `${method} ${path} → ${status}`;
  if (status >= 400) return validateError(body, status, where);
  const [pathname = '', query = ''] = path.split('?');
  const params = new URLSearchParams(query);
  const segments = pathname.split('/').filter((x) => x !== '');
  const endpoint = (segments[0] ?? '').toLowerCase();
  const projected =
    params.has('attributes') ||
    params.has('excludedAttributes') ||
    (isRecord(body) && method === 'POST' && endpoint === '.search');
  const searchBody = method === 'POST' && segments.at(-1)?.toLowerCase() === '.search';
  const shapeOf = (resource: unknown): ResourceTypeShape =>
    isRecord(resource) &&
    Array.isArray(resource['schemas']) &&
    resource['schemas'].includes(GROUP_SCHEMA)
      ? GROUP_SHAPE
      : USER_SHAPE;
  switch (endpoint) {
    case 'serviceproviderconfig':
      return validateServiceProviderConfig(body).map((p) => `${where} ${p}`);
    case 'resourcetypes':
      return segments.length > 1
        ? validateResourceType(body, where)
        : validateListResponse(body, (rt, w) => validateResourceType(rt, w), where);
    case 'schemas':
      return segments.length > 1
        ? validateSchema(body, where)
        : validateListResponse(body, (schema, w) => validateSchema(schema, w), where);
    case 'users':
    case 'groups':
    case '.search': {
      const shape = endpoint === 'groups' ? GROUP_SHAPE : USER_SHAPE;
      if (segments.length === 1 && method === 'GET') {
        return validateListResponse(
          body,
          (resource, w) => validateResource(resource, shape, { projected }, w),
          where,
        );
      }
      if (searchBody || endpoint === '.search') {
        return validateListResponse(
          body,
          (resource, w) =>
            validateResource(
              resource,
              endpoint === '.search' ? shapeOf(resource) : shape,
              { projected: true },
              w,
            ),
          where,
        );
      }
      return validateResource(body, shape, { projected }, where);
    }
    default:
      return [`${where}: not a SCIM endpoint this validator knows`];
  }
}
