//! What an upload really is: the type from its first bytes, and for images a
//! full decode under explicit limits, which also yields the thumbnail.

use super::upload::{TempFile, random_name};
use super::*;

/// The kinds of files we take, told by their first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Png,
    Jpeg,
    Gif,
    WebP,
    Mp4,
    WebM,
}

impl Kind {
    pub(super) fn mime(self) -> &'static str {
        match self {
            Kind::Png => "image/png",
            Kind::Jpeg => "image/jpeg",
            Kind::Gif => "image/gif",
            Kind::WebP => "image/webp",
            Kind::Mp4 => "video/mp4",
            Kind::WebM => "video/webm",
        }
    }

    pub(super) fn image_format(self) -> Option<image::ImageFormat> {
        match self {
            Kind::Png => Some(image::ImageFormat::Png),
            Kind::Jpeg => Some(image::ImageFormat::Jpeg),
            Kind::Gif => Some(image::ImageFormat::Gif),
            Kind::WebP => Some(image::ImageFormat::WebP),
            Kind::Mp4 | Kind::WebM => None,
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Kind::Png => "PNG",
            Kind::Jpeg => "JPEG",
            Kind::Gif => "GIF",
            Kind::WebP => "WebP",
            Kind::Mp4 => "MP4",
            Kind::WebM => "WebM",
        }
    }
}

pub(super) const ACCEPTED: &str = "PNG, JPEG, GIF or WebP images, or MP4 or WebM videos";

/// Detects the real type from the magic bytes; `claimed` is only for the message.
pub(super) fn sniff(head: &[u8], claimed: &str) -> Result<Kind, ApiError> {
    let unsupported =
        |what: &str| ApiError::UnsupportedMedia(format!("{what}; accepted are {ACCEPTED}"));
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(Kind::Png);
    }
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(Kind::Jpeg);
    }
    if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        return Ok(Kind::Gif);
    }
    if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        return Ok(Kind::WebP);
    }
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        let brand = &head[8..12];
        return match brand {
            b"heic" | b"heix" | b"heim" | b"heis" | b"hevc" | b"hevx" | b"mif1" | b"msf1" => Err(
                unsupported("HEIC/HEIF images are not supported (convert to JPEG)"),
            ),
            b"avif" | b"avis" => Err(unsupported("AVIF images are not supported")),
            b"qt  " => Err(unsupported(
                "QuickTime (.mov) files are not supported (export as MP4)",
            )),
            _ => Ok(Kind::Mp4),
        };
    }
    if head.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        let has = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
        return if has(b"webm") {
            Ok(Kind::WebM)
        } else if has(b"matroska") {
            Err(unsupported(
                "Matroska (.mkv) files are not supported (remux as WebM or MP4)",
            ))
        } else {
            Err(unsupported(
                "the file has an EBML header but is not a WebM video",
            ))
        };
    }
    if head.is_empty() {
        return Err(ApiError::Invalid("the file is empty".into()));
    }
    let claimed = if claimed.is_empty() {
        String::new()
    } else {
        format!(" (sent as {claimed})")
    };
    Err(unsupported(&format!(
        "the file's content is not of a supported type{claimed}"
    )))
}

/// Decodes the image fully under limits and writes its thumbnail to a temp
/// file; returns the dimensions and that file. Blocking.
pub(super) fn check_image(
    config: &Config,
    src: &FsPath,
    format: image::ImageFormat,
    kind: Kind,
) -> ApiResult<(u32, u32, TempFile)> {
    use image::ImageDecoder as _;
    let corrupt = |e: &dyn std::fmt::Display| {
        ApiError::UnsupportedMedia(format!(
            "the file is not a valid {} image (corrupt or truncated): {e}",
            kind.name()
        ))
    };
    let too_large = |what: String| {
        ApiError::Invalid(format!(
            "the image is too large to process safely: {what}; at most {MAX_IMAGE_SIDE}×{MAX_IMAGE_SIDE} pixels and {} MiB of decoded pixels are accepted",
            MAX_DECODE_BYTES / (1024 * 1024)
        ))
    };
    let map = |e: image::ImageError| match e {
        image::ImageError::Limits(l) => too_large(l.to_string()),
        image::ImageError::IoError(io) if io.kind() != std::io::ErrorKind::UnexpectedEof => {
            ApiError::from(io)
        }
        other => corrupt(&other),
    };
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    let mut reader =
        image::ImageReader::with_format(std::io::BufReader::new(std::fs::File::open(src)?), format);
    reader.limits(limits);
    let decoder = reader.into_decoder().map_err(map)?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(corrupt(&"it has no pixels"));
    }
    if width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE {
        return Err(too_large(format!("it is {width}×{height} pixels")));
    }
    if decoder.total_bytes() > MAX_DECODE_BYTES {
        return Err(too_large(format!(
            "{width}×{height} pixels would need {} MiB decoded",
            decoder.total_bytes() / (1024 * 1024)
        )));
    }
    let img = image::DynamicImage::from_decoder(decoder).map_err(map)?;

    let thumb = if width > THUMBNAIL_SIZE || height > THUMBNAIL_SIZE {
        img.thumbnail(THUMBNAIL_SIZE, THUMBNAIL_SIZE)
    } else {
        img
    };
    let thumb = image::DynamicImage::ImageRgba8(thumb.to_rgba8());
    let tmp = TempFile::new(tmp_dir(config).join(random_name(".thumb.part")));
    {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(tmp.path())?;
        let mut w = std::io::BufWriter::new(file);
        thumb
            .write_to(&mut w, image::ImageFormat::Png)
            .map_err(|e| match e {
                image::ImageError::IoError(io) => ApiError::from(io),
                other => ApiError::internal(format!("encoding thumbnail: {other}")),
            })?;
        let file = w.into_inner().map_err(|e| ApiError::from(e.into_error()))?;
        file.sync_all()?;
    }
    Ok((width, height, tmp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_content() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n rest", "").unwrap(), Kind::Png);
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0], "").unwrap(), Kind::Jpeg);
        assert_eq!(sniff(b"GIF89a....", "").unwrap(), Kind::Gif);
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 ", "").unwrap(), Kind::WebP);
        assert_eq!(sniff(b"\0\0\0\x18ftypisom\0\0\0\0", "").unwrap(), Kind::Mp4);
        assert_eq!(
            sniff(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", "").unwrap(),
            Kind::WebM
        );
        assert!(matches!(
            sniff(b"\0\0\0\x18ftypheic", ""),
            Err(ApiError::UnsupportedMedia(_))
        ));
        assert!(matches!(
            sniff(b"\x1a\x45\xdf\xa3\x42\x82\x88matroska", ""),
            Err(ApiError::UnsupportedMedia(_))
        ));
        assert!(
            matches!(sniff(b"hello, I am a PNG", "image/png"), Err(ApiError::UnsupportedMedia(m)) if m.contains("image/png"))
        );
        assert!(matches!(sniff(b"", ""), Err(ApiError::Invalid(_))));
    }
}
