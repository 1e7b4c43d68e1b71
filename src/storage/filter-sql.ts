import { sql, type RawBuilder } from 'kysely';
import type { TypedFilter, Target } from '../core/filter/typed.js';
import { leaf } from '../core/filter/typed.js';
import type { ResolvedPath } from '../core/schemas/resolve.js';
import type { AttributeDef } from '../core/schemas/types.js';
import type { SqlDialect } from './dialects/dialect.js';

type Sql = RawBuilder<unknown>;

/**
 * Where a resource attribute lives in SQL (ARCHITECTURE convention 3). Columns
 * serve what identity providers filter and match on; everything else is read
 * from the JSON document in `data`. Multi-valued attributes backed by a table
 * of rows (`emails`, `members`, `groups`) compile to EXISTS subqueries on it.
 */
export interface ColumnMapping {
  /** The column; for case-insensitive attributes a column holding the lower-cased value. */
  readonly column: string;
  readonly folded?: boolean;
  /** Compared and sorted instead of `column` where the value is not the column alone. */
  readonly expression?: Sql;
}

export interface RowSource {
  /** `FROM ... WHERE ...` tying rows to the outer resource, e.g. `user_emails e WHERE e.user_id = users.id`. */
  readonly from: (alias: string) => Sql;
  /** Sub-attribute name → column of the row alias (value expressions must be already folded when `folded`). */
  readonly subs: Readonly<Record<string, ColumnMapping>>;
  /**
   * A sub-attribute without which an element has no row (user_emails holds only
   * emails with a `value`). The table then serves only predicates that are false
   * on elements lacking it; anything else reads the JSON document.
   */
  readonly requires?: string;
  /**
   * The same rows as a set of owner keys, uncorrelated: `SELECT a.user_id FROM user_emails
   * AS a WHERE a.account_id = ?` for the outer column `id`. With it (and the account known)
   * a predicate on the rows compiles to `id IN (SELECT ... AND predicate)`: the rows are
   * read once per query (or looked up by an index on the predicate) instead of probed per
   * resource in a correlated EXISTS.
   */
  readonly keyed?: {
    readonly outer: string;
    readonly select: (alias: string, accountId: string) => Sql;
  };
}

export interface ResourceMapping {
  readonly table: string;
  /** Canonical dotted name (`userName`, `meta.created`, `<urn>:manager.value`) → column. */
  readonly columns: Readonly<Record<string, ColumnMapping>>;
  /** Multi-valued attribute name → its row table. */
  readonly rows: Readonly<Record<string, RowSource>>;
}

/** `accountId`: the account the outer query reads, which lets row tables compile to IN (see RowSource.keyed). */
export function compileFilter(
  filter: TypedFilter,
  mapping: ResourceMapping,
  dialect: SqlDialect,
  accountId?: string,
): Sql {
  return new Compiler(mapping, dialect, accountId).compile(filter, undefined);
}

/** An ORDER BY expression for sortBy; undefined values sort last in ascending order. */
export function compileSort(
  path: ResolvedPath,
  mapping: ResourceMapping,
  dialect: SqlDialect,
  descending: boolean,
): Sql {
  const compiler = new Compiler(mapping, dialect);
  const target = { ...path, relative: false } as Target;
  const expr = compiler.sortExpression(target);
  const direction = descending ? sql.raw('DESC') : sql.raw('ASC');
  return sql`(${expr} IS NULL) ${descending ? sql.raw('DESC') : sql.raw('ASC')}, ${expr} ${direction}`;
}

function canonical(target: ResolvedPath): string {
  const base = target.extension ? `${target.schema.id}:${target.attr.name}` : target.attr.name;
  return target.sub !== undefined ? `${base}.${target.sub.name}` : base;
}

/** The element alias inside an EXISTS: a JSON element or a row of a side table. */
type Element = { kind: 'json'; alias: string } | { kind: 'rows'; alias: string; source: RowSource };

class Compiler {
  private aliasCounter = 0;

  constructor(
    private readonly mapping: ResourceMapping,
    private readonly dialect: SqlDialect,
    private readonly accountId?: string,
  ) {}

  compile(filter: TypedFilter, element: Element | undefined): Sql {
    switch (filter.kind) {
      case 'and':
        return sql`(${this.compile(filter.left, element)} AND ${this.compile(filter.right, element)})`;
      case 'or':
        return sql`(${this.compile(filter.left, element)} OR ${this.compile(filter.right, element)})`;
      // Comparisons are left three-valued (NULL when the attribute is absent) so that they
      // stay sargable: `(user_name_lc = ?) IS TRUE` cannot use an index, and was a full scan
      // per userName lookup. Only negation needs two-valued logic ("ne" and "not" match
      // absent values); `x IS NOT TRUE` gives it, and IS TRUE distributes over AND/OR.
      case 'not':
        return sql`((${this.compile(filter.filter, element)}) IS NOT TRUE)`;
      case 'valuePath':
        return this.exists(
          filter.target,
          (el) => this.compile(filter.filter, el),
          (sub) => needs(filter.filter, sub),
        );
      case 'present':
        return this.present(filter.target, element);
      case 'compare':
        if (filter.op === 'ne')
          return sql`((${this.compile({ ...filter, op: 'eq' }, element)}) IS NOT TRUE)`;
        return this.compare(filter, element);
    }
  }

  /**
   * `pr` (RFC 7644 §3.4.2.2): a non-empty value, or for a complex attribute at
   * least one non-empty sub-attribute; `name: {}` or `{"givenName": ""}` is not present.
   */
  private present(target: Target, element: Element | undefined): Sql {
    const subs =
      target.sub === undefined && target.attr.type === 'complex'
        ? (target.attr.subAttributes ?? [])
        : [];
    if (!target.relative && target.attr.multiValued) {
      const sub = target.sub;
      return this.exists(
        target,
        (el) => {
          if (sub !== undefined) return this.notEmpty(this.elementValue(el, sub));
          if (subs.length === 0) return sql`1 = 1`;
          // A row of a side table stands for an element; only its mapped columns can be read.
          const readable =
            el.kind === 'rows' ? subs.filter((s) => Object.hasOwn(el.source.subs, s.name)) : subs;
          return this.anyOf(readable.map((s) => this.notEmpty(this.elementValue(el, s))));
        },
        (name) => sub?.name === name,
      );
    }
    if (subs.length > 0 && !target.relative) {
      return this.anyOf(
        subs.map((sub) => this.notEmpty(this.scalar({ ...target, sub }, undefined).sql)),
      );
    }
    const expr = this.scalar(target, element);
    return this.notEmpty(expr.sql);
  }

  private anyOf(parts: Sql[]): Sql {
    return parts.length === 0 ? sql`(1 = 0)` : sql`(${sql.join(parts, sql` OR `)})`;
  }

  private notEmpty(expr: Sql): Sql {
    return sql`(${expr} IS NOT NULL AND ${this.asText(expr)} <> '')`;
  }

  private asText(expr: Sql): Sql {
    return this.dialect.asText(expr);
  }

  private compare(
    filter: Extract<TypedFilter, { kind: 'compare' }>,
    element: Element | undefined,
  ): Sql {
    const { target } = filter;
    if (!target.relative && target.attr.multiValued) {
      // `emails.value co "@x"`: some element matches.
      const relative: Extract<TypedFilter, { kind: 'compare' }> = {
        ...filter,
        target: { ...target, relative: true },
      };
      return this.exists(
        target,
        (el) => this.compare(relative, el),
        (sub) => needs(relative, sub),
      );
    }
    const def = leaf(target);
    const { sql: column, folded } = this.scalar(target, element);
    const value = filter.value;
    if (typeof value === 'boolean') {
      // A mapped column holds 1/0 on both databases: compared as such, an index serves it.
      // A value read from JSON on PostgreSQL is text ('true'/'false').
      if (!target.relative && this.mapping.columns[canonical(target)] !== undefined)
        return sql`(${column} = ${value ? 1 : 0})`;
      return this.dialect.jsonBoolean(column, value);
    }
    if (typeof value === 'number') {
      const numeric = this.dialect.jsonNumber(column);
      return sql`(${numeric} ${sql.raw(OPERATORS[filter.op] ?? '=')} ${value})`;
    }
    // dateTime values are ISO-8601 UTC text on both sides (typed.ts normalises the
    // literal): compared as stored, so the timestamp indexes apply.
    const caseExact = def.caseExact || def.type === 'dateTime';
    const expr = caseExact || folded ? column : this.lower(column);
    const literal = caseExact ? value : value.toLowerCase();
    const length = [...literal].length;
    if (length === 0 && (filter.op === 'co' || filter.op === 'sw' || filter.op === 'ew')) {
      // Every string contains, starts and ends with "" (SQLite's substr(x, -0) is all of x).
      return sql`(${expr} IS NOT NULL)`;
    }
    switch (filter.op) {
      case 'co':
        return this.dialect.contains(expr, literal);
      case 'sw':
        return this.dialect.startsWith(expr, literal, length);
      case 'ew':
        return this.dialect.endsWith(expr, literal, length);
      default: {
        // Equality needs no collation (and keeps the index); an order does.
        const left = filter.op === 'eq' ? expr : this.dialect.byteOrder(expr);
        return sql`(${left} ${sql.raw(OPERATORS[filter.op] ?? '=')} ${literal})`;
      }
    }
  }

  /**
   * JS toLowerCase() in SQL, so values read from JSON fold like the `*_lc` columns and
   * the literals: a function registered per connection on SQLite (its lower() is
   * ASCII-only), an ICU-backed SQL function on PostgreSQL (migration 004).
   */
  private lower(expr: Sql): Sql {
    return sql`scim_lower(${expr})`;
  }

  sortExpression(target: Target): Sql {
    const { sql: expr, folded } = target.attr.multiValued
      ? this.primaryValue(target)
      : this.scalar(target, undefined);
    const def = leaf(target);
    const value = def.type === 'string' && !def.caseExact && !folded ? this.lower(expr) : expr;
    return def.type === 'string' || def.type === 'reference'
      ? this.dialect.byteOrder(value)
      : value;
  }

  /**
   * RFC 7644 §3.4.2.3: a multi-valued sortBy sorts by the primary value if any,
   * else the first value. `emails` alone means `emails.value`.
   */
  private primaryValue(target: Target): { sql: Sql; folded: boolean } {
    const sub = target.sub ?? (target.attr.subAttributes ?? []).find((s) => s.name === 'value');
    if (sub === undefined) return { sql: sql`NULL`, folded: false };
    const keys = [...(target.extension ? [target.schema.id] : []), target.attr.name];
    const document = sql.ref(`${this.mapping.table}.data`);
    const d = this.dialect;
    return {
      sql: sql`(SELECT ${d.elementValue('s', sub.name)} FROM ${d.jsonElements(document, keys, 's')} ORDER BY ${d.primaryFirst('s')} LIMIT 1)`,
      folded: false,
    };
  }

  /** A single value: a column, a JSON path, or the current element's sub-attribute. */
  private scalar(target: Target, element: Element | undefined): { sql: Sql; folded: boolean } {
    if (target.relative) {
      if (element === undefined || target.sub === undefined)
        throw new Error('relative path outside a value filter');
      if (element.kind === 'rows') {
        const column = element.source.subs[target.sub.name];
        if (column === undefined) throw new Error(`no row column for ${target.sub.name}`);
        return {
          sql: sql.ref(`${element.alias}.${column.column}`),
          folded: column.folded === true,
        };
      }
      return { sql: this.elementValue(element, target.sub), folded: false };
    }
    const mapped = this.mapping.columns[canonical(target)];
    if (mapped !== undefined) {
      return {
        sql: mapped.expression ?? sql.ref(`${this.mapping.table}.${mapped.column}`),
        folded: mapped.folded === true,
      };
    }
    const keys = [...(target.extension ? [target.schema.id] : []), target.attr.name];
    if (target.sub !== undefined) keys.push(target.sub.name);
    return {
      sql: this.dialect.jsonValue(sql.ref(`${this.mapping.table}.data`), keys),
      folded: false,
    };
  }

  private elementValue(element: Element, sub: AttributeDef): Sql {
    if (element.kind === 'rows') {
      const column = element.source.subs[sub.name];
      return column === undefined ? sql`NULL` : sql.ref(`${element.alias}.${column.column}`);
    }
    return this.dialect.elementValue(element.alias, sub.name);
  }

  /** EXISTS over the elements of a multi-valued attribute: rows of a side table, or JSON array items. */
  private exists(
    target: ResolvedPath,
    predicate: (element: Element) => Sql,
    needsSub: (sub: string) => boolean,
  ): Sql {
    const alias = `e${this.aliasCounter++}`;
    const rows = target.extension ? undefined : this.mapping.rows[target.attr.name];
    if (
      rows !== undefined &&
      (rows.requires === undefined || needsSub(rows.requires)) &&
      this.rowsCover(rows, predicate, alias)
    ) {
      const element: Element = { kind: 'rows', alias, source: rows };
      if (rows.keyed !== undefined && this.accountId !== undefined) {
        const outer = sql.ref(`${this.mapping.table}.${rows.keyed.outer}`);
        return sql`(${outer} IN (${rows.keyed.select(alias, this.accountId)} AND ${predicate(element)}))`;
      }
      return sql`EXISTS (SELECT 1 FROM ${rows.from(alias)} AND ${predicate(element)})`;
    }
    const keys = [...(target.extension ? [target.schema.id] : []), target.attr.name];
    const document = sql.ref(`${this.mapping.table}.data`);
    return sql`EXISTS (SELECT 1 FROM ${this.dialect.jsonElements(document, keys, alias)} WHERE ${predicate({ kind: 'json', alias })})`;
  }

  /** A side table serves a predicate only if it has a column for every sub-attribute the predicate reads. */
  private rowsCover(rows: RowSource, predicate: (element: Element) => Sql, alias: string): boolean {
    const missing = new Set<string>();
    const probe: RowSource = {
      from: rows.from,
      subs: new Proxy(rows.subs, {
        get(target, key: string) {
          const found = target[key];
          if (found === undefined) missing.add(key);
          return found;
        },
      }),
    };
    try {
      predicate({ kind: 'rows', alias, source: probe });
    } catch {
      return false;
    }
    return missing.size === 0;
  }
}

/**
 * True when `filter` can hold on an element only if the element has `sub`
 * (a missing value never matches a comparison; `ne` and `not` may match it).
 */
function needs(filter: TypedFilter, sub: string): boolean {
  switch (filter.kind) {
    case 'compare':
      return filter.op !== 'ne' && filter.target.relative && filter.target.sub?.name === sub;
    case 'present':
      return filter.target.relative && filter.target.sub?.name === sub;
    case 'and':
      return needs(filter.left, sub) || needs(filter.right, sub);
    case 'or':
      return needs(filter.left, sub) && needs(filter.right, sub);
    default:
      return false;
  }
}

const OPERATORS: Partial<Record<string, string>> = {
  eq: '=',
  gt: '>',
  ge: '>=',
  lt: '<',
  le: '<=',
};
