//! The records read back from a node, kept as one bit per record: per writer, the set of
//! seqs present, in bitmaps of 4096 seqs (512 bytes) each. Ten million records take about
//! 1.2 MB, whatever order they arrive in; a stray huge seq costs one chunk, never a bitmap
//! up to it. A seq read twice is a duplicate row, counted, not stored twice.
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use std::collections::BTreeMap;

const CHUNK_BITS: u64 = 4096;
const WORDS: usize = (CHUNK_BITS / 64) as usize;

type Chunk = Box<[u64; WORDS]>;

/// One writer's seqs: a set, plus how many rows repeated a seq already present.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Seqs {
    chunks: BTreeMap<u64, Chunk>,
    distinct: u64,
    duplicates: u64,
}

fn split(seq: u64) -> (u64, usize, u64) {
    let (chunk, bit) = (seq / CHUNK_BITS, seq % CHUNK_BITS);
    (chunk, (bit / 64) as usize, 1u64 << (bit % 64))
}

impl Seqs {
    /// Adds `seq`; false (and one more duplicate) when it was present already.
    pub fn insert(&mut self, seq: u64) -> bool {
        let (c, w, m) = split(seq);
        let word = &mut self.chunks.entry(c).or_insert_with(|| Box::new([0; WORDS]))[w];
        if *word & m != 0 {
            self.duplicates += 1;
            return false;
        }
        *word |= m;
        self.distinct += 1;
        true
    }

    /// Removes `seq` (all its copies).
    pub fn remove(&mut self, seq: u64) {
        let (c, w, m) = split(seq);
        if let Some(word) = self.chunks.get_mut(&c).map(|ch| &mut ch[w])
            && *word & m != 0
        {
            *word &= !m;
            self.distinct -= 1;
        }
    }

    pub fn contains(&self, seq: u64) -> bool {
        let (c, w, m) = split(seq);
        self.chunks.get(&c).is_some_and(|ch| ch[w] & m != 0)
    }

    /// Distinct seqs present.
    pub fn len(&self) -> u64 {
        self.distinct
    }

    pub fn is_empty(&self) -> bool {
        self.distinct == 0
    }

    /// Rows that repeated a seq already present.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// The seqs present, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.chunks.iter().flat_map(|(&c, words)| {
            words.iter().enumerate().flat_map(move |(i, &word)| {
                let base = c * CHUNK_BITS + i as u64 * 64;
                (0..64u64).filter(move |b| word & (1 << b) != 0).map(move |b| base + b)
            })
        })
    }

    /// Seqs present here and not in `other`.
    pub fn difference_len(&self, other: &Seqs) -> u64 {
        let zero = [0u64; WORDS];
        let mut n = 0u64;
        for (c, words) in &self.chunks {
            let theirs = other.chunks.get(c).map_or(&zero, |b| &**b);
            n += words.iter().zip(theirs).map(|(a, b)| u64::from((a & !b).count_ones())).sum::<u64>();
        }
        n
    }

    /// Seqs present in `1..=max`.
    pub fn count_in(&self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let (last_chunk, last_word, last_mask) = split(max);
        let mut n = 0u64;
        for (&c, words) in self.chunks.range(..=last_chunk) {
            for (i, &word) in words.iter().enumerate() {
                let word = match (c == last_chunk).then(|| i.cmp(&last_word)) {
                    Some(std::cmp::Ordering::Greater) => 0,
                    // bits up to and including max's
                    Some(std::cmp::Ordering::Equal) => word & (last_mask | (last_mask - 1)),
                    _ => word,
                };
                n += u64::from(word.count_ones());
            }
        }
        n - u64::from(self.contains(0))
    }
}

impl Serialize for Seqs {
    /// The seqs ascending, streamed (never collected into a list first).
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.distinct as usize))?;
        for x in self.iter() {
            seq.serialize_element(&x)?;
        }
        seq.end()
    }
}

/// Every record found on a node, grouped by writer: `writer -> {seq}`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadBack {
    pub records: BTreeMap<u32, Seqs>,
    /// Parts of the data no node could serve at the end (a cluster's shard with no live
    /// node), in the engine's words: their records are not here, so they count as lost.
    pub unreadable: Vec<String>,
    /// The revision of each record found rewritten (`workload.changes`): (writer, seq) ->
    /// revision; a record absent here is at its first write (revision 0).
    pub revisions: BTreeMap<(u32, u64), u32>,
}

impl ReadBack {
    pub fn push(&mut self, writer: u32, seq: u64) {
        self.records.entry(writer).or_default().insert(seq);
    }

    /// Adds a record found at revision `rev`.
    pub fn push_at(&mut self, writer: u32, seq: u64, rev: u32) {
        self.push(writer, seq);
        if rev > 0 {
            self.revisions.insert((writer, seq), rev);
        }
    }

    /// The revision record (writer, seq) was found at (0: its first write, or absent).
    pub fn revision(&self, writer: u32, seq: u64) -> u32 {
        self.revisions.get(&(writer, seq)).copied().unwrap_or(0)
    }

    /// Adds every record of `other` (the shards of a cluster, read one by one).
    pub fn extend(&mut self, other: &ReadBack) {
        for (w, seqs) in &other.records {
            for seq in seqs.iter() {
                self.push(*w, seq);
            }
        }
        self.unreadable.extend(other.unreadable.iter().cloned());
        self.revisions.extend(other.revisions.iter().map(|(k, v)| (*k, *v)));
    }

    /// Removes a record (tests build read-backs that lack some writes).
    pub fn remove(&mut self, writer: u32, seq: u64) {
        if let Some(s) = self.records.get_mut(&writer) {
            s.remove(seq);
        }
    }

    pub fn contains(&self, writer: u32, seq: u64) -> bool {
        self.records.get(&writer).is_some_and(|s| s.contains(seq))
    }

    /// Rows read, duplicates included.
    pub fn len(&self) -> usize {
        self.records.values().map(|s| (s.len() + s.duplicates()) as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Serialize for ReadBack {
    /// `{"writer": [seq, …], …}`, seqs ascending.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.records.len()))?;
        for (w, seqs) in &self.records {
            map.serialize_entry(w, seqs)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_of_seqs_in_any_order_with_duplicates_and_strays() {
        let mut s = Seqs::default();
        for x in [5u64, 1, 4096, 4095, 5, 0, u64::MAX, 70_000, 1] {
            s.insert(x);
        }
        assert_eq!((s.len(), s.duplicates()), (7, 2));
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![0, 1, 5, 4095, 4096, 70_000, u64::MAX]);
        assert!(s.contains(4096) && !s.contains(4097) && s.contains(u64::MAX));
        // 1..=4096 holds 1, 5, 4095, 4096 (0 is outside)
        assert_eq!(s.count_in(4096), 4);
        assert_eq!(s.count_in(4095), 3);
        assert_eq!(s.count_in(0), 0);
        assert_eq!(s.count_in(u64::MAX), 6);
        let mut t = Seqs::default();
        for x in [1u64, 5, 6] {
            t.insert(x);
        }
        assert_eq!((s.difference_len(&t), t.difference_len(&s)), (5, 1));
        s.remove(5);
        s.remove(5);
        assert_eq!((s.len(), s.contains(5)), (6, false));
    }

    #[test]
    fn ten_million_records_take_about_a_bit_each() {
        let mut rb = ReadBack::default();
        for seq in 1..=1_250_000u64 {
            for w in 0..8 {
                rb.push(w, seq);
            }
        }
        assert_eq!(rb.len(), 10_000_000);
        let bytes: usize = rb.records.values().map(|s| s.chunks.len() * WORDS * 8).sum();
        assert!(bytes < 1_400_000, "{bytes} bytes");
    }

    #[test]
    fn serialises_as_writer_to_ascending_seqs() {
        let mut rb = ReadBack::default();
        for (w, s) in [(2, 9), (0, 3), (0, 1), (0, 3)] {
            rb.push(w, s);
        }
        assert_eq!(serde_json::to_string(&rb).unwrap(), r#"{"0":[1,3],"2":[9]}"#);
    }
}
