//! report.html: report.md as one self-contained page — the same text, tables and claims, the
//! figures inline as base64 PNG, no external file, script or font — so a reader opens one file.
//! A converter for the markdown report.md is made of (ATX headings, pipe tables, lists,
//! paragraphs, fenced code, raw HTML lines such as `<details>`, and inline code, bold,
//! emphasis, links and images); a link to anything but an anchor of the page keeps its text
//! and shows its target, so the page points nowhere outside itself.

use anyhow::{Context, Result};
use std::fmt::Write;
use std::path::Path;

const STYLE: &str = "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.45;color:#222}\
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}\
th,td{border:1px solid #ccc;padding:0.25em 0.5em;text-align:left;vertical-align:top}\
th{background:#f0f0f0}tr:nth-child(even) td{background:#fafafa}\
img{max-width:100%;height:auto;border:1px solid #ddd;margin:0.5em 0}\
code{background:#f4f4f4;padding:0 0.2em}pre{background:#f4f4f4;padding:0.5em;overflow-x:auto}\
nav{background:#f7f7f7;border:1px solid #ddd;padding:0.5em 1em}nav li{margin:0.1em 0}\
h1,h2,h3,h4{margin-top:1.4em}";

/// The page for `md`, its images (relative paths) read from `dir` and inlined.
pub fn page(title: &str, md: &str, dir: &Path) -> Result<String> {
    let mut body = String::new();
    let mut toc = Vec::new();
    render_blocks(md, dir, &mut body, &mut toc)?;
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(title)
    );
    // the contents after the title and its first paragraph
    let mut nav = String::new();
    if !toc.is_empty() {
        nav += "<nav><strong>Contents</strong><ul>\n";
        for (id, text) in &toc {
            let _ = writeln!(nav, "<li><a href=\"#{id}\">{text}</a></li>");
        }
        nav += "</ul></nav>\n";
    }
    let at = body
        .find("</h1>\n")
        .map(|h| {
            let after = h + "</h1>\n".len();
            match body[after..].starts_with("<p>") {
                true => body[after..]
                    .find("</p>\n")
                    .map_or(after, |p| after + p + 5),
                false => after,
            }
        })
        .unwrap_or(0);
    body.insert_str(at, &nav);
    html += &body;
    html += "</body>\n</html>\n";
    Ok(html)
}

fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o += "&amp;",
            '<' => o += "&lt;",
            '>' => o += "&gt;",
            '"' => o += "&quot;",
            c => o.push(c),
        }
    }
    o
}

/// A heading's anchor: lower-case letters and digits, the rest as single dashes.
fn slug(s: &str, used: &mut Vec<String>) -> String {
    let mut o = String::new();
    for c in s.chars() {
        if c.is_alphanumeric() {
            o.extend(c.to_lowercase());
        } else if !o.ends_with('-') {
            o.push('-');
        }
    }
    let base = o.trim_matches('-').to_string();
    let mut id = if base.is_empty() { "s".into() } else { base };
    let mut k = 2;
    while used.contains(&id) {
        id = format!("{}-{k}", id.trim_end_matches(char::is_numeric));
        k += 1;
    }
    used.push(id.clone());
    id
}

fn heading(line: &str) -> Option<(usize, &str)> {
    let level = line.chars().take_while(|&c| c == '#').count();
    (1..=6).contains(&level).then_some(())?;
    line[level..].strip_prefix(' ').map(|t| (level, t.trim()))
}

/// A list item's marker: (ordered, the text after it).
fn list_item(line: &str) -> Option<(bool, &str)> {
    if let Some(t) = line.strip_prefix("- ").or_else(|| line.strip_prefix("* ")) {
        return Some((false, t));
    }
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    if digits > 0 {
        return line[digits..].strip_prefix(". ").map(|t| (true, t));
    }
    None
}

fn starts_block(line: &str) -> bool {
    heading(line).is_some()
        || line.starts_with('|')
        || line.starts_with("```")
        || line.starts_with('<')
        || list_item(line).is_some()
}

fn render_blocks(
    md: &str,
    dir: &Path,
    out: &mut String,
    toc: &mut Vec<(String, String)>,
) -> Result<()> {
    let lines: Vec<&str> = md.lines().collect();
    let mut used = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.trim().is_empty() {
            i += 1;
        } else if line.starts_with("```") {
            let mut code = String::new();
            i += 1;
            while i < lines.len() && !lines[i].starts_with("```") {
                code += lines[i];
                code.push('\n');
                i += 1;
            }
            i += 1;
            let _ = writeln!(out, "<pre><code>{}</code></pre>", escape(&code));
        } else if let Some((level, text)) = heading(line) {
            let id = slug(text, &mut used);
            let inner = inline(text, dir)?;
            if level == 2 {
                toc.push((id.clone(), inner.clone()));
            }
            let _ = writeln!(out, "<h{level} id=\"{id}\">{inner}</h{level}>");
            i += 1;
        } else if line.starts_with('<') {
            // raw HTML (`<details><summary>…</summary>`), as written
            out.push_str(line);
            out.push('\n');
            i += 1;
        } else if line.starts_with('|') {
            let start = i;
            while i < lines.len() && lines[i].starts_with('|') {
                i += 1;
            }
            table(&lines[start..i], dir, out)?;
        } else if let Some((ordered, _)) = list_item(line) {
            let tag = if ordered { "ol" } else { "ul" };
            let _ = writeln!(out, "<{tag}>");
            while i < lines.len() {
                let Some((_, first)) = list_item(lines[i]) else {
                    break;
                };
                let mut text = first.to_string();
                i += 1;
                // continuation lines: indented, or any until a blank line or a new item
                while i < lines.len()
                    && !lines[i].trim().is_empty()
                    && list_item(lines[i]).is_none()
                    && (lines[i].starts_with(' ') || !starts_block(lines[i]))
                {
                    text.push(' ');
                    text += lines[i].trim();
                    i += 1;
                }
                let _ = writeln!(out, "<li>{}</li>", inline(&text, dir)?);
                // a blank line between items keeps one list
                let mut j = i;
                while j < lines.len() && lines[j].trim().is_empty() {
                    j += 1;
                }
                if j < lines.len() && list_item(lines[j]).is_some_and(|(o, _)| o == ordered) {
                    i = j;
                }
            }
            let _ = writeln!(out, "</{tag}>");
        } else {
            let mut text = String::new();
            while i < lines.len() && !lines[i].trim().is_empty() && !starts_block(lines[i]) {
                if !text.is_empty() {
                    text.push(' ');
                }
                text += lines[i].trim();
                i += 1;
            }
            let _ = writeln!(out, "<p>{}</p>", inline(&text, dir)?);
        }
    }
    Ok(())
}

/// A table row's cells: split at `|` not escaped as `\|`.
fn cells(row: &str) -> Vec<String> {
    let row = row.trim();
    let row = row.strip_prefix('|').unwrap_or(row);
    let row = row.strip_suffix('|').unwrap_or(row);
    let mut out = vec![String::new()];
    let mut chars = row.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                out.last_mut().unwrap().push('|');
                chars.next();
            }
            '|' => out.push(String::new()),
            c => out.last_mut().unwrap().push(c),
        }
    }
    out.into_iter().map(|c| c.trim().to_string()).collect()
}

fn table(rows: &[&str], dir: &Path, out: &mut String) -> Result<()> {
    let is_rule = |r: &str| {
        cells(r)
            .iter()
            .all(|c| !c.is_empty() && c.chars().all(|ch| matches!(ch, '-' | ':')))
    };
    out.push_str("<table>\n");
    let (head, body) = if rows.len() >= 2 && is_rule(rows[1]) {
        (Some(rows[0]), &rows[2..])
    } else {
        (None, rows)
    };
    if let Some(h) = head {
        out.push_str("<thead><tr>");
        for c in cells(h) {
            let _ = write!(out, "<th>{}</th>", inline(&c, dir)?);
        }
        out.push_str("</tr></thead>\n");
    }
    out.push_str("<tbody>\n");
    for r in body {
        out.push_str("<tr>");
        for c in cells(r) {
            let _ = write!(out, "<td>{}</td>", inline(&c, dir)?);
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
    Ok(())
}

/// `(target)` right after `]` at `at`: the target and the index after `)`.
fn target(chars: &[char], at: usize) -> Option<(String, usize)> {
    if chars.get(at) != Some(&'(') {
        return None;
    }
    let end = chars[at..].iter().position(|&c| c == ')')? + at;
    Some((chars[at + 1..end].iter().collect(), end + 1))
}

/// The closing `]` of a `[` at `open`.
fn close_bracket(chars: &[char], open: usize) -> Option<usize> {
    let mut depth = 0;
    for (k, &c) in chars.iter().enumerate().skip(open) {
        match c {
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(k);
                }
            }
            _ => {}
        }
    }
    None
}

fn inline(text: &str, dir: &Path) -> Result<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut o = String::new();
    let mut i = 0;
    let find = |from: usize, pat: &[char]| -> Option<usize> {
        (from..chars.len().saturating_sub(pat.len() - 1)).find(|&k| chars[k..].starts_with(pat))
    };
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() && chars[i + 1].is_ascii_punctuation() {
            o += &escape(&chars[i + 1].to_string());
            i += 2;
        } else if c == '`' {
            match find(i + 1, &['`']) {
                Some(end) => {
                    let code: String = chars[i + 1..end].iter().collect();
                    let _ = write!(o, "<code>{}</code>", escape(&code));
                    i = end + 1;
                }
                None => {
                    o.push('`');
                    i += 1;
                }
            }
        } else if chars[i..].starts_with(&['*', '*']) {
            match find(i + 2, &['*', '*']) {
                Some(end) if end > i + 2 => {
                    let inner: String = chars[i + 2..end].iter().collect();
                    let _ = write!(o, "<strong>{}</strong>", inline(&inner, dir)?);
                    i = end + 2;
                }
                _ => {
                    o += "**";
                    i += 2;
                }
            }
        } else if c == '*' && chars.get(i + 1).is_some_and(|n| !n.is_whitespace()) {
            let end = (i + 1..chars.len())
                .find(|&k| chars[k] == '*' && !chars[k - 1].is_whitespace() && k > i + 1);
            match end {
                Some(end) => {
                    let inner: String = chars[i + 1..end].iter().collect();
                    let _ = write!(o, "<em>{}</em>", inline(&inner, dir)?);
                    i = end + 1;
                }
                None => {
                    o.push('*');
                    i += 1;
                }
            }
        } else if c == '!' && chars.get(i + 1) == Some(&'[') {
            let parsed = close_bracket(&chars, i + 1)
                .and_then(|end| target(&chars, end + 1).map(|t| (end, t)));
            match parsed {
                Some((end, (src, next))) => {
                    let alt: String = chars[i + 2..end].iter().collect();
                    o += &image(&alt, &src, dir)?;
                    i = next;
                }
                None => {
                    o.push('!');
                    i += 1;
                }
            }
        } else if c == '[' {
            let parsed =
                close_bracket(&chars, i).and_then(|end| target(&chars, end + 1).map(|t| (end, t)));
            match parsed {
                Some((end, (href, next))) => {
                    let label: String = chars[i + 1..end].iter().collect();
                    let label = inline(&label, dir)?;
                    if href.starts_with('#') {
                        let _ = write!(o, "<a href=\"{}\">{label}</a>", escape(&href));
                    } else {
                        // outside the page: the text, and where it points
                        let _ = write!(o, "{label} (<code>{}</code>)", escape(&href));
                    }
                    i = next;
                }
                None => {
                    o.push('[');
                    i += 1;
                }
            }
        } else {
            o += &escape(&c.to_string());
            i += 1;
        }
    }
    Ok(o)
}

/// An `<img>` with the PNG inline; `src` is read from `dir`.
fn image(alt: &str, src: &str, dir: &Path) -> Result<String> {
    let path = dir.join(src);
    let bytes = std::fs::read(&path)
        .with_context(|| format!("report.html: cannot read the figure {}", path.display()))?;
    Ok(format!(
        "<img alt=\"{}\" title=\"{}\" src=\"data:image/png;base64,{}\">",
        escape(alt),
        escape(src),
        base64(&bytes)
    ))
}

/// Standard base64 with padding (RFC 4648 §4).
pub fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut o = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for ch in bytes.chunks(3) {
        let b = [ch[0], *ch.get(1).unwrap_or(&0), *ch.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for k in 0..4 {
            if k <= ch.len() {
                o.push(A[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                o.push('=');
            }
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_test_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o, "{i}");
        }
    }

    #[test]
    fn markdown_blocks_and_inline_become_html() {
        let dir = tempfile::tempdir().unwrap();
        let md = "# Title\n\n## Part *one*\n\nA **bold** `a<b` and [doc](docs/x.md) and [up](#title).\n\n| a | b \\| c |\n|---|---|\n| 1 | 2 |\n\n1. first\n   more\n2. second\n\n<details><summary>s</summary>\n\n- x\n</details>\n";
        let h = page("t", md, dir.path()).unwrap();
        for want in [
            "<h1 id=\"title\">Title</h1>",
            "<h2 id=\"part-one\">Part <em>one</em></h2>",
            "<li><a href=\"#part-one\">Part <em>one</em></a></li>",
            "A <strong>bold</strong> <code>a&lt;b</code> and doc (<code>docs/x.md</code>) and <a href=\"#title\">up</a>.",
            "<thead><tr><th>a</th><th>b | c</th></tr></thead>",
            "<tr><td>1</td><td>2</td></tr>",
            "<ol>\n<li>first more</li>\n<li>second</li>\n</ol>",
            "<details><summary>s</summary>\n<ul>\n<li>x</li>\n</ul>\n</details>",
        ] {
            assert!(h.contains(want), "{want}\n{h}");
        }
    }
}
