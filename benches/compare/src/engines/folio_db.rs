//! folio, default options (`Synchronous::Full`).

use std::path::Path;

use folio::{CheckpointMode, Database, ReadTxn};

use super::{Engine, Kvs, Reader, Writer};

pub struct Folio {
    db: Database,
}

impl Folio {
    pub fn open(dir: &Path) -> Self {
        Folio { db: Database::open(dir.join("folio.db")).expect("open folio") }
    }
}

impl Engine for Folio {
    fn name(&self) -> &'static str {
        "folio"
    }

    fn load(&self, kvs: &Kvs) {
        self.commit_batches(kvs, kvs.len());
    }

    fn commit_batches(&self, kvs: &Kvs, batch: usize) {
        for chunk in kvs.chunks(batch) {
            let mut tx = self.db.begin_write().unwrap();
            for (k, v) in chunk {
                tx.put(k, v).unwrap();
            }
            tx.commit().unwrap();
        }
    }

    fn writer(&self) -> Box<dyn Writer + '_> {
        Box::new(FolioWriter(&self.db))
    }

    fn reader(&self) -> Box<dyn Reader + '_> {
        Box::new(FolioReader(self.db.begin_read().unwrap()))
    }

    fn remove(&self, keys: &[Vec<u8>]) {
        let mut tx = self.db.begin_write().unwrap();
        for k in keys {
            tx.delete(k).unwrap();
        }
        tx.commit().unwrap();
    }

    /// A checkpoint, and a vacuum so that freed pages are returned to the file system (the
    /// peers have no equivalent that runs without a full rewrite).
    fn settle(&self) {
        self.db.vacuum(0).unwrap();
        self.db.checkpoint(CheckpointMode::Truncate).unwrap();
    }
}

struct FolioWriter<'a>(&'a Database);

impl Writer for FolioWriter<'_> {
    fn insert(&mut self, key: &[u8], value: &[u8]) {
        self.0.put(key, value).unwrap();
    }
}

struct FolioReader<'a>(ReadTxn<'a>);

impl Reader for FolioReader<'_> {
    fn get(&mut self, key: &[u8]) -> bool {
        self.0.get(key).unwrap().is_some_and(|v| !v.is_empty())
    }

    fn scan(&mut self, start: &[u8], n: usize) -> usize {
        self.0.range(start..).unwrap().take(n).map(|r| r.unwrap().1.len().min(1)).sum()
    }
}
