import { RESOURCE_TYPES } from '../../core/schemas/rfc7643.js';
import type { AttributeDef, SchemaDef } from '../../core/schemas/types.js';
import type { JsonObject } from '../../core/resource/values.js';
import { MAX_PAGE_SIZE } from '../../app/scim/list-params.js';

/**
 * RFC 7643 §5: what this service provider supports, so clients need not guess.
 * Only the attributes the RFC defines: a schema-validating client refuses a
 * key that `schemas` does not declare. The body limit is `bulk.maxPayloadSize`;
 * the PATCH operation limit is documented in docs/scim.md.
 */
export function serviceProviderConfig(baseUrl: string, bodyLimit: number): JsonObject {
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
    patch: { supported: true },
    // No bulk endpoint; maxPayloadSize still tells clients the largest body accepted.
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: bodyLimit },
    filter: { supported: true, maxResults: MAX_PAGE_SIZE },
    changePassword: { supported: false },
    sort: { supported: true },
    etag: { supported: true },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'OAuth Bearer Token',
        description:
          'A SCIM token issued by an account admin (Settings > Configuration > API Tokens), sent as Authorization: Bearer <token>.',
        primary: true,
      },
    ],
    meta: { resourceType: 'ServiceProviderConfig', location: `${baseUrl}/ServiceProviderConfig` },
  };
}

export function resourceTypes(baseUrl: string): JsonObject[] {
  return RESOURCE_TYPES.map((rt) => ({
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'],
    id: rt.id,
    name: rt.name,
    endpoint: rt.endpoint,
    description: rt.description,
    schema: rt.schema.id,
    schemaExtensions: rt.extensions.map((e) => ({ schema: e.schema.id, required: e.required })),
    meta: { resourceType: 'ResourceType', location: `${baseUrl}/ResourceTypes/${rt.id}` },
  }));
}

function attribute(def: AttributeDef): JsonObject {
  return {
    name: def.name,
    type: def.type,
    multiValued: def.multiValued,
    description: def.description,
    required: def.required,
    caseExact: def.caseExact,
    mutability: def.mutability,
    returned: def.returned,
    uniqueness: def.uniqueness,
    ...(def.canonicalValues !== undefined ? { canonicalValues: [...def.canonicalValues] } : {}),
    ...(def.referenceTypes !== undefined ? { referenceTypes: [...def.referenceTypes] } : {}),
    ...(def.subAttributes !== undefined ? { subAttributes: def.subAttributes.map(attribute) } : {}),
  };
}

export function schemas(baseUrl: string): JsonObject[] {
  const all: SchemaDef[] = [];
  for (const rt of RESOURCE_TYPES) {
    for (const schema of [rt.schema, ...rt.extensions.map((e) => e.schema)])
      if (!all.includes(schema)) all.push(schema);
  }
  return all.map((schema) => ({
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:Schema'],
    id: schema.id,
    name: schema.name,
    description: schema.description,
    attributes: schema.attributes.map(attribute),
    meta: { resourceType: 'Schema', location: `${baseUrl}/Schemas/${schema.id}` },
  }));
}
