//! The VM-side shell commands of transfers, quoted in one place.
