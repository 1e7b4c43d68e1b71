import type { ColumnType, Generated } from 'kysely';

/**
 * Kysely's view of Roster's tables, identical on SQLite and PostgreSQL.
 *
 * Conventions, so both dialects read and write the same values:
 * - ids are lower-case text (UUIDs, or `acc_...`-style for accounts);
 * - timestamps are ISO-8601 UTC text with milliseconds (`new Date().toISOString()`),
 *   so they compare correctly as text on both databases;
 * - booleans are integers 0/1 (SQLite has no boolean; PostgreSQL uses smallint here);
 * - JSON documents are text holding JSON (parsed in the adapter);
 * - `*_lc` columns hold the JS `toLowerCase()` of a case-insensitive value, so
 *   uniqueness and equality lookups are index hits with Unicode-correct folding.
 * Every table except `accounts` carries `account_id`, and every unique key
 * starts with it (ARCHITECTURE convention 5).
 */
export interface AccountsTable {
  id: string;
  name: string;
  region: string;
  created_at: string;
  /** Last event sequence number issued (002). */
  event_seq: ColumnType<number, number | undefined, number>;
  /** Seat limit: active users allowed; null = unlimited (002). */
  seats: ColumnType<number | null, number | null | undefined, number | null>;
  /** JSON text of AccountSettings (team mapping) (002). */
  settings: ColumnType<string, string | undefined, string>;
  /** Users of the account, kept by triggers (071). */
  user_count: ColumnType<number, number | undefined, number>;
  /** User inserts and deletes so far, kept by triggers (071): list positions may have moved when it changes. */
  user_changes: ColumnType<number, number | undefined, number>;
}

export interface EventsTable {
  account_id: string;
  seq: number;
  /** e.g. user.created, team.member_added */
  type: string;
  resource_type: string;
  resource_id: string;
  occurred_at: string;
  /** JSON text: the event payload. */
  data: string;
}

export interface WebhookEndpointsTable {
  id: string;
  account_id: string;
  url: string;
  description: string | null;
  secret: string;
  active: ColumnType<number, number | undefined, number>;
  created_at: string;
  delivered_seq: ColumnType<number, number | undefined, number>;
  failures: ColumnType<number, number | undefined, number>;
  next_attempt_at: string | null;
  locked_until: string | null;
  last_error: string | null;
}

export interface WebhookAttemptsTable {
  id: Generated<number>;
  account_id: string;
  endpoint_id: string;
  first_seq: number;
  last_seq: number;
  at: string;
  status: number | null;
  error: string | null;
  duration_ms: number;
}

export interface AdminsTable {
  id: string;
  account_id: string;
  email: string;
  email_lc: string;
  password_hash: string;
  active: number;
  created_at: string;
}

export interface TokensTable {
  id: string;
  account_id: string;
  admin_id: string;
  name: string;
  /** 'scim' | 'api' */
  type: string;
  /** SHA-256 (hex) of the whole secret; the secret itself is never stored. */
  secret_hash: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface UsersTable {
  id: string;
  account_id: string;
  user_name: string;
  user_name_lc: string;
  external_id: string | null;
  display_name: string | null;
  /** display_name lower-cased (JS toLowerCase()), for case-insensitive search. */
  display_name_lc: string | null;
  active: number;
  /** enterprise manager.value; may name a user that does not exist (yet). */
  manager_id: string | null;
  created_at: string;
  updated_at: string;
  version: number;
  /** The resource as stored: canonical attribute names, no id/meta/groups/password. */
  data: string;
  /** scrypt hash of a SCIM `password`, never returned. */
  password_hash: string | null;
}

export interface UserEmailsTable {
  account_id: string;
  user_id: string;
  value_lc: string;
  type_lc: string | null;
  is_primary: number;
}

export interface GroupsTable {
  id: string;
  account_id: string;
  display_name: string;
  display_name_lc: string;
  external_id: string | null;
  created_at: string;
  updated_at: string;
  version: number;
  /** Extension attributes and anything else stored, without members. */
  data: string;
  /** 'scim' | 'department' | 'manager' (003). */
  origin: ColumnType<string, string | undefined, string>;
  origin_key: ColumnType<string | null, string | null | undefined, string | null>;
  base_name: ColumnType<string | null, string | null | undefined, string | null>;
  deactivated: ColumnType<number, number | undefined, number>;
}

export interface GroupMembersTable {
  account_id: string;
  group_id: string;
  member_id: string;
  /** 'User' | 'Group' */
  member_type: string;
  created_at: string;
  /** Who made the membership: 'scim' | 'department' | 'manager' (003). */
  source: ColumnType<string, string | undefined, string>;
}

export interface ScimLogTable {
  id: Generated<number>;
  account_id: string;
  at: string;
  token_id: string | null;
  method: string;
  path: string;
  status: number;
  resource_type: string | null;
  resource_id: string | null;
  duration_ms: number;
  /** JSON text: what the request changed, e.g. {"op":"patch","changed":["active"]}. */
  change: string | null;
  error: string | null;
  /** Who made the change: `scim` (null on rows from before 080) or `sso` (sign-in provisioning). */
  source: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface AdminSessionsTable {
  id: string;
  account_id: string;
  admin_id: string;
  /** SHA-256 (hex) of the session secret (005). */
  secret_hash: string;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
}

/** Console (cookie) sign-ins (060). */
export interface ConsoleLoginsTable {
  id: string;
  secret_hash: string;
  csrf_hash: string;
  email_lc: string;
  /** JSON array of admin ids. */
  admin_ids: string;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
}

/** Parts of a team's version counted apart from its row (076): see SqlDialect.teamVersionShards. */
export interface GroupVersionShardsTable {
  account_id: string;
  group_id: string;
  shard: number;
  n: number;
  updated_at: string;
}

export interface Database {
  accounts: AccountsTable;
  admins: AdminsTable;
  tokens: TokensTable;
  users: UsersTable;
  user_emails: UserEmailsTable;
  groups: GroupsTable;
  group_members: GroupMembersTable;
  group_version_shards: GroupVersionShardsTable;
  scim_log: ScimLogTable;
  events: EventsTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_attempts: WebhookAttemptsTable;
  admin_sessions: AdminSessionsTable;
  deployment_settings: DeploymentSettingsTable;
  console_logins: ConsoleLoginsTable;
  sso_providers: SsoProvidersTable;
  sso_flows: SsoFlowsTable;
  sso_identities: SsoIdentitiesTable;
  sso_sessions: SsoSessionsTable;
}

export interface SsoProvidersTable {
  account_id: string;
  issuer: string;
  client_id: string;
  /** `v1.<iv>.<tag>.<ciphertext>` (base64url), AES-256-GCM under ROSTER_SSO_KEY; null for a public client. */
  client_secret: string | null;
  /** JSON array of lower-case domains. */
  allowed_domains: string;
  /** JSON object: claim mapping. */
  claims: string;
  created_at: string;
  updated_at: string;
}

export interface SsoFlowsTable {
  id: string;
  account_id: string;
  browser_hash: string;
  nonce: string;
  code_verifier: string;
  return_to: string;
  created_at: string;
  expires_at: string;
}

export interface SsoIdentitiesTable {
  account_id: string;
  issuer: string;
  subject: string;
  user_id: string;
  provisioned: ColumnType<string, string | undefined, string>;
  created_at: string;
}

export interface SsoSessionsTable {
  id: string;
  account_id: string;
  user_id: string;
  secret_hash: string;
  created_at: string;
  expires_at: string;
}

/** Settings of the deployment as the server last started with them (040), e.g. its region origins. */
export interface DeploymentSettingsTable {
  key: string;
  /** JSON text */
  value: string;
  updated_at: string;
}

export type Timestamp = ColumnType<string, string, string>;
