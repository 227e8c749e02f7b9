//! Running stats queries: aggregations, `by` fields and `bin()`, commands after stats, merging.

use super::testing::{column, events, fields_of, run, run_split, Event};

/// Requests two per minute-and-a-half from 18:07:31, over three statuses.
fn requests() -> Vec<Event> {
    let mut ev = events(&[
        r#"{"status":200,"latency":10,"user":"ann"}"#,
        r#"{"status":200,"latency":20,"user":"bob"}"#,
        r#"{"status":500,"latency":300,"user":"ann"}"#,
        r#"{"status":404,"latency":5}"#,
        r#"{"status":200,"latency":15.5,"user":"cid"}"#,
        "not json",
    ]);
    for (i, e) in ev.iter_mut().enumerate() {
        e.timestamp += i as i64 * 90_000;
    }
    ev
}

#[test]
fn count_by_bin() {
    let r = run("stats count(*) by bin(5m)", &requests());
    // Events at 18:07:31, :09:02, :10:33, :12:04, :13:35, :15:06.
    assert_eq!(fields_of(&r.rows[0]), ["bin(5m)", "count(*)"]);
    assert_eq!(
        column(&r, "bin(5m)"),
        [
            "2019-09-12 18:05:00.000",
            "2019-09-12 18:10:00.000",
            "2019-09-12 18:15:00.000"
        ]
    );
    assert_eq!(column(&r, "count(*)"), ["2", "3", "1"]);
    assert_eq!(r.records_matched, 6);
}

#[test]
fn aggregation_functions() {
    let r = run(
        "stats count(*) as n, count(user) as users, count_distinct(user) as distinct, sum(latency), avg(latency) as mean, min(latency), max(latency), min(@timestamp) as first",
        &requests(),
    );
    assert_eq!(r.rows.len(), 1);
    assert_eq!(
        fields_of(&r.rows[0]),
        [
            "n",
            "users",
            "distinct",
            "sum(latency)",
            "mean",
            "min(latency)",
            "max(latency)",
            "first"
        ]
    );
    assert_eq!(column(&r, "n"), ["6"]);
    assert_eq!(column(&r, "users"), ["4"]);
    assert_eq!(column(&r, "distinct"), ["3"]);
    assert_eq!(column(&r, "sum(latency)"), ["350.5"]);
    assert_eq!(column(&r, "mean"), ["70.1"]);
    assert_eq!(column(&r, "min(latency)"), ["5"]);
    assert_eq!(column(&r, "max(latency)"), ["300"]);
    assert_eq!(column(&r, "first"), ["2019-09-12 18:07:31.000"]);
}

#[test]
fn group_by_fields() {
    let r = run(
        "filter ispresent(status) | stats count(*) as n, avg(latency) by status",
        &requests(),
    );
    assert_eq!(fields_of(&r.rows[0]), ["status", "n", "avg(latency)"]);
    assert_eq!(column(&r, "status"), ["200", "404", "500"]);
    assert_eq!(column(&r, "n"), ["3", "1", "1"]);
    assert_eq!(
        column(&r, "avg(latency)"),
        [
            "15.1666666666666667".parse::<f64>().unwrap().to_string(),
            "5".into(),
            "300".into()
        ]
    );
    // A missing group value is a group of its own, without that field.
    let r = run("stats count(*) by user", &requests());
    assert_eq!(column(&r, "user"), ["ann", "bob", "cid", ""]);
    assert_eq!(column(&r, "count(*)"), ["2", "1", "1", "2"]);
    assert_eq!(fields_of(&r.rows[3]), ["count(*)"]);
}

#[test]
fn commands_after_stats() {
    let ev = requests();
    // Ties keep the groups' order (by key), which makes `sort` stable here.
    let r = run("stats count(*) as n by status | sort n desc | limit 2", &ev);
    assert_eq!(column(&r, "status"), ["200", "404"]);
    let r = run(
        "stats count(*) by user | sort count(*) desc, user | display user",
        &ev,
    );
    assert_eq!(r.rows[0], vec![("user".to_string(), "ann".to_string())]);
    let r = run(
        "stats sum(latency) as total by user | filter total > 20 | fields total * 2 as twice",
        &ev,
    );
    assert_eq!(column(&r, "user"), ["ann"]);
    assert_eq!(column(&r, "twice"), ["620"]);
    // Items may use earlier items' names.
    let r = run(
        "stats max(latency) as hi, min(latency) as lo, hi - lo as spread",
        &ev,
    );
    assert_eq!(column(&r, "spread"), ["295"]);
    // No stats row carries @ptr.
    assert!(r.rows.iter().flatten().all(|(f, _)| f != "@ptr"));
}

#[test]
fn no_match_no_rows() {
    let r = run("filter status = 999 | stats count(*)", &requests());
    assert!(r.rows.is_empty());
    assert_eq!((r.records_scanned, r.records_matched), (6, 0));
}

#[test]
fn lambda_memory_sample() {
    let ev = events(&[
        r#"{"@type":"REPORT","@memorySize":512000000,"@maxMemoryUsed":100000000}"#,
        r#"{"@type":"REPORT","@memorySize":512000000,"@maxMemoryUsed":300000000}"#,
        r#"{"@type":"START"}"#,
    ]);
    let r = run(
        "filter @type = \"REPORT\" | stats max(@memorySize / 1000 / 1000) as provisonedMemoryMB, min(@maxMemoryUsed / 1000 / 1000) as smallestMemoryRequestMB, avg(@maxMemoryUsed / 1000 / 1000) as avgMemoryUsedMB, max(@maxMemoryUsed / 1000 / 1000) as maxMemoryUsedMB, provisonedMemoryMB - maxMemoryUsedMB as overProvisionedMB",
        &ev,
    );
    assert_eq!(
        r.rows,
        vec![vec![
            ("provisonedMemoryMB".to_string(), "512".to_string()),
            ("smallestMemoryRequestMB".to_string(), "100".to_string()),
            ("avgMemoryUsedMB".to_string(), "200".to_string()),
            ("maxMemoryUsedMB".to_string(), "300".to_string()),
            ("overProvisionedMB".to_string(), "212".to_string()),
        ]]
    );
}

#[test]
fn parsed_fields_group() {
    let ev = events(&[
        "user=ann, method:GET, latency := 10",
        "user=bob, method:GET, latency := 30",
        "user=ann, method:GET, latency := 20",
        "user=ann, method:PUT, latency := 7",
    ]);
    let r = run(
        "parse @message \"user=*, method:*, latency := *\" as @user, @method, @latency | stats avg(@latency) by @method, @user",
        &ev,
    );
    assert_eq!(column(&r, "@method"), ["GET", "GET", "PUT"]);
    assert_eq!(column(&r, "@user"), ["ann", "bob", "ann"]);
    assert_eq!(column(&r, "avg(@latency)"), ["15", "30", "7"]);
}

#[test]
fn calendar_bins() {
    let r = run(
        "stats count(*) by bin(1mo), datefloor(@timestamp, 1h) as hour",
        &requests(),
    );
    assert_eq!(column(&r, "bin(1mo)"), ["2019-09-01 00:00:00.000"; 1]);
    assert_eq!(column(&r, "hour"), ["2019-09-12 18:00:00.000"]);
}

#[test]
fn merged_halves_answer_as_one_run() {
    let ev = requests();
    for q in [
        "stats count(*), count_distinct(user), sum(latency), avg(latency), min(latency), max(latency) by bin(5m)",
        "stats count(*) as n by status | sort n desc",
        "stats max(latency) as hi, min(latency) as lo, hi - lo as spread",
    ] {
        let whole = run(q, &ev);
        for at in 0..=ev.len() {
            assert_eq!(run_split(q, &ev, at), whole, "{q} split at {at}");
        }
    }
}
