//! The header-form verify path runs on every API request, so it must not
//! build the canonical request or string to sign as strings. This binary
//! counts heap allocations made by the calling thread around `verify`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use shoal_sigv4::{authorization_header, parse, sha256_hex, signing_key, verify, RequestParts};

struct Counting;

thread_local! {
    // Per thread, because the test harness allocates on its own threads.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

// SAFETY: defers to the system allocator; only adds a counter.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn header_verify_allocates_at_most_the_query_vec() {
    let secret = "secret";
    let body = sha256_hex(b"{}");
    let date = "20240601T120000Z";
    let headers = [
        ("host", "shoal.local"),
        ("x-amz-date", date),
        ("content-type", "application/json"),
    ];
    for (path, query, budget) in [
        ("/things/a", "", 0),
        ("/topics/a%2Fb", "qos=1&retain=false", 1),
    ] {
        let authz = authorization_header(
            "POST",
            path,
            query,
            &headers,
            &body,
            "AKID",
            secret,
            date,
            "us-east-1",
            "iot",
        );
        let mut signed = headers.to_vec();
        signed.push(("authorization", &authz));
        let req = RequestParts {
            method: "POST",
            path,
            query,
            headers: &signed,
            payload_sha256_hex: &body,
        };
        let auth = parse(&req).unwrap_or_else(|e| panic!("{e}"));
        let key = signing_key(secret, auth.date, auth.region, auth.service);
        let before = allocations();
        let result = verify(&req, &auth, &key, 1_717_243_200);
        let used = allocations() - before;
        assert_eq!(result, Ok(()));
        assert!(used <= budget, "{path}?{query}: {used} allocations");
    }
}
