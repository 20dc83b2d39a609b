//! A `Read` adapter that checks every tar header as it passes, before the `tar` crate acts on it.
//!
//! The `tar` crate reads a GNU long-name or long-link record (`L`, `K`) and a PAX extended
//! header (`x`) whole into memory, however large its header says it is: a 0.2 MiB `.tar.gz`
//! can hold a 256 MiB name. [`HeaderScan`] sits between the gzip decoder and the `tar` crate,
//! follows the stream block by block as the crate will (the same header checksum, size field,
//! PAX `size` override and GNU sparse extension blocks), and fails the read that would hand
//! the crate a header over the limits below, so nothing is allocated for it.
//!
//! The limits:
//! - a GNU long name or long link name: [`MAX_NAME_BYTES`] (4096, Linux's `PATH_MAX`), so the
//!   record holds at most 4097 bytes with its NUL;
//! - a PAX extended header, local (`x`) or global (`g`): [`MAX_PAX_BYTES`] (1 MiB), room for
//!   long paths and many extended attributes.
//!
//! Headers the crate would reject anyway (a bad checksum, a size field that is not a number)
//! are refused here first, as a corrupt archive.

use std::io::{self, Read};

/// The longest entry name (or link target) extracted, in bytes: Linux's `PATH_MAX`. A longer
/// one could not be created by path anyway.
pub(crate) const MAX_NAME_BYTES: u64 = 4096;
/// The largest PAX extended header (`x` or `g`) accepted, in bytes.
pub(crate) const MAX_PAX_BYTES: u64 = 1 << 20;

const BLOCK: usize = 512;

/// Why [`HeaderScan`] stopped the stream: the message of the `Archive` error to report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Refusal(String);

impl Refusal {
    /// The one-line reason.
    pub(crate) fn message(&self) -> &str {
        &self.0
    }
}

/// The [`Refusal`] carried by `e`, however the `tar` crate wrapped it.
pub(crate) fn refusal_in(e: &io::Error) -> Option<&Refusal> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = e.get_ref().map(|r| r as _);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<Refusal>() {
            return Some(r);
        }
        // `io::Error::source` skips its own inner error: look inside it directly.
        cur = match err.downcast_ref::<io::Error>() {
            Some(io) => io.get_ref().map(|r| r as _),
            None => err.source(),
        };
    }
    None
}

/// Where the scan is in the tar stream.
#[derive(Debug)]
enum State {
    /// Collecting a header block.
    Header,
    /// Collecting a GNU sparse extension block; the entry's data (`data` bytes, padded) follows
    /// the last one.
    SparseExt { data: u64 },
    /// Passing `left` bytes of entry data and padding. For a PAX header the crate will read,
    /// its first `want` bytes are kept in `pax` to find its `size` record.
    Data {
        left: u64,
        pax: Option<Vec<u8>>,
        want: usize,
    },
    /// Past the end-of-archive block: the crate reads no further header; the rest passes.
    Done,
    /// A header was refused: every read fails with the same refusal.
    Failed(Refusal),
}

/// Checks the tar stream read through it (see the module docs). It never buffers the stream:
/// it only looks at what each read returns, keeping one header block and, for a PAX header,
/// at most [`MAX_PAX_BYTES`].
#[derive(Debug)]
pub(crate) struct HeaderScan<R> {
    inner: R,
    state: State,
    block: Box<[u8; BLOCK]>,
    filled: usize,
    /// Offset in the tar stream of the next byte read, for messages.
    offset: u64,
    /// The `size` of the PAX header just read, for the next entry that is not itself an
    /// extension header (the crate overrides that entry's size field with it).
    pax_size: Option<u64>,
}

impl<R: Read> HeaderScan<R> {
    pub(crate) fn new(inner: R) -> Self {
        HeaderScan {
            inner,
            state: State::Header,
            block: Box::new([0; BLOCK]),
            filled: 0,
            offset: 0,
            pax_size: None,
        }
    }

    /// Follows `bytes`, the next bytes of the stream.
    fn observe(&mut self, mut bytes: &[u8]) -> Result<(), Refusal> {
        while !bytes.is_empty() {
            match &mut self.state {
                State::Done => return Ok(()),
                State::Failed(r) => return Err(r.clone()),
                State::Header | State::SparseExt { .. } => {
                    let n = (BLOCK - self.filled).min(bytes.len());
                    self.block[self.filled..self.filled + n].copy_from_slice(&bytes[..n]);
                    self.filled += n;
                    bytes = &bytes[n..];
                    if self.filled == BLOCK {
                        self.filled = 0;
                        self.state = match self.state {
                            State::SparseExt { data } => sparse_next(&self.block, data),
                            _ => self.header()?,
                        };
                        self.offset += BLOCK as u64;
                    }
                }
                State::Data { left, pax, want } => {
                    let n = usize::try_from(*left).unwrap_or(usize::MAX).min(bytes.len());
                    if let Some(buf) = pax.as_mut() {
                        let room = want.saturating_sub(buf.len()).min(n);
                        buf.extend_from_slice(&bytes[..room]);
                    }
                    *left -= n as u64;
                    self.offset += n as u64;
                    bytes = &bytes[n..];
                    if *left == 0 {
                        if let Some(buf) = pax.take() {
                            self.pax_size = pax_size(&buf);
                        }
                        self.state = State::Header;
                    }
                }
            }
        }
        Ok(())
    }

    /// Checks the header block just collected and says what follows it.
    fn header(&mut self) -> Result<State, Refusal> {
        let h = &*self.block;
        if h.iter().all(|&b| b == 0) {
            return Ok(State::Done);
        }
        let at = self.offset;
        let corrupt = |what: &str| Refusal(format!("corrupt archive: the header at byte {at} {what}"));
        // The crate's check: every byte, the checksum field counted as spaces.
        let sum = h[..148].iter().chain(&h[156..]).map(|&b| u32::from(b)).sum::<u32>() + 8 * 32;
        match octal(&h[148..156]) {
            // The crate compares the field truncated to 32 bits.
            Some(cksum) if cksum as u32 == sum => {}
            _ => return Err(corrupt("has a bad checksum")),
        }
        let Some(field_size) = size_field(&h[124..136]) else {
            return Err(corrupt("has a size field that is not a number"));
        };
        let kind = h[156];
        let recognized = is_ustar(h) || is_gnu(h);
        let extension = matches!(kind, b'L' | b'K' | b'x' | b'g');
        // The crate reads recognized `L`, `K` and `x` records whole and keeps going; any other
        // header is an entry of its own, the PAX `size` applies to it, and is then spent.
        let absorbed = recognized && matches!(kind, b'L' | b'K' | b'x');
        let size = if extension {
            field_size
        } else {
            self.pax_size.unwrap_or(field_size)
        };
        if !absorbed {
            self.pax_size = None;
        }
        match kind {
            b'L' | b'K' if size > MAX_NAME_BYTES + 1 => {
                let what = if kind == b'L' { "long-name" } else { "long-link-name" };
                return Err(Refusal(format!(
                    "a GNU {what} record of {size} bytes is over the limit of {} bytes (a name of at most {MAX_NAME_BYTES} bytes and its NUL)",
                    MAX_NAME_BYTES + 1
                )));
            }
            b'x' | b'g' if size > MAX_PAX_BYTES => {
                let what = if kind == b'x' { "extended" } else { "global extended" };
                return Err(Refusal(format!(
                    "a PAX {what} header of {size} bytes is over the limit of {MAX_PAX_BYTES} bytes (1 MiB)"
                )));
            }
            _ => {}
        }
        let Some(padded) = size.checked_add(BLOCK as u64 - 1).map(|s| s & !(BLOCK as u64 - 1)) else {
            return Err(corrupt("has a size that overflows"));
        };
        if kind == b'S' && is_gnu(h) && h[482] == 1 {
            return Ok(State::SparseExt { data: padded });
        }
        let pax = (recognized && kind == b'x').then(Vec::new);
        // At most `MAX_PAX_BYTES`, checked above.
        let want = usize::try_from(size).unwrap_or(0);
        Ok(data(padded, pax, want))
    }
}

/// After a GNU sparse extension block: another one, or the entry's data.
fn sparse_next(block: &[u8; BLOCK], data_len: u64) -> State {
    if block[504] == 1 {
        State::SparseExt { data: data_len }
    } else {
        data(data_len, None, 0)
    }
}

fn data(left: u64, pax: Option<Vec<u8>>, want: usize) -> State {
    if left == 0 {
        // An empty PAX header sets no size.
        State::Header
    } else {
        State::Data { left, pax, want }
    }
}

impl<R: Read> Read for HeaderScan<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if let State::Failed(r) = &self.state {
            return Err(io::Error::new(io::ErrorKind::InvalidData, r.clone()));
        }
        let n = self.inner.read(out)?;
        if let Err(r) = self.observe(&out[..n]) {
            self.state = State::Failed(r.clone());
            return Err(io::Error::new(io::ErrorKind::InvalidData, r));
        }
        Ok(n)
    }
}

fn is_ustar(h: &[u8; BLOCK]) -> bool {
    &h[257..263] == b"ustar\0" && &h[263..265] == b"00"
}

fn is_gnu(h: &[u8; BLOCK]) -> bool {
    &h[257..263] == b"ustar " && &h[263..265] == b" \0"
}

/// An octal field as the crate reads it: up to the first NUL, whitespace trimmed.
fn octal(field: &[u8]) -> Option<u64> {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    let text = std::str::from_utf8(&field[..end]).ok()?;
    u64::from_str_radix(text.trim(), 8).ok()
}

/// The 12-byte size field: octal, or base-256 when its high bit is set (the crate then reads
/// the last 8 bytes only).
fn size_field(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        let tail = &field[field.len() - 8..];
        Some(tail.iter().fold(0u64, |n, &b| (n << 8) | u64::from(b)))
    } else {
        octal(field)
    }
}

/// The `size` record of a PAX header, as the crate reads it: the first `size` key wins, and a
/// malformed record before it (or a bad value) means none.
fn pax_size(data: &[u8]) -> Option<u64> {
    for line in data.split(|&b| b == b'\n') {
        if line.is_empty() {
            return None;
        }
        let space = line.iter().position(|&b| b == b' ')?;
        let len: usize = std::str::from_utf8(&line[..space]).ok()?.parse().ok()?;
        if line.len() + 1 != len {
            return None;
        }
        let kv = &line[space + 1..];
        let eq = kv.iter().position(|&b| b == b'=')?;
        if &kv[..eq] != b"size" {
            continue;
        }
        return std::str::from_utf8(&kv[eq + 1..]).ok()?.parse().ok();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header block: `name`, type `kind`, size field `size` (octal), GNU or ustar magic.
    fn header(name: &str, kind: u8, size: u64, gnu: bool) -> [u8; BLOCK] {
        let mut h = [0u8; BLOCK];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        h[136..147].copy_from_slice(b"00000000000");
        h[156] = kind;
        if gnu {
            h[257..265].copy_from_slice(b"ustar  \0");
        } else {
            h[257..265].copy_from_slice(b"ustar\x0000");
        }
        cksum(&mut h);
        h
    }

    fn cksum(h: &mut [u8; BLOCK]) {
        h[148..156].fill(b' ');
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    }

    fn padded(data: &[u8]) -> Vec<u8> {
        let mut v = data.to_vec();
        v.resize(data.len().div_ceil(BLOCK) * BLOCK, 0);
        v
    }

    fn pax_record(key: &str, value: &str) -> Vec<u8> {
        // The length counts its own digits.
        let body = format!(" {key}={value}\n");
        let mut len = body.len() + 1;
        while body.len() + len.to_string().len() != len {
            len = body.len() + len.to_string().len();
        }
        format!("{len}{body}").into_bytes()
    }

    /// Reads all of `bytes` through a scan, `step` bytes per read.
    fn scan(bytes: &[u8], step: usize) -> Result<Vec<u8>, Refusal> {
        struct Trickle<'a>(&'a [u8], usize);
        impl Read for Trickle<'_> {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(out.len()).min(self.1);
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut out = Vec::new();
        match HeaderScan::new(Trickle(bytes, step)).read_to_end(&mut out) {
            Ok(_) => Ok(out),
            Err(e) => Err(refusal_in(&e).cloned().expect("a refusal")),
        }
    }

    fn refused(bytes: &[u8], needle: &str) {
        for step in [1, 7, 512, 100_000] {
            let r = scan(bytes, step).unwrap_err();
            assert!(r.message().contains(needle), "{step}: {r}");
        }
    }

    /// Every name in `bytes` as the `tar` crate lists it through a scan.
    fn listed(bytes: &[u8]) -> io::Result<Vec<String>> {
        let mut archive = tar::Archive::new(HeaderScan::new(bytes));
        let mut names = Vec::new();
        for e in archive.entries()? {
            let mut e = e?;
            names.push(e.path()?.display().to_string());
            io::copy(&mut e, &mut io::sink())?;
        }
        Ok(names)
    }

    #[test]
    fn a_huge_long_name_or_link_record_is_refused_at_its_header() {
        for (kind, what) in [(b'L', "long-name"), (b'K', "long-link-name")] {
            // Only the header: the refusal comes before any of the 256 MiB is read.
            let h = header("././@LongLink", kind, 256 << 20, true);
            refused(
                &h,
                &format!("GNU {what} record of 268435456 bytes is over the limit of 4097 bytes"),
            );
        }
        // The limit itself passes.
        let mut ok = header("././@LongLink", b'L', MAX_NAME_BYTES + 1, true).to_vec();
        ok.extend(padded(&[b'a'; 4097]));
        assert!(scan(&ok, 512).is_ok());
        let mut over = header("././@LongLink", b'L', MAX_NAME_BYTES + 2, true).to_vec();
        over.extend(padded(&[b'a'; 4098]));
        refused(&over, "limit of 4097 bytes");
    }

    #[test]
    fn a_huge_pax_header_is_refused_at_its_header() {
        for (kind, what) in [(b'x', "PAX extended header"), (b'g', "PAX global extended header")] {
            let h = header("pax", kind, 256 << 20, false);
            refused(
                &h,
                &format!("{what} of 268435456 bytes is over the limit of 1048576 bytes"),
            );
        }
        // Unrecognized magic (an old header) is held to the same limit.
        let mut old = header("pax", b'x', MAX_PAX_BYTES + 1, false);
        old[257..265].fill(0);
        cksum(&mut old);
        refused(&old, "over the limit of 1048576 bytes");
    }

    #[test]
    fn a_base_256_size_is_read_as_the_crate_reads_it() {
        let mut h = header("././@LongLink", b'L', 0, true);
        h[124..136].copy_from_slice(&[0x80, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0x10, 0, 0, 0]);
        cksum(&mut h);
        // The bytes right after the flag are ignored, as the crate does: 0x10000000.
        refused(&h, "record of 268435456 bytes");
    }

    #[test]
    fn headers_the_crate_would_reject_are_refused_as_corrupt() {
        let mut bad = header("f", b'0', 0, false);
        bad[0] = b'g';
        refused(&bad, "corrupt archive: the header at byte 0 has a bad checksum");
        let mut nan = header("f", b'0', 0, false);
        nan[124..136].copy_from_slice(b"12x45678901\0");
        cksum(&mut nan);
        let mut second = header("a", b'0', 3, false).to_vec();
        second.extend(padded(b"abc"));
        second.extend_from_slice(&nan);
        refused(
            &second,
            "corrupt archive: the header at byte 1024 has a size field that is not a number",
        );
    }

    #[test]
    fn a_pax_size_moves_the_next_header_as_the_crate_does() {
        // The header says 0 bytes, the PAX record 1024: what looks like a huge long-name
        // header inside the data is file content, not a header.
        let hidden = header("././@LongLink", b'L', 256 << 20, true);
        let mut content = hidden.to_vec();
        content.extend_from_slice(&[b'z'; 512]);
        let rec = pax_record("size", "1024");
        let mut a = header("pax", b'x', rec.len() as u64, false).to_vec();
        a.extend(padded(&rec));
        a.extend_from_slice(&header("f", b'0', 0, false));
        a.extend_from_slice(&content);
        a.extend_from_slice(&[0u8; 1024]);
        assert_eq!(scan(&a, 3).unwrap(), a);
        assert_eq!(listed(&a).unwrap(), vec!["f".to_string()]);

        // The other way round: the header says 1024, the PAX record 0, so the crate reads the
        // hidden header; so does the scan, and refuses it.
        let rec = pax_record("size", "0");
        let mut b = header("pax", b'x', rec.len() as u64, false).to_vec();
        b.extend(padded(&rec));
        b.extend_from_slice(&header("f", b'0', 1024, false));
        b.extend_from_slice(&content);
        refused(&b, "GNU long-name record of 268435456 bytes");
        let e = listed(&b).unwrap_err();
        assert!(refusal_in(&e).is_some(), "{e}");
    }

    #[test]
    fn a_pax_size_skips_extension_headers_and_is_spent_by_one_entry() {
        let rec = pax_record("size", "512");
        let mut a = header("pax", b'x', rec.len() as u64, false).to_vec();
        a.extend(padded(&rec));
        // A long name after the PAX header keeps its own size; the file after it takes 512.
        a.extend_from_slice(&header("././@LongLink", b'L', 4, true));
        a.extend(padded(b"lng\0"));
        a.extend_from_slice(&header("f", b'0', 0, true));
        a.extend_from_slice(&[b'y'; 512]);
        // The next entry uses its own size field again.
        a.extend_from_slice(&header("g", b'0', 2, true));
        a.extend(padded(b"gg"));
        a.extend_from_slice(&[0u8; 1024]);
        assert_eq!(scan(&a, 5).unwrap(), a);
        assert_eq!(listed(&a).unwrap(), vec!["lng".to_string(), "g".to_string()]);
    }

    #[test]
    fn malformed_pax_records_set_no_size() {
        assert_eq!(pax_size(&pax_record("size", "77")), Some(77));
        let mut two = pax_record("path", "a");
        two.extend(pax_record("size", "5"));
        two.extend(pax_record("size", "9"));
        assert_eq!(pax_size(&two), Some(5));
        assert_eq!(pax_size(b"9 size=5\n"), Some(5));
        assert_eq!(pax_size(b"8 size=5\n"), None, "wrong length");
        assert_eq!(pax_size(b"10 size=x\n"), None);
        let mut bad_first = b"3 a\n".to_vec();
        bad_first.extend(pax_record("size", "5"));
        assert_eq!(pax_size(&bad_first), None);
        assert_eq!(pax_size(b""), None);
    }

    #[test]
    fn gnu_sparse_extension_blocks_are_followed() {
        // A sparse entry with one extension block; its data then holds what looks like a huge
        // long-name header, which the crate reads as data too (and the SDK refuses the entry).
        let mut h = header("s", b'S', 512, true);
        h[482] = 1;
        cksum(&mut h);
        let mut a = h.to_vec();
        a.extend_from_slice(&[0u8; BLOCK]);
        a.extend_from_slice(&header("././@LongLink", b'L', 256 << 20, true));
        a.extend_from_slice(&header("next", b'0', 0, true));
        a.extend_from_slice(&[0u8; 1024]);
        assert_eq!(scan(&a, 9).unwrap(), a);
        // Two extension blocks: the first says another follows.
        let mut b = h.to_vec();
        let mut ext = [0u8; BLOCK];
        ext[504] = 1;
        b.extend_from_slice(&ext);
        b.extend_from_slice(&[0u8; BLOCK]);
        b.extend_from_slice(&[b'd'; BLOCK]);
        b.extend_from_slice(&header("././@LongLink", b'L', 256 << 20, true));
        refused(&b, "long-name record");
    }

    #[test]
    fn the_end_block_ends_the_scan() {
        let mut a = header("f", b'0', 1, false).to_vec();
        a.extend(padded(b"1"));
        a.extend_from_slice(&[0u8; BLOCK]);
        // After the end, nothing is a header (the crate reads none): trailing bytes pass.
        a.extend_from_slice(&header("././@LongLink", b'L', 256 << 20, true));
        assert_eq!(scan(&a, 1).unwrap(), a);
    }

    #[test]
    fn a_refusal_is_sticky() {
        let h = header("././@LongLink", b'L', 256 << 20, true);
        let mut s = HeaderScan::new(&h[..]);
        let mut buf = [0u8; BLOCK];
        assert!(s.read(&mut buf).is_err());
        let again = s.read(&mut buf).unwrap_err();
        assert!(refusal_in(&again).is_some());
    }

    /// Builds an archive with the `tar` crate's own writer: long names (GNU), PAX records,
    /// links and directories.
    fn real_archive(seed: u8) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let long = format!("{}/{}", "d".repeat(150), "n".repeat(usize::from(seed) + 1));
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o644);
        b.append_data(&mut h, &long, &b"abc"[..]).unwrap();
        b.append_pax_extensions([("comment", &b"hello"[..])]).unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_size(u64::from(seed));
        h.set_mode(0o644);
        b.append_data(&mut h, "p", &vec![seed; usize::from(seed)][..]).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, "l", "t".repeat(200 + usize::from(seed))).unwrap();
        b.into_inner().unwrap()
    }

    proptest::proptest! {
        /// However the reads are split, a sound archive passes through unchanged.
        #[test]
        fn sound_archives_pass_unchanged_in_any_read_sizes(seed in 0u8..40, step in 1usize..2000) {
            let a = real_archive(seed);
            proptest::prop_assert_eq!(scan(&a, step).unwrap(), a.clone());
            proptest::prop_assert_eq!(listed(&a).unwrap().len(), 3);
        }

        /// Arbitrary bytes never panic the scan.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..3000), step in 1usize..600) {
            let _ = scan(&bytes, step);
        }
    }
}
