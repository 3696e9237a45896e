//! The API's memory of used nonces, so a captured request cannot be replayed — not even after
//! `stack serve` restarts.
//!
//! `.stack/api/nonces` holds one `<unix-seconds> <nonce>` line per accepted request. A nonce is
//! claimed by appending its line and fsyncing it *before* the request is acted on, under an
//! exclusive lock on `nonces.lock` beside it (two servers of one instance never both accept one
//! nonce; the lock is not on the data file itself because compaction replaces that file). Entries
//! older than twice the clock window are useless (a request that old fails the window anyway) and
//! are dropped when the file is compacted on start and every `COMPACT_EVERY` claims. A line that
//! does not parse (a torn write) is ignored.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::sign::WINDOW_SECS;

const KEEP_SECS: i64 = 2 * WINDOW_SECS;
const COMPACT_EVERY: usize = 4096;

#[derive(Debug)]
pub struct Nonces {
    path: PathBuf,
    seen: HashMap<String, i64>,
    claims_since_compaction: usize,
}

impl Nonces {
    /// Load the remembered nonces of the last two windows and compact the file.
    pub fn open(path: &Path, now: i64) -> io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut nonces = Self {
            path: path.to_owned(),
            seen: HashMap::new(),
            claims_since_compaction: 0,
        };
        let lock = nonces.lock()?;
        nonces.reload(now)?;
        nonces.compact(now)?;
        drop(lock);
        Ok(nonces)
    }

    /// The exclusive lock on `nonces.lock`, held until the returned file is dropped.
    fn lock(&self) -> io::Result<File> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(self.path.with_extension("lock"))?;
        file.lock()?;
        Ok(file)
    }

    fn data(&self) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&self.path)
    }

    fn reload(&mut self, now: i64) -> io::Result<()> {
        let mut text = String::new();
        self.data()?.read_to_string(&mut text)?;
        self.seen = parse(&text, now);
        Ok(())
    }

    /// Accept `nonce` (of a request stamped `timestamp`) once: false when it was seen before.
    pub fn claim(&mut self, nonce: &str, timestamp: i64, now: i64) -> io::Result<bool> {
        let lock = self.lock()?;
        // Another server of this instance may have claimed nonces since we last looked.
        self.reload(now)?;
        if self.seen.contains_key(nonce) {
            return Ok(false);
        }
        let mut file = self.data()?;
        file.write_all(format!("{timestamp} {nonce}\n").as_bytes())?;
        file.sync_data()?;
        self.seen.insert(nonce.to_string(), timestamp);
        self.claims_since_compaction += 1;
        if self.claims_since_compaction >= COMPACT_EVERY {
            self.compact(now)?;
        }
        drop(lock);
        Ok(true)
    }

    /// Rewrite the file with only the entries still worth remembering (atomically). The caller
    /// holds the lock.
    fn compact(&mut self, now: i64) -> io::Result<()> {
        self.seen.retain(|_, ts| now - *ts <= KEEP_SECS);
        let mut text = String::new();
        for (nonce, ts) in &self.seen {
            text.push_str(&format!("{ts} {nonce}\n"));
        }
        crate::atomic::write_keeping_mode(&self.path, text.as_bytes())?;
        self.claims_since_compaction = 0;
        Ok(())
    }
}

fn parse(text: &str, now: i64) -> HashMap<String, i64> {
    text.lines()
        .filter_map(|line| {
            let (ts, nonce) = line.split_once(' ')?;
            let ts: i64 = ts.parse().ok()?;
            (super::sign::valid_nonce(nonce) && now - ts <= KEEP_SECS)
                .then(|| (nonce.to_string(), ts))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const N1: &str = "nonce-number-0001";
    const N2: &str = "nonce-number-0002";

    #[test]
    fn a_nonce_is_accepted_once_also_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api/nonces");
        let mut nonces = Nonces::open(&path, 1000).unwrap();
        assert!(nonces.claim(N1, 1000, 1000).unwrap());
        assert!(!nonces.claim(N1, 1000, 1001).unwrap());
        drop(nonces);
        let mut again = Nonces::open(&path, 1010).unwrap();
        assert!(!again.claim(N1, 1000, 1010).unwrap());
        assert!(again.claim(N2, 1010, 1010).unwrap());
    }

    #[test]
    fn two_servers_of_one_instance_share_the_memory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nonces");
        let mut a = Nonces::open(&path, 1000).unwrap();
        let mut b = Nonces::open(&path, 1000).unwrap();
        assert!(a.claim(N1, 1000, 1000).unwrap());
        assert!(!b.claim(N1, 1000, 1000).unwrap());
    }

    #[test]
    fn old_entries_and_torn_lines_are_dropped_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nonces");
        std::fs::write(&path, format!("100 {N1}\n1000 {N2}\n10")).unwrap();
        let mut nonces = Nonces::open(&path, 1000).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("1000 {N2}\n")
        );
        assert!(nonces.claim(N1, 1000, 1000).unwrap());
        assert!(!nonces.claim(N2, 1000, 1000).unwrap());
    }
}
