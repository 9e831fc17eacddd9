//! Sorting in bounded memory, so the checker's footprint does not grow with the number of
//! writes: records gather in a buffer of fixed size; a full buffer is sorted and written to
//! an unnamed temporary file (a run, removed by the OS when dropped, also after a crash).
//! Reading merges the runs and the last buffer, in order, as many times as needed. Memory:
//! the buffer plus one 64 KiB block per run.
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;

/// A fixed-size binary record with the order it is sorted in.
pub trait Record: Copy + Ord {
    const SIZE: usize;
    fn put(&self, out: &mut Vec<u8>);
    fn get(b: &[u8]) -> Self;
}

/// Bytes read from a run at a time.
const BLOCK: usize = 64 * 1024;

pub struct Spill<T> {
    buf: Vec<T>,
    cap: usize,
    runs: Vec<(File, u64)>,
    len: u64,
    /// The first error writing a run; reported by `sorted` / `unordered`.
    error: Option<std::io::Error>,
}

impl<T: Record> Spill<T> {
    /// Keeps at most `cap` records in memory.
    pub fn new(cap: usize) -> Spill<T> {
        Spill { buf: Vec::new(), cap: cap.max(1), runs: Vec::new(), len: 0, error: None }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn push(&mut self, t: T) {
        self.len += 1;
        self.buf.push(t);
        if self.buf.len() >= self.cap
            && self.error.is_none()
            && let Err(e) = self.spill()
        {
            self.error = Some(e);
        }
    }

    fn spill(&mut self) -> std::io::Result<()> {
        self.buf.sort_unstable();
        let n = self.buf.len() as u64;
        let mut f = std::io::BufWriter::with_capacity(BLOCK, tempfile::tempfile()?);
        let mut bytes = Vec::with_capacity(T::SIZE);
        for t in self.buf.drain(..) {
            bytes.clear();
            t.put(&mut bytes);
            f.write_all(&bytes)?;
        }
        self.runs.push((f.into_inner().map_err(|e| e.into_error())?, n));
        Ok(())
    }

    /// Sorts what is still in memory; afterwards the record readers can start.
    pub fn seal(&mut self) -> std::io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.buf.sort_unstable();
        Ok(())
    }

    /// Every record in order (`seal` first).
    pub fn sorted(&self) -> impl Iterator<Item = T> + '_ {
        let mut heap = BinaryHeap::new();
        let mut readers: Vec<RunReader<'_, T>> = self.runs.iter().map(|(f, n)| RunReader::new(f, *n)).collect();
        readers.push(RunReader::memory(&self.buf));
        for (i, r) in readers.iter_mut().enumerate() {
            if let Some(t) = r.next() {
                heap.push(Reverse((t, i)));
            }
        }
        std::iter::from_fn(move || {
            let Reverse((t, i)) = heap.pop()?;
            if let Some(next) = readers[i].next() {
                heap.push(Reverse((next, i)));
            }
            Some(t)
        })
    }

    /// Every record, runs in file order (cheaper than `sorted` when order does not matter).
    pub fn unordered(&self) -> impl Iterator<Item = T> + '_ {
        let runs = self.runs.iter().flat_map(|(f, n)| RunReader::new(f, *n));
        runs.chain(self.buf.iter().copied())
    }
}

/// Reads one run back block by block (positional reads: many readers may share a file).
struct RunReader<'a, T> {
    file: Option<&'a File>,
    left: u64,
    offset: u64,
    block: Vec<u8>,
    at: usize,
    memory: std::slice::Iter<'a, T>,
}

impl<'a, T: Record> RunReader<'a, T> {
    fn new(file: &'a File, records: u64) -> Self {
        RunReader { file: Some(file), left: records, offset: 0, block: Vec::new(), at: 0, memory: [].iter() }
    }

    fn memory(buf: &'a [T]) -> Self {
        RunReader { file: None, left: 0, offset: 0, block: Vec::new(), at: 0, memory: buf.iter() }
    }
}

impl<T: Record> Iterator for RunReader<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        let Some(file) = self.file else { return self.memory.next().copied() };
        if self.at + T::SIZE > self.block.len() {
            if self.left == 0 {
                return None;
            }
            let n = (BLOCK / T::SIZE).min(self.left as usize);
            self.block.resize(n * T::SIZE, 0);
            // a run that cannot be read back ends early; the counts then disagree with
            // `Spill::len`, which the checker reports
            file.read_exact_at(&mut self.block, self.offset).ok()?;
            self.offset += self.block.len() as u64;
            self.left -= n as u64;
            self.at = 0;
        }
        let t = T::get(&self.block[self.at..self.at + T::SIZE]);
        self.at += T::SIZE;
        Some(t)
    }
}

impl Record for u64 {
    const SIZE: usize = 8;
    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn get(b: &[u8]) -> Self {
        u64::from_le_bytes(b[..8].try_into().expect("8 bytes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_spilled_runs_and_the_buffer_in_order_as_often_as_asked() {
        let mut s = Spill::<u64>::new(1000);
        // a permutation of 0..10_500 (10 runs on disk and a partial buffer)
        let v: Vec<u64> = (0..10_500u64).map(|i| (i * 7919) % 10_500).collect();
        for &x in &v {
            s.push(x);
        }
        s.seal().unwrap();
        assert_eq!(s.len(), 10_500);
        for _ in 0..2 {
            assert_eq!(s.sorted().collect::<Vec<_>>(), (0..10_500).collect::<Vec<_>>());
        }
        let mut all: Vec<u64> = s.unordered().collect();
        all.sort_unstable();
        assert_eq!(all, (0..10_500).collect::<Vec<_>>());
    }

    #[test]
    fn an_empty_spill_yields_nothing() {
        let mut s = Spill::<u64>::new(4);
        s.seal().unwrap();
        assert_eq!(s.sorted().count() + s.unordered().count(), 0);
    }
}
