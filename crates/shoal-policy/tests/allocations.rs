//! `evaluate` runs on every MQTT packet: it must not allocate. A counting
//! global allocator checks that over the benchmark's fleet of 3 policies ×
//! 10 statements with policy variables.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use shoal_policy::{evaluate, Context, Decision};

#[path = "../examples/bench.rs"]
mod bench;

/// Counts allocations made on the current thread while counting is on, so
/// that other test threads do not disturb the count.
struct Counting;

thread_local! {
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

fn note_allocation() {
    if ACTIVE.try_with(Cell::get).unwrap_or(false) {
        let _ = COUNT.try_with(|c| c.set(c.get() + 1));
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations made by `f` on this thread.
fn allocations<T>(f: impl FnOnce() -> T) -> (T, usize) {
    COUNT.with(|c| c.set(0));
    ACTIVE.with(|a| a.set(true));
    let result = f();
    ACTIVE.with(|a| a.set(false));
    (result, COUNT.with(Cell::get))
}

fn check(ctx: &dyn Context) {
    let policies = bench::fleet_policies();
    assert_eq!(policies.len(), 3);
    assert!(policies.iter().all(|p| p.statement_count() == 10));
    let requests = bench::requests();
    let (decisions, count) = allocations(|| {
        let mut decisions = [Decision::ImplicitDeny; 64];
        for round in 0..100 {
            for (i, (action, resource, _)) in requests.iter().enumerate() {
                let decision = evaluate(&policies, action, resource, ctx);
                if round == 0 {
                    if let Some(slot) = decisions.get_mut(i) {
                        *slot = decision;
                    }
                }
            }
        }
        decisions
    });
    assert_eq!(count, 0, "evaluate allocated {count} times");
    for (i, (action, resource, expected)) in requests.iter().enumerate() {
        assert_eq!(decisions.get(i), Some(expected), "{action} {resource}");
    }
}

#[test]
fn counting_allocator_sees_allocations() {
    let (_, count) = allocations(|| std::hint::black_box(vec![1u8; 16]));
    assert!(count >= 1);
}

#[test]
fn evaluate_with_a_struct_context_does_not_allocate() {
    check(&bench::device());
}

#[test]
fn evaluate_with_a_map_context_does_not_allocate() {
    check(&bench::device_map());
}

#[test]
fn decide_does_not_allocate() {
    let policies = bench::fleet_policies();
    let ctx = bench::device();
    let requests = bench::requests();
    let (_, count) = allocations(|| {
        for (action, resource, _) in &requests {
            for policy in &policies {
                std::hint::black_box(policy.decide(action, resource, &ctx));
            }
        }
    });
    assert_eq!(count, 0);
}
