import { ENTERPRISE_USER, MANAGER_PATH, MEMBERS_PATH } from './target-paths.js';

/**
 * Attribute mappings as Entra defines them: Direct (a source attribute), Constant,
 * Expression (Entra's expression language), None (only a default value); a default value
 * used when the result is null, on create only; applied Always or only on creation; and
 * matching attributes tried in precedence order.
 */
export interface AttributeMapping {
  readonly type: 'direct' | 'constant' | 'expression' | 'none';
  /** The target attribute path (see target-paths.ts). */
  readonly target: string;
  /** Direct: the source attribute name. */
  readonly source?: string;
  /** Constant: the value. */
  readonly value?: string;
  /** Expression: the expression text. */
  readonly expression?: string;
  /** Used on create when the mapping yields null or nothing. */
  readonly defaultValue?: string;
  /** 'always' (default) or 'create' (only on object creation). */
  readonly apply?: 'always' | 'create';
  /** Matching precedence (1 is tried first); absent → not a matching attribute. */
  readonly matching?: number;
}

export interface ObjectMappings {
  readonly user: readonly AttributeMapping[];
  readonly group: readonly AttributeMapping[];
}

/**
 * Entra's default mappings for a non-gallery SCIM app, with one change for file and LDAP
 * sources, which have no mailNickname: the source's stable id (`objectId`) goes to
 * externalId, and is the second matching attribute after userName. `accountEnabled`
 * false → active false (Entra: `Switch([IsSoftDeleted], …)`). Group members and the
 * enterprise manager are references, resolved to target ids by the engine.
 */
export const DEFAULT_MAPPINGS: ObjectMappings = {
  user: [
    { type: 'direct', source: 'userPrincipalName', target: 'userName', matching: 1 },
    { type: 'direct', source: 'objectId', target: 'externalId', matching: 2 },
    { type: 'direct', source: 'accountEnabled', target: 'active' },
    { type: 'direct', source: 'displayName', target: 'displayName' },
    { type: 'direct', source: 'jobTitle', target: 'title' },
    { type: 'direct', source: 'mail', target: 'emails[type eq "work"].value' },
    { type: 'direct', source: 'preferredLanguage', target: 'preferredLanguage' },
    { type: 'direct', source: 'givenName', target: 'name.givenName' },
    { type: 'direct', source: 'surname', target: 'name.familyName' },
    {
      type: 'expression',
      expression: 'Join(" ", [givenName], [surname])',
      target: 'name.formatted',
    },
    { type: 'direct', source: 'telephoneNumber', target: 'phoneNumbers[type eq "work"].value' },
    { type: 'direct', source: 'mobile', target: 'phoneNumbers[type eq "mobile"].value' },
    {
      type: 'direct',
      source: 'facsimileTelephoneNumber',
      target: 'phoneNumbers[type eq "fax"].value',
    },
    { type: 'direct', source: 'streetAddress', target: 'addresses[type eq "work"].streetAddress' },
    { type: 'direct', source: 'city', target: 'addresses[type eq "work"].locality' },
    { type: 'direct', source: 'state', target: 'addresses[type eq "work"].region' },
    { type: 'direct', source: 'postalCode', target: 'addresses[type eq "work"].postalCode' },
    { type: 'direct', source: 'country', target: 'addresses[type eq "work"].country' },
    { type: 'direct', source: 'employeeId', target: `${ENTERPRISE_USER}:employeeNumber` },
    { type: 'direct', source: 'department', target: `${ENTERPRISE_USER}:department` },
    { type: 'direct', source: 'manager', target: MANAGER_PATH },
  ],
  group: [
    { type: 'direct', source: 'displayName', target: 'displayName', matching: 1 },
    { type: 'direct', source: 'objectId', target: 'externalId', matching: 2 },
    { type: 'direct', source: 'members', target: MEMBERS_PATH },
  ],
};

/** Target attributes that hold booleans (sent as JSON booleans, or "True"/"False" by Entra). */
export const BOOLEAN_TARGETS = new Set(['active']);
