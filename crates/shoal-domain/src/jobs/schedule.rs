//! A job's schedule (`schedulingConfig`): when its rollout starts and ends, and the recurring
//! maintenance windows it may roll out in. Times are UTC `YYYY-MM-DDTHH:MM` strings as AWS
//! takes them; windows start on a cron expression of EventBridge's form
//! (`cron(minutes hours day-of-month month day-of-week year)`)
//! (https://docs.aws.amazon.com/iot/latest/developerguide/job-scheduling.html).

use super::config::SchedulingConfig;
use crate::clock::{civil_from_days, days_from_civil, Timestamp};
use crate::error::{Result, ServiceError};

const MINUTE: i64 = 60_000;
const DAY: i64 = 86_400_000;

fn days_in_month(y: i64, m: i64) -> i64 {
    let next = if m == 12 {
        days_from_civil(y + 1, 1, 1)
    } else {
        days_from_civil(y, m + 1, 1)
    };
    next - days_from_civil(y, m, 1)
}

/// Parses `YYYY-MM-DDTHH:MM` (seconds and a `Z` accepted) as UTC.
pub fn parse_date_time(s: &str) -> Option<Timestamp> {
    let t = s.trim().trim_end_matches('Z');
    let (date, time) = t.split_once(['T', ' '])?;
    let mut d = date.split('-');
    let (y, m, day) = (
        d.next()?.parse::<i64>().ok()?,
        d.next()?.parse::<i64>().ok()?,
        d.next()?.parse::<i64>().ok()?,
    );
    // Four-digit years only: nothing else is a date AWS takes, and the arithmetic stays small.
    if d.next().is_some()
        || !(1970..=9999).contains(&y)
        || !(1..=12).contains(&m)
        || day < 1
        || day > days_in_month(y, m)
    {
        return None;
    }
    let mut hm = time.split(':');
    let (h, min) = (
        hm.next()?.parse::<i64>().ok()?,
        hm.next()?.parse::<i64>().ok()?,
    );
    let sec = match hm.next() {
        Some(s) => s.split('.').next()?.parse::<i64>().ok()?,
        None => 0,
    };
    if hm.next().is_some()
        || !(0..24).contains(&h)
        || !(0..60).contains(&min)
        || !(0..60).contains(&sec)
    {
        return None;
    }
    Some(Timestamp(
        days_from_civil(y, m, day) * DAY + h * 3_600_000 + min * MINUTE + sec * 1000,
    ))
}

/// `YYYY-MM-DDTHH:MM` of a time (as `scheduledJobRollouts` shows window starts).
pub fn format_date_time(t: Timestamp) -> String {
    let days = t.0.div_euclid(DAY);
    let rest = t.0.rem_euclid(DAY);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}",
        rest / 3_600_000,
        (rest % 3_600_000) / MINUTE
    )
}

/// One field of a cron expression: the values it allows.
#[derive(Debug, Clone, PartialEq)]
struct Field(Vec<bool>);

impl Field {
    /// `*`, `?`, `n`, `a-b`, `a/s`, `*/s`, `a-b/s`, lists of these; names mapped by `name`.
    fn parse(s: &str, min: i64, max: i64, name: &dyn Fn(&str) -> Option<i64>) -> Option<Field> {
        let mut allowed = vec![false; (max + 1) as usize];
        let value = |v: &str| {
            v.parse::<i64>()
                .ok()
                .or_else(|| name(&v.to_ascii_uppercase()))
        };
        for part in s.split(',') {
            let (range, step) = match part.split_once('/') {
                Some((r, st)) => (r, st.parse::<i64>().ok().filter(|s| (1..=max).contains(s))?),
                None => (part, 1),
            };
            let (lo, hi) = match range {
                "*" | "?" => (min, max),
                r => match r.split_once('-') {
                    Some((a, b)) => (value(a)?, value(b)?),
                    None if step > 1 => (value(r)?, max),
                    None => {
                        let v = value(r)?;
                        (v, v)
                    }
                },
            };
            if lo < min || hi > max || lo > hi {
                return None;
            }
            let mut v = lo;
            while v <= hi {
                allowed[v as usize] = true;
                v += step;
            }
        }
        Some(Field(allowed))
    }

    fn has(&self, v: i64) -> bool {
        self.0.get(v as usize).copied().unwrap_or(false)
    }

    fn is_any(&self, min: i64) -> bool {
        self.0[min as usize..].iter().all(|b| *b)
    }
}

/// A cron expression of EventBridge's form. `L`, `W` and `#` are not supported.
#[derive(Debug, Clone, PartialEq)]
pub struct Cron {
    minutes: Field,
    hours: Field,
    days: Field,
    months: Field,
    /// 1 = Sunday .. 7 = Saturday.
    weekdays: Field,
    years: Option<Field>,
}

fn month_name(s: &str) -> Option<i64> {
    [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ]
    .iter()
    .position(|m| *m == s)
    .map(|i| i as i64 + 1)
}

fn day_name(s: &str) -> Option<i64> {
    ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
        .iter()
        .position(|d| *d == s)
        .map(|i| i as i64 + 1)
}

impl Cron {
    pub fn parse(expr: &str) -> Result<Cron> {
        let bad = || {
            ServiceError::invalid(format!(
                "Invalid cron expression {expr}: expected cron(minutes hours day-of-month month day-of-week year)"
            ))
        };
        let inner = expr
            .trim()
            .strip_prefix("cron(")
            .and_then(|e| e.strip_suffix(')'))
            .unwrap_or(expr.trim());
        let f: Vec<&str> = inner.split_whitespace().collect();
        if !(5..=6).contains(&f.len()) {
            return Err(bad());
        }
        let none = |_: &str| None;
        Ok(Cron {
            minutes: Field::parse(f[0], 0, 59, &none).ok_or_else(bad)?,
            hours: Field::parse(f[1], 0, 23, &none).ok_or_else(bad)?,
            days: Field::parse(f[2], 1, 31, &none).ok_or_else(bad)?,
            months: Field::parse(f[3], 1, 12, &month_name).ok_or_else(bad)?,
            weekdays: Field::parse(f[4], 1, 7, &day_name).ok_or_else(bad)?,
            years: match f.get(5) {
                Some(y) => Some(Field::parse(y, 1970, 2199, &none).ok_or_else(bad)?),
                None => None,
            },
        })
    }

    fn day_matches(&self, y: i64, m: i64, d: i64) -> bool {
        // 1970-01-01 was a Thursday (5 in 1 = Sunday numbering).
        let weekday = (days_from_civil(y, m, d) + 4).rem_euclid(7) + 1;
        let dom = self.days.has(d);
        let dow = self.weekdays.has(weekday);
        match (self.days.is_any(1), self.weekdays.is_any(1)) {
            (true, true) => true,
            (true, false) => dow,
            (false, true) => dom,
            (false, false) => dom || dow,
        }
    }

    /// The first time strictly after `t` (to the minute) the expression names, within five
    /// years.
    pub fn next_after(&self, t: Timestamp) -> Option<Timestamp> {
        let start = (t.0.div_euclid(MINUTE) + 1) * MINUTE;
        let first_day = start.div_euclid(DAY);
        let mut first_minute = start.rem_euclid(DAY) / MINUTE;
        for day in first_day..first_day + 366 * 5 {
            let (y, m, d) = civil_from_days(day);
            let year_ok = self.years.as_ref().is_none_or(|f| f.has(y));
            if year_ok && self.months.has(m) && self.day_matches(y, m, d) {
                for minute_of_day in first_minute..1440 {
                    let (h, min) = (minute_of_day / 60, minute_of_day % 60);
                    if self.hours.has(h) && self.minutes.has(min) {
                        return Some(Timestamp(day * DAY + minute_of_day * MINUTE));
                    }
                }
            }
            first_minute = 0;
        }
        None
    }
}

/// A schedule as the rollout uses it.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    pub end_behavior: String,
    pub windows: Vec<(Cron, i64)>,
}

impl Schedule {
    /// Checks a `schedulingConfig` against AWS's rules at `now`: a start 30 minutes to a year
    /// ahead, an end 30 minutes to two years ahead and 30 minutes to two years after the start,
    /// windows of 1 to 1430 minutes.
    pub fn of(c: &SchedulingConfig, now: Timestamp) -> Result<Schedule> {
        let s = Schedule::parse(c)?;
        let half_hour = 30 * MINUTE;
        let year = 365 * DAY;
        if let Some(st) = s.start {
            if st.0 < now.0 + half_hour || st.0 > now.0 + year {
                return Err(ServiceError::invalid(
                    "startTime must be at least 30 minutes and at most a year from now",
                ));
            }
        }
        if let Some(e) = s.end {
            if e.0 < now.0 + half_hour || e.0 > now.0 + 2 * year {
                return Err(ServiceError::invalid(
                    "endTime must be at least 30 minutes and at most two years from now",
                ));
            }
            if let Some(st) = s.start {
                if e.0 - st.0 < half_hour || e.0 - st.0 > 2 * year {
                    return Err(ServiceError::invalid(
                        "endTime must be between 30 minutes and two years after startTime",
                    ));
                }
            }
        }
        Ok(s)
    }

    /// A stored schedule as the rollout reads it (checked against the clock when made).
    pub fn parse(c: &SchedulingConfig) -> Result<Schedule> {
        let time = |field: &str, v: &Option<String>| -> Result<Option<Timestamp>> {
            match v {
                None => Ok(None),
                Some(s) => parse_date_time(s).map(Some).ok_or_else(|| {
                    ServiceError::invalid(format!(
                        "{field} {s} is not a date and time in the form YYYY-MM-DDTHH:MM"
                    ))
                }),
            }
        };
        let start = time("startTime", &c.start_time)?;
        let end = time("endTime", &c.end_time)?;
        if c.end_behavior.is_some() && end.is_none() {
            return Err(ServiceError::invalid("endBehavior needs an endTime"));
        }
        let mut windows = Vec::new();
        for w in &c.maintenance_windows {
            let expr = w["startTime"]
                .as_str()
                .ok_or_else(|| ServiceError::invalid("maintenanceWindows need a startTime"))?;
            if expr.is_empty() || expr.len() > 256 {
                return Err(ServiceError::invalid(
                    "A maintenance window's startTime has 1 to 256 characters",
                ));
            }
            let minutes = w["durationInMinutes"].as_i64().ok_or_else(|| {
                ServiceError::invalid("maintenanceWindows need a durationInMinutes")
            })?;
            if !(1..=1430).contains(&minutes) {
                return Err(ServiceError::invalid(
                    "durationInMinutes must be between 1 and 1430",
                ));
            }
            windows.push((Cron::parse(expr)?, minutes));
        }
        Ok(Schedule {
            start,
            end,
            end_behavior: c
                .end_behavior
                .clone()
                .unwrap_or_else(|| "STOP_ROLLOUT".to_string()),
            windows,
        })
    }

    /// Whether the rollout may release at `now`, and until when it may (the end of the open
    /// window, or the schedule's end); otherwise when it next may.
    pub fn rollout_at(&self, now: Timestamp) -> RolloutWindow {
        if self.end.is_some_and(|e| now >= e) {
            return RolloutWindow::Ended;
        }
        if let Some(s) = self.start.filter(|s| now < *s) {
            return RolloutWindow::Closed { opens: s };
        }
        if self.windows.is_empty() {
            return RolloutWindow::Open { closes: self.end };
        }
        // An open window: one whose last start is within its duration.
        let mut closes: Option<Timestamp> = None;
        for (cron, minutes) in &self.windows {
            let look_back = Timestamp(now.0 - minutes * MINUTE - MINUTE);
            let mut t = look_back;
            while let Some(s) = cron.next_after(t) {
                if s > now {
                    break;
                }
                let e = s.plus_millis(minutes * MINUTE);
                if e > now {
                    closes = Some(closes.map_or(e, |c| c.max(e)));
                }
                t = s;
            }
        }
        if let Some(c) = closes {
            let c = self.end.map_or(c, |e| e.min(c));
            return RolloutWindow::Open { closes: Some(c) };
        }
        match self.next_window_starts(now, 1).first() {
            Some(s) if self.end.is_none_or(|e| *s < e) => RolloutWindow::Closed { opens: *s },
            _ => RolloutWindow::Ended,
        }
    }

    /// The next `n` window starts after `now` (`scheduledJobRollouts`).
    pub fn next_window_starts(&self, now: Timestamp, n: usize) -> Vec<Timestamp> {
        let mut out: Vec<Timestamp> = Vec::new();
        for (cron, _) in &self.windows {
            let mut t = self.start.map_or(now, |s| s.max(now)).plus_millis(-1);
            for _ in 0..n {
                match cron.next_after(t) {
                    Some(s) => {
                        out.push(s);
                        t = s;
                    }
                    None => break,
                }
            }
        }
        out.sort();
        out.dedup();
        out.truncate(n);
        out
    }
}

/// Where the rollout stands on the schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolloutWindow {
    /// Releasing may go on, until `closes` when there is an end.
    Open { closes: Option<Timestamp> },
    /// Not yet (before the start, or between windows).
    Closed { opens: Timestamp },
    /// The end time passed (or no window will open before it).
    Ended,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        parse_date_time(s).unwrap()
    }

    #[test]
    fn date_times_are_utc_minutes() {
        assert_eq!(at("1970-01-01T00:01"), Timestamp(60_000));
        assert_eq!(at("2026-12-07T10:30"), at("2026-12-07T10:30:00Z"));
        assert_eq!(format_date_time(at("2024-02-29T23:59")), "2024-02-29T23:59");
        for bad in [
            "2026-13-01T00:00",
            "2026-02-30T00:00",
            "2026-01-01",
            "tomorrow",
            "2026-01-01T24:00",
        ] {
            assert!(parse_date_time(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn cron_expressions_name_their_next_minute() {
        // Saturdays at 22:00 (EventBridge: ? for the day of month).
        let c = Cron::parse("cron(0 22 ? * SAT *)").unwrap();
        let mon = at("2026-12-07T10:00"); // a Monday
        assert_eq!(c.next_after(mon), Some(at("2026-12-12T22:00")));
        assert_eq!(
            c.next_after(at("2026-12-12T22:00")),
            Some(at("2026-12-19T22:00"))
        );
        let every_15 = Cron::parse("0/15 * * * ? *").unwrap();
        assert_eq!(
            every_15.next_after(at("2026-12-07T10:07")),
            Some(at("2026-12-07T10:15"))
        );
        let weekdays = Cron::parse("cron(30 1 ? * MON-FRI *)").unwrap();
        assert_eq!(
            weekdays.next_after(at("2026-12-11T02:00")),
            Some(at("2026-12-14T01:30"))
        );
        let first = Cron::parse("cron(0 0 1 JAN ? 2027)").unwrap();
        assert_eq!(first.next_after(mon), Some(at("2027-01-01T00:00")));
        assert!(Cron::parse("cron(0 0 L * ? *)").is_err());
        assert!(Cron::parse("cron(61 * * * ? *)").is_err());
        assert!(Cron::parse("0 0").is_err());
        // Hostile steps and years are refused, not overflowed.
        assert!(Cron::parse("cron(1/9223372036854775807 * * * ? *)").is_err());
        assert!(parse_date_time("9223372036854775807-01-01T00:00").is_none());
    }

    #[test]
    fn schedules_open_and_close_the_rollout() {
        let now = at("2026-12-07T10:00");
        let cfg =
            |start: Option<&str>, end: Option<&str>, windows: serde_json::Value| SchedulingConfig {
                start_time: start.map(str::to_string),
                end_time: end.map(str::to_string),
                end_behavior: None,
                maintenance_windows: serde_json::from_value(windows).unwrap(),
            };
        let s = Schedule::of(
            &cfg(
                Some("2026-12-07T11:00"),
                Some("2026-12-08T11:00"),
                serde_json::json!([]),
            ),
            now,
        )
        .unwrap();
        assert_eq!(
            s.rollout_at(now),
            RolloutWindow::Closed {
                opens: at("2026-12-07T11:00")
            }
        );
        assert_eq!(
            s.rollout_at(at("2026-12-07T12:00")),
            RolloutWindow::Open {
                closes: Some(at("2026-12-08T11:00"))
            }
        );
        assert_eq!(s.rollout_at(at("2026-12-08T11:00")), RolloutWindow::Ended);
        for bad in [
            cfg(Some("2026-12-07T10:10"), None, serde_json::json!([])),
            cfg(Some("2028-12-07T10:10"), None, serde_json::json!([])),
            cfg(
                Some("2026-12-07T11:00"),
                Some("2026-12-07T11:10"),
                serde_json::json!([]),
            ),
            cfg(
                None,
                None,
                serde_json::json!([{"startTime": "cron(0 22 ? * SAT *)", "durationInMinutes": 1431}]),
            ),
        ] {
            assert!(Schedule::of(&bad, now).is_err(), "{bad:?}");
        }
        // Windows every day at 22:00 for two hours.
        let w = Schedule::of(
            &cfg(
                None,
                None,
                serde_json::json!([{"startTime": "cron(0 22 * * ? *)", "durationInMinutes": 120}]),
            ),
            now,
        )
        .unwrap();
        assert_eq!(
            w.rollout_at(now),
            RolloutWindow::Closed {
                opens: at("2026-12-07T22:00")
            }
        );
        assert_eq!(
            w.rollout_at(at("2026-12-07T23:30")),
            RolloutWindow::Open {
                closes: Some(at("2026-12-08T00:00"))
            }
        );
        assert_eq!(
            w.rollout_at(at("2026-12-08T00:00")),
            RolloutWindow::Closed {
                opens: at("2026-12-08T22:00")
            }
        );
        let next: Vec<String> = w
            .next_window_starts(now, 7)
            .into_iter()
            .map(format_date_time)
            .collect();
        assert_eq!(next.len(), 7);
        assert_eq!(next[0], "2026-12-07T22:00");
        assert_eq!(next[6], "2026-12-13T22:00");
    }
}

/// One wave of a rollout preview: when it is released, how many executions, at what rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wave {
    pub at: Timestamp,
    pub count: usize,
    /// Executions per minute then; `None` without a limit.
    pub rate: Option<u64>,
}

/// The waves a rollout releases `targets` executions in, from `now`, under its rate and
/// schedule, assuming every notified device succeeds at once (the exponential rate's
/// succeeded criterion); at most `max_waves`. Also how many are never released (the schedule
/// ends first).
pub fn preview_waves(
    config: &super::JobConfig,
    schedule: Option<&Schedule>,
    targets: usize,
    now: Timestamp,
    max_waves: usize,
) -> (Vec<Wave>, usize) {
    let mut waves = Vec::new();
    let mut released = 0usize;
    let mut t = now;
    while released < targets && waves.len() < max_waves {
        if let Some(s) = schedule {
            match s.rollout_at(t) {
                RolloutWindow::Ended => break,
                RolloutWindow::Closed { opens } => {
                    t = opens;
                    continue;
                }
                RolloutWindow::Open { .. } => {}
            }
        }
        let rate = config.rate_per_minute(released as u64, released as u64);
        let count = rate.map_or(targets - released, |r| (r as usize).min(targets - released));
        waves.push(Wave { at: t, count, rate });
        released += count;
        t = t.plus_millis(MINUTE);
    }
    (waves, targets - released)
}

#[cfg(test)]
mod preview_tests {
    use super::*;

    #[test]
    fn the_seeds_preview_and_a_windowed_one() {
        let c: crate::jobs::JobConfig = serde_json::from_value(serde_json::json!({
            "jobExecutionsRolloutConfig": {"maximumPerMinute": 1000, "exponentialRate": {
                "baseRatePerMinute": 10, "incrementFactor": 2.0,
                "rateIncreaseCriteria": {"numberOfSucceededThings": 5}}}
        }))
        .unwrap();
        let now = parse_date_time("2026-12-07T10:00").unwrap();
        let (waves, left) = preview_waves(&c, None, 100, now, 100);
        let counts: Vec<usize> = waves.iter().map(|w| w.count).collect();
        // 10 released (2 doublings of 5 succeeded) -> rate 40, then 50 in all -> capped by
        // what is left.
        assert_eq!(waves[0].rate, Some(10));
        assert_eq!(counts.iter().sum::<usize>(), 100);
        assert_eq!(left, 0);
        assert_eq!(waves[1].at, parse_date_time("2026-12-07T10:01").unwrap());
        let unlimited = preview_waves(&Default::default(), None, 7, now, 10).0;
        assert_eq!(
            unlimited,
            vec![Wave {
                at: now,
                count: 7,
                rate: None
            }]
        );
        let paced: crate::jobs::JobConfig = serde_json::from_value(serde_json::json!({
            "jobExecutionsRolloutConfig": {"maximumPerMinute": 2}
        }))
        .unwrap();
        let windows = Schedule::parse(&SchedulingConfig {
            start_time: None,
            end_time: None,
            end_behavior: None,
            maintenance_windows: vec![
                serde_json::json!({"startTime": "cron(0 22 * * ? *)", "durationInMinutes": 2}),
            ],
        })
        .unwrap();
        let (waves, _) = preview_waves(&paced, Some(&windows), 6, now, 10);
        let times: Vec<String> = waves.iter().map(|w| format_date_time(w.at)).collect();
        assert_eq!(
            times,
            ["2026-12-07T22:00", "2026-12-07T22:01", "2026-12-08T22:00"]
        );
    }
}
