/** Per-account team mapping options. SCIM groups are always teams. */
export interface AccountSettings {
  /** A team per distinct enterprise `department`, created and joined automatically. */
  readonly departmentTeams: boolean;
  /** A team per manager holding their direct reports; reports' teams are its sub-teams. */
  readonly managerTeams: boolean;
}

export const DEFAULT_SETTINGS: AccountSettings = { departmentTeams: false, managerTeams: false };

export function parseSettings(text: string | null | undefined): AccountSettings {
  if (text === null || text === undefined || text === '') return DEFAULT_SETTINGS;
  try {
    const value = JSON.parse(text) as Partial<AccountSettings>;
    return {
      departmentTeams: value.departmentTeams === true,
      managerTeams: value.managerTeams === true,
    };
  } catch {
    return DEFAULT_SETTINGS;
  }
}
