use super::*;
use serde_json::json;
use shoal_domain::{AccountId, ManualClock, Region};
use shoal_store::sqlite::SqliteStore;

struct Fixture {
    dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    store: Arc<SqliteStore>,
    part: Partition,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("s.db")).unwrap());
    Fixture {
        dir,
        clock: Arc::new(ManualClock::new(Timestamp::from_secs(1_000))),
        store,
        part: Partition::new(
            AccountId::parse("123456789012").unwrap(),
            Region::parse("us-east-1").unwrap(),
        ),
    }
}

impl Fixture {
    fn scheduler(&self) -> Arc<Scheduler> {
        Scheduler::new(self.store.clone(), self.clock.clone())
    }

    async fn set(&self, s: &Scheduler, name: &str, at_secs: i64) {
        s.track(&self.part).await.unwrap();
        let id = TimerId::new("test", name);
        let current = s.find(&self.part, &id).unwrap();
        let batch = Scheduler::set(
            Batch::new(self.part.key()),
            &id,
            Timestamp::from_secs(at_secs),
            json!({ "n": name }),
            current.as_ref(),
        )
        .unwrap();
        self.store.commit(batch).await.unwrap();
    }
}

/// Records what fired, writes a marker record with the timer's completion, and repeats the
/// timers whose payload asks for it.
#[derive(Default)]
struct Recorder {
    fired: Mutex<Vec<(String, i64)>>,
    scheduler: Mutex<Option<Arc<Scheduler>>>,
    fail: Mutex<bool>,
    /// Signalled after each timer fired (readiness for the loop's test).
    done: tokio::sync::Notify,
}

impl TimerHandler for Recorder {
    fn fire<'a>(&'a self, due: &'a Due) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if *self.fail.lock().unwrap() {
                return Err(shoal_domain::ServiceError::internal("boom"));
            }
            self.fired
                .lock()
                .unwrap()
                .push((due.name.clone(), due.at.secs()));
            let s = self.scheduler.lock().unwrap().clone().unwrap();
            let batch = Batch::new(due.part.key()).put(
                "fired",
                &format!("{}/{}", due.name, due.at.secs()),
                SCHEMA,
                b"{}".to_vec(),
                vec![],
                Expect::Absent,
            );
            let next = due.payload["every"]
                .as_i64()
                .map(|every| (due.at.plus_millis(every * 1000), due.payload.clone()));
            s.commit(due, batch, next).await?;
            self.done.notify_one();
            Ok(())
        })
    }
}

fn recorder(s: &Arc<Scheduler>) -> Arc<Recorder> {
    let r = Arc::new(Recorder::default());
    *r.scheduler.lock().unwrap() = Some(s.clone());
    s.register("test", r.clone());
    r
}

#[tokio::test]
async fn timers_fire_in_time_order_once_due_on_the_clock() {
    let f = fixture();
    let s = f.scheduler();
    let r = recorder(&s);
    f.set(&s, "late", 1_030).await;
    f.set(&s, "early", 1_010).await;
    f.set(&s, "middle", 1_020).await;
    assert_eq!(s.run_due().await.unwrap(), 0, "nothing is due yet");
    f.clock.advance_millis(20_000);
    assert_eq!(s.run_due().await.unwrap(), 2);
    assert_eq!(
        *r.fired.lock().unwrap(),
        vec![("early".to_string(), 1_010), ("middle".to_string(), 1_020)]
    );
    f.clock.advance_millis(60_000);
    assert_eq!(s.run_due().await.unwrap(), 1);
    assert_eq!(s.run_due().await.unwrap(), 0, "a completed timer is gone");
    assert_eq!(r.fired.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn setting_a_timer_again_moves_it() {
    let f = fixture();
    let s = f.scheduler();
    let r = recorder(&s);
    f.set(&s, "t", 1_010).await;
    f.set(&s, "t", 1_100).await;
    f.clock.advance_millis(50_000);
    assert_eq!(s.run_due().await.unwrap(), 0);
    f.clock.advance_millis(60_000);
    assert_eq!(s.run_due().await.unwrap(), 1);
    assert_eq!(*r.fired.lock().unwrap(), vec![("t".to_string(), 1_100)]);
}

#[tokio::test]
async fn a_repeating_timer_catches_up_in_one_run() {
    let f = fixture();
    let s = f.scheduler();
    let r = recorder(&s);
    s.track(&f.part).await.unwrap();
    let id = TimerId::new("test", "tick");
    let batch = Scheduler::set(
        Batch::new(f.part.key()),
        &id,
        Timestamp::from_secs(1_010),
        json!({"every": 10}),
        None,
    )
    .unwrap();
    f.store.commit(batch).await.unwrap();
    f.clock.advance_millis(35_000);
    assert_eq!(s.run_due().await.unwrap(), 3);
    let at: Vec<i64> = r.fired.lock().unwrap().iter().map(|x| x.1).collect();
    assert_eq!(at, vec![1_010, 1_020, 1_030]);
    assert_eq!(
        s.find(&f.part, &id).unwrap().unwrap().at,
        Timestamp::from_secs(1_040)
    );
}

#[tokio::test]
async fn two_schedulers_on_one_store_fire_a_timer_once() {
    let f = fixture();
    let (a, b) = (f.scheduler(), f.scheduler());
    let (ra, rb) = (recorder(&a), recorder(&b));
    for i in 0..20 {
        f.set(&a, &format!("t{i}"), 1_001 + i).await;
    }
    f.clock.advance_millis(60_000);
    let (x, y) = tokio::join!(a.run_due(), b.run_due());
    x.unwrap();
    y.unwrap();
    let mut all: Vec<String> = ra
        .fired
        .lock()
        .unwrap()
        .iter()
        .chain(rb.fired.lock().unwrap().iter())
        .map(|(n, _)| n.clone())
        .collect();
    // A handler may run on both; only one of them commits its effects with the completion.
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 20);
    let written = f.store.count(&f.part.key(), "fired", "", 100).unwrap();
    assert_eq!(written, 20, "each timer's effects written exactly once");
    assert_eq!(a.run_due().await.unwrap() + b.run_due().await.unwrap(), 0);
}

#[tokio::test]
async fn timers_survive_a_restart_and_a_failing_handler_retries_later() {
    let f = fixture();
    {
        let s = f.scheduler();
        f.set(&s, "kept", 1_010).await;
    }
    let store = Arc::new(SqliteStore::open(&f.dir.path().join("s.db")).unwrap());
    let s = Scheduler::new(store.clone(), f.clock.clone());
    let r = recorder(&s);
    *r.fail.lock().unwrap() = true;
    f.clock.advance_millis(10_000);
    assert_eq!(s.run_due().await.unwrap(), 1);
    assert!(r.fired.lock().unwrap().is_empty());
    *r.fail.lock().unwrap() = false;
    assert_eq!(s.run_due().await.unwrap(), 0, "retried after RETRY_MS only");
    f.clock.advance_millis(RETRY_MS);
    assert_eq!(s.run_due().await.unwrap(), 1);
    assert_eq!(r.fired.lock().unwrap()[0].0, "kept");
}

#[tokio::test]
async fn the_loop_fires_what_becomes_due() {
    let f = fixture();
    let s = f.scheduler();
    let r = recorder(&s);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = s.spawn(stopped);
    // Already due when written: the write itself wakes the loop.
    f.set(&s, "soon", 1_000).await;
    tokio::time::timeout(Duration::from_secs(30), r.done.notified())
        .await
        .expect("the loop fired the timer");
    assert_eq!(r.fired.lock().unwrap().len(), 1);
    stop.send(true).unwrap();
    task.await.unwrap();
}
