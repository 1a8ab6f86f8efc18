import type { Database } from 'better-sqlite3'
import { IndexSchemaVersionError } from './errors.js'

/** One step of the schema's history; applied in a transaction, in order. */
interface Migration {
  readonly version: number
  readonly sql: string
}

/**
 * The schema, as the list of migrations that build it. Never edit a published migration: append
 * a new one. `records_tags` repeats each record's `updated_at` and `key` so that "records tagged X,
 * newest first" walks one index range in order instead of sorting every tagged record.
 * `records_fts` is an external-content FTS5 table kept in step by the store itself (not by
 * triggers: with triggers, SQLite's writes to `records` ran about three times slower here).
 */
const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE records (
        rid INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        owner TEXT NOT NULL,
        subnet TEXT,
        name TEXT,
        description TEXT,
        category TEXT,
        status TEXT,
        content_hash TEXT,
        archived INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1)),
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        tags TEXT NOT NULL DEFAULT '[]',
        attributes TEXT
      ) STRICT;
      CREATE INDEX records_updated ON records (updated_at, key);
      CREATE INDEX records_created ON records (created_at, key);
      CREATE INDEX records_name ON records (ifnull(name, ''), key);
      CREATE INDEX records_status_updated ON records (status, updated_at, key);
      CREATE INDEX records_owner_updated ON records (owner, updated_at, key);
      CREATE INDEX records_kind_updated ON records (kind, updated_at, key);
      CREATE INDEX records_category_updated ON records (category, updated_at, key);
      CREATE INDEX records_subnet_updated ON records (subnet, updated_at, key);

      CREATE TABLE record_tags (
        tag TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        key TEXT NOT NULL,
        rid INTEGER NOT NULL,
        PRIMARY KEY (tag, updated_at, key)
      ) STRICT, WITHOUT ROWID;
      CREATE UNIQUE INDEX record_tags_rid ON record_tags (rid, tag);

      CREATE TABLE history (
        seq INTEGER PRIMARY KEY,
        key TEXT NOT NULL,
        change TEXT NOT NULL,
        recorded_at INTEGER NOT NULL,
        record TEXT NOT NULL
      ) STRICT;
      CREATE INDEX history_key ON history (key, seq);

      CREATE VIRTUAL TABLE records_fts USING fts5 (
        name, description,
        content = 'records', content_rowid = 'rid',
        tokenize = 'unicode61 remove_diacritics 2'
      );
    `
  }
]

/** The newest schema version this adapter writes. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0

/** Reads the schema version of an open database (0 for a fresh one). */
export function schemaVersion(db: Database): number {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT')
  const row = db.prepare('SELECT max(version) AS version FROM schema_version').get() as { version: number | null }
  return row.version ?? 0
}

/**
 * Brings a database up to {@link SCHEMA_VERSION}, one migration per transaction.
 *
 * @throws {@link IndexSchemaVersionError} when the database is newer than this adapter.
 */
export function migrate(db: Database, now: number): number {
  const current = schemaVersion(db)
  if (current > SCHEMA_VERSION) throw new IndexSchemaVersionError(current, SCHEMA_VERSION)
  const record = db.prepare('INSERT INTO schema_version (version, applied_at) VALUES (?, ?)')
  for (const migration of MIGRATIONS) {
    if (migration.version <= current) continue
    db.transaction(() => {
      db.exec(migration.sql)
      record.run(migration.version, now)
    })()
  }
  return SCHEMA_VERSION
}
