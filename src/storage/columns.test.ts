import { describe, expect, it } from 'vitest';
import { GROUP_INDEX, USER_INDEX, userIndexedValues } from '../core/resource/indexed-columns.js';
import { ENTERPRISE_USER_SCHEMA_ID } from '../core/schemas/rfc7643.js';
import { filterColumns, groupColumnValues, indexColumns, userColumnValues } from './columns.js';

describe('indexed columns', () => {
  const data = {
    userName: 'Ärger@Example.COM',
    displayName: 'ÄRGER Ärger',
    externalId: 'EXT-1',
    active: false,
    [ENTERPRISE_USER_SCHEMA_ID]: { manager: { value: 'm-1' } },
    emails: [{ value: 'A@X.example', type: 'Work', primary: true }, { type: 'home' }],
  };

  it('writes every value with its folded column, from the one declaration', () => {
    const { emails, ...values } = userIndexedValues(data);
    expect(userColumnValues(values)).toEqual({
      user_name: 'Ärger@Example.COM',
      user_name_lc: 'ärger@example.com',
      external_id: 'EXT-1',
      display_name: 'ÄRGER Ärger',
      display_name_lc: 'ärger ärger',
      active: 0,
      manager_id: 'm-1',
    });
    expect(emails).toEqual([{ value: 'A@X.example', type: 'Work', primary: true }]);
    expect(userColumnValues({ ...values, displayName: null, active: true })).toMatchObject({
      display_name: null,
      display_name_lc: null,
      active: 1,
    });
    expect(groupColumnValues({ displayName: 'Sales', externalId: null })).toEqual({
      display_name: 'Sales',
      display_name_lc: 'sales',
      external_id: null,
    });
  });

  it('filters compare case-insensitive attributes on their folded column', () => {
    expect(filterColumns(USER_INDEX)).toEqual({
      id: { column: 'id' },
      'meta.created': { column: 'created_at' },
      'meta.lastModified': { column: 'updated_at' },
      userName: { column: 'user_name_lc', folded: true },
      externalId: { column: 'external_id' },
      displayName: { column: 'display_name_lc', folded: true },
      active: { column: 'active' },
      [`${ENTERPRISE_USER_SCHEMA_ID}:manager.value`]: { column: 'manager_id' },
    });
    expect(indexColumns(GROUP_INDEX)).toEqual(['display_name', 'display_name_lc', 'external_id']);
  });

  it('refuses values too long for an index, naming the attribute', () => {
    expect(() => userIndexedValues({ ...data, emails: [{ value: 'x'.repeat(513) }] })).toThrow(
      /"emails.value" is 513 characters long/,
    );
    expect(() =>
      userIndexedValues({
        ...data,
        [ENTERPRISE_USER_SCHEMA_ID]: { manager: { value: 'm'.repeat(600) } },
      }),
    ).toThrow(/"manager" is 600 characters long/);
  });
});
