//! The filter language: parsing, error positions, evaluation rules, builder round trips.

use proptest::prelude::*;
use serde_json::{json, Value};
use upstash_vector::filter::{self, field, Condition};

fn m(f: &str, meta: &Value) -> bool {
    filter::parse(f)
        .unwrap_or_else(|e| panic!("{f}: {e}"))
        .expect("non-empty")
        .matches(meta)
}

fn err_pos(f: &str) -> usize {
    match filter::parse(f) {
        Err(e) => e.position(),
        Ok(_) => panic!("expected an error for {f}"),
    }
}

fn city() -> Value {
    json!({
        "name": "Istanbul", "country": "Turkey", "population": 15460000, "area": 5461.0,
        "latitude": 41.0082, "tiny": 0.0000000001, "isCapital": false, "code": null,
        "industries": ["Tourism", "Textiles", "Finance"],
        "geography": {"continent": "Asia", "coordinates": {"lat": 41.0, "lon": 28.9}},
        "quote": "City's \"best\"", "a-b": 1, "has": 3,
        "scores": [[1, 2], [3, 4]]
    })
}

#[test]
fn comparisons() {
    let c = city();
    assert!(m("name = 'Istanbul'", &c));
    assert!(m("name = \"Istanbul\"", &c));
    assert!(!m("name = 'istanbul'", &c));
    assert!(m("population = 15460000", &c));
    assert!(m("population = 15460000.0", &c));
    assert!(m("latitude = 41.0082", &c));
    assert!(m("tiny = 0.0000000001", &c));
    assert!(m("tiny = 1e-10", &c));
    assert!(m("population >= 15460000 AND population <= 15460000", &c));
    assert!(m("population > 15459999.5", &c));
    assert!(m("area < 5461.5", &c));
    assert!(!m("area < -1", &c));
    assert!(m("latitude>=41", &c), "no spaces around operators");
    assert!(m("name != 'Ankara'", &c));
    assert!(!m("name != 'Istanbul'", &c));
    assert!(m("isCapital = false", &c));
    assert!(m("isCapital = FALSE", &c));
    assert!(m("isCapital != true", &c));
    assert!(m("isCapital = 0", &c), "0/1 stand for booleans");
    assert!(!m("isCapital = 1", &c));
    // Type mismatches.
    assert!(!m("name = 1", &c));
    assert!(!m("population = '15460000'", &c));
    assert!(!m("name > 'A'", &c));
    assert!(m("name != 1", &c), "present with another type: not equal");
}

#[test]
fn missing_and_null() {
    let c = city();
    assert!(!m("missing = 1", &c));
    assert!(!m("missing != 1", &c), "!= on a missing field is false");
    assert!(!m("missing < 1", &c));
    assert!(!m("missing GLOB '*'", &c));
    assert!(!m("missing NOT GLOB 'x'", &c));
    assert!(!m("missing IN (1, 2)", &c));
    assert!(!m("missing NOT IN (1, 2)", &c));
    assert!(!m("missing CONTAINS 1", &c));
    assert!(!m("missing NOT CONTAINS 1", &c));
    assert!(!m("HAS FIELD missing", &c));
    assert!(m("HAS NOT FIELD missing", &c));
    // null is present.
    assert!(m("HAS FIELD code", &c));
    assert!(!m("HAS NOT FIELD code", &c));
    assert!(!m("code = 'x'", &c));
}

#[test]
fn glob_in_contains_has() {
    let c = city();
    assert!(m("name GLOB 'Ist*'", &c));
    assert!(m("name GLOB '?stanbu?'", &c));
    assert!(m("name GLOB '[A-J]*'", &c));
    assert!(m("name GLOB '[^a-z]*'", &c));
    assert!(!m("name GLOB 'ist*'", &c), "case-sensitive");
    assert!(m("name NOT GLOB 'Ank*'", &c));
    assert!(!m("name NOT GLOB 'Ist*'", &c));
    assert!(m("quote GLOB '*\"best\"*'", &c));
    assert!(m("country IN ('Germany', 'Turkey')", &c));
    assert!(!m("country NOT IN ('Germany', 'Turkey')", &c));
    assert!(m("country NOT IN ('Germany', 'France')", &c));
    assert!(m("population IN (1, 15460000)", &c));
    assert!(m("industries CONTAINS 'Finance'", &c));
    assert!(!m("industries CONTAINS 'Mining'", &c));
    assert!(m("industries NOT CONTAINS 'Mining'", &c));
    assert!(!m("name CONTAINS 'I'", &c), "CONTAINS needs an array");
    assert!(m("HAS FIELD geography.coordinates", &c));
    assert!(
        m("has FIELD geography", &c),
        "keywords are case-insensitive"
    );
    assert!(m("has = 3", &c), "`has` can be a field name");
}

#[test]
fn paths() {
    let c = city();
    assert!(m("geography.continent = 'Asia'", &c));
    assert!(m("geography.coordinates.lat = 41", &c));
    assert!(m("industries[0] = 'Tourism'", &c));
    assert!(m("industries[#-1] = 'Finance'", &c));
    assert!(m("industries[#-3] = 'Tourism'", &c));
    assert!(!m("HAS FIELD industries[3]", &c));
    assert!(!m("HAS FIELD industries[#-4]", &c));
    assert!(m("scores[1][0] = 3", &c));
    assert!(!m("name[0] = 'I'", &c), "indexing a non-array");
    assert!(m("a-b = 1", &c), "'-' inside a name");
    assert!(
        !m("industries#-1] = 'Finance'", &c),
        "stray ']' is a plain key"
    );
}

#[test]
fn precedence_and_quoting() {
    let c = city();
    // AND binds tighter than OR.
    assert!(m("name = 'x' AND name = 'y' OR country = 'Turkey'", &c));
    assert!(!m("name = 'x' AND (name = 'y' OR country = 'Turkey')", &c));
    assert!(m("country = 'Turkey' OR name = 'x' AND name = 'y'", &c));
    assert!(m("((country = 'Turkey'))", &c));
    assert!(m("quote = 'City\\'s \"best\"'", &c));
    assert!(m("quote = \"City's \\\"best\\\"\"", &c));
    assert!(m(
        "name = 'x' and country = 'Turkey' Or name = 'Istanbul'",
        &c
    ));
    assert!(m("name = 'Istanbul' and country = 'Turkey'", &c));
}

#[test]
fn syntax_errors_have_positions() {
    assert_eq!(err_pos(".invalidPath = 1"), 0);
    assert_eq!(err_pos("industries[] = 'x'"), 11);
    assert_eq!(err_pos("industries[ = 'x'"), 10);
    assert_eq!(err_pos("a = "), 4);
    assert_eq!(err_pos("a = 1 AND"), 9);
    assert_eq!(err_pos("a = 1 b = 2"), 6);
    assert_eq!(err_pos("(a = 1"), 6);
    assert_eq!(err_pos("a = 1)"), 5);
    assert_eq!(err_pos("a IN ()"), 6);
    assert_eq!(err_pos("a IN 1"), 5);
    assert_eq!(err_pos("a = 'open"), 4);
    assert_eq!(err_pos("a ~ 1"), 2);
    assert_eq!(err_pos("a NOT = 1"), 6);
    assert_eq!(err_pos("a GLOB 1"), 7);
    assert_eq!(err_pos("a = b"), 4);
    assert_eq!(err_pos("HAS FIELD"), 9);
    assert_eq!(err_pos("a. = 1"), 2);
    let deep = format!("{}a = 1{}", "(".repeat(100), ")".repeat(100));
    assert!(filter::parse(&deep).is_err());
    assert!(filter::parse("").expect("ok").is_none());
    assert!(filter::parse("   ").expect("ok").is_none());
    let e = filter::parse("a = ").expect_err("error");
    assert_eq!(
        e.to_string(),
        "invalid filter at position 4: expected a value (string, number, TRUE or FALSE)"
    );
}

#[test]
fn builder_round_trips() {
    let c = city();
    let f = field("country")
        .eq("Turkey")
        .and(field("population").gt(1_000_000))
        .and(
            field("industries")
                .contains("Finance")
                .or(field("isCapital").eq(true)),
        )
        .and(field("quote").eq("City's \"best\""))
        .and(field("geography.continent").is_in(["Asia", "Europe"]))
        .and(field("name").not_glob("A*"))
        .and(field("code").exists())
        .and(field("nope").not_exists());
    let text = f.build().expect("valid");
    assert!(m(&text, &c), "{text}");
    assert!(!m(&Condition::always_false().to_string(), &c));
    assert!(m(&Condition::always_true().to_string(), &c));
    assert!(m(
        &Condition::any(Vec::new())
            .or(Condition::always_true())
            .to_string(),
        &c
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parser_never_panics(s in "\\PC{0,80}") {
        let _ = filter::parse(&s).map(|f| f.map(|f| f.matches(&city())));
    }

    #[test]
    fn parser_never_panics_on_filter_like_input(
        s in "[a-z()\\[\\]#.,'\" =<>!0-9-]{0,60}|((AND|OR|NOT|IN|GLOB|HAS|FIELD|CONTAINS|a|b\\[0\\]|'x'|1|\\(|\\)|,|=|!=) ){0,20}"
    ) {
        let _ = filter::parse(&s).map(|f| f.map(|f| f.matches(&city())));
    }

    #[test]
    fn built_strings_are_inert(v in "\\PC{0,40}") {
        let text = field("name").eq(v.as_str()).build().expect("valid");
        let f = filter::parse(&text).expect("parses").expect("some");
        let same = json!({"name": v});
        let other = json!({"name": format!("{v}x")});
        prop_assert!(f.matches(&same));
        prop_assert!(!f.matches(&other));
    }

    #[test]
    fn built_numbers_match(x in -1.0e12f64..1.0e12) {
        let text = field("n").eq(x).build().expect("valid");
        let f = filter::parse(&text).expect("parses").expect("some");
        let meta = json!({"n": x});
        prop_assert!(f.matches(&meta));
    }
}
