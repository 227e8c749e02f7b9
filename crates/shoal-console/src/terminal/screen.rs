//! The terminal's screen as HTML, rendered on the server from the terminal state (`vt100`
//! interprets what the remote program writes): one line per row, runs of cells with the same
//! attributes in one `<span>`. The 16 ANSI colours are classes (the console's CSS holds the
//! palette); the 256-colour cube, its greys and 24-bit colours are inline styles, which the
//! console's Content-Security-Policy allows for styles only. Text is escaped, so nothing a
//! device prints becomes markup.

use crate::html::esc;
use std::fmt::Write;
use vt100::{Cell, Color, Screen};

/// How one cell looks: compared per cell without allocating, written out only where it
/// changes along a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Look {
    fg: Color,
    bg: Color,
    bold: bool,
    dim: bool,
    italic: bool,
    underline: bool,
    inverse: bool,
    cursor: bool,
}

/// A colour as a class (`f3`, `b12`) or a CSS colour for an inline style.
enum Paint {
    Default,
    Class(u8),
    Css(String),
}

fn paint(c: Color) -> Paint {
    match c {
        Color::Default => Paint::Default,
        Color::Idx(i) if i < 16 => Paint::Class(i),
        Color::Idx(i) => {
            let (r, g, b) = xterm_256(i);
            Paint::Css(format!("#{r:02x}{g:02x}{b:02x}"))
        }
        Color::Rgb(r, g, b) => Paint::Css(format!("#{r:02x}{g:02x}{b:02x}")),
    }
}

/// xterm's colours 16 to 255: a 6×6×6 cube (levels 0, 95, 135, 175, 215, 255), then 24 greys
/// from 8 in steps of 10.
fn xterm_256(i: u8) -> (u8, u8, u8) {
    if i >= 232 {
        let v = 8 + (i - 232) * 10;
        return (v, v, v);
    }
    let n = i - 16;
    let level = |v: u8| if v == 0 { 0 } else { 55 + v * 40 };
    (level(n / 36), level((n / 6) % 6), level(n % 6))
}

fn look(cell: &Cell, cursor: bool) -> Look {
    Look {
        fg: cell.fgcolor(),
        bg: cell.bgcolor(),
        bold: cell.bold(),
        dim: cell.dim(),
        italic: cell.italic(),
        underline: cell.underline(),
        inverse: cell.inverse(),
        cursor,
    }
}

/// Opens a `<span>` for `l`; false when the default look needs none.
fn open(out: &mut String, l: &Look) -> bool {
    if *l == Look::default() {
        return false;
    }
    let (mut fg, mut bg) = (paint(l.fg), paint(l.bg));
    let mut classes: Vec<String> = Vec::new();
    if l.inverse {
        std::mem::swap(&mut fg, &mut bg);
        // Default colours swapped: the screen's background as text, its text colour behind.
        if matches!(fg, Paint::Default) {
            classes.push("fD".into());
        }
        if matches!(bg, Paint::Default) {
            classes.push("bD".into());
        }
    }
    let mut style = String::new();
    match fg {
        Paint::Class(i) => classes.push(format!("f{i}")),
        Paint::Css(c) => {
            let _ = write!(style, "color:{c};");
        }
        Paint::Default => {}
    }
    match bg {
        Paint::Class(i) => classes.push(format!("b{i}")),
        Paint::Css(c) => {
            let _ = write!(style, "background:{c};");
        }
        Paint::Default => {}
    }
    for (on, class) in [
        (l.bold, "B"),
        (l.dim, "D"),
        (l.italic, "I"),
        (l.underline, "U"),
        (l.cursor, "cur"),
    ] {
        if on {
            classes.push(class.into());
        }
    }
    out.push_str("<span");
    if !classes.is_empty() {
        let _ = write!(out, " class=\"{}\"", classes.join(" "));
    }
    if !style.is_empty() {
        let _ = write!(out, " style=\"{style}\"");
    }
    out.push('>');
    true
}

/// The screen as the inner HTML of the terminal's `<pre>`.
pub fn html(screen: &Screen) -> String {
    let (rows, cols) = screen.size();
    let (rows, cols) = (rows.get(), cols.get());
    let (crow, ccol) = screen.cursor_position();
    let show_cursor = !screen.hide_cursor();
    let mut out = String::with_capacity(rows as usize * (cols as usize + 8));
    let mut text = String::with_capacity(cols as usize * 4);
    for row in 0..rows {
        if row > 0 {
            out.push('\n');
        }
        let mut current = Look::default();
        let mut spanned = false;
        text.clear();
        for col in 0..cols {
            let Some(cell) = screen.cell(row, col) else {
                continue;
            };
            if cell.is_wide_continuation() {
                continue;
            }
            let l = look(cell, show_cursor && row == crow && col == ccol);
            if l != current {
                out.push_str(&esc(&text));
                text.clear();
                if spanned {
                    out.push_str("</span>");
                }
                spanned = open(&mut out, &l);
                current = l;
            }
            if cell.has_contents() {
                text.push_str(cell.contents());
            } else {
                text.push(' ');
            }
        }
        // Trailing blanks in the default look are left out: the line is shorter, not different.
        if !spanned {
            text.truncate(text.trim_end_matches(' ').len());
        }
        out.push_str(&esc(&text));
        if spanned {
            out.push_str("</span>");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(rows: u16, cols: u16, input: &[u8]) -> String {
        let nz = |v| std::num::NonZeroU16::new(v).unwrap();
        let mut p = vt100::Parser::new(nz(rows), nz(cols), 0);
        p.process(input);
        html(p.screen())
    }

    #[test]
    fn text_is_escaped_and_the_cursor_shown() {
        assert_eq!(
            render(2, 5, b"<&>\r\n\""),
            "&lt;&amp;&gt;\n&quot;<span class=\"cur\"> </span>"
        );
    }

    #[test]
    fn colours_attributes_and_cursor_become_spans() {
        // Red bold "ab", default "c", then the cursor after it.
        let h = render(1, 6, b"\x1b[1;31mab\x1b[0mc");
        assert_eq!(
            h,
            "<span class=\"f1 B\">ab</span>c<span class=\"cur\"> </span>"
        );
        // 256 colours and 24-bit colours are inline styles; a hidden cursor is not drawn.
        let h = render(1, 4, b"\x1b[?25l\x1b[38;5;196mx\x1b[48;2;1;2;3my");
        assert_eq!(
            h,
            "<span style=\"color:#ff0000;\">x</span><span style=\"color:#ff0000;background:#010203;\">y</span>"
        );
        // Inverse video with default colours swaps them.
        let h = render(1, 3, b"\x1b[?25l\x1b[7mz");
        assert_eq!(h, "<span class=\"fD bD\">z</span>");
    }

    #[test]
    fn the_palette_follows_xterm() {
        assert_eq!(xterm_256(16), (0, 0, 0));
        assert_eq!(xterm_256(21), (0, 0, 255));
        assert_eq!(xterm_256(196), (255, 0, 0));
        assert_eq!(xterm_256(232), (8, 8, 8));
        assert_eq!(xterm_256(255), (238, 238, 238));
    }

    #[test]
    fn wide_characters_take_one_cell_of_text() {
        let h = render(1, 6, "\x1b[?25l日本".as_bytes());
        assert_eq!(h, "日本");
    }
}
