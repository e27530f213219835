//! The dashboard in a real browser: Debian's headless Chromium driven through chromedriver
//! (W3C WebDriver over HTTP, `scripts/install-tools.sh browser`), against a real `flotilla
//! serve` with `sim` agents. Screenshots of every page are written to
//! `target/dashboard-screenshots/` (the test's artifacts).

use std::io::{BufRead as _, Read as _, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use super::agent::wait_until;
use super::command;
use super::feedback::{feedback_fleet, sim_agent, start};
use super::serve::{edit_web_image, receiver, token_with};

/// chromedriver on a free port, with one headless Chromium session; both stopped when dropped.
struct Browser {
    driver: Child,
    port: u16,
    session: String,
}

impl Browser {
    fn start() -> Browser {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = std::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is installed (scripts/install-tools.sh browser)");
        let mut b = Browser {
            driver,
            port,
            session: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while b.call("GET", "/status", None)["value"]["ready"] != true {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let created = b.call(
            "POST",
            "/session",
            Some(json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": "/usr/bin/chromium",
                    "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                             "--disable-dev-shm-usage", "--window-size=1400,1000"]
                }
            }}})),
        );
        b.session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_owned();
        b
    }

    /// One WebDriver command: its JSON answer.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return Value::Null;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(60)));
        let _ = write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        );
        // chromedriver keeps the connection open: the answer is read by its length.
        let mut r = std::io::BufReader::new(s);
        let mut length = 0usize;
        let mut chunked = false;
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                return Value::Null;
            }
            let l = line.trim_end().to_ascii_lowercase();
            if l.is_empty() {
                break;
            }
            if let Some(v) = l.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            chunked |= l.starts_with("transfer-encoding:") && l.contains("chunked");
        }
        let body = if chunked {
            let mut text = String::new();
            loop {
                let mut size = String::new();
                if r.read_line(&mut size).unwrap_or(0) == 0 {
                    break;
                }
                let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                if n == 0 {
                    break;
                }
                let mut chunk = vec![0; n + 2];
                if r.read_exact(&mut chunk).is_err() {
                    break;
                }
                text.push_str(&String::from_utf8_lossy(&chunk[..n]));
            }
            text
        } else {
            let mut bytes = vec![0; length];
            let _ = r.read_exact(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        };
        serde_json::from_str(&body).unwrap_or(Value::Null)
    }

    fn session_call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let v = self.call(method, &format!("/session/{}{path}", self.session), body);
        assert!(
            v["value"].get("error").is_none(),
            "{method} {path}: {}",
            v["value"]
        );
        v["value"].clone()
    }

    fn goto(&self, url: &str) {
        self.session_call("POST", "/url", Some(json!({ "url": url })));
    }

    fn find_all(&self, css: &str) -> Vec<String> {
        self.session_call(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        )
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            e["element-6066-11e4-a52e-4f735466cecf"]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
    }

    fn find(&self, css: &str) -> String {
        self.find_all(css)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no `{css}` on the page:\n{}", self.source()))
    }

    fn text(&self, css: &str) -> String {
        let e = self.find(css);
        self.session_call("GET", &format!("/element/{e}/text"), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn click(&self, css: &str) {
        let e = self.find(css);
        self.session_call("POST", &format!("/element/{e}/click"), Some(json!({})));
    }

    fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.session_call("POST", &format!("/element/{e}/clear"), Some(json!({})));
        self.session_call(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({ "text": text })),
        );
    }

    fn script(&self, script: &str) -> Value {
        self.session_call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    fn source(&self) -> String {
        self.session_call("GET", "/source", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn screenshot(&self, name: &str) {
        let png = self.session_call("GET", "/screenshot", None);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap_or_default())
            .expect("a PNG in base64");
        assert!(bytes.starts_with(b"\x89PNG"), "a PNG");
        let dir = artifacts();
        std::fs::create_dir_all(&dir).expect("a folder");
        std::fs::write(dir.join(format!("{name}.png")), bytes).expect("written");
    }

    /// Every visible form control has a name people (and screen readers) can read: a
    /// `<label>`, an `aria-label` or its own text.
    fn controls_are_labelled(&self) -> bool {
        self.script(
            "return Array.from(document.querySelectorAll('input:not([type=hidden]),select,button,textarea'))\
             .every(function(e){return (e.labels && e.labels.length>0) || e.getAttribute('aria-label') || e.textContent.trim().length>0});",
        ) == true
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.call("DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn artifacts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/dashboard-screenshots")
}

/// Signs in with `token`.
fn sign_in(b: &Browser, url: &str, token: &str) {
    b.goto(&format!("{url}/ui/login"));
    b.type_into("#token", token);
    b.click("form[action='/ui/login'] button");
    wait_until("the fleet grid after signing in", || {
        !b.find_all("#grid").is_empty()
    });
}

/// The rows' cluster names of the grid.
fn rows(b: &Browser) -> Vec<String> {
    let v = b.script(
        "return Array.from(document.querySelectorAll('#grid tbody th')).map(function(e){return e.textContent});",
    );
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str().map(str::to_owned))
        .collect()
}

/// The text of the grid's cell of `cluster` and `service`.
fn cell(b: &Browser, cluster: &str, service: &str) -> String {
    b.script(&format!(
        "var c=document.querySelector('#grid td[data-cluster=\"{cluster}\"][data-service=\"{service}\"]');return c?c.textContent:'';"
    ))
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

#[test]
fn the_dashboard_shows_the_fleet_filters_it_surfaces_stuck_deployments_and_promotes() {
    let (channel, _messages) = receiver();
    let (pager, _pages) = receiver();
    let (tmp, root) = feedback_fleet(&channel, &pager);
    // On-call engineers may read everything and change nothing.
    let rbac = root.join("policies/rbac.yaml");
    let text = std::fs::read_to_string(&rbac).expect("read");
    std::fs::write(
        &rbac,
        text.replace(
            "bindings:\n",
            "  - name: reader\n    allow: [{actions: [read]}]\nbindings:\n  - role: reader\n    subjects: [\"group:oncall\"]\n",
        ),
    )
    .expect("written");
    let store_dir = tmp.path().join("store");
    let store = store_dir.to_str().expect("UTF-8");
    let server = start(&root, store, "300ms");
    let admin = token_with(command(), &root, store, "pat", "platform");
    let reader = token_with(command(), &root, store, "sam", "oncall");
    // prod-us's worker crash-loops.
    let agents: Vec<_> = ["dev-eu", "prod-eu", "prod-us"]
        .iter()
        .map(|c| {
            let faults: &[&str] = if *c == "prod-us" {
                &["--sim-fault", "worker=crashloop"]
            } else {
                &[]
            };
            sim_agent(&server, &root, store, c, &tmp.path().join(c), faults)
        })
        .collect();
    for a in &agents {
        a.wait_for("applied generation 1");
    }
    // web 2.0.0 published (deployed to dev).
    edit_web_image(&root, "2.0.0");
    let fleet_arg = root.to_str().expect("UTF-8");
    let (code, _, err) = server.cli(
        &admin,
        &["publish", "web", "--label", "2.0.0", "--fleet", fleet_arg],
    );
    assert_eq!(code, 0, "{err}");

    let b = Browser::start();
    sign_in(&b, &server.url, &admin);
    // The grid: every cluster, each cell the version deployed there and its state.
    assert_eq!(rows(&b), ["dev-eu", "prod-eu", "prod-us"]);
    wait_until(
        "dev-eu runs web 2.0.0, Ready (the page updates itself)",
        || cell(&b, "dev-eu", "web").contains("2.0.0 Ready"),
    );
    assert!(cell(&b, "prod-eu", "web").contains("Ready"));
    assert!(!cell(&b, "prod-eu", "web").contains("2.0.0"));
    assert!(b.controls_are_labelled(), "{}", b.source());
    b.screenshot("fleet");

    // Filters: an environment, then a CEL selector evaluated by the server.
    b.goto(&format!("{}/?env=prod", server.url));
    assert_eq!(rows(&b), ["prod-eu", "prod-us"]);
    b.goto(&format!("{}/", server.url));
    // Typed, and submitted by the keyboard (Enter in the field).
    b.type_into("#selector", "cluster.region == \"us-east-1\"\u{E007}");
    wait_until("the selector narrowed the grid", || rows(&b) == ["prod-us"]);
    b.screenshot("fleet-filtered");
    b.goto(&format!(
        "{}/?selector=cluster.nope%20%3D%3D%201",
        server.url
    ));
    assert!(b.text(".error").contains("nope"), "{}", b.source());

    // The crash loop on the stuck page, with its kind, evidence and where it was sent.
    b.goto(&format!("{}/ui/stuck", server.url));
    wait_until("prod-us's worker on the stuck page", || {
        b.goto(&format!("{}/ui/stuck", server.url));
        !b.find_all("#stuck").is_empty()
    });
    let stuck = b.text("#stuck");
    for part in ["worker", "prod-us", "service fault", "CrashLoopBackOff"] {
        assert!(stuck.contains(part), "{part} in {stuck}");
    }
    wait_until("the notification's channel on the stuck page", || {
        b.goto(&format!("{}/ui/stuck", server.url));
        b.text("#stuck").contains("#shop")
    });
    b.screenshot("stuck");

    // A promotion from the service page shows in the audit log, highlighted as production.
    b.goto(&format!("{}/ui/services/web", server.url));
    // The timeline: the publish of 2.0.0 to dev (newest first), then the first versions.
    let timeline = b.text("#timeline tbody tr");
    for part in ["dev", "2.0.0", "user:pat", "publish", "dev-eu"] {
        assert!(timeline.contains(part), "{part} in {timeline}");
    }
    b.screenshot("service");
    // Two versions compared: the values template's line and the manifest's image.
    let (_, web) = server.get(&admin, "/v1/services/web");
    let first = web["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["label"].as_str())
        .find(|l| l.starts_with("fleet-"))
        .unwrap_or_else(|| panic!("the first version in {web}"))
        .to_owned();
    b.click("a[href='/ui/services/web/diff']");
    b.goto(&format!(
        "{}/ui/services/web/diff?from={first}&to=2.0.0&cluster=prod-eu",
        server.url
    ));
    let diffs = b.text("main");
    for part in [
        "-  image: registry.example.com/shop/web:1.4.0",
        "+  image: registry.example.com/shop/web:2.0.0",
        "Manifest on prod-eu",
        "image: registry.example.com/shop/web:2.0.0",
    ] {
        assert!(diffs.contains(part), "{part} in {diffs}");
    }
    assert!(b.controls_are_labelled());
    b.screenshot("service-diff");
    b.goto(&format!("{}/ui/services/web", server.url));
    let select = "select#version-prod";
    let option = b.script(&format!(
        "var s=document.querySelector('{select}');for(var i=0;i<s.options.length;i++){{if(s.options[i].text=='2.0.0'){{s.selectedIndex=i}}}};return s.value;"
    ));
    assert_eq!(option, "2.0.0");
    b.click("form:has(select#version-prod) button");
    wait_until("the promotion's notice", || {
        !b.find_all(".notice").is_empty()
    });
    assert!(b.text(".notice").contains("2.0.0 deployed to prod"));
    b.goto(&format!("{}/ui/audit", server.url));
    let row = b.text("#audit tbody tr.prod");
    for part in [
        "user:pat",
        "deploy",
        "service/web@prod",
        "(production)",
        "ok",
    ] {
        assert!(row.contains(part), "{part} in {row}");
    }
    b.screenshot("audit");
    // The KPIs count the changes people made: the publish and the promotion.
    b.goto(&format!("{}/ui/kpis", server.url));
    let kpis = b.text("#kpis");
    assert!(kpis.contains("Deployments (last 14 days) 2"), "{kpis}");
    assert!(
        kpis.contains("Change failure rate (changes rolled back) 0% (0 of 2)"),
        "{kpis}"
    );
    assert!(
        kpis.contains("Stuck now (service faults / platform faults) 1 / 0"),
        "{kpis}"
    );
    assert_eq!(
        b.find_all("svg[role='img'][aria-label^='Deployments per day'] rect")
            .len(),
        14
    );
    // dev and prod, one change each: two bars of full height.
    assert_eq!(
        b.find_all("svg[role='img'][aria-label='Deployments per environment'] rect[height='160']")
            .len(),
        2
    );
    b.screenshot("kpis");
    wait_until("prod-eu runs web 2.0.0", || {
        b.goto(&format!("{}/", server.url));
        cell(&b, "prod-eu", "web").contains("2.0.0")
    });

    // A read-only user sees the same pages and no button that changes anything.
    b.click("form[action='/ui/logout'] button");
    sign_in(&b, &server.url, &reader);
    assert_eq!(rows(&b), ["dev-eu", "prod-eu", "prod-us"]);
    b.goto(&format!("{}/ui/services/web", server.url));
    assert!(b.source().contains("read only"));
    assert!(
        b.find_all("form[action$='/deploy']").is_empty(),
        "{}",
        b.source()
    );
    b.screenshot("service-read-only");
    // And nobody without a session sees anything.
    b.click("form[action='/ui/logout'] button");
    b.goto(&format!("{}/ui/audit", server.url));
    assert!(!b.find_all("#token").is_empty(), "{}", b.source());
    drop(agents);
}
