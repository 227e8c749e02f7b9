//! The bytes a key sends, as xterm sends them: the browser reports the key (`KeyboardEvent.key`
//! with Ctrl and Alt), the terminal's state decides (cursor keys in application mode send
//! `ESC O x` instead of `ESC [ x`, as the remote program asked with DECCKM). Reference:
//! xterm's control sequences (https://invisible-island.net/xterm/ctlseqs/ctlseqs.html),
//! "PC-Style Function Keys" and "VT100-style cursor keys".

/// A key press from the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub key: String,
    pub ctrl: bool,
    pub alt: bool,
}

/// The bytes for `k`, or none for a key the terminal does not send (Shift alone, F13...).
pub fn bytes(k: &Key, application_cursor: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chars = k.key.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        if k.alt {
            out.push(0x1b);
        }
        match (k.ctrl, control(c)) {
            (true, Some(b)) => out.push(b),
            _ => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
        return out;
    }
    let cursor = |x: char| {
        if application_cursor {
            format!("\x1bO{x}")
        } else {
            format!("\x1b[{x}")
        }
    };
    let seq = match k.key.as_str() {
        "Enter" => "\r".to_string(),
        "Backspace" => "\x7f".to_string(),
        "Tab" => "\t".to_string(),
        "Escape" => "\x1b".to_string(),
        "ArrowUp" => cursor('A'),
        "ArrowDown" => cursor('B'),
        "ArrowRight" => cursor('C'),
        "ArrowLeft" => cursor('D'),
        "Home" => cursor('H'),
        "End" => cursor('F'),
        "Insert" => "\x1b[2~".to_string(),
        "Delete" => "\x1b[3~".to_string(),
        "PageUp" => "\x1b[5~".to_string(),
        "PageDown" => "\x1b[6~".to_string(),
        "F1" => "\x1bOP".to_string(),
        "F2" => "\x1bOQ".to_string(),
        "F3" => "\x1bOR".to_string(),
        "F4" => "\x1bOS".to_string(),
        f => match function_key(f) {
            Some(n) => format!("\x1b[{n}~"),
            None => return out,
        },
    };
    if k.alt {
        out.push(0x1b);
    }
    out.extend_from_slice(seq.as_bytes());
    out
}

/// Ctrl with a character: the C0 code it names (Ctrl+A is 1 ... Ctrl+Z is 26, Ctrl+[ is ESC,
/// Ctrl+Space and Ctrl+@ are NUL, Ctrl+? is DEL).
fn control(c: char) -> Option<u8> {
    match c {
        'a'..='z' => Some(c as u8 - b'a' + 1),
        'A'..='Z' => Some(c as u8 - b'A' + 1),
        '@' | ' ' | '2' => Some(0),
        '[' | '3' => Some(0x1b),
        '\\' | '4' => Some(0x1c),
        ']' | '5' => Some(0x1d),
        '^' | '6' => Some(0x1e),
        '_' | '7' | '-' => Some(0x1f),
        '?' | '8' => Some(0x7f),
        _ => None,
    }
}

/// F5 to F12 as `CSI n ~`.
fn function_key(name: &str) -> Option<u8> {
    Some(match name {
        "F5" => 15,
        "F6" => 17,
        "F7" => 18,
        "F8" => 19,
        "F9" => 20,
        "F10" => 21,
        "F11" => 23,
        "F12" => 24,
        _ => return None,
    })
}

/// Pasted text: in bracketed-paste mode (the program asked with `CSI ? 2004 h`) it is wrapped
/// so the program knows it was not typed; the closing marker inside the text is dropped so a
/// paste cannot end the bracket early. Newlines become carriage returns, as a terminal types
/// Enter.
pub fn paste(text: &str, bracketed: bool) -> Vec<u8> {
    let text = text.replace("\r\n", "\r").replace('\n', "\r");
    if bracketed {
        let inner = text.replace("\x1b[201~", "");
        format!("\x1b[200~{inner}\x1b[201~").into_bytes()
    } else {
        text.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str, ctrl: bool, alt: bool) -> Key {
        Key {
            key: k.to_string(),
            ctrl,
            alt,
        }
    }

    #[test]
    fn keys_send_what_xterm_sends() {
        let table: &[(&str, bool, bool, bool, &[u8])] = &[
            ("a", false, false, false, b"a"),
            ("\u{e9}", false, false, false, "\u{e9}".as_bytes()),
            ("c", true, false, false, &[3]),
            ("C", true, false, false, &[3]),
            ("[", true, false, false, &[0x1b]),
            (" ", true, false, false, &[0]),
            ("x", false, true, false, b"\x1bx"),
            ("1", true, false, false, b"1"),
            ("Enter", false, false, false, b"\r"),
            ("Backspace", false, false, false, &[0x7f]),
            ("Tab", false, false, false, b"\t"),
            ("Escape", false, false, false, &[0x1b]),
            ("ArrowUp", false, false, false, b"\x1b[A"),
            ("ArrowUp", false, false, true, b"\x1bOA"),
            ("ArrowLeft", false, false, false, b"\x1b[D"),
            ("Home", false, false, false, b"\x1b[H"),
            ("End", false, false, true, b"\x1bOF"),
            ("Delete", false, false, false, b"\x1b[3~"),
            ("PageDown", false, false, false, b"\x1b[6~"),
            ("F1", false, false, false, b"\x1bOP"),
            ("F5", false, false, false, b"\x1b[15~"),
            ("F12", false, false, false, b"\x1b[24~"),
            ("ArrowDown", false, true, false, b"\x1b\x1b[B"),
            ("Shift", false, false, false, b""),
            ("F13", false, false, false, b""),
            ("Unidentified", false, false, false, b""),
        ];
        for (k, ctrl, alt, app, want) in table {
            assert_eq!(
                bytes(&key(k, *ctrl, *alt), *app),
                want.to_vec(),
                "{k} ctrl={ctrl} alt={alt} app={app}"
            );
        }
    }

    #[test]
    fn pastes_are_bracketed_when_asked_and_cannot_close_the_bracket() {
        assert_eq!(paste("ls\n", false), b"ls\r".to_vec());
        assert_eq!(paste("a\x1b[201~b", true), b"\x1b[200~ab\x1b[201~".to_vec());
    }
}
