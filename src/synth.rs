//! TEMPORARY: replaced by the synthetic export generator.
#![allow(missing_docs)]
pub struct SynthOptions {
    pub out: std::path::PathBuf,
    pub accounts: usize,
    pub tweets: u64,
    pub seed: u64,
}
pub struct SynthSummary {
    pub accounts: usize,
    pub directory: usize,
    pub tweets: u64,
    pub bytes: u64,
}
pub fn synth(_opts: &SynthOptions) -> std::io::Result<SynthSummary> {
    Err(std::io::Error::other("not yet"))
}
