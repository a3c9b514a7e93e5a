//! Typed command methods.
//!
//! Each command is declared once with the [`commands!`] macro, which writes two methods from
//! the declaration: one on [`Redis`](crate::Redis) returning a typed, awaitable
//! [`Cmd`](crate::Cmd), and one on [`Pipeline`](crate::Pipeline) that adds the command to the
//! batch. One file per command family.

/// Declares typed commands on both `Redis` and `Pipeline`.
///
/// ```text
/// /// Doc comment.
/// fn name<T>(arg: impl ToArgs, ...) -> ReplyType => <expression building a Command>;
/// ```
/// The optional `<T>` makes the reply type a caller's choice (`T: FromValue`).
macro_rules! commands {
    ($(
        $(#[$doc:meta])*
        fn $name:ident $(<$t:ident>)? ($($arg:ident : $argty:ty),* $(,)?) -> $ret:ty => $build:expr;
    )*) => {
        impl $crate::Redis {
            $(
                $(#[$doc])*
                pub fn $name $(<$t: $crate::FromValue>)? (&self, $($arg: $argty),*) -> $crate::Cmd<$ret> {
                    $crate::Cmd::new(self.clone(), $build)
                }
            )*
        }
        impl $crate::Pipeline {
            $(
                $(#[$doc])*
                pub fn $name(&mut self, $($arg: $argty),*) -> &mut Self {
                    self.push($build)
                }
            )*
        }
    };
}

mod bitmaps;
mod geo;
mod hashes;
mod hyperloglog;
mod keys;
mod lists;
mod options;
mod pubsub;
mod scripting;
mod server;
mod sets;
mod sorted_sets;
mod streams;
mod strings;

pub use options::*;
