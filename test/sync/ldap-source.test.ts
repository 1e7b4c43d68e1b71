import { describe, expect, it } from 'vitest';
import { normalizeDn, snapshotOfEntries } from '../../src/sync/sources/ldap.js';
import { SourceError } from '../../src/sync/sources/source.js';

const base = 'dc=example,dc=com';

describe('LDAP entries → source records', () => {
  it('compares DNs case- and space-insensitively, keeping escaped commas', () => {
    expect(normalizeDn('UID=Ada, OU=People ,dc=Example,dc=com')).toBe(
      'uid=ada,ou=people,dc=example,dc=com',
    );
    expect(normalizeDn('cn=Lovelace\\, Ada,dc=x')).toBe('cn=lovelace\\, ada,dc=x');
  });

  it("maps attributes to Entra's names and resolves manager and member DNs", () => {
    const snapshot = snapshotOfEntries(
      [
        {
          dn: `uid=ada,ou=people,${base}`,
          entryUUID: 'u-1',
          uid: 'ada',
          mail: 'ada@example.com',
          cn: 'Ada Lovelace',
          givenName: 'Ada',
          sn: 'Lovelace',
          title: 'Engineer',
          ou: 'R&D',
          employeeNumber: 'E1',
          userPassword: 'secret',
          employeeType: 'FALSE',
          telephoneNumber: ['1', '2'],
        },
        {
          dn: `uid=alan,ou=people,${base}`,
          entryUUID: 'u-2',
          mail: 'alan@example.com',
          manager: `UID=Ada, ou=People,${base}`,
        },
        { dn: `uid=eve,ou=people,${base}`, entryUUID: 'u-3', manager: `uid=nobody,${base}` },
      ],
      [
        {
          dn: `cn=team,ou=groups,${base}`,
          entryUUID: 'g-1',
          cn: 'team',
          uniqueMember: [`uid=ada,ou=people,${base}#'0101'B`, `uid=alan,ou=people,${base}`],
        },
      ],
      { accountEnabledAttribute: 'employeeType' },
    );
    const ada = snapshot.users.get('u-1')!.attributes;
    expect(ada).toMatchObject({
      objectId: 'u-1',
      userPrincipalName: 'ada',
      mail: 'ada@example.com',
      displayName: 'Ada Lovelace',
      surname: 'Lovelace',
      jobTitle: 'Engineer',
      department: 'R&D',
      employeeId: 'E1',
      accountEnabled: false,
      manager: null,
      telephoneNumber: '1',
    });
    expect(ada.userPassword).toBeUndefined();
    const alan = snapshot.users.get('u-2')!.attributes;
    expect(alan).toMatchObject({ userPrincipalName: 'alan@example.com', manager: 'u-1' });
    expect(alan.accountEnabled).toBe(true);
    expect(snapshot.users.get('u-3')!.attributes.manager).toBeNull();
    expect(snapshot.groups.get('g-1')).toMatchObject({
      members: ['u-1', 'u-2'],
      attributes: { displayName: 'team' },
    });
    expect(snapshot.complete).toBe(true);
  });

  it('rejects an entry without entryUUID and an unreadable accountEnabled value', () => {
    expect(() => snapshotOfEntries([{ dn: `uid=x,${base}` }], [], {})).toThrow(/no entryUUID/);
    expect(() =>
      snapshotOfEntries([{ dn: `uid=x,${base}`, entryUUID: 'x', employeeType: 'Contractor' }], [], {
        accountEnabledAttribute: 'employeeType',
      }),
    ).toThrow(SourceError);
  });
});
