//! The command-line contract: JSON keys, CSV header, exit codes and
//! one-line errors on bad input, no partial files.

use std::path::Path;
use std::process::{Command, Output};

fn damcap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_damcap"))
        .args(args)
        .output()
        .expect("damcap runs")
}

/// A success: zero exit (stderr shown otherwise).
fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn json(out: &Output) -> serde_json::Value {
    assert_success(out);
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON object")
}

/// A failure: non-zero exit, exactly one line on stderr containing `needle`.
fn assert_clean_failure(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "should fail: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "one error line: {stderr}"
    );
    assert!(stderr.contains(needle), "'{needle}' missing from: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn thresholds_json_has_the_contract_keys() {
    let v = json(&damcap(&[
        "thresholds",
        "--ensemble",
        "gaussian",
        "--lambda",
        "0.5",
        "--json",
    ]));
    assert_eq!(v["ensemble"], "gaussian");
    assert_eq!(v["lambda"], 0.5);
    // Closed form for gaussian patterns below lambda = 1:
    // alpha_1 = lambda - lambda^2 / 2 = 0.375.
    assert!((v["alpha_1"].as_f64().unwrap() - (0.5 - 0.5 * 0.5 / 2.0)).abs() < 1e-12);
    assert!(v["alpha_c_lower"].as_f64().unwrap() < 0.375);
}

#[test]
fn thresholds_table_is_readable() {
    let out = damcap(&["thresholds", "--ensemble", "binary", "--lambda", "1"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("alpha_1") && text.contains("alpha_c_lower") && text.contains("binary"));
}

#[test]
fn basin_json_has_rho_min_and_phase() {
    let v = json(&damcap(&[
        "basin",
        "--ensemble",
        "gaussian",
        "--lambda",
        "2",
        "--alpha",
        "0.2",
        "--json",
    ]));
    // Gaussian, I(u) = u^2 / 2: the REM is frozen (I(Lambda'(lambda)) =
    // lambda^2 / 2 = 2 > alpha), phi = lambda u_max with I(u_max) = alpha,
    // and one step retrieves iff lambda rho > phi: rho_min = sqrt(2 alpha).
    assert!((v["rho_min"].as_f64().unwrap() - (2.0f64 * 0.2).sqrt()).abs() < 1e-12);
    assert_eq!(v["phase"], "frozen");
    let above = json(&damcap(&[
        "basin",
        "--ensemble",
        "gaussian",
        "--lambda",
        "2",
        "--alpha",
        "0.6",
        "--json",
    ]));
    // alpha = 0.6 is above alpha_1 = 1/2 (gaussian, lambda >= 1): no basin.
    assert!(above["rho_min"].is_null());
}

#[test]
fn lambda_star_json() {
    let v = json(&damcap(&[
        "lambda-star",
        "--ensemble",
        "gaussian",
        "--alpha",
        "0.3",
        "--rho",
        "1",
        "--json",
    ]));
    // Gaussian from xi^1 (rho = 1), paramagnetic REM: retrieval iff
    // lambda > alpha + lambda^2 / 2, i.e. lambda > 1 - sqrt(1 - 2 alpha).
    let closed_form = 1.0 - (1.0f64 - 2.0 * 0.3).sqrt();
    assert!((v["lambda_star"].as_f64().unwrap() - closed_form).abs() < 1e-12);
}

#[test]
fn scan_writes_csv_with_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scan.csv");
    let out = damcap(&[
        "scan",
        "--ensemble",
        "spherical",
        "--lambda-min",
        "0.1",
        "--lambda-max",
        "3",
        "--points",
        "7",
        "--out",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    assert!(lines
        .next()
        .unwrap()
        .contains("lambda,alpha_1,alpha_c_lower"));
    assert_eq!(lines.count(), 7);
}

#[test]
fn bad_lambda_is_one_clear_error() {
    for bad in ["-1", "0", "nan", "NaN", "inf"] {
        let out = damcap(&["thresholds", "--ensemble", "gaussian", "--lambda", bad]);
        assert_clean_failure(&out, "lambda");
    }
    let out = damcap(&["thresholds", "--ensemble", "gaussian", "--lambda", "abc"]);
    assert_clean_failure(&out, "--lambda");
}

#[test]
fn alpha_out_of_range_is_one_clear_error() {
    for bad in ["0", "-0.1", "0.7"] {
        let out = damcap(&[
            "basin",
            "--ensemble",
            "binary",
            "--lambda",
            "1",
            "--alpha",
            bad,
        ]);
        assert_clean_failure(&out, "alpha");
    }
}

#[test]
fn unknown_ensemble_lists_the_choices() {
    let out = damcap(&["thresholds", "--ensemble", "ising", "--lambda", "1"]);
    assert_clean_failure(&out, "choose one of gaussian, spherical, binary");
}

#[test]
fn unwritable_output_fails_before_work_and_leaves_nothing() {
    let out = damcap(&[
        "scan",
        "--ensemble",
        "gaussian",
        "--lambda-min",
        "0.1",
        "--lambda-max",
        "1",
        "--points",
        "3",
        "--out",
        "/nonexistent-dir/scan.csv",
    ]);
    assert_clean_failure(&out, "/nonexistent-dir");
    assert!(!Path::new("/nonexistent-dir").exists());
}

fn write_config(dir: &Path, body: &str) -> std::path::PathBuf {
    let path = dir.join("figure.toml");
    std::fs::write(&path, body).unwrap();
    path
}

#[test]
fn phase_diagram_config_writes_svg_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let (svg, csv) = (dir.path().join("pd.svg"), dir.path().join("pd.csv"));
    let body = format!(
        "kind = \"phase-diagram\"\ntitle = \"t\"\nensembles = [\"gaussian\", \"binary\"]\nsvg = {svg:?}\ncsv = {csv:?}\n\
         [lambda]\nmin = 0.1\nmax = 5.0\npoints = 20\nlog = true\n"
    );
    let out = damcap(&[
        "phase-diagram",
        write_config(dir.path(), &body).to_str().unwrap(),
    ]);
    assert_success(&out);
    let svg_text = std::fs::read_to_string(&svg).unwrap();
    assert!(svg_text.contains("all patterns retrieved") && svg_text.contains("λ"));
    assert_eq!(std::fs::read_to_string(&csv).unwrap().lines().count(), 41);
}

#[test]
fn config_errors_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("kind = \"phase-diagram\"\ntitle = \"t\"\nensembles = [\"gaussian\"]\nsvgg = \"a.svg\"\n", "svgg"),
        ("kind = \"phase-diagram\"\ntitle = \n", "figure.toml:2"),
        ("kind = \"histogram\"\n", "histogram"),
    ];
    for (body, needle) in cases {
        let out = damcap(&[
            "phase-diagram",
            write_config(dir.path(), body).to_str().unwrap(),
        ]);
        assert_clean_failure(&out, needle);
    }
    let missing = damcap(&["phase-diagram", "/no/such/config.toml"]);
    assert_clean_failure(&missing, "cannot read config");
}

#[test]
fn config_with_unknown_ensemble_or_unwritable_output_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("c.csv");
    let body = format!(
        "kind = \"phase-diagram\"\ntitle = \"t\"\nensembles = [\"gaussian\", \"potts\"]\nsvg = \"/nonexistent-dir/a.svg\"\ncsv = {csv:?}\n\
         [lambda]\nmin = 0.1\nmax = 5.0\npoints = 5\n"
    );
    let out = damcap(&[
        "phase-diagram",
        write_config(dir.path(), &body).to_str().unwrap(),
    ]);
    assert_clean_failure(&out, "/nonexistent-dir");
    assert!(!csv.exists());
}

#[test]
fn attention_scaling_json_has_a_1_and_a_c() {
    let v = json(&damcap(&[
        "thresholds",
        "--scaling",
        "attention",
        "--ensemble",
        "binary",
        "--beta",
        "1.5",
        "--n",
        "256",
        "--json",
    ]));
    let (a1, ac) = (v["a_1"].as_f64().unwrap(), v["a_c"].as_f64().unwrap());
    // Expansion a_1 = beta - beta^2 / (2 sqrt N) + O(N^{-3/2}) (sqrt N = 16;
    // the binary remainder is 2 beta^4 / 24 / N^{3/2} = 1e-4); a pinned norm
    // gives a_c = a_1.
    assert!((a1 - (1.5 - 1.5 * 1.5 / 32.0)).abs() < 1e-3 && (ac - a1).abs() < 1e-9);
    let limit = json(&damcap(&[
        "thresholds",
        "--scaling",
        "attention",
        "--ensemble",
        "gaussian",
        "--beta",
        "2",
        "--json",
    ]));
    assert_eq!(
        (limit["a_1"].as_f64(), limit["a_c"].as_f64()),
        (Some(2.0), Some(2.0))
    );
}

#[test]
fn attention_scan_and_missing_flags() {
    let out = damcap(&[
        "scan",
        "--scaling",
        "attention",
        "--ensemble",
        "gaussian",
        "--beta-min",
        "0.5",
        "--beta-max",
        "2",
        "--points",
        "4",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("ensemble,beta,n,a_1,a_c") && text.lines().count() == 5,
        "{text}"
    );
    let out = damcap(&[
        "thresholds",
        "--scaling",
        "attention",
        "--ensemble",
        "gaussian",
    ]);
    assert_clean_failure(&out, "--beta is required");
    let out = damcap(&[
        "thresholds",
        "--scaling",
        "attention",
        "--ensemble",
        "gaussian",
        "--lambda",
        "1",
    ]);
    assert_clean_failure(&out, "belong to the standard scaling");
    let out = damcap(&[
        "thresholds",
        "--ensemble",
        "gaussian",
        "--lambda",
        "1",
        "--beta",
        "1",
    ]);
    assert_clean_failure(&out, "belong to --scaling attention");
}

/// Where a finite-N crossing does not exist (gaussian lambda = 2: the
/// two-pattern saddle-node at N = 3 and 4, frozen crossings needing a
/// larger N), it is null in the JSON, blank in a scan's CSV and named in
/// the text, and the other crossings are still given; a scan over lambda
/// at N = 4 runs through (before, the first such point failed it).
#[test]
fn missing_finite_n_crossings_leave_the_others() {
    let args = [
        "thresholds",
        "--ensemble",
        "gaussian",
        "--lambda",
        "2",
        "--n",
        "3",
    ];
    let v = json(&damcap(&[&args[..], &["--json"]].concat()));
    assert!(v["alpha_1_dynamics_n"].is_null(), "{v}");
    assert!(v["alpha_1_first_step_n"].as_f64().unwrap() < 0.5, "{v}");
    assert!(v["alpha_c_n"].as_f64().is_some(), "{v}");
    let out = damcap(&args);
    assert_success(&out);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("alpha_1_dynamics_n    none at this N"),
        "{text}"
    );
    let out = damcap(&[
        "scan",
        "--ensemble",
        "gaussian",
        "--lambda-min",
        "0.1",
        "--lambda-max",
        "10",
        "--points",
        "5",
        "--n",
        "4",
    ]);
    assert_success(&out);
    let text = String::from_utf8(out.stdout).unwrap();
    let dynamics: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|line| line.split(',').nth(7).unwrap())
        .collect();
    assert_eq!(dynamics.len(), 5, "{text}");
    assert!(dynamics.contains(&""), "{text}");
    assert!(
        dynamics.iter().filter(|d| d.parse::<f64>().is_ok()).count() >= 3,
        "{text}"
    );
}

/// `--n` adds the finite-N crossings next to the N -> infinity values
/// (docs/theory.md §9): gaussian first step at lambda = 1/2 is
/// `alpha_1 (1 - 2/(3N))`; the dynamics lags it; binary duplicates give
/// `P(P - 1) / 2^{N+1} = ln 2`.
#[test]
fn thresholds_with_n_add_the_finite_n_crossings() {
    let v = json(&damcap(&[
        "thresholds",
        "--ensemble",
        "gaussian",
        "--lambda",
        "0.5",
        "--n",
        "24",
        "--json",
    ]));
    let first = v["alpha_1_first_step_n"].as_f64().unwrap();
    assert!((first - 0.375 * (1.0 - 2.0 / 72.0)).abs() < 1e-6, "{v}");
    assert!(v["alpha_1_dynamics_n"].as_f64().unwrap() < first);
    assert_eq!(v["alpha_1"].as_f64().unwrap(), 0.375);
    let v = json(&damcap(&[
        "thresholds",
        "--ensemble",
        "binary",
        "--lambda",
        "1",
        "--n",
        "12",
        "--json",
    ]));
    let p = (12.0 * v["alpha_c_n"].as_f64().unwrap()).exp();
    assert!(
        (p * (p - 1.0) / 2f64.powi(13) - 2f64.ln()).abs() < 1e-6,
        "{v}"
    );
    let v = json(&damcap(&[
        "basin",
        "--ensemble",
        "gaussian",
        "--lambda",
        "2",
        "--alpha",
        "0.2",
        "--n",
        "48",
        "--json",
    ]));
    let (edge, limit) = (
        v["rho_min_n"].as_f64().unwrap(),
        v["rho_min"].as_f64().unwrap(),
    );
    assert!(edge < limit && edge > limit - 0.2, "{v}");
    let v = json(&damcap(&[
        "thresholds",
        "--scaling",
        "attention",
        "--ensemble",
        "binary",
        "--beta",
        "1",
        "--n",
        "144",
        "--json",
    ]));
    assert!((v["a_1_first_step_n"].as_f64().unwrap() - v["a_1"].as_f64().unwrap()).abs() < 1e-9);
    for bad in ["0", "-3", "nan", "2.5"] {
        for command in [
            vec![
                "thresholds",
                "--ensemble",
                "gaussian",
                "--lambda",
                "1",
                "--n",
                bad,
            ],
            vec![
                "basin",
                "--ensemble",
                "gaussian",
                "--lambda",
                "1",
                "--alpha",
                "0.2",
                "--n",
                bad,
            ],
            vec![
                "scan",
                "--ensemble",
                "gaussian",
                "--lambda-min",
                "1",
                "--lambda-max",
                "2",
                "--points",
                "2",
                "--n",
                bad,
            ],
        ] {
            assert_clean_failure(
                &damcap(&command),
                "the dimension must be a whole number >= 2",
            );
        }
    }
}

/// A validate config in `dir` with one fast first-step study (binary
/// patterns sample in O(N) per trial) and, optionally, a dynamics study.
fn validate_config(dir: &Path, with_dynamics: bool) -> std::path::PathBuf {
    let mut body = format!(
        "kind = \"validate\"\ntitle = \"t\"\nseed = 5\nensemble = \"binary\"\nraw_csv = {:?}\nsummary_json = {:?}\nsvg = {:?}\n\
         [[study]]\nname = \"fs\"\nobservable = \"alpha_1\"\nmethod = \"first-step\"\nlambda = 1.0\nsizes = [16, 24, 32]\n\
         grid = {{ min = 0.4, max = 0.7, points = 7 }}\ntrials = 60\nbootstrap = 40\n",
        dir.join("raw.csv"),
        dir.join("summary.json"),
        dir.join("overlay.svg"),
    );
    if with_dynamics {
        body.push_str(
            "[[study]]\nname = \"dyn\"\nobservable = \"alpha_1\"\nlambda = 1.0\nsizes = [12, 14, 16]\n\
             grid = { min = 0.3, max = 0.9, points = 7 }\ntrials = 100\nbootstrap = 40\nmax_steps = 50\n",
        );
    }
    write_config(dir, &body)
}

#[test]
fn validate_writes_summary_overlay_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let config = validate_config(dir.path(), false);
    let out = damcap(&["validate", config.to_str().unwrap(), "--json"]);
    let v = json(&out);
    let study = &v["studies"][0];
    for key in [
        "ensemble",
        "lambda",
        "observable",
        "theory",
        "extrapolated",
        "ci_low",
        "ci_high",
    ] {
        assert!(!study[key].is_null(), "missing {key}");
    }
    assert_eq!(study["observable"], "alpha_1");
    // Binary closed form: alpha_1 = lambda - ln cosh lambda.
    assert!((study["theory"].as_f64().unwrap() - (1.0 - 1f64.cosh().ln())).abs() < 1e-12);
    let raw = std::fs::read_to_string(dir.path().join("raw.csv")).unwrap();
    assert_eq!(raw.lines().count(), 1 + 3 * 7 * 60);
    let svg = std::fs::read_to_string(dir.path().join("overlay.svg")).unwrap();
    assert!(svg.contains("N = 24") && svg.contains("theory"));
    // A rerun finds every point done and reproduces the summary exactly.
    let again = damcap(&["validate", config.to_str().unwrap(), "--json"]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("resuming: 21 finished points"));
    assert_eq!(json(&again), v);
}

/// Runs `damcap validate` (with `extra` arguments, e.g. a shard) on a
/// config made by [`validate_config`] with its dynamics study, sends
/// `signal` (as `kill` takes it) once a point of study `study` has been
/// saved to `raw` (a file name beside the config), and waits for the
/// process.
fn signal_after_saved_point(
    config: &Path,
    extra: &[&str],
    (raw, study): (&str, &str),
    signal: &str,
) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_damcap"))
        .args(["validate", config.to_str().unwrap()])
        .args(extra)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let raw = config.with_file_name(raw);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !std::fs::read_to_string(&raw)
        .unwrap_or_default()
        .contains(&format!("\n{study},"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no {study} point saved"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn validate_ctrl_c_keeps_finished_points_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let config = validate_config(dir.path(), true);
    let raw = dir.path().join("raw.csv");
    // The first point (first-step) is saved at once; most of the dynamics
    // points are still to come when Ctrl-C arrives.
    let out = signal_after_saved_point(&config, &[], ("raw.csv", "fs"), "-INT");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("rerun the same command to resume"));
    let kept = std::fs::read_to_string(&raw).unwrap();
    let rows = |study: &str| kept.lines().filter(|l| l.starts_with(study)).count();
    let (fs_rows, dyn_rows) = (rows("fs,"), rows("dyn,"));
    assert!(
        fs_rows > 0 && fs_rows % 60 == 0 && dyn_rows % 100 == 0 && dyn_rows < 2100,
        "whole points only, not all of them: {fs_rows} {dyn_rows}"
    );
    assert!(!dir.path().join("summary.json").exists());
    let resumed = damcap(&["validate", config.to_str().unwrap()]);
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert!(String::from_utf8_lossy(&resumed.stderr).contains("resuming"));
    assert!(dir.path().join("summary.json").exists());
}

/// Replaces `from` by `to` in the config file at `path`.
fn edit_config(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from} not in config");
    std::fs::write(path, text.replace(from, to)).unwrap();
}

#[test]
fn validate_config_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let config = validate_config(dir.path(), false);
    edit_config(&config, "lambda = 1.0\n", "");
    let out = damcap(&["validate", config.to_str().unwrap()]);
    assert_clean_failure(&out, "observable alpha_1 needs `lambda`");
    edit_config(&config, "method", "lambda = 1.0\nbeta = 2.0\nmethod");
    let out = damcap(&["validate", config.to_str().unwrap()]);
    assert_clean_failure(&out, "`beta` is not used by observable alpha_1");
}

#[test]
fn validate_grid_without_crossing_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let config = validate_config(dir.path(), false);
    edit_config(&config, "min = 0.4, max = 0.7", "min = 0.7, max = 0.9");
    let out = damcap(&["validate", config.to_str().unwrap()]);
    assert_clean_failure(&out, "stays below 1/2 over the whole grid");
}

/// Root of an increasing function on `[lo, hi]`, by bisection.
fn bisect(f: impl Fn(f64) -> f64, mut lo: f64, mut hi: f64) -> f64 {
    assert!(f(lo) < 0.0 && f(hi) > 0.0, "no sign change on [{lo}, {hi}]");
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if f(mid) < 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// alpha_c of ternary patterns (0 with probability 1/2, else +-sqrt 2),
/// derived by hand, independently of the theory crate's convex duality:
/// - `E_b e^{t a b}` is 1 for `a = 0` and `1/2 + cosh(2t)/2 = cosh^2 t`
///   for `a = +-sqrt 2`, so `Lambda(t) = ln cosh t`, the binary one;
/// - if a fraction `f` of xi^1's entries is non-zero (`s = c = 2f`), the
///   others' overlaps have `Lambda_c(t) = c ln cosh t`, and xi^1 fails
///   when `phi >= lambda c`. In the paramagnetic phase this reads
///   `alpha >= c alpha_1(lambda)`; the frozen phase would need
///   `alpha >= c ln 2`, impossible there (`alpha < c I(tanh lambda) < c ln 2`);
/// - the cheapest failing `f` is `alpha / (2 alpha_1)`, at the cost
///   `KL(f || 1/2) = f ln(2f) + (1 - f) ln(2(1 - f))`, and the union bound
///   holds while that cost exceeds alpha.
fn ternary_alpha_c(lambda: f64) -> f64 {
    let alpha_1 = lambda - lambda.cosh().ln();
    let cost = |alpha: f64| {
        let f = alpha / (2.0 * alpha_1);
        f * (2.0 * f).ln() + (1.0 - f) * (2.0 * (1.0 - f)).ln()
    };
    bisect(|alpha| alpha - cost(alpha), 1e-9, alpha_1)
}

/// A law file of `configs/ensembles/`, by absolute path.
fn law_file(name: &str) -> String {
    format!(
        "{}/configs/ensembles/{name}.toml",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn law_files_work_wherever_an_ensemble_is_taken() {
    let ternary = law_file("ternary");
    let t = json(&damcap(&[
        "thresholds",
        "--ensemble",
        &ternary,
        "--lambda",
        "1",
        "--json",
    ]));
    assert_eq!(t["ensemble"], "ternary");
    // Ternary Lambda(t) = ln cosh t, as binary (see `ternary_alpha_c`).
    let binary_alpha_1 = 1.0 - 1f64.cosh().ln();
    assert!((t["alpha_1"].as_f64().unwrap() - binary_alpha_1).abs() < 1e-9);
    assert!((t["alpha_c_lower"].as_f64().unwrap() - ternary_alpha_c(1.0)).abs() < 1e-9);
    assert_eq!(t["alpha_c_route"], "self-overlap");
    let b = json(&damcap(&[
        "basin",
        "--ensemble",
        &ternary,
        "--lambda",
        "1",
        "--alpha",
        "0.2",
        "--json",
    ]));
    // Frozen REM with the binary rate (I(tanh 1) = 0.328 > alpha = 0.2):
    // rho_min = u_max with I(u_max) = alpha, as for gaussian patterns above.
    let binary_rate = |u: f64| (1.0 + u) / 2.0 * (1.0 + u).ln() + (1.0 - u) / 2.0 * (1.0 - u).ln();
    let u_max = bisect(|u| binary_rate(u) - 0.2, 0.0, 1.0 - 1e-15);
    assert!((b["rho_min"].as_f64().unwrap() - u_max).abs() < 1e-9);
    // The +-1 law file and the built-in binary ensemble agree.
    let file = json(&damcap(&[
        "thresholds",
        "--ensemble",
        &law_file("binary"),
        "--lambda",
        "3",
        "--json",
    ]));
    let builtin = json(&damcap(&[
        "thresholds",
        "--ensemble",
        "binary",
        "--lambda",
        "3",
        "--json",
    ]));
    for key in ["alpha_1", "alpha_c_lower"] {
        let (a, b) = (file[key].as_f64().unwrap(), builtin[key].as_f64().unwrap());
        assert!((a - b).abs() < 1e-9, "{key}: {a} vs {b}");
    }
}

#[test]
fn law_command_reports_the_standardised_law() {
    let v = json(&damcap(&[
        "law",
        &law_file("uniform"),
        "--lambda",
        "2",
        "--json",
    ]));
    assert_eq!(v["name"], "uniform");
    assert_eq!(v["family"]["family"], "uniform");
    // Uniform on [-sqrt 3, sqrt 3] (variance 1): E a^4 = 3^2 / 5 = 9/5.
    assert!((v["fourth_moment"].as_f64().unwrap() - 9.0 / 5.0).abs() < 1e-12);
    assert!(v["cgf_error"].as_f64().unwrap() < 1e-12);
    assert!(v["alpha_c_lower"].as_f64().unwrap() < v["alpha_1"].as_f64().unwrap());
    let text = damcap(&["law", &law_file("sparse-binary")]);
    let text = String::from_utf8(text.stdout).unwrap();
    // Bernoulli(0.1) standardised: mean 0.1, sd sqrt(0.1 * 0.9) = 0.3, so
    // 0 -> -0.1 / 0.3 = -1/3 and 1 -> 0.9 / 0.3 = 3.
    assert!(
        text.contains("-0.333333 (p 0.900000), 3.000000 (p 0.100000)"),
        "{text}"
    );
}

#[test]
fn bad_law_files_are_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("typo.toml");
    std::fs::write(&path, "[law]\nfamily = \"ternary\"\nzero_prob = 0.5\n").unwrap();
    let out = damcap(&[
        "thresholds",
        "--ensemble",
        path.to_str().unwrap(),
        "--lambda",
        "1",
    ]);
    // The key's own line (serde points inside [law] at 1:1).
    assert_clean_failure(&out, "typo.toml:3:1: unknown field `zero_prob`");
    std::fs::write(
        &path,
        "[law]\nfamily = \"discrete\"\nvalues = [1, 2]\nprobabilities = [0.5, 0.6]\n",
    )
    .unwrap();
    let out = damcap(&["law", path.to_str().unwrap()]);
    assert_clean_failure(&out, "sum to 1.1: they must sum to 1");
    let out = damcap(&["law", &law_file("laplace")]);
    assert_clean_failure(&out, "exponential tails");
    let out = damcap(&[
        "basin",
        "--ensemble",
        "no/such/law.toml",
        "--lambda",
        "1",
        "--alpha",
        "0.1",
    ]);
    assert_clean_failure(&out, "cannot read law file no/such/law.toml");
}

#[test]
fn law_comparison_config_overlays_laws() {
    let dir = tempfile::tempdir().unwrap();
    let (svg, csv) = (dir.path().join("laws.svg"), dir.path().join("laws.csv"));
    let body = format!(
        "kind = \"law-comparison\"\ntitle = \"t\"\nensembles = [\"binary\", {:?}, {:?}]\nsvg = {svg:?}\ncsv = {csv:?}\n\
         [lambda]\nmin = 0.1\nmax = 5.0\npoints = 6\nlog = true\n",
        law_file("ternary"),
        law_file("sparse-binary"),
    );
    let out = damcap(&[
        "phase-diagram",
        write_config(dir.path(), &body).to_str().unwrap(),
    ]);
    assert_success(&out);
    let svg_text = std::fs::read_to_string(&svg).unwrap();
    for label in ["sparse-binary-0.1", "ternary", "α₁(λ)", "α_c(λ)"] {
        assert!(svg_text.contains(label), "{label}");
    }
    assert_eq!(std::fs::read_to_string(&csv).unwrap().lines().count(), 19);
}

/// `figures --validate` runs several simulation configs in one process
/// (one Ctrl-C handler for all), law files included.
#[test]
fn figures_validate_runs_several_simulation_configs() {
    let dir = tempfile::tempdir().unwrap();
    let configs = dir.path().join("configs");
    std::fs::create_dir(&configs).unwrap();
    for (name, ensemble) in [("a", "binary".to_string()), ("b", law_file("ternary"))] {
        let out = |ext: &str| dir.path().join(format!("{name}.{ext}"));
        let body = format!(
            "kind = \"validate\"\ntitle = \"t\"\nseed = 5\nensemble = {ensemble:?}\nraw_csv = {:?}\nsummary_json = {:?}\nsvg = {:?}\n\
             [[study]]\nname = \"fs\"\nobservable = \"alpha_1\"\nmethod = \"first-step\"\nlambda = 1.0\nsizes = [16, 24, 32]\n\
             grid = {{ min = 0.4, max = 0.7, points = 7 }}\ntrials = 60\nbootstrap = 40\n",
            out("csv"),
            out("json"),
            out("svg"),
        );
        std::fs::write(configs.join(format!("{name}.toml")), body).unwrap();
    }
    let out = damcap(&[
        "figures",
        "--validate",
        "--configs",
        configs.to_str().unwrap(),
    ]);
    assert_success(&out);
    for name in ["a", "b"] {
        let summary = std::fs::read_to_string(dir.path().join(format!("{name}.json"))).unwrap();
        let v: serde_json::Value = serde_json::from_str(&summary).unwrap();
        let theory = v["studies"][0]["theory"].as_f64().unwrap();
        assert!(
            (theory - (1.0 - 1f64.cosh().ln())).abs() < 1e-9,
            "{name}: {theory}"
        );
    }
}

/// A validate config with one first-step study, its outputs in `dir`
/// (fast: binary first steps cost O(N) per trial).
fn small_validate_config(dir: &Path, seed: u64) -> std::path::PathBuf {
    let body = format!(
        "kind = \"validate\"\ntitle = \"t\"\nseed = {seed}\nensemble = \"binary\"\nraw_csv = {:?}\nsummary_json = {:?}\nsvg = {:?}\n\
         [[study]]\nname = \"fs\"\nobservable = \"alpha_1\"\nmethod = \"first-step\"\nlambda = 1.0\nsizes = [16, 24, 32]\n\
         grid = {{ min = 0.4, max = 0.7, points = 7 }}\ntrials = 40\nbootstrap = 40\n",
        dir.join("raw.csv"),
        dir.join("summary.json"),
        dir.join("overlay.svg"),
    );
    write_config(dir, &body)
}

/// Three shards run as separate processes and merged give exactly the
/// summary and raw CSV of the unsharded run.
#[test]
fn shards_merge_into_the_single_run() {
    let single = tempfile::tempdir().unwrap();
    let config = small_validate_config(single.path(), 5);
    let expected = json(&damcap(&["validate", config.to_str().unwrap(), "--json"]));
    let sharded = tempfile::tempdir().unwrap();
    let config = small_validate_config(sharded.path(), 5);
    let path = config.to_str().unwrap();
    let children: Vec<_> = (1..=3)
        .map(|k| {
            Command::new(env!("CARGO_BIN_EXE_damcap"))
                .args(["validate", path, "--shard", &format!("{k}/3")])
                .output()
                .unwrap()
        })
        .collect();
    children.iter().for_each(assert_success);
    assert!(sharded.path().join("raw.shard-2-of-3.csv").exists());
    assert!(!sharded.path().join("summary.json").exists());
    let merged = json(&damcap(&["merge", path, "--shards", "3", "--json"]));
    assert_eq!(merged, expected);
    let raw = |d: &Path| std::fs::read(d.join("raw.csv")).unwrap();
    assert_eq!(raw(sharded.path()), raw(single.path()));
}

/// A missing or foreign shard is named, with the command that fixes it.
#[test]
fn merge_refuses_missing_or_foreign_shards() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_validate_config(dir.path(), 5);
    let path = config.to_str().unwrap();
    assert_success(&damcap(&["validate", path, "--shard", "1/2"]));
    let out = damcap(&["merge", path, "--shards", "2"]);
    assert_clean_failure(&out, "--shard 2/2");
    edit_config(&config, "seed = 5", "seed = 6");
    assert_success(&damcap(&["validate", path, "--shard", "2/2"]));
    let out = damcap(&["merge", path, "--shards", "2"]);
    assert_clean_failure(&out, "another seed or config");
    for bad in ["0/2", "3/2", "x"] {
        let out = damcap(&["validate", path, "--shard", bad]);
        assert_clean_failure(&out, "--shard");
    }
}

/// Changing the seed keeps the old raw CSV beside the new one.
#[test]
fn raw_csv_of_another_seed_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_validate_config(dir.path(), 5);
    let path = config.to_str().unwrap();
    assert_success(&damcap(&["validate", path]));
    let first = std::fs::read(dir.path().join("raw.csv")).unwrap();
    edit_config(&config, "seed = 5", "seed = 6");
    let out = damcap(&["validate", path]);
    assert_success(&out);
    assert!(String::from_utf8_lossy(&out.stderr).contains("copied it to"));
    let kept = std::fs::read(dir.path().join("raw.csv.stale-1")).unwrap();
    assert_eq!(kept, first);
    assert_ne!(std::fs::read(dir.path().join("raw.csv")).unwrap(), first);
}

/// The terminal gets a verdict line per study; the theory is binary
/// alpha_1(1) = 1 - ln cosh 1 (docs/theory.md §3).
#[test]
fn validate_prints_a_verdict_table() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_validate_config(dir.path(), 5);
    let out = damcap(&["validate", config.to_str().unwrap()]);
    assert_success(&out);
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].contains("theory") && lines[0].contains("agrees"));
    let theory = format!("{:.4}", 1.0 - 1f64.cosh().ln());
    assert!(
        lines[1].starts_with("fs ") && lines[1].contains(&theory),
        "{text}"
    );
}

/// Broken names and sizes, runaway trial counts, dynamics beyond the work
/// cap and all-patterns studies that would not fit in memory are refused
/// at once, before any simulation.
#[test]
fn validate_refuses_bad_studies_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_validate_config(dir.path(), 5);
    let path = config.to_str().unwrap();
    let cases = [
        ("name = \"fs\"", "name = \"f\\ns\"", "control characters"),
        ("name = \"fs\"", "name = \"f,s\"", "without commas"),
        (
            "sizes = [16, 24, 32]",
            "sizes = [16, 16, 24]",
            "distinct sizes",
        ),
        (
            "sizes = [16, 24, 32]",
            "sizes = [16, 24, 32, 16]",
            "repeated",
        ),
        ("trials = 40", "trials = 1000000000000", "at most"),
        (
            "seed = 5\n",
            "seed = 5\nmemory_gib = 0\n",
            "not a usable budget",
        ),
        (
            "seed = 5\n",
            "seed = 5\nmemory_gib = nan\n",
            "not a usable budget",
        ),
        (
            "seed = 5\n",
            "seed = 5\nmemory_gib = 1e9\n",
            "not a usable budget",
        ),
        (
            "method = \"first-step\"\n",
            "max_steps = 10\n",
            "above the cap",
        ),
        ("method = \"first-step\"\n", "", "exceeds the memory limit"),
    ];
    for (from, to, needle) in cases {
        let original = std::fs::read_to_string(&config).unwrap();
        edit_config(&config, from, to);
        if needle == "above the cap" {
            // Dynamics at N = 48 and alpha = 0.7: P = e^33.6, streamed (no
            // memory limit) but far beyond the work cap.
            edit_config(&config, "sizes = [16, 24, 32]", "sizes = [16, 24, 48]");
        }
        if needle == "exceeds the memory limit" {
            // All patterns at N = 32 and alpha = 0.7: P = e^22.4 stored
            // patterns, 690 GB.
            edit_config(&config, "\"alpha_1\"", "\"alpha_c\"");
        }
        let start = std::time::Instant::now();
        let out = damcap(&["validate", path]);
        assert_clean_failure(&out, needle);
        assert!(start.elapsed() < std::time::Duration::from_secs(10));
        assert!(!dir.path().join("raw.csv").exists());
        std::fs::write(&config, original).unwrap();
    }
}

/// SIGTERM stops like Ctrl-C, and after SIGKILL the checkpoint is whole:
/// either way the resumed run ends with the raw CSV of an uninterrupted run,
/// sharded or not.
#[test]
fn resume_after_sigterm_and_sigkill_is_exact() {
    let reference = tempfile::tempdir().unwrap();
    let config = validate_config(reference.path(), true);
    assert_success(&damcap(&["validate", config.to_str().unwrap()]));
    let expected = std::fs::read(reference.path().join("raw.csv")).unwrap();
    for signal in ["-TERM", "-KILL"] {
        let dir = tempfile::tempdir().unwrap();
        let config = validate_config(dir.path(), true);
        let raw = dir.path().join("raw.csv");
        let out = signal_after_saved_point(&config, &[], ("raw.csv", "fs"), signal);
        assert!(!out.status.success(), "{signal}");
        assert!(!dir.path().join("summary.json").exists(), "{signal}");
        assert_success(&damcap(&["validate", config.to_str().unwrap()]));
        assert_eq!(std::fs::read(&raw).unwrap(), expected, "{signal}");
    }
    // A shard killed and resumed, merged with the other: the same raw CSV.
    let dir = tempfile::tempdir().unwrap();
    let config = validate_config(dir.path(), true);
    let path = config.to_str().unwrap();
    let shard = ["--shard", "1/2"];
    // The first point (a fast first-step one) is saved at once; the
    // dynamics points are still to come when the kill arrives.
    let out = signal_after_saved_point(&config, &shard, ("raw.shard-1-of-2.csv", "fs"), "-KILL");
    assert!(!out.status.success());
    assert_success(&damcap(&["validate", path, "--shard", "1/2"]));
    assert_success(&damcap(&["validate", path, "--shard", "2/2"]));
    assert_success(&damcap(&["merge", path, "--shards", "2"]));
    assert_eq!(std::fs::read(dir.path().join("raw.csv")).unwrap(), expected);
}

/// A fresh clone lacks the untracked `plots/validation/`: validate creates
/// the missing output directories inside the working directory.
#[test]
fn validate_creates_missing_output_directories() {
    let dir = tempfile::tempdir().unwrap();
    let config = validate_config(dir.path(), false);
    let text = std::fs::read_to_string(&config).unwrap();
    let fresh = dir.path().join("plots/validation");
    let text = text.replace(dir.path().to_str().unwrap(), fresh.to_str().unwrap());
    std::fs::write(&config, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_damcap"))
        .args(["validate", config.to_str().unwrap()])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_success(&out);
    assert!(fresh.join("summary.json").is_file());
    assert!(fresh.join("raw.csv").is_file());
}

/// A validate config whose output is the config itself, or whose outputs
/// coincide, is refused before any work, and nothing is overwritten; a
/// raw CSV behind a symbolic link is written through it.
#[test]
fn validate_outputs_never_clobber_inputs_or_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_validate_config(dir.path(), 5);
    let path = config.to_str().unwrap();
    let original = std::fs::read_to_string(&config).unwrap();
    let summary = format!("{:?}", dir.path().join("summary.json"));
    let raw = format!("{:?}", dir.path().join("raw.csv"));
    let cases = [
        (summary.clone(), format!("{:?}", config), "itself"),
        (raw.clone(), summary.clone(), "same file"),
    ];
    for (from, to, needle) in cases {
        std::fs::write(&config, original.replace(&from, &to)).unwrap();
        let out = damcap(&["validate", path]);
        assert_clean_failure(&out, needle);
        assert_eq!(
            std::fs::read_to_string(&config).unwrap(),
            original.replace(&from, &to)
        );
        assert!(!dir.path().join("raw.csv").exists());
    }
    std::fs::write(&config, &original).unwrap();
    let target = dir.path().join("real-raw.csv");
    std::fs::write(&target, "").unwrap();
    std::os::unix::fs::symlink(&target, dir.path().join("raw.csv")).unwrap();
    assert_success(&damcap(&["validate", path]));
    let link = std::fs::symlink_metadata(dir.path().join("raw.csv")).unwrap();
    assert!(link.file_type().is_symlink());
    assert!(std::fs::read_to_string(&target)
        .unwrap()
        .starts_with("study,n,"));
}

/// Runs `damcap validate` on `tests/configs/validate-{ensemble}.toml` in a
/// fresh directory (the config's outputs are relative) and returns the
/// summary's studies.
fn run_ci_validate_config(ensemble: &str) -> Vec<serde_json::Value> {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "{}/tests/configs/validate-{ensemble}.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = Command::new(env!("CARGO_BIN_EXE_damcap"))
        .args(["validate", &config, "--json"])
        .current_dir(dir.path())
        .output()
        .expect("damcap runs");
    let v = json(&out);
    assert!(dir.path().join("summary.json").exists());
    v["studies"].as_array().unwrap().clone()
}

/// A number from the JSON output of `damcap <args> --json`.
fn cli_number(args: &[&str], key: &str) -> f64 {
    let mut args = args.to_vec();
    args.push("--json");
    json(&damcap(&args))[key].as_f64().unwrap()
}

/// Every study's extrapolated threshold agrees with its theory value within
/// its 95% interval, and the summary says so.
fn assert_agreement(studies: &[serde_json::Value]) {
    for s in studies {
        let (theory, low, high) = (
            s["theory"].as_f64().unwrap(),
            s["ci_low"].as_f64().unwrap(),
            s["ci_high"].as_f64().unwrap(),
        );
        assert!(
            low <= theory && theory <= high && s["agrees"] == true,
            "{}: theory {theory} outside [{low}, {high}] (extrapolated {})",
            s["name"],
            s["extrapolated"]
        );
    }
}

/// The theory value of each study, by name.
fn theory_of(studies: &[serde_json::Value], name: &str) -> f64 {
    studies
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no study {name}"))["theory"]
        .as_f64()
        .unwrap()
}

/// Gaussian patterns at lambda = 0.5, end to end: both extrapolations agree
/// with the theory; the alpha_1 study is compared with alpha_1 (closed form
/// lambda - lambda^2 / 2 = 0.375) and the all-patterns study with the
/// all-patterns bound alpha_c_lower of `damcap thresholds`, not with
/// alpha_1 (0.22 away, far outside the interval).
#[test]
fn validate_gaussian_agrees_with_theory() {
    let studies = run_ci_validate_config("gaussian");
    assert_agreement(&studies);
    let args = ["thresholds", "--ensemble", "gaussian", "--lambda", "0.5"];
    assert!((theory_of(&studies, "typical-first-step") - 0.375).abs() < 1e-12);
    let alpha_c = cli_number(&args, "alpha_c_lower");
    assert!((cli_number(&args, "alpha_1") - alpha_c).abs() > 0.1);
    assert_eq!(theory_of(&studies, "all-patterns"), alpha_c);
}

/// Spherical patterns at lambda = 1, end to end. Theory: alpha_1 = alpha_c
/// = 1 - Lambda(1), with Lambda(1) = u* + ln(1 - u*^2) / 2 at the maximiser
/// u* = (sqrt 5 - 1) / 2 (docs/theory.md §3).
#[test]
fn validate_spherical_agrees_with_theory() {
    let studies = run_ci_validate_config("spherical");
    assert_agreement(&studies);
    let u = (5f64.sqrt() - 1.0) / 2.0;
    let alpha_1 = 1.0 - (u + 0.5 * (1.0 - u * u).ln());
    let args = ["thresholds", "--ensemble", "spherical", "--lambda", "1"];
    for (name, key) in [
        ("typical-first-step", "alpha_1"),
        ("all-patterns", "alpha_c_lower"),
    ] {
        assert!((theory_of(&studies, name) - alpha_1).abs() < 1e-9, "{name}");
        assert_eq!(theory_of(&studies, name), cli_number(&args, key));
    }
}

/// Binary patterns at lambda = 1, end to end. Theory: alpha_1 = 1 - ln cosh
/// 1 (closed form); alpha_c = ln 2 / 2 (a pattern fails only through an
/// exact duplicate, probability e^{-N ln 2} each, against e^{alpha N}
/// others); lambda_*(alpha = 0.3) from `damcap lambda-star` (paramagnetic
/// REM: the root of lambda - ln cosh lambda = alpha). Each study must use its own
/// theory value: alpha_1 and alpha_c differ by 0.22.
#[test]
fn validate_binary_agrees_with_theory() {
    let studies = run_ci_validate_config("binary");
    assert_agreement(&studies);
    let alpha_1 = 1.0 - 1f64.cosh().ln();
    assert!((theory_of(&studies, "typical-first-step") - alpha_1).abs() < 1e-12);
    let alpha_c = theory_of(&studies, "all-patterns");
    assert!((alpha_c - 2f64.ln() / 2.0).abs() < 1e-9, "{alpha_c}");
    let args = ["thresholds", "--ensemble", "binary", "--lambda", "1"];
    assert_eq!(alpha_c, cli_number(&args, "alpha_c_lower"));
    let lambda_star = theory_of(&studies, "lambda-scan");
    let closed = bisect(|l| l - l.cosh().ln() - 0.3, 0.01, 3.0);
    assert!(
        (lambda_star - closed).abs() < 1e-9,
        "{lambda_star} vs {closed}"
    );
    let star_args = [
        "lambda-star",
        "--ensemble",
        "binary",
        "--alpha",
        "0.3",
        "--rho",
        "1",
    ];
    assert_eq!(lambda_star, cli_number(&star_args, "lambda_star"));
}

/// `phase-diagram` draws figures only: a simulation config is refused with
/// the command that runs it, before any simulation.
#[test]
fn phase_diagram_refuses_a_validate_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_validate_config(dir.path(), 5);
    let out = damcap(&["phase-diagram", config.to_str().unwrap()]);
    assert_clean_failure(&out, "damcap validate");
    assert!(!dir.path().join("raw.csv").exists());
}
