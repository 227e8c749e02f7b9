//! The field names a query may use on each index. AWS refuses a query naming any other field
//! ("Unable to parse query, invalid field name, field name: thingGroupName, ...").
//! <https://docs.aws.amazon.com/iot/latest/developerguide/query-syntax.html>

pub const THINGS_INDEX: &str = "AWS_Things";
pub const GROUPS_INDEX: &str = "AWS_ThingGroups";

/// The name a thing field is stored under: the registry's managed-field spellings
/// (`registry.thingTypeName`) are aliases of the query spellings (`thingTypeName`).
pub fn thing_field(name: &str) -> Option<&str> {
    let canonical = match name {
        "registry.thingTypeName" => "thingTypeName",
        "registry.thingGroupNames" => "thingGroupNames",
        other => other,
    };
    let fixed = [
        "thingName",
        "thingId",
        "thingTypeName",
        "thingGroupNames",
        "registry.version",
        "shadow.version",
        "shadow.hasDelta",
        "connectivity.connected",
        "connectivity.timestamp",
        "connectivity.disconnectReason",
        "connectivity.version",
        "deviceDefender.violationCount",
    ];
    let prefixes = [
        "attributes.",
        "shadow.reported.",
        "shadow.desired.",
        "shadow.delta.",
        "shadow.metadata.",
        "shadow.name.",
        "deviceDefender.",
    ];
    (fixed.contains(&canonical)
        || prefixes
            .iter()
            .any(|p| canonical.len() > p.len() && canonical.starts_with(p)))
    .then_some(canonical)
}

/// The name a thing-group field is stored under.
pub fn group_field(name: &str) -> Option<&str> {
    let canonical = match name {
        // AWS's own examples of the group index write `thingGroupNames:`.
        "thingGroupNames" => "thingGroupName",
        other => other,
    };
    let fixed = [
        "thingGroupName",
        "thingGroupId",
        "thingGroupDescription",
        "description",
        "parentGroupNames",
        "version",
    ];
    (fixed.contains(&canonical)
        || (canonical.len() > "attributes.".len() && canonical.starts_with("attributes.")))
    .then_some(canonical)
}
