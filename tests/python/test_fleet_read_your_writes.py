"""Fleet search sees the caller's own writes (a Shoal extension, `[indexing]
read_your_writes_ms`): a search or aggregation waits until the index holds every change
acknowledged before it arrived, so tests need not poll as they must against AWS."""

from fleet_support import Fleet


def test_a_search_right_after_create_thing_finds_it_every_time(server):
    account, key, secret = server.create_account()
    fleet = Fleet(server, key, secret, account)
    fleet.configure(things="REGISTRY", groups="OFF")
    for i in range(1000):
        name = "ryw-%04d" % i
        fleet.iot.create_thing(thingName=name, attributePayload={"attributes": {"n": str(i)}})
        found = fleet.iot.search_index(queryString="thingName:%s" % name)["things"]
        assert [t["thingName"] for t in found] == [name], "try %d" % i
    # Aggregations too: the last update is counted at once.
    fleet.iot.update_thing(thingName="ryw-0999", attributePayload={"attributes": {"n": "5000"}})
    stats = fleet.iot.get_statistics(queryString="thingName:ryw-*",
                                     aggregationField="attributes.n")["statistics"]
    assert stats["count"] == 1000 and stats["maximum"] == 5000
