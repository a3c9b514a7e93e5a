//! Bitmap commands.

use crate::{BitField, BitOp, BitRange, Command, ToArgs};

commands! {
    /// `BITCOUNT key [start end [BYTE|BIT]]`: how many bits are set, in the whole string or a
    /// [`BitRange`]; pass `None` for the whole string.
    fn bitcount(key: impl ToArgs, range: impl Into<Option<BitRange>>) -> u64 =>
        Command::new("BITCOUNT").arg(key).arg(range.into());
    /// `BITFIELD key [GET|SET|INCRBY|OVERFLOW ...]`: one reply per `get`/`set`/`incrby`
    /// operation of the [`BitField`], `None` when an overflow made it fail.
    fn bitfield(key: impl ToArgs, operations: BitField) -> Vec<Option<i64>> =>
        Command::new("BITFIELD").arg(key).arg(operations);
    /// `BITOP operation destkey key [key ...]`: stores the result; its length in bytes.
    fn bitop(operation: BitOp, destination: impl ToArgs, keys: impl ToArgs) -> u64 =>
        Command::new("BITOP").arg(operation).arg(destination).arg(keys);
    /// `BITPOS key bit [start [end [BYTE|BIT]]]`: the position of the first bit equal to
    /// `bit` (in the whole string or a [`BitRange`]), or -1 when none.
    fn bitpos(key: impl ToArgs, bit: bool, range: impl Into<Option<BitRange>>) -> i64 =>
        Command::new("BITPOS").arg(key).arg(bit).arg(range.into());
    /// `GETBIT key offset`: the bit at `offset` (`false` beyond the end).
    fn getbit(key: impl ToArgs, offset: u64) -> bool => Command::new("GETBIT").arg(key).arg(offset);
    /// `SETBIT key offset value`: sets the bit at `offset`, replying its previous value.
    fn setbit(key: impl ToArgs, offset: u64, value: bool) -> bool =>
        Command::new("SETBIT").arg(key).arg(offset).arg(value);
}

#[cfg(test)]
mod tests {
    use crate::commands::options::testing::{argv, client};
    use crate::{BitField, BitFieldType, BitOp, BitRange};

    #[test]
    fn arguments() {
        let r = client();
        assert_eq!(argv(r.bitcount("b", None)), ["BITCOUNT", "b"]);
        assert_eq!(
            argv(r.bitcount("b", BitRange::bits(0, 7))),
            ["BITCOUNT", "b", "0", "7", "BIT"]
        );
        assert_eq!(
            argv(r.bitpos("b", true, BitRange::bytes(1, -1))),
            ["BITPOS", "b", "1", "1", "-1"]
        );
        assert_eq!(
            argv(r.bitop(BitOp::Xor, "d", ["a", "b"])),
            ["BITOP", "XOR", "d", "a", "b"]
        );
        assert_eq!(argv(r.setbit("b", 7, true)), ["SETBIT", "b", "7", "1"]);
        assert_eq!(
            argv(r.bitfield("b", BitField::new().incrby(BitFieldType::Signed(5), 100, 1))),
            ["BITFIELD", "b", "INCRBY", "i5", "100", "1"]
        );
    }
}
