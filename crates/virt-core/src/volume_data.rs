//! A volume's bytes copied between a caller's reader or writer and the volume's file, as
//! libvirt's local upload/download does it (`virFDStream` over the file): from an offset, for
//! a length (0: to the end), in chunks, each one counted for a progress display.
//!
//! Used by in-process connections, whose volumes are files on this host; a remote connection
//! streams the same bytes over the wire instead. [`HoleSkippingFile`] is public for clients
//! that download into a file and want a sparse volume to stay sparse.

use std::io::{Read, Seek, SeekFrom, Write};

use crate::error::{Error, ErrorDomain, ErrorNumber, Result};

/// What one read or write moves: the remote protocol's stream chunk, so both paths report
/// progress at the same pace.
const CHUNK: usize = 256 * 1024;

fn system(what: String, error: std::io::Error) -> Error {
    Error::new(
        ErrorNumber::SYSTEM_ERROR,
        ErrorDomain::STREAMS,
        format!("{what}: {error}"),
    )
}

/// Copies at most `limit` bytes (`None`: all) from `from` to `to`, telling `progress` the
/// running total; the number copied.
fn copy(
    from: &mut dyn Read,
    to: &mut dyn Write,
    limit: Option<u64>,
    progress: &mut dyn FnMut(u64),
    read_what: &dyn Fn() -> String,
    write_what: &dyn Fn() -> String,
) -> Result<u64> {
    let mut buf = vec![0u8; CHUNK];
    let mut done = 0u64;
    loop {
        let want = match limit {
            Some(limit) => (limit - done).min(CHUNK as u64) as usize,
            None => CHUNK,
        };
        if want == 0 {
            break;
        }
        let n = match from.read(&mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(system(read_what(), error)),
        };
        to.write_all(&buf[..n])
            .map_err(|error| system(write_what(), error))?;
        done += n as u64;
        progress(done);
    }
    to.flush().map_err(|error| system(write_what(), error))?;
    Ok(done)
}

fn open_at(path: &str, offset: u64, write: bool) -> Result<std::fs::File> {
    let mut file = std::fs::OpenOptions::new()
        .read(!write)
        .write(write)
        .open(path)
        .map_err(|error| system(format!("Unable to open '{path}'"), error))?;
    // A pipe (a remote volume's data path) cannot seek; it is read from its start.
    if offset > 0 {
        file.seek(SeekFrom::Start(offset))
            .map_err(|error| system(format!("Unable to seek {path} to {offset}"), error))?;
    }
    Ok(file)
}

/// A file written front to back where, when sparse, a chunk of zeroes is skipped (a hole, as
/// libvirt's sparse upload seeks over it) rather than written; `flush` makes the file reach
/// the end of a trailing hole. The in-process upload writes volumes with it, and a client
/// can download into one to keep a sparse volume sparse.
pub struct HoleSkippingFile {
    pub file: std::fs::File,
    pub sparse: bool,
}

impl Write for HoleSkippingFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.sparse && buf.iter().all(|&byte| byte == 0) {
            self.file.seek(SeekFrom::Current(buf.len() as i64))?;
            return Ok(buf.len());
        }
        self.file.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        // A hole at the end still counts: the file reaches the end of what was sent.
        let end = self.file.stream_position()?;
        if end > self.file.metadata()?.len() {
            self.file.set_len(end)?;
        }
        self.file.flush()
    }
}

/// Writes `source` into the file at `path` from `offset`, without truncating it (libvirt's
/// upload overwrites in place); `sparse` skips chunks of zeroes.
pub(crate) fn upload_to_file(
    path: &str,
    offset: u64,
    length: u64,
    sparse: bool,
    source: &mut dyn Read,
    progress: &mut dyn FnMut(u64),
) -> Result<()> {
    let mut file = HoleSkippingFile {
        file: open_at(path, offset, true)?,
        sparse,
    };
    copy(
        source,
        &mut file,
        (length > 0).then_some(length),
        progress,
        &|| "Unable to read the upload's data".to_string(),
        &|| format!("Unable to write {path}"),
    )?;
    file.file
        .sync_data()
        .map_err(|error| system(format!("Unable to write {path}"), error))
}

/// Writes the file at `path` from `offset` into `sink`.
pub(crate) fn download_from_file(
    path: &str,
    offset: u64,
    length: u64,
    sink: &mut dyn Write,
    progress: &mut dyn FnMut(u64),
) -> Result<()> {
    let mut file = open_at(path, offset, false)?;
    copy(
        &mut file,
        sink,
        (length > 0).then_some(length),
        progress,
        &|| format!("Unable to read {path}"),
        &|| "Unable to write the download's data".to_string(),
    )
    .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upload_overwrites_in_place_from_its_offset() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("vol");
        std::fs::write(&path, b"0123456789").expect("file");
        let mut seen = Vec::new();
        upload_to_file(
            path.to_str().expect("utf-8"),
            2,
            3,
            false,
            &mut &b"abcdef"[..],
            &mut |done| seen.push(done),
        )
        .expect("upload");
        assert_eq!(std::fs::read(&path).expect("read"), b"01abc56789");
        assert_eq!(seen.last(), Some(&3));
    }

    #[test]
    fn a_sparse_upload_skips_zeroes_and_still_reaches_its_end() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("vol");
        std::fs::write(&path, b"").expect("file");
        let data = vec![0u8; 3 * CHUNK];
        upload_to_file(
            path.to_str().expect("utf-8"),
            0,
            0,
            true,
            &mut &data[..],
            &mut |_| {},
        )
        .expect("upload");
        let metadata = std::fs::metadata(&path).expect("stat");
        assert_eq!(metadata.len(), 3 * CHUNK as u64);
        use std::os::unix::fs::MetadataExt;
        assert_eq!(metadata.blocks(), 0, "no block was written");
    }

    #[test]
    fn a_download_reads_its_range() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("vol");
        std::fs::write(&path, b"0123456789").expect("file");
        let mut out = Vec::new();
        download_from_file(path.to_str().expect("utf-8"), 4, 0, &mut out, &mut |_| {})
            .expect("download");
        assert_eq!(out, b"456789");
        let error = download_from_file("/nonexistent/vol", 0, 0, &mut out, &mut |_| {})
            .expect_err("no file");
        assert_eq!(error.code(), ErrorNumber::SYSTEM_ERROR);
    }
}
