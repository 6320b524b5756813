//! Small media files built in code, each with metadata holding a phone number and a
//! GPS tag, and the bytes a clean copy must have (the image and video data unchanged).

/// A phone number planted in metadata.
pub const PHONE: &[u8] = b"+966555123456";
/// A GPS tag planted in metadata.
pub const GPS: &[u8] = b"GPSLatitude=24.7136N";

/// A fixture: the file as exported, and exactly what the bundle must publish.
pub struct Fixture {
    /// The exported file, metadata included.
    pub dirty: Vec<u8>,
    /// The cleaned file.
    pub clean: Vec<u8>,
    /// The image or video data, which must appear unchanged in the clean file.
    pub data: Vec<u8>,
}

fn meta_text() -> Vec<u8> {
    [b"owner ".as_slice(), PHONE, b" ", GPS].concat()
}

/// Appends `part` to the dirty file, and to the clean one when `keep`.
fn push(f: &mut Fixture, part: &[u8], keep: bool) {
    f.dirty.extend_from_slice(part);
    if keep {
        f.clean.extend_from_slice(part);
    }
}

fn new() -> Fixture {
    Fixture {
        dirty: Vec::new(),
        clean: Vec::new(),
        data: Vec::new(),
    }
}

fn jpeg_segment(marker: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0xFF, marker];
    v.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// A baseline JPEG: JFIF, EXIF, XMP, IPTC, a comment, ICC and Adobe segments, one
/// scan (with stuffed bytes and a restart marker), a comment after the scan, and a
/// trailer after the end of image.
pub fn jpeg() -> Fixture {
    let mut f = new();
    push(&mut f, &[0xFF, 0xD8], true);
    push(
        &mut f,
        &jpeg_segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"),
        true,
    );
    // EXIF (big-endian TIFF): IFD0 with an artist holding the phone and GPS text, and
    // orientation 6 (taken sideways). Only the orientation survives, alone.
    let text = meta_text();
    let mut tiff = b"MM\0\x2A\0\0\0\x08\0\x02".to_vec();
    tiff.extend_from_slice(b"\x01\x3B\0\x02");
    tiff.extend_from_slice(&(text.len() as u32).to_be_bytes());
    tiff.extend_from_slice(&38u32.to_be_bytes());
    tiff.extend_from_slice(b"\x01\x12\0\x03\0\0\0\x01\0\x06\0\0");
    tiff.extend_from_slice(&[0, 0, 0, 0]);
    tiff.extend_from_slice(&text);
    push(
        &mut f,
        &jpeg_segment(0xE1, &[b"Exif\0\0".as_slice(), &tiff].concat()),
        false,
    );
    f.clean.extend_from_slice(&jpeg_segment(
        0xE1,
        b"Exif\0\0MM\0\x2A\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x06\0\0\0\0\0\0",
    ));
    push(
        &mut f,
        &jpeg_segment(
            0xE1,
            &[b"http://ns.adobe.com/xap/1.0/\0".as_slice(), &meta_text()].concat(),
        ),
        false,
    );
    push(
        &mut f,
        &jpeg_segment(0xE2, b"ICC_PROFILE\0\x01\x01fake-profile"),
        true,
    );
    push(
        &mut f,
        &jpeg_segment(
            0xED,
            &[b"Photoshop 3.0\0".as_slice(), &meta_text()].concat(),
        ),
        false,
    );
    push(
        &mut f,
        &jpeg_segment(0xEE, b"Adobe\0\x64\0\0\0\0\x01"),
        true,
    );
    push(&mut f, &jpeg_segment(0xFE, &meta_text()), false);
    let mut dqt = vec![0u8];
    dqt.extend((1..=64).map(|i| i as u8));
    push(&mut f, &jpeg_segment(0xDB, &dqt), true);
    push(
        &mut f,
        &jpeg_segment(0xC0, &[8, 0, 1, 0, 1, 1, 1, 0x11, 0]),
        true,
    );
    let mut dht = vec![0x00, 1];
    dht.extend([0u8; 15]);
    dht.push(0);
    push(&mut f, &jpeg_segment(0xC4, &dht), true);
    push(&mut f, &jpeg_segment(0xDA, &[1, 1, 0x00, 0, 63, 0]), true);
    let scan = [0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56, 0x78, 0xFF, 0x00];
    push(&mut f, &scan, true);
    f.data = scan.to_vec();
    push(&mut f, &jpeg_segment(0xFE, &meta_text()), false);
    push(&mut f, &[0xFF, 0xD9], true);
    push(&mut f, &meta_text(), false);
    f
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut v = (data.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(kind);
    v.extend_from_slice(data);
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    v.extend_from_slice(&crc.sum().to_be_bytes());
    v
}

/// A PNG with text, EXIF and time chunks around colour chunks and the image data.
pub fn png() -> Fixture {
    png_sized(40, true)
}

/// A PNG whose image data is `idat` bytes, with or without metadata.
pub fn png_sized(idat: usize, metadata: bool) -> Fixture {
    let mut f = new();
    push(&mut f, b"\x89PNG\r\n\x1a\n", true);
    push(
        &mut f,
        &png_chunk(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]),
        true,
    );
    if metadata {
        push(
            &mut f,
            &png_chunk(b"tEXt", &[b"Author\0".as_slice(), &meta_text()].concat()),
            false,
        );
        push(
            &mut f,
            &png_chunk(b"eXIf", &[b"MM\0*".as_slice(), &meta_text()].concat()),
            false,
        );
        push(&mut f, &png_chunk(b"tIME", &[7, 227, 5, 6, 7, 8, 9]), false);
    }
    push(&mut f, &png_chunk(b"gAMA", &[0, 0, 177, 143]), true);
    let data: Vec<u8> = (0..idat).map(|i| (i * 7 % 251) as u8).collect();
    let idat_chunk = png_chunk(b"IDAT", &data);
    push(&mut f, &idat_chunk, true);
    f.data = idat_chunk;
    if metadata {
        let itxt = [b"Comment\0\0\0en\0\0".as_slice(), &meta_text()].concat();
        push(&mut f, &png_chunk(b"iTXt", &itxt), false);
        push(
            &mut f,
            &png_chunk(b"zTXt", &[b"Raw\0\0".as_slice(), &meta_text()].concat()),
            false,
        );
    }
    push(&mut f, &png_chunk(b"IEND", &[]), true);
    if metadata {
        push(&mut f, &meta_text(), false);
    }
    f
}

fn riff_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut v = kind.to_vec();
    v.extend_from_slice(&(data.len() as u32).to_le_bytes());
    v.extend_from_slice(data);
    if data.len() % 2 == 1 {
        v.push(0);
    }
    v
}

/// An extended WebP (VP8X) with EXIF and XMP chunks around lossless image data.
pub fn webp() -> Fixture {
    let vp8x = |flags: u8| riff_chunk(b"VP8X", &[flags, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let image = riff_chunk(b"VP8L", &[0x2f, 0, 0, 0, 0x10, 0x07, 0x10, 0x11, 0x11]);
    let exif = riff_chunk(b"EXIF", &[b"MM\0*".as_slice(), &meta_text()].concat());
    let xmp = riff_chunk(b"XMP ", &meta_text());
    let body_dirty = [b"WEBP".as_slice(), &vp8x(0x0C), &image, &exif, &xmp].concat();
    let body_clean = [b"WEBP".as_slice(), &vp8x(0x00), &image].concat();
    let riff = |body: &[u8]| {
        let mut v = b"RIFF".to_vec();
        v.extend_from_slice(&(body.len() as u32).to_le_bytes());
        v.extend_from_slice(body);
        v
    };
    Fixture {
        dirty: riff(&body_dirty),
        clean: riff(&body_clean),
        data: image,
    }
}

fn gif_sub_blocks(data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for c in data.chunks(255) {
        v.push(c.len() as u8);
        v.extend_from_slice(c);
    }
    v.push(0);
    v
}

/// An animated GIF with a comment and an XMP application extension.
pub fn gif() -> Fixture {
    let mut f = new();
    push(&mut f, b"GIF89a\x01\x00\x01\x00\x80\x00\x00", true);
    push(&mut f, &[0, 0, 0, 255, 255, 255], true);
    let netscape = [
        b"\x21\xFF\x0BNETSCAPE2.0".as_slice(),
        b"\x03\x01\x00\x00\x00",
    ]
    .concat();
    push(&mut f, &netscape, true);
    let comment = [b"\x21\xFE".as_slice(), &gif_sub_blocks(&meta_text())].concat();
    push(&mut f, &comment, false);
    let xmp = [
        b"\x21\xFF\x0BXMP DataXMP".as_slice(),
        &gif_sub_blocks(&meta_text()),
    ]
    .concat();
    push(&mut f, &xmp, false);
    push(&mut f, b"\x21\xF9\x04\x00\x0A\x00\x00\x00", true);
    let image = [
        b"\x2C\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02".as_slice(),
        &gif_sub_blocks(&[0x44, 0x01]),
    ]
    .concat();
    push(&mut f, &image, true);
    f.data = image;
    push(&mut f, b"\x3B", true);
    push(&mut f, &meta_text(), false);
    f
}

fn mp4_box(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut v = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
    v.extend_from_slice(kind);
    v.extend_from_slice(payload);
    v
}

/// A metadata box and what it becomes: a `free` box of the same size, zeroed.
fn blanked(kind: &[u8; 4], payload: &[u8]) -> (Vec<u8>, Vec<u8>) {
    (
        mp4_box(kind, payload),
        mp4_box(b"free", &vec![0; payload.len()]),
    )
}

/// A full box with version 0 whose first 8 payload bytes after version/flags are
/// the creation and modification times; returns (dirty, clean).
fn timed(kind: &[u8; 4], rest: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let dirty = [&[0u8, 0, 0, 0][..], &[0x5c, 0, 0, 1, 0x5c, 0, 0, 2], rest].concat();
    let clean = [&[0u8; 12][..], rest].concat();
    (mp4_box(kind, &dirty), mp4_box(kind, &clean))
}

/// An MP4: `ftyp`, a top-level XMP `uuid`, `moov` with `udta` (©xyz), `meta` (ilst)
/// and a track with its own `udta`, then `mdat`. The clean copy has the same size.
pub fn mp4() -> Fixture {
    let ftyp = mp4_box(b"ftyp", b"isom\0\0\x02\0isomiso2mp41");
    let (uuid_d, uuid_c) = blanked(
        b"uuid",
        &[
            b"\xBE\x7A\xCF\xCB\x97\xA9\x42\xE8\x9C\x71\x99\x94\x91\xE3\xAF\xAC".as_slice(),
            &meta_text(),
        ]
        .concat(),
    );
    let (mvhd_d, mvhd_c) = timed(b"mvhd", &[0u8; 88]);
    let (tkhd_d, tkhd_c) = timed(b"tkhd", &[0u8; 72]);
    let (mdhd_d, mdhd_c) = timed(b"mdhd", &[0u8; 12]);
    let hdlr = mp4_box(
        b"hdlr",
        b"\0\0\0\0\0\0\0\0vide\0\0\0\0\0\0\0\0\0\0\0\0VideoHandler\0",
    );
    let stbl = mp4_box(b"stbl", &mp4_box(b"stco", b"\0\0\0\0\0\0\0\x01\0\0\0\0"));
    let minf = mp4_box(b"minf", &stbl);
    let mdia_d = mp4_box(b"mdia", &[mdhd_d, hdlr.clone(), minf.clone()].concat());
    let mdia_c = mp4_box(b"mdia", &[mdhd_c, hdlr, minf].concat());
    let xyz = mp4_box(b"\xA9xyz", &[b"\0\x12\x15\xC7".as_slice(), GPS].concat());
    let (tudta_d, tudta_c) = blanked(b"udta", &mp4_box(b"\xA9nam", PHONE));
    let trak_d = mp4_box(b"trak", &[tkhd_d, mdia_d, tudta_d].concat());
    let trak_c = mp4_box(b"trak", &[tkhd_c, mdia_c, tudta_c].concat());
    let (udta_d, udta_c) = blanked(b"udta", &xyz);
    let ilst = mp4_box(b"ilst", &mp4_box(b"\xA9ART", PHONE));
    let (meta_d, meta_c) = blanked(b"meta", &[&[0u8, 0, 0, 0][..], &ilst].concat());
    let moov_d = mp4_box(b"moov", &[mvhd_d, udta_d, meta_d, trak_d].concat());
    let moov_c = mp4_box(b"moov", &[mvhd_c, udta_c, meta_c, trak_c].concat());
    let samples: Vec<u8> = (0..300u32).map(|i| (i * 13 % 256) as u8).collect();
    let mdat = mp4_box(b"mdat", &samples);
    Fixture {
        dirty: [ftyp.clone(), uuid_d, moov_d, mdat.clone()].concat(),
        clean: [ftyp, uuid_c, moov_c, mdat.clone()].concat(),
        data: mdat,
    }
}

/// Whether `hay` contains `needle`.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
