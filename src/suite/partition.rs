//! `drdrill run PATHS --partition K/N`: one slice of a suite, for a CI job matrix. Each file
//! lands in the slice its name hashes to (as nextest's `hash:K/N`), so the same file is in
//! the same slice on every machine and whatever files are added; the N slices together run
//! every drill once, and `drdrill summary` merges their evidence.
use crate::scenario::Loaded;
use std::str::FromStr;

/// Slice `k` (1-based) of `n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    pub k: u32,
    pub n: u32,
}

/// At most this many slices: a job matrix wider than that is a typo.
const MAX_SLICES: u32 = 1000;

impl FromStr for Partition {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let expected = || format!("expected K/N with 1 <= K <= N <= {MAX_SLICES} (e.g. 2/4), found `{s}`");
        let (k, n) = s.split_once('/').ok_or_else(expected)?;
        let (k, n) = (k.trim().parse::<u32>().map_err(|_| expected())?, n.trim().parse::<u32>().map_err(|_| expected())?);
        if k == 0 || n == 0 || k > n || n > MAX_SLICES {
            return Err(expected());
        }
        Ok(Partition { k, n })
    }
}

impl std::fmt::Display for Partition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

/// FNV-1a, 64 bits: fixed by its definition, unlike std's hasher, so that a slice holds
/// the same files whatever drdrill or Rust version computes it.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// The slice (1-based) a scenario file belongs to: by its file name, so that the folder
/// a CI job checks it out into does not matter.
pub fn slice_of(file_name: &str, n: u32) -> u32 {
    (fnv1a(file_name.as_bytes()) % u64::from(n)) as u32 + 1
}

impl Partition {
    /// The files of this slice, in the suite's order.
    pub fn select(self, plan: Vec<Loaded>) -> Vec<Loaded> {
        plan.into_iter().filter(|l| slice_of(&name_of(l), self.n) == self.k).collect()
    }
}

fn name_of(l: &Loaded) -> String {
    l.path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_else(|| l.path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k_of_n_is_read_and_anything_else_refused() {
        assert_eq!("2/4".parse::<Partition>(), Ok(Partition { k: 2, n: 4 }));
        assert_eq!("1/1".parse::<Partition>(), Ok(Partition { k: 1, n: 1 }));
        for bad in ["0/4", "5/4", "4", "a/b", "1/0", "2/1001", "count:1/2", "/", ""] {
            assert!(bad.parse::<Partition>().unwrap_err().contains("expected K/N"), "{bad}");
        }
    }

    /// Every file of the shipped scenarios lands in exactly one slice, the same one each
    /// time, and a file added to the suite moves no other.
    #[test]
    fn the_slices_cover_every_file_once_and_a_file_stays_in_its_slice() {
        let names: Vec<String> = (0..200).map(|i| format!("scenario-{i}.yaml")).collect();
        for n in [1, 2, 3, 4, 7] {
            let slices: Vec<u32> = names.iter().map(|f| slice_of(f, n)).collect();
            assert!(slices.iter().all(|s| (1..=n).contains(s)));
            for k in 1..=n {
                // 200 files over at most 7 slices: none is empty
                assert!(slices.contains(&k), "slice {k}/{n} is empty");
            }
            assert_eq!(slices, names.iter().map(|f| slice_of(f, n)).collect::<Vec<_>>());
        }
        // the hash is FNV-1a's: a published value, not whatever a hasher does today
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
