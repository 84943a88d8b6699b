//! Regression: a power cut while `open` created a new database could leave a main file that
//! every later `open` refused. A small main file holding only zeros is now taken for a
//! creation that never completed, and created again.
//!
//! Creating a database writes page 0 (the header) into the new, empty file and then syncs it
//! (`open::load_or_create_main`). A crash before that sync completes may keep the file's name
//! (the directory entry) and any subset of the page's 512-byte sectors. If the first sector
//! is lost but a later one kept, the file is one page long with a zero first sector: open
//! says "not a folio database (bad magic)". If the first sector is kept and a later one
//! lost, page 0 fails its checksum and, with no WAL to replace it, open says "page 0 fails
//! its checksum". No commit was ever acknowledged, so the only right outcome is a new, empty
//! database (as for an empty file). Creating the header in a temporary file and renaming it
//! into place (or treating a one-page file whose header never became valid as empty) would
//! close it.

mod common;
#[path = "common/crash.rs"]
mod crash;

use crash::SimOpts;
use folio::storage::SimVfs;

#[test]
fn regression_crash_while_creating_a_database_leaves_an_openable_file() {
    let opts = SimOpts::default();
    // The steps of creating the database.
    let vfs = SimVfs::new();
    let db = opts.open(&vfs).unwrap();
    let steps = vfs.steps();
    drop(db);

    let mut refused = Vec::new();
    let mut images = 0;
    for step in 1..=steps {
        let vfs = SimVfs::new();
        vfs.crash_at(step);
        assert!(opts.open(&vfs).is_err(), "the crash at step {step} hits the open");
        for seed in 0..32 {
            images += 1;
            let image = vfs.crash_image(seed).unwrap();
            match opts.open(&image) {
                Ok(db) => {
                    let report = db.check().unwrap();
                    assert!(report.is_ok(), "step {step}, image {seed}: {report}");
                    assert_eq!(db.stats().unwrap().key_count, 0);
                }
                Err(e) => refused.push(format!("crash at step {step}, image seed {seed}: {e}")),
            }
        }
    }
    assert!(
        refused.is_empty(),
        "{} of {images} images of a crash during creation cannot be opened, e.g.:\n{}",
        refused.len(),
        refused.iter().take(4).cloned().collect::<Vec<_>>().join("\n")
    );
}
