//! Command arguments: everything that can be written into a Redis command.

use bytes::Bytes;

/// A value that contributes zero or more arguments to a command.
///
/// Strings and byte strings are one argument each (byte strings may be binary); numbers are
/// written in decimal; slices, vectors and arrays of arguments contribute one argument per
/// element (so `del(&["a", "b"])` deletes two keys), except `[u8]`/`Vec<u8>`, which are one
/// binary argument.
pub trait ToArgs {
    /// Appends this value's arguments.
    fn write_args(&self, out: &mut Vec<Bytes>);

    /// The arguments as a new vector.
    fn to_args(&self) -> Vec<Bytes> {
        let mut out = Vec::new();
        self.write_args(&mut out);
        out
    }
}

impl<T: ToArgs + ?Sized> ToArgs for &T {
    fn write_args(&self, out: &mut Vec<Bytes>) {
        (**self).write_args(out);
    }
}

impl ToArgs for str {
    fn write_args(&self, out: &mut Vec<Bytes>) {
        out.push(Bytes::copy_from_slice(self.as_bytes()));
    }
}

impl ToArgs for String {
    fn write_args(&self, out: &mut Vec<Bytes>) {
        out.push(Bytes::copy_from_slice(self.as_bytes()));
    }
}

impl ToArgs for [u8] {
    fn write_args(&self, out: &mut Vec<Bytes>) {
        out.push(Bytes::copy_from_slice(self));
    }
}

impl ToArgs for Vec<u8> {
    fn write_args(&self, out: &mut Vec<Bytes>) {
        out.push(Bytes::copy_from_slice(self));
    }
}

impl<const N: usize> ToArgs for [u8; N] {
    fn write_args(&self, out: &mut Vec<Bytes>) {
        out.push(Bytes::copy_from_slice(self));
    }
}

impl ToArgs for Bytes {
    fn write_args(&self, out: &mut Vec<Bytes>) {
        out.push(self.clone());
    }
}

macro_rules! to_args_integer {
    ($($t:ty),*) => {$(
        impl ToArgs for $t {
            fn write_args(&self, out: &mut Vec<Bytes>) {
                out.push(Bytes::copy_from_slice(itoa::Buffer::new().format(*self).as_bytes()));
            }
        }
    )*};
}
to_args_integer!(i8, i16, i32, i64, i128, isize, u16, u32, u64, u128, usize);

impl ToArgs for char {
    fn write_args(&self, out: &mut Vec<Bytes>) {
        out.push(Bytes::copy_from_slice(
            self.encode_utf8(&mut [0; 4]).as_bytes(),
        ));
    }
}

impl ToArgs for f64 {
    fn write_args(&self, out: &mut Vec<Bytes>) {
        out.push(Bytes::from(format_float(*self)));
    }
}

impl ToArgs for f32 {
    fn write_args(&self, out: &mut Vec<Bytes>) {
        out.push(Bytes::from(format_float(f64::from(*self))));
    }
}

/// Formats a float the way Redis parses it (`inf`, `-inf`, plain decimal otherwise).
fn format_float(v: f64) -> String {
    if v.is_infinite() {
        if v > 0.0 { "+inf" } else { "-inf" }.to_owned()
    } else {
        v.to_string()
    }
}

impl ToArgs for bool {
    /// Booleans are written `1` / `0`, which Redis commands accept as flags and counters.
    fn write_args(&self, out: &mut Vec<Bytes>) {
        out.push(Bytes::from_static(if *self { b"1" } else { b"0" }));
    }
}

impl<T: ToArgs> ToArgs for Option<T> {
    /// `None` contributes no argument.
    fn write_args(&self, out: &mut Vec<Bytes>) {
        if let Some(v) = self {
            v.write_args(out);
        }
    }
}

impl<T: ToArgs> ToArgs for [T] {
    fn write_args(&self, out: &mut Vec<Bytes>) {
        for item in self {
            item.write_args(out);
        }
    }
}

impl<T: ToArgs> ToArgs for Vec<T> {
    fn write_args(&self, out: &mut Vec<Bytes>) {
        self.as_slice().write_args(out);
    }
}

impl<T: ToArgs, const N: usize> ToArgs for [T; N] {
    fn write_args(&self, out: &mut Vec<Bytes>) {
        self.as_slice().write_args(out);
    }
}

macro_rules! to_args_tuple {
    ($($name:ident),+) => {
        impl<$($name: ToArgs),+> ToArgs for ($($name,)+) {
            #[allow(non_snake_case)]
            fn write_args(&self, out: &mut Vec<Bytes>) {
                let ($($name,)+) = self;
                $($name.write_args(out);)+
            }
        }
    };
}
to_args_tuple!(A);
to_args_tuple!(A, B);
to_args_tuple!(A, B, C);
to_args_tuple!(A, B, C, D);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!("a".to_args(), vec![Bytes::from_static(b"a")]);
        assert_eq!(
            vec![0u8, 255].to_args(),
            vec![Bytes::from_static(&[0, 255])]
        );
        assert_eq!(["a", "b"].to_args().len(), 2);
        assert_eq!(vec![("f", 1), ("g", 2)].to_args().len(), 4);
        assert_eq!(f64::INFINITY.to_args(), vec![Bytes::from_static(b"+inf")]);
        assert_eq!(1.5f64.to_args(), vec![Bytes::from_static(b"1.5")]);
        assert_eq!(None::<i64>.to_args().len(), 0);
        assert_eq!((-3i64).to_args(), vec![Bytes::from_static(b"-3")]);
        assert_eq!(i64::MIN.to_args(), vec![Bytes::from(i64::MIN.to_string())]);
        assert_eq!(
            u128::MAX.to_args(),
            vec![Bytes::from(u128::MAX.to_string())]
        );
        assert_eq!('é'.to_args(), vec![Bytes::from("é")]);
    }
}
