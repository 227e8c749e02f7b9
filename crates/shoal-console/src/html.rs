//! HTML made on the server: escaping, the page frame (navigation, the session's account and
//! region, its CSRF token for forms), and the pieces pages share: tables, pagers, progress
//! bars and SVG charts. No template engine and nothing fetched from elsewhere.

use std::fmt::Write;

/// Text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What a URL's query value or path segment may hold as it is: RFC 3986's unreserved
/// characters (so `sensor-1.a` stays readable).
const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A value for a URL's query or path segment.
pub fn url(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, UNRESERVED).to_string()
}

/// Who is signed in, as the frame shows it.
pub struct Frame<'a> {
    pub account: &'a str,
    pub region: &'a str,
    pub csrf: &'a str,
    pub read_only: bool,
}

const NAV: &[(&str, &str)] = &[
    ("devices", "Devices"),
    ("groups", "Groups"),
    ("overview", "Fleet overview"),
    ("jobs", "Jobs"),
    ("alarms", "Alarms"),
    ("logs", "Logs"),
    ("certificates", "Certificates"),
    ("tunnels", "Tunnels"),
];

/// A whole page: `section` marks the navigation entry, `body` is the page's own HTML.
pub fn page(title: &str, section: &str, frame: Option<&Frame<'_>>, body: &str) -> String {
    let mut h = String::with_capacity(body.len() + 2048);
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{} · Shoal</title><link rel=\"stylesheet\" href=\"/console/assets/console.css\"><script src=\"/console/assets/console.js\" defer></script></head><body>",
        esc(title)
    );
    h.push_str("<header><a class=\"brand\" href=\"/console/devices\">Shoal</a>");
    if let Some(f) = frame {
        h.push_str("<nav>");
        for (path, label) in NAV {
            let cur = if *path == section {
                " class=\"current\""
            } else {
                ""
            };
            let _ = write!(h, "<a href=\"/console/{path}\"{cur}>{label}</a>");
        }
        h.push_str("</nav>");
        let _ = write!(
            h,
            "<div class=\"who\"><span id=\"account\">{}</span> · <span id=\"region\">{}</span>{}<form method=\"post\" action=\"/console/logout\">{}<button>Sign out</button></form></div>",
            esc(f.account),
            esc(f.region),
            if f.read_only { " · <span class=\"ro\">read-only</span>" } else { "" },
            csrf_field(f.csrf)
        );
    }
    h.push_str("</header><main>");
    let _ = write!(h, "<h1>{}</h1>", esc(title));
    h.push_str(body);
    h.push_str("</main></body></html>");
    h
}

/// The hidden field every form that changes something carries.
pub fn csrf_field(token: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(token)
    )
}

/// A table: headers and rows of ready HTML cells.
pub fn table(id: &str, headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut h = format!("<table id=\"{}\"><thead><tr>", esc(id));
    for c in headers {
        let _ = write!(h, "<th>{}</th>", esc(c));
    }
    h.push_str("</tr></thead><tbody>");
    if rows.is_empty() {
        let _ = write!(
            h,
            "<tr><td colspan=\"{}\" class=\"empty\">Nothing here.</td></tr>",
            headers.len().max(1)
        );
    }
    for r in rows {
        h.push_str("<tr>");
        for c in r {
            let _ = write!(h, "<td>{c}</td>");
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table>");
    h
}

/// A link to the next page (the API's own token), keeping the other query parameters.
pub fn pager(base: &str, params: &[(&str, &str)], next: Option<&str>) -> String {
    match next {
        None => String::new(),
        Some(t) => {
            let mut q: Vec<String> = params
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| format!("{k}={}", url(v)))
                .collect();
            q.push(format!("next={}", url(t)));
            format!(
                "<p class=\"pager\"><a id=\"next-page\" href=\"{}?{}\">Next page →</a></p>",
                esc(base),
                esc(&q.join("&"))
            )
        }
    }
}

/// A horizontal bar of parts (label, count, css class) as percentages of their total.
pub fn progress(id: &str, parts: &[(&str, u64, &str)]) -> String {
    let total: u64 = parts.iter().map(|p| p.1).sum();
    let mut h = format!(
        "<div class=\"progress\" id=\"{}\" data-total=\"{total}\">",
        esc(id)
    );
    for (label, n, class) in parts {
        if *n == 0 || total == 0 {
            continue;
        }
        let pct = *n as f64 * 100.0 / total as f64;
        let _ = write!(
            h,
            "<span class=\"{class}\" style=\"width:{pct:.2}%\" title=\"{label}: {n}\"></span>"
        );
    }
    h.push_str("</div><ul class=\"legend\">");
    for (label, n, class) in parts {
        let _ = write!(
            h,
            "<li><i class=\"{class}\"></i>{} <b>{n}</b></li>",
            esc(label)
        );
    }
    h.push_str("</ul>");
    h
}

/// A line chart of (x, y) points as inline SVG, with the first and last x labels given.
pub fn line_chart(id: &str, points: &[(f64, f64)], x_labels: (&str, &str)) -> String {
    const W: f64 = 640.0;
    const H: f64 = 160.0;
    if points.is_empty() {
        return format!("<p class=\"empty\" id=\"{}\">No data yet.</p>", esc(id));
    }
    let (x0, x1) = points
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (y0, y1) = points
        .iter()
        .fold((0f64, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let sx = |x: f64| {
        if x1 > x0 {
            (x - x0) / (x1 - x0) * (W - 40.0) + 30.0
        } else {
            W / 2.0
        }
    };
    let sy = |y: f64| {
        if y1 > y0 {
            H - 20.0 - (y - y0) / (y1 - y0) * (H - 30.0)
        } else {
            H / 2.0
        }
    };
    let path: Vec<String> = points
        .iter()
        .map(|p| format!("{:.1},{:.1}", sx(p.0), sy(p.1)))
        .collect();
    let mut h = format!(
        "<svg id=\"{}\" class=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\"><polyline fill=\"none\" points=\"{}\"/>",
        esc(id),
        path.join(" ")
    );
    for p in points {
        let _ = write!(
            h,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\"><title>{}</title></circle>",
            sx(p.0),
            sy(p.1),
            p.1
        );
    }
    let _ = write!(
        h,
        "<text x=\"2\" y=\"12\">{}</text><text x=\"2\" y=\"{}\">{}</text><text x=\"30\" y=\"{}\">{}</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text></svg>",
        y1,
        H - 22.0,
        y0,
        H - 4.0,
        esc(x_labels.0),
        W - 10.0,
        H - 4.0,
        esc(x_labels.1)
    );
    h
}

/// A bar chart of labelled counts as inline SVG.
pub fn bar_chart(id: &str, bars: &[(String, f64)]) -> String {
    if bars.is_empty() {
        return format!("<p class=\"empty\" id=\"{}\">No data.</p>", esc(id));
    }
    let max = bars.iter().map(|b| b.1).fold(0f64, f64::max).max(1.0);
    let row = 22.0;
    let mut h = format!(
        "<svg id=\"{}\" class=\"chart bars\" viewBox=\"0 0 640 {}\" role=\"img\">",
        esc(id),
        row * bars.len() as f64 + 4.0
    );
    for (i, (label, v)) in bars.iter().enumerate() {
        let y = i as f64 * row + 2.0;
        let w = v / max * 400.0;
        let _ = write!(
            h,
            "<text x=\"0\" y=\"{:.0}\">{}</text><rect x=\"180\" y=\"{y:.0}\" width=\"{w:.1}\" height=\"16\"/><text x=\"{:.0}\" y=\"{:.0}\">{v}</text>",
            y + 13.0,
            esc(&label.chars().take(28).collect::<String>()),
            186.0 + w,
            y + 13.0
        );
    }
    h.push_str("</svg>");
    h
}

/// A time as `2026-12-07 21:40:05` UTC.
pub fn time(t: shoal_domain::Timestamp) -> String {
    let mut s = t.log_format();
    s.truncate(19);
    s
}

/// A notice at the top of a page (after a change, or an error).
pub fn notice(kind: &str, text: &str) -> String {
    format!(
        "<p class=\"notice {}\" role=\"status\">{}</p>",
        esc(kind),
        esc(text)
    )
}
