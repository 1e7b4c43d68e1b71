/**
 * The filter and path grammar of RFC 7644 §3.4.2.2, shared by filters, PATCH
 * paths (§3.5.2) and `attributes=` lists (ARCHITECTURE convention 2).
 */
export type CompareOp = 'eq' | 'ne' | 'co' | 'sw' | 'ew' | 'gt' | 'ge' | 'lt' | 'le';
export type FilterValue = string | number | boolean | null;

/** An attribute path as written: `[urn:]attr[.sub]`, names in the sender's case. */
export interface AttrPath {
  readonly urn?: string;
  readonly attr: string;
  readonly sub?: string;
}

export type Filter =
  | {
      readonly kind: 'compare';
      readonly op: CompareOp;
      readonly path: AttrPath;
      readonly value: FilterValue;
    }
  | { readonly kind: 'present'; readonly path: AttrPath }
  | { readonly kind: 'and' | 'or'; readonly left: Filter; readonly right: Filter }
  | { readonly kind: 'not'; readonly filter: Filter }
  /** `attr[filter]`: some element of a multi-valued attribute matches; inner paths are relative. */
  | { readonly kind: 'valuePath'; readonly path: AttrPath; readonly filter: Filter };

/** A PATCH path (RFC 7644 §3.5.2): `attrPath`, or `attr[valFilter][.sub]`. */
export interface PatchPath {
  readonly path: AttrPath;
  readonly filter?: Filter;
  /** Sub-attribute after a value filter: the `value` of `emails[type eq "work"].value`. */
  readonly subAfterFilter?: string;
}
