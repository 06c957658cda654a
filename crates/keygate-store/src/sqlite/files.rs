//! The database's files on disk: one process at a time, readable by their owner only.
//!
//! The SQLite store serves one process: a second one on the same file would apply its own
//! configuration file over the first one's entities and the two would serve different key
//! sets. So a process holds an exclusive lock on `FILE.lock`, beside the database, for as
//! long as the store is open, and a second one is refused. The lock is `flock(2)`-style
//! (the operating system's advisory file lock): released when the process ends, however
//! it ends, and independent of the POSIX record locks SQLite takes on the database itself
//! (on its own file, so closing it never drops SQLite's locks).
//!
//! The database holds key hashes (SHA-256 of the keys, unsalted), so it and its `-wal` and
//! `-shm` files are created mode 0600: SQLite gives the `-wal` and `-shm` files the
//! database's mode, so creating the database file 0600 before SQLite opens it is enough.
//! A database left readable by others by an older version is tightened to 0600 at open,
//! with a warning.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use crate::{Result, StoreError};

/// The lock held while a database file is open; dropping it releases the file.
#[derive(Debug)]
pub struct FileLock {
    /// The open lock file; the lock lives as long as it does.
    _file: File,
}

/// The lock file of the database at `path`: `FILE.lock` beside it.
pub fn lock_path(path: &Path) -> PathBuf {
    sibling(path, ".lock")
}

/// Takes the database at `path` for this process: locks its lock file (refusing when
/// another process, or another store in this one, has it), then creates the database
/// file 0600 when absent, or tightens it and its `-wal`/`-shm` files to 0600 when others
/// may read them.
pub fn claim(path: &Path) -> Result<FileLock> {
    let location = path.display();
    let lock_path = lock_path(path);
    let file = create_private(&lock_path).map_err(|e| {
        StoreError::Unavailable(format!(
            "cannot open the database `{location}`: cannot create its lock file `{}`: {e}",
            lock_path.display()
        ))
    })?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            return Err(StoreError::Unavailable(format!(
                "the database `{location}` is in use by another keygate process (it holds \
                 `{}`): an SQLite store serves one process; stop the other one, or use \
                 PostgreSQL to run several gateways on one store",
                lock_path.display()
            )))
        }
        Err(TryLockError::Error(e)) => {
            return Err(StoreError::Unavailable(format!(
                "cannot lock the database `{location}` (`{}`): {e}",
                lock_path.display()
            )))
        }
    }
    create_private(path).map_err(|e| {
        StoreError::Unavailable(format!("cannot open the database `{location}`: {e}"))
    })?;
    for file in [
        path.to_path_buf(),
        sibling(path, "-wal"),
        sibling(path, "-shm"),
    ] {
        tighten(&file);
    }
    Ok(FileLock { _file: file })
}

/// `path` with `suffix` appended to its file name: SQLite's `-wal` and `-shm` files, the
/// lock file.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Opens `path` for writing, creating it mode 0600 when absent; never truncates.
fn create_private(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Takes the group's and others' permissions off `path` when it exists and has any,
/// with a warning; a failure to do so is a warning too (the store still opens).
#[cfg(unix)]
fn tighten(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(metadata) = std::fs::metadata(path) else {
        return;
    };
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o077 == 0 {
        return;
    }
    let tightened = mode & 0o700;
    match std::fs::set_permissions(path, std::fs::Permissions::from_mode(tightened)) {
        Ok(()) => tracing::warn!(
            file = %path.display(),
            "the database file was readable by others (mode {mode:04o}); it holds key hashes: \
             changed to {tightened:04o}"
        ),
        Err(error) => tracing::warn!(
            file = %path.display(),
            %error,
            "the database file is readable by others (mode {mode:04o}) and holds key hashes; \
             could not change that: make it 0600"
        ),
    }
}

/// File modes are Unix's; elsewhere nothing to do.
#[cfg(not(unix))]
fn tighten(_path: &Path) {}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A fresh directory under the system's temporary directory, removed on drop.
    struct Dir(PathBuf);

    impl Dir {
        fn new(name: &str) -> Dir {
            let dir = std::env::temp_dir().join(format!(
                "keygate-files-{name}-{}-{:?}",
                std::process::id(),
                std::time::SystemTime::now()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            Dir(dir)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_second_claim_is_refused_until_the_first_is_dropped() {
        let dir = Dir::new("claim");
        let path = dir.0.join("keygate.db");
        let first = claim(&path).unwrap();
        match claim(&path) {
            Err(StoreError::Unavailable(message)) => {
                assert!(message.contains("keygate.db` is in use"), "{message}");
                assert!(message.contains("keygate.db.lock"), "{message}");
                assert!(message.contains("PostgreSQL"), "{message}");
            }
            other => panic!("expected Unavailable, got {other:?}"),
        }
        drop(first);
        claim(&path).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn files_are_created_and_tightened_to_0600() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        let dir = Dir::new("modes");
        let path = dir.0.join("keygate.db");
        drop(claim(&path).unwrap());
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&lock_path(&path)), 0o600);

        let wal = sibling(&path, "-wal");
        std::fs::write(&wal, b"").unwrap();
        for file in [&path, &wal] {
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        drop(claim(&path).unwrap());
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&wal), 0o600);
    }
}
