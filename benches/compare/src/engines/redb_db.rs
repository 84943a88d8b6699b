//! redb, `Durability::Immediate` (its default).

use std::path::Path;

use redb::{Database, ReadOnlyTable, ReadableDatabase, TableDefinition};

use super::{Engine, Kvs, Reader, Writer};

const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("kv");

pub struct Redb {
    db: Database,
}

impl Redb {
    pub fn open(dir: &Path) -> Self {
        let db = Database::create(dir.join("redb.db")).expect("open redb");
        let tx = db.begin_write().unwrap();
        tx.open_table(TABLE).unwrap();
        tx.commit().unwrap();
        Redb { db }
    }
}

impl Engine for Redb {
    fn name(&self) -> &'static str {
        "redb"
    }

    fn load(&self, kvs: &Kvs) {
        self.commit_batches(kvs, kvs.len());
    }

    fn commit_batches(&self, kvs: &Kvs, batch: usize) {
        for chunk in kvs.chunks(batch) {
            let tx = self.db.begin_write().unwrap();
            {
                let mut t = tx.open_table(TABLE).unwrap();
                for (k, v) in chunk {
                    t.insert(&k[..], &v[..]).unwrap();
                }
            }
            tx.commit().unwrap();
        }
    }

    fn writer(&self) -> Box<dyn Writer + '_> {
        Box::new(RedbWriter(&self.db))
    }

    fn reader(&self) -> Box<dyn Reader + '_> {
        let tx = self.db.begin_read().unwrap();
        Box::new(RedbReader(tx.open_table(TABLE).unwrap()))
    }

    fn remove(&self, keys: &[Vec<u8>]) {
        let tx = self.db.begin_write().unwrap();
        {
            let mut t = tx.open_table(TABLE).unwrap();
            for k in keys {
                t.remove(&k[..]).unwrap();
            }
        }
        tx.commit().unwrap();
    }

    fn settle(&self) {}
}

struct RedbWriter<'a>(&'a Database);

impl Writer for RedbWriter<'_> {
    fn insert(&mut self, key: &[u8], value: &[u8]) {
        let tx = self.0.begin_write().unwrap();
        tx.open_table(TABLE).unwrap().insert(key, value).unwrap();
        tx.commit().unwrap();
    }
}

struct RedbReader(ReadOnlyTable<&'static [u8], &'static [u8]>);

impl Reader for RedbReader {
    fn get(&mut self, key: &[u8]) -> bool {
        self.0.get(key).unwrap().is_some_and(|v| !v.value().is_empty())
    }

    fn scan(&mut self, start: &[u8], n: usize) -> usize {
        self.0.range(start..).unwrap().take(n).map(|r| r.unwrap().1.value().len().min(1)).sum()
    }
}
