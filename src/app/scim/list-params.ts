import { badRequest } from '../../core/errors.js';
import { checkFilterCost } from '../../core/filter/cost.js';
import { parseAttrPath, parseFilter } from '../../core/filter/parse.js';
import { typeFilter } from '../../core/filter/typed.js';
import { parseProjection, type Projection } from '../../core/resource/projection.js';
import { resolvePath } from '../../core/schemas/resolve.js';
import type { ResourceTypeDef } from '../../core/schemas/types.js';
import type { ListQuery } from '../ports.js';

/** Page size when the client names none, and the most one page may hold (ServiceProviderConfig filter.maxResults). */
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

export interface ListParams {
  readonly query: ListQuery;
  readonly startIndex: number;
  readonly projection: Projection;
}

/** Query parameters of a list or `.search` (RFC 7644 §3.4.2, §3.4.3), as strings or JSON values. */
export interface RawListParams {
  readonly filter?: unknown;
  readonly sortBy?: unknown;
  readonly sortOrder?: unknown;
  readonly startIndex?: unknown;
  readonly count?: unknown;
  readonly attributes?: unknown;
  readonly excludedAttributes?: unknown;
}

export function parseListParams(raw: RawListParams, resourceType: ResourceTypeDef): ListParams {
  const filterText = text(raw.filter, 'filter');
  const parsed =
    filterText === undefined || filterText.trim() === '' ? undefined : parseFilter(filterText);
  if (parsed !== undefined) checkFilterCost(parsed);
  const filter = parsed === undefined ? undefined : typeFilter(parsed, resourceType);
  const sortByText = text(raw.sortBy, 'sortBy');
  const sortBy =
    sortByText === undefined || sortByText.trim() === ''
      ? undefined
      : resolvePath(resourceType, parseAttrPath(sortByText.trim(), 'invalidValue'), 'invalidValue');
  const sortOrder = text(raw.sortOrder, 'sortOrder')?.toLowerCase();
  if (sortOrder !== undefined && sortOrder !== 'ascending' && sortOrder !== 'descending') {
    throw badRequest('invalidValue', 'sortOrder must be "ascending" or "descending".');
  }
  if (sortBy !== undefined && (sortBy.attr.name === 'members' || sortBy.attr.name === 'groups')) {
    throw badRequest(
      'invalidValue',
      `Lists cannot be sorted by "${sortBy.attr.name}"; sort by a single-valued attribute such as displayName.`,
    );
  }
  const { startIndex, count } = parsePaging(raw);
  return {
    startIndex,
    projection: parseProjection(
      resourceType,
      list(raw.attributes, 'attributes'),
      list(raw.excludedAttributes, 'excludedAttributes'),
    ),
    query: {
      ...(filter !== undefined ? { filter } : {}),
      ...(sortBy !== undefined ? { sortBy } : {}),
      descending: sortOrder === 'descending',
      offset: startIndex - 1,
      limit: count,
    },
  };
}

function text(value: unknown, name: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) throw badRequest('invalidValue', `"${name}" was given more than once.`);
  throw badRequest('invalidValue', `"${name}" must be a string.`);
}

/** startIndex and count (RFC 7644 §3.4.2.4): below 1 means 1; a negative count means 0; capped. */
export function parsePaging(raw: Pick<RawListParams, 'startIndex' | 'count'>): {
  startIndex: number;
  count: number;
} {
  return {
    startIndex: Math.max(1, integer(raw.startIndex, 'startIndex') ?? 1),
    count: Math.min(MAX_PAGE_SIZE, Math.max(0, integer(raw.count, 'count') ?? DEFAULT_PAGE_SIZE)),
  };
}

function integer(value: unknown, name: string): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const number =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^\s*-?\d+\s*$/.test(value)
        ? Number(value)
        : NaN;
  if (!Number.isSafeInteger(number))
    throw badRequest('invalidValue', `"${name}" must be an integer.`);
  return number;
}

/** `attributes` as a comma-separated string (query) or an array of strings (`.search` body). */
function list(value: unknown, name: string): string | undefined {
  if (Array.isArray(value)) {
    if (!value.every((v) => typeof v === 'string'))
      throw badRequest('invalidValue', `"${name}" must list attribute names.`);
    return value.join(',');
  }
  return text(value, name);
}
