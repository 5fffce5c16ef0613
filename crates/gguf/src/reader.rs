//! A cursor over untrusted bytes: every read is bounds-checked and reports, on failure,
//! what was being read and at which byte.

/// A read position in a byte slice. Errors are message fragments (`String`) that the
/// parser prefixes with the item being parsed.
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    /// Current absolute byte offset.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes left after the current position.
    pub fn remaining(&self) -> u64 {
        (self.buf.len() - self.pos) as u64
    }

    /// Total length of the underlying buffer (the file size).
    pub fn len(&self) -> u64 {
        self.buf.len() as u64
    }

    /// Takes `n` bytes. `what` names the field for the error message.
    pub fn take(&mut self, n: u64, what: &str) -> Result<&'a [u8], String> {
        if n > self.remaining() {
            return Err(format!(
                "{what} ({n} bytes) at byte {} runs past the end of the file ({} bytes)",
                self.pos,
                self.len()
            ));
        }
        // n <= remaining <= usize::MAX, so the cast and the addition cannot overflow.
        let start = self.pos;
        self.pos += n as usize;
        Ok(&self.buf[start..self.pos])
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], String> {
        let bytes = self.take(N as u64, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    pub fn u8(&mut self, what: &str) -> Result<u8, String> {
        Ok(self.array::<1>(what)?[0])
    }
    pub fn i8(&mut self, what: &str) -> Result<i8, String> {
        Ok(i8::from_le_bytes(self.array(what)?))
    }
    pub fn u16(&mut self, what: &str) -> Result<u16, String> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }
    pub fn i16(&mut self, what: &str) -> Result<i16, String> {
        Ok(i16::from_le_bytes(self.array(what)?))
    }
    pub fn u32(&mut self, what: &str) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    pub fn i32(&mut self, what: &str) -> Result<i32, String> {
        Ok(i32::from_le_bytes(self.array(what)?))
    }
    pub fn u64(&mut self, what: &str) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
    pub fn i64(&mut self, what: &str) -> Result<i64, String> {
        Ok(i64::from_le_bytes(self.array(what)?))
    }
    pub fn f32(&mut self, what: &str) -> Result<f32, String> {
        Ok(f32::from_le_bytes(self.array(what)?))
    }
    pub fn f64(&mut self, what: &str) -> Result<f64, String> {
        Ok(f64::from_le_bytes(self.array(what)?))
    }

    /// A bool byte, which must be 0 or 1.
    pub fn bool(&mut self, what: &str) -> Result<bool, String> {
        let at = self.pos;
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(format!("{what} at byte {at} is {b}, not 0 or 1")),
        }
    }

    /// A `gguf_string`: u64 length then that many UTF-8 bytes. Lengths above `max_len`
    /// are rejected before anything is read.
    pub fn str(&mut self, what: &str, max_len: u64) -> Result<&'a str, String> {
        let at = self.pos;
        let len = self.u64(what)?;
        if len > max_len {
            return Err(format!(
                "{what} length {len} at byte {at} exceeds the limit of {max_len} bytes"
            ));
        }
        if len > self.remaining() {
            return Err(format!(
                "{what} length {len} at byte {at} runs past the end of the file ({} bytes)",
                self.len()
            ));
        }
        let bytes = self.take(len, what)?;
        std::str::from_utf8(bytes).map_err(|e| {
            format!(
                "{what} at byte {at} is not valid UTF-8 (bad byte at offset {} of the string)",
                e.valid_up_to()
            )
        })
    }

    /// Checks that `count` items of at least `min_size` bytes each can fit in the rest of
    /// the file, so that a bogus count cannot trigger a huge allocation or a long loop.
    pub fn check_count(
        &self,
        count: u64,
        min_size: u64,
        what: &str,
        at: usize,
    ) -> Result<(), String> {
        match count.checked_mul(min_size) {
            Some(need) if need <= self.remaining() => Ok(()),
            _ => Err(format!(
                "{what} {count} at byte {at} cannot fit: it needs at least {min_size} bytes each, \
                 but only {} bytes remain in the file ({} bytes)",
                self.remaining(),
                self.len()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_bounds() {
        let buf = [1u8, 0, 0, 0, 2, 3];
        let mut c = Cursor::new(&buf);
        assert_eq!(c.u32("x").unwrap(), 1);
        assert_eq!(c.u8("y").unwrap(), 2);
        let e = c.u32("z").unwrap_err();
        assert!(e.contains("z (4 bytes) at byte 5 runs past the end"), "{e}");
        assert_eq!(c.pos(), 5);
        assert!(c.check_count(u64::MAX, 8, "count", 0).is_err());
        assert!(c.check_count(1, 1, "count", 0).is_ok());
        let mut c = Cursor::new(&[2u8]);
        assert!(c.bool("b").unwrap_err().contains("not 0 or 1"));
    }

    #[test]
    fn strings() {
        let mut buf = 3u64.to_le_bytes().to_vec();
        buf.extend_from_slice(b"abc");
        assert_eq!(Cursor::new(&buf).str("s", 10).unwrap(), "abc");
        assert!(Cursor::new(&buf)
            .str("s", 2)
            .unwrap_err()
            .contains("exceeds the limit"));
        let mut bad = 2u64.to_le_bytes().to_vec();
        bad.extend_from_slice(&[0xff, 0xfe]);
        assert!(Cursor::new(&bad)
            .str("s", 10)
            .unwrap_err()
            .contains("UTF-8"));
        let huge = u64::MAX.to_le_bytes();
        let e = Cursor::new(&huge).str("s", u64::MAX).unwrap_err();
        assert!(
            e.contains("length 18446744073709551615 at byte 0 runs past the end"),
            "{e}"
        );
    }
}
