use super::*;
use shoal_fleetquery::parse;

const SCOPE: &str = "123456789012/us-east-1/things";

fn s(v: &str) -> FieldValue {
    FieldValue::Str(v.into())
}

fn n(v: f64) -> FieldValue {
    FieldValue::Num(v, v.to_string())
}

fn doc(name: &str, fields: Vec<(&str, FieldValue)>) -> IndexDoc {
    let mut all = vec![("thingName".to_string(), s(name))];
    all.extend(fields.into_iter().map(|(k, v)| (k.to_string(), v)));
    IndexDoc {
        name: name.into(),
        fields: all,
        source: format!("{{\"thingName\":\"{name}\"}}").into_bytes(),
    }
}

/// Things shaped after the examples of AWS's example-queries page.
fn fleet() -> FleetIndex {
    let idx = FleetIndex::in_memory().unwrap();
    idx.put(
        SCOPE,
        vec![
            doc(
                "tv-lcd",
                vec![
                    ("attributes.attr1", s("abc")),
                    ("attributes.attr2", s("3")),
                    ("thingTypeName", s("TV")),
                    ("shadow.reported.firmware", s("1.1.0")),
                    ("shadow.reported.temp", n(72.5)),
                    ("shadow.hasDelta", FieldValue::Bool(true)),
                    ("connectivity.connected", FieldValue::Bool(true)),
                    ("connectivity.timestamp", n(1557651600001.0)),
                    ("thingGroupNames", s("fleet1")),
                ],
            ),
            doc(
                "tv-plasma",
                vec![
                    ("attributes.attr1", s("xyz")),
                    ("attributes.attr2", s("12")),
                    ("attributes.city", s("New York")),
                    ("thingTypeName", s("TV")),
                    ("shadow.reported.firmware", s("1.0.0")),
                    ("shadow.reported.temp", n(28.0)),
                    ("shadow.hasDelta", FieldValue::Bool(false)),
                    ("connectivity.connected", FieldValue::Bool(false)),
                    ("thingGroupNames", s("fleet1")),
                    ("thingGroupNames", s("fleet2")),
                ],
            ),
            doc(
                "2022_SSMTest",
                vec![
                    ("attributes.attr2", s("7")),
                    ("shadow.reported.myvalues", n(2.0)),
                    ("shadow.reported.myvalues", n(5.0)),
                    ("connectivity.connected", FieldValue::Bool(false)),
                ],
            ),
        ],
    )
    .unwrap();
    idx.put(
        "other-account/us-east-1/things",
        vec![doc("tv-lcd", vec![])],
    )
    .unwrap();
    idx.commit().unwrap();
    idx
}

fn names(idx: &FleetIndex, q: &str) -> Vec<String> {
    idx.names(SCOPE, &parse(q).unwrap()).unwrap()
}

#[test]
fn aws_example_queries_find_what_aws_documents() {
    let idx = fleet();
    let cases: &[(&str, &[&str])] = &[
        ("thingName:tv-lcd", &["tv-lcd"]),
        ("thingName:TV-LCD", &["tv-lcd"]),
        ("thingName:tv*", &["tv-lcd", "tv-plasma"]),
        ("thingName: 2022*", &["2022_SSMTest"]),
        ("thingName:tv-?cd", &["tv-lcd"]),
        ("thingName:*plasma", &["tv-plasma"]),
        // Values split on whitespace only, so "-plasma" is not a word of "tv-plasma".
        ("thingName:(tv* AND -plasma)", &["tv-lcd", "tv-plasma"]),
        ("thingName:(tv* AND -tv-plasma)", &["tv-lcd"]),
        ("shadow.reported.firmware:1.1.0", &["tv-lcd"]),
        (
            "attributes.attr1:abc AND NOT attributes.attr2:xyz",
            &["tv-lcd"],
        ),
        ("attributes.attr2<5", &["tv-lcd"]),
        ("attributes.attr2>5", &["2022_SSMTest", "tv-plasma"]),
        ("attributes.attr2>=7", &["2022_SSMTest", "tv-plasma"]),
        ("attributes.attr2:[3 TO 7}", &["tv-lcd"]),
        ("attributes.attr1:[\"abc\" TO \"abd\"]", &["tv-lcd"]),
        ("shadow.reported.temp>30", &["tv-lcd"]),
        ("shadow.reported.temp:72.5", &["tv-lcd"]),
        ("shadow.reported.temp:28", &["tv-plasma"]),
        ("shadow.reported.myvalues:2", &["2022_SSMTest"]),
        ("shadow.hasDelta:true", &["tv-lcd"]),
        (
            "connectivity.connected:false",
            &["2022_SSMTest", "tv-plasma"],
        ),
        ("connectivity.timestamp > 1557651600000", &["tv-lcd"]),
        (
            "thingGroupNames:fleet1 AND shadow.reported.temp>30",
            &["tv-lcd"],
        ),
        ("thingGroupNames:fleet2", &["tv-plasma"]),
        ("attributes.city:york", &["tv-plasma"]),
        ("attributes.city:\"new york\"", &["tv-plasma"]),
        ("attributes.city:*", &["tv-plasma"]),
        ("abc", &["tv-lcd"]),
        ("*", &["2022_SSMTest", "tv-lcd", "tv-plasma"]),
        ("NOT thingTypeName:tv", &["2022_SSMTest"]),
        (
            "thingTypeName:tv OR attributes.attr2:7",
            &["2022_SSMTest", "tv-lcd", "tv-plasma"],
        ),
        ("attributes.fw_version=2.0", &[]),
    ];
    for (q, want) in cases {
        assert_eq!(names(&idx, q), *want, "{q}");
        assert_eq!(
            idx.count(SCOPE, &parse(q).unwrap()).unwrap(),
            want.len() as u64
        );
    }
}

#[test]
fn pages_follow_name_order_and_resume_after_the_last_name() {
    let idx = fleet();
    let all = parse("*").unwrap();
    let p1 = idx.search(SCOPE, &all, None, 2).unwrap();
    assert_eq!(p1.sources.len(), 2);
    assert_eq!(p1.resume_after.as_deref(), Some("tv-lcd"));
    let p2 = idx
        .search(SCOPE, &all, p1.resume_after.as_deref(), 2)
        .unwrap();
    assert_eq!(p2.sources, vec![b"{\"thingName\":\"tv-plasma\"}".to_vec()]);
    assert_eq!(p2.resume_after, None);
}

#[test]
fn replacing_and_deleting_documents() {
    let idx = fleet();
    idx.put(
        SCOPE,
        vec![doc("tv-lcd", vec![("attributes.attr1", s("new"))])],
    )
    .unwrap();
    idx.delete(SCOPE, vec!["tv-plasma".to_string()]);
    idx.commit().unwrap();
    assert_eq!(names(&idx, "attributes.attr1:new"), ["tv-lcd"]);
    assert!(names(&idx, "attributes.attr1:abc").is_empty());
    assert_eq!(names(&idx, "thingName:tv*"), ["tv-lcd"]);
    idx.clear(SCOPE);
    idx.commit().unwrap();
    assert!(names(&idx, "*").is_empty());
    assert_eq!(
        idx.names("other-account/us-east-1/things", &parse("*").unwrap())
            .unwrap(),
        ["tv-lcd"]
    );
}

#[test]
fn aggregations_read_exact_values() {
    let idx = FleetIndex::in_memory().unwrap();
    let temps = [70, 71, 72, 73, 74, 75, 47, 97, 98, 99];
    let racks = [
        "Rack1", "Rack1", "Rack2", "Rack2", "Rack3", "Rack4", "Rack5", "Rack6", "Rack6", "Rack6",
    ];
    // Two commits, so values come from two segments.
    for half in [0..5, 5..10] {
        let docs = half
            .map(|i| {
                doc(
                    &format!("TempSensor{i}"),
                    vec![
                        ("attributes.temperature", s(&temps[i].to_string())),
                        ("attributes.rackId", s(racks[i])),
                    ],
                )
            })
            .collect::<Vec<_>>();
        idx.put(SCOPE, docs).unwrap();
        idx.commit().unwrap();
    }
    let q = parse("thingName:TempSensor*").unwrap();
    let (nums, matched) = idx.numbers(SCOPE, &q, "attributes.temperature").unwrap();
    assert_eq!(matched, 10);
    let mut sorted: Vec<f64> = temps.iter().map(|&t| t as f64).collect();
    sorted.sort_by(f64::total_cmp);
    assert_eq!(nums, sorted.iter().map(|&v| (v, 1)).collect::<Vec<_>>());
    let (values, _) = idx.values(SCOPE, &q, "attributes.rackId").unwrap();
    assert_eq!(values.len(), 6);
    assert_eq!(values["Rack6"], 3);
    let (_, matched) = idx
        .numbers(
            SCOPE,
            &parse("attributes.rackId:rack6").unwrap(),
            "attributes.temperature",
        )
        .unwrap();
    assert_eq!(matched, 3);
}
