//! SQLite (bundled): a `WITHOUT ROWID` table, WAL mode, `synchronous=FULL`. Each thread has
//! its own connection, as SQLite requires.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use super::{Engine, Kvs, Reader, Writer};

pub struct Sqlite {
    path: PathBuf,
    conn: Mutex<Connection>,
}

fn connect(path: &Path) -> Connection {
    let c = Connection::open(path).expect("open sqlite");
    c.busy_timeout(Duration::from_secs(60)).unwrap();
    c.pragma_update(None, "journal_mode", "WAL").unwrap();
    c.pragma_update(None, "synchronous", "FULL").unwrap();
    c
}

impl Sqlite {
    pub fn open(dir: &Path) -> Self {
        let path = dir.join("sqlite.db");
        let conn = connect(&path);
        conn.execute(
            "CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID",
            [],
        )
        .unwrap();
        Sqlite { path, conn: Mutex::new(conn) }
    }
}

impl Engine for Sqlite {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn load(&self, kvs: &Kvs) {
        self.commit_batches(kvs, kvs.len());
    }

    fn commit_batches(&self, kvs: &Kvs, batch: usize) {
        let mut conn = self.conn.lock().unwrap();
        for chunk in kvs.chunks(batch) {
            let tx = conn.transaction().unwrap();
            {
                let mut st =
                    tx.prepare_cached("INSERT OR REPLACE INTO kv VALUES (?1, ?2)").unwrap();
                for (k, v) in chunk {
                    st.execute(params![k, v]).unwrap();
                }
            }
            tx.commit().unwrap();
        }
    }

    fn writer(&self) -> Box<dyn Writer + '_> {
        Box::new(SqliteWriter(connect(&self.path)))
    }

    fn reader(&self) -> Box<dyn Reader + '_> {
        let c = connect(&self.path);
        c.execute_batch("BEGIN").unwrap();
        Box::new(SqliteReader(c))
    }

    fn remove(&self, keys: &[Vec<u8>]) {
        let mut conn = self.conn.lock().unwrap();
        let tx = conn.transaction().unwrap();
        {
            let mut st = tx.prepare_cached("DELETE FROM kv WHERE k = ?1").unwrap();
            for k in keys {
                st.execute(params![k]).unwrap();
            }
        }
        tx.commit().unwrap();
    }

    fn settle(&self) {
        let conn = self.conn.lock().unwrap();
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
    }
}

struct SqliteWriter(Connection);

impl Writer for SqliteWriter {
    fn insert(&mut self, key: &[u8], value: &[u8]) {
        let mut st = self.0.prepare_cached("INSERT OR REPLACE INTO kv VALUES (?1, ?2)").unwrap();
        st.execute(params![key, value]).unwrap();
    }
}

struct SqliteReader(Connection);

impl Reader for SqliteReader {
    fn get(&mut self, key: &[u8]) -> bool {
        let mut st = self.0.prepare_cached("SELECT length(v) FROM kv WHERE k = ?1").unwrap();
        let len: Option<i64> = st.query_row(params![key], |r| r.get(0)).optional().unwrap();
        len.is_some_and(|l| l > 0)
    }

    fn scan(&mut self, start: &[u8], n: usize) -> usize {
        let mut st =
            self.0.prepare_cached("SELECT k, v FROM kv WHERE k >= ?1 ORDER BY k LIMIT ?2").unwrap();
        let rows = st
            .query_map(params![start, n as i64], |r| {
                let v: Vec<u8> = r.get(1)?;
                Ok(v.len().min(1))
            })
            .unwrap();
        rows.map(|r| r.unwrap()).sum()
    }
}
