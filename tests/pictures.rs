//! A person's pictures of digits: the drawn corpus in `tests/fixtures/digits/` (made by
//! `make.py` there) classified privately and in plaintext, the MNIST-style
//! preprocessing's properties, and the 10 000 MNIST test images through the picture
//! path unchanged.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use gcnn::channel::TcpChannel;
use gcnn::inference::{ModelOwner, Pipeline, classify};
use gcnn::mnist::{self, Image, SIDE};
use gcnn::model::{Model, ModelSource};
use gcnn::picture::mnist_style::{BOX, CENTRE, centre_of_mass};
use gcnn::picture::{self, Gray, PictureError, Prepared, Warning, decode, prepare};

const TIMEOUT: Duration = Duration::from_secs(30);

fn corpus() -> Vec<(PathBuf, usize, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/digits");
    let mut files: Vec<(PathBuf, usize, String)> = std::fs::read_dir(&dir)
        .expect("the corpus")
        .map(|e| e.expect("entry").path())
        .filter_map(|path| {
            let name = path.file_name()?.to_str()?.to_string();
            let (digit, rest) = name.split_once('-')?;
            let style = rest.split('.').next()?.to_string();
            Some((path.clone(), digit.parse().ok()?, style))
        })
        .collect();
    files.sort();
    assert!(files.len() >= 100, "{} corpus files", files.len());
    files
}

fn model() -> Model {
    Model::load_from(&ModelSource::Bundled).expect("bundled model")
}

/// Classifies `image` privately, the garbler on a thread, over loopback TCP.
fn private_class(owner: &ModelOwner, pipeline: &Pipeline, image: &Image) -> usize {
    let (server, client) = gcnn::net::loopback(TIMEOUT).expect("loopback");
    thread::scope(|s| {
        let garbler = s.spawn(|| owner.serve(TcpChannel::new(server, TIMEOUT).unwrap()));
        let (class, _) =
            classify(pipeline, TcpChannel::new(client, TIMEOUT).unwrap(), image).unwrap();
        garbler.join().unwrap().unwrap();
        class
    })
}

fn flat(image: &Image) -> Vec<u8> {
    image.iter().flatten().copied().collect()
}

fn png(width: u32, height: u32, pixels: Vec<u8>) -> Vec<u8> {
    let mut bytes = Vec::new();
    image::GrayImage::from_raw(width, height, pixels)
        .expect("pixels fit")
        .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
        .expect("encode");
    bytes
}

fn through_png(image: &Image) -> Prepared {
    let bytes = png(SIDE as u32, SIDE as u32, flat(image));
    prepare(&decode::decode(Path::new("test.png"), &bytes).expect("decodes"))
}

/// The properties LeCun's recipe gives: ink bright on black, inside 20×20, centre of
/// mass within a pixel of the centre, full contrast.
fn assert_mnist_style(image: &Image, what: &str) {
    let pixels = flat(image);
    let (cy, cx) = centre_of_mass(&pixels, SIDE).expect("ink");
    assert!(
        (cy - CENTRE).abs() <= 1.0 && (cx - CENTRE).abs() <= 1.0,
        "{what}: centre of mass ({cy:.2}, {cx:.2})"
    );
    let inked = |i: usize| pixels[i] > 0;
    let rows: Vec<usize> = (0..SIDE)
        .filter(|&y| (0..SIDE).any(|x| inked(y * SIDE + x)))
        .collect();
    let cols: Vec<usize> = (0..SIDE)
        .filter(|&x| (0..SIDE).any(|y| inked(y * SIDE + x)))
        .collect();
    assert!(rows[rows.len() - 1] - rows[0] < BOX, "{what}: {rows:?}");
    assert!(cols[cols.len() - 1] - cols[0] < BOX, "{what}: {cols:?}");
    assert_eq!(pixels.iter().max(), Some(&255), "{what}: full contrast");
    // Polarity: most of the field is black background.
    let dark = pixels.iter().filter(|&&p| p == 0).count();
    assert!(dark > SIDE * SIDE / 2, "{what}: {dark} background pixels");
}

#[test]
fn the_drawn_corpus_is_classified_privately_and_in_plaintext() {
    let model = model();
    let owner = ModelOwner::new(&model).expect("owner");
    let pipeline = Pipeline::load_from(&ModelSource::Bundled).expect("pipeline");
    let (mut correct, mut total) = (0, 0);
    let mut wrong = Vec::new();
    for (path, digit, style) in corpus() {
        let prepared = picture::read(&path).expect("a readable picture");
        let what = path.display().to_string();
        assert!(
            prepared.warnings.is_empty(),
            "{what}: {:?}",
            prepared.warnings
        );
        let dark_on_light = !matches!(style.as_str(), "inverse" | "anim");
        assert_eq!(prepared.inverted, dark_on_light, "{what}: polarity");
        assert_mnist_style(&prepared.image, &what);
        let plain = model.predict(&prepared.image);
        let private = private_class(&owner, &pipeline, &prepared.image);
        assert_eq!(private, plain, "{what}: private != plaintext");
        total += 1;
        if plain == digit {
            correct += 1;
        } else {
            wrong.push(format!("{what} as {plain}"));
        }
    }
    eprintln!("drawn corpus: {correct}/{total} correct; wrong: {wrong:?}");
    assert!(correct * 10 >= total * 9, "{correct}/{total}: {wrong:?}");
}

#[test]
fn preprocessing_its_own_output_changes_nothing() {
    for (path, _, _) in corpus() {
        let first = picture::read(&path).expect("readable");
        let again = through_png(&first.image);
        assert!(again.unchanged, "{}", path.display());
        assert_eq!(again.image, first.image, "{}", path.display());
    }
}

#[test]
fn every_mnist_test_image_through_a_png_is_unchanged_and_classified_the_same() {
    let data = mnist::bundled_test_set().expect("bundled test set");
    let model = model();
    let mut correct = 0;
    for (k, (image, &label)) in data.images.iter().zip(&data.labels).enumerate() {
        let prepared = through_png(image);
        assert!(prepared.unchanged && !prepared.inverted, "test image {k}");
        assert_eq!(&prepared.image, image, "test image {k}");
        correct += usize::from(model.predict(&prepared.image) == usize::from(label));
        // The colours the wrong way round come back to the same image.
        if k % 10 == 0 {
            let inverse: Vec<u8> = flat(image).iter().map(|p| 255 - p).collect();
            let bytes = png(SIDE as u32, SIDE as u32, inverse);
            let back = prepare(&decode::decode(Path::new("inverse.png"), &bytes).unwrap());
            assert!(back.inverted && back.unchanged, "inverse of test image {k}");
            assert_eq!(&back.image, image, "inverse of test image {k}");
        }
    }
    // Each image is the idx image, so each prediction is the idx path's: the accuracy
    // is the one models/README.md records for the idx path.
    let line = format!("`accuracy: {:.4} ({correct}/10000)`", correct as f64 / 1e4);
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("models/README.md"))
            .expect("models/README.md");
    assert!(
        readme.contains(&line),
        "{line} not recorded in models/README.md"
    );
}

#[test]
fn a_faint_digit_survives_the_narrow_input() {
    let data = mnist::bundled_test_set().expect("bundled test set");
    let model = model();
    // The input keeps a pixel's top `input_bits` bits: below this, it is 0.
    let first_step = 1u32 << (8 - model.input_bits);
    let n = 300;
    let mut same = 0;
    for image in &data.images[..n] {
        // The brightest pixel just below the input's first step.
        let faint: Vec<u8> = flat(image)
            .iter()
            .map(|&p| (u32::from(p) * (first_step - 8) / 255) as u8)
            .collect();
        let raw = mnist::to_image(&faint);
        assert!(
            raw.iter().flatten().all(|&p| u32::from(p) < first_step),
            "unprocessed, the model would see nothing"
        );
        let prepared = through_png(&raw);
        assert!(!prepared.unchanged);
        assert_mnist_style(&prepared.image, "faint");
        same += usize::from(model.predict(&prepared.image) == model.predict(image));
    }
    assert!(
        same * 100 >= n * 95,
        "{same}/{n} faint digits kept their class"
    );
}

fn gray(width: usize, height: usize, f: impl Fn(usize, usize) -> f32) -> Gray {
    Gray {
        width,
        height,
        pixels: (0..width * height)
            .map(|i| f(i % width, i / width))
            .collect(),
    }
}

#[test]
fn blank_specks_and_frames_are_warned_about_but_still_processed() {
    for level in [0.0, 0.5, 1.0] {
        let blank = prepare(&gray(40, 30, |_, _| level));
        assert_eq!(blank.warnings, vec![Warning::Blank]);
        assert_eq!(blank.image, [[0; SIDE]; SIDE]);
    }
    let speck = prepare(&gray(100, 100, |x, y| {
        if (50..52).contains(&x) && (40..43).contains(&y) {
            0.0
        } else {
            1.0
        }
    }));
    assert_eq!(
        speck.warnings,
        vec![Warning::NearlyBlank {
            width: 2,
            height: 3
        }]
    );
    assert!(speck.inverted);
    // Dark strokes across a light page from edge to edge: cropped through the digit.
    let cropped = prepare(&gray(80, 80, |x, y| {
        if (38..44).contains(&x) || (30..36).contains(&y) {
            0.0
        } else {
            1.0
        }
    }));
    assert_eq!(cropped.warnings, vec![Warning::TouchesEveryEdge]);
}

#[test]
fn transparency_is_composited_so_the_ink_shows_whatever_its_colour() {
    let digit = picture::read(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/digits/7-rgba.png"),
    )
    .expect("readable");
    // The same alpha with white ink instead of black.
    let rgba =
        image::open(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/digits/7-rgba.png"))
            .expect("open")
            .to_rgba8();
    let mut white = rgba.clone();
    for p in white.pixels_mut() {
        p.0[..3].copy_from_slice(&[255, 255, 255]);
    }
    let mut bytes = Vec::new();
    white
        .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
        .unwrap();
    let from_white = prepare(&decode::decode(Path::new("white.png"), &bytes).unwrap());
    assert_eq!(from_white.image, digit.image);
    assert_ne!(from_white.inverted, digit.inverted);
}

/// A PNG whose header claims `width`×`height` (its CRC fixed up), with no image data.
fn lying_png(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = png(8, 8, vec![0; 64]);
    // IHDR's data starts after the 8-byte signature, length and type (8 bytes).
    bytes[16..20].copy_from_slice(&width.to_be_bytes());
    bytes[20..24].copy_from_slice(&height.to_be_bytes());
    let mut crc = flate2::Crc::new();
    crc.update(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.sum().to_be_bytes());
    bytes
}

#[test]
fn a_header_claiming_a_huge_picture_is_refused_before_decoding() {
    for (w, h) in [(100_000, 100_000), (8193, 10), (8000, 8000)] {
        let err = decode::decode(Path::new("huge.png"), &lying_png(w, h)).unwrap_err();
        assert!(matches!(err, PictureError::TooLarge { .. }), "{err}");
    }
    // The header passes, the data is missing: a decode error, not a crash.
    let err = decode::decode(Path::new("empty.png"), &lying_png(100, 100)).unwrap_err();
    assert!(matches!(err, PictureError::Decode { .. }), "{err}");
}
