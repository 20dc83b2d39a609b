//! In-process tar.gz archiving and safe extraction.
