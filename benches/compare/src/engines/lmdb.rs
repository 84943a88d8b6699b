//! LMDB through heed: default (synchronous) commits, `MDB_NORDAHEAD`.

use std::ops::Bound;
use std::path::Path;

use heed::types::Bytes;
use heed::{Database, Env, EnvFlags, EnvOpenOptions, RoTxn};

use super::{Engine, Kvs, Reader, Writer};

pub struct Lmdb {
    env: Env,
    db: Database<Bytes, Bytes>,
}

impl Lmdb {
    pub fn open(dir: &Path) -> Self {
        let path = dir.join("lmdb");
        std::fs::create_dir_all(&path).unwrap();
        let mut opts = EnvOpenOptions::new();
        opts.map_size(64 << 30).max_dbs(1);
        // SAFETY: the directory is private to this benchmark, and this process opens it once.
        let env = unsafe {
            opts.flags(EnvFlags::NO_READ_AHEAD);
            opts.open(&path).expect("open lmdb")
        };
        let mut wtxn = env.write_txn().unwrap();
        let db = env.create_database(&mut wtxn, None).unwrap();
        wtxn.commit().unwrap();
        Lmdb { env, db }
    }
}

impl Engine for Lmdb {
    fn name(&self) -> &'static str {
        "lmdb"
    }

    fn load(&self, kvs: &Kvs) {
        self.commit_batches(kvs, kvs.len());
    }

    fn commit_batches(&self, kvs: &Kvs, batch: usize) {
        for chunk in kvs.chunks(batch) {
            let mut w = self.env.write_txn().unwrap();
            for (k, v) in chunk {
                self.db.put(&mut w, k, v).unwrap();
            }
            w.commit().unwrap();
        }
    }

    fn writer(&self) -> Box<dyn Writer + '_> {
        Box::new(LmdbWriter(self))
    }

    fn reader(&self) -> Box<dyn Reader + '_> {
        Box::new(LmdbReader { txn: self.env.read_txn().unwrap(), db: self.db })
    }

    fn remove(&self, keys: &[Vec<u8>]) {
        let mut w = self.env.write_txn().unwrap();
        for k in keys {
            self.db.delete(&mut w, k).unwrap();
        }
        w.commit().unwrap();
    }

    fn settle(&self) {}
}

struct LmdbWriter<'a>(&'a Lmdb);

impl Writer for LmdbWriter<'_> {
    fn insert(&mut self, key: &[u8], value: &[u8]) {
        let mut w = self.0.env.write_txn().unwrap();
        self.0.db.put(&mut w, key, value).unwrap();
        w.commit().unwrap();
    }
}

struct LmdbReader<'a> {
    txn: RoTxn<'a>,
    db: Database<Bytes, Bytes>,
}

impl Reader for LmdbReader<'_> {
    fn get(&mut self, key: &[u8]) -> bool {
        self.db.get(&self.txn, key).unwrap().is_some_and(|v| !v.is_empty())
    }

    fn scan(&mut self, start: &[u8], n: usize) -> usize {
        self.db
            .range(&self.txn, &(Bound::Included(start), Bound::Unbounded))
            .unwrap()
            .take(n)
            .map(|r| r.unwrap().1.len().min(1))
            .sum()
    }
}
