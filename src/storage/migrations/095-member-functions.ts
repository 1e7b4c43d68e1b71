import { sql, type Kysely, type Migration } from 'kysely';
import { isPostgres } from './dialect.js';

/**
 * PostgreSQL: a team's member add and remove as PL/pgSQL functions, so their statements'
 * plans are kept by the session and not made again on every call.
 *
 * A PATCH of one member change sends the change with the transaction's opening read in
 * one Query message (AccountStore.openGroupChange's `ahead`, pg-fold.ts), its values
 * inlined as literals: a statement sent that way is parsed and planned each time, and
 * planning the add's statement (five CTE parts) took 0.19 ms against 0.10 ms to run it,
 * as much as the round trip the message saved (docs/benchmarks.md, "A member change in
 * two round trips"). Called from a one-line statement, the plan is PL/pgSQL's, cached per
 * connection. Same statements, same locks, same results as before.
 *
 * `roster_add_user_members(account, ids, team, at)`: the users of the account among `ids`
 * and the SCIM teams among them, each locked FOR KEY SHARE (a member deleted meanwhile is
 * waited for and then not found), and, only when every id is a user, their memberships
 * of `team` (a team of the account) inserted, those already there left alone; one row per
 * id found: (member_id, member_kind 'User' | 'Group', added).
 *
 * `roster_remove_members(account, team, ids)`: the memberships of `team` deleted among
 * `ids`; one row per membership deleted: (member_id, member_type).
 */
export const memberFunctions: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    if (!(await isPostgres(db))) return;
    await sql`
      CREATE OR REPLACE FUNCTION roster_add_user_members(
        p_account text, p_ids text[], p_group text, p_at text
      ) RETURNS TABLE (member_id text, member_kind text, added boolean)
      LANGUAGE plpgsql VOLATILE AS $$
      #variable_conflict use_column
      BEGIN
        RETURN QUERY
        WITH r AS (
          SELECT u.id, 'User'::text AS kind FROM (
            SELECT users.id FROM users
            WHERE users.account_id = p_account AND users.id = ANY(p_ids) FOR KEY SHARE
          ) u
          UNION ALL
          SELECT g.id, 'Group'::text AS kind FROM (
            SELECT groups.id FROM groups
            WHERE groups.account_id = p_account AND groups.id = ANY(p_ids)
              AND groups.origin = 'scim' FOR KEY SHARE
          ) g),
        i AS (
          INSERT INTO group_members (account_id, group_id, member_id, member_type, created_at)
          SELECT p_account, p_group, r.id, 'User', p_at FROM r
          WHERE r.kind = 'User'
            AND (SELECT count(*) FROM r WHERE r.kind = 'User') = cardinality(p_ids)
            AND EXISTS (SELECT 1 FROM groups WHERE groups.account_id = p_account AND groups.id = p_group)
          ON CONFLICT (group_id, member_id) DO NOTHING
          RETURNING group_members.member_id)
        SELECT r.id, r.kind, i.member_id IS NOT NULL FROM r LEFT JOIN i ON i.member_id = r.id;
      END $$`.execute(db);
    await sql`
      CREATE OR REPLACE FUNCTION roster_remove_members(p_account text, p_group text, p_ids text[])
      RETURNS TABLE (member_id text, member_type text)
      LANGUAGE plpgsql VOLATILE AS $$
      #variable_conflict use_column
      BEGIN
        RETURN QUERY
        WITH d AS (
          DELETE FROM group_members
          WHERE group_members.account_id = p_account AND group_members.group_id = p_group
            AND group_members.member_id = ANY(p_ids)
          RETURNING group_members.member_id, group_members.member_type)
        SELECT d.member_id, d.member_type FROM d;
      END $$`.execute(db);
  },
  async down(db: Kysely<unknown>): Promise<void> {
    if (!(await isPostgres(db))) return;
    await sql`DROP FUNCTION IF EXISTS roster_add_user_members(text, text[], text, text)`.execute(
      db,
    );
    await sql`DROP FUNCTION IF EXISTS roster_remove_members(text, text, text[])`.execute(db);
  },
};
