//! Feeds arbitrary bytes to S3's aws-chunked body decoder, in pieces of a size the input picks,
//! unsigned and with a chunk signer: it may refuse, never panic, never give more data than it
//! was given, and it ends at most once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal_sigv4::{AwsChunked, ChunkSigner};

fn run(data: &[u8], step: usize, signer: Option<ChunkSigner>) {
    let mut d = AwsChunked::new(signer);
    let mut input = Vec::new();
    let mut out = Vec::new();
    for piece in data.chunks(step) {
        input.extend_from_slice(piece);
        match d.feed(&mut input, &mut out) {
            Ok(true) => {
                assert!(d.is_done());
                break;
            }
            Ok(false) => {}
            Err(_) => return,
        }
    }
    assert!(out.len() <= data.len());
    assert_eq!(out.len() as u64, d.decoded());
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let step = usize::from(first % 64) + 1;
    run(rest, step, None);
    let signer = ChunkSigner::new([1; 32], "20261207T000000Z", "20261207/us-east-1/s3/aws4_request", "00");
    run(rest, step, Some(signer));
});
