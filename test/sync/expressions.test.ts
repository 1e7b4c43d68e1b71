/**
 * Entra's expression language: every function on Microsoft's documented examples
 * ("Reference for writing expressions for attribute mappings in Microsoft Entra ID"),
 * plus the edges Roster defines, parse errors with positions, and regex safety.
 */
import { describe, expect, it } from 'vitest';
import {
  compileExpression,
  ExpressionError,
  IGNORE,
  listFunctions,
  parseDate,
  type EvalContext,
  type SourceObject,
} from '../../src/sync/expressions/index.js';
import { catastrophicShape } from '../../src/sync/expressions/regex.js';

function ev(src: string, obj: SourceObject = {}, ctx?: EvalContext): unknown {
  return compileExpression(src).evaluate(obj, ctx);
}

function compileError(src: string): ExpressionError {
  try {
    compileExpression(src);
  } catch (err) {
    expect(err).toBeInstanceOf(ExpressionError);
    return err as ExpressionError;
  }
  throw new Error(`expected ${src} not to compile`);
}

function runtimeError(src: string, obj: SourceObject = {}, ctx?: EvalContext): ExpressionError {
  const compiled = compileExpression(src);
  try {
    compiled.evaluate(obj, ctx);
  } catch (err) {
    expect(err).toBeInstanceOf(ExpressionError);
    return err as ExpressionError;
  }
  throw new Error(`expected ${src} to fail`);
}

/** A deterministic random source. */
function seeded(seed = 42): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x80000000;
  };
}

describe('the function list', () => {
  it("has Entra's 43 functions", () => {
    const names = listFunctions().map((f) => f.name);
    expect(names).toHaveLength(43);
    for (const n of [
      'Append',
      'AppRoleAssignmentsComplex',
      'BitAnd',
      'CBool',
      'CDate',
      'Coalesce',
      'ConvertToBase64',
      'ConvertToUTF8Hex',
      'Count',
      'CStr',
      'DateAdd',
      'DateDiff',
      'DateFromNum',
      'FormatDateTime',
      'Guid',
      'IgnoreFlowIfNullOrEmpty',
      'IIF',
      'InStr',
      'IsNull',
      'IsNullOrEmpty',
      'IsPresent',
      'IsString',
      'Item',
      'Join',
      'Left',
      'Mid',
      'NormalizeDiacritics',
      'Not',
      'Now',
      'NumFromDate',
      'PCase',
      'RandomString',
      'Redact',
      'RemoveDuplicates',
      'Replace',
      'SelectUniqueValue',
      'SingleAppRoleAssignment',
      'Split',
      'StripSpaces',
      'Switch',
      'ToLower',
      'ToUpper',
      'Word',
    ]) {
      expect(names).toContain(n);
    }
  });

  it('compiles every documented example', () => {
    for (const f of listFunctions()) {
      expect(() => compileExpression(f.example), f.name).not.toThrow();
      expect(f.signature.startsWith(`${f.name}(`)).toBe(true);
    }
  });
});

describe('documented examples', () => {
  it('Append', () => {
    expect(
      ev('Append([userPrincipalName], ".test")', { userPrincipalName: 'John.Doe@contoso.com' }),
    ).toBe('John.Doe@contoso.com.test');
  });

  it('BitAnd', () => {
    expect(ev('BitAnd(&HF, &HF7)')).toBe(7);
    expect(ev('BitAnd([uac], 2)', { uac: 514 })).toBe(2);
    expect(ev('BitAnd([uac], 2)', { uac: '512' })).toBe(0);
  });

  it('CBool', () => {
    expect(ev('CBool([attribute1] = [attribute2])', { attribute1: 'a', attribute2: 'a' })).toBe(
      true,
    );
    expect(ev('CBool([attribute1] = [attribute2])', { attribute1: 'a', attribute2: 'b' })).toBe(
      false,
    );
    expect(ev('CBool("1")')).toBe(true);
    expect(ev('CBool(0)')).toBe(false);
    expect(ev('CBool("true")')).toBe(true);
  });

  it('CDate', () => {
    expect(ev('CDate([StatusHireDate])', { StatusHireDate: '2020-03-16-07:00' })).toBe(
      '3/16/2020 7:00:00 AM',
    );
    expect(ev('CDate("2021-06-30+08:00")')).toBe('6/29/2021 4:00:00 PM');
    expect(ev('CDate("2009-06-15T01:45:30-07:00")')).toBe('6/15/2009 8:45:30 AM');
  });

  it('Coalesce', () => {
    expect(
      ev('Coalesce([mail],[userPrincipalName])', {
        mail: null,
        userPrincipalName: 'John.Doe@contoso.com',
      }),
    ).toBe('John.Doe@contoso.com');
    expect(ev('Coalesce([mail],[userPrincipalName])', { userPrincipalName: 'u@x' })).toBe('u@x');
    expect(ev('Coalesce([a],[b],"default")', {})).toBe('default');
    expect(ev('Coalesce([a],[b])', {})).toBeNull();
  });

  it('ConvertToBase64', () => {
    expect(ev('ConvertToBase64("Hello world!")')).toBe('SABlAGwAbABvACAAdwBvAHIAbABkACEA');
  });

  it('ConvertToUTF8Hex', () => {
    expect(ev('ConvertToUTF8Hex("Hello world!")')).toBe('48656C6C6F20776F726C6421');
  });

  it('Count', () => {
    expect(
      ev('Count([proxyAddresses])', { proxyAddresses: ['smtp:a@x', 'SMTP:b@x', 'smtp:c@x'] }),
    ).toBe(3);
    expect(ev('Count([proxyAddresses])', {})).toBe(0);
    expect(ev('Count([mail])', { mail: 'a@x' })).toBe(1);
  });

  it('CStr', () => {
    expect(ev('CStr([dn])', { dn: 'cn=Joe,dc=contoso,dc=com' })).toBe('cn=Joe,dc=contoso,dc=com');
    expect(ev('CStr([n])', { n: 42 })).toBe('42');
    expect(ev('CStr([b])', { b: true })).toBe('True');
  });

  it('DateAdd', () => {
    const hire = { StatusHireDate: '2012-03-16-07:00' };
    expect(ev('DateAdd("d", 7, CDate([StatusHireDate]))', hire)).toBe('3/23/2012 7:00:00 AM');
    expect(ev('DateAdd("d", -10, CDate([StatusHireDate]))', hire)).toBe('3/6/2012 7:00:00 AM');
    expect(ev('DateAdd("ww", 2, CDate([StatusHireDate]))', hire)).toBe('3/30/2012 7:00:00 AM');
    expect(ev('DateAdd("m", 10, CDate([StatusHireDate]))', hire)).toBe('1/16/2013 7:00:00 AM');
    expect(ev('DateAdd("yyyy", 2, CDate([StatusHireDate]))', hire)).toBe('3/16/2014 7:00:00 AM');
    // A month added to 31 January ends on the last day of February.
    expect(ev('DateAdd("m", 1, CDate("2024-01-31"))')).toBe('2/29/2024 12:00:00 AM');
    expect(ev('DateAdd("h", 5, CDate("2024-01-31"))')).toBe('1/31/2024 5:00:00 AM');
  });

  it('DateDiff', () => {
    const d = (interval: string, a: string, b: string) =>
      ev(`DateDiff("${interval}", CDate("${a}"), CDate("${b}"))`);
    expect(d('d', '2021-08-18+08:00', '2021-08-31+08:00')).toBe(13);
    expect(d('d', '8/25/2021 5:41:18 PM', '2012-03-16-07:00')).toBe(-3449);
    expect(d('ww', '8/25/2021 5:41:18 PM', '2012-03-16-07:00')).toBe(-493);
    expect(d('m', '8/25/2021 5:41:18 PM', '2012-03-16-07:00')).toBe(-113);
    expect(d('yyyy', '8/25/2021 5:41:18 PM', '2012-03-16-07:00')).toBe(-9);
    expect(d('d', '2021-08-31+08:00', '2021-08-31+08:00')).toBe(0);
    expect(d('h', '2021-08-24', '2021-08-25')).toBe(24);
    expect(d('n', '2021-08-24', '2021-08-25')).toBe(1440);
    expect(d('s', '2021-08-24', '2021-08-25')).toBe(86400);
  });

  it('DateDiff inside IIF and Switch, with Now() from the context', () => {
    const src = `Switch([Active], ,
      "1", IIF(DateDiff("d", Now(), CDate([StatusHireDate])) > 5, "False", "True"),
      "0", "False")`;
    const now = () => new Date('2024-05-01T12:00:00Z');
    expect(ev(src, { Active: '1', StatusHireDate: '2024-05-03' }, { now })).toBe('True');
    expect(ev(src, { Active: '1', StatusHireDate: '2024-06-01' }, { now })).toBe('False');
    expect(ev(src, { Active: '0', StatusHireDate: '2024-05-03' }, { now })).toBe('False');
    expect(ev(src, { StatusHireDate: '2024-05-03' }, { now })).toBeNull();
  });

  it('DateFromNum', () => {
    expect(ev('DateFromNum(129699324000000000)')).toBe('1/1/2012 11:00:00 PM');
    expect(
      ev('DateFromNum([lastLogonTimestamp])', { lastLogonTimestamp: '129699324000000000' }),
    ).toBe('1/1/2012 11:00:00 PM');
    expect(
      ev('DateFromNum([accountExpires])', { accountExpires: '9223372036854775807' }),
    ).toBeNull();
    expect(ev('DateFromNum([accountExpires])', { accountExpires: 0 })).toBeNull();
  });

  it('FormatDateTime', () => {
    expect(
      ev('FormatDateTime([extensionAttribute1], , "yyyyMMddHHmmss.fZ", "yyyy-MM-dd")', {
        extensionAttribute1: '20150123105347.1Z',
      }),
    ).toBe('2015-01-23');
    expect(
      ev('FormatDateTime([d], , "M/d/yyyy hh:mm:ss tt", "yyyy-MM-dd")', {
        d: '12/31/2020 11:30:00 PM',
      }),
    ).toBe('2020-12-31');
    expect(
      ev('FormatDateTime([d], , "yyyy-MM-ddzzz", "yyyy-MM-dd")', { d: '2020-12-31-08:00' }),
    ).toBe('2020-12-31');
    expect(ev('FormatDateTime([d], "yyyy-MM-dd", "dd MMMM yyyy, dddd")', { d: '2024-02-29' })).toBe(
      '29 February 2024, Thursday',
    );
    expect(
      ev('FormatDateTime([d], , "yyyy-MM-dd", "yyyy-MM-dd\'T\'HH:mm:ssK")', { d: '2024-02-29' }),
    ).toBe('2024-02-29T00:00:00Z');
    expect(ev('FormatDateTime([d], , "yyyy-MM-dd", "yyyy")', {})).toBeNull();
    const err = runtimeError('FormatDateTime([d], , "yyyy-MM-dd", "yyyy")', { d: 'yesterday' });
    expect(err.message).toMatch(/does not match the input format "yyyy-MM-dd"/);
    expect(err.column).toBe(16);
  });

  it('Guid', () => {
    const g = ev('Guid()');
    expect(g).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(ev('Guid()')).not.toBe(g);
    expect(ev('Guid()', {}, { random: seeded(1) })).toBe(ev('Guid()', {}, { random: seeded(1) }));
    expect(compileExpression('Guid()').deterministic).toBe(false);
  });

  it('IgnoreFlowIfNullOrEmpty', () => {
    expect(ev('IgnoreFlowIfNullOrEmpty([department])', {})).toBe(IGNORE);
    expect(ev('IgnoreFlowIfNullOrEmpty([department])', { department: '' })).toBe(IGNORE);
    expect(ev('IgnoreFlowIfNullOrEmpty([department])', { department: 'Sales' })).toBe('Sales');
    const src =
      'IgnoreFlowIfNullOrEmpty(Switch([prefix], "", "3443", "Dr.", "3444", "Prof.", "3445", "Prof. Dr."))';
    expect(ev(src, { prefix: '3444' })).toBe('Prof.');
    expect(ev(src, { prefix: '9999' })).toBe(IGNORE);
    // Nested, it still drops the whole attribute.
    expect(ev('Append(IgnoreFlowIfNullOrEmpty([a]), "x")', {})).toBe(IGNORE);
  });

  it('IIF', () => {
    const src = 'IIF([country]="USA",[country],[department])';
    expect(ev(src, { country: 'USA', department: 'Sales' })).toBe('USA');
    expect(ev(src, { country: 'FR', department: 'Sales' })).toBe('Sales');
    const and = 'IIF([country]="USA",IIF([state]="CA","True","False"),"False")';
    expect(ev(and, { country: 'USA', state: 'CA' })).toBe('True');
    expect(ev(and, { country: 'USA', state: 'WA' })).toBe('False');
    const or = 'IIF([country]="USA","True",IIF([state]="CA","True","False"))';
    expect(ev(or, { country: 'FR', state: 'CA' })).toBe('True');
    expect(ev(or, { country: 'FR', state: 'WA' })).toBe('False');
    // Where Entra's condition check fails on a null attribute, Roster compares null as "".
    expect(ev('IIF([country]="","Other",[country])', {})).toBe('Other');
    expect(ev('IIF(IsNullOrEmpty([country]),"Other",[country])', { country: 'NO' })).toBe('NO');
    expect(ev('IIF(IsPresent([country]),[country],"Other")', {})).toBe('Other');
    // Numbers compare as numbers, also in text.
    expect(ev('IIF([n] > 9, "big", "small")', { n: '10' })).toBe('big');
    expect(ev('IIF([n] <> 10, "no", "yes")', { n: 10 })).toBe('yes');
    expect(ev('IIF([n] <= 10, "le", "gt")', { n: 10 })).toBe('le');
    expect(ev('IIF([n] >= 10, "ge", "lt")', { n: 9 })).toBe('lt');
    expect(ev('IIF([n] < "b", "lt", "ge")', { n: 'a' })).toBe('lt');
  });

  it('InStr', () => {
    expect(ev('InStr("The quick brown fox","quick")')).toBe(5);
    expect(ev('InStr("repEated","e",3,vbBinaryCompare)')).toBe(7);
    expect(ev('InStr("repEated","e",3,vbTextCompare)')).toBe(4);
    expect(ev('InStr("abc","z")')).toBe(0);
    expect(ev('InStr([a],"z")', {})).toBeNull();
  });

  it('IsNull, IsNullOrEmpty, IsPresent, IsString', () => {
    expect(ev('IsNull([displayName])', {})).toBe(true);
    expect(ev('IsNull([displayName])', { displayName: '' })).toBe(false);
    expect(ev('IsNullOrEmpty([displayName])', { displayName: '' })).toBe(true);
    expect(ev('IsNullOrEmpty([displayName])', {})).toBe(true);
    expect(ev('IsNullOrEmpty([displayName])', { displayName: 'x' })).toBe(false);
    expect(ev('IsPresent([displayName])', { displayName: 'x' })).toBe(true);
    expect(ev('IsPresent([displayName])', { displayName: '' })).toBe(false);
    expect(ev('IsString([employeeId])', { employeeId: 'E1' })).toBe(true);
    expect(ev('IsString([employeeId])', { employeeId: 7 })).toBe(false);
    expect(ev('IsString([employeeId])', {})).toBe(false);
    const sw =
      'Switch(IsPresent([directManager]),[directManager], IsPresent([skiplevelManager]),[skiplevelManager], IsPresent([director]),[director])';
    // Switch's source is True or False here: the first pair whose key text matches wins.
    expect(compileExpression(sw).attributes).toEqual([
      'directManager',
      'skiplevelManager',
      'director',
    ]);
  });

  it('Item', () => {
    const obj = { proxyAddresses: ['SMTP:a@x', 'smtp:b@x'] };
    expect(ev('Item([proxyAddresses], 1)', obj)).toBe('SMTP:a@x');
    expect(ev('Item([proxyAddresses], 2)', obj)).toBe('smtp:b@x');
    expect(ev('Item([proxyAddresses], 3)', obj)).toBeNull();
    expect(ev('Item([proxyAddresses], 0)', obj)).toBeNull();
  });

  it('Join', () => {
    expect(
      ev('Join(", ", "", [surname], [givenName])', { givenName: 'John', surname: 'Doe' }),
    ).toBe('Doe, John');
    expect(ev('Join(" ", [givenName], [surname])', { givenName: 'John' })).toBe('John');
    expect(
      ev('Join(";", [proxyAddresses], [mail])', { proxyAddresses: ['a', 'b'], mail: 'c' }),
    ).toBe('a;b;c');
    expect(ev('Join("", 1000, "x")')).toBe('1000x');
  });

  it('Left', () => {
    expect(ev('Left("John Doe", 3)')).toBe('Joh');
    expect(ev('Left("John Doe", 0)')).toBe('');
    expect(ev('Left("John Doe", -1)')).toBe('John Doe');
    expect(ev('Left("Jo", 5)')).toBe('Jo');
    expect(ev('Left([x], 2)', {})).toBe('');
  });

  it('Mid, and the alias example', () => {
    expect(ev('Mid("John", 2, 2)')).toBe('oh');
    expect(ev('Mid("John", 3, 10)')).toBe('hn');
    expect(ev('Mid("John", 9, 1)')).toBe('');
    expect(
      ev('Append(Mid([givenName], 1, 3), Mid([surname], 1, 5))', {
        givenName: 'John',
        surname: 'Doe',
      }),
    ).toBe('JohDoe');
  });

  it('NormalizeDiacritics', () => {
    expect(ev('NormalizeDiacritics([givenName])', { givenName: 'Zoë' })).toBe('Zoe');
    expect(ev('NormalizeDiacritics("Ångström Æsir Øre Łódź straße ĞİŞ Ḗ")')).toBe(
      'Angstrom AEsir OEre Lodz strasse GIS E',
    );
  });

  it('Not', () => {
    expect(ev('Not([accountEnabled])', { accountEnabled: true })).toBe(false);
    expect(ev('Not([accountEnabled])', { accountEnabled: 'True' })).toBe(false);
    expect(ev('Not([accountEnabled])', { accountEnabled: 'False' })).toBe(true);
    expect(ev('Not([accountEnabled])', {})).toBe(true);
  });

  it('Now', () => {
    expect(ev('Now()', {}, { now: () => new Date('2021-07-02T15:33:38Z') })).toBe(
      '7/2/2021 3:33:38 PM',
    );
    expect(ev('Now()')).toMatch(/^\d{1,2}\/\d{1,2}\/\d{4} \d{1,2}:\d{2}:\d{2} [AP]M$/);
  });

  it('NumFromDate', () => {
    // 2020-12-31 23:59:59-08:00 is 2021-01-01T07:59:59Z: 13253961599 seconds after 1601-01-01.
    expect(
      ev(
        'NumFromDate(Join("", FormatDateTime([ContractEndDate], ,"yyyy-MM-ddzzz", "yyyy-MM-dd"), " 23:59:59-08:00"))',
        {
          ContractEndDate: '2020-12-31-08:00',
        },
      ),
    ).toBe('132539615990000000');
    expect(
      ev(
        'NumFromDate(Join("",FormatDateTime([endDate], ,"M/d/yyyy hh:mm:ss tt","yyyy-MM-dd")," 23:59:59-08:00"))',
        {
          endDate: '12/31/2020 09:00:00 AM',
        },
      ),
    ).toBe('132539615990000000');
    // The round trip with DateFromNum.
    expect(ev('DateFromNum(NumFromDate("2012-01-01T23:00:00Z"))')).toBe('1/1/2012 11:00:00 PM');
  });

  it('PCase', () => {
    expect(ev('PCase([firstName])', { firstName: 'PABLO GONSALVES (SECOND)' })).toBe(
      'Pablo Gonsalves (Second)',
    );
    expect(ev('PCase([lastName]," \'-")', { lastName: "PINTO-DE'SILVA" })).toBe("Pinto-De'Silva");
    expect(
      ev('PCase(Join(" ",[firstName],[lastName]))', { firstName: 'GREGORY', lastName: 'JAMES' }),
    ).toBe('Gregory James');
    expect(ev('PCase("mary-ann o\'neil")')).toBe("Mary-Ann O'Neil");
    expect(ev('PCase("mary-ann o\'neil", " ")')).toBe("Mary-ann O'neil");
  });

  it('RandomString', () => {
    const a = ev('RandomString(6,3,0,0,3)') as string;
    expect(a).toHaveLength(6);
    expect(a.replace(/[^0-9]/g, '').length).toBeGreaterThanOrEqual(3);
    expect(a.replace(/[^a-z]/g, '').length).toBeGreaterThanOrEqual(3);
    for (let i = 0; i < 20; i++) {
      const b = ev('RandomString(10,2,2,2,1,"?,")') as string;
      expect(b).toHaveLength(10);
      expect(b.replace(/[^0-9]/g, '').length).toBeGreaterThanOrEqual(2);
      expect(b.replace(/[A-Za-z0-9]/g, '').length).toBeGreaterThanOrEqual(2);
      expect(b.replace(/[^A-Z]/g, '').length).toBeGreaterThanOrEqual(2);
      expect(b.replace(/[^a-z]/g, '').length).toBeGreaterThanOrEqual(1);
      expect(b).not.toMatch(/[?,]/);
    }
    expect(ev('RandomString(8,1,1,1,1)', {}, { random: seeded(7) })).toBe(
      ev('RandomString(8,1,1,1,1)', {}, { random: seeded(7) }),
    );
    expect(compileError('RandomString(300,1,1,1,1)').message).toMatch(/between 1 and 256/);
    expect(compileError('RandomString(4,2,2,2,1)').message).toMatch(
      /add up to 7, more than the length 4/,
    );
    expect(runtimeError('RandomString(4,1,0,0,0,"0123456789")').message).toMatch(
      /excludes them all/,
    );
  });

  it('Redact', () => {
    const c = compileExpression('Redact([userPrincipalName])');
    expect(c.redact).toBe(true);
    expect(c.evaluate({ userPrincipalName: 'a@x' })).toBe('a@x');
    expect(compileExpression('Redact("StringToBeRedacted")').evaluate({})).toBe(
      'StringToBeRedacted',
    );
    expect(compileExpression('Redact(RandomString(6,3,0,0,3))').evaluate({})).toHaveLength(6);
    expect(compileExpression('[userPrincipalName]').redact).toBe(false);
  });

  it('RemoveDuplicates', () => {
    expect(
      ev('RemoveDuplicates([proxyAddresses])', { proxyAddresses: ['a', 'b', 'a', 'c', 'b'] }),
    ).toEqual(['a', 'b', 'c']);
    expect(ev('RemoveDuplicates([proxyAddresses])', {})).toBeNull();
  });

  it('Replace: oldValue and replacementValue', () => {
    expect(
      ev('Replace([BusinessTitle],"Product Developer", , , "Software Engineer", , )', {
        BusinessTitle: 'Product Developer',
      }),
    ).toBe('Software Engineer');
    expect(ev('Replace([mail], "@contoso.com", , ,"", ,)', { mail: 'john.doe@contoso.com' })).toBe(
      'john.doe',
    );
    // Case-sensitive, every occurrence.
    expect(ev('Replace([x], "a", , , "o", , )', { x: 'banAna' })).toBe('bonAno');
  });

  it('Replace: oldValue and template', () => {
    expect(
      ev('Replace([UserID],"<username>", , , , , "<username>@contoso.com")', { UserID: 'jsmith' }),
    ).toBe('jsmith@contoso.com');
  });

  it('Replace: regexPattern and replacementValue', () => {
    expect(
      ev(
        'Replace([telephoneNumber], , "\\\\+(?<isdCode>\\\\d* )(?<phoneNumber>\\\\d{10})", , "${phoneNumber}", , )',
        {
          telephoneNumber: '+91 9998887777',
        },
      ),
    ).toBe('9998887777');
    expect(
      ev('Replace([mobile], , "[()\\\\s-]+", , "", , )', { mobile: '+1 (999) 888-7777' }),
    ).toBe('+19998887777');
    expect(
      ev('Replace([mailNickname], , "[a-zA-Z_]*", , "", , )', { mailNickname: 'john_doe72' }),
    ).toBe('72');
  });

  it('Replace: regexPattern, regexGroupName and replacementValue', () => {
    expect(
      ev('Replace([AddressLineData], ,"(?<streetNumber>^\\\\d*)","streetNumber", "888", , )', {
        AddressLineData: '545 Tremont Street',
      }),
    ).toBe('888 Tremont Street');
    expect(
      ev('Replace([userPrincipalName], , "(?<Suffix>@(.)*)", "Suffix", "", , )', {
        userPrincipalName: 'jsmith@contoso.com',
      }),
    ).toBe('jsmith');
  });

  it("Replace: .NET's (?'name'…) groups", () => {
    expect(
      ev('Replace([upn], , "(?\'Suffix\'@.*)", "Suffix", "", , )', { upn: 'jsmith@contoso.com' }),
    ).toBe('jsmith');
  });

  it('Replace: regexPattern, regexGroupName and replacementAttributeName', () => {
    const src =
      'Replace([telephoneNumber], , "\\\\+(?<isdCode>\\\\d* )(?<phoneNumber>\\\\d{10})", "phoneNumber" , , [mobile], )';
    expect(ev(src, { telephoneNumber: '', mobile: '+91 8887779999' })).toBe('8887779999');
    expect(ev(src, { telephoneNumber: '+1 5550001111', mobile: '+91 8887779999' })).toBe(
      '+1 5550001111',
    );
    expect(ev(src, { mobile: 'none' })).toBeNull();
  });

  it('Replace: the generated ID example', () => {
    const src = 'Join("", 1000, Replace(ConvertToUTF8Hex([objectId]), , "[a-zA-Z_]*", , "", , ))';
    const id = '00aa00aa-bb11-cc22-dd33-44ee44ee44ee';
    const hexDigits = Buffer.from(id).toString('hex').toUpperCase().replace(/[A-Z]/g, '');
    expect(ev(src, { objectId: id })).toBe(`1000${hexDigits}`);
  });

  it('Replace: a group name the pattern lacks, and a missing pattern and oldValue, are compile errors', () => {
    expect(compileError('Replace([a], , "(?<x>a)", "y", "b", , )').message).toMatch(
      /no group named 'y'/,
    );
    expect(compileError('Replace([a], , , , "b", , )').message).toMatch(/needs an oldValue/);
    expect(compileError('Replace([a], , "(", , "b", , )').message).toMatch(
      /invalid regular expression/,
    );
  });

  it('SelectUniqueValue', async () => {
    const src = `SelectUniqueValue(
        Join("@", NormalizeDiacritics(StripSpaces(Join(".",  [PreferredFirstName], [PreferredLastName]))), "contoso.com"),
        Join("@", NormalizeDiacritics(StripSpaces(Join(".",  Mid([PreferredFirstName], 1, 1), [PreferredLastName]))), "contoso.com"),
        Join("@", NormalizeDiacritics(StripSpaces(Join(".",  Mid([PreferredFirstName], 1, 2), [PreferredLastName]))), "contoso.com")
    )`;
    const c = compileExpression(src);
    expect(c.selectsUniqueValue).toBe(true);
    const obj = { PreferredFirstName: 'John', PreferredLastName: 'Smith' };
    const taken = new Set<string>();
    const existsInTarget = (v: string) => taken.has(v);
    expect(c.evaluate(obj, { existsInTarget })).toBe('John.Smith@contoso.com');
    taken.add('John.Smith@contoso.com');
    expect(c.evaluate(obj, { existsInTarget })).toBe('J.Smith@contoso.com');
    taken.add('J.Smith@contoso.com');
    expect(c.evaluate(obj, { existsInTarget })).toBe('Jo.Smith@contoso.com');
    expect(await c.evaluateAsync(obj, { existsInTarget: async (v) => taken.has(v) })).toBe(
      'Jo.Smith@contoso.com',
    );
    taken.add('Jo.Smith@contoso.com');
    const err = runtimeError(src, obj, { existsInTarget });
    expect(err.code).toBe('unique');
    expect(err.message).toMatch(/all 3 candidate values already exist/);
    await expect(
      c.evaluateAsync(obj, { existsInTarget: async (v) => taken.has(v) }),
    ).rejects.toThrow(/already exist/);
    // Without a target check, the first candidate.
    expect(c.evaluate(obj)).toBe('John.Smith@contoso.com');
    // The methods work detached from the compiled object.
    const { evaluate, evaluateAsync } = compileExpression('Append([a], "x")');
    expect(evaluate({ a: 'a' })).toBe('ax');
    expect(await evaluateAsync({ a: 'b' })).toBe('bx');
    expect(compileError('Append(SelectUniqueValue("a", "b"), "x")').message).toMatch(
      /cannot be nested/,
    );
    expect(compileError('SelectUniqueValue("a")').message).toMatch(/at least 2 arguments/);
  });

  it('AppRoleAssignmentsComplex and SingleAppRoleAssignment', () => {
    const obj = {
      appRoleAssignments: [
        { id: 'r1', value: 'Admin', displayName: 'Administrator' },
        { id: 'r2', displayName: 'Reader' },
      ],
    };
    expect(ev('AppRoleAssignmentsComplex([appRoleAssignments])', obj)).toEqual([
      {
        primary: false,
        type: 'WindowsAzureActiveDirectoryRole',
        display: 'Administrator',
        value: 'Admin',
      },
      {
        primary: false,
        type: 'WindowsAzureActiveDirectoryRole',
        display: 'Reader',
        value: 'Reader',
      },
    ]);
    expect(ev('SingleAppRoleAssignment([appRoleAssignments])', obj)).toBe('Admin');
    expect(
      ev('SingleAppRoleAssignment([appRoleAssignments])', { appRoleAssignments: ['Admin'] }),
    ).toBe('Admin');
    expect(ev('SingleAppRoleAssignment([appRoleAssignments])', {})).toBeNull();
    expect(ev('AppRoleAssignmentsComplex([appRoleAssignments])', {})).toBeNull();
  });

  it('Split', () => {
    expect(
      ev('Split([extensionAttribute5], ",")', {
        extensionAttribute5: 'PermissionSetOne, PermissionSetTwo',
      }),
    ).toEqual(['PermissionSetOne', 'PermissionSetTwo']);
    expect(ev('Item(Split("a;b;c", ";"), 2)')).toBe('b');
    expect(ev('Count(Split("a;b;c", ";"))')).toBe(3);
  });

  it('StripSpaces', () => {
    expect(ev('StripSpaces(" John  Doe ")')).toBe('JohnDoe');
  });

  it('Switch', () => {
    const src =
      'Switch([state], "Australia/Sydney", "NSW", "Australia/Sydney","QLD", "Australia/Brisbane", "SA", "Australia/Adelaide")';
    expect(ev(src, { state: 'QLD' })).toBe('Australia/Brisbane');
    expect(ev(src, { state: 'WA' })).toBe('Australia/Sydney');
    expect(ev(src, { state: 'qld' })).toBe('Australia/Sydney'); // case-sensitive
    expect(
      ev('Switch(ToLower([statusFlag]), "0", "true", "1", "false", "0")', { statusFlag: 'TRUE' }),
    ).toBe('1');
    expect(ev('Switch([statusFlag], "Default Value", "true", "1", "", "0")', {})).toBe('0');
    expect(
      ev('Switch([statusFlag], "Default Value", "true", "1", "", "0")', { statusFlag: '' }),
    ).toBe('0');
    expect(ev('Switch([country],[country],"","Other")', {})).toBe('Other');
    expect(ev('Switch([country],[country],"","Other")', { country: 'NO' })).toBe('NO');
    // Entra's default mapping for active.
    const active = 'Switch([IsSoftDeleted], , "False", "True", "True", "False")';
    expect(ev(active, { IsSoftDeleted: false })).toBe('True');
    expect(ev(active, { IsSoftDeleted: true })).toBe('False');
    expect(ev(active, { IsSoftDeleted: 'False' })).toBe('True');
    expect(ev(active, {})).toBeNull();
    expect(compileError('Switch([a], "d", "k")').message).toMatch(/at least 4 arguments/);
    expect(compileError('Switch([a], "d", "k", "v", "k2")').message).toMatch(
      /even number of arguments, but got 5/,
    );
  });

  it('ToLower and ToUpper', () => {
    expect(
      ev(
        'ToLower(Join("@", NormalizeDiacritics(StripSpaces(Join(".",  [PreferredFirstName], [PreferredLastName]))), "contoso.com"))',
        {
          PreferredFirstName: 'John',
          PreferredLastName: 'Smith',
        },
      ),
    ).toBe('john.smith@contoso.com');
    expect(ev('ToUpper("istanbul")')).toBe('ISTANBUL');
    expect(ev('ToUpper("istanbul", "tr-TR")')).toBe('İSTANBUL');
    expect(ev('ToLower("TITLE", "tr-TR")')).toBe('tıtle');
    expect(compileError('ToLower("x", "not a culture!")').message).toMatch(/not a culture name/);
  });

  it('Word', () => {
    expect(ev('Word("The quick brown fox",3," ")')).toBe('brown');
    expect(ev('Word("This,string!has&many separators",3,",!&#")')).toBe('has');
    expect(ev('Word("a  b",2," ")')).toBe('b');
    expect(ev('Word("a b",3," ")')).toBe('');
    expect(ev('Word("a b",0," ")')).toBe('');
    expect(ev('Word([x],1," ")', {})).toBe('');
  });

  it('strips a known domain', () => {
    expect(ev('Replace([mail], "@contoso.com", , ,"", ,)', { mail: 'john.doe@contoso.com' })).toBe(
      'john.doe',
    );
  });
});

describe('syntax', () => {
  it('reads attributes, strings with escapes, numbers, hexadecimal and nesting', () => {
    expect(ev('"Company name: \\"Contoso\\""')).toBe('Company name: "Contoso"');
    expect(ev('"back\\\\slash"')).toBe('back\\slash');
    expect(ev('[givenName]', { givenName: 'Ann' })).toBe('Ann');
    expect(ev('[ givenName ]', { givenName: 'Ann' })).toBe('Ann');
    expect(ev('[GivenName]', { givenName: 'Ann' })).toBe('Ann'); // case-insensitive fallback
    expect(ev('42')).toBe(42);
    expect(ev('-1.5')).toBe(-1.5);
    expect(ev('&HFF')).toBe(255);
    expect(ev('ToUpper(Left(Append([a], "bc"), 2))', { a: 'a' })).toBe('AB');
    expect(ev('(IIF(([a] = "x"), "y", "z"))', { a: 'x' })).toBe('y');
    expect(ev('True')).toBe(true);
  });

  it('reports what an expression references', () => {
    const c = compileExpression('Join(" ", [givenName], [surname], [givenName], Now())');
    expect(c.attributes).toEqual(['givenName', 'surname']);
    expect(c.functions).toEqual(['Join', 'Now']);
    expect(c.deterministic).toBe(false);
    expect(c.source).toBe('Join(" ", [givenName], [surname], [givenName], Now())');
  });

  it('points at the line and column of syntax errors', () => {
    let e = compileError('Append([a], "x"');
    expect(e.code).toBe('syntax');
    expect(e.message).toMatch(/Append\( opened at column 7 is not closed/);
    expect([e.line, e.column, e.offset]).toEqual([1, 16, 15]);

    e = compileError('Join(" ",\n  [a],\n  [b" )');
    expect(e.message).toMatch(/Attribute reference is not closed/);
    expect([e.line, e.column]).toEqual([3, 3]);

    e = compileError('Append([a], "x)');
    expect(e.message).toMatch(/String is not closed/);
    expect(e.column).toBe(13);

    e = compileError('Append([a] "x")');
    expect(e.message).toMatch(/Expected ',' or '\)' in Append\(…\) but found a string/);
    expect(e.column).toBe(12);

    e = compileError('Left("abc", 2))');
    expect(e.message).toMatch(/Unexpected '\)' after the end/);
    expect(e.column).toBe(15);

    expect(compileError('').message).toMatch(/Expression is empty/);
    expect(compileError('[]').message).toMatch(/Empty attribute reference/);
    expect(compileError("Append([a], 'x')").message).toMatch(/single quotes/);
    expect(compileError('IIF([a] != "x", "1", "2")').message).toMatch(/Use '<>'/);
    expect(compileError('IIF([a] = "x" = "y", "1", "2")').message).toMatch(/cannot be chained/);
    expect(compileError('Append([a], #)').message).toMatch(/Unexpected character '#'/);
    expect(compileError('-.').message).toMatch(/Unexpected character '-'/);
    expect(ev('-.5')).toBe(-0.5);
    expect(compileError('"a", "b"').message).toMatch(/Unexpected ',' at the top level/);
    expect(compileError('x'.repeat(10_001)).message).toMatch(/limit is 10000/);
    expect(compileError('Left('.repeat(150) + '"a"' + ', 1)'.repeat(150)).message).toMatch(
      /nested more than 100/,
    );
  });

  it('checks function names and arity at compile time', () => {
    let e = compileError('Apend([a], "x")');
    expect(e.code).toBe('check');
    expect(e.message).toMatch(/Unknown function 'Apend'. Did you mean Append\?/);
    e = compileError('append([a], "x")');
    expect(e.message).toMatch(/case-sensitive: did you mean Append\?/);
    e = compileError('Join(" ", Append([a]))');
    expect(e.message).toMatch(/Append takes 2 arguments \(source, suffix\) but got 1/);
    expect(e.column).toBe(11);
    expect(compileError('Now(1)').message).toMatch(/Now takes 0 arguments/);
    expect(compileError('Mid("a", 1)').message).toMatch(/Mid takes 3 arguments/);
    expect(compileError('InStr("a")').message).toMatch(/InStr takes 2 to 4 arguments/);
    expect(compileError('Join(",", foo)').message).toMatch(
      /Unknown name 'foo': attributes go in brackets/,
    );
    expect(compileError('Append(, "x")').message).toMatch(
      /Argument 1 of Append \(source\) is empty/,
    );
    expect(compileError('DateAdd("days", 1, Now())').message).toMatch(/interval must be one of/);
    expect(compileError('InStr("a", "b", 1, vbFoo)').message).toMatch(
      /compareType must be vbTextCompare or vbBinaryCompare, not vbFoo/,
    );
  });

  it('reports runtime errors with the position of the call', () => {
    let e = runtimeError('Join(" ", CDate([d]))', { d: 'not a date' });
    expect(e.code).toBe('runtime');
    expect(e.message).toMatch(/CDate cannot read "not a date" as a date/);
    expect(e.column).toBe(17);
    e = runtimeError('Append([proxyAddresses], "x")', { proxyAddresses: ['a', 'b'] });
    expect(e.message).toMatch(/Append expects a single value but got 2 values/);
    e = runtimeError('Left("abc", [n])', { n: 'two' });
    expect(e.message).toMatch(/Left expects a number/);
    e = runtimeError('CBool("maybe")');
    expect(e.message).toMatch(/CBool expects True, False or a number/);
  });
});

describe('values', () => {
  it('returns dates as Entra text, several values as a list, and null for missing attributes', () => {
    expect(ev('[hired]', { hired: new Date('2024-01-02T03:04:05Z') })).toBe('1/2/2024 3:04:05 AM');
    expect(ev('[proxyAddresses]', { proxyAddresses: ['a', 2] })).toEqual(['a', '2']);
    expect(ev('[proxyAddresses]', { proxyAddresses: [] })).toBeNull();
    expect(ev('[missing]', {})).toBeNull();
    expect(ev('[n]', { n: 3 })).toBe(3);
  });

  it('treats null sources as documented', () => {
    expect(ev('Append([a], "x")', {})).toBeNull();
    expect(ev('ToLower([a])', {})).toBeNull();
    expect(ev('Mid([a], 1, 2)', {})).toBeNull();
    expect(ev('Join(" ", [a], [b])', {})).toBe('');
  });
});

describe('regular expression safety', () => {
  it('runs catastrophic patterns in linear time or refuses them', () => {
    // Linear-capable: runs, and quickly, on a hostile input.
    const c = compileExpression('Replace([x], , "^(a+)+$", , "y", , )');
    expect(c.evaluate({ x: `${'a'.repeat(5000)}!` })).toBe(`${'a'.repeat(5000)}!`);
    // A backreference needs the backtracking engine: the nested shape is refused at compile time.
    expect(compileError('Replace([x], , "^((a)\\\\2+)+$", , "y", , )').message).toMatch(
      /exponential time/,
    );
    // Group replacement needs match positions (backtracking engine): nested shapes are refused.
    expect(compileError('Replace([x], , "(?<g>(a+)+)$", "g", "y", , )').message).toMatch(
      /exponential time/,
    );
  });

  it('refuses a group repeated a fixed number of times when it holds a repetition', () => {
    expect(compileError('Replace([x], , "(?<g>(a+){3})$", "g", "y", , )').message).toMatch(
      /exponential time/,
    );
  });

  it('stops a backtracking pattern that runs too long', () => {
    const e = runtimeError(
      'Replace([x], , "(?i)(?<g>\\\\d*\\\\d*\\\\d*\\\\d*\\\\d*\\\\d*x)", "g", "y", , )',
      {
        x: '1'.repeat(5000),
      },
    );
    expect(e.message).toMatch(/took more than 100 ms/);
  });

  it('caps the input length for backtracking patterns', () => {
    const e = runtimeError('Replace([x], , "(?<g>a+)b", "g", "b", , )', { x: 'a'.repeat(10_001) });
    expect(e.message).toMatch(/longer than 10000 characters/);
  });

  it('refuses a pattern computed at run time when it is unsafe', () => {
    const e = runtimeError('Replace([x], , [p], "g", "b", , )', { x: 'aaa', p: '(?<g>(a|aa)+)$' });
    expect(e.message).toMatch(/exponential time/);
  });
});

describe('dates', () => {
  it('reads the documented date texts and refuses impossible dates', () => {
    expect(parseDate('2020-03-16-07:00')?.toISOString()).toBe('2020-03-16T07:00:00.000Z');
    expect(parseDate('2009-06-15T01:45:30.5-07:00')?.toISOString()).toBe(
      '2009-06-15T08:45:30.500Z',
    );
    expect(parseDate('2024-01-02 03:04:05Z')?.toISOString()).toBe('2024-01-02T03:04:05.000Z');
    expect(parseDate('2024-01-02T03:04+0130')?.toISOString()).toBe('2024-01-02T01:34:00.000Z');
    expect(parseDate('8/25/2021 5:41:18 PM')?.toISOString()).toBe('2021-08-25T17:41:18.000Z');
    expect(parseDate('8/25/2021 12:00:00 AM')?.toISOString()).toBe('2021-08-25T00:00:00.000Z');
    expect(parseDate('8/25/2021')?.toISOString()).toBe('2021-08-25T00:00:00.000Z');
    expect(parseDate('20150123105347.1Z')?.toISOString()).toBe('2015-01-23T10:53:47.100Z');
    expect(parseDate('2023-02-29')).toBeNull();
    expect(parseDate('2023-13-01')).toBeNull();
    expect(parseDate('13:00 yesterday')).toBeNull();
    expect(parseDate('8/25/2021 13:00:00 PM')).toBeNull();
  });

  it('formats and parses with .NET custom formats', () => {
    const f = (d: string, inFmt: string, outFmt: string) =>
      ev(`FormatDateTime([d], , "${inFmt}", "${outFmt}")`, { d });
    expect(f('2024-07-04 18:05:09', 'yyyy-MM-dd HH:mm:ss', 'M/d/yy h:mm tt')).toBe(
      '7/4/24 6:05 PM',
    );
    expect(f('04 Jul 2024', 'dd MMM yyyy', 'yyyyMMdd')).toBe('20240704');
    expect(f('July 4, 2024', 'MMMM d, yyyy', 'ddd dd/MM/yyyy')).toBe('Thu 04/07/2024');
    expect(f('2024-07-04T10:00:00+02:00', 'yyyy-MM-ddTHH:mm:sszzz', 'HH:mm zzz')).toBe(
      '08:00 +00:00',
    );
    expect(f('2024-07-04 10:00:00.1234', 'yyyy-MM-dd HH:mm:ss.ffff', 'ss.fff FFF')).toBe(
      '00.123 123',
    );
    expect(f('  2024-07-04  ', 'yyyy-MM-dd', "'day' d")).toBe('day 4');
  });
});

describe('the static check for catastrophic regular expressions', () => {
  it('refuses the exponential shapes and accepts ordinary patterns', () => {
    for (const p of [
      '(a+)+$',
      '(\\w+\\s?)*',
      '(a|aa)+',
      '(x(a)\\2)*',
      '((ab)*c)+',
      '(a+){2,5}',
      '(.*,)+x',
    ]) {
      expect(catastrophicShape(p), p).not.toBeNull();
    }
    for (const p of [
      '([1-9][0-9])',
      '.*\\@domain.com',
      '(?<Suffix>@(.)*)',
      '(ab){2,5}',
      '[(+]+',
      '(a+)?b',
      '(?:foo)+',
      '\\+(?<isdCode>\\d* )(?<phoneNumber>\\d{10})',
      '[()\\s-]+',
    ]) {
      expect(catastrophicShape(p), p).toBeNull();
    }
  });
});
