use super::alarm::*;
use super::stats::{Sample, Stat};
use super::*;
use crate::Timestamp;

fn alarm(cmp: Comparison, threshold: f64, periods: i64, m: Option<i64>) -> MetricAlarm {
    MetricAlarm {
        name: "a".into(),
        description: None,
        actions_enabled: true,
        ok_actions: vec![],
        alarm_actions: vec![],
        insufficient_data_actions: vec![],
        metric: MetricId::new("IoTFleetMetrics", "m", vec![]).unwrap(),
        statistic: "Average".into(),
        extended: false,
        period: 60,
        unit: None,
        evaluation_periods: periods,
        datapoints_to_alarm: m,
        threshold,
        comparison: cmp,
        treat_missing_data: None,
        state: State::InsufficientData,
        state_reason: String::new(),
        state_reason_data: None,
        state_updated: Timestamp(0),
        state_transitioned: Timestamp(0),
        configuration_updated: Timestamp(0),
        tags: vec![],
    }
}

fn buckets(values: &[Option<f64>]) -> Vec<Bucket> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| Bucket {
            start: Timestamp(1_000_000_000 - i as i64 * 60_000),
            value: v.map(|v| (v, 1.0)),
        })
        .collect()
}

#[test]
fn statistics_of_statistic_sets() {
    let s = [Sample::value(1.0), Sample::value(4.0), Sample::value(7.0)];
    assert_eq!(Stat::SampleCount.of(&s), Some(3.0));
    assert_eq!(Stat::Sum.of(&s), Some(12.0));
    assert_eq!(Stat::Average.of(&s), Some(4.0));
    assert_eq!(Stat::Minimum.of(&s), Some(1.0));
    assert_eq!(Stat::Maximum.of(&s), Some(7.0));
    assert_eq!(Stat::Percentile(50.0).of(&s), Some(4.0));
    assert_eq!(Stat::Percentile(100.0).of(&s), Some(7.0));
    assert_eq!(Stat::Percentile(0.0).of(&s), Some(1.0));
    assert_eq!(Stat::Average.of(&[]), None);
    assert!(Stat::parse("Statistic", "p99.9").is_ok());
    assert!(Stat::parse("Statistic", "p101").is_err());
    assert!(Stat::parse("Statistic", "tm99").is_err());
    assert!(Stat::parse("Statistic", "average").is_err());
}

#[test]
fn metric_keys_sort_dimensions_and_refuse_repeats() {
    let a = MetricId::new(
        "ns",
        "m",
        vec![("b".into(), "2".into()), ("a".into(), "1".into())],
    )
    .unwrap();
    let b = MetricId::new(
        "ns",
        "m",
        vec![("a".into(), "1".into()), ("b".into(), "2".into())],
    )
    .unwrap();
    assert_eq!(a.key(), b.key());
    assert!(a
        .key()
        .starts_with(&MetricId::prefix(Some("ns"), Some("m"))));
    assert!(MetricId::new(
        "ns",
        "m",
        vec![("a".into(), "1".into()), ("a".into(), "2".into())]
    )
    .is_err());
    assert!(MetricId::new("n:s", "m", vec![]).is_err());
    assert!(MetricId::new("ns", "", vec![]).is_err());
    assert!(a.matches(&[("a".into(), None)]));
    assert!(a.matches(&[("a".into(), Some("1".into()))]));
    assert!(!a.matches(&[("a".into(), Some("2".into()))]));
}

#[test]
fn periods_are_high_resolution_or_minutes() {
    for ok in [1, 5, 10, 20, 30, 60, 120, 3600] {
        assert!(check_period("Period", ok).is_ok(), "{ok}");
    }
    for bad in [0, 2, 45, 61, 90, -60, 367 * 86_400, i64::MAX - 7] {
        assert!(check_period("Period", bad).is_err(), "{bad}");
    }
}

#[test]
fn an_alarm_breaches_with_enough_datapoints() {
    let a = alarm(Comparison::LessThanOrEqualToThreshold, 2.0, 3, Some(2));
    let e = evaluate(
        &a,
        &buckets(&[Some(1.0), Some(5.0), Some(2.0)]),
        Timestamp(1_000_000_000),
    );
    assert_eq!(e.state, Some(State::Alarm));
    assert!(
        e.reason
            .starts_with("Threshold Crossed: 2 out of the last 3 datapoints"),
        "{}",
        e.reason
    );
    assert!(
        e.reason
            .contains("less than or equal to the threshold (2.0)"),
        "{}",
        e.reason
    );
    let e = evaluate(
        &a,
        &buckets(&[Some(1.0), Some(5.0), Some(3.0)]),
        Timestamp(1_000_000_000),
    );
    assert_eq!(e.state, Some(State::Ok));
    let d: serde_json::Value = serde_json::from_str(&e.data).unwrap();
    assert_eq!(d["recentDatapoints"], serde_json::json!([1.0, 5.0, 3.0]));
    assert_eq!(d["statistic"], "Average");
}

#[test]
fn missing_data_is_treated_as_configured() {
    let mut a = alarm(Comparison::GreaterThanThreshold, 10.0, 2, None);
    let none = buckets(&[None, None]);
    let now = Timestamp(1_000_000_000);
    assert_eq!(
        evaluate(&a, &none, now).state,
        Some(State::InsufficientData)
    );
    a.treat_missing_data = Some(MissingData::Ignore);
    assert_eq!(evaluate(&a, &none, now).state, None);
    a.treat_missing_data = Some(MissingData::Breaching);
    assert_eq!(evaluate(&a, &none, now).state, Some(State::Alarm));
    // One breaching value and one missing bucket treated as breaching make two.
    assert_eq!(
        evaluate(&a, &buckets(&[Some(11.0), None]), now).state,
        Some(State::Alarm)
    );
    a.treat_missing_data = Some(MissingData::NotBreaching);
    assert_eq!(evaluate(&a, &none, now).state, Some(State::Ok));
    assert_eq!(
        evaluate(&a, &buckets(&[Some(11.0), None]), now).state,
        Some(State::Ok)
    );
}

#[test]
fn fewer_datapoints_than_needed_all_breaching() {
    // `- - X` with 3 of 3: ALARM for missing, unchanged for ignore, ALARM for breaching (three
    // breaching), OK for notBreaching; `- - O`: OK for all (two of three breach at most).
    let mut a = alarm(Comparison::GreaterThanThreshold, 10.0, 3, None);
    let now = Timestamp(1_000_000_000);
    let x = buckets(&[Some(11.0), None, None]);
    let o = buckets(&[Some(9.0), None, None]);
    for (treat, on_x, on_o) in [
        (MissingData::Missing, Some(State::Alarm), Some(State::Ok)),
        (MissingData::Ignore, None, Some(State::Ok)),
        (MissingData::Breaching, Some(State::Alarm), Some(State::Ok)),
        (MissingData::NotBreaching, Some(State::Ok), Some(State::Ok)),
    ] {
        a.treat_missing_data = Some(treat);
        assert_eq!(evaluate(&a, &x, now).state, on_x, "{treat:?} X");
        assert_eq!(evaluate(&a, &o, now).state, on_o, "{treat:?} O");
    }
}

#[test]
fn windows_are_aligned_to_the_period() {
    let w = window(60, 3, Timestamp(125_000));
    assert_eq!(w, vec![Timestamp(120_000), Timestamp(60_000), Timestamp(0)]);
}

#[test]
fn definitions_are_checked() {
    let mut a = alarm(Comparison::GreaterThanThreshold, 1.0, 2, Some(3));
    assert!(a.check().is_err());
    a.datapoints_to_alarm = Some(2);
    assert!(a.check().is_ok());
    a.period = 45;
    assert!(a.check().is_err());
    for p in [1, 5] {
        a.period = p;
        assert!(a.check().is_err(), "an alarm's period {p}");
    }
    a.period = 3600;
    a.evaluation_periods = 25;
    a.datapoints_to_alarm = None;
    assert!(a.check().is_err());
    assert!(Comparison::parse("LessThanLowerOrGreaterThanUpperThreshold").is_err());
    assert!(check_name(&"x".repeat(256)).is_err());
}

#[test]
fn times_are_written_as_cloudwatch_does() {
    let t = Timestamp(1_796_679_605_123); // 2026-12-07T21:40:05.123Z
    assert_eq!(iso_time(t), "2026-12-07T21:40:05.123+0000");
    assert_eq!(reason_time(t), "07/12/26 21:40:05");
}
