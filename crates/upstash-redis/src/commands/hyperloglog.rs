//! HyperLogLog commands.

use crate::{Command, ToArgs};

commands! {
    /// `PFADD key [element ...]`: `true` when the estimated cardinality changed.
    fn pfadd(key: impl ToArgs, elements: impl ToArgs) -> bool => Command::new("PFADD").arg(key).arg(elements);
    /// `PFCOUNT key [key ...]`: the estimated cardinality of the union of the keys.
    fn pfcount(keys: impl ToArgs) -> u64 => Command::new("PFCOUNT").arg(keys);
    /// `PFMERGE destination [source ...]`: merges the sources into `destination`.
    fn pfmerge(destination: impl ToArgs, sources: impl ToArgs) -> () =>
        Command::new("PFMERGE").arg(destination).arg(sources);
}

#[cfg(test)]
mod tests {
    use crate::commands::options::testing::{argv, client};

    #[test]
    fn arguments() {
        let r = client();
        assert_eq!(argv(r.pfadd("h", ["a", "b"])), ["PFADD", "h", "a", "b"]);
        assert_eq!(argv(r.pfcount(["h", "i"])), ["PFCOUNT", "h", "i"]);
        assert_eq!(argv(r.pfmerge("d", ["h", "i"])), ["PFMERGE", "d", "h", "i"]);
    }
}
