import { sql, type Kysely, type Migration } from 'kysely';
import { isPostgres } from './dialect.js';

/**
 * PostgreSQL: the member change identity providers send most (a PATCH adding or removing
 * members of one SCIM team, without If-Match) as one autocommitted statement: one round
 * trip where the transaction took two (BEGIN with the reads and the change, then the
 * version shard and the events with COMMIT), and one wake-up of each process fewer, which
 * is what a light load's latency is made of (docs/benchmarks.md, "Why PostgreSQL's member
 * change still misses p99 < 20 ms at 1,000 req/min").
 *
 * `roster_member_patch(account, team, kind, ids, at, shard)` does what the transaction
 * does, with the same locks and statements: the account row FOR KEY SHARE (its settings
 * answered, for the caller to remember whether the account maps teams), the team FOR KEY
 * SHARE with its version (row and shards), then `roster_add_user_members` or
 * `roster_remove_members` (migration 095), and, when members changed, one version shard
 * counted and one event per member changed, in the request's order, with provisional
 * numbers (the sequencer numbers them after the commit, migration 074) and the data
 * WorkspaceRules writes (`{"teamId":…,"memberId":…,"memberType":…}`).
 *
 * It changes nothing and answers `fallback` where the request needs more than this:
 * the account or team is missing, the team is not a SCIM team of the account, or an id to
 * add is not a user of the account (a team, or unknown): the caller then makes the change
 * as before, which answers those cases as it always did. Otherwise one row per member
 * changed (`changed`), or one row (`unchanged`) when nothing changed; each row has the
 * team's version as read.
 */
export const memberPatch: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    if (!(await isPostgres(db))) return;
    await sql`
      CREATE OR REPLACE FUNCTION roster_member_patch(
        p_account text, p_group text, p_kind text, p_ids text[], p_at text, p_shard smallint
      ) RETURNS TABLE (
        outcome text, settings text, team_version bigint, member_id text, member_type text
      )
      LANGUAGE plpgsql VOLATILE AS $$
      #variable_conflict use_column
      DECLARE
        v_settings text;
        v_version bigint;
        v_users bigint;
        v_ids text[];
        v_types text[];
        i integer;
      BEGIN
        SELECT a.settings INTO v_settings FROM accounts a WHERE a.id = p_account FOR KEY SHARE;
        IF NOT FOUND THEN
          RETURN QUERY SELECT 'fallback'::text, NULL::text, NULL::bigint, NULL::text, NULL::text;
          RETURN;
        END IF;
        SELECT g.version + COALESCE(
            (SELECT sum(s.n) FROM group_version_shards s WHERE s.group_id = g.id), 0)
          INTO v_version
          FROM groups g
          WHERE g.account_id = p_account AND g.id = p_group AND g.origin = 'scim'
          FOR KEY SHARE;
        IF NOT FOUND THEN
          RETURN QUERY SELECT 'fallback'::text, v_settings, NULL::bigint, NULL::text, NULL::text;
          RETURN;
        END IF;
        IF p_kind = 'add' THEN
          SELECT count(*) FILTER (WHERE x.member_kind = 'User'),
                 array_agg(x.member_id ORDER BY array_position(p_ids, x.member_id))
                   FILTER (WHERE x.added)
            INTO v_users, v_ids
            FROM roster_add_user_members(p_account, p_ids, p_group, p_at) x;
          IF v_users <> cardinality(p_ids) THEN
            -- Not every id is a user of the account: roster_add_user_members inserted nothing.
            RETURN QUERY SELECT 'fallback'::text, v_settings, v_version, NULL::text, NULL::text;
            RETURN;
          END IF;
          v_types := array_fill('User'::text, ARRAY[COALESCE(cardinality(v_ids), 0)]);
        ELSIF p_kind = 'remove' THEN
          SELECT array_agg(x.member_id ORDER BY array_position(p_ids, x.member_id)),
                 array_agg(x.member_type ORDER BY array_position(p_ids, x.member_id))
            INTO v_ids, v_types
            FROM roster_remove_members(p_account, p_group, p_ids) x;
        ELSE
          RAISE EXCEPTION 'roster_member_patch: kind must be add or remove, not %', p_kind;
        END IF;
        IF COALESCE(cardinality(v_ids), 0) = 0 THEN
          RETURN QUERY SELECT 'unchanged'::text, v_settings, v_version, NULL::text, NULL::text;
          RETURN;
        END IF;
        INSERT INTO group_version_shards AS v (account_id, group_id, shard, n, updated_at)
          VALUES (p_account, p_group, p_shard, 1, p_at)
          ON CONFLICT (group_id, shard) DO UPDATE SET n = v.n + 1, updated_at = excluded.updated_at;
        -- One at a time: the provisional numbers follow the request's order.
        FOR i IN 1 .. cardinality(v_ids) LOOP
          INSERT INTO events (account_id, seq, type, resource_type, resource_id, occurred_at, data)
          VALUES (
            p_account, -nextval('events_pending_seq'),
            CASE WHEN p_kind = 'add' THEN 'team.member_added' ELSE 'team.member_removed' END,
            'team', p_group, p_at,
            '{"teamId":' || to_json(p_group)::text || ',"memberId":' || to_json(v_ids[i])::text
              || ',"memberType":' || to_json(v_types[i])::text || '}');
        END LOOP;
        RETURN QUERY SELECT 'changed'::text, v_settings, v_version, m.id, m.t
          FROM unnest(v_ids, v_types) WITH ORDINALITY AS m(id, t, n) ORDER BY m.n;
      END $$`.execute(db);
  },
  async down(db: Kysely<unknown>): Promise<void> {
    if (!(await isPostgres(db))) return;
    await sql`DROP FUNCTION IF EXISTS roster_member_patch(text, text, text, text[], text, smallint)`.execute(
      db,
    );
  },
};
