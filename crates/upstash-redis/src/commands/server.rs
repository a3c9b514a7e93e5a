//! server commands.

#[allow(unused_imports)]
use crate::{Command, ToArgs};
