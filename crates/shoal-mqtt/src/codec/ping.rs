//! PINGREQ (§3.12) and PINGRESP (§3.13): a fixed header alone, Remaining Length 0.

use super::primitives::Reader;
use super::DecodeError;

pub(crate) fn decode(r: &Reader) -> Result<(), DecodeError> {
    r.finish()
}
