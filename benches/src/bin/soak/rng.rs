//! Seeded randomness: choices, sizes, and byte streams that a writer and a
//! verifier regenerate independently from the same seed (nothing is kept
//! to compare against).

/// splitmix64: small, fast, and good enough to pick sizes and bytes.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below((hi - lo + 1) as u64) as usize
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// A size in `0..=max`, spread evenly over the powers of two (small
    /// sizes as often as large ones).
    pub fn size(&mut self, max: usize) -> usize {
        let bits = usize::BITS - max.leading_zeros();
        let top = 1usize << self.below(u64::from(bits) + 1);
        (self.below(top as u64) as usize).min(max)
    }
}

/// An endless byte stream drawn from a seed.
#[derive(Debug, Clone)]
pub struct Pattern {
    rng: Rng,
    word: u64,
    left: u32,
}

impl Pattern {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: Rng::new(seed ^ 0x05EE_D0FB_17E5),
            word: 0,
            left: 0,
        }
    }

    /// Fills `buf` with the stream's next bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for byte in buf {
            if self.left == 0 {
                self.word = self.rng.next_u64();
                self.left = 8;
            }
            *byte = self.word as u8;
            self.word >>= 8;
            self.left -= 1;
        }
    }

    /// The stream's next `len` bytes.
    pub fn take(&mut self, len: usize) -> Vec<u8> {
        let mut v = vec![0; len];
        self.fill(&mut v);
        v
    }

    /// Checks that `got` is the stream's next bytes; on a mismatch, the
    /// offset of the first wrong byte within `got`.
    pub fn verify(&mut self, got: &[u8]) -> Result<(), usize> {
        let mut expected = [0u8; 4096];
        let mut at = 0;
        for chunk in got.chunks(expected.len()) {
            let want = &mut expected[..chunk.len()];
            self.fill(want);
            if let Some(i) = chunk.iter().zip(want.iter()).position(|(a, b)| a != b) {
                return Err(at + i);
            }
            at += chunk.len();
        }
        Ok(())
    }
}
