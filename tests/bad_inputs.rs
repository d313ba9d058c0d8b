//! A sweep of bad and extreme inputs, as a new user might try them
//! (issue 13). Every case runs the real binary in a sandbox directory and
//! must end in one of two ways:
//! - refused: non-zero exit (not a panic), one line on stderr that says
//!   what to do, and every protected file (configs, law files, FIFOs,
//!   sockets, links, devices) exactly as it was;
//! - accepted: exit 0 and numbers that agree with a closed form, an
//!   asymptote or a bound checked here.
//!
//! The cases run on a few threads; the whole sweep takes seconds.

use std::f64::consts::LN_2;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// What an accepted run's standard output must satisfy.
type Check = Box<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// How a case must end.
enum Expect {
    /// Non-zero exit with one line on stderr containing this text.
    Refused(&'static str),
    /// Exit 0, and the check passes on stdout.
    Accepted(Check),
}

/// One command line, what it must do, and the files it must not touch.
struct Case {
    args: Vec<String>,
    expect: Expect,
    protected: Vec<PathBuf>,
    /// Longest acceptable run time (proves that nothing ran before a refusal).
    max_time: Duration,
}

fn case(args: &[&str], expect: Expect) -> Case {
    Case {
        args: args.iter().map(|s| s.to_string()).collect(),
        expect,
        protected: Vec::new(),
        max_time: Duration::from_secs(60),
    }
}

fn refused(args: &[&str], needle: &'static str) -> Case {
    case(args, Expect::Refused(needle))
}

fn accepted(args: &[&str], check: Check) -> Case {
    case(args, Expect::Accepted(check))
}

impl Case {
    fn protecting(mut self, paths: &[&Path]) -> Self {
        self.protected.extend(paths.iter().map(|p| p.to_path_buf()));
        self
    }

    fn within(mut self, seconds: u64) -> Self {
        self.max_time = Duration::from_secs(seconds);
        self
    }
}

/// Words of which a refusal must contain one: the fix it names.
const FIX_WORDS: [&str; 24] = [
    "give",
    "use ",
    "choose",
    "set ",
    "add ",
    "drop",
    "remove",
    "lower",
    "create",
    "split",
    "rerun",
    "must",
    "need",
    "expected",
    "run '",
    "fix",
    "write",
    "lie in",
    "is required",
    "is invalid",
    "is out of range",
    "is too",
    "check ",
    "pass --",
];

/// The type and (for regular files) the content of a path, to detect any
/// replacement or overwrite. FIFOs are never opened.
fn snapshot(path: &Path) -> String {
    match std::fs::symlink_metadata(path) {
        Err(_) => "missing".into(),
        Ok(m) if m.file_type().is_symlink() => {
            format!("link to {:?}", std::fs::read_link(path).unwrap())
        }
        Ok(m) if m.file_type().is_fifo() => "fifo".into(),
        Ok(m) if m.file_type().is_socket() => "socket".into(),
        Ok(m) if m.file_type().is_char_device() => "char device".into(),
        Ok(m) if m.is_dir() => "directory".into(),
        Ok(_) => format!("file {:?}", std::fs::read(path).unwrap()),
    }
}

/// Runs one case in `dir`; the problem, if any.
fn run(case: &Case, dir: &Path) -> Result<(), String> {
    let before: Vec<String> = case.protected.iter().map(|p| snapshot(p)).collect();
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_damcap"))
        .args(&case.args)
        .current_dir(dir)
        .output()
        .map_err(|e| e.to_string())?;
    let elapsed = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    if stderr.contains("panicked") || out.status.code() == Some(101) {
        return Err(format!("panic: {stderr}"));
    }
    if elapsed > case.max_time {
        return Err(format!("took {elapsed:?} (cap {:?})", case.max_time));
    }
    for (path, old) in case.protected.iter().zip(&before) {
        let new = snapshot(path);
        if &new != old {
            return Err(format!(
                "{} changed: {old:.80} -> {new:.80}",
                path.display()
            ));
        }
    }
    match &case.expect {
        Expect::Refused(needle) => {
            if out.status.success() {
                return Err(format!("accepted with exit 0: {stdout:.300}"));
            }
            let lines: Vec<&str> = stderr.trim_end().lines().collect();
            if lines.len() != 1 || lines[0].len() > 600 {
                return Err(format!("not one short error line: {stderr}"));
            }
            let lower = lines[0].to_lowercase();
            if !FIX_WORDS.iter().any(|w| lower.contains(w)) {
                return Err(format!("names no fix: {stderr}"));
            }
            if !stderr.contains(needle) {
                return Err(format!("'{needle}' missing from: {stderr}"));
            }
            Ok(())
        }
        Expect::Accepted(check) => {
            if !out.status.success() {
                return Err(format!("refused: {stderr}"));
            }
            check(&stdout)
        }
    }
}

fn json(stdout: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(stdout).map_err(|e| format!("{e}: {stdout}"))
}

fn field(v: &serde_json::Value, key: &str) -> Result<f64, String> {
    v[key]
        .as_f64()
        .ok_or_else(|| format!("no number {key} in {v}"))
}

fn close(a: f64, b: f64, tol: f64, what: &str) -> Result<(), String> {
    if (a - b).abs() <= tol * b.abs().max(1e-300) {
        Ok(())
    } else {
        Err(format!("{what}: {a} vs {b}"))
    }
}

/// The repository's law file `name`.
fn law(name: &str) -> String {
    format!(
        "{}/configs/ensembles/{name}.toml",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// `alpha_1` limits as lambda -> infinity, where closed forms exist:
/// `I(1)` (gaussian 1/2) or the duplicate entropy `alpha_max` for laws
/// whose overlap ends at 1 (binary and ternary ln 2, sparse binary H(0.1)).
fn alpha_1_limit(ensemble: &str) -> Option<f64> {
    let h = |f: f64| -f * f.ln() - (1.0 - f) * (1.0 - f).ln();
    match ensemble {
        "gaussian" => Some(0.5),
        "binary" => Some(LN_2),
        _ if ensemble.ends_with("gaussian.toml") => Some(0.5),
        _ if ensemble.ends_with("binary.toml") && !ensemble.contains("sparse") => Some(LN_2),
        _ if ensemble.ends_with("ternary.toml") => Some(LN_2),
        _ if ensemble.ends_with("sparse-binary.toml") => Some(h(0.1)),
        _ => None,
    }
}

/// Thresholds at an extreme lambda: finite, `0 <= alpha_c <= alpha_1`,
/// and at its closed form or asymptote (spherical: `ln(lambda)/2 + 1/2`
/// up to `O(1/lambda)`; binary: `ln 2 - ln(1 + e^{-2 lambda})`).
fn threshold_check(ensemble: &str, lambda: f64) -> Check {
    let ensemble = ensemble.to_string();
    Box::new(move |stdout| {
        let v = json(stdout)?;
        let (a1, ac) = (field(&v, "alpha_1")?, field(&v, "alpha_c_lower")?);
        if !(a1 >= 0.0 && ac >= 0.0 && ac <= a1 && a1.is_finite()) {
            return Err(format!("{ensemble} {lambda}: alpha_1 {a1}, alpha_c {ac}"));
        }
        if ensemble == "spherical" && lambda >= 1e8 {
            close(a1, 0.5 * lambda.ln() + 0.5, 1e-12, "spherical asymptote")?;
            close(ac, a1, 0.0, "spherical alpha_c = alpha_1")?;
        }
        if ensemble == "binary" {
            // lambda - ln cosh lambda, by a series below 1e-4.
            let exact = if lambda < 1e-4 {
                lambda - lambda * lambda / 2.0
            } else {
                lambda - lambda.cosh().ln()
            };
            close(a1, exact, 1e-12, "binary closed form")?;
            if a1 > LN_2 {
                return Err(format!("binary alpha_1 {a1} > ln 2"));
            }
        }
        if let Some(limit) = alpha_1_limit(&ensemble) {
            if a1 > limit * (1.0 + 1e-12) {
                return Err(format!(
                    "{ensemble} {lambda}: alpha_1 {a1} above its limit {limit}"
                ));
            }
            if lambda >= 1e6 {
                close(a1, limit, 1e-9, &format!("{ensemble} limit at {lambda}"))?;
            }
        }
        if lambda <= 1e-10 {
            // alpha_1 = lambda - lambda^2 / 2 + O(lambda^3) for standardised laws.
            close(a1, lambda, 1e-9, "small lambda")?;
        }
        Ok(())
    })
}

/// The scan CSV: alpha_1 non-decreasing and never above `limit`.
fn scan_check(limit: f64) -> Check {
    Box::new(move |stdout| {
        let mut previous = 0.0;
        for row in stdout.lines().skip(1) {
            let cells: Vec<&str> = row.split(',').collect();
            let a1: f64 = cells[2].parse().map_err(|_| format!("bad row {row}"))?;
            if a1 > limit || a1 < previous {
                return Err(format!("row {row}: limit {limit}, previous {previous}"));
            }
            previous = a1;
        }
        Ok(())
    })
}

fn write(path: &Path, text: &str) -> PathBuf {
    std::fs::write(path, text).unwrap();
    path.to_path_buf()
}

const ENSEMBLES: [&str; 3] = ["gaussian", "spherical", "binary"];
const LAW_FILES: [&str; 6] = [
    "binary",
    "gaussian",
    "gaussian-mixture",
    "sparse-binary",
    "ternary",
    "uniform",
];

fn threshold_cases(cases: &mut Vec<Case>) {
    let mut names: Vec<String> = ENSEMBLES.iter().map(|s| s.to_string()).collect();
    names.extend(LAW_FILES.iter().map(|l| law(l)));
    for name in &names {
        for bad in ["0", "-1", "nan", "inf", "-inf", "1e400", "abc"] {
            cases.push(refused(
                &["thresholds", "--ensemble", name, "--lambda", bad],
                "lambda",
            ));
        }
        // Law files cost seconds a point (quadratures): the diagnostic four.
        let lambdas: &[f64] = if name.ends_with("ternary.toml") {
            &[1e-300, 0.7, 1e16, 1e20, 1.7e308]
        } else if name.ends_with("uniform.toml") {
            &[1e-300, 0.7, 1e16, 1e70, 1.7e308]
        } else if name.ends_with(".toml") {
            &[1e-300, 0.7, 1e16, 1.7e308]
        } else {
            &[
                1e-300, 1e-12, 0.7, 1e6, 1e15, 1e16, 1e20, 1e70, 1e300, 1.7e308,
            ]
        };
        for &lambda in lambdas {
            let text = lambda.to_string();
            cases.push(accepted(
                &[
                    "thresholds",
                    "--ensemble",
                    name,
                    "--lambda",
                    &text,
                    "--json",
                ],
                threshold_check(name, lambda),
            ));
        }
    }
    let laplace = law("laplace");
    cases.push(refused(
        &["thresholds", "--ensemble", &laplace, "--lambda", "1"],
        "exponential tails",
    ));
    cases.push(refused(
        &["thresholds", "--ensemble", "gauss", "--lambda", "1"],
        "gauss",
    ));
    cases.push(refused(
        &["thresholds", "--ensemble", "gaussian"],
        "--lambda",
    ));
    cases.push(refused(&["thresholds", "--lambda", "1"], "--ensemble"));
    cases.push(refused(
        &["thresholds", "--ensemble", "missing.toml", "--lambda", "1"],
        "missing.toml",
    ));
}

fn attention_cases(cases: &mut Vec<Case>) {
    let base = [
        "thresholds",
        "--ensemble",
        "gaussian",
        "--scaling",
        "attention",
    ];
    for (flag, bad) in [
        ("--beta", "0"),
        ("--beta", "-2"),
        ("--beta", "nan"),
        ("--beta", "inf"),
        ("--n", "1"),
        ("--n", "2.5"),
        ("--n", "-4"),
        ("--n", "inf"),
    ] {
        let mut args = base.to_vec();
        if flag == "--n" {
            args.extend(["--beta", "1"]);
        }
        args.extend([flag, bad]);
        cases.push(refused(&args, ""));
    }
    let mut with_lambda = base.to_vec();
    with_lambda.extend(["--beta", "1", "--lambda", "1"]);
    cases.push(refused(&with_lambda, "--lambda"));
    cases.push(refused(
        &[
            "thresholds",
            "--ensemble",
            "gaussian",
            "--lambda",
            "1",
            "--beta",
            "1",
        ],
        "--beta",
    ));
    cases.push(refused(&base, "--beta"));
}

fn scan_cases(cases: &mut Vec<Case>) {
    let scan = |extra: &[&str]| {
        let mut args = vec!["scan", "--ensemble", "binary"];
        args.extend(extra);
        args.iter().map(|s| s.to_string()).collect::<Vec<String>>()
    };
    let grid = ["--lambda-min", "1", "--lambda-max", "2"];
    for points in [
        "-1",
        "0",
        "1",
        "1.5",
        "abc",
        "",
        "1000000000",
        "1000001",
        "99999999999999999999",
    ] {
        let mut extra = grid.to_vec();
        extra.extend(["--points", points]);
        let args = scan(&extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        // clap alone said "unexpected argument '-1'".
        let needle = if points == "-1" { "not a count" } else { "" };
        cases.push(refused(&args, needle).within(5));
    }
    for (min, max) in [
        ("0", "1"),
        ("-1", "1"),
        ("2", "1"),
        ("1", "1"),
        ("nan", "1"),
        ("1", "inf"),
        ("1", "nan"),
        ("1e-400", "1"),
    ] {
        let args = scan(&["--lambda-min", min, "--lambda-max", max, "--points", "3"]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cases.push(refused(&args, "lambda"));
    }
    cases.push(refused(
        &["scan", "--ensemble", "binary", "--points", "3"],
        "--lambda-min",
    ));
    cases.push(refused(
        &[
            "scan",
            "--ensemble",
            "binary",
            "--lambda-min",
            "1",
            "--points",
            "3",
        ],
        "--lambda-max",
    ));
    cases.push(refused(
        &[
            "scan",
            "--ensemble",
            "binary",
            "--lambda-min",
            "1",
            "--lambda-max",
            "2",
            "--points",
            "3",
            "--beta-min",
            "1",
        ],
        "--beta",
    ));
    // Scans up to 1e6 (old: 4e-11 above ln 2) and far beyond.
    for max in ["1e6", "1e300"] {
        cases.push(accepted(
            &[
                "scan",
                "--ensemble",
                "binary",
                "--lambda-min",
                "0.1",
                "--lambda-max",
                max,
                "--points",
                "60",
                "--log",
            ],
            scan_check(LN_2),
        ));
    }
    cases.push(accepted(
        &[
            "scan",
            "--ensemble",
            "spherical",
            "--lambda-min",
            "1",
            "--lambda-max",
            "1e300",
            "--points",
            "40",
            "--log",
        ],
        scan_check(f64::INFINITY),
    ));
}

/// Outputs onto special files, links, inputs and missing directories.
fn output_cases(cases: &mut Vec<Case>, dir: &Path) {
    let scan_to = |out: &str| -> Vec<String> {
        [
            "scan",
            "--ensemble",
            "binary",
            "--lambda-min",
            "1",
            "--lambda-max",
            "2",
            "--points",
            "3",
            "--out",
            out,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let fifo = dir.join("fifo.csv");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let socket = dir.join("socket.csv");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    std::mem::forget(_listener);
    let subdir = dir.join("a-directory");
    std::fs::create_dir(&subdir).unwrap();
    let dangling = dir.join("dangling.csv");
    std::os::unix::fs::symlink(dir.join("nowhere/x.csv"), &dangling).unwrap();
    let law_copy = write(&dir.join("my-law.toml"), "[law]\nfamily = \"uniform\"\n");
    let specials: Vec<(PathBuf, &'static str)> = vec![
        (fifo.clone(), "FIFO"),
        (socket.clone(), "socket"),
        (PathBuf::from("/dev/null"), "device"),
        (PathBuf::from("/dev/full"), "device"),
        (PathBuf::from("/dev/zero"), "device"),
        (subdir.clone(), "directory"),
        (dangling.clone(), "missing file"),
    ];
    for (path, needle) in specials {
        let args = scan_to(path.to_str().unwrap());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cases.push(refused(&args, needle).protecting(&[&path]).within(5));
    }
    let mut own = vec![
        "scan",
        "--ensemble",
        law_copy.to_str().unwrap(),
        "--lambda-min",
        "1",
        "--lambda-max",
        "2",
        "--points",
        "3",
        "--out",
    ];
    own.push(law_copy.to_str().unwrap());
    cases.push(refused(&own, "itself").protecting(&[&law_copy]).within(5));
    let outside = scan_to("/nonexistent-damcap-dir/x.csv");
    let outside: Vec<&str> = outside.iter().map(String::as_str).collect();
    cases.push(refused(&outside, "mkdir -p"));
    // A symlink is written through: the link stays, its target changes.
    let target = write(&dir.join("target.csv"), "old\n");
    let link = dir.join("link.csv");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let through = scan_to(link.to_str().unwrap());
    let through: Vec<&str> = through.iter().map(String::as_str).collect();
    let (link_check, target_check) = (link.clone(), target.clone());
    cases.push(accepted(
        &through,
        Box::new(move |_| {
            let is_link = std::fs::symlink_metadata(&link_check)
                .map(|m| m.file_type().is_symlink())
                .unwrap_or(false);
            let written = std::fs::read_to_string(&target_check).unwrap_or_default();
            if is_link && written.starts_with("ensemble,lambda") {
                Ok(())
            } else {
                Err(format!("link kept: {is_link}, target: {written:.40}"))
            }
        }),
    ));
    // A missing directory inside the working directory is created.
    let nested = scan_to("fresh/nested/out.csv");
    let nested: Vec<&str> = nested.iter().map(String::as_str).collect();
    let created = dir.join("fresh/nested/out.csv");
    cases.push(accepted(
        &nested,
        Box::new(move |_| {
            std::fs::read_to_string(&created)
                .map(drop)
                .map_err(|e| format!("{}: {e}", created.display()))
        }),
    ));
}

const FIGURE: &str = r#"kind = "phase-diagram"
title = "t"
ensembles = ["binary"]
svg = "SVG"
csv = "CSV"
[lambda]
min = 0.5
max = 2.0
points = 4
"#;

const BASINS: &str = r#"kind = "basins"
title = "t"
ensembles = ["binary"]
lambdas = [1.0]
alpha_points = 4
svg = "b.svg"
csv = "b.csv"
"#;

/// Figure configs with clashing, special or self-referencing outputs,
/// unbounded grids and mislabelled kinds.
fn config_cases(cases: &mut Vec<Case>, dir: &Path) {
    let mut counter = 0;
    let mut config = |text: &str| -> PathBuf {
        counter += 1;
        write(&dir.join(format!("config-{counter}.toml")), text)
    };
    let figure = |svg: &str, csv: &str| FIGURE.replace("SVG", svg).replace("CSV", csv);
    // svg or csv is the config itself.
    for (k, (svg, csv)) in [("SELF", "ok.csv"), ("ok.svg", "SELF")]
        .into_iter()
        .enumerate()
    {
        let path = dir.join(format!("self-{k}.toml"));
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let text = figure(&svg.replace("SELF", &name), &csv.replace("SELF", &name));
        write(&path, &text);
        cases.push(
            refused(&["phase-diagram", path.to_str().unwrap()], "itself").protecting(&[&path]),
        );
    }
    // svg == csv, also through ./ and a directory round trip.
    let same = dir.join("same.out");
    write(&same, "keep me\n");
    for (svg, csv) in [
        ("same.out", "same.out"),
        ("same.out", "./same.out"),
        ("a-directory/../same.out", "same.out"),
        ("new-dir/x.svg", "new-dir/../new-dir/x.svg"),
    ] {
        let path = config(&figure(svg, csv));
        cases.push(
            refused(&["phase-diagram", path.to_str().unwrap()], "same file")
                .protecting(&[&path, &same]),
        );
    }
    for (svg, needle) in [
        ("/dev/null", "device"),
        ("fifo.csv", "FIFO"),
        ("a-directory", "directory"),
        ("/nonexistent-damcap-dir/a.svg", "mkdir -p"),
    ] {
        let path = config(&figure(svg, "fig.csv"));
        cases.push(
            refused(&["phase-diagram", path.to_str().unwrap()], needle)
                .protecting(&[&path])
                .within(5),
        );
    }
    let bad_figures = [
        (
            figure("a.svg", "a.csv").replace("points = 4", "points = 1000000000"),
            "cap",
        ),
        (
            figure("a.svg", "a.csv").replace("points = 4", "points = -1"),
            "9:10",
        ),
        (
            figure("a.svg", "a.csv").replace("points = 4", "points = 1"),
            "2 points",
        ),
        (
            figure("a.svg", "a.csv").replace("min = 0.5", "min = -1"),
            "0 < min",
        ),
        (
            figure("a.svg", "a.csv").replace("max = 2.0", "max = inf"),
            "0 < min",
        ),
        (
            figure("a.svg", "a.csv").replace("max = 2.0", "max = 0.1"),
            "0 < min",
        ),
        (
            figure("a.svg", "a.csv").replace("[\"binary\"]", "[]"),
            "no ensembles",
        ),
        (
            figure("a.svg", "a.csv").replace("[\"binary\"]", "[\"bin\"]"),
            "bin",
        ),
        (figure("a.svg", "a.csv").replace("title", "titel"), "titel"),
        (
            figure("a.svg", "a.csv").replace("phase-diagram", "phase"),
            "unknown kind",
        ),
        (
            figure("a.svg", "a.csv").replace("phase-diagram", "validate"),
            "set kind = \"phase-diagram\"",
        ),
        (
            figure("a.svg", "a.csv").replace("phase-diagram", "basins"),
            "set kind = \"phase-diagram\"",
        ),
        (
            figure("a.svg", "a.csv").replace("points = 4", "points = \"4\""),
            "9:10",
        ),
        (
            figure("a.svg", "a.csv").replace("title = \"t\"", "title = "),
            "2:",
        ),
        (String::new(), "kind"),
        ("kind = 3\n".to_string(), "expected a string"),
        (
            BASINS.replace("alpha_points = 4", "alpha_points = 0"),
            "alpha_points",
        ),
        (
            BASINS.replace("lambdas = [1.0]", "lambdas = []"),
            "at least one lambda",
        ),
        (
            BASINS.replace("lambdas = [1.0]", "lambdas = [-1.0]"),
            "lambdas",
        ),
        (
            BASINS.replace("lambdas = [1.0]", "lambdas = [nan]"),
            "lambdas",
        ),
        (
            BASINS.replace("alpha_points = 4", "alpha_points = 100000000000"),
            "cap",
        ),
        (BASINS.replace("b.csv", "b.svg"), "same file"),
        (
            BASINS.replace("basins", "phase-diagram"),
            "set kind = \"basins\"",
        ),
    ];
    for (text, needle) in bad_figures {
        let path = config(&text);
        cases.push(
            refused(&["phase-diagram", path.to_str().unwrap()], needle)
                .protecting(&[&path])
                .within(5),
        );
    }
    // Inputs that are not regular files: reading a FIFO would hang.
    for input in ["./fifo.csv", "/dev/zero", "./a-directory"] {
        cases.push(refused(&["phase-diagram", input], "regular file").within(5));
        cases.push(refused(&["law", input], "regular file").within(5));
        cases.push(
            refused(
                &["thresholds", "--ensemble", input, "--lambda", "1"],
                "regular file",
            )
            .within(5),
        );
    }
    let pd = config(&figure("a.svg", "a.csv"));
    cases.push(refused(&["validate", pd.to_str().unwrap()], "kind"));
    cases.push(refused(
        &["validate", "no-such-config.toml"],
        "no-such-config",
    ));
    cases.push(refused(
        &["phase-diagram", "no-such-config.toml"],
        "no-such-config",
    ));
    cases.push(refused(
        &["figures", "--configs", "no-such-dir"],
        "no-such-dir",
    ));
}

/// Law files with every kind of mistake; the error names the line of the
/// offending key (serde alone points inside `[law]` at 1:1 or the table).
fn law_file_cases(cases: &mut Vec<Case>, dir: &Path) {
    let bad = [
        ("[law]\nfamily = \"cauchy\"\n", "unknown variant"),
        (
            "[law]\nfamily = \"ternary\"\nzero_prob = 0.5\n",
            ":3:1: unknown field `zero_prob`",
        ),
        (
            "name = \"x\"\n\n[law]\nfamily = \"gaussian\"\nextra = 1\n",
            ":5:1: unknown field `extra`",
        ),
        ("[law]\nfamily = \"sparse-binary\"\n", "density"),
        (
            "[law]\nfamily = \"sparse-binary\"\ndensity = 1.5\n",
            "density",
        ),
        (
            "[law]\nfamily = \"sparse-binary\"\ndensity = 0\n",
            "density",
        ),
        (
            "[law]\nfamily = \"sparse-binary\"\ndensity = -0.1\n",
            "density",
        ),
        (
            "[law]\nfamily = \"ternary\"\nzero_probability = 1\n",
            "zero_probability",
        ),
        (
            "[law]\nfamily = \"ternary\"\nzero_probability = -1\n",
            "zero_probability",
        ),
        (
            "[law]\nfamily = \"discrete\"\nvalues = [1, 1]\nprobabilities = [0.5, 0.5]\n",
            "",
        ),
        (
            "[law]\nfamily = \"discrete\"\nvalues = [1, 2]\nprobabilities = [0.5]\n",
            "",
        ),
        (
            "[law]\nfamily = \"discrete\"\nvalues = [1, 2]\nprobabilities = [0.7, 0.7]\n",
            "",
        ),
        (
            "[law]\nfamily = \"discrete\"\nvalues = [1, 2]\nprobabilities = [-0.5, 1.5]\n",
            "",
        ),
        (
            "[law]\nfamily = \"discrete\"\nvalues = []\nprobabilities = []\n",
            "",
        ),
        (
            "[law]\nfamily = \"discrete\"\nvalues = [1, nan]\nprobabilities = [0.5, 0.5]\n",
            "",
        ),
        (
            "[law]\nfamily = \"gaussian-mixture\"\nweights = [1]\nmeans = [0]\nsds = [0]\n",
            "",
        ),
        (
            "[law]\nfamily = \"gaussian-mixture\"\nweights = [1]\nmeans = [0]\nsds = [-1]\n",
            "",
        ),
        (
            "[law]\nfamily = \"gaussian-mixture\"\nweights = [0.5, 0.5]\nmeans = [0]\nsds = [1]\n",
            "",
        ),
        ("family = \"gaussian\"\n", "[law]"),
        ("", "law"),
        ("[law]\nfamily = \n", ""),
        ("name = \"a,b\"\n[law]\nfamily = \"gaussian\"\n", "name"),
        ("name = \"\"\n[law]\nfamily = \"gaussian\"\n", "name"),
        ("[law]\nfamily = \"laplace\"\n", "exponential tails"),
        (
            "[law]\nfamily = \"uniform\"\nwidth = 2\n",
            ":3:1: unknown field `width`",
        ),
    ];
    for (k, (text, needle)) in bad.into_iter().enumerate() {
        let path = write(&dir.join(format!("bad-law-{k}.toml")), text);
        let p = path.to_str().unwrap();
        cases.push(
            refused(&["thresholds", "--ensemble", p, "--lambda", "1"], needle).protecting(&[&path]),
        );
        cases.push(refused(&["law", p], needle).protecting(&[&path]));
    }
    let gaussian = law("gaussian");
    for bad_lambda in ["0", "-1", "nan"] {
        cases.push(refused(
            &["law", &gaussian, "--lambda", bad_lambda],
            "lambda",
        ));
    }
    // Huge lambda: the thresholds, and no cgf the quadrature cannot give.
    let mixture = law("gaussian-mixture");
    cases.push(accepted(
        &["law", &mixture, "--lambda", "1e300", "--json"],
        Box::new(|stdout| {
            let v = json(stdout)?;
            let cgf_ok = v["cgf"].is_null() || v["cgf"].as_f64().is_some_and(|c| c > 1e299);
            let a1 = field(&v, "alpha_1")?;
            if cgf_ok && a1 > 0.0 && a1 < 1.0 {
                Ok(())
            } else {
                Err(format!("{v}"))
            }
        }),
    ));
}

fn basin_cases(cases: &mut Vec<Case>) {
    for (ensemble, alpha) in [
        ("gaussian", "0"),
        ("gaussian", "-1"),
        ("gaussian", "nan"),
        ("gaussian", "inf"),
        ("binary", "0.7"),
        ("binary", "1e300"),
    ] {
        cases.push(refused(
            &[
                "basin",
                "--ensemble",
                ensemble,
                "--lambda",
                "1",
                "--alpha",
                alpha,
            ],
            "alpha",
        ));
    }
    for lambda in ["0", "-3", "inf", "nan"] {
        cases.push(refused(
            &[
                "basin",
                "--ensemble",
                "binary",
                "--lambda",
                lambda,
                "--alpha",
                "0.1",
            ],
            "lambda",
        ));
    }
    for rho in ["0", "-0.5", "1.5", "nan"] {
        cases.push(refused(
            &[
                "lambda-star",
                "--ensemble",
                "gaussian",
                "--alpha",
                "0.1",
                "--rho",
                rho,
            ],
            "rho",
        ));
    }
    // Old: alpha_1 = 0 next to rho_min = 0.733 at 1e16.
    for lambda in [1e16, 1e300] {
        let text = lambda.to_string();
        cases.push(accepted(
            &[
                "basin",
                "--ensemble",
                "binary",
                "--lambda",
                &text,
                "--alpha",
                "0.3",
                "--json",
            ],
            Box::new(|stdout| {
                let v = json(stdout)?;
                let (a1, rho) = (field(&v, "alpha_1")?, field(&v, "rho_min")?);
                close(a1, LN_2, 1e-15, "binary alpha_1")?;
                // Frozen: rho_min = u_max(0.3), the binary entropy root.
                let entropy =
                    0.5 * ((1.0 + rho) * (1.0 + rho).ln() + (1.0 - rho) * (1.0 - rho).ln());
                close(entropy, 0.3, 1e-9, "u_max(0.3)")
            }),
        ));
    }
    // Old: "REM freezing point: no bracket".
    for ensemble in ["gaussian", "spherical"] {
        cases.push(accepted(
            &[
                "basin",
                "--ensemble",
                ensemble,
                "--lambda",
                "1",
                "--alpha",
                "1e300",
                "--json",
            ],
            Box::new(|stdout| {
                let v = json(stdout)?;
                if v["rho_min"].is_null() && v["phase"] == "paramagnetic" {
                    Ok(())
                } else {
                    Err(format!("{v}"))
                }
            }),
        ));
    }
    cases.push(accepted(
        &[
            "lambda-star",
            "--ensemble",
            "gaussian",
            "--alpha",
            "1e300",
            "--rho",
            "0.5",
            "--json",
        ],
        Box::new(|stdout| {
            let v = json(stdout)?;
            v["lambda_star"]
                .is_null()
                .then_some(())
                .ok_or(format!("{v}"))
        }),
    ));
    cases.push(accepted(
        &[
            "basin",
            "--ensemble",
            "gaussian",
            "--lambda",
            "1e300",
            "--alpha",
            "1e-300",
        ],
        Box::new(|stdout| {
            let long = stdout.lines().any(|l| l.len() > 100);
            (!long)
                .then_some(())
                .ok_or(format!("numbers not in scientific notation: {stdout}"))
        }),
    ));
}

/// Tiny loads and temperatures: paramagnetic closed forms, not the root
/// finder's absolute tolerance (old: rho_min 0, lambda_* 0, "frozen").
fn tiny_cases(cases: &mut Vec<Case>, dir: &Path) {
    for ensemble in ENSEMBLES {
        cases.push(accepted(
            &[
                "basin",
                "--ensemble",
                ensemble,
                "--lambda",
                "1e-300",
                "--alpha",
                "2e-301",
                "--json",
            ],
            Box::new(|stdout| {
                let v = json(stdout)?;
                close(
                    field(&v, "rho_min")?,
                    0.2,
                    1e-12,
                    "rho_min = alpha / lambda",
                )
            }),
        ));
    }
    cases.push(accepted(
        &[
            "lambda-star",
            "--ensemble",
            "gaussian",
            "--alpha",
            "1e-302",
            "--rho",
            "0.5",
            "--json",
        ],
        Box::new(|stdout| {
            let v = json(stdout)?;
            close(
                field(&v, "lambda_star")?,
                2e-302,
                1e-12,
                "lambda_* = alpha / rho",
            )
        }),
    ));
    cases.push(refused(
        &["thresholds", "--ensemble", "binary", "--lambda", "1e-315"],
        "normal",
    ));
    // A basins figure at 1e300 and 1e-300 for every built-in.
    let config = write(
        &dir.join("extreme-basins.toml"),
        &BASINS
            .replace("[\"binary\"]", "[\"gaussian\", \"spherical\", \"binary\"]")
            .replace("[1.0]", "[1e300, 1e-300]")
            .replace("b.svg", "x.svg")
            .replace("b.csv", "x.csv"),
    );
    let csv = dir.join("x.csv");
    cases.push(accepted(
        &["phase-diagram", config.to_str().unwrap()],
        Box::new(move |_| {
            let text = std::fs::read_to_string(&csv).map_err(|e| e.to_string())?;
            for row in text.lines().skip(1) {
                let cells: Vec<&str> = row.split(',').collect();
                let num = |k: usize| cells[k].parse::<f64>().unwrap_or(f64::NAN);
                let (lambda, alpha, rho) = (num(1), num(2), num(3));
                let ok = (0.0..=1.0).contains(&rho)
                    && (lambda > 1.0
                        || ((rho - alpha / lambda).abs() < 1e-9 && cells[4] == "paramagnetic"));
                if !ok {
                    return Err(format!("row {row}"));
                }
            }
            Ok(())
        }),
    ));
}

fn bench_cases(cases: &mut Vec<Case>) {
    for (flag, value) in [
        ("--patterns", "0"),
        ("--n", "0"),
        ("--points", "1"),
        ("--points", "-1"),
        ("--law-points", "0"),
        ("--law-points", "1"),
        ("--points", "100000000"),
        ("--patterns", "-5"),
        ("--n", "1.5"),
    ] {
        // Refused before any benchmark runs: well under a second.
        cases.push(refused(&["bench", flag, value], flag).within(3));
    }
    cases.push(
        refused(
            &["bench", "--n", "100000", "--patterns", "100000000"],
            "GiB",
        )
        .within(3),
    );
}

fn cli_cases(cases: &mut Vec<Case>) {
    for args in [
        vec!["frobnicate"],
        vec![
            "thresholds",
            "--ensemble",
            "gaussian",
            "--lambda",
            "1",
            "--bogus",
        ],
        vec!["scan", "--ensemble"],
        vec!["basin"],
        vec!["law"],
        vec!["validate"],
    ] {
        cases.push(refused(&args, ""));
    }
}

/// The sweep: every case, a few at a time.
#[test]
fn bad_inputs_are_refused_cleanly_and_extreme_inputs_are_right() {
    let dir = tempfile::tempdir().unwrap();
    let mut cases = Vec::new();
    threshold_cases(&mut cases);
    attention_cases(&mut cases);
    scan_cases(&mut cases);
    output_cases(&mut cases, dir.path());
    config_cases(&mut cases, dir.path());
    law_file_cases(&mut cases, dir.path());
    basin_cases(&mut cases);
    tiny_cases(&mut cases, dir.path());
    bench_cases(&mut cases);
    cli_cases(&mut cases);
    let refusals = cases
        .iter()
        .filter(|c| matches!(c.expect, Expect::Refused(_)))
        .count();
    assert!(refusals >= 200, "only {refusals} bad inputs");
    eprintln!("{} cases, {refusals} of them bad inputs", cases.len());
    let threads = 4;
    let failures: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let cases = &cases;
                let dir = dir.path();
                scope.spawn(move || {
                    cases
                        .iter()
                        .skip(t)
                        .step_by(threads)
                        .filter_map(|c| {
                            run(c, dir)
                                .err()
                                .map(|e| format!("damcap {}: {e}", c.args.join(" ")))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Standard output on a full device or a closed pipe: one error line (or
/// silence for the pipe) and a non-zero exit, never a panic.
#[test]
fn failing_standard_output_is_no_panic() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_damcap"))
        .args(["thresholds", "--ensemble", "binary", "--lambda", "1"])
        .stdout(full)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("redirect"), "{stderr}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_damcap"))
        .args([
            "scan",
            "--ensemble",
            "binary",
            "--lambda-min",
            "1",
            "--lambda-max",
            "2",
        ])
        .args(["--points", "200000"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
}
