//! The scan's hot path allocates nothing for a record the filters reject, nor for one that
//! matches but cannot enter a full top-N. Allocations are counted per thread, so tests running
//! alongside do not disturb the count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use super::parse;
use super::testing::events;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; counting touches only a
// const-initialised thread-local cell, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn rejected_records_allocate_nothing() {
    let q = parse(
        "fields @timestamp, @message, @logStream, @log, status | filter @message like /ERROR/ | sort @timestamp desc | limit 3",
    )
    .unwrap();
    let misses = events(&[r#"{"level":"INFO","status":200,"path":"/a/b"}"#; 50]);
    let mut old_hits = events(&[r#"{"level":"ERROR","status":500}"#; 50]);
    for e in old_hits.iter_mut() {
        e.timestamp -= 1_000_000;
    }
    let new_hits = events(&[r#"{"level":"ERROR","status":503}"#; 10]);
    let mut run = q.new_run();
    // Fill the top-N (and warm the regex's per-thread cache).
    new_hits.iter().for_each(|e| run.push(&e.record()));
    let before = allocations();
    misses.iter().for_each(|e| run.push(&e.record()));
    old_hits.iter().for_each(|e| run.push(&e.record()));
    assert_eq!(allocations() - before, 0);
    // The counter does count: building the rows allocates.
    let before = allocations();
    let r = run.finish();
    assert!(allocations() > before);
    assert_eq!(
        (r.records_scanned, r.records_matched, r.rows.len()),
        (110, 60, 3)
    );
}

#[test]
fn substring_and_field_filters_allocate_nothing() {
    let q = parse(
        "filter @logStream = \"nope\" or @message like \"needle\" | stats count(*) by bin(1m)",
    )
    .unwrap();
    let ev = events(&["haystack without it"; 20]);
    let mut run = q.new_run();
    run.push(&ev[0].record());
    let before = allocations();
    ev.iter().for_each(|e| run.push(&e.record()));
    assert_eq!(allocations() - before, 0);
}
