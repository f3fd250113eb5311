//! 200 sequential two-party sessions over loopback TCP in one process: resident memory
//! and open file descriptors stay flat (no leaked sockets, buffers or threads).
//!
//! The only test of this binary, so no other test's memory moves the figures.

mod common;

use common::twoparty::*;
use gcnn::sys::{open_fds, rss_bytes};

#[test]
fn two_hundred_sessions_keep_memory_and_files_flat() {
    let circuit = random_circuit(31, 50_000);
    let inputs = random_inputs(&circuit, 31);
    let expected = plain_outputs(&circuit, &inputs);
    let mut at_10 = None;
    for session in 1..=200 {
        let (g, e) = run_tcp(&circuit, &inputs);
        g.unwrap();
        assert_eq!(e.unwrap().0, expected, "session {session}");
        let now = (rss_bytes().unwrap(), open_fds().unwrap());
        if session == 10 {
            at_10 = Some(now);
        }
        if session == 200 {
            let (rss_10, fds_10) = at_10.unwrap();
            let (rss_200, fds_200) = now;
            println!("after session 10: RSS {rss_10} B, {fds_10} fds");
            println!("after session 200: RSS {rss_200} B, {fds_200} fds");
            assert!(
                rss_200 <= rss_10 + (4 << 20),
                "RSS grew from {rss_10} B to {rss_200} B"
            );
            assert_eq!(fds_200, fds_10, "open file descriptors");
        }
    }
}
