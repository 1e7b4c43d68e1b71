import type { AttrType, AttributeDef } from './types.js';

/** Compact builders so the RFC 7643 schemas read like the RFC's tables. */
type Options = Partial<Omit<AttributeDef, 'name' | 'type'>>;

export function attr(name: string, type: AttrType, options: Options = {}): AttributeDef {
  return {
    name,
    type,
    multiValued: false,
    description: '',
    required: false,
    caseExact: false,
    mutability: 'readWrite',
    returned: 'default',
    uniqueness: 'none',
    ...options,
  };
}

export const str = (name: string, options: Options = {}): AttributeDef =>
  attr(name, 'string', options);

export const bool = (name: string, options: Options = {}): AttributeDef =>
  attr(name, 'boolean', options);

export const complex = (
  name: string,
  subAttributes: readonly AttributeDef[],
  options: Options = {},
): AttributeDef => attr(name, 'complex', { subAttributes, ...options });

export const ref = (
  name: string,
  referenceTypes: readonly string[],
  options: Options = {},
): AttributeDef => attr(name, 'reference', { referenceTypes, caseExact: true, ...options });

/** The value/display/type/primary shape of RFC 7643 §2.4 multi-valued attributes. */
export function multi(
  name: string,
  description: string,
  canonicalTypes: readonly string[],
  options: {
    valueType?: AttrType;
    referenceTypes?: readonly string[];
    extra?: AttributeDef[];
  } = {},
): AttributeDef {
  const value =
    options.valueType === 'reference'
      ? ref('value', options.referenceTypes ?? ['external'])
      : attr('value', options.valueType ?? 'string');
  return complex(
    name,
    [
      value,
      str('display'),
      str('type', canonicalTypes.length > 0 ? { canonicalValues: canonicalTypes } : {}),
      bool('primary'),
      ...(options.extra ?? []),
    ],
    { multiValued: true, description },
  );
}
