//! Every citation of the specification and the decisions resolves inside the repository (issue
//! 24): each `spec §N[.M…]` (and each further `§N` of a list) names a heading of docs/spec.md,
//! each decision number `D<n>` names a heading of docs/decisions.md, and nothing points to the
//! documents' old home outside the checkout.
//!
//! In Rust sources only comments and string literals are read as prose, so identifiers such as
//! a matrix entry's constant are not mistaken for decision numbers.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// What is searched, relative to the repository root: folders recursively, or single files.
const SEARCHED: [&str; 8] = [
    "crates",
    "src",
    "tests",
    "docs",
    "bench-configs",
    "scripts",
    "README.md",
    "justfile",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Text files a citation can stand in: sources, docs, configs, scripts.
fn is_text(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name == "justfile"
        || name == "just"
        || matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("rs" | "md" | "toml" | "sh" | "py" | "txt")
        )
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return;
    };
    if meta.is_dir() {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name == "target" || name.starts_with('.') {
            return;
        }
        let mut entries: Vec<PathBuf> = fs::read_dir(path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for e in entries {
            collect(&e, out);
        }
    } else if meta.is_file() && is_text(path) {
        out.push(path.to_path_buf());
    }
}

/// Verbatim copies of data from outside the project, kept byte-identical to their source (the
/// golden trajectories' README: `golden_copies_match_shared` in mpg-envs checks it), so their
/// references are the source's, not ours.
const VERBATIM: &[&str] = &["tests/golden/README.md"];

fn searched_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for p in SEARCHED {
        collect(&root().join(p), &mut files);
    }
    files.retain(|f| !VERBATIM.contains(&rel(f).as_str()));
    files
}

/// The section numbers of the headings of a markdown file: `## 1 Path tracking task` → "1",
/// `### 3.3 Rule-based weights …` → "3.3"; with `prefix` "D", `## D16 Weight rule …` → "16".
fn heading_numbers(markdown: &str, prefix: &str) -> BTreeSet<String> {
    markdown
        .lines()
        .filter(|l| l.starts_with('#'))
        .filter_map(|l| {
            let first = l.trim_start_matches('#').split_whitespace().next()?;
            let num = first.strip_prefix(prefix)?;
            let valid = !num.is_empty()
                && num.split('.').all(|p| !p.is_empty())
                && num.chars().all(|c| c.is_ascii_digit() || c == '.');
            valid.then(|| num.to_string())
        })
        .collect()
}

/// A piece of a file read as prose, with the line it starts on.
struct Prose {
    line: usize,
    text: String,
}

/// The comments and string literals of Rust source (the rest is code). Handles line, block
/// (nested) and doc comments, plain, byte and raw strings, and tells char literals from
/// lifetimes, which is all it takes to keep a quote inside `'"'` from opening a string.
fn rust_prose(src: &str) -> Vec<Prose> {
    let c: Vec<char> = src.chars().collect();
    let n = c.len();
    let is_ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    let push = |from: usize, to: usize, line: usize, out: &mut Vec<Prose>| {
        out.push(Prose {
            line,
            text: c[from..to.min(n)].iter().collect(),
        })
    };
    while i < n {
        match c[i] {
            '\n' => {
                line += 1;
                i += 1;
            }
            '/' if c.get(i + 1) == Some(&'/') => {
                let start = i;
                while i < n && c[i] != '\n' {
                    i += 1;
                }
                push(start, i, line, &mut out);
            }
            '/' if c.get(i + 1) == Some(&'*') => {
                let (start, start_line) = (i, line);
                let mut depth = 0;
                while i < n {
                    if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                        depth += 1;
                        i += 2;
                    } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        line += usize::from(c[i] == '\n');
                        i += 1;
                    }
                }
                push(start, i, start_line, &mut out);
            }
            '"' => {
                // A raw string when `r`, then hashes, stand right before the quote.
                let mut hashes = 0;
                while i > hashes && c[i - 1 - hashes] == '#' {
                    hashes += 1;
                }
                let r = i.checked_sub(hashes + 1).map(|k| c[k]);
                let before_r = i.checked_sub(hashes + 2).map(|k| c[k]);
                let raw = r == Some('r') && before_r.is_none_or(|b| !is_ident(b) || b == 'b');
                let (start, start_line) = (i + 1, line);
                i += 1;
                while i < n {
                    if raw {
                        if c[i] == '"' && (1..=hashes).all(|k| c.get(i + k) == Some(&'#')) {
                            break;
                        }
                    } else if c[i] == '\\' {
                        line += usize::from(c.get(i + 1) == Some(&'\n'));
                        i += 2;
                        continue;
                    } else if c[i] == '"' {
                        break;
                    }
                    line += usize::from(c[i] == '\n');
                    i += 1;
                }
                push(start, i, start_line, &mut out);
                i += 1 + if raw { hashes } else { 0 };
            }
            '\'' => {
                // A char literal ('x', '\n', '\u{..}') is skipped whole; a lifetime is code.
                if c.get(i + 1) == Some(&'\\') {
                    i += 3;
                    while i < n && c[i] != '\'' {
                        i += 1;
                    }
                    i += 1;
                } else if c.get(i + 2) == Some(&'\'') {
                    i += 3;
                } else {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    out
}

/// The prose of any file: all of it, except for Rust sources (see [`rust_prose`]).
fn prose_of(path: &Path, text: &str) -> Vec<Prose> {
    if path.extension().and_then(|e| e.to_str()) == Some("rs") {
        rust_prose(text)
    } else {
        vec![Prose {
            line: 1,
            text: text.to_string(),
        }]
    }
}

/// A citation: its line (counted from the start of the prose piece) and the number cited.
type Cited = (usize, String);

/// Every `§N[.M…]` (a trailing full stop is punctuation). The paper's own sections are roman
/// (`paper §IV-B`) and do not match.
fn spec_citations(text: &str) -> Vec<Cited> {
    let mut out = Vec::new();
    for (k, l) in text.lines().enumerate() {
        for part in l.split('§').skip(1) {
            let num: String = part
                .chars()
                .take_while(|ch| ch.is_ascii_digit() || *ch == '.')
                .collect();
            let num = num.trim_end_matches('.');
            if num.starts_with(|ch: char| ch.is_ascii_digit()) {
                out.push((k, num.to_string()));
            }
        }
    }
    out
}

/// Every decision number: `D` and digits standing alone (`D16`, `(D8)`, `D1–D21`, `D2's`), not
/// part of a longer word or number (`2D`, `0xD3`, `TD3`, `D16x`).
fn decision_citations(text: &str) -> Vec<Cited> {
    let word = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut out = Vec::new();
    for (k, l) in text.lines().enumerate() {
        let ch: Vec<char> = l.chars().collect();
        for i in 0..ch.len() {
            if ch[i] != 'D' || (i > 0 && word(ch[i - 1])) {
                continue;
            }
            let digits: String = ch[i + 1..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            let end = i + 1 + digits.len();
            if !digits.is_empty() && ch.get(end).is_none_or(|&c| !word(c)) {
                out.push((k, digits));
            }
        }
    }
    out
}

fn rel(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Every unresolved citation in the repository, as `file:line: what`.
fn unresolved(spec: &BTreeSet<String>, decisions: &BTreeSet<String>) -> Vec<String> {
    let mut bad = Vec::new();
    for path in searched_files() {
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        for piece in prose_of(&path, &text) {
            for (k, num) in spec_citations(&piece.text) {
                if !spec.contains(&num) {
                    let at = piece.line + k;
                    bad.push(format!("{}:{at}: spec §{num}", rel(&path)));
                }
            }
            for (k, num) in decision_citations(&piece.text) {
                if !decisions.contains(&num) {
                    let at = piece.line + k;
                    bad.push(format!("{}:{at}: D{num}", rel(&path)));
                }
            }
        }
    }
    bad
}

fn read_doc(name: &str) -> String {
    fs::read_to_string(root().join("docs").join(name))
        .unwrap_or_else(|e| panic!("docs/{name}: {e}"))
}

#[test]
fn every_spec_and_decision_citation_names_a_heading() {
    let spec = heading_numbers(&read_doc("spec.md"), "");
    let decisions = heading_numbers(&read_doc("decisions.md"), "D");
    let bad = unresolved(&spec, &decisions);
    assert!(
        bad.is_empty(),
        "{} citations name no heading of docs/spec.md or docs/decisions.md:\n{}",
        bad.len(),
        bad.join("\n")
    );
    // Every section of the original reference (0, 1.1–1.11, 2.1–2.5, 3.1–3.9, 4, 5, 6) and
    // every decision has its heading, cited or not.
    let subsections = [(1, 11), (2, 5), (3, 9)];
    let mut sections: BTreeSet<String> = (0..=6).map(|s| s.to_string()).collect();
    for (s, last) in subsections {
        sections.extend((1..=last).map(|k| format!("{s}.{k}")));
    }
    let missing: Vec<_> = sections.difference(&spec).collect();
    assert!(
        missing.is_empty(),
        "docs/spec.md has no heading for {missing:?}"
    );
    let all: BTreeSet<String> = (1..=21).map(|d| d.to_string()).collect();
    assert_eq!(decisions, all, "docs/decisions.md: headings D1–D21");
}

/// The documents' old home outside the checkout is not referred to any more.
#[test]
fn no_citation_points_outside_the_repository() {
    let old = [concat!("shared/", "spec"), concat!("mpg-", "reference.md")];
    let mut bad = Vec::new();
    for path in searched_files() {
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        for (k, l) in text.lines().enumerate() {
            if old.iter().any(|o| l.contains(o)) {
                bad.push(format!("{}:{}: {}", rel(&path), k + 1, l.trim()));
            }
        }
    }
    assert!(bad.is_empty(), "point these to docs/:\n{}", bad.join("\n"));
}

/// The extractors on hand-made cases: what counts as a citation and what does not.
#[test]
fn citation_extractors_tell_citations_from_look_alikes() {
    let nums = |v: Vec<Cited>| v.into_iter().map(|(_, n)| n).collect::<Vec<_>>();
    assert_eq!(
        nums(spec_citations(
            "spec §3.1, §3.9; paper §IV-B; see §1.3.\n§5"
        )),
        ["3.1", "3.9", "1.3", "5"]
    );
    assert_eq!(
        nums(decision_citations(
            "D16, (D8), D1–D21, D2's; not 2D, 0xD3, TD3, D16x, DD, D"
        )),
        ["16", "8", "1", "21", "2"]
    );
    // Rust: the constants of code are not prose; comments and strings are, with their lines.
    let d = 'D';
    let src = format!(
        "const {d}11: f64 = 1.0; // see {d}8\nlet s = \"(D2)\\\"\";\nlet q = '\"'; let l: &'a str = r#\"{d}7 \"x\"#;\n/* a\n {d}9 */ x({d}3)"
    );
    let found: Vec<(usize, String)> = rust_prose(&src)
        .iter()
        .flat_map(|p| {
            decision_citations(&p.text)
                .into_iter()
                .map(|(k, n)| (p.line + k, n))
                .collect::<Vec<_>>()
        })
        .collect();
    let expect = [(1, "8"), (2, "2"), (3, "7"), (5, "9")].map(|(l, n)| (l, n.to_string()));
    assert_eq!(found, expect);
    // Headings: numbered sections, and decisions with their prefix; nothing else.
    let md = "# Title\n## 0 Provenance\n### 1.10 Pre\n## Notes 2\n#### 3.3.1 Deep\n## D4 Hinge\n";
    assert_eq!(
        heading_numbers(md, "").into_iter().collect::<Vec<_>>(),
        ["0", "1.10", "3.3.1"]
    );
    assert_eq!(
        heading_numbers(md, "D").into_iter().collect::<Vec<_>>(),
        ["4"]
    );
}
