//! The `keygate` command.

fn main() {}
