use super::aggregate::*;
use super::config::*;
use super::fields::*;

fn temps() -> Vec<(f64, u64)> {
    let mut v: Vec<(f64, u64)> = [70, 71, 72, 73, 74, 75, 47, 97, 98, 99]
        .iter()
        .map(|&t| (t as f64, 1))
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v
}

/// The seed's TempSensor example, to the last digit of AWS's output.
#[test]
fn statistics_reproduce_aws_output() {
    let s = statistics(&temps()).unwrap();
    assert_eq!(s.count, 10);
    assert_eq!(s.average, 77.6);
    assert_eq!(s.sum, 776.0);
    assert_eq!(s.minimum, 47.0);
    assert_eq!(s.maximum, 99.0);
    assert_eq!(s.sum_of_squares, 62578.0);
    assert_eq!(s.variance, 236.04000000000013);
    assert_eq!(s.std_deviation, 15.36359332968691);
    assert_eq!(statistics(&[]), None);
}

#[test]
fn percentiles_interpolate_between_ranks() {
    let p = percentiles(&temps(), &[10.0, 25.0, 50.0, 75.0, 90.0]);
    let values: Vec<f64> = p.iter().map(|x| x.1).collect();
    let want = [67.7, 71.25, 73.5, 91.5, 98.1];
    for (got, want) in values.iter().zip(want) {
        assert!((got - want).abs() < 1e-9, "{got} vs {want}");
    }
    // Counts stand for repeated values.
    let p = percentiles(&[(1.0, 3), (5.0, 1)], &[0.0, 50.0, 100.0]);
    assert_eq!(p, vec![(0.0, 1.0), (50.0, 1.0), (100.0, 5.0)]);
    assert!(percentiles(&[], &[50.0]).is_empty());
}

#[test]
fn configuration_rules() {
    let mut c = IndexingConfig {
        thing_mode: ThingMode::Registry,
        ..Default::default()
    };
    assert_eq!(c.schema(), "REGISTRY");
    c.custom_fields.push(Field {
        name: "shadow.reported.temp".into(),
        kind: Some(FieldType::Number),
    });
    assert!(
        c.validate().is_err(),
        "shadow fields need REGISTRY_AND_SHADOW"
    );
    c.thing_mode = ThingMode::RegistryAndShadow;
    c.connectivity = true;
    assert!(c.validate().is_ok());
    assert_eq!(c.schema(), "REGISTRY_AND_SHADOW_AND_CONNECTIVITY_STATUS");
    assert_eq!(c.managed_fields().len(), 11);
    c.custom_fields[0].name = "thingName".into();
    assert!(c.validate().is_err(), "managed fields cannot be custom");
    let off = IndexingConfig {
        connectivity: true,
        ..Default::default()
    };
    assert!(off.validate().is_err());
}

#[test]
fn query_fields_and_aliases() {
    assert_eq!(thing_field("registry.thingTypeName"), Some("thingTypeName"));
    assert_eq!(thing_field("attributes.x"), Some("attributes.x"));
    assert_eq!(
        thing_field("shadow.name.cfg.reported.a"),
        Some("shadow.name.cfg.reported.a")
    );
    assert_eq!(thing_field("thingGroupName"), None);
    assert_eq!(thing_field("attributes."), None);
    assert_eq!(group_field("thingGroupNames"), Some("thingGroupName"));
    assert_eq!(group_field("thingName"), None);
}
