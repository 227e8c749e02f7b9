//! The registry driven end to end by `aws-sdk-iot`, the official Rust SDK, against an in-process
//! server: what a user's Rust program sees.

mod common;

use aws_sdk_iot::types::{AttributePayload, ThingGroupProperties, ThingTypeProperties};
use common::{code, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thing_lifecycle_versions_and_conflicts() {
    let s = TestServer::start().await;
    let c = s.client("us-east-1");
    let attrs = AttributePayload::builder()
        .attributes("model", "x1")
        .attributes("fw", "1.0")
        .build();
    let created = c
        .create_thing()
        .thing_name("sensor-1")
        .attribute_payload(attrs.clone())
        .send()
        .await
        .unwrap();
    assert!(created
        .thing_arn()
        .unwrap()
        .starts_with("arn:aws:iot:us-east-1:"));
    assert!(created.thing_arn().unwrap().ends_with(":thing/sensor-1"));
    // Same name, same configuration: idempotent. Different configuration: AlreadyExists.
    let again = c
        .create_thing()
        .thing_name("sensor-1")
        .attribute_payload(attrs)
        .send()
        .await
        .unwrap();
    assert_eq!(again.thing_id(), created.thing_id());
    let other = AttributePayload::builder()
        .attributes("model", "x2")
        .build();
    let dup = c
        .create_thing()
        .thing_name("sensor-1")
        .attribute_payload(other)
        .send()
        .await;
    match dup {
        Err(e) => {
            let se = e.into_service_error();
            match se {
                aws_sdk_iot::operation::create_thing::CreateThingError::ResourceAlreadyExistsException(x) => {
                    assert_eq!(x.resource_id(), created.thing_id());
                    assert_eq!(x.resource_arn(), created.thing_arn());
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        Ok(_) => panic!("duplicate with other attributes was accepted"),
    }

    let d = c
        .describe_thing()
        .thing_name("sensor-1")
        .send()
        .await
        .unwrap();
    assert_eq!(d.version(), 1);
    assert_eq!(
        d.attributes().unwrap().get("fw").map(String::as_str),
        Some("1.0")
    );

    // Merge adds and an empty value removes.
    let merge = AttributePayload::builder()
        .attributes("fw", "")
        .attributes("site", "tokyo")
        .merge(true)
        .build();
    c.update_thing()
        .thing_name("sensor-1")
        .attribute_payload(merge)
        .expected_version(1)
        .send()
        .await
        .unwrap();
    let d = c
        .describe_thing()
        .thing_name("sensor-1")
        .send()
        .await
        .unwrap();
    assert_eq!(d.version(), 2);
    let a = d.attributes().unwrap();
    assert_eq!(
        (a.get("fw"), a.get("site").map(String::as_str)),
        (None, Some("tokyo"))
    );

    let stale = c
        .update_thing()
        .thing_name("sensor-1")
        .expected_version(1)
        .send()
        .await;
    assert_eq!(code(stale), "VersionConflictException");
    let stale = c
        .delete_thing()
        .thing_name("sensor-1")
        .expected_version(1)
        .send()
        .await;
    assert_eq!(code(stale), "VersionConflictException");
    c.delete_thing()
        .thing_name("sensor-1")
        .expected_version(2)
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(c.describe_thing().thing_name("sensor-1").send().await),
        "ResourceNotFoundException"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_things_filters_and_pages() {
    let s = TestServer::start().await;
    let c = s.client("us-east-1");
    c.create_thing_type()
        .thing_type_name("Lamp")
        .send()
        .await
        .unwrap();
    for i in 0..23 {
        let mut req = c.create_thing().thing_name(format!("t{i:02}"));
        let color = if i % 2 == 0 { "red" } else { "reddish" };
        req = req.attribute_payload(
            AttributePayload::builder()
                .attributes("color", color)
                .build(),
        );
        if i % 3 == 0 {
            req = req.thing_type_name("Lamp");
        }
        req.send().await.unwrap();
    }
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let page = c
            .list_things()
            .max_results(5)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        names.extend(
            page.things()
                .iter()
                .map(|t| t.thing_name().unwrap().to_string()),
        );
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let expected: Vec<String> = (0..23).map(|i| format!("t{i:02}")).collect();
    assert_eq!(names, expected, "every thing exactly once, in name order");

    let red = c
        .list_things()
        .attribute_name("color")
        .attribute_value("red")
        .send()
        .await
        .unwrap();
    assert_eq!(red.things().len(), 12);
    let prefixed = c
        .list_things()
        .attribute_name("color")
        .attribute_value("red")
        .use_prefix_attribute_value(true)
        .send()
        .await
        .unwrap();
    assert_eq!(prefixed.things().len(), 23);
    let lamps = c
        .list_things()
        .thing_type_name("Lamp")
        .send()
        .await
        .unwrap();
    assert_eq!(lamps.things().len(), 8);
    assert!(lamps
        .things()
        .iter()
        .all(|t| t.thing_type_name() == Some("Lamp")));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thing_type_deletion_waits_five_minutes_on_the_clock() {
    let s = TestServer::start().await;
    let c = s.client("us-east-1");
    let props = ThingTypeProperties::builder()
        .thing_type_description("bulbs")
        .searchable_attributes("watts")
        .build();
    c.create_thing_type()
        .thing_type_name("Bulb")
        .thing_type_properties(props)
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(c.delete_thing_type().thing_type_name("Bulb").send().await),
        "InvalidRequestException"
    );
    c.deprecate_thing_type()
        .thing_type_name("Bulb")
        .send()
        .await
        .unwrap();
    let d = c
        .describe_thing_type()
        .thing_type_name("Bulb")
        .send()
        .await
        .unwrap();
    assert!(d.thing_type_metadata().unwrap().deprecated());
    assert_eq!(
        code(
            c.create_thing()
                .thing_name("b1")
                .thing_type_name("Bulb")
                .send()
                .await
        ),
        "InvalidRequestException"
    );
    assert_eq!(
        code(c.delete_thing_type().thing_type_name("Bulb").send().await),
        "InvalidRequestException"
    );
    s.clock.advance_millis(5 * 60 * 1000);
    c.delete_thing_type()
        .thing_type_name("Bulb")
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(c.describe_thing_type().thing_type_name("Bulb").send().await),
        "ResourceNotFoundException"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thing_group_hierarchy_and_membership() {
    let s = TestServer::start().await;
    let c = s.client("us-east-1");
    let props = ThingGroupProperties::builder()
        .thing_group_description("all of them")
        .build();
    c.create_thing_group()
        .thing_group_name("root")
        .thing_group_properties(props)
        .send()
        .await
        .unwrap();
    c.create_thing_group()
        .thing_group_name("mid")
        .parent_group_name("root")
        .send()
        .await
        .unwrap();
    c.create_thing_group()
        .thing_group_name("leaf")
        .parent_group_name("mid")
        .send()
        .await
        .unwrap();
    let leaf = c
        .describe_thing_group()
        .thing_group_name("leaf")
        .send()
        .await
        .unwrap();
    let meta = leaf.thing_group_metadata().unwrap();
    assert_eq!(meta.parent_group_name(), Some("mid"));
    let path: Vec<_> = meta
        .root_to_parent_thing_groups()
        .iter()
        .map(|g| g.group_name().unwrap())
        .collect();
    assert_eq!(path, ["root", "mid"]);

    c.create_thing().thing_name("dev").send().await.unwrap();
    c.add_thing_to_thing_group()
        .thing_name("dev")
        .thing_group_name("leaf")
        .send()
        .await
        .unwrap();
    let direct = c
        .list_things_in_thing_group()
        .thing_group_name("root")
        .send()
        .await
        .unwrap();
    assert!(direct.things().is_empty());
    let all = c
        .list_things_in_thing_group()
        .thing_group_name("root")
        .recursive(true)
        .send()
        .await
        .unwrap();
    assert_eq!(all.things(), ["dev"]);
    let groups = c
        .list_thing_groups_for_thing()
        .thing_name("dev")
        .send()
        .await
        .unwrap();
    assert_eq!(groups.thing_groups()[0].group_name(), Some("leaf"));

    assert_eq!(
        code(c.delete_thing_group().thing_group_name("mid").send().await),
        "InvalidRequestException"
    );
    let children = c
        .list_thing_groups()
        .parent_group("root")
        .recursive(true)
        .send()
        .await
        .unwrap();
    assert_eq!(children.thing_groups().len(), 2);

    let v = c
        .update_thing_group()
        .thing_group_name("leaf")
        .thing_group_properties(
            ThingGroupProperties::builder()
                .thing_group_description("d")
                .build(),
        )
        .expected_version(1)
        .send()
        .await
        .unwrap();
    assert_eq!(v.version(), 2);
    c.delete_thing_group()
        .thing_group_name("leaf")
        .send()
        .await
        .unwrap();
    let groups = c
        .list_thing_groups_for_thing()
        .thing_name("dev")
        .send()
        .await
        .unwrap();
    assert!(
        groups.thing_groups().is_empty(),
        "deleting a group removes its members"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regions_and_accounts_are_isolated() {
    let s = TestServer::start().await;
    let us = s.client("us-east-1");
    let eu = s.client("eu-west-1");
    us.create_thing()
        .thing_name("only-in-us")
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(eu.describe_thing().thing_name("only-in-us").send().await),
        "ResourceNotFoundException"
    );
    let created = eu
        .create_thing()
        .thing_name("only-in-us")
        .send()
        .await
        .unwrap();
    assert!(created
        .thing_arn()
        .unwrap()
        .starts_with("arn:aws:iot:eu-west-1:"));

    let (account, other) = s.second_account().await;
    assert_eq!(
        code(other.describe_thing().thing_name("only-in-us").send().await),
        "ResourceNotFoundException"
    );
    let t = other
        .create_thing()
        .thing_name("mine")
        .send()
        .await
        .unwrap();
    assert!(t
        .thing_arn()
        .unwrap()
        .contains(&format!(":{account}:thing/mine")));
    assert!(us
        .list_things()
        .send()
        .await
        .unwrap()
        .things()
        .iter()
        .all(|t| t.thing_name() != Some("mine")));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_are_refused_with_aws_codes() {
    let s = TestServer::start().await;
    let wrong = s.client_with("us-east-1", &s.key.0, "not-the-secret");
    assert_eq!(
        code(wrong.list_things().send().await),
        "InvalidSignatureException"
    );
    let unknown = s.client_with("us-east-1", "AKIAUNKNOWNUNKNOWN00", "x");
    assert_eq!(
        code(unknown.list_things().send().await),
        "UnrecognizedClientException"
    );
    let c = s.client("us-east-1");
    assert_eq!(
        code(c.list_things().max_results(251).send().await),
        "InvalidRequestException"
    );
    s.stop().await;
}
