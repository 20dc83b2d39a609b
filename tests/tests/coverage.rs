//! The contract coverage: every operation of `openapi.json` has a contract test that checks its
//! wire format and one that checks its error mapping (found in the test sources by the rule of
//! `xtask/src/contracts.rs`, the same code `cargo xtask check` runs), and
//! `docs/contract-coverage.md` is the table of them (`cargo xtask regen` rewrites it).

use std::path::Path;

#[path = "../../xtask/src/contracts.rs"]
mod contracts;

const DOC: &str = "docs/contract-coverage.md";

fn tests() -> Vec<contracts::TestFn> {
    contracts::tests_in(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")).expect("read tests/tests")
}

fn ids() -> Vec<String> {
    fastvm_tests::schema::operations()
        .iter()
        .map(|o| o.id.clone())
        .collect()
}

#[test]
fn every_operation_has_a_contract_test_and_an_error_test() {
    let tests = tests();
    let problems = contracts::missing(&ids(), &tests);
    assert!(
        problems.is_empty(),
        "coverage problems (`cargo xtask check` lists the same):\n{}",
        problems.join("\n")
    );
    // Each test found names the operation it covers (the rule's own guarantee, checked here
    // on the real suite).
    for id in ids() {
        let (wire, errors) = contracts::covering(&id, &tests);
        for t in [wire, errors].into_iter().flatten() {
            assert!(t.body.contains(&format!("\"{id}\"")), "{}", t.entry());
        }
    }
}

#[test]
fn coverage_doc_is_up_to_date() {
    let rows: Vec<(String, String, String)> = fastvm_tests::schema::operations()
        .iter()
        .map(|o| (o.id.clone(), o.method.clone(), o.path.clone()))
        .collect();
    let want = contracts::render(&rows, &tests());
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(DOC);
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(have == want, "{DOC} is out of date: run `cargo xtask regen`");
}
