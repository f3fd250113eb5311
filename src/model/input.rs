//! The network's input: 8-bit pixels in HWC order, of the model's input shape.

use zeroize::Zeroize;

use super::Hwc;
use crate::mnist::{Image, SIDE};

/// An owned image: `u8` pixels, HWC (`[y][x][c]`, row-major), with its shape. Wiped on
/// drop: in private inference the pixels are the evaluator's secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pixels {
    shape: Hwc,
    data: Vec<u8>,
}

impl Pixels {
    /// Pixels of `shape` from `data` in HWC order; `None` if the lengths differ.
    pub fn new(shape: Hwc, data: Vec<u8>) -> Option<Pixels> {
        (data.len() == shape.len()).then_some(Pixels { shape, data })
    }

    /// The shape of an MNIST digit, 28×28×1.
    pub fn mnist_shape() -> Hwc {
        Hwc {
            height: SIDE,
            width: SIDE,
            channels: 1,
        }
    }

    /// A borrowed view of these pixels.
    pub fn view(&self) -> PixelView<'_> {
        PixelView {
            shape: self.shape,
            data: &self.data,
        }
    }
}

impl Drop for Pixels {
    fn drop(&mut self) {
        self.data.zeroize();
    }
}

impl From<&Image> for Pixels {
    fn from(image: &Image) -> Pixels {
        let view = PixelView::from(image);
        Pixels {
            shape: view.shape,
            data: view.data.to_vec(),
        }
    }
}

/// Borrowed pixels with their shape: what inference reads. Both an MNIST [`Image`]
/// (28×28×1) and [`Pixels`] convert to it without copying.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PixelView<'a> {
    shape: Hwc,
    data: &'a [u8],
}

impl<'a> PixelView<'a> {
    /// The image's shape.
    pub fn shape(&self) -> Hwc {
        self.shape
    }

    /// The pixels, HWC order.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }
}

impl<'a> From<&'a Image> for PixelView<'a> {
    fn from(image: &'a Image) -> PixelView<'a> {
        PixelView {
            shape: Pixels::mnist_shape(),
            data: image.as_flattened(),
        }
    }
}

impl<'a> From<&'a Pixels> for PixelView<'a> {
    fn from(pixels: &'a Pixels) -> PixelView<'a> {
        pixels.view()
    }
}
